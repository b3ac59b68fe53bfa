"""MUL, int8 and int16 (16x8, zero points 0), with broadcasting (one requantization by s1 * s2 / s_out,
the real multiplier computed in double as TFLM's mul_common.cc does)."""

from __future__ import annotations

from edgekit.firmware_export.ops.add import broadcast_params
from edgekit.firmware_export.ops.base import Lowered, fail, require_type
from edgekit.firmware_export.quant import activation_range, f32, quantize_multiplier


def lower(op, graph) -> Lowered:
    """MUL, int8 or int16 (by the first input's type)."""
    ins = graph.op_inputs(op)
    if len(ins) != 2 or None in ins:
        raise fail(op, "needs exactly two inputs")
    a, b = ins
    y = graph.op_outputs(op)[0]
    dtype = "int16" if a.dtype == "int16" else "int8"
    lo, hi = require_type(op, dtype, a, b, y)
    m, sh = quantize_multiplier(f32(a.s) * f32(b.s) / f32(y.s))
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp, lo, hi)
    params = broadcast_params(op, a, b, y)
    params.update(in1_offset=-a.zp, in2_offset=-b.zp, out_offset=y.zp,
                  out_mult=m, out_shift=sh, act_min=act_min, act_max=act_max)
    if dtype == "int16":
        return Lowered("ek_mul_s16", "ek_mul_params", params, [a.index, b.index, y.index],
                       source="ek_mul_s16.c")
    return Lowered("ek_mul_s8", "ek_mul_params", params, [a.index, b.index, y.index],
                   source="ek_mul.c")
