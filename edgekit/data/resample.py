"""Band-limited sample-rate conversion and clip-length fixing (numpy only).

:func:`resample` is a polyphase FIR resampler by a rational factor
``up / down`` (the rates divided by their greatest common divisor).  It
computes exactly what :func:`scipy.signal.resample_poly` computes with its
defaults -- a ``2 * 10 * max(up, down) + 1``-tap low-pass, cutoff at the
lower of the two Nyquist frequencies, Kaiser window with ``beta = 5``,
zero-phase (centred) and zero-padded at both ends -- so that
``len(out) == ceil(len(x) * up / down)``.  SciPy is not a run-time
dependency of edgekit; the test suite compares the two.

:func:`fix_length` cuts a clip, or zero-pads it at the end, to a fixed number
of samples (Speech Commands clips to 1 s, ESC-50 clips to 5 s) *before* the
features are computed, so that peak normalisation only sees the kept audio.
:func:`read_wav_at` and :func:`load_clip` read a dataset's WAV files at its
feature sample rate (and length).

References
----------
.. [1] R. E. Crochiere and L. R. Rabiner, *Multirate Digital Signal
   Processing*, Prentice-Hall, 1983 (polyphase interpolation/decimation).
.. [2] SciPy, ``scipy.signal.resample_poly``,
   https://docs.scipy.org/doc/scipy/reference/generated/scipy.signal.resample_poly.html
"""

from __future__ import annotations

import functools
import math

import numpy as np

from edgekit.data.wav import read_wav
from edgekit.errors import DataError

__all__ = ["resample", "fix_length", "read_wav_at", "load_clip"]

_KAISER_BETA = 5.0
_HALF_LEN_PER_RATE = 10   # taps on each side per unit of max(up, down), as in SciPy
_CHUNK = 8192             # output samples computed per vectorised block


def _positive_rate(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DataError(f"{name} must be a positive integer in Hz (got {value!r})")
    return int(value)


@functools.lru_cache(maxsize=8)
def _filter(up: int, down: int) -> np.ndarray:
    """Windowed-sinc low-pass (cutoff ``1 / max(up, down)`` of Nyquist), gain ``up``."""
    max_rate = max(up, down)
    half_len = _HALF_LEN_PER_RATE * max_rate
    m = np.arange(2 * half_len + 1, dtype=np.float64) - half_len
    h = np.sinc(m / max_rate) / max_rate * np.kaiser(2 * half_len + 1, _KAISER_BETA)
    h = h / h.sum() * up
    h.setflags(write=False)
    return h


def resample(samples: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono clip from ``orig_rate`` to ``target_rate`` Hz.

    Parameters
    ----------
    samples : numpy.ndarray
        1-D mono samples.
    orig_rate : int
        Sample rate of ``samples`` in Hz.
    target_rate : int
        Wanted sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        float32 samples, ``ceil(len(samples) * target_rate / orig_rate)``
        of them (a copy even when the rates are equal).  Not clipped: the
        low-pass can overshoot ``[-1, 1]`` slightly near full-scale steps.

    Raises
    ------
    edgekit.errors.DataError
        If a rate is not a positive integer or ``samples`` is not a
        non-empty 1-D array.

    Notes
    -----
    Output sample ``m`` is ``sum_n x[n] * h[half_len + m * down - n * up]``
    over the ``n`` for which the filter index lies in ``[0, 2 * half_len]``
    (the input is taken as zero outside the clip), where ``h`` is the
    filter described in the module docs.
    """
    orig_rate = _positive_rate(orig_rate, "orig_rate")
    target_rate = _positive_rate(target_rate, "target_rate")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise DataError(f"samples must be a non-empty 1-D array (got shape {x.shape})")
    g = math.gcd(orig_rate, target_rate)
    up, down = target_rate // g, orig_rate // g
    if up == down == 1:
        return x.astype(np.float32)
    h = _filter(up, down)
    half_len = (len(h) - 1) // 2
    n_in = len(x)
    n_out = -(-n_in * up // down)
    taps = 2 * half_len // up + 1
    j = np.arange(taps)
    out = np.empty(n_out, dtype=np.float64)
    for start in range(0, n_out, _CHUNK):
        t = np.arange(start, min(start + _CHUNK, n_out), dtype=np.int64) * down + half_len
        n_hi = t // up
        n = n_hi[:, None] - j[None, :]                  # input index of each tap
        hidx = (t - n_hi * up)[:, None] + j[None, :] * up
        valid = (n >= 0) & (n < n_in) & (hidx <= 2 * half_len)
        w = np.where(valid, h[np.minimum(hidx, 2 * half_len)], 0.0)
        out[start : start + len(t)] = (w * x[np.clip(n, 0, n_in - 1)]).sum(axis=1)
    return out.astype(np.float32)


def fix_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut a clip, or zero-pad it at the end, to exactly ``length`` samples.

    Parameters
    ----------
    samples : numpy.ndarray
        1-D samples.
    length : int
        Wanted number of samples (> 0).

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(length,)``: ``samples[:length]`` followed by
        ``length - len(samples)`` zeros when the clip is shorter.

    Raises
    ------
    edgekit.errors.DataError
        If ``length`` is not a positive integer or ``samples`` is not 1-D.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length <= 0:
        raise DataError(f"length must be a positive integer (got {length!r})")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise DataError(f"samples must be a 1-D mono array (got shape {x.shape})")
    out = np.zeros(int(length), dtype=np.float32)
    n = min(len(x), int(length))
    out[:n] = x[:n]
    return out


def read_wav_at(path, rate: int, resample_ok: bool = True) -> np.ndarray:
    """Read a WAV file as float samples at ``rate`` Hz.

    Parameters
    ----------
    path : str or pathlib.Path
    rate : int
        The sample rate wanted (a dataset's feature sample rate).
    resample_ok : bool, optional
        Convert a file at another rate with :func:`resample` (default);
        if False, such a file is an error.

    Returns
    -------
    numpy.ndarray
        float samples in [-1, 1] (see :func:`edgekit.data.wav.read_wav`).

    Raises
    ------
    edgekit.errors.DataError
        On a corrupt WAV, or (``resample_ok=False``) a file at another rate;
        the message names the file and both rates.
    """
    samples, file_rate = read_wav(path)
    if file_rate != rate:
        if not resample_ok:
            raise DataError(f"{path}: sample rate {file_rate} Hz, but {rate} Hz is expected "
                            "(load with resample=True to convert)")
        samples = resample(samples, file_rate, rate)
    return samples


def load_clip(path, rate: int, seconds: float, resample_ok: bool = True) -> np.ndarray:
    """:func:`read_wav_at` ``rate``, then :func:`fix_length` to ``seconds``."""
    return fix_length(read_wav_at(path, rate, resample_ok), int(round(seconds * rate)))
