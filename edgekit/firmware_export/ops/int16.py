"""More int16-activation (TFLite 16x8) lowerings: DEPTHWISE_CONV_2D,
BATCH_MATMUL, LOGISTIC and TANH (the other ops that take int16 share their
int8 module: pooling, mean, mul, pad, concat, strided_copy, reshape,
quantize).

DEPTHWISE_CONV_2D and BATCH_MATMUL accumulate in 64 bits and requantize as
the 16x8 CONV_2D does (ops/s16.py: the multiplier rounded to 16 bits, one
rounding shift).  LOGISTIC and TANH follow TFLM (logistic_common.cc,
tanh.cc): the input is rescaled so that one unit is 1/12288 (2^17 stands for
32/3) with a 15-bit multiplier and a rounding right shift (for a
power-of-two input scale: 3 << shift), then looked up in a 256-entry table
of sigmoid(k / 24) with linear interpolation."""

from __future__ import annotations

import functools
import math

import numpy as np

from edgekit.firmware_export.ops import batch_matmul
from edgekit.firmware_export.ops.base import Lowered, fail, require_int16
from edgekit.firmware_export.ops.s16 import check_shifts, lower_conv_like, pack_s16
from edgekit.firmware_export.quant import f32

__all__ = ["checked_log2", "lower_batch_matmul", "lower_depthwise", "lower_logistic",
           "lower_tanh", "lut_act_params", "sigmoid_table"]


def lower_depthwise(op, graph) -> Lowered:
    """DEPTHWISE_CONV_2D with int16 input/output, int8 filters 1 x H x W x (C * M)
    (:func:`.s16.lower_conv_like`)."""
    return lower_conv_like(op, graph, depthwise=True)


def lower_batch_matmul(op, graph) -> Lowered:
    """BATCH_MATMUL int16 x int16 -> int16: the int8 lowering's geometry
    (:func:`.batch_matmul.matmul_params`: ranks 2 to 5, broadcast batch dims,
    adj_x / adj_y folded into the strides) with zero points 0."""
    lhs, rhs = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    params = batch_matmul.matmul_params(op, graph, require_int16)
    check_shifts(op, [params["out_shift"]])
    return Lowered("ek_batch_matmul_s16", "ek_batch_matmul_params", params,
                   [lhs.index, rhs.index, y.index], source="ek_batch_matmul_s16.c")


# ---- LOGISTIC / TANH (int16 -> int16) --------------------------------------

INPUT_INTEGER_BITS = 3
OUTPUT_FRACTIONAL_BITS = 15


TABLE_STEPS = 256


def _sig16(k: float) -> float:
    """sigmoid(k / 24) in units of 2^-16."""
    return 65536.0 / (1.0 + math.exp(-k / 24.0))


@functools.lru_cache(maxsize=1)
def sigmoid_table() -> tuple[int, ...]:
    """The 256-entry sigmoid table of TFLM's int16 LOGISTIC / TANH, unsigned
    Q0.16: entry k is sigmoid(k / 24) raised by half the error of linear
    interpolation at the middle of segment [k, k + 1] (the interpolated curve
    then straddles the function), rounded half up; the last entry is the
    limit 1.0 clamped to 65535 (the kernels saturate beyond it).  Derived by
    hand and checked against tflite_micro over every int16 input
    (tests/firmware_export/test_kernel_s16_lut.py)."""
    out = []
    for k in range(TABLE_STEPS - 1):
        mid_err = _sig16(k + 0.5) - (_sig16(k) + _sig16(k + 1)) / 2.0
        out.append(min(int(math.floor(_sig16(k) + mid_err / 2.0 + 0.5)), 65535))
    return tuple(out + [65535])


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's CheckedLog2 in float32: (whether ``x`` is within 1e-3 of a
    power of two in log2, log2 rounded half away from zero)."""
    f = np.float32
    lg = f(np.log(f(x))) * (f(1.0) / f(np.log(f(2.0))))
    rounded = math.floor(abs(float(lg)) + 0.5) * (1 if lg >= 0 else -1)
    return bool(abs(float(lg - f(rounded))) < 1e-3), int(rounded)


def lut_act_params(op, graph, *, pot_shifts: tuple[int, ...]) -> tuple:
    """Input rescale of int16 LOGISTIC (``pot_shifts=(0,)``) and TANH
    (``(0, 1)``): ``(x, y, params)``, as TFLM's Prepare computes them."""
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int16(op, x, y)
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    pot_out, log2_out = checked_log2(f32(y.s))
    if not pot_out or log2_out != -OUTPUT_FRACTIONAL_BITS:
        raise fail(op, f"int16 {op.opcode} output scale must be 2^-15 (got {y.s})")
    pot, log2_in = checked_log2(f32(x.s))
    shift = (15 - INPUT_INTEGER_BITS) + log2_in
    if pot and shift in pot_shifts:
        mult, shift = 3 << shift, 0          # the kernel's power-of-two case
    else:
        real = f32(x.s) * 4096.0 * 3.0
        shift = 0
        while real <= 32767.0 / 2.0 and shift <= 30:
            shift += 1
            real *= 2.0
        mult = int(real)
        if mult > 32767:
            raise fail(op, f"input scale {x.s} is too large for the int16 {op.opcode} table")
    table = sigmoid_table()
    return x, y, dict(size=y.num_elements, input_multiplier=mult, input_left_shift=shift,
                      lut=pack_s16([v - 65536 if v >= 32768 else v for v in table]))


def lower_logistic(op, graph) -> Lowered:
    """LOGISTIC int16 -> int16 (output scale 2^-15, zero points 0)."""
    x, y, params = lut_act_params(op, graph, pot_shifts=(0,))
    return Lowered("ek_logistic_s16", "ek_lut16_act_params", params, [x.index, y.index],
                   source="ek_logistic_s16.c", inplace=(x.index,))


def lower_tanh(op, graph) -> Lowered:
    """TANH int16 -> int16 (output scale 2^-15, zero points 0)."""
    x, y, params = lut_act_params(op, graph, pot_shifts=(0, 1))
    return Lowered("ek_tanh_s16", "ek_lut16_act_params", params, [x.index, y.index],
                   source="ek_logistic_s16.c", inplace=(x.index,))
