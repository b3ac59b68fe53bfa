"""LOGISTIC, int8 -> int8 (output scale 1/256, zero point -128), with TFLM's
parameters (logistic_common.cc): the input scale times 2^27 split by frexp
into a Q0.31 multiplier and a left shift, and the saturation radius."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, lower_q4_27_activation

INPUT_INTEGER_BITS = 4


def lower(op, graph) -> Lowered:
    x, y, params = lower_q4_27_activation(op, graph, name="logistic", out_scale_inv=256,
                                          out_zp=-128, input_integer_bits=INPUT_INTEGER_BITS)
    return Lowered("ek_logistic_s8", "ek_logistic_params", params,
                   [x.index, y.index], source="ek_logistic.c")
