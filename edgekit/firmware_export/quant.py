"""Offline quantization arithmetic: what TFLite kernels compute in Prepare.

The code generator does at export time what an interpreter does at start-up:
turn float scales into (Q0.31 multiplier, power-of-two shift) pairs and the
fused activation into an integer clamp range.  Rounding follows TFLite
(``std::round``: half away from zero) and the float/double precision of each
step follows TFLite's kernels, since a one-ULP difference can flip a
multiplier's last bit.

References
----------
TensorFlow Lite 8-bit quantization specification,
https://ai.google.dev/edge/litert/models/quantization_spec
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.errors import UnsupportedOpError


def tflite_round(x: float) -> int:
    """Round half away from zero, like C's ``round``."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Split ``real`` into a Q0.31 multiplier in [2^30, 2^31) and a shift.

    ``real == multiplier * 2**(shift - 31)``, up to rounding.  Like TFLite,
    a multiplier below 2^-32 is 0.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        ``real`` is not finite, or it needs a left shift beyond 31 bits (the
        kernels' ``x << shift`` would be undefined): the model's scales are
        implausible.
    """
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise UnsupportedOpError(f"requantization multiplier {real} is not finite: "
                                 "the model's quantization scales are unusable")
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if q_fixed > 2**31 - 1:
        raise UnsupportedOpError(f"multiplier {real} does not fit Q0.31")
    if shift > 31:
        raise UnsupportedOpError(
            f"requantization multiplier {real:g} needs a left shift of {shift} bits (at most "
            "31): the ratio of the model's quantization scales is implausible")
    return int(q_fixed), int(shift)


def f32(x) -> float:
    """A value rounded to float32 and back, as C's ``float`` holds it."""
    return float(np.float32(x))


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """Integer clamp range of a fused activation (TFLite's
    CalculateActivationRangeQuantized: ``zp + round(f / scale)`` in float)."""
    def q(v: float) -> int:
        return zero_point + tflite_round(f32(np.float32(v) / np.float32(scale)))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise UnsupportedOpError(f"fused activation {activation} is not supported on int8")


def per_channel_multipliers(input_scale: float, filter_scales: np.ndarray,
                            output_scale: float, channels: int) -> tuple[list[int], list[int]]:
    """Multipliers of a conv-like op: ``in_s * w_s[c] / out_s`` in double."""
    fs = np.asarray(filter_scales, dtype=np.float32)
    if len(fs) == 1:
        fs = np.repeat(fs, channels)
    if len(fs) != channels:
        raise UnsupportedOpError(f"{len(fs)} filter scales for {channels} output channels")
    mults, shifts = [], []
    for s in fs:
        m, sh = quantize_multiplier(f32(input_scale) * float(s) / f32(output_scale))
        mults.append(m)
        shifts.append(sh)
    return mults, shifts


INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x: int) -> int:
    """``x`` wrapped to int32 (two's complement), as a C cast does."""
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    """Saturating rounding doubling high multiply (``ek_srdhm``)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    num = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(num) >> 31               # C division truncates toward zero
    return q if num >= 0 else -q


def rdbpot(x: int, exponent: int) -> int:
    """Rounding divide by a power of two, ties away from zero (``ek_rdbpot``)."""
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """``x * multiplier * 2**(shift - 31)`` as ``ek_mbqm`` (TFLite's
    MultiplyByQuantizedMultiplier) computes it.

    Parameters
    ----------
    x : int
        An int32 value.
    multiplier : int
        Q0.31 multiplier.
    shift : int
        Power-of-two exponent (left when > 0).

    Returns
    -------
    int
    """
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap32(x << left), multiplier), right)


def mbqm_array(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """:func:`mbqm` over an int64 array of int32 values (the left shift wraps as in C).

    Parameters
    ----------
    x : numpy.ndarray
        int64 values within int32.
    multiplier, shift : int
        As for :func:`mbqm`.

    Returns
    -------
    numpy.ndarray
        int64 results.
    """
    x = ((np.asarray(x, np.int64) << max(shift, 0)) + (1 << 31)) % (1 << 32) - (1 << 31)
    ab = x * multiplier
    num = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    h = np.where(num >= 0, np.abs(num) >> 31, -(np.abs(num) >> 31))
    e = max(-shift, 0)
    mask = (1 << e) - 1
    return (h >> e) + ((h & mask) > (mask >> 1) + (h < 0))


def rq_x2_array(x2: np.ndarray, multiplier: int, add: int, rsh: int) -> np.ndarray | None:
    """``ek_rq_x2`` (kernels/ek_fixedpoint.h) over an int64 array.

    Parameters
    ----------
    x2 : numpy.ndarray
        The kernel's int32 argument (twice the value to requantize), as int64.
    multiplier, add, rsh : int
        The kernel's other arguments.

    Returns
    -------
    numpy.ndarray or None
        ``(h + add + (h < 0 ? -1 : 0)) >> rsh`` with ``h`` the rounding high
        product of ``x2`` and ``multiplier``; None when the argument or the
        sum is outside int32 (the C code would overflow).
    """
    x2 = np.asarray(x2, np.int64)
    h = (x2 * multiplier + (1 << 31)) >> 32
    t = h + add + np.where(h < 0, -1, 0)
    if x2.size and (np.abs(x2).max() >= 1 << 31 or np.abs(t).max() >= 1 << 31):
        return None
    return t >> rsh
