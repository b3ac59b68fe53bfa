"""Tests for edgekit.data.features against scipy and hand computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.data import (
    FeatureConfig,
    compute_logmel,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    power_spectrogram,
)
from edgekit.errors import DataError

RAW = FeatureConfig(normalize="none")


def htk_centres(cfg: FeatureConfig) -> np.ndarray:
    """Band centre frequencies, computed independently from the HTK formula."""
    lo = 2595 * math.log10(1 + cfg.fmin / 700)
    hi = 2595 * math.log10(1 + cfg.fmax / 700)
    mels = [lo + (hi - lo) * i / (cfg.n_mels + 1) for i in range(cfg.n_mels + 2)]
    return np.array([700 * (10 ** (m / 2595) - 1) for m in mels])[1:-1]


def test_defaults_and_output_shape():
    cfg = FeatureConfig()
    assert (cfg.sample_rate, cfg.frame_length, cfg.hop_length, cfg.n_fft) == (8000, 256, 128, 256)
    assert (cfg.n_mels, cfg.num_frames, cfg.fmin, cfg.fmax) == (40, 64, 20.0, 4000.0)
    assert cfg.clip_samples == 63 * 128 + 256 == 8320
    x = np.random.default_rng(0).normal(0, 0.1, 6000)
    feats = compute_logmel(x, cfg)
    assert feats.shape == (64, 40) == cfg.shape
    assert feats.dtype == np.float32


def test_power_spectrogram_matches_scipy_stft():
    x = np.random.default_rng(1).uniform(-1, 1, RAW.clip_samples)
    ours = power_spectrogram(x, RAW)
    win = scipy.signal.get_window("hann", RAW.frame_length)  # periodic by default
    _, _, z = scipy.signal.stft(
        x,
        fs=RAW.sample_rate,
        window=win,
        nperseg=RAW.frame_length,
        noverlap=RAW.frame_length - RAW.hop_length,
        nfft=RAW.n_fft,
        boundary=None,
        padded=False,
        detrend=False,
    )
    ref = np.abs(z.T * win.sum()) ** 2  # scipy scales the spectrum by 1/sum(window)
    assert ref.shape == ours.shape == (RAW.num_frames, RAW.n_bins)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_power_spectrogram_with_zero_padded_fft_matches_direct_dft():
    cfg = FeatureConfig(frame_length=200, hop_length=80, n_fft=256, num_frames=3, normalize="none", window="hamming")
    x = np.random.default_rng(2).uniform(-1, 1, cfg.clip_samples)
    ours = power_spectrogram(x, cfg)
    n = np.arange(200)
    w = 0.54 - 0.46 * np.cos(2 * np.pi * n / 200)
    k = np.arange(cfg.n_bins)[:, None]
    for t in range(3):
        frame = x[t * 80 : t * 80 + 200] * w
        dft = (frame[None, :] * np.exp(-2j * np.pi * k * n[None, :] / 256)).sum(axis=1)
        np.testing.assert_allclose(ours[t], np.abs(dft) ** 2, rtol=1e-9, atol=1e-9)


def test_filterbank_shape_and_partition_of_unity():
    cfg = FeatureConfig()
    fb = mel_filterbank(cfg)
    assert fb.shape == (40, 129) and fb.dtype == np.float32
    assert fb.min() >= 0 and fb.max() <= 1.0
    assert np.all(fb.max(axis=1) > 0.5)  # every band sees at least one bin near its peak
    centres = htk_centres(cfg)
    bin_hz = np.arange(129) * 8000 / 256
    inside = (bin_hz >= centres[0]) & (bin_hz <= centres[-1])
    # Unit-peak triangles on shared edges add up to exactly 1 between the first and last centre.
    np.testing.assert_allclose(fb[:, inside].sum(axis=0), 1.0, atol=1e-6)
    # Nothing outside [fmin, fmax].
    assert not fb[:, (bin_hz <= cfg.fmin) | (bin_hz >= cfg.fmax)].any()
    # Each band's peak sits at the FFT bin nearest to its independently computed centre (within a bin).
    peaks = bin_hz[fb.argmax(axis=1)]
    assert np.all(np.abs(peaks - centres) <= 8000 / 256)


def test_filterbank_is_a_fresh_copy():
    fb = mel_filterbank(FeatureConfig())
    fb[:] = 0
    assert mel_filterbank(FeatureConfig()).max() > 0


@pytest.mark.parametrize("band", [8, 15, 22, 30, 37])
def test_pure_sine_lands_in_right_mel_band(band):
    cfg = FeatureConfig()
    f = htk_centres(cfg)[band]
    t = np.arange(cfg.clip_samples) / 8000  # fills every frame
    feats = compute_logmel(0.5 * np.sin(2 * np.pi * f * t), cfg)
    assert np.all(feats.argmax(axis=1) == band)


def test_slaney_scale_reference_points_and_inverse():
    assert hz_to_mel(1000.0, "slaney") == pytest.approx(15.0)
    assert hz_to_mel(6400.0, "slaney") == pytest.approx(42.0)
    assert hz_to_mel(500.0, "slaney") == pytest.approx(7.5)
    assert hz_to_mel(1000.0, "htk") == pytest.approx(999.9855, abs=1e-3)
    cfg = FeatureConfig(mel_scale="slaney")
    fb = mel_filterbank(cfg)
    assert fb.shape == (40, 129)
    # Slaney spacing is linear below 1 kHz: the low band peaks are evenly spaced.
    centres = mel_to_hz(np.linspace(hz_to_mel(20.0, "slaney"), hz_to_mel(4000.0, "slaney"), 42), "slaney")
    low = centres[(centres > 0) & (centres < 1000)]
    assert np.allclose(np.diff(low), np.diff(low)[0])


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 20000), st.sampled_from(["htk", "slaney"]))
def test_mel_roundtrip(f, scale):
    assert float(mel_to_hz(hz_to_mel(f, scale), scale)) == pytest.approx(f, rel=1e-9, abs=1e-6)


def test_short_clip_is_padded_at_the_end_with_silence():
    cfg = RAW
    x = np.random.default_rng(3).uniform(-0.5, 0.5, 1000)
    feats = compute_logmel(x, cfg)
    active = np.arange(cfg.num_frames) * cfg.hop_length < x.size  # frames that start inside the clip
    assert active.sum() == 8
    assert np.all(feats[~active] == np.float32(cfg.silence_level))
    assert np.all(feats[active].max(axis=1) > cfg.silence_level + 5)


def test_long_clip_is_cropped_at_the_end():
    x = np.random.default_rng(4).uniform(-0.5, 0.5, 20000)
    full = compute_logmel(x, RAW)
    head = compute_logmel(x[: RAW.clip_samples], RAW)
    np.testing.assert_array_equal(full, head)
    changed = x.copy()
    changed[RAW.clip_samples :] = 0
    np.testing.assert_array_equal(compute_logmel(changed, RAW), full)


def test_silence_gives_silence_level():
    feats = compute_logmel(np.zeros(500), FeatureConfig())
    np.testing.assert_array_equal(feats, np.float32(math.log(1e-6)))


def test_peak_normalization_makes_features_gain_invariant():
    x = np.random.default_rng(5).uniform(-1, 1, 4000)
    peak = FeatureConfig()
    np.testing.assert_allclose(compute_logmel(0.05 * x, peak), compute_logmel(x, peak), atol=1e-5)
    loud, quiet = compute_logmel(x, RAW), compute_logmel(0.1 * x, RAW)
    # Without normalization, -20 dB of gain is log(0.01) on bands well above the floor.
    np.testing.assert_allclose((quiet - loud)[:5], math.log(0.01), atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_mels": 0}, "n_mels must be > 0 (got 0)"),
        ({"hop_length": -4}, "hop_length must be > 0 (got -4)"),
        ({"num_frames": 2.5}, "num_frames must be an integer (got 2.5)"),
        ({"sample_rate": True}, "sample_rate must be an integer (got True)"),
        ({"n_fft": 128}, "n_fft must be >= frame_length (got n_fft=128, frame_length=256)"),
        ({"fmax": 5000.0}, "fmax <= sample_rate / 2 = 4000 (got fmin=20, fmax=5000)"),
        ({"fmin": 3000.0, "fmax": 2000.0}, "(got fmin=3000, fmax=2000)"),
        ({"fmin": -1.0}, "fmin must be >= 0 (got -1.0)"),
        ({"log_offset": 0.0}, "log_offset must be > 0 (got 0.0)"),
        ({"log_offset": float("nan")}, "log_offset must be finite (got nan)"),
        ({"fmin": "low"}, "fmin must be a number (got 'low')"),
        ({"window": "rect"}, "window must be one of hann, hamming (got 'rect')"),
        ({"mel_scale": "bark"}, "mel_scale must be one of htk, slaney (got 'bark')"),
        ({"normalize": "rms"}, "normalize must be one of peak, none (got 'rms')"),
        ({"n_mels": 128}, "n_mels=128 is too many for n_fft=256"),
    ],
)
def test_validation_repeats_bad_value(kwargs, message):
    with pytest.raises(DataError) as info:
        FeatureConfig(**kwargs)
    assert message in str(info.value)


def test_config_is_frozen_and_hashable():
    cfg = FeatureConfig()
    with pytest.raises(AttributeError):
        cfg.n_mels = 10  # type: ignore[misc]
    assert hash(cfg) == hash(FeatureConfig())


def test_dict_and_json_roundtrip(tmp_path):
    cfg = FeatureConfig(n_mels=32, num_frames=50, mel_scale="slaney", fmin=0.0)
    d = cfg.to_dict()
    assert d["format"] == "edgekit.features/1" and d["n_mels"] == 32
    assert FeatureConfig.from_dict(d) == cfg
    assert FeatureConfig.from_dict({"n_mels": 20}) == FeatureConfig(n_mels=20)
    path = cfg.save(tmp_path / "features.json")
    assert json.loads(path.read_text()) == d
    loaded = FeatureConfig.load(path)
    assert loaded == cfg and isinstance(loaded.sample_rate, int) and isinstance(loaded.fmin, float)


def test_from_dict_and_load_errors(tmp_path):
    with pytest.raises(DataError, match="unknown feature config key.*n_melz"):
        FeatureConfig.from_dict({"n_melz": 3})
    with pytest.raises(DataError, match="unsupported feature config format 'v0'"):
        FeatureConfig.from_dict({"format": "v0"})
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"n_mels": 40}))
    with pytest.raises(DataError, match="partial.json.*missing key.*sample_rate"):
        FeatureConfig.load(partial)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json is not valid JSON"):
        FeatureConfig.load(broken)
    bad_value = tmp_path / "bad.json"
    bad_value.write_text(json.dumps({**FeatureConfig().to_dict(), "n_mels": -1}))
    with pytest.raises(DataError, match=r"bad.json.*n_mels must be > 0 \(got -1\)"):
        FeatureConfig.load(bad_value)
    with pytest.raises(DataError, match="absent.json"):
        FeatureConfig.load(tmp_path / "absent.json")


@pytest.mark.parametrize(
    "samples, message",
    [
        (np.zeros((10, 2)), "1-D mono array (got shape (10, 2))"),
        (np.zeros(0), "empty (got 0 samples)"),
        (np.array([0.0, np.inf]), "NaN or infinite"),
        (np.array(["a", "b"]), "numeric (got dtype <U1)"),
    ],
)
def test_compute_logmel_rejects_bad_samples(samples, message):
    with pytest.raises(DataError) as info:
        compute_logmel(samples)
    assert message in str(info.value)
