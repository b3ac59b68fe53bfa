"""TANH, int8 -> int8 (output scale 1/128, zero point 0), with TFLM's
parameters (tanh.cc): the input scale times 2^27 (double) split by frexp into
a Q0.31 multiplier and a left shift, and the saturation radius."""

from __future__ import annotations

import math

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import f32, tflite_round

INPUT_INTEGER_BITS = 4


def lower(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int8(op, x, y)
    if y.zp != 0 or abs(y.s - 1.0 / 128) > 1e-8:
        raise fail(op, f"int8 tanh output must have scale 1/128 and zero point 0 "
                       f"(got {y.s}, {y.zp})")
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    real = f32(x.s) * float(1 << (31 - INPUT_INTEGER_BITS))
    q, shift = math.frexp(real)
    mult = tflite_round(q * (1 << 31))
    if mult >= (1 << 31) or shift < 0 or shift > 30:
        raise fail(op, f"input scale {x.s} is out of the supported range")
    radius = math.floor(((1 << INPUT_INTEGER_BITS) - 1) *
                        float(1 << (31 - INPUT_INTEGER_BITS)) / float(1 << shift))
    return Lowered("ek_tanh_s8", "ek_tanh_params",
                   dict(size=y.num_elements, in_zp=x.zp, in_mult=mult, in_shift=shift,
                        range_radius=radius),
                   [x.index, y.index], source="ek_tanh.c", inplace=(x.index,))
