"""The constant tables of the front end, computed in Python (numpy only).

Every table the C code reads is computed here and emitted as a ``const``
array by the template ``templates/frontend_tables.h.j2``:

* the Hann window in Q``window_bits`` (:func:`hann_window`);
* the FFT: twiddles of the ``fft_size / 2``-point complex FFT, its radix-4/2
  stage plan and the input permutation of the iterative form, and the
  "super twiddles" that split it into a real FFT (:func:`fft_plan`);
* the mel filterbank: per-channel start bins, weight offsets, widths and
  the Q12 weights/unweights of triangular filters (:func:`mel_filterbank`);
* the PCAN gain lookup table of the wide-dynamic function (:func:`pcan_lut`);
* the log2 correction table of the fixed-point log (:func:`log_lut`).

The formulas follow the TFLM signal library's generators (its Python
``filter_bank_ops``, ``window_op`` and the PCAN LUT wrapper; the
micro_speech front end's historical C uses 32-bit ``float``), so that with
the micro_speech parameters every table equals the constants stored in
``audio_preprocessor_int8.tflite`` -- the tests compare them.

References
----------
.. [1] TensorFlow Lite Micro, ``signal/`` library and
   ``python/tflite_micro/signal/`` (Apache-2.0), https://github.com/tensorflow/tflite-micro
.. [2] M. Borgerding, KISS FFT (fixed-point twiddles ``floor(0.5 + 32767 cos)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["hann_window", "FftPlan", "fft_plan", "MelFilterbank", "mel_filterbank",
           "freq_to_mel", "pcan_lut", "log_lut", "correction_bits", "PCAN_SNR_BITS"]

#: Fractional bits of the PCAN signal-to-noise ratio (fixed by the algorithm).
PCAN_SNR_BITS = 12
_Q15_MAX = 32767


def hann_window(window_size: int, window_bits: int) -> np.ndarray:
    """Periodic-offset Hann window ``0.5 - 0.5 cos(2 pi (n + 0.5) / N)`` in Q``window_bits``.

    Parameters
    ----------
    window_size : int
        Window length ``N`` in samples.
    window_bits : int
        Fractional bits of the weights (the C shifts products right by it).

    Returns
    -------
    numpy.ndarray
        int16, shape ``(N,)``, rounded half to even (``numpy.round``).
    """
    n = np.arange(window_size, dtype=np.float64)
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi / window_size * (n + 0.5))
    return np.round(w * (1 << window_bits)).astype(np.int16)


def _q15_cexp(phase: np.ndarray) -> np.ndarray:
    """``(round-half-up 32767 cos, 32767 sin)`` as int16 pairs, shape ``(n, 2)``."""
    re = np.floor(0.5 + _Q15_MAX * np.cos(phase))
    im = np.floor(0.5 + _Q15_MAX * np.sin(phase))
    return np.stack([re, im], axis=1).astype(np.int16)


@dataclass(frozen=True)
class FftPlan:
    """The fixed-point real FFT of ``fft_size`` points as tables.

    Attributes
    ----------
    half : int
        ``fft_size // 2``: length of the complex FFT.
    stages : list of (radix, m, fstride)
        The butterfly stages in execution order (radix 4, then one radix 2
        when ``half`` is not a power of 4); each stage runs ``half / (radix
        * m)`` butterfly groups of ``m`` butterflies, twiddle step ``fstride``.
    position : numpy.ndarray
        uint16 ``(half,)``: buffer position of complex input ``c`` (the pair
        of samples ``2c, 2c + 1``) -- the mixed-radix digit reversal.
    twiddles : numpy.ndarray
        int16 ``(half, 2)``: ``exp(-2 pi i k / half)`` in Q15.
    super_twiddles : numpy.ndarray
        int16 ``(half // 2 + 1, 2)``: ``exp(-i pi (k / half + 1/2))`` in Q15.
    """

    half: int
    stages: list
    position: np.ndarray
    twiddles: np.ndarray
    super_twiddles: np.ndarray


def fft_plan(fft_size: int) -> FftPlan:
    """Tables of the radix-4/2 decimation-in-time FFT of ``fft_size // 2`` complex points.

    Parameters
    ----------
    fft_size : int
        Power of two, >= 8.

    Returns
    -------
    FftPlan
    """
    half = fft_size // 2
    factors = []          # (p, m): radix and the length of each sub-transform
    n = half
    while n > 1:
        p = 4 if n % 4 == 0 else 2
        n //= p
        factors.append((p, n))
    # input index of position sum(q_i m_i) is sum(q_i * prod(p_0..p_{i-1}))
    position = np.zeros(half, dtype=np.int64)
    pos = np.zeros(1, dtype=np.int64)
    inp = np.zeros(1, dtype=np.int64)
    stride = 1
    for p, m in factors:
        q = np.arange(p, dtype=np.int64)
        pos = (pos[:, None] + q[None, :] * m).reshape(-1)
        inp = (inp[:, None] + q[None, :] * stride).reshape(-1)
        stride *= p
    position[inp] = pos
    fstrides = []
    stride = 1
    for p, _ in factors:
        fstrides.append(stride)
        stride *= p
    stages = [(p, m, s) for (p, m), s in zip(factors, fstrides)][::-1]
    k = np.arange(half, dtype=np.float64)
    twiddles = _q15_cexp(-2.0 * math.pi * k / half)
    ks = np.arange(half // 2 + 1, dtype=np.float64)
    super_twiddles = _q15_cexp(-math.pi * (ks / half + 0.5))
    return FftPlan(half, stages, position.astype(np.uint16), twiddles, super_twiddles)


def freq_to_mel(freq) -> np.float32:
    """``1127 ln(1 + f / 700)`` in 32-bit float arithmetic (as the C original)."""
    f = np.float32(freq)
    return np.float32(np.float32(1127.0) * np.log1p(f / np.float32(700.0)))


@dataclass(frozen=True)
class MelFilterbank:
    """Triangular mel filterbank in the "weight / unweight" form.

    Channel ``c`` (of ``num_channels + 1``; channel 0 only collects the
    unweights of the first real channel) sums ``widths[c]`` bins from
    ``freq_starts[c]`` with ``weights[weight_starts[c]:]``; the unweights
    (``4096 - weight``) of the same bins go to channel ``c + 1``.

    Attributes
    ----------
    start_bin, end_bin : int
        FFT bins ``[start_bin, end_bin)`` whose energy is used; the others are zero.
    weights, unweights : numpy.ndarray
        int16, Q``weight_bits``.
    freq_starts, weight_starts, widths : numpy.ndarray
        int16, shape ``(num_channels + 1,)``.
    """

    start_bin: int
    end_bin: int
    weights: np.ndarray
    unweights: np.ndarray
    freq_starts: np.ndarray
    weight_starts: np.ndarray
    widths: np.ndarray


def mel_filterbank(fft_size: int, sample_rate: int, num_channels: int, lower_hz: float,
                   upper_hz: float, weight_bits: int = 12, alignment: int = 4,
                   block_size: int = 4) -> MelFilterbank:
    """The mel filterbank tables (HTK-style bin spacing, 32-bit float weights).

    Parameters
    ----------
    fft_size : int
        FFT length; the spectrum has ``fft_size // 2 + 1`` bins.
    sample_rate : int
        In Hz.
    num_channels : int
        Number of mel channels.
    lower_hz, upper_hz : float
        Band edges in Hz.
    weight_bits : int
        Fractional bits of the weights.
    alignment : int
        Byte alignment of each channel's first bin (rounded down to
        ``alignment / 2`` bins); ``block_size`` pads widths to a multiple.
    block_size : int
        Channel widths are padded to a multiple of it.

    Returns
    -------
    MelFilterbank
    """
    spectrum_size = fft_size // 2 + 1
    index_alignment = 1 if alignment < 2 else alignment // 2
    n = num_channels + 1
    mel_lower, mel_upper = freq_to_mel(lower_hz), freq_to_mel(upper_hz)
    spacing = np.float32((mel_upper - mel_lower) / np.float32(n))
    centers = (mel_lower + spacing * np.arange(1, n + 1, dtype=np.float32)).astype(np.float32)
    hz_per_bin = (sample_rate / 2) / (spectrum_size - 1)
    start_bin = int(round(1 + lower_hz / hz_per_bin))

    freq_starts = np.zeros(n, np.int64)
    weight_starts = np.zeros(n, np.int64)
    widths = np.zeros(n, np.int64)
    actual_starts = np.zeros(n, np.int64)
    actual_widths = np.zeros(n, np.int64)
    chan_start, weight_index, zeros_added = start_bin, 0, False
    for c in range(n):
        f = chan_start
        while freq_to_mel(f * hz_per_bin) <= centers[c]:
            f += 1
        width = f - chan_start
        actual_starts[c], actual_widths[c] = chan_start, width
        if width == 0:            # an empty channel reads one block of zero weights at 0
            freq_starts[c], weight_starts[c], widths[c] = 0, 0, block_size
            if not zeros_added:
                zeros_added = True
                weight_starts[:c] += block_size
                weight_index += block_size
        else:
            aligned = (chan_start // index_alignment) * index_alignment
            padded = ((chan_start - aligned + width - 1) // block_size + 1) * block_size
            freq_starts[c], weight_starts[c], widths[c] = aligned, weight_index, padded
            weight_index += padded
        chan_start = f

    weights = np.zeros(weight_index, np.int16)
    unweights = np.zeros(weight_index, np.int16)
    end_bin = 0
    scale = 1 << weight_bits
    for c in range(n):
        f = int(actual_starts[c])
        offset = f - int(freq_starts[c])
        below = freq_to_mel(lower_hz) if c == 0 else centers[c - 1]
        den = np.float32(centers[c] - below)
        for j in range(int(actual_widths[c])):
            num = np.float32(centers[c] - freq_to_mel(f * hz_per_bin))
            w = np.float32(num / den)
            k = int(weight_starts[c]) + offset + j
            weights[k] = int(w * np.float32(scale))
            unweights[k] = int((np.float32(1) - w) * np.float32(scale))
            f += 1
        end_bin = max(end_bin, f)
    return MelFilterbank(start_bin, end_bin, weights, unweights, freq_starts.astype(np.int16),
                         weight_starts.astype(np.int16), widths.astype(np.int16))


def _pcan_gain(strength: float, offset: float, gain_bits: int, input_bits: int, x: int) -> int:
    """One gain ``2^gain_bits (x / 2^input_bits + offset)^-strength`` (float32, saturated)."""
    xf = np.float32(np.float32(x) / np.float32(1 << input_bits))
    g = np.float32(np.float32(1 << gain_bits)
                   * np.float32(np.power(np.float32(xf + np.float32(offset)),
                                         np.float32(-strength), dtype=np.float32)))
    if g > 32767:
        return 32767
    return int(np.float32(g + np.float32(0.5)))


def pcan_lut(strength: float, offset: float, gain_bits: int, input_bits: int) -> np.ndarray:
    """Piecewise-quadratic table of the PCAN gain over the 32 octaves of a uint32.

    Entry ``x`` for ``x <= 2``; then for each octave ``[2^(i-1), 2^i)`` four
    entries ``y0, a1, a2, 0`` at ``4 i - 6`` such that the gain at fraction
    ``t`` of the octave is ``y0 + a1 t + a2 t^2``.

    Parameters
    ----------
    strength, offset : float
        PCAN exponent and offset (micro_speech: 0.95, 80).
    gain_bits : int
        Fractional bits of the gain.
    input_bits : int
        Fractional bits of the noise estimate the gain is looked up with.

    Returns
    -------
    numpy.ndarray
        int16, shape ``(125,)``.
    """
    bits = 32
    lut = np.zeros(4 * bits - 3, np.int64)
    lut[0] = _pcan_gain(strength, offset, gain_bits, input_bits, 0)
    lut[1] = _pcan_gain(strength, offset, gain_bits, input_bits, 1)
    for interval in range(2, bits + 1):
        x0 = 1 << (interval - 1)
        x1 = x0 + (x0 >> 1)
        x2 = x0 + (x0 - 1) if interval == bits else 2 * x0
        y0, y1, y2 = (_pcan_gain(strength, offset, gain_bits, input_bits, x)
                      for x in (x0, x1, x2))
        a1 = 4 * (y1 - y0) - (y2 - y0)
        a2 = (y2 - y0) - a1
        base = 4 * interval - 6
        if base + 2 < len(lut):
            lut[base:base + 3] = (y0, a1, a2)
        if base + 3 < len(lut):
            lut[base + 3] = 0
    return lut.astype(np.int16)


def log_lut(segments_log2: int = 7, scale_log2: int = 16) -> np.ndarray:
    """Correction ``log2(1 + t) - t`` at ``t = i / 2^segments_log2`` in Q``scale_log2``.

    Returns
    -------
    numpy.ndarray
        uint16, ``2^segments_log2 + 2`` entries (the last two are 0: the
        exact end point and padding).
    """
    n = 1 << segments_log2
    t = np.arange(n + 1, dtype=np.float64) / n
    v = np.round((np.log2(1.0 + t) - t) * (1 << scale_log2))
    return np.concatenate([v, [0.0]]).astype(np.uint16)


def correction_bits(fft_size: int, weight_bits: int = 12) -> int:
    """Bits the filterbank output is short of: ``log2(fft_size) - weight_bits // 2``."""
    return int(fft_size).bit_length() - 1 - weight_bits // 2
