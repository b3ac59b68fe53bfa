"""SQUARED_DIFFERENCE, int8, with broadcasting (TFLM squared_difference.cc):
inputs scaled by s_i / (2 max(s1, s2)) after a left shift of 7, the squared
difference by (2 max)^2 / (2^14 * out_s) (that last product in float)."""

from __future__ import annotations

from edgekit.firmware_export.ops.add import broadcast_params
from edgekit.firmware_export.ops.base import Lowered, require_int8
from edgekit.firmware_export.quant import f32, quantize_multiplier

LEFT_SHIFT = 7


def lower(op, graph) -> Lowered:
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int8(op, a, b, y)
    twice_max = 2.0 * max(f32(a.s), f32(b.s))
    m1, sh1 = quantize_multiplier(f32(a.s) / twice_max)
    m2, sh2 = quantize_multiplier(f32(b.s) / twice_max)
    mo, sho = quantize_multiplier(twice_max * twice_max /
                                  f32((1 << (2 * LEFT_SHIFT)) * f32(y.s)))
    params = broadcast_params(op, a, b, y)
    params.update(in1_offset=-a.zp, in2_offset=-b.zp, out_offset=y.zp, left_shift=LEFT_SHIFT,
                  in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
                  out_mult=mo, out_shift=sho, act_min=-128, act_max=127)
    inplace = tuple(t.index for t in (a, b) if list(t.shape) == list(y.shape) and not t.is_const)
    return Lowered("ek_squared_difference_s8", "ek_add_params", params,
                   [a.index, b.index, y.index], source="ek_squared_difference.c",
                   inplace=inplace)
