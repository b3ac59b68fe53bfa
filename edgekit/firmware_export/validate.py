"""Checks and normalizations of a .tflite model as it is read.

:mod:`edgekit.firmware_export.tflite_reader` calls these once per tensor and
once per op.  They do two things:

* **refuse what would be unsafe**: a model that parses but whose numbers
  would make the generated C read or write outside its buffers or hit
  undefined behaviour (scales that are zero, negative or NaN, zero points
  outside their type, dimensions whose byte counts overflow 32 bits, strides
  and windows that overflow ``int`` arithmetic, zero strides);
* **accept what TFLM accepts**: harmless irregularities that TFLite Micro runs
  are normalized, and each normalization is recorded (the build report lists
  them), e.g. a 1-D per-channel bias whose ``quantized_dimension`` is 3, as
  older converters wrote it.

Every refusal is a :class:`~edgekit.errors.TFLiteFormatError` that names the
tensor (or op), the op that uses it and the bad value.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.errors import TFLiteFormatError

#: TFLite's TensorType enum (schema.fbs): code -> name, for messages.
TYPE_NAMES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
    7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64",
    13: "RESOURCE", 14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4", 18: "BFLOAT16",
}

#: Bounds that keep every size, offset and index of the generated C within
#: a signed 32-bit ``int`` (with room for the arithmetic kernels do on them).
MAX_TENSOR_ELEMENTS = 1 << 28
MAX_TENSOR_BYTES = 1 << 28
MAX_TOTAL_BYTES = (1 << 31) - 1
#: Largest stride, dilation, window size or depth multiplier (int products of
#: two of them must not overflow).
MAX_WINDOW = 1 << 15

#: Zero point ranges of the quantized types.
ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
            "int32": (-(1 << 31), (1 << 31) - 1)}


def type_name(code: int) -> str:
    """The TFLite name of a tensor type code (``12`` -> ``"UINT64"``)."""
    return TYPE_NAMES.get(int(code), f"an unknown type (code {int(code)})")


def short(name: str, limit: int = 60) -> str:
    """A tensor name cut to ``limit`` characters for messages."""
    return name if len(name) <= limit else name[:limit - 3] + "..."


def who(i: int, name: str, user: str | None) -> str:
    """``tensor 4 ('conv/bias', input of op 2 (CONV_2D))`` for messages."""
    return f"tensor {i} ({short(name)!r}" + (f", used by {user})" if user else ")")


def check_shape(i: int, name: str, shape: tuple[int, ...], itemsize: int,
                user: str | None) -> int:
    """Refuse negative and oversized shapes, and empty int8/int16 tensors that an
    op uses; the element count."""
    if any(d < 0 for d in shape):
        raise TFLiteFormatError(
            f"{who(i, name, user)} has a dynamic or negative shape {list(shape)}; "
            "export with static shapes")
    count = 1
    for d in shape:
        if d > MAX_TENSOR_ELEMENTS:
            raise TFLiteFormatError(
                f"{who(i, name, user)} has dimension {d} in shape {list(shape)}: "
                f"implausibly large (at most {MAX_TENSOR_ELEMENTS})")
        count *= d
        if count > MAX_TENSOR_ELEMENTS:
            raise TFLiteFormatError(
                f"{who(i, name, user)} has shape {list(shape)}: more than "
                f"{MAX_TENSOR_ELEMENTS} elements, implausibly large")
    if count * itemsize > MAX_TENSOR_BYTES:
        raise TFLiteFormatError(
            f"{who(i, name, user)} has shape {list(shape)}: {count * itemsize} bytes, "
            f"more than {MAX_TENSOR_BYTES}")
    if count == 0 and user is not None and itemsize < 4:    # an empty int32 shape/axes is fine
        raise TFLiteFormatError(
            f"{who(i, name, user)} has shape {list(shape)} with no elements")
    return count


def check_quantization(i: int, name: str, shape: tuple[int, ...], dtype: str,
                       scale: np.ndarray, zero_point: np.ndarray, qdim: int,
                       user: str | None, notes: list[str]) -> tuple[int, np.ndarray]:
    """Refuse unusable quantization parameters; the (normalized) quantized
    dimension and zero points.

    Two irregularities TFLM runs are normalized, each with a note appended
    to ``notes``:

    * a 1-D tensor with one scale per element and a ``quantized_dimension``
      other than 0 (older converters wrote the filter's dimension, 3, for a
      depthwise convolution's bias) is read with dimension 0;
    * per-channel scales with a single zero point (TFLM's allocator gives
      every channel that zero point: a documented space saving for weights,
      whose zero points are all 0) get that zero point for every channel.

    Other counts of zero points that differ from the count of scales are
    refused: TFLM would silently use the first one only, LiteRT refuses them.
    """
    w = who(i, name, user)
    if len(scale) > 1 and len(zero_point) == 1:
        notes.append(f"{w}: {len(scale)} per-channel scales with one zero point "
                     f"({int(zero_point[0])}) read with that zero point for every channel "
                     "(as TFLM does)")
        zero_point = np.full(len(scale), zero_point[0], np.int64)
    if len(scale) and len(zero_point) and len(scale) != len(zero_point):
        raise TFLiteFormatError(f"{w} has {len(scale)} scales but {len(zero_point)} zero points")
    for s in np.asarray(scale, np.float64):
        if not (math.isfinite(s) and s > 0.0):
            raise TFLiteFormatError(
                f"{w} has quantization scale {s}: scales must be positive and finite")
    lo, hi = ZP_RANGE.get(dtype, (-(1 << 63), (1 << 63) - 1))
    for z in np.asarray(zero_point, np.int64):
        if not lo <= int(z) <= hi:
            raise TFLiteFormatError(
                f"{w} has zero point {int(z)}, outside the range of {dtype} [{lo}, {hi}]")
    if len(scale) > 1:
        if (len(shape) == 1 and shape[0] == len(scale) and qdim != 0):
            notes.append(f"{w}: 1-D per-channel tensor with quantized_dimension {qdim} read "
                         "with dimension 0 (as TFLM does)")
            return 0, zero_point
        if not (0 <= qdim < len(shape) and shape[qdim] == len(scale)):
            raise TFLiteFormatError(
                f"{w}: {len(scale)} per-channel scales do not match dimension "
                f"{qdim} of shape {list(shape)}")
    return qdim, zero_point


def check_total_bytes(total: int) -> None:
    """Refuse a model whose tensors add up to more than a 32-bit offset can address."""
    if total > MAX_TOTAL_BYTES:
        raise TFLiteFormatError(
            f"the model's tensors hold {total} bytes in all: more than 32-bit offsets address")


#: (A depthwise convolution's ``depth_multiplier`` option is not checked: the
#: code generator takes it from the shapes.)
_WINDOW_KEYS = ("stride_h", "stride_w", "dilation_h", "dilation_w", "filter_h", "filter_w")


def check_options(index: int, opcode: str, options: dict, table_missing: bool = False) -> None:
    """Refuse strides, dilations and windows < 1 or huge.

    TFLM divides by the strides and sizes loops by the others: zero is
    undefined behaviour there, and values beyond :data:`MAX_WINDOW` make the
    generated ``int`` arithmetic overflow.  ``table_missing``: the op has
    no options table (its options are the schema's defaults).
    """
    for key in _WINDOW_KEYS:
        if key not in options:
            continue
        v = options[key]
        if not 1 <= v <= MAX_WINDOW:
            if table_missing:
                raise TFLiteFormatError(
                    f"op {index} ({opcode}) has no options table, so its {key} would be {v}: "
                    f"must be in 1..{MAX_WINDOW}")
            raise TFLiteFormatError(
                f"op {index} ({opcode}) has {key} {v}: must be in 1..{MAX_WINDOW}")
    for key in ("beta", "alpha"):
        if key in options and not math.isfinite(options[key]):
            raise TFLiteFormatError(f"op {index} ({opcode}) has {key} {options[key]}: "
                                    "must be finite")


#: FullyConnectedOptions.weights_format values of the schema.
WEIGHTS_FORMATS = {0: "DEFAULT", 1: "SHUFFLED4x16INT8"}


def check_weights_format(index: int, opcode: str, options: dict, notes: list[str]) -> None:
    """A FULLY_CONNECTED's ``weights_format`` as TFLM treats it.

    TFLM's parser accepts DEFAULT and SHUFFLED4x16INT8 and refuses any other
    value; its kernels never look at the format, so a SHUFFLED4x16INT8 op
    runs its weights in the default layout (LiteRT refuses such an int8 op).
    edgekit does the same: SHUFFLED4x16INT8 is normalized to DEFAULT with a
    note in ``notes``, any other value is refused naming the op and value.
    """
    if opcode != "FULLY_CONNECTED" or "weights_format" not in options:
        return
    v = int(options["weights_format"])
    if v not in WEIGHTS_FORMATS:
        raise TFLiteFormatError(
            f"op {index} ({opcode}) has weights_format {v}: not a TFLite weights format "
            f"({', '.join(f'{name} = {code}' for code, name in WEIGHTS_FORMATS.items())}); "
            "TFLM refuses it")
    if v != 0:
        notes.append(f"op {index} ({opcode}): weights_format {WEIGHTS_FORMATS[v]} ignored, "
                     "the weights read in the DEFAULT layout (as TFLM does; LiteRT refuses it)")
        options["weights_format"] = 0


#: Ops whose int8 kernels in TFLM never read the filter's zero point
#: (ConvPerChannel and DepthwiseConvPerChannel take no filter offset).
FILTER_ZP_IGNORED = ("CONV_2D", "DEPTHWISE_CONV_2D")


def normalize_filter_zero_points(ops: list, tensors: list, notes: list[str]) -> None:
    """Set to 0 the non-zero zero points of int8 convolution filters, as TFLM reads them.

    TFLM's int8 CONV_2D and DEPTHWISE_CONV_2D kernels take the filter as
    symmetric whatever its zero points say (LiteRT refuses a non-zero one
    for CONV_2D and runs it for DEPTHWISE_CONV_2D).  A filter used only by
    such ops gets zero points 0, with a note in ``notes``.  (16x8 ops are
    left alone: their lowering still refuses a non-zero filter zero point.)
    """
    users: dict[int, set] = {}
    for op in ops:
        for t in op.inputs:
            users.setdefault(t, set()).add(op.opcode)
    for op in ops:
        if op.opcode not in FILTER_ZP_IGNORED or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
            continue
        x, w = tensors[op.inputs[0]], tensors[op.inputs[1]]
        if (x.dtype == "int8" and w.dtype == "int8" and len(w.zero_point)
                and np.any(w.zero_point != 0) and users[w.index] <= set(FILTER_ZP_IGNORED)):
            nz = sorted({int(z) for z in w.zero_point if z != 0})
            notes.append(f"{who(w.index, w.name, f'op {op.index} ({op.opcode})')}: filter zero "
                         f"point(s) {nz[:4]} read as 0 (TFLM's kernels take the filter as "
                         "symmetric)")
            w.zero_point = np.zeros(len(w.zero_point), np.int64)


#: Inputs of the ops the code generator lowers: (fewest, most, positions that
#: may be -1 (absent)).  Every one of them has exactly one output.  TFLM
#: refuses other counts in its Prepare; the lowerings index by position.
ARITY = {
    "CONV_2D": (2, 3, {2}), "DEPTHWISE_CONV_2D": (2, 3, {2}), "FULLY_CONNECTED": (2, 3, {2}),
    "AVERAGE_POOL_2D": (1, 1, set()), "MAX_POOL_2D": (1, 1, set()), "SOFTMAX": (1, 1, set()),
    "RESHAPE": (1, 2, {1}), "SQUEEZE": (1, 1, set()), "EXPAND_DIMS": (2, 2, set()),
    "ADD": (2, 2, set()), "SUB": (2, 2, set()), "MUL": (2, 2, set()),
    "SQUARED_DIFFERENCE": (2, 2, set()), "MEAN": (2, 2, set()),
    "CONCATENATION": (1, 1 << 16, set()), "PAD": (2, 2, set()), "PADV2": (2, 3, {2}),
    "RELU": (1, 1, set()), "RELU6": (1, 1, set()), "LEAKY_RELU": (1, 1, set()),
    "LOGISTIC": (1, 1, set()), "TANH": (1, 1, set()), "HARD_SWISH": (1, 1, set()),
    "QUANTIZE": (1, 1, set()), "DEQUANTIZE": (1, 1, set()), "RSQRT": (1, 1, set()),
    "TRANSPOSE": (2, 2, set()), "STRIDED_SLICE": (4, 4, set()), "BATCH_MATMUL": (2, 2, set()),
}


def check_arity(index: int, opcode: str, inputs: list[int], outputs: list[int]) -> None:
    """Refuse an op of :data:`ARITY` with too few or too many inputs, an absent
    (-1) required input, or other than one output."""
    if opcode not in ARITY:
        return
    lo, hi, optional = ARITY[opcode]
    if not lo <= len(inputs) <= hi:
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise TFLiteFormatError(f"op {index} ({opcode}) has {len(inputs)} inputs "
                                f"(expected {want})")
    for pos, t in enumerate(inputs):
        if t < 0 and pos not in optional:
            raise TFLiteFormatError(f"op {index} ({opcode}): input {pos} is absent (-1) but "
                                    "required")
    if len(outputs) != 1:
        raise TFLiteFormatError(f"op {index} ({opcode}) has {len(outputs)} outputs "
                                "(expected 1)")


def check_io(inputs: list[int], outputs: list[int], ops: list, constant: set[int]) -> None:
    """Refuse model inputs that are constants or that no op reads, and model
    outputs that are constants or that no op writes (the generated entry
    point copies them to and from the arena)."""
    read = {t for op in ops for t in op.inputs}
    written = {t for op in ops for t in op.outputs}
    for t in inputs:
        if t in constant:
            raise TFLiteFormatError(f"model input tensor {t} is a constant (it has data)")
        if t not in read:
            raise TFLiteFormatError(f"model input tensor {t} is not read by any op")
    for t in outputs:
        if t in constant:
            raise TFLiteFormatError(f"model output tensor {t} is a constant (it has data)")
        if t not in written:
            raise TFLiteFormatError(f"model output tensor {t} is not written by any op")
