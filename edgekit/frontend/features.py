"""Model input features made by the fixed-point front end: what training and the device share.

A :class:`FrontendFeatures` is the front end (:class:`FrontendConfig`) plus
how a clip becomes one model input: ``num_frames`` frames from the start of
the clip.  The clip is converted to int16 PCM, cut or zero-padded *at the
end* to exactly :attr:`FrontendFeatures.clip_samples` samples (with
``align = "centre"``, a shorter clip is padded equally at both ends instead,
see :meth:`FrontendFeatures.place`), and pushed
through the front end's C (compiled for the host) from a reset state.  The
``(num_frames, num_channels)`` int8 frames are the model's int8 input as
they are; training sees them dequantized,
``x = (q - input_zero_point) * input_scale``, and the int8 converter is made
to give the model input exactly that quantization (:attr:`input_range`), so
the firmware feeds the front end's frames to the model unchanged.

There is no whole-clip peak normalisation: a device cannot know a clip's
peak in advance.  Loudness robustness comes from PCAN in the front end.

It is saved as ``features.json`` next to the model (format
``"edgekit.features/2"``, ``kind = "frontend"``); :func:`load_features`
reads it, or the float log-mel's ``"edgekit.features/1"``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.data.wav import to_pcm
from edgekit.errors import ConfigError, DataError
from edgekit.frontend.config import FrontendConfig, read_json

__all__ = ["ALIGNS", "FORMAT", "KINDS", "FrontendFeatures", "default_frontend_features",
           "load_features", "load_frontend", "make_features"]

#: Format tag of a front-end ``features.json``.
FORMAT = "edgekit.features/2"
#: Feature kinds a recipe's ``[features] kind`` may name.
KINDS = ("frontend", "logmel-float")
#: Where a clip shorter than the input window goes (``[features] align``).
ALIGNS = ("start", "centre")

_HOSTS: dict[str, object] = {}


def _host(config: FrontendConfig):
    """One compiled host front end per config (the C state is static per library)."""
    from edgekit.frontend.host import HostFrontend  # noqa: PLC0415

    key = config.hash()
    if key not in _HOSTS:
        _HOSTS[key] = HostFrontend(config)
    return _HOSTS[key]


@dataclass(frozen=True)
class FrontendFeatures:
    """Front-end features of a clip: the first ``num_frames`` frames, int8 at the model input.

    Parameters
    ----------
    frontend : FrontendConfig
        The front end (sample rate, window, stride, channels...).
    num_frames : int
        Frames per model input; a clip gives
        ``clip_samples = window_size + (num_frames - 1) * stride`` samples.
    align : str
        ``"start"`` (default): a clip shorter than ``clip_samples`` is
        zero-padded at the end, so it starts the window.  ``"centre"``: it
        is zero-padded ``(clip_samples - n) // 2`` samples in front and the
        rest at the end, so it sits in the middle of the window, as the words
        of Speech Commands do (and as a sliding window on a device sees a word
        at some run).  A longer clip is cut at the end either way.

    Raises
    ------
    edgekit.errors.ConfigError
        If ``frontend`` is not a FrontendConfig, ``num_frames`` is not a
        positive integer or ``align`` is not one of :data:`ALIGNS`.
    """

    frontend: FrontendConfig
    num_frames: int = 48
    align: str = "start"

    kind = "frontend"

    def __post_init__(self):
        if not isinstance(self.frontend, FrontendConfig):
            raise ConfigError(f"frontend must be a FrontendConfig (got "
                              f"{type(self.frontend).__name__})")
        n = self.num_frames
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ConfigError(f"num_frames must be > 0 (got {n!r})")
        object.__setattr__(self, "num_frames", int(n))
        if self.align not in ALIGNS:
            raise ConfigError(f"features align must be one of {', '.join(ALIGNS)} "
                              f"(got {self.align!r})")

    # -- shapes and quantization ---------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """Sample rate the front end expects, Hz."""
        return self.frontend.sample_rate

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of one model input, ``(num_frames, num_channels)``."""
        return (self.num_frames, self.frontend.num_channels)

    @property
    def clip_samples(self) -> int:
        """Samples that make ``num_frames`` frames after a reset."""
        return self.frontend.window_size + (self.num_frames - 1) * self.frontend.stride

    @property
    def input_scale(self) -> float:
        """Scale of the int8 frames: one step of the log output (``divisor / (multiplier * 2**log_scale_bits)``)."""
        f = self.frontend
        return float(np.float32(f.output_divisor / (f.output_multiplier * (1 << f.log_scale_bits))))

    @property
    def input_zero_point(self) -> int:
        """Zero point of the int8 frames (the front end's ``output_zero_point``)."""
        return self.frontend.output_zero_point

    @property
    def input_range(self) -> tuple[float, float]:
        """Float values of int8 -128 and 127: the model input's range, exactly."""
        s, z = self.input_scale, self.input_zero_point
        return (float(np.float32((-128 - z) * s)), float(np.float32((127 - z) * s)))

    # -- features ------------------------------------------------------------------------------

    def lead(self, n: int) -> int:
        """Zeros put before a clip of ``n`` samples: 0, or with ``align = "centre"`` half the
        room left."""
        if self.align == "centre":
            return max(self.clip_samples - int(n), 0) // 2
        return 0

    def place(self, samples) -> np.ndarray:
        """The clip in the input window: ``clip_samples`` long, placed by :attr:`align`.

        Keeps the dtype of ``samples`` (float clips for augmentation, int16 for the front end).
        """
        x = np.asarray(samples).reshape(-1)
        out = np.zeros(self.clip_samples, dtype=x.dtype)
        k = self.lead(x.size)
        n = min(x.size, out.size - k)
        out[k:k + n] = x[:n]
        return out

    def clip_pcm(self, samples) -> np.ndarray:
        """The clip as the front end gets it: int16, :attr:`clip_samples` long (:meth:`place`)."""
        return self.place(to_pcm(samples))

    def compute_int8(self, samples) -> np.ndarray:
        """The int8 frames ``(num_frames, num_channels)`` the device computes for this clip."""
        frames = _host(self.frontend).features(self.clip_pcm(samples))
        if frames.shape != self.shape:  # pragma: no cover - clip_samples guarantees it
            raise DataError(f"front end gave {frames.shape[0]} frames (expected {self.num_frames})")
        return frames

    def dequantize(self, q) -> np.ndarray:
        """float32 ``(q - zero_point) * scale``: what the float model trains on."""
        q = np.asarray(q, dtype=np.float32)
        return ((q - np.float32(self.input_zero_point)) * np.float32(self.input_scale)).astype(
            np.float32)

    def compute(self, samples) -> np.ndarray:
        """Float features of one clip (dequantized int8 frames), ``(num_frames, num_channels)``."""
        return self.dequantize(self.compute_int8(samples))

    # -- (de)serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-ready: ``format``, ``kind``, ``num_frames``, the input quantization and ``frontend``.

        ``align`` is written only when it is not the default ``"start"`` (so
        files of start-aligned models are unchanged).
        """
        d = {"format": FORMAT, "kind": self.kind, "num_frames": self.num_frames,
             "input_scale": self.input_scale, "input_zero_point": self.input_zero_point,
             "frontend": self.frontend.to_dict()}
        if self.align != "start":
            d["align"] = self.align
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FrontendFeatures:
        """Inverse of :meth:`to_dict` (derived keys are checked, not trusted)."""
        if not isinstance(d, dict):
            raise ConfigError(f"feature config must be a JSON object (got {type(d).__name__})")
        if d.get("format") != FORMAT or d.get("kind") != cls.kind:
            raise ConfigError(f"not a front-end feature config (format {d.get('format')!r}, "
                              f"kind {d.get('kind')!r})")
        unknown = sorted(set(d) - {"format", "kind", "num_frames", "input_scale",
                                   "input_zero_point", "frontend", "align"})
        if unknown:
            raise ConfigError(f"unknown front-end feature key(s): {', '.join(unknown)}")
        out = cls(FrontendConfig.from_dict(d.get("frontend")), d.get("num_frames"),
                  d.get("align", "start"))
        for key in ("input_scale", "input_zero_point"):
            if key in d and d[key] != getattr(out, key):
                raise ConfigError(f"features.json {key} {d[key]!r} does not match its front end "
                                  f"({getattr(out, key)!r})")
        return out

    def save(self, path) -> Path:
        """Write ``features.json``; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def replace(self, **overrides) -> FrontendFeatures:
        """A copy with ``num_frames``, ``align`` and/or front-end parameters changed (a
        recipe's ``[features]``)."""
        num_frames = overrides.pop("num_frames", self.num_frames)
        align = overrides.pop("align", self.align)
        try:
            fe = dataclasses.replace(self.frontend, **overrides)
        except TypeError as exc:
            raise ConfigError(f"bad front-end feature setting(s) {overrides!r}: {exc}") from None
        return FrontendFeatures(fe, num_frames, align)


def default_frontend_features(dataset: str) -> FrontendFeatures:
    """The default front end of a dataset: FSDD at 8 kHz, Speech Commands and ESC-50 at 16 kHz.

    FSDD: :meth:`FrontendConfig.fsdd` (30 ms / 20 ms at 8 kHz, FFT 256,
    40 channels 125-3800 Hz), 48 frames = 0.97 s.  Speech Commands: the
    micro_speech front end (:meth:`FrontendConfig.tflm_micro`), 48 frames.
    ESC-50: micro_speech's front end, 248 frames = 4.97 s.  48 and 248 (not
    micro_speech's 49) so that pooling and patching zoo models (a
    tiny_transformer's ``frame_pool = 4``) divide them.
    """
    presets = {"fsdd": (FrontendConfig.fsdd, 48), "speech_commands": (FrontendConfig.tflm_micro, 48),
               "esc50": (FrontendConfig.tflm_micro, 248)}
    if dataset not in presets:
        raise ConfigError(f"no default front end for dataset {dataset!r} "
                          f"(known: {', '.join(presets)})")
    make, frames = presets[dataset]
    return FrontendFeatures(make(), frames)


def make_features(dataset: str, overrides: dict | None = None):
    """The feature config a recipe's ``[features]`` table asks for.

    Parameters
    ----------
    dataset : str
        Dataset name (its defaults).
    overrides : dict, optional
        ``kind`` (``"frontend"``, the default, or ``"logmel-float"``, host
        only) and the chosen kind's parameters (``num_frames`` and
        :class:`FrontendConfig` fields, or :class:`edgekit.data.FeatureConfig` fields).

    Returns
    -------
    FrontendFeatures or edgekit.data.FeatureConfig

    Raises
    ------
    edgekit.errors.ConfigError
        On an unknown kind or parameter.
    """
    from edgekit.data import default_feature_config  # noqa: PLC0415

    overrides = dict(overrides or {})
    kind = overrides.pop("kind", "frontend")
    if kind not in KINDS:
        raise ConfigError(f"features kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if kind == "frontend":
        return default_frontend_features(dataset).replace(**overrides)
    try:
        return dataclasses.replace(default_feature_config(dataset), **overrides)
    except TypeError as exc:
        raise ConfigError(f"bad [features] setting(s) {overrides!r}: {exc}") from None


def load_features(path):
    """Read a ``features.json``: :class:`FrontendFeatures` or the float log-mel's ``FeatureConfig``.

    Raises
    ------
    edgekit.errors.ConfigError
        If the file is missing or not JSON.
    edgekit.errors.DataError, edgekit.errors.ConfigError
        If its content is not a valid feature config.
    """
    from edgekit.data import FeatureConfig  # noqa: PLC0415

    d = read_json(path, "feature config")
    if isinstance(d, dict) and d.get("kind") == FrontendFeatures.kind:
        return FrontendFeatures.from_dict(d)
    return FeatureConfig.load(path)


def load_frontend(path) -> tuple[FrontendConfig, int | None]:
    """A front end from a JSON file, and its frames per input when the file says.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``features.json`` of kind ``"frontend"`` (front end and
        ``num_frames``) or a ``frontend.json`` (:meth:`FrontendConfig.save`).

    Returns
    -------
    FrontendConfig
    int or None
        ``num_frames`` of a ``features.json``, else None.

    Raises
    ------
    edgekit.errors.ConfigError
        A missing or unreadable file, features of another kind (a
        logmel-float ``features.json``: host-only, said so), or an invalid config.
    """
    from edgekit.data.features import FORMAT_TAG as LOGMEL_FORMAT  # noqa: PLC0415

    d = read_json(path, "front-end config")
    if isinstance(d, dict) and d.get("kind") == FrontendFeatures.kind:
        feats = FrontendFeatures.from_dict(d)
        return feats.frontend, feats.num_frames
    if isinstance(d, dict) and (d.get("format") == LOGMEL_FORMAT or d.get("kind") == "logmel-float"):
        raise ConfigError(f"{path} is a logmel-float feature config ({LOGMEL_FORMAT}): the float "
                          "log-mel is host-only and cannot be put on the device; a model "
                          "trained on the front end's features (kind = \"frontend\", the "
                          "default) has a features.json that --frontend takes")
    if isinstance(d, dict) and "kind" in d:
        raise ConfigError(f"{path} holds {d.get('kind')!r} features, not a front end "
                          "(the float log-mel is host only)")
    return FrontendConfig.from_dict(d), None
