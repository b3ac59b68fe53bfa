"""QUANTIZE (int8 -> int8 requantization; float32 -> int8) and DEQUANTIZE
(int8 -> float32), with TFLM's parameters (quantize_common.cc,
dequantize_common.cc): the requantization multiplier is in_s / out_s in
double; float scales are passed to the kernel as their float32 bits."""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import f32, quantize_multiplier


def float_bits(x: float) -> int:
    return int(np.array([x], np.float32).view(np.int32)[0])


def _per_tensor(op, t) -> None:
    if len(t.scale) != 1:
        raise fail(op, f"tensor {t.index} must be quantized per tensor "
                       f"(has {len(t.scale)} scales)")


def lower(op, graph) -> Lowered:
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
    if x.dtype == "float32" and y.dtype == "int8":
        require_int8(op, y)
        _per_tensor(op, y)
        return Lowered("ek_quantize_f32_s8", "ek_fquant_params",
                       dict(size=y.num_elements, zp=y.zp, scale_bits=float_bits(y.s)),
                       [x.index, y.index], source="ek_quantize.c")
    raise fail(op, f"QUANTIZE from {x.dtype} to {y.dtype} is not supported "
                   "(int8 -> int8 and float32 -> int8 are)")


def lower_dequantize(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    if x.dtype == "int8" and y.dtype == "float32":
        require_int8(op, x)
        _per_tensor(op, x)
        return Lowered("ek_dequantize_s8_f32", "ek_fquant_params",
                       dict(size=y.num_elements, zp=x.zp, scale_bits=float_bits(x.s)),
                       [x.index, y.index], source="ek_quantize.c")
    raise fail(op, f"DEQUANTIZE from {x.dtype} to {y.dtype} is not supported "
                   "(int8 -> float32 is)")
