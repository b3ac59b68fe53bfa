"""RSQRT, int8 -> int8 (TFLM elementwise.cc), as a 256-entry table computed
at export time with TFLite's integer arithmetic: the inverse square root of
x - in_zp as a Q0.31 multiplier and shift (GetInvSqrtQuantizedMultiplierExp:
five Newton-Raphson steps in Q3.28), applied to 1 << 20 and rescaled by
1 / (sqrt(in_s) * out_s).  x == in_zp gives 127; TFLM rejects x < in_zp at run
time (the op fails), the table gives 127 there too."""

from __future__ import annotations

import math

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import (INT32_MAX as I32_MAX, INT32_MIN as I32_MIN, f32,
                                           mbqm, quantize_multiplier, rdbpot, srdhm, wrap32)

SHIFT = 20


def sat_mul_pot(x: int, e: int) -> int:
    if e <= 0:
        return rdbpot(x, -e)
    return max(I32_MIN, min(I32_MAX, x << e))


def inv_sqrt(v: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp(v, reverse_shift=-1)."""
    if v <= 1:
        return I32_MAX, 0
    shift = 11
    while v >= (1 << 29):
        v //= 4
        shift += 1
    clz = 32 - v.bit_length()
    pairs = (clz - 1) // 2 - 1
    shift -= pairs
    v <<= 2 * pairs
    half_input = rdbpot(v >> 1, 1)
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = sat_mul_pot(srdhm(srdhm(x, x), x), 6)
        x = sat_mul_pot(wrap32(srdhm(half_three, x) - srdhm(half_input, x3)), 3)
    x = srdhm(x, 1518500250)
    if shift < 0:
        x = wrap32(x << -shift)
        shift = 0
    return x, -shift


def table(in_zp: int, out_zp: int, mult: int, shift: int) -> list[int]:
    out = []
    for q in range(-128, 128):
        v = q - in_zp
        if v <= 0:
            out.append(127)
            continue
        im, ish = inv_sqrt(v)
        data = mbqm(1, im, ish + SHIFT)
        r = mbqm(data, mult, shift - SHIFT) + out_zp
        out.append(max(-128, min(127, r)))
    return out


def pack(values: list[int]) -> list[int]:
    b = np.asarray(values, np.int64).astype(np.int8).view(np.uint8)
    return [int(w) for w in b.view("<i4")]


def lower(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int8(op, x, y)
    if x.num_elements != y.num_elements:
        raise fail(op, "input and output sizes differ")
    real = 1.0 / (math.sqrt(f32(x.s)) * f32(y.s))
    m, sh = quantize_multiplier(real)
    lut = table(x.zp, y.zp, m, sh)
    return Lowered("ek_rsqrt_s8", "ek_lut_params", dict(size=y.num_elements, lut=pack(lut)),
                   [x.index, y.index], source="ek_rsqrt.c", inplace=(x.index,))
