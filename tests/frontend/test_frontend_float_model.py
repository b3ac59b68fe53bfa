"""An independent float64 numpy model of the chain, as a sanity check of the C.

The model is written from the definitions (not from the fixed-point code):
Hann window, ``numpy.fft.rfft``, power spectrum, triangular mel filters
(float64 centres, equal mel spacing), square root, noise estimate
``n <- s x + (1 - s) n`` with ``max(x - n, m x)``, PCAN (when on)
``x 2^c (2^c n + offset)^-strength`` shrunk (``u^2 / 4`` below 2, ``u - 1``
above), ``2^6 ln(.)`` and the int8 mapping.

Close, not equal.  Tolerance, on speech and noise, over the values the
integer chain resolves (``LOUD``, ``MIN_AMPLITUDE``): median |difference|
<= 1 int8 step, mean < 1.5, 90 % within 2 steps.  Measured: mean 1.0 /
99th percentile 9 steps in TFLM mode, 0.56 / 3 with the FSDD config; the
tail (a few % of values) is not explained yet -- likely channels whose
noise estimate and PCAN gain sit where the fixed-point LUT and shrink knee
are coarse.  One int8 step is
666 / (256 * 64) = 0.041 in ln units (4 % in amplitude); the fixed-point
chain differs by a few % in amplitude through the Q15 FFT (rounding in 4-5
stages at about 12-15 significant bits), the Q12 filterbank weights, the
32-bit float tables of the mel edges and the PCAN gain table (a quadratic
per octave), and near-silent channels, where the noise floor of the integer
FFT dominates, differ more: hence the 1 % allowance beyond 2 steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.frontend import FrontendConfig, HostFrontend


#: Values compared: where the float model gives >= -48, the integer chain's
#: linear value before the log is >= 25 LSB (ln 25 * 64 * 256 / 666 - 128),
#: so truncating it to an integer moves the output by < 1 int8 step.
#: Quieter channels (after noise subtraction) fall to the integer floor of
#: the PCAN output and read -128 where the float model gives -128..-49.
LOUD = -48
#: ... and where the filterbank amplitude is >= 32 of its integer units
#: (the integer square root truncates; quiet frames -- peaks of a few hundred
#: -- have amplitudes of a few units, which the integer chain rounds away).
MIN_AMPLITUDE = 32.0


def _mel(f):
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


def float_features(cfg: FrontendConfig, pcm: np.ndarray, linear: bool = False):
    """The float64 model: ``(frames, num_channels)`` int8 values (as int64).

    With ``linear``, also the filterbank amplitudes (after the square root,
    in the integer chain's units) as a second array.
    """
    n = cfg.window_size
    win = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n) + 0.5) / n)
    bins = cfg.fft_size // 2 + 1
    hz = np.arange(bins) * (cfg.sample_rate / 2) / (bins - 1)
    lo, hi = _mel(cfg.lower_band_hz), _mel(cfg.upper_band_hz)
    spacing = (hi - lo) / (cfg.num_channels + 1)
    centres = lo + spacing * np.arange(1, cfg.num_channels + 1)
    m = _mel(hz)
    tri = np.clip(1.0 - np.abs(m[None, :] - centres[:, None]) / spacing, 0.0, None)
    tri[:, (hz < cfg.lower_band_hz) | (m > hi)] = 0.0
    cb = cfg.correction_bits
    even, odd = cfg.even_smoothing, cfg.odd_smoothing
    s = np.where(np.arange(cfg.num_channels) % 2 == 0, even, odd)
    noise = np.zeros(cfg.num_channels)
    out, amplitudes = [], []
    for f in range(cfg.frames_for(pcm.size)):
        x = pcm[f * cfg.stride: f * cfg.stride + n].astype(np.float64) * win
        power = np.abs(np.fft.rfft(x, cfg.fft_size)) ** 2
        chan = 64.0 * np.sqrt(tri @ power) / cfg.fft_size
        amplitudes.append(chan)
        if cfg.noise_reduction:
            noise = s * chan + (1 - s) * noise
            chan = np.maximum(chan - np.minimum(noise, chan), cfg.min_signal_remaining * chan)
        if cfg.pcan:
            snr = chan * 2.0 ** cb * (noise * 2.0 ** cb + cfg.pcan_offset) ** -cfg.pcan_strength
            shrunk = np.where(snr < 2, snr * snr / 4, snr - 1) * 64.0
        else:                       # the log takes the (noise-reduced) amplitude itself
            shrunk = chan
        log = np.where(shrunk * 2 ** cb > 1,
                       (1 << cfg.log_scale_bits) * np.log(np.maximum(shrunk * 2 ** cb, 1)), 0)
        q = np.floor((log * cfg.output_multiplier + cfg.output_divisor // 2)
                     / cfg.output_divisor) + cfg.output_zero_point
        out.append(np.clip(q, -128, 127))
    if linear:
        return np.array(out, np.int64), np.array(amplitudes)
    return np.array(out, np.int64)


@pytest.mark.parametrize("preset", ["tflm_micro", "fsdd"])
def test_c_is_close_to_the_float_model(preset, fsdd_root):
    from edgekit.data.resample import resample
    from edgekit.data.wav import read_wav

    cfg = getattr(FrontendConfig, preset)()
    parts = []
    for path in sorted(fsdd_root.glob("*.wav"))[::300]:
        x, rate = read_wav(path)
        parts.append(resample(x, rate, cfg.sample_rate))
    speech = np.concatenate(parts) * 0.8
    noise = np.random.default_rng(0).standard_normal(cfg.sample_rate) * 0.05
    pcm = np.clip(np.round(np.concatenate([speech, noise]) * 32767), -32768,
                  32767).astype(np.int16)
    got = HostFrontend(cfg).features(pcm).astype(np.int64)
    want, amplitude = float_features(cfg, pcm, linear=True)
    assert got.shape == want.shape
    loud = (want >= LOUD) & (amplitude >= MIN_AMPLITUDE)
    assert loud.mean() > 0.2                       # enough values are compared
    diff = np.abs(got - want)[loud]
    # measured: tflm_micro mean 1.0, median 1, 90 % 2 (99 % 9); fsdd mean 0.56
    assert np.median(diff) <= 1 and np.mean(diff) < 1.5, (np.median(diff), np.mean(diff))
    assert np.quantile(diff, 0.9) <= 2, np.quantile(diff, 0.9)
    # the comparison has teeth: the same model with its channels one off
    # (a misplaced filterbank) is much further away
    shifted = np.abs(got[:, 1:] - want[:, :-1])[loud[:, :-1]]
    assert np.mean(shifted) > 3 * np.mean(diff)
