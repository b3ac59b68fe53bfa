"""Feature-domain vocal tract length perturbation: warp the mel channel axis of a batch.

:func:`edgekit.data.augment.vtlp_warp` warps a waveform's spectrum before the
front end, once per pre-computed copy.  This module does the same warp on the
features, so it can be drawn afresh for every example of every batch
(``[train] augment = { freq_warp = w }``): the frequency axis goes through the
piecewise-linear warp of Jaitly & Hinton (2013) with a factor ``alpha``
(``f -> alpha * f`` up to a knee, then the straight line to the top band
edge), and each output channel takes the value of the input at the channel
position of its warped-back centre frequency, linearly interpolated between
the two nearest channels (held at the edge channel beyond the ends).

The channels' centre frequencies come from the feature configuration
(:func:`channel_centres_hz`); without them the channel index itself is the
frequency (a plain stretch of the channel axis).
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError

__all__ = ["vtlp_frequency", "mel_centres_hz", "channel_centres_hz", "warp_source_channels",
           "warp_channels"]


def vtlp_frequency(f, alpha: float, top: float, f_hi: float = 0.85, *,
                   inverse: bool = False) -> np.ndarray:
    """The piecewise-linear VTLP warp of Jaitly & Hinton (2013), or its inverse.

    A frequency ``f`` goes to ``alpha * f`` up to the knee ``k = f_hi * top *
    min(alpha, 1) / alpha``, and above it along the straight line from
    ``(k, alpha * k)`` to ``(top, top)``, so the band ``[0, top]`` stays
    full.  The waveform warp (:func:`edgekit.data.augment.vtlp_warp`) and the
    channel warp (:func:`warp_source_channels`) both use it.

    Parameters
    ----------
    f : array_like
        Frequencies in ``[0, top]`` (any unit: Hz, FFT bins).
    alpha : float
        Warp factor, > 0.
    top : float
        The band's top frequency, a fixed point of the warp.
    f_hi : float, optional
        The knee for ``alpha = 1`` as a fraction of ``top``.
    inverse : bool, optional
        Give ``warp^-1(f)`` instead of ``warp(f)``.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``f``.
    """
    f = np.asarray(f, dtype=np.float64)
    knee = f_hi * top * min(alpha, 1.0) / alpha
    if inverse:
        return np.where(f <= alpha * knee, f / alpha,
                        knee + (f - alpha * knee) * (top - knee) / (top - alpha * knee))
    upper = top - (top - f_hi * top * min(alpha, 1.0)) / (top - knee) * (top - f)
    return np.where(f <= knee, alpha * f, upper)


def mel_centres_hz(lower_hz: float, upper_hz: float, num_channels: int) -> np.ndarray:
    """Centre frequencies of the front end's mel channels (TFLM filterbank convention).

    Channel ``k`` (0-based) peaks at mel ``m_lo + (k + 1) * (m_hi - m_lo) /
    (num_channels + 1)`` on the scale ``1127 ln(1 + f / 700)``.

    Parameters
    ----------
    lower_hz, upper_hz : float
        Band edges, Hz.
    num_channels : int
        Number of channels.

    Returns
    -------
    numpy.ndarray
        float64 ``(num_channels,)``, Hz, increasing.
    """
    lo, hi = (1127.0 * np.log1p(f / 700.0) for f in (lower_hz, upper_hz))
    mel = lo + (hi - lo) * np.arange(1, num_channels + 1) / (num_channels + 1)
    return 700.0 * np.expm1(mel / 1127.0)


def channel_centres_hz(feature_config) -> tuple | None:
    """The centre frequency of each feature channel, or ``None`` if unknown.

    Parameters
    ----------
    feature_config : object
        A :class:`edgekit.frontend.features.FrontendFeatures` (its front end's
        ``lower_band_hz``, ``upper_band_hz``, ``num_channels``) or a log-mel
        :class:`edgekit.data.features.FeatureConfig` (``fmin``, ``fmax``,
        ``n_mels``; band centres equally spaced in mels between the edges).

    Returns
    -------
    tuple of float or None
    """
    fe = getattr(feature_config, "frontend", None)
    if fe is not None and hasattr(fe, "lower_band_hz"):
        return tuple(float(f) for f in mel_centres_hz(fe.lower_band_hz, fe.upper_band_hz,
                                                      fe.num_channels))
    if all(hasattr(feature_config, k) for k in ("fmin", "fmax", "n_mels")):
        from edgekit.data.features import hz_to_mel, mel_to_hz  # noqa: PLC0415

        scale = getattr(feature_config, "mel_scale", "htk")
        n = int(feature_config.n_mels)
        lo, hi = (float(hz_to_mel(f, scale)) for f in (feature_config.fmin, feature_config.fmax))
        mel = np.linspace(lo, hi, n + 2)[1:-1]
        return tuple(float(f) for f in np.atleast_1d(mel_to_hz(mel, scale)))
    return None


def warp_source_channels(alpha: float, centres_hz, f_hi: float = 0.85) -> np.ndarray:
    """For each output channel, the (fractional) input channel it takes its value from.

    The warp maps a frequency ``f`` to ``alpha * f`` below the knee
    ``k = f_hi * F * min(alpha, 1) / alpha`` and, above it, along the straight
    line from ``(k, alpha * k)`` to ``(F, F)``, where ``F`` is the highest
    centre frequency (so the band stays full).  Output channel ``c`` takes
    the input at frequency ``warp^-1(centres_hz[c])``, converted to a
    channel position by linear interpolation in ``centres_hz``.

    Parameters
    ----------
    alpha : float
        Warp factor, > 0; above 1 moves the spectrum up (a shorter vocal tract).
    centres_hz : array_like
        Increasing centre frequencies of the channels.
    f_hi : float, optional
        The knee for ``alpha = 1`` as a fraction of ``F``, in (0, 1).

    Returns
    -------
    numpy.ndarray
        float64 ``(channels,)`` in ``[0, channels - 1]``.
    """
    if not alpha > 0:
        raise ConfigError(f"frequency warp factor must be > 0 (got {alpha!r})")
    if not 0 < f_hi < 1:
        raise ConfigError(f"f_hi must be in (0, 1) (got {f_hi!r})")
    c = np.asarray(centres_hz, dtype=np.float64)
    src = vtlp_frequency(c, alpha, c[-1], f_hi, inverse=True)
    return np.interp(src, c, np.arange(c.size, dtype=np.float64))


def warp_channels(x: np.ndarray, alphas, centres_hz=None, f_hi: float = 0.85) -> np.ndarray:
    """Warp the channel axis of each example of a batch by its own factor.

    Parameters
    ----------
    x : numpy.ndarray
        ``(B, frames, channels)``; not modified.
    alphas : array_like
        ``(B,)`` warp factors (see :func:`warp_source_channels`); 1 leaves
        an example unchanged.
    centres_hz : array_like, optional
        The channels' centre frequencies (:func:`channel_centres_hz`);
        default: the channel index (a plain stretch, ``c -> c / alpha`` below
        the knee).
    f_hi : float, optional
        The knee for ``alpha = 1`` as a fraction of the top frequency.

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``x``.
    """
    x = np.asarray(x, dtype=np.float32)
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if x.ndim != 3 or alphas.size != x.shape[0]:
        raise ConfigError(f"warp_channels needs x (B, frames, channels) and B factors "
                          f"(got x {x.shape}, {alphas.size} factors)")
    chans = x.shape[2]
    if centres_hz is None:
        centres_hz = np.arange(1, chans + 1, dtype=np.float64)
    if len(centres_hz) != chans:
        raise ConfigError(f"centres_hz must have one frequency per channel ({chans}) "
                          f"(got {len(centres_hz)})")
    src = np.stack([warp_source_channels(a, centres_hz, f_hi) for a in alphas])  # (B, C)
    lo = np.minimum(np.floor(src).astype(np.int64), chans - 2) if chans > 1 else \
        np.zeros_like(src, dtype=np.int64)
    t = (src - lo).astype(np.float32)[:, None, :]
    a = np.take_along_axis(x, lo[:, None, :], axis=2)
    b = np.take_along_axis(x, np.minimum(lo + 1, chans - 1)[:, None, :], axis=2)
    return (a * (1 - t) + b * t).astype(np.float32)
