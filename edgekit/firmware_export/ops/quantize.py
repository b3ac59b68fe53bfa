"""QUANTIZE (requantization int8 -> int8, int16 -> int8, int8 -> int16,
int16 -> int16, uint8 <-> int8; float32 -> int8 / int16) and DEQUANTIZE
(int8 / int16 -> float32), with TFLM's parameters (quantize_common.cc,
dequantize_common.cc): the requantization multiplier is in_s / out_s in
double; float scales are passed to the kernel as their float32 bits."""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8, require_int16
from edgekit.firmware_export.quant import f32, quantize_multiplier


def float_bits(x: float) -> int:
    return int(np.array([x], np.float32).view(np.int32)[0])


def _per_tensor(op, t) -> None:
    if len(t.scale) != 1:
        raise fail(op, f"tensor {t.index} must be quantized per tensor "
                       f"(has {len(t.scale)} scales)")


#: (input type, output type) -> requantizing kernel (ek_quantize.c), as TFLM's
#: quantize_common.cc pairs them (it also does int8 -> int8).
REQUANTIZE_KERNELS = {
    ("int16", "int8"): "ek_requantize_s16_s8",
    ("int8", "int16"): "ek_requantize_s8_s16",
    ("int16", "int16"): "ek_requantize_s16_s16",
    ("uint8", "int8"): "ek_requantize_u8_s8",
    ("int8", "uint8"): "ek_requantize_s8_u8",
}


def _require_quantized(op, t) -> None:
    """A quantized activation of its type: int16 with zero point 0 (16x8),
    int8 or uint8 with any zero point in the type's range."""
    if t.dtype == "int16":
        require_int16(op, t)
        return
    if t.dtype == "int8":
        require_int8(op, t)
        return
    if not len(t.scale):
        raise fail(op, f"tensor {t.index} ({t.name!r}) has no quantization parameters")
    if not 0 <= t.zp <= 255:
        raise fail(op, f"uint8 tensor {t.index} has zero point {t.zp} outside [0, 255]")


def lower(op, graph) -> Lowered:
    """QUANTIZE: see the module docs for the supported type pairs."""
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    if x.dtype == "int8" and y.dtype == "int8":
        require_int8(op, x, y)
        _per_tensor(op, y)
        m, sh = quantize_multiplier(f32(x.s) / f32(y.s))
        return Lowered("ek_requantize_s8", "ek_requantize_params",
                       dict(size=y.num_elements, in_zp=x.zp, out_zp=y.zp, mult=m, shift=sh),
                       [x.index, y.index], source="ek_quantize.c", inplace=(x.index,))
    if x.dtype == "float32" and y.dtype in ("int8", "int16"):
        _require_quantized(op, y)
        _per_tensor(op, y)
        suffix = "s16" if y.dtype == "int16" else "s8"
        return Lowered(f"ek_quantize_f32_{suffix}", "ek_fquant_params",
                       dict(size=y.num_elements, zp=y.zp, scale_bits=float_bits(y.s)),
                       [x.index, y.index], source="ek_quantize.c")
    kernel = REQUANTIZE_KERNELS.get((x.dtype, y.dtype))
    if kernel is not None:
        _require_quantized(op, x)
        _require_quantized(op, y)
        _per_tensor(op, x)
        _per_tensor(op, y)
        m, sh = quantize_multiplier(f32(x.s) / f32(y.s))
        inplace = (x.index,) if x.itemsize >= y.itemsize else ()
        return Lowered(kernel, "ek_requantize_params",
                       dict(size=y.num_elements, in_zp=x.zp, out_zp=y.zp, mult=m, shift=sh),
                       [x.index, y.index], source="ek_quantize.c", inplace=inplace)
    pairs = ", ".join(f"{a} -> {b}" for a, b in [("int8", "int8"), *REQUANTIZE_KERNELS,
                                                  ("float32", "int8"), ("float32", "int16")])
    raise fail(op, f"QUANTIZE from {x.dtype} to {y.dtype} is not supported ({pairs} are)")


def lower_dequantize(op, graph) -> Lowered:
    """DEQUANTIZE int8 or int16 -> float32."""
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    if x.dtype in ("int8", "int16") and y.dtype == "float32":
        _require_quantized(op, x)
        _per_tensor(op, x)
        suffix = "s16" if x.dtype == "int16" else "s8"
        return Lowered(f"ek_dequantize_{suffix}_f32", "ek_fquant_params",
                       dict(size=y.num_elements, zp=x.zp, scale_bits=float_bits(x.s)),
                       [x.index, y.index], source="ek_quantize.c")
    raise fail(op, f"DEQUANTIZE from {x.dtype} to {y.dtype} is not supported "
                   "(int8 -> float32 and int16 -> float32 are)")
