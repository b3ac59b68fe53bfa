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

    ``real == multiplier * 2**(shift - 31)``, up to rounding.
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if q_fixed > 2**31 - 1:
        raise UnsupportedOpError(f"multiplier {real} does not fit Q0.31")
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
