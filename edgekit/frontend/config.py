"""The front end's parameters: one frozen, validated, JSON-serialisable config.

A :class:`FrontendConfig` is saved next to a model as ``frontend.json``
(format tag ``"edgekit.frontend/1"``).  Its defaults are the micro_speech
front end of TensorFlow Lite Micro (:meth:`FrontendConfig.tflm_micro`), with
which the C is bit-exact with ``audio_preprocessor_int8.tflite``.

Derived fixed-point constants (smoothing in Q14, the PCAN shift...) are
properties, computed as the TFLM generators compute them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import ConfigError
from edgekit.frontend.tables import PCAN_SNR_BITS, correction_bits

__all__ = ["FrontendConfig", "FORMAT", "read_json"]

#: Format tag of ``frontend.json``.
FORMAT = "edgekit.frontend/1"

_INTS = ("sample_rate", "window_size", "stride", "fft_size", "num_channels", "window_bits",
         "filterbank_weight_bits", "filterbank_alignment", "filterbank_block_size",
         "smoothing_bits", "spectral_subtraction_bits", "pcan_gain_bits", "log_scale_bits",
         "output_multiplier", "output_divisor", "output_zero_point")
_FLOATS = ("lower_band_hz", "upper_band_hz", "even_smoothing", "odd_smoothing",
           "min_signal_remaining", "pcan_strength", "pcan_offset")
_BOOLS = ("noise_reduction", "clamping", "pcan", "log_scale")


def read_json(path, what: str):
    """The JSON content of ``path``; a missing or unreadable file is a :class:`ConfigError`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    what : str
        What it should hold, for the message (``"front-end config"``).
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{what} {path} is not JSON ({e})") from None


@dataclass(frozen=True)
class FrontendConfig:
    """Parameters of the fixed-point audio front end.

    Parameters
    ----------
    sample_rate : int
        Input rate in Hz.
    window_size : int
        Analysis window in samples (Hann, Q``window_bits``).
    stride : int
        Samples between consecutive frames (1 .. ``window_size``).
    fft_size : int
        Power of two >= ``window_size`` (the window is zero padded), 8 .. 4096.
    num_channels : int
        Mel channels = int8 features per frame.
    lower_band_hz, upper_band_hz : float
        Filterbank band edges, ``0 <= lower < upper <= sample_rate / 2``.
    window_bits : int
        Fractional bits of the window weights.
    filterbank_weight_bits, filterbank_alignment, filterbank_block_size : int
        Filterbank weight precision and the layout padding of its tables.
    noise_reduction : bool
        Spectral subtraction of a per-channel running noise estimate.
    smoothing_bits : int
        Extra precision of the noise estimate (bits).
    even_smoothing, odd_smoothing : float
        Noise-estimate update rate on even / odd channels (0 .. 1).
    min_signal_remaining : float
        Fraction of the signal kept at least after subtraction (0 .. 1).
    spectral_subtraction_bits : int
        Fixed-point bits of the smoothing coefficients.
    clamping : bool
        Clamp the noise estimate to the signal.
    pcan : bool
        Per-channel amplitude normalisation (needs ``noise_reduction``).
    pcan_strength, pcan_offset : float
        Gain ``(noise + offset) ** -strength``.
    pcan_gain_bits : int
        Fractional bits of the gain.
    log_scale : bool
        Output ``round(2^log_scale_bits * ln(x))`` (else the linear value).
    log_scale_bits : int
        Fixed-point bits of the log.
    output_multiplier, output_divisor, output_zero_point : int
        int8 feature = ``clamp((v * multiplier + divisor // 2) // divisor
        + zero_point, -128, 127)``.
    """

    sample_rate: int = 16000
    window_size: int = 480
    stride: int = 320
    fft_size: int = 512
    num_channels: int = 40
    lower_band_hz: float = 125.0
    upper_band_hz: float = 7500.0
    window_bits: int = 12
    filterbank_weight_bits: int = 12
    filterbank_alignment: int = 4
    filterbank_block_size: int = 4
    noise_reduction: bool = True
    smoothing_bits: int = 10
    even_smoothing: float = 0.025
    odd_smoothing: float = 0.06
    min_signal_remaining: float = 0.05
    spectral_subtraction_bits: int = 14
    clamping: bool = False
    pcan: bool = True
    pcan_strength: float = 0.95
    pcan_offset: float = 80.0
    pcan_gain_bits: int = 21
    log_scale: bool = True
    log_scale_bits: int = 6
    output_multiplier: int = 256
    output_divisor: int = 666
    output_zero_point: int = -128

    def __post_init__(self):
        self._check_types()
        self._check_values()

    # -- presets -------------------------------------------------------------

    @classmethod
    def tflm_micro(cls) -> FrontendConfig:
        """TFLM micro_speech: 16 kHz, 30 ms / 20 ms, FFT 512, 40 channels 125-7500 Hz.

        Noise reduction (0.025 / 0.06, 10 bits, 5 % floor), PCAN (0.95, 80,
        21 bits) and log (Q6), int8 = ``(log * 256 + 333) // 666 - 128``.
        Bit-exact with ``audio_preprocessor_int8.tflite``.
        """
        return cls()

    @classmethod
    def fsdd(cls) -> FrontendConfig:
        """FSDD at its native 8 kHz: 30 ms window (240), 20 ms stride (160), FFT 256.

        40 channels over 125-3800 Hz (just under the 4 kHz Nyquist, as 7500
        is under 8000 for micro_speech), 50 frames per second as micro_speech.
        Noise reduction with one smoothing for every channel (0.01 per frame,
        a time constant of 2 s, so the estimate does not eat a 0.5 s digit),
        **no PCAN**, and an int8 step of ``1000 / (256 * 64)`` log units
        (micro_speech's 666 clips loud FSDD frames at 127 without PCAN's
        compression).  Measured on FSDD's official split (DS-CNN width 32,
        12 epochs, seed 0, float test accuracy): micro_speech's settings
        0.887; PCAN with slower noise smoothing 0.88-0.92; this preset 0.967;
        the float log-mel 0.970 (without peak normalisation) and 0.977 (with).
        """
        return cls(sample_rate=8000, window_size=240, stride=160, fft_size=256,
                   num_channels=40, lower_band_hz=125.0, upper_band_hz=3800.0,
                   even_smoothing=0.01, odd_smoothing=0.01, pcan=False,
                   output_divisor=1000)

    # -- derived fixed-point constants ----------------------------------------

    @property
    def correction_bits(self) -> int:
        """Bits the filterbank output is scaled up by before PCAN's LUT and the log."""
        return correction_bits(self.fft_size, self.filterbank_weight_bits)

    @property
    def smoothing_q(self) -> tuple[int, int, int, int]:
        """``(even, 1 - even, odd, 1 - odd)`` in Q``spectral_subtraction_bits``."""
        one = 1 << self.spectral_subtraction_bits
        odd = self.odd_smoothing if self.odd_smoothing != 0 else self.even_smoothing
        even_q, odd_q = int(self.even_smoothing * one), int(odd * one)
        return even_q, one - even_q, odd_q, one - odd_q

    @property
    def min_signal_remaining_q(self) -> int:
        """``min_signal_remaining`` in Q``spectral_subtraction_bits``."""
        return int(self.min_signal_remaining * (1 << self.spectral_subtraction_bits))

    @property
    def pcan_input_bits(self) -> int:
        """Fractional bits of the noise estimate as PCAN's gain table reads it."""
        return self.smoothing_bits - self.correction_bits

    @property
    def snr_shift(self) -> int:
        """Right shift of ``signal * gain`` to the Q12 SNR."""
        return self.pcan_gain_bits - self.correction_bits - PCAN_SNR_BITS

    @property
    def window_ms(self) -> float:
        """Window length in milliseconds."""
        return 1000.0 * self.window_size / self.sample_rate

    @property
    def stride_ms(self) -> float:
        """Stride in milliseconds."""
        return 1000.0 * self.stride / self.sample_rate

    def frames_for(self, num_samples: int) -> int:
        """Frames produced by ``num_samples`` samples after a reset."""
        if num_samples < self.window_size:
            return 0
        return (num_samples - self.window_size) // self.stride + 1

    # -- (de)serialisation -------------------------------------------------------

    def to_dict(self) -> dict:
        """The parameters as a JSON-ready dict with the ``format`` tag."""
        return {"format": FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> FrontendConfig:
        """Inverse of :meth:`to_dict` (unknown keys and a wrong format are errors)."""
        if not isinstance(d, dict):
            raise ConfigError(f"front-end config must be a JSON object (got {type(d).__name__})")
        d = dict(d)
        fmt = d.pop("format", None)
        if fmt != FORMAT:
            raise ConfigError(f"front-end config format must be {FORMAT!r} (got {fmt!r})")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown front-end config keys {unknown}")
        return cls(**d)

    def save(self, path) -> Path:
        """Write the config as JSON (``frontend.json``); returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def load(cls, path) -> FrontendConfig:
        """Read a config written by :meth:`save`.

        Raises
        ------
        ConfigError
            The file is missing, not JSON, or holds an invalid config.
        """
        return cls.from_dict(read_json(path, "front-end config"))

    def hash(self) -> str:
        """Short stable hash of the parameters (16 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- validation -------------------------------------------------------------

    def _check_types(self):
        for name in _INTS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{name} must be an integer (got {v!r})")
        for name in _FLOATS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number (got {v!r})")
        for name in _BOOLS:
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise ConfigError(f"{name} must be true or false (got {v!r})")

    def _check_values(self):
        def need(ok, msg):
            if not ok:
                raise ConfigError(msg)

        need(self.sample_rate > 0, f"sample_rate must be > 0 (got {self.sample_rate})")
        need(8 <= self.fft_size <= 4096 and self.fft_size & (self.fft_size - 1) == 0,
             f"fft_size must be a power of two in 8..4096 (got {self.fft_size})")
        need(2 <= self.window_size <= self.fft_size,
             f"window_size must be in 2..fft_size={self.fft_size} (got {self.window_size})")
        need(1 <= self.stride <= self.window_size,
             f"stride must be in 1..window_size={self.window_size} (got {self.stride})")
        need(1 <= self.num_channels <= 256,
             f"num_channels must be in 1..256 (got {self.num_channels})")
        need(0 <= self.lower_band_hz, f"lower_band_hz must be >= 0 (got {self.lower_band_hz})")
        need(self.lower_band_hz < self.upper_band_hz,
             f"upper_band_hz must be > lower_band_hz={self.lower_band_hz} "
             f"(got {self.upper_band_hz})")
        need(self.upper_band_hz <= self.sample_rate / 2,
             f"upper_band_hz must be <= sample_rate / 2 = {self.sample_rate / 2} "
             f"(got {self.upper_band_hz})")
        need(1 <= self.window_bits <= 14, f"window_bits must be in 1..14 (got {self.window_bits})")
        need(2 <= self.filterbank_weight_bits <= 14,
             f"filterbank_weight_bits must be in 2..14 (got {self.filterbank_weight_bits})")
        need(self.filterbank_alignment in (1, 2, 4, 8, 16),
             f"filterbank_alignment must be 1, 2, 4, 8 or 16 (got {self.filterbank_alignment})")
        need(1 <= self.filterbank_block_size <= 16,
             f"filterbank_block_size must be in 1..16 (got {self.filterbank_block_size})")
        need(0 <= self.smoothing_bits <= 16,
             f"smoothing_bits must be in 0..16 (got {self.smoothing_bits})")
        need(1 <= self.spectral_subtraction_bits <= 20,
             f"spectral_subtraction_bits must be in 1..20 (got {self.spectral_subtraction_bits})")
        for name in ("even_smoothing", "odd_smoothing", "min_signal_remaining"):
            v = getattr(self, name)
            need(0.0 <= v <= 1.0, f"{name} must be in [0, 1] (got {v})")
        need(not self.pcan or self.noise_reduction,
             "pcan needs noise_reduction (its gain follows the noise estimate) "
             f"(got pcan={self.pcan}, noise_reduction={self.noise_reduction})")
        need(self.pcan_strength >= 0, f"pcan_strength must be >= 0 (got {self.pcan_strength})")
        need(self.pcan_offset > 0, f"pcan_offset must be > 0 (got {self.pcan_offset})")
        need(1 <= self.pcan_gain_bits <= 30,
             f"pcan_gain_bits must be in 1..30 (got {self.pcan_gain_bits})")
        cb = self.correction_bits
        need(cb >= 0, f"fft_size={self.fft_size} is too small for filterbank_weight_bits="
             f"{self.filterbank_weight_bits} (correction bits {cb} < 0)")
        if self.pcan:
            need(self.snr_shift >= 1,
                 f"pcan_gain_bits must be >= {cb + PCAN_SNR_BITS + 1} for this FFT size "
                 f"(got {self.pcan_gain_bits})")
            need(self.pcan_input_bits >= 0,
                 f"smoothing_bits must be >= {cb} with PCAN (got {self.smoothing_bits})")
        need(0 <= self.log_scale_bits <= 10,
             f"log_scale_bits must be in 0..10 (got {self.log_scale_bits})")
        need(1 <= self.output_multiplier <= 32768,
             f"output_multiplier must be in 1..32768 (got {self.output_multiplier})")
        need(1 <= self.output_divisor <= 1 << 24,
             f"output_divisor must be in 1..2^24 (got {self.output_divisor})")
        need(-128 <= self.output_zero_point <= 127,
             f"output_zero_point must be in -128..127 (got {self.output_zero_point})")
