"""TANH, int8 -> int8 (output scale 1/128, zero point 0), with TFLM's
parameters (tanh.cc): the input scale times 2^27 (double) split by frexp into
a Q0.31 multiplier and a left shift, and the saturation radius."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, lower_q4_27_activation

INPUT_INTEGER_BITS = 4


def lower(op, graph) -> Lowered:
    x, y, params = lower_q4_27_activation(op, graph, name="tanh", out_scale_inv=128,
                                          out_zp=0, input_integer_bits=INPUT_INTEGER_BITS)
    return Lowered("ek_tanh_s8", "ek_tanh_params", params,
                   [x.index, y.index], source="ek_tanh.c", inplace=(x.index,))
