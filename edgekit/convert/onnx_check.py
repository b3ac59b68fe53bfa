"""Checks of an ONNX model and its calibration data, before any time is spent converting.

:func:`check_onnx` runs ``onnx.checker``, checks the opset, the one float
input with a static shape (or ``input_shape`` to fix it) and every op by
name (ops onnx2tf cannot convert, ops with no int8 kernel);
:func:`load_calibration` loads the calibration samples (``.npy``/``.npz``,
in the ONNX model's own layout: NCL, NCHW...) and checks their shape.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.data.arrays import read_array_file
from edgekit.errors import ConfigError, DataError, ModelError

__all__ = ["FLOAT_ONLY", "INSTEAD", "LAYOUT_NAMES", "MIN_OPSET", "OnnxInfo", "SPATIAL_OPS", "check_onnx",
           "fmt_shape", "load_calibration", "load_onnx", "parse_input_shape"]

MIN_OPSET = 9
# Ops that convert, but to TFLite ops with no int8 kernel (in TFLite or in
# edgekit's generated C): reported by name before converting.
FLOAT_ONLY = {
    "Erf": "GELU/erf", "Gelu": "GELU", "Exp": "EXP", "Log": "LOG", "Sin": "SIN", "Cos": "COS",
    "Tan": "TAN", "Reciprocal": "DIV", "Elu": "ELU", "Selu": "SELU",
    "Softplus": "SOFTPLUS", "Softsign": "DIV", "Mish": "MISH", "LogSoftmax": "LOG_SOFTMAX",
    "LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN", "Resize": "RESIZE", "Upsample": "RESIZE",
    "ArgMax": "ARG_MAX", "ArgMin": "ARG_MIN", "TopK": "TOPK_V2",
    "NonMaxSuppression": "NON_MAX_SUPPRESSION", "ReduceMax": "REDUCE_MAX",
    "ReduceMin": "REDUCE_MIN", "ReduceProd": "REDUCE_PROD", "ReduceL1": "ABS/SUM",
    "ReduceL2": "SQRT", "ReduceLogSum": "LOG", "ReduceLogSumExp": "EXP/LOG", "CumSum": "CUMSUM",
    "ConvTranspose": "TRANSPOSE_CONV", "InstanceNormalization": "SQRT/DIV",
    "GroupNorm": "SQRT/DIV", "LpNormalization": "L2_NORMALIZATION", "Max": "MAXIMUM",
    "Min": "MINIMUM", "Abs": "ABS", "Neg": "NEG", "Floor": "FLOOR", "Ceil": "CEIL",
    "Round": "ROUND", "Where": "SELECT", "Gather": "GATHER", "GatherElements": "GATHER",
    "GatherND": "GATHER_ND", "Einsum": "EINSUM", "Loop": "WHILE", "If": "IF",
    "Tile": "TILE", "Expand": "BROADCAST_TO",
}
_RNN = ("replace the recurrent layer with one that has int8 kernels: a Conv1d over time, "
        "attention (nn.TransformerEncoderLayer with activation='relu'), or an LMU written as "
        "Linear + a fixed depthwise Conv1d over time")
# What to do instead of a float-only op, in torch terms (appended to the refusal).
INSTEAD = {
    "LSTM": "nn.LSTM: " + _RNN, "GRU": "nn.GRU: " + _RNN, "RNN": "nn.RNN: " + _RNN,
    "Erf": "GELU: use nn.ReLU (activation='relu' in nn.TransformerEncoderLayer)",
    "Gelu": "GELU: use nn.ReLU (activation='relu' in nn.TransformerEncoderLayer)",
    "Elu": "use nn.ReLU", "Selu": "use nn.ReLU", "Softplus": "use nn.ReLU",
    "Mish": "use nn.ReLU",
    "LogSoftmax": "export the logits (or Softmax) and take the log after inference",
    "ArgMax": "export the logits and take the argmax after inference",
    "Gather": "index with a constant (x[:, -1]) or a slice; nn.Embedding has no int8 kernel",
    "InstanceNormalization": "use nn.BatchNorm (folded into the conv) or nn.LayerNorm",
    "GroupNorm": "use nn.BatchNorm (folded into the conv) or nn.LayerNorm",
}
# Ops onnx2tf may fold away as constants (shape arithmetic) even if their
# TFLite counterpart has no int8 kernel.
_FOLDABLE = {"Gather", "Where", "Expand", "Tile", "Max", "Min", "Floor", "Ceil", "Round", "Abs",
             "Neg", "Reciprocal", "Exp", "Log", "Cos", "Sin"}
SPATIAL_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
            "GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "LpPool",
            "DepthToSpace", "SpaceToDepth", "Resize", "Upsample"}
LAYOUT_NAMES = {3: ("NCL", "NLC"), 4: ("NCHW", "NHWC"), 5: ("NCDHW", "NDHWC")}


@dataclass
class OnnxInfo:
    """What :func:`check_onnx` found out about a model."""

    model: object                       # onnx.ModelProto with static shapes, shapes inferred
    opset: int
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    output_shape: tuple[int, ...]
    ops: dict[str, int]
    input_shape_fixed: list | None = None   # the original dims when input_shape replaced them
    producer: str = ""


def load_onnx(path: str | Path):
    """Read an ONNX file; :class:`ModelError` if it is missing or not ONNX."""
    import onnx  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ONNX model {path} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # DecodeError, OSError, ValueError from external data
        raise ModelError(f"{path} is not an ONNX model: {str(e).splitlines()[0]}") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise ModelError(f"{path} is not an ONNX model: no graph, IR version or opset")
    return model


def parse_input_shape(spec) -> tuple[int, ...]:
    """``"1,10,49"`` / ``"1x10x49"`` / ``(1, 10, 49)`` -> a tuple of positive ints."""
    if spec is None:
        return None
    try:
        if isinstance(spec, str):
            parts = [p for p in spec.replace("x", ",").replace(" ", "").strip("()[]").split(",")
                     if p]
            dims = tuple(int(p) for p in parts)
        else:
            dims = tuple(int(d) for d in spec)
    except (TypeError, ValueError):
        raise ConfigError(f"--input-shape must be comma-separated integers like 1,10,49 "
                          f"(got {spec!r})") from None
    if not dims or any(d <= 0 for d in dims):
        raise ConfigError(f"--input-shape must be positive integers like 1,10,49 (got {spec!r})")
    return dims


def _dims(value_info) -> list:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else
            (d.dim_param or "?") for d in t.shape.dim]


def fmt_shape(dims) -> str:
    """``(1, 10, 49)``: a shape (or dims with names) as messages print it."""
    return "(" + ", ".join(str(d) for d in dims) + ")"


def check_onnx(model, input_shape=None, source: str = "model") -> OnnxInfo:
    """Check an ONNX model before converting it; return a copy with static shapes.

    Raises :class:`ModelError` naming the problem: checker failure, opset,
    inputs/outputs, dynamic input dims (fix them with ``input_shape``),
    unsupported or float-only ops.
    """
    import onnx  # noqa: PLC0415

    model = onnx.ModelProto.FromString(model.SerializeToString())    # work on a copy
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # ValidationError, and C++ errors for odd protos
        msg = " ".join(str(e).split())[:300]
        raise ModelError(f"{source} fails the ONNX checker: {msg}") from None

    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    opset = opsets.get("ai.onnx", 0)
    if opset < MIN_OPSET:
        raise ModelError(f"{source} uses ONNX opset {opset}; edgekit needs opset >= {MIN_OPSET} "
                         f"(re-export with torch.onnx.export(..., opset_version=17))")
    if opset > onnx.defs.onnx_opset_version():
        raise ModelError(f"{source} uses ONNX opset {opset}, newer than this onnx package "
                         f"supports ({onnx.defs.onnx_opset_version()})")

    g = model.graph
    init_names = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in init_names]
    if len(inputs) != 1:
        raise ModelError(f"{source} has {len(inputs)} inputs "
                         f"({', '.join(i.name for i in inputs) or 'none'}); edgekit deploys "
                         f"models with exactly one input")
    if len(g.output) != 1:
        raise ModelError(f"{source} has {len(g.output)} outputs "
                         f"({', '.join(o.name for o in g.output)}); edgekit deploys models "
                         f"with exactly one output")
    inp, outp = inputs[0], g.output[0]
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        dt = onnx.TensorProto.DataType.Name(inp.type.tensor_type.elem_type)
        raise ModelError(f"{source} input '{inp.name}' is {dt}; edgekit converts float32 models")

    # ---- ops, before any time is spent converting
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                  for n in g.node)
    first = {}
    for n in g.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        first.setdefault(key, n.name or n.output[0])
    known = _onnx2tf_ops()
    unsupported = sorted(k for k in ops if "." in k or (known and k not in known))
    if unsupported:
        raise ModelError(f"{source} has ops onnx2tf cannot convert: " + ", ".join(
            f"{k} (x{ops[k]}, e.g. node '{first[k]}')" for k in unsupported))
    const_only = _constant_nodes(g)
    float_only = sorted(k for k in ops if k in FLOAT_ONLY and not (
        k in _FOLDABLE and all(n.name in const_only for n in g.node if n.op_type == k)))
    if float_only:
        raise ModelError(f"{source} has float-only ops (no int8 kernel in edgekit's generated "
                         f"C): " + ", ".join(f"{k} -> {FLOAT_ONLY[k]} (x{ops[k]}, e.g. node "
                                              f"'{first[k]}')" for k in float_only)
                         + "".join(f"; instead of {k}: {INSTEAD[k]}" for k in float_only
                                   if k in INSTEAD))

    # ---- a static input shape (or the one given)
    dims = _dims(inp)
    if dims is None:
        raise ModelError(f"{source} input '{inp.name}' has no shape; pass --input-shape")
    fixed = None
    if input_shape is not None:
        shape = parse_input_shape(input_shape)
        if len(shape) != len(dims):
            raise ConfigError(f"--input-shape {fmt_shape(shape)} has rank {len(shape)} but "
                              f"input '{inp.name}' {fmt_shape(dims)} has rank {len(dims)}")
        for i, (s, d) in enumerate(zip(shape, dims)):
            if isinstance(d, int) and d != s and i > 0:
                raise ConfigError(f"--input-shape {fmt_shape(shape)} contradicts the static "
                                  f"dim {i} = {d} of input '{inp.name}' {fmt_shape(dims)}")
        if list(shape) != dims:
            fixed = dims
        dims = list(shape)
    elif any(not isinstance(d, int) for d in dims):
        hint = ",".join("1" if i == 0 and not isinstance(d, int) else str(d)
                        for i, d in enumerate(dims))
        raise ModelError(f"{source} input '{inp.name}' has a dynamic shape {fmt_shape(dims)}; "
                         f"pass a static one with --input-shape (e.g. --input-shape {hint})")
    if dims[0] != 1:
        raise ModelError(f"{source} input '{inp.name}' {fmt_shape(dims)} has batch {dims[0]}; "
                         f"edgekit deploys batch 1 (pass --input-shape "
                         f"{','.join(['1'] + [str(d) for d in dims[1:]])})")
    tshape = inp.type.tensor_type.shape
    for d, v in zip(tshape.dim, dims):
        d.Clear()
        d.dim_value = int(v)
    # re-infer every intermediate shape from the static input (onnx2tf relies on them)
    del g.value_info[:]
    for o in g.output:
        if any(not isinstance(d, int) for d in (_dims(o) or [])) or fixed is not None:
            o.type.tensor_type.ClearField("shape")
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as e:
        msg = " ".join(str(e).split())[:300]
        raise ModelError(f"{source}: shape inference failed with input "
                         f"{fmt_shape(dims)}: {msg}") from None
    out_dims = _dims(model.graph.output[0])
    if out_dims is None or any(not isinstance(d, int) for d in out_dims):
        raise ModelError(f"{source}: the output '{outp.name}' shape is not static after fixing "
                         f"the input to {fmt_shape(dims)} (got {out_dims})")
    producer = " ".join(x for x in (model.producer_name, model.producer_version) if x)
    return OnnxInfo(model=model, opset=opset, input_name=inp.name, input_shape=tuple(dims),
                    output_name=outp.name, output_shape=tuple(out_dims), ops=dict(ops),
                    input_shape_fixed=fixed, producer=producer)


def _onnx2tf_ops() -> set[str]:
    import importlib.util  # noqa: PLC0415

    # the op modules' names, without importing onnx2tf (and TensorFlow) yet
    spec = importlib.util.find_spec("onnx2tf")
    if spec is None or not spec.origin:
        return set()                      # onnx2tf missing: reported when converting
    return {p.stem.lstrip("_") for p in (Path(spec.origin).parent / "ops").glob("*.py")
            if p.stem != "__init__"}


def _constant_nodes(g) -> set[str]:
    """Names of nodes whose inputs are all constants (onnx2tf folds them)."""
    const = {i.name for i in g.initializer}
    names = set()
    for n in g.node:
        if n.op_type in ("Constant", "Shape") or all(not x or x in const for x in n.input):
            const.update(n.output)
            names.add(n.name)
    return names


def load_calibration(calib, info: OnnxInfo) -> np.ndarray:
    """Calibration samples ``(N, *input_shape[1:])`` as float32, in the ONNX layout."""
    path = None
    if isinstance(calib, (str, Path)):
        path = Path(calib)

        def choose(keys: list) -> str:
            pick = [k for k in (info.input_name, "x", "calib", "inputs", "input", "data")
                    if k in keys]
            if len(keys) == 1:
                pick = keys
            if not pick:
                raise DataError(f"calibration data {path} holds arrays {keys}; name the one "
                                f"to use '{info.input_name}' or 'x'")
            return pick[0]

        data = read_array_file(path, choose)
    else:
        data = calib
    name = str(path) if path else "calibration data"
    x = np.asarray(data)
    example = tuple(info.input_shape[1:])
    if x.shape == tuple(info.input_shape) and len(example) + 1 == x.ndim:
        pass                                         # one sample with its batch dim
    elif x.ndim == len(example) + 2 and x.shape[1] == 1 and tuple(x.shape[2:]) == example:
        x = x[:, 0]                                  # (N, 1, *example): samples saved with batch
    if x.ndim != len(example) + 1 or tuple(x.shape[1:]) != example:
        layout = LAYOUT_NAMES.get(len(info.input_shape), ("",))[0]
        lay = f" in {layout} layout" if layout and any(o in info.ops for o in SPATIAL_OPS) else ""
        raise DataError(f"{name} has shape {fmt_shape(x.shape)} but the ONNX input "
                        f"'{info.input_name}' is {fmt_shape(info.input_shape)}{lay}: "
                        f"expected (N, {', '.join(map(str, example))})")
    if len(x) == 0:
        raise DataError(f"{name} is empty")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{name} must be real numbers (got dtype {x.dtype})")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{name} contains NaN or infinite values")
    return x

