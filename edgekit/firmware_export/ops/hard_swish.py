"""HARD_SWISH, int8 -> int8, with TFLM's parameters (hard_swish_common.cc):
the scales combined in float, each multiplier quantized to Q0.31 and then
rounded down to a 16-bit one."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import f32, quantize_multiplier


def downscale_to_int16(m: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier."""
    if m >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (m + (1 << 15)) >> 16


def lower(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int8(op, x, y)
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    hires = f32(f32(1.0 / 128.0) * f32(x.s))
    reluish_scale = f32(3.0 / 32768.0)
    om, osh = quantize_multiplier(f32(hires / f32(y.s)))
    rm, rsh = quantize_multiplier(f32(hires / reluish_scale))
    if not -15 <= osh <= 0:
        raise fail(op, f"output/input scale ratio {y.s / x.s} is out of the supported range")
    if not -15 <= rsh <= 15:
        raise fail(op, f"input scale {x.s} is out of the supported range")
    return Lowered("ek_hard_swish_s8", "ek_hard_swish_params",
                   dict(size=y.num_elements, in_zp=x.zp, out_zp=y.zp,
                        out_mult16=downscale_to_int16(om), out_shift=osh,
                        relu_mult16=downscale_to_int16(rm), relu_shift=rsh),
                   [x.index, y.index], source="ek_hard_swish.c", inplace=(x.index,))
