"""SOFTMAX, int8 -> int8 (output scale 1/256, zero point -128)."""

from __future__ import annotations

import math

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import quantize_multiplier

SCALED_DIFF_INTEGER_BITS = 5


def lower(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int8(op, x, y)
    if y.zp != -128 or abs(y.s - 1.0 / 256) > 1e-8:
        raise fail(op, f"int8 softmax output must have scale 1/256 and zero point -128 "
                       f"(got {y.s}, {y.zp})")
    if not x.shape or x.num_elements != y.num_elements:
        raise fail(op, "input and output shapes differ")
    beta = op.options.get("beta", 1.0)
    bits = SCALED_DIFF_INTEGER_BITS
    real = min(beta * x.s * (1 << (31 - bits)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise fail(op, f"input scale {x.s} too small for integer softmax")
    max_in = ((1 << bits) - 1) * float(1 << (31 - bits)) / float(1 << left_shift)
    diff_min = -int(math.floor(max_in))
    depth = int(x.shape[-1])
    params = dict(outer=x.num_elements // depth, depth=depth, input_multiplier=mult,
                  input_left_shift=left_shift, diff_min=diff_min)
    return Lowered("ek_softmax_s8", "ek_softmax_params", params, [x.index, y.index],
                   source="ek_softmax.c")
