"""Log-mel spectrogram features, defined precisely enough to re-implement on a device.

The whole pipeline, for one clip of mono float samples ``x`` in ``[-1, 1]``:

1. **Normalize** (``normalize="peak"``): ``x = x / max(|x|)`` over the whole
   clip passed in (an all-zero clip is left as is).  ``"none"`` skips this.
2. **Fix the length**: the clip is cut, or zero-padded *at the end*, to exactly
   ``clip_samples = (num_frames - 1) * hop_length + frame_length`` samples.
   So the start of the clip is always kept; trailing audio beyond about
   ``num_frames * hop_length`` samples is dropped, and frames past the end of
   a short clip come out at the silence level ``log(log_offset)``.
3. **Frame**: frame ``t`` is ``x[t * hop_length : t * hop_length + frame_length]``
   for ``t = 0 .. num_frames - 1`` (no centring, no reflection padding).
4. **Window**: multiply by a *periodic* Hann (or Hamming) window of
   ``frame_length`` points, ``w[n] = 0.5 - 0.5 cos(2 pi n / frame_length)``.
5. **Power spectrum**: zero-pad the frame to ``n_fft`` and take
   ``|rfft|**2`` -- ``n_fft // 2 + 1`` bins, no scaling by the window or by
   ``n_fft``.
6. **Mel**: multiply by :func:`mel_filterbank` (``n_mels`` triangles with unit
   peak, HTK or Slaney mel scale, no area normalization).
7. **Log**: ``log(mel + log_offset)`` with the natural logarithm.

The output is a float32 array of shape ``(num_frames, n_mels)``.  All
intermediate maths is float64 on the host.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError

__all__ = [
    "FeatureConfig",
    "compute_logmel",
    "power_spectrogram",
    "mel_filterbank",
    "hz_to_mel",
    "mel_to_hz",
]

FORMAT_TAG = "edgekit.features/1"
_WINDOWS = ("hann", "hamming")
_MEL_SCALES = ("htk", "slaney")
_NORMALIZE = ("peak", "none")


@dataclass(frozen=True)
class FeatureConfig:
    """Everything needed to compute the model's input features.

    Saved as JSON next to a trained model (:meth:`save`), because the firmware
    must compute exactly the same features.  The defaults suit the Free Spoken
    Digit Dataset: 8 kHz clips of 0.2--2.3 s, most shorter than 1 s.

    Attributes
    ----------
    sample_rate : int
        Expected sample rate of the audio in Hz (default 8000).
    frame_length : int
        Analysis window length in samples (default 256 = 32 ms at 8 kHz).
    hop_length : int
        Step between frame starts in samples (default 128 = 16 ms).
    n_fft : int
        FFT size, ``>= frame_length``; frames are zero-padded to it
        (default 256, giving 129 frequency bins).
    n_mels : int
        Number of mel bands (default 40).
    fmin : float
        Lower edge of the lowest mel band in Hz (default 20.0).
    fmax : float
        Upper edge of the highest mel band in Hz, ``<= sample_rate / 2``
        (default 4000.0).
    num_frames : int
        Fixed number of output frames (default 64, i.e. 1.04 s of audio).  The
        clip is zero-padded or cropped **at the end**; see the module docs.
    log_offset : float
        Added to the mel energies before the natural log, so silence maps to
        ``log(log_offset)`` instead of ``-inf`` (default 1e-6).
    window : str
        ``"hann"`` (default) or ``"hamming"``, periodic.
    mel_scale : str
        ``"htk"`` (default; ``2595 log10(1 + f/700)``) or ``"slaney"``
        (linear below 1 kHz, logarithmic above).
    normalize : str
        ``"peak"`` (default; divide the clip by its peak absolute value) or
        ``"none"``.

    Raises
    ------
    edgekit.errors.DataError
        From the constructor, if a value is out of range or of the wrong type.
    """

    sample_rate: int = 8000
    frame_length: int = 256
    hop_length: int = 128
    n_fft: int = 256
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 4000.0
    num_frames: int = 64
    log_offset: float = 1e-6
    window: str = "hann"
    mel_scale: str = "htk"
    normalize: str = "peak"

    #: Feature kind, as a recipe's ``[features] kind`` names it (host-only float features).
    kind = "logmel-float"
    #: The model input's range is calibrated, not fixed (see ``FrontendFeatures.input_range``).
    input_range = None

    def __post_init__(self) -> None:
        for name in ("sample_rate", "frame_length", "hop_length", "n_fft", "n_mels", "num_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise DataError(f"{name} must be an integer (got {value!r})")
            if value <= 0:
                raise DataError(f"{name} must be > 0 (got {value})")
            object.__setattr__(self, name, int(value))
        for name in ("fmin", "fmax", "log_offset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise DataError(f"{name} must be a number (got {value!r})")
            if not math.isfinite(value):
                raise DataError(f"{name} must be finite (got {value})")
            object.__setattr__(self, name, float(value))
        if self.n_fft < self.frame_length:
            raise DataError(
                f"n_fft must be >= frame_length (got n_fft={self.n_fft}, "
                f"frame_length={self.frame_length})"
            )
        if self.fmin < 0:
            raise DataError(f"fmin must be >= 0 (got {self.fmin})")
        nyquist = self.sample_rate / 2
        if not self.fmin < self.fmax <= nyquist:
            raise DataError(
                f"need fmin < fmax <= sample_rate / 2 = {nyquist:g} "
                f"(got fmin={self.fmin:g}, fmax={self.fmax:g})"
            )
        if self.log_offset <= 0:
            raise DataError(f"log_offset must be > 0 (got {self.log_offset})")
        for name, allowed in (
            ("window", _WINDOWS),
            ("mel_scale", _MEL_SCALES),
            ("normalize", _NORMALIZE),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise DataError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        # Every mel band must cover at least one FFT bin, or it is always silent.
        _check_bands(self)

    # -- derived values -------------------------------------------------------

    def compute(self, samples) -> np.ndarray:
        """Features of one clip: :func:`compute_logmel` with this configuration."""
        return compute_logmel(samples, self)

    @property
    def n_bins(self) -> int:
        """Number of FFT bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def clip_samples(self) -> int:
        """Samples consumed per clip, ``(num_frames - 1) * hop_length + frame_length``."""
        return (self.num_frames - 1) * self.hop_length + self.frame_length

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of one feature matrix, ``(num_frames, n_mels)``."""
        return (self.num_frames, self.n_mels)

    @property
    def silence_level(self) -> float:
        """Feature value of a silent (all-zero) frame, ``log(log_offset)``."""
        return math.log(self.log_offset)

    # -- serialization --------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-ready dict.

        Returns
        -------
        dict
            One key per field plus ``"format": "edgekit.features/1"``.
        """
        out: dict[str, Any] = {"format": FORMAT_TAG}
        out.update(dataclasses.asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, require_all: bool = False) -> FeatureConfig:
        """Build a configuration from a dict such as :meth:`to_dict` returns.

        Parameters
        ----------
        data : dict
            Field values.  A ``"format"`` key, if present, must be
            ``"edgekit.features/1"``.  Unknown keys are rejected.
        require_all : bool, optional
            If true, every field must be present (used when loading a saved
            file, so that a change of defaults cannot silently change the
            features a model was trained on).  Otherwise missing fields take
            their defaults.

        Returns
        -------
        FeatureConfig

        Raises
        ------
        edgekit.errors.DataError
            On unknown or missing keys, a wrong format tag or invalid values.
        """
        if not isinstance(data, dict):
            raise DataError(f"feature config must be a JSON object (got {type(data).__name__})")
        data = dict(data)
        tag = data.pop("format", FORMAT_TAG)
        if tag != FORMAT_TAG:
            raise DataError(f"unsupported feature config format {tag!r} (expected {FORMAT_TAG!r})")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise DataError(f"unknown feature config key(s): {', '.join(unknown)}")
        if require_all:
            missing = [n for n in names if n not in data]
            if missing:
                raise DataError(f"feature config is missing key(s): {', '.join(missing)}")
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        """Write the configuration as JSON.

        Parameters
        ----------
        path : str or pathlib.Path
            Destination file (conventionally ``features.json`` next to the model).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureConfig:
        """Read a configuration written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
            The JSON file.

        Returns
        -------
        FeatureConfig

        Raises
        ------
        edgekit.errors.DataError
            If the file is missing, is not valid JSON, or lacks a field.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read feature config {path}: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"feature config {path} is not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(data, require_all=True)
        except DataError as exc:
            raise DataError(f"feature config {path}: {exc}") from exc


# -- mel scale ----------------------------------------------------------------

_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel in the linear region
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # 15.0
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freq: np.ndarray | float, scale: str = "htk") -> np.ndarray:
    """Convert frequencies in Hz to mels.

    Parameters
    ----------
    freq : array_like
        Frequencies in Hz (>= 0).
    scale : {"htk", "slaney"}
        ``"htk"``: ``2595 * log10(1 + f / 700)``.  ``"slaney"``: ``3 f / 200``
        below 1 kHz, ``15 + 27 * ln(f / 1000) / ln(6.4)`` above.

    Returns
    -------
    numpy.ndarray
        Mel values (float64).
    """
    f = np.asarray(freq, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    if scale == "slaney":
        safe = np.maximum(f, _SLANEY_MIN_LOG_HZ)
        log_part = _SLANEY_MIN_LOG_MEL + np.log(safe / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
        return np.where(f < _SLANEY_MIN_LOG_HZ, f / _SLANEY_F_SP, log_part)
    raise DataError(f"mel scale must be one of {', '.join(_MEL_SCALES)} (got {scale!r})")


def mel_to_hz(mel: np.ndarray | float, scale: str = "htk") -> np.ndarray:
    """Convert mels back to Hz; the inverse of :func:`hz_to_mel`.

    Parameters
    ----------
    mel : array_like
        Mel values.
    scale : {"htk", "slaney"}
        The mel scale, as in :func:`hz_to_mel`.

    Returns
    -------
    numpy.ndarray
        Frequencies in Hz (float64).
    """
    m = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    if scale == "slaney":
        log_part = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
        return np.where(m < _SLANEY_MIN_LOG_MEL, m * _SLANEY_F_SP, log_part)
    raise DataError(f"mel scale must be one of {', '.join(_MEL_SCALES)} (got {scale!r})")


def _band_edges_hz(config: FeatureConfig) -> np.ndarray:
    """The ``n_mels + 2`` band edge frequencies, equally spaced in mel."""
    lo, hi = hz_to_mel([config.fmin, config.fmax], config.mel_scale)
    return mel_to_hz(np.linspace(lo, hi, config.n_mels + 2), config.mel_scale)


def _triangles(config: FeatureConfig) -> np.ndarray:
    edges = _band_edges_hz(config)
    bin_hz = np.arange(config.n_bins) * (config.sample_rate / config.n_fft)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None, :] - left) / (centre - left)
    falling = (right - bin_hz[None, :]) / (right - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def _check_bands(config: FeatureConfig) -> None:
    weights = _triangles(config)
    empty = np.flatnonzero(weights.max(axis=1) <= 0.0)
    if empty.size:
        raise DataError(
            f"n_mels={config.n_mels} is too many for n_fft={config.n_fft} between "
            f"{config.fmin:g} and {config.fmax:g} Hz: mel band(s) {empty.tolist()} "
            "contain no FFT bin (lower n_mels, raise fmin or raise n_fft)"
        )


@functools.lru_cache(maxsize=16)
def _filterbank_cached(config: FeatureConfig) -> np.ndarray:
    fb = _triangles(config)
    fb.setflags(write=False)
    return fb


def mel_filterbank(config: FeatureConfig) -> np.ndarray:
    """Triangular mel filterbank matrix.

    Band ``m`` (``0 <= m < n_mels``) is a triangle over FFT-bin frequency
    ``k * sample_rate / n_fft`` that rises linearly from 0 at edge ``m`` to 1
    at edge ``m + 1`` and falls back to 0 at edge ``m + 2``, where the
    ``n_mels + 2`` edges are equally spaced on the mel scale
    (``config.mel_scale``) between ``fmin`` and ``fmax``.  Triangles have unit
    peak (no area normalization).

    Parameters
    ----------
    config : FeatureConfig
        Supplies ``sample_rate``, ``n_fft``, ``n_mels``, ``fmin``, ``fmax``
        and ``mel_scale``.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(n_mels, n_fft // 2 + 1)``; multiply a power
        spectrum of shape ``(..., n_bins)`` by its transpose.
    """
    return _filterbank_cached(config).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _window(kind: str, length: int) -> np.ndarray:
    n = np.arange(length)
    if kind == "hann":
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)
    else:  # hamming
        w = 0.54 - 0.46 * np.cos(2.0 * np.pi * n / length)
    w.setflags(write=False)
    return w


def _prepare(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Validate, normalize and fix the length of one clip (float64 result)."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise DataError(f"samples must be a 1-D mono array (got shape {x.shape})")
    if x.size == 0:
        raise DataError("samples is empty (got 0 samples)")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"samples must be numeric (got dtype {x.dtype})")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise DataError("samples contain NaN or infinite values")
    if config.normalize == "peak":
        peak = np.max(np.abs(x))
        if peak > 0:
            x = x / peak
    n = config.clip_samples
    if x.size >= n:
        return x[:n]
    out = np.zeros(n, dtype=np.float64)
    out[: x.size] = x
    return out


def power_spectrogram(samples: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """Framed, windowed power spectrum (steps 1--5 of the module docs).

    Parameters
    ----------
    samples : numpy.ndarray
        1-D mono samples (any length >= 1).
    config : FeatureConfig, optional
        Defaults to ``FeatureConfig()``.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(num_frames, n_fft // 2 + 1)``: ``|rfft|**2``
        of each windowed frame, unscaled.

    Raises
    ------
    edgekit.errors.DataError
        If ``samples`` is not a non-empty, finite, 1-D numeric array.
    """
    config = config or FeatureConfig()
    x = _prepare(samples, config)
    frames = np.lib.stride_tricks.sliding_window_view(x, config.frame_length)[:: config.hop_length]
    frames = frames * _window(config.window, config.frame_length)
    spec = np.fft.rfft(frames, n=config.n_fft, axis=-1)
    return spec.real**2 + spec.imag**2


def compute_logmel(samples: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """Log-mel features of one clip (the full pipeline of the module docs).

    Parameters
    ----------
    samples : numpy.ndarray
        1-D mono samples at ``config.sample_rate`` (the rate is not checked
        here; :func:`edgekit.data.load_fsdd` checks it per file).
    config : FeatureConfig, optional
        Defaults to ``FeatureConfig()``.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(num_frames, n_mels)``.

    Raises
    ------
    edgekit.errors.DataError
        If ``samples`` is not a non-empty, finite, 1-D numeric array.
    """
    config = config or FeatureConfig()
    power = power_spectrogram(samples, config)
    mel = power @ _filterbank_cached(config).T
    return np.log(mel + config.log_offset).astype(np.float32)
