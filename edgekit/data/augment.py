"""Training-data augmentation: waveform (through the front end) and feature level.

A recipe switches it on with ``[train] augment``::

    [train]
    augment = { copies = 4, shift_ms = 100, gain_db = 6, speed = 0.15,
                noise = ["white", "pink", "brown", "mix"], snr_db = [15, 35],
                time_masks = 1, time_mask = 4, freq_masks = 1, freq_mask = 4 }

``augment = false`` (or ``{}``) is off; ``augment = true`` is the historic
feature-level setting (``max_shift = 6, freq_masks = 1, freq_mask = 4``).

Waveform level (``copies > 0``)
-------------------------------
Each training clip gets ``copies`` augmented versions, computed once before
training through the same feature computation as the clean clips (for the
fixed-point front end, :meth:`edgekit.frontend.features.FrontendFeatures.compute`:
the C that runs on the device), so the model only ever sees device features.
In every epoch each example is drawn, independently, from its clean features
or one of its copies (uniformly).  A copy applies, in order: speed
perturbation (resampling: tempo and pitch by ``1 +- speed``), tempo
perturbation (WSOLA time stretch, pitch kept, by ``1 +- tempo``), a time
shift of up to ``shift_ms`` either way (a delay pads zeros at the start, an
advance cuts the start), a gain of ``+- gain_db`` dB, vocal tract length
perturbation (VTLP: the spectrum's frequency axis warped by a factor in
``[1 - vtlp, 1 + vtlp]``, see :func:`vtlp_warp`), then one additive noise
of the ``noise`` kinds at an SNR drawn from ``snr_db`` over the whole input
window: ``"white"``, ``"pink"`` (power ~ 1/f), ``"brown"`` (power ~ 1/f^2),
or ``"mix"`` (another training clip, at a random offset).  ``noise_prob`` is
the chance a copy gets noise.

Feature level (every batch of every epoch)
-----------------------------------------
A frequency warp of the channel axis by a factor uniform in
``[1 - freq_warp, 1 + freq_warp]``, drawn per example (feature-domain VTLP,
:mod:`edgekit.data.freq_warp`), a time shift of up to ``max_shift`` frames
(vacated frames hold the example's minimum, its silence level), ``time_masks`` SpecAugment time masks
of up to ``time_mask`` frames and ``freq_masks`` frequency masks of up to
``freq_mask`` channels (masked values set to the example's minimum), and
mixup with a ``Beta(mixup, mixup)`` weight (labels mixed the same way; the
loss becomes categorical cross-entropy on the soft labels).

All randomness comes from ``numpy.random.default_rng`` seeded by the
training seed and the clip, copy, epoch and batch indices: a recipe gives the
same augmented data on every run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from edgekit.data.freq_warp import vtlp_frequency
from edgekit.errors import ConfigError

__all__ = ["AugmentConfig", "NOISE_KINDS", "parse_augment", "apply_gain", "time_shift",
           "speed_perturb", "tempo_perturb", "vtlp_warp", "colored_noise", "add_noise",
           "augment_clip", "augmented_copies", "shift_frames", "mask_features", "mixup_batch",
           "variant_index"]

#: The additive noises a recipe may name.
NOISE_KINDS = ("white", "pink", "brown", "mix")
#: Spectral exponent of each coloured noise: power ~ f ** -exponent.
_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (see the module docs); the default is no augmentation.

    Attributes
    ----------
    copies : int
        Augmented waveform copies per training clip (0: no waveform augmentation).
    shift_ms : float
        Largest waveform time shift, either way, in milliseconds.
    gain_db : float
        Largest gain change, either way, in dB.
    speed : float
        Speed perturbation: factor uniform in ``[1 - speed, 1 + speed]``, in [0, 0.5).
    tempo : float
        Tempo perturbation (pitch kept): factor uniform in ``[1 - tempo, 1 + tempo]``, in [0, 0.5).
    vtlp : float
        Vocal tract length perturbation: frequency warp factor uniform in
        ``[1 - vtlp, 1 + vtlp]``, in [0, 0.3).
    noise : tuple of str
        Kinds of additive noise (:data:`NOISE_KINDS`), one drawn per copy.
    snr_db : tuple of float
        ``(low, high)``: the signal-to-noise ratio range, dB.
    noise_prob : float
        Probability that a copy gets noise, in [0, 1].
    freq_warp : float
        Feature-domain VTLP: each example of each batch has its channel axis
        warped by a factor uniform in ``[1 - freq_warp, 1 + freq_warp]``, in [0, 0.3).
    max_shift : int
        Largest feature time shift in frames.
    time_masks, time_mask : int
        Number and largest width (frames) of the SpecAugment time masks.
    freq_masks, freq_mask : int
        Number and largest width (channels) of the frequency masks.
    mixup : float
        Mixup Beta parameter alpha (0: off).
    """

    copies: int = 0
    shift_ms: float = 0.0
    gain_db: float = 0.0
    speed: float = 0.0
    tempo: float = 0.0
    vtlp: float = 0.0
    noise: tuple = ()
    snr_db: tuple = (10.0, 30.0)
    noise_prob: float = 1.0
    freq_warp: float = 0.0
    max_shift: int = 0
    time_masks: int = 0
    time_mask: int = 0
    freq_masks: int = 0
    freq_mask: int = 0
    mixup: float = 0.0

    @property
    def waveform(self) -> bool:
        """True if augmented waveform copies are made (``copies > 0``)."""
        return self.copies > 0

    @property
    def features(self) -> bool:
        """True if any feature-level augmentation (warp, shift, masks, mixup) is on."""
        return bool(self.freq_warp or self.max_shift or (self.time_masks and self.time_mask)
                    or (self.freq_masks and self.freq_mask) or self.mixup)

    @property
    def enabled(self) -> bool:
        """True if anything is augmented."""
        return self.waveform or self.features


#: ``augment = true``: the feature-level setting of earlier versions.
LEGACY = AugmentConfig(max_shift=6, freq_masks=1, freq_mask=4)
_INT_KEYS = ("copies", "max_shift", "time_masks", "time_mask", "freq_masks", "freq_mask")
_FLOAT_KEYS = ("shift_ms", "gain_db", "speed", "tempo", "vtlp", "noise_prob", "mixup",
               "freq_warp")


def _number(key, value, integer: bool):
    ok = (isinstance(value, (int, np.integer)) if integer
          else isinstance(value, (int, float, np.integer, np.floating)))
    if isinstance(value, bool) or not ok:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"augment.{key} must be {kind} >= 0 (got {value!r})")
    if not value >= 0:
        raise ConfigError(f"augment.{key} must be >= 0 (got {value!r})")
    return int(value) if integer else float(value)


def parse_augment(value) -> AugmentConfig:
    """Validate a recipe's ``[train] augment`` value.

    Parameters
    ----------
    value : bool, dict or AugmentConfig
        ``False`` / ``None`` / ``{}``: off; ``True``: the historic
        feature-level setting; a table of :class:`AugmentConfig` fields.

    Returns
    -------
    AugmentConfig

    Raises
    ------
    ConfigError
        For an unknown key or a bad value; the message repeats it.
    """
    if isinstance(value, AugmentConfig):
        return value
    if value is None or value is False:
        return AugmentConfig()
    if value is True:
        return LEGACY
    if not isinstance(value, dict):
        raise ConfigError(f"augment must be true, false or a table of settings (got {value!r})")
    fields = [f.name for f in dataclasses.fields(AugmentConfig)]
    extra = sorted(set(value) - set(fields))
    if extra:
        raise ConfigError(f"unknown augment key(s) {', '.join(extra)} (got "
                          f"{', '.join(f'{k} = {value[k]!r}' for k in extra)}); "
                          f"allowed: {', '.join(fields)}")
    kw = {}
    for key in _INT_KEYS:
        if key in value:
            kw[key] = _number(key, value[key], True)
    for key in _FLOAT_KEYS:
        if key in value:
            kw[key] = _number(key, value[key], False)
    for key in ("speed", "tempo"):
        if kw.get(key, 0.0) >= 0.5:
            raise ConfigError(f"augment.{key} must be in [0, 0.5) (got {value[key]!r})")
    for key in ("vtlp", "freq_warp"):
        if kw.get(key, 0.0) >= 0.3:
            raise ConfigError(f"augment.{key} must be in [0, 0.3) (got {value[key]!r})")
    if kw.get("noise_prob", 0.0) > 1:
        raise ConfigError(f"augment.noise_prob must be in [0, 1] (got {value['noise_prob']!r})")
    if "noise" in value:
        noise = value["noise"]
        if isinstance(noise, str):
            noise = [noise]
        if not isinstance(noise, (list, tuple)) or any(n not in NOISE_KINDS for n in noise):
            raise ConfigError(f"augment.noise must be a list of {', '.join(NOISE_KINDS)} "
                              f"(got {value['noise']!r})")
        kw["noise"] = tuple(noise)
    if "snr_db" in value:
        snr = value["snr_db"]
        if (isinstance(snr, (int, float)) and not isinstance(snr, bool)):
            snr = [snr, snr]
        if (not isinstance(snr, (list, tuple)) or len(snr) != 2
                or any(isinstance(s, bool) or not isinstance(s, (int, float)) for s in snr)
                or snr[0] > snr[1]):
            raise ConfigError(f"augment.snr_db must be a number or [low, high] with low <= high "
                              f"(got {value['snr_db']!r})")
        kw["snr_db"] = (float(snr[0]), float(snr[1]))
    cfg = AugmentConfig(**kw)
    if cfg.noise and not cfg.copies:
        raise ConfigError(f"augment.noise needs copies > 0: noise is added to waveform copies "
                          f"(got noise = {list(cfg.noise)!r}, copies = {cfg.copies})")
    wave = {k: getattr(cfg, k) for k in ("shift_ms", "gain_db", "speed", "tempo", "vtlp")
            if getattr(cfg, k)}
    if wave and not cfg.copies:
        raise ConfigError(f"waveform augmentation {wave} needs copies > 0 (got copies = 0)")
    return cfg


# -- waveform ------------------------------------------------------------------------------------

def apply_gain(x: np.ndarray, db: float) -> np.ndarray:
    """``x`` times ``10 ** (db / 20)`` (float32)."""
    return (np.asarray(x, dtype=np.float32) * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def time_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """Delay ``x`` by ``shift`` samples (zeros in front), or advance it (cut the start) if negative.

    The length grows by a delay and shrinks by an advance (never below 1 sample).
    """
    x = np.asarray(x, dtype=np.float32)
    if shift >= 0:
        return np.concatenate([np.zeros(int(shift), np.float32), x])
    return x[min(-int(shift), x.size - 1):].copy()


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (tempo and pitch): FFT resampling to ``len / factor`` samples."""
    from scipy.signal import resample  # noqa: PLC0415

    x = np.asarray(x, dtype=np.float32)
    n = max(int(round(x.size / factor)), 1)
    if n == x.size:
        return x.copy()
    return resample(x.astype(np.float64), n).astype(np.float32)


def tempo_perturb(x: np.ndarray, factor: float, frame: int = 256, tolerance: int = 64) -> np.ndarray:
    """Play ``x`` ``factor`` times faster keeping its pitch (WSOLA time stretch).

    Hann frames of ``frame`` samples are overlap-added at half a frame in the
    output; each is taken near ``factor`` times its output position in the
    input, moved by up to ``tolerance`` samples to best continue the previous
    frame (largest cross-correlation).  The result has ``len / factor`` samples.
    """
    x = np.asarray(x, dtype=np.float64)
    n_out = max(int(round(x.size / factor)), 1)
    if abs(factor - 1.0) < 1e-9:
        return x.astype(np.float32)
    hop = frame // 2
    win = np.hanning(frame + 1)[:frame]
    pad = frame + 2 * tolerance
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad + int(frame * factor) + frame)])
    out = np.zeros(n_out + 2 * frame)
    norm = np.zeros_like(out)
    prev = None
    for m in range(n_out // hop + 2):
        ideal = pad + int(round(m * hop * factor))
        if prev is None:
            pos = ideal
        else:
            target = xp[prev + hop: prev + hop + frame]
            region = xp[ideal - tolerance: ideal + tolerance + frame]
            corr = np.correlate(region, target, mode="valid")
            pos = ideal - tolerance + int(np.argmax(corr))
        out[m * hop: m * hop + frame] += xp[pos: pos + frame] * win
        norm[m * hop: m * hop + frame] += win
        prev = pos
    norm[norm < 1e-3] = 1.0
    return (out / norm)[:n_out].astype(np.float32)


def vtlp_warp(x: np.ndarray, alpha: float, frame: int = 256, f_hi: float = 0.85) -> np.ndarray:
    """Warp the frequency axis of ``x`` by ``alpha`` (vocal tract length perturbation).

    The piecewise-linear warp of Jaitly & Hinton (2013): a frequency ``f``
    goes to ``alpha * f`` up to the knee ``f_hi * nyquist * min(alpha, 1) /
    alpha``, and above it on the straight line that ends at the Nyquist
    frequency, so the band stays full.  It is applied with a phase vocoder:
    a short-time Fourier transform (Hann frames of ``frame`` samples, hop
    ``frame / 4``); each output bin takes the magnitude and instantaneous
    frequency of the input at the warped-back (fractional) bin, linearly
    interpolated; the instantaneous frequency is warped and its phase
    accumulated frame to frame; frames are overlap-added with the Hann
    window and normalised by the summed squared window.

    Parameters
    ----------
    x : numpy.ndarray
        Float samples.
    alpha : float
        Warp factor, > 0: above 1 moves formants up (a shorter vocal tract).
    frame : int, optional
        STFT frame length in samples (even).
    f_hi : float, optional
        The knee's frequency for ``alpha = 1``, as a fraction of Nyquist.

    Returns
    -------
    numpy.ndarray
        float32, as long as ``x``; ``x`` itself (a copy) for ``alpha = 1``.
    """
    x = np.asarray(x, dtype=np.float32)
    if not alpha > 0:
        raise ConfigError(f"vtlp warp factor must be > 0 (got {alpha!r})")
    if abs(alpha - 1.0) < 1e-9 or x.size == 0:
        return x.copy()
    hop = frame // 4
    win = np.hanning(frame + 1)[:frame]
    n_frames = (x.size + frame) // hop + 1
    xp = np.zeros(n_frames * hop + frame)
    xp[frame:frame + x.size] = x
    idx = np.arange(n_frames)[:, None] * hop + np.arange(frame)[None, :]
    spec = np.fft.rfft(xp[idx] * win, axis=1)
    nbins = spec.shape[1]
    omega = 2.0 * np.pi * np.arange(nbins) / frame  # bin centres, rad / sample
    phase = np.angle(spec)
    dphi = np.diff(phase, axis=0, prepend=phase[:1] - omega * hop) - omega * hop
    inst = omega + (np.mod(dphi + np.pi, 2.0 * np.pi) - np.pi) / hop  # rad / sample per bin
    warped = vtlp_frequency(np.arange(nbins), alpha, nbins - 1.0, f_hi)  # last bin: Nyquist
    src = np.interp(np.arange(nbins), warped, np.arange(nbins))  # output bin -> input bin
    lo = np.minimum(src.astype(int), nbins - 2)
    t = src - lo
    mag = np.abs(spec)
    mag_out = mag[:, lo] * (1 - t) + mag[:, lo + 1] * t
    inst_src = inst[:, lo] * (1 - t) + inst[:, lo + 1] * t
    step = np.pi / (nbins - 1)  # rad / sample per bin
    inst_out = np.interp(inst_src / step, np.arange(nbins), warped) * step
    phase_out = (phase[0, np.rint(src).astype(int)] + np.cumsum(inst_out * hop, axis=0)
                 - inst_out[0] * hop)
    frames = np.fft.irfft(mag_out * np.exp(1j * phase_out), frame, axis=1) * win
    out = np.zeros_like(xp)
    norm = np.zeros_like(xp)
    np.add.at(out, idx, frames)
    np.add.at(norm, idx, np.broadcast_to(win ** 2, frames.shape))
    norm[norm < 1e-3] = 1.0
    return (out / norm)[frame:frame + x.size].astype(np.float32)


def colored_noise(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise of ``n`` samples whose power spectrum goes as ``f ** -k``.

    ``kind`` ``"white"`` (k = 0), ``"pink"`` (k = 1) or ``"brown"`` (k = 2):
    white Gaussian noise shaped by ``f ** (-k / 2)`` in the frequency domain
    (the DC bin zeroed).
    """
    if kind not in _EXPONENT:
        raise ConfigError(f"unknown noise colour {kind!r}; available: {', '.join(_EXPONENT)}")
    white = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(white)
        f = np.arange(spec.size, dtype=np.float64)
        f[0] = 1.0
        spec *= f ** (-_EXPONENT[kind] / 2.0)
        spec[0] = 0.0
        white = np.fft.irfft(spec, n)
    rms = np.sqrt(np.mean(white ** 2))
    return (white / max(rms, 1e-12)).astype(np.float32)


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``x + a * noise`` with ``a`` such that ``10 log10(P(x) / P(a * noise)) = snr_db``.

    Powers are mean squares over the whole arrays (``noise`` is cut or
    repeated to ``len(x)``).  A silent ``x`` or ``noise`` is returned unchanged.
    """
    x = np.asarray(x, dtype=np.float32)
    noise = np.resize(np.asarray(noise, dtype=np.float64), x.size)
    px, pn = float(np.mean(np.square(x, dtype=np.float64))), float(np.mean(noise ** 2))
    if px <= 0 or pn <= 0:
        return x.copy()
    a = np.sqrt(px / (pn * 10.0 ** (snr_db / 10.0)))
    return (x + a * noise).astype(np.float32)


def augment_clip(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, *,
                 sample_rate: int, length: int | None = None, pool=None,
                 place=None) -> np.ndarray:
    """One augmented copy of a clip (the waveform part of ``cfg``; see the module docs).

    Parameters
    ----------
    x : numpy.ndarray
        Float samples in [-1, 1).
    cfg : AugmentConfig
    rng : numpy.random.Generator
    sample_rate : int
        Hz (for ``shift_ms``).
    length : int, optional
        The input window in samples: the result is zero-padded to it before
        the noise, so noise covers the whole window.
    place : callable, optional
        How a clip shorter than ``length`` is padded to it (the features'
        ``place``, e.g. :meth:`edgekit.frontend.features.FrontendFeatures.place`,
        which centres it with ``align = "centre"``); default: zeros at the end.
    pool : sequence of numpy.ndarray, optional
        Clips ``"mix"`` noise is drawn from (required if ``"mix"`` is in
        ``cfg.noise``).

    Returns
    -------
    numpy.ndarray
        float32 samples, at least ``length`` long.
    """
    y = np.asarray(x, dtype=np.float32)
    if cfg.speed:
        y = speed_perturb(y, float(rng.uniform(1 - cfg.speed, 1 + cfg.speed)))
    if cfg.tempo:
        y = tempo_perturb(y, float(rng.uniform(1 - cfg.tempo, 1 + cfg.tempo)))
    if cfg.shift_ms:
        most = int(round(cfg.shift_ms * sample_rate / 1000.0))
        y = time_shift(y, int(rng.integers(-most, most + 1)))
    if cfg.gain_db:
        y = apply_gain(y, float(rng.uniform(-cfg.gain_db, cfg.gain_db)))
    if cfg.vtlp:
        y = vtlp_warp(y, float(rng.uniform(1 - cfg.vtlp, 1 + cfg.vtlp)))
    if length is not None and y.size < length:
        y = (place(y) if place is not None
             else np.concatenate([y, np.zeros(length - y.size, np.float32)]))
    if cfg.noise and rng.random() < cfg.noise_prob:
        kind = cfg.noise[int(rng.integers(len(cfg.noise)))]
        snr = float(rng.uniform(*cfg.snr_db))
        if kind == "mix":
            if not pool:
                raise ConfigError("augment noise 'mix' needs other clips to mix in (got none)")
            other = np.asarray(pool[int(rng.integers(len(pool)))], dtype=np.float32)
            other = np.roll(np.resize(other, y.size), int(rng.integers(y.size)))
            noise = other
        else:
            noise = colored_noise(y.size, kind, rng)
        y = add_noise(y, noise, snr)
    return np.clip(y, -1.0, 1.0 - 1.0 / 32768).astype(np.float32)


def augmented_copies(clips, features, cfg: AugmentConfig, seed: int) -> np.ndarray:
    """The features of ``cfg.copies`` augmented copies of every clip.

    Parameters
    ----------
    clips : sequence of numpy.ndarray
        The training clips (float samples at ``features.sample_rate``).
    features : object
        The feature computation of the clean clips (``compute(samples)`` and
        ``sample_rate``; a :class:`edgekit.frontend.features.FrontendFeatures`
        runs the device's C front end, and its ``place`` puts a short copy in
        the window as it puts the clean clips, before the noise is added).
    cfg : AugmentConfig
    seed : int
        Copy ``k`` of clip ``i`` uses ``default_rng([seed, 3, i, k])``.

    Returns
    -------
    numpy.ndarray
        float32 ``(copies, len(clips), *features.shape)``.
    """
    length = getattr(features, "clip_samples", None)
    rate = int(features.sample_rate)
    out = None
    for k in range(cfg.copies):
        for i, clip in enumerate(clips):
            rng = np.random.default_rng([seed, 3, i, k])
            f = features.compute(augment_clip(clip, cfg, rng, sample_rate=rate, length=length,
                                              pool=clips, place=getattr(features, "place", None)))
            if out is None:
                out = np.empty((cfg.copies, len(clips), *f.shape), np.float32)
            out[k, i] = f
    if out is None:
        return np.empty((0, len(clips), *features.shape), np.float32)
    return out


# -- features ------------------------------------------------------------------------------------

def variant_index(rng: np.random.Generator, batch: int, copies: int) -> np.ndarray:
    """For each example of a batch: 0 (clean) or the copy ``1..copies`` to use, uniformly."""
    return rng.integers(0, copies + 1, size=batch)


def shift_frames(x: np.ndarray, shifts) -> np.ndarray:
    """Shift each example of ``x`` (B, frames, channels) by ``shifts[b]`` frames (later if > 0).

    Vacated frames hold that example's minimum.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    batch, frames, _ = out.shape
    t = np.arange(frames)
    for i, s in enumerate(shifts):
        if s == 0:
            continue
        src = t - int(s)
        valid = (src >= 0) & (src < frames)
        shifted = np.full(out.shape[1:], x[i].min(), dtype=np.float32)
        shifted[valid] = x[i][src[valid]]
        out[i] = shifted
    return out


def mask_features(x: np.ndarray, rng: np.random.Generator, *, time_masks: int = 0,
                  time_mask: int = 0, freq_masks: int = 0, freq_mask: int = 0) -> np.ndarray:
    """SpecAugment masks: set random bands of frames / channels to each example's minimum.

    Each example gets ``time_masks`` masks of width uniform in
    ``[0, time_mask]`` frames and ``freq_masks`` of width in
    ``[0, freq_mask]`` channels, at uniform starts (a band may run off the end).
    """
    out = np.array(x, dtype=np.float32, copy=True)
    batch, frames, chans = out.shape
    for i in range(batch):
        floor = out[i].min()
        for _ in range(time_masks if time_mask else 0):
            w, s = int(rng.integers(0, time_mask + 1)), int(rng.integers(0, frames))
            out[i, s:s + w, :] = floor
        for _ in range(freq_masks if freq_mask else 0):
            w, s = int(rng.integers(0, freq_mask + 1)), int(rng.integers(0, chans))
            out[i, :, s:s + w] = floor
    return out


def mixup_batch(x: np.ndarray, y: np.ndarray, num_classes: int, alpha: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mixup: ``lam * x + (1 - lam) * x[perm]`` and the same mix of one-hot labels.

    ``lam`` is drawn per example from ``Beta(alpha, alpha)``; ``perm`` is a
    random permutation of the batch.  Returns float32 features and soft labels
    ``(B, num_classes)``.
    """
    b = len(x)
    lam = rng.beta(alpha, alpha, size=b).astype(np.float32)
    perm = rng.permutation(b)
    onehot = np.eye(num_classes, dtype=np.float32)[np.asarray(y)]
    xm = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
    ym = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[perm]
    return xm.astype(np.float32), ym.astype(np.float32)
