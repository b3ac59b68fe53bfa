"""What an op lowering returns, and checks shared by the lowerings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.quant import f32, tflite_round


@dataclass
class Lowered:
    """One op, ready for the code generator.

    Attributes
    ----------
    kernel : str or None
        C function to call; None for an op that only aliases memory.
    params_type : str
        C struct type of the parameter block.
    params : dict
        Field name -> int, or -> list of int (emitted as a const array).
    args : list of int or None
        Tensor indices passed after the parameter block, in order;
        None stands for NULL (e.g. no bias); a ``(tensor, byte offset)``
        pair passes the address that many bytes into an arena tensor.
    alias_of : int or None
        For reshape-like ops: the output shares the memory of this tensor.
    inplace : tuple of int
        Input tensor indices whose memory the output may reuse: the kernel
        gives the right result when its output starts at the address of that
        input (same base pointer), e.g. because it reads element i before it
        writes element i, or through ``scratch``.  The output may be smaller
        than the input.
    source : str
        Kernel source file (package data) that defines ``kernel``.
    scratch : int
        Bytes of scratch memory the kernel needs while it runs (0: none).
        When > 0 the generated call passes one more, last, argument
        ``int8_t *scratch``: 16-byte aligned, in the arena, valid during
        this call only (it may share bytes with tensors not alive then).
    scratch_options : tuple of int
        Smaller ``scratch`` sizes the kernel also runs with (slower paths),
        strictly decreasing.  When given, the kernel always takes the
        trailing argument (NULL for 0 bytes), and the code generator gives
        the op the largest size (``scratch`` first) that does not grow the
        arena (:func:`edgekit.firmware_export.codegen.fit_scratch`); the
        ``scratch_param`` field of ``params`` follows the choice.
    scratch_param : str
        The ``params`` field that tells the kernel its scratch bytes.
    """

    kernel: str | None
    params_type: str = ""
    params: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    alias_of: int | None = None
    source: str = ""
    inplace: tuple = ()
    scratch: int = 0
    scratch_options: tuple = ()
    scratch_param: str = ""


def fail(op, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"op {op.index} ({op.opcode}): {why}")


def require_int8(op, *tensors) -> None:
    for t in tensors:
        if t is None:
            continue
        if t.dtype != "int8":
            raise fail(op, f"tensor {t.index} ({t.name!r}) is {t.dtype}; this kernel needs int8")
        if not len(t.scale):
            raise fail(op, f"tensor {t.index} ({t.name!r}) has no quantization parameters")


def require_int16(op, *tensors) -> None:
    """int16 activations of TFLite's 16x8 mode: quantized, zero point 0."""
    for t in tensors:
        if t is None:
            continue
        if t.dtype != "int16":
            raise fail(op, f"tensor {t.index} ({t.name!r}) is {t.dtype}; this kernel needs int16")
        if not len(t.scale):
            raise fail(op, f"tensor {t.index} ({t.name!r}) has no quantization parameters")
        if any(int(z) != 0 for z in t.zero_point):
            raise fail(op, f"int16 tensor {t.index} must have zero point 0")


#: Activation element type -> (its check, smallest and largest value).
ACTIVATION_TYPES = {"int8": (require_int8, -128, 127), "int16": (require_int16, -32768, 32767)}


def require_type(op, dtype: str, *tensors) -> tuple[int, int]:
    """Check ``tensors`` as activations of ``dtype`` ("int8" or "int16");
    returns the type's (min, max)."""
    check, lo, hi = ACTIVATION_TYPES[dtype]
    check(op, *tensors)
    return lo, hi


def require_activation(op, t) -> None:
    if t.is_const:
        raise fail(op, f"tensor {t.index} ({t.name!r}) must be an activation, not a constant")


def nhwc(op, t) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise fail(op, f"tensor {t.index} has shape {list(t.shape)}; expected 4-D NHWC")
    return tuple(int(d) for d in t.shape)


def compute_padding(padding: str, in_size: int, filt: int, stride: int, dilation: int,
                    out_size: int) -> int:
    """Leading padding (TFLite puts the odd extra pixel at the end)."""
    eff = (filt - 1) * dilation + 1
    total = (out_size - 1) * stride + eff - in_size
    return max(total, 0) // 2 if padding == "SAME" else 0


def expected_out(padding: str, in_size: int, filt: int, stride: int, dilation: int) -> int:
    eff = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size - eff + stride) // stride


def lower_q4_27_activation(op, graph, *, name: str, out_scale_inv: int, out_zp: int,
                           input_integer_bits: int = 4):
    """Checks and parameters shared by int8 LOGISTIC and TANH, as TFLM computes
    them: the input scale times 2^(31 - input_integer_bits) split by frexp into
    a Q0.31 multiplier and a left shift, and the saturation radius.

    Returns ``(x, y, params)``; the output must have scale ``1/out_scale_inv``
    and zero point ``out_zp``.
    """
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int8(op, x, y)
    if y.zp != out_zp or abs(y.s - 1.0 / out_scale_inv) > 1e-8:
        raise fail(op, f"int8 {name} output must have scale 1/{out_scale_inv} and zero point "
                       f"{out_zp} (got {y.s}, {y.zp})")
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    real = f32(x.s) * float(1 << (31 - input_integer_bits))
    q, shift = math.frexp(real)
    mult = tflite_round(q * (1 << 31))
    if mult >= (1 << 31) or shift < 0 or shift > 30:
        raise fail(op, f"input scale {x.s} is out of the supported range")
    radius = math.floor(((1 << input_integer_bits) - 1) *
                        float(1 << (31 - input_integer_bits)) / float(1 << shift))
    return x, y, dict(size=y.num_elements, in_zp=x.zp, in_mult=mult, in_shift=shift,
                      range_radius=radius)
