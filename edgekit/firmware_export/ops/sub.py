"""SUB, int8, with broadcasting: ADD's kernel in subtract mode (both inputs
rescaled with positive multipliers, then the second subtracted, as TFLite's
integer Sub does; negating a multiplier instead rounds ties differently).
Multipliers follow TFLM's sub_common.cc: the scale ratios are computed in
float, then quantized."""

from __future__ import annotations

from edgekit.firmware_export.ops.add import LEFT_SHIFT, broadcast_params, const_operand
from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import activation_range, f32, quantize_multiplier


def lower(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    if len(ins) != 2 or None in ins:
        raise fail(op, "needs exactly two inputs")
    a, b = ins
    y = graph.op_outputs(op)[0]
    require_int8(op, a, b, y)
    twice_max = f32(2.0 * max(f32(a.s), f32(b.s)))
    m1, sh1 = quantize_multiplier(f32(f32(a.s) / twice_max))
    m2, sh2 = quantize_multiplier(f32(f32(b.s) / twice_max))
    mo, sho = quantize_multiplier(f32(twice_max / f32((1 << LEFT_SHIFT) * f32(y.s))))
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp)
    params = broadcast_params(op, a, b, y)
    params.update(in1_offset=-a.zp, in2_offset=-b.zp, out_offset=y.zp, left_shift=LEFT_SHIFT,
                  in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
                  out_mult=mo, out_shift=sho, act_min=act_min, act_max=act_max,
                  subtract=1)
    fast = const_operand(op, graph, params, subtract=True)
    if fast is not None:
        return fast
    return Lowered("ek_add_s8", "ek_add_params", params, [a.index, b.index, y.index],
                   source="ek_add.c")
