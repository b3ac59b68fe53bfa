"""RELU and RELU6, int8, with TFLM's arithmetic (activations_common.cc;
LEAKY_RELU, int8 and int16, is :mod:`.leaky_relu`):

* RELU: requantize by in_s / out_s (double), clamp to [max(-128, out_zp), 127];
* RELU6: clamp the raw input to [in_zp, in_zp + round(6 / in_s)] -- TFLM does
  not requantize, so neither do we (output quantization is not used).
"""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import f32, quantize_multiplier, tflite_round


def lower(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int8(op, x, y)
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    params = dict(size=y.num_elements, requantize=1, in_zp=x.zp, out_zp=y.zp,
                  pos_mult=0, pos_shift=0, neg_mult=0, neg_shift=0, act_min=-128, act_max=127)
    if op.opcode == "RELU":
        m, sh = quantize_multiplier(f32(x.s) / f32(y.s))
        params.update(pos_mult=m, pos_shift=sh, neg_mult=m, neg_shift=sh,
                      act_min=max(-128, y.zp))
    elif op.opcode == "RELU6":
        six = x.zp + tflite_round(f32(f32(6.0) / f32(x.s)))
        params.update(requantize=0, act_min=max(-128, x.zp), act_max=min(127, six))
    else:
        raise fail(op, "not a ReLU-family op")
    return Lowered("ek_relu_s8", "ek_relu_params", params, [x.index, y.index],
                   source="ek_relu.c")
