"""Augmentation (edgekit.data.augment): each transform against a hand-computable property."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from edgekit.data import augment as aug
from edgekit.errors import ConfigError
from edgekit.recipe import load_recipe


def _sine(freq, n, rate=8000):
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


def _peak_hz(x, rate=8000):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.argmax(spec) * rate / x.size


def test_gain_scales_by_the_db_factor():
    x = np.array([0.1, -0.2, 0.05], np.float32)
    np.testing.assert_allclose(aug.apply_gain(x, 6.0), x * 10 ** (6 / 20), rtol=1e-6)
    np.testing.assert_allclose(aug.apply_gain(x, -20.0), x / 10, rtol=1e-6)


def test_time_shift_moves_the_samples():
    x = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(aug.time_shift(x, 2), [0, 0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(aug.time_shift(x, -2), [3, 4, 5])
    np.testing.assert_array_equal(aug.time_shift(x, 0), x)


def test_speed_changes_length_and_pitch():
    y = aug.speed_perturb(_sine(500, 8000), 1.25)
    assert y.size == 6400
    assert abs(_peak_hz(y) - 625) < 3


def test_tempo_changes_length_not_pitch():
    for factor in (0.8, 1.2):
        y = aug.tempo_perturb(_sine(500, 8000), factor)
        assert y.size == round(8000 / factor)
        assert abs(_peak_hz(y[512:-512]) - 500) < 5
        # WSOLA keeps the waveform: the amplitude of the sine stays ~0.3
        assert abs(np.sqrt(2 * np.mean(y[512:-512] ** 2)) - 0.3) < 0.03


def test_vtlp_alpha_one_is_the_identity():
    x = np.random.default_rng(0).standard_normal(3000).astype(np.float32) * 0.1
    np.testing.assert_array_equal(aug.vtlp_warp(x, 1.0), x)


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_vtlp_moves_a_tone_by_alpha(alpha):
    # below the knee (0.85 * Nyquist * min(alpha, 1) / alpha) the warp is f -> alpha * f
    for freq in (500, 2000):
        y = aug.vtlp_warp(_sine(freq, 8000), alpha)
        assert y.size == 8000
        assert abs(_peak_hz(y[512:-512]) - alpha * freq) < 3
        # a tone stays a tone: its amplitude (0.3) within 2 dB
        assert abs(20 * np.log10(np.sqrt(2 * np.mean(y[512:-512] ** 2)) / 0.3)) < 2


def test_vtlp_upper_band_ends_at_nyquist():
    # above the knee the warp is the straight line to Nyquist: for alpha = 1.1 the knee
    # is 0.85 * 4000 / 1.1 = 3090.9 Hz -> 3400 Hz, so 3500 Hz -> 3400 + 600 * 409.1 / 909.1
    y = aug.vtlp_warp(_sine(3500, 8000), 1.1)
    assert abs(_peak_hz(y[512:-512]) - (3400 + 600 * (3500 - 3400 / 1.1) / (4000 - 3400 / 1.1))) < 5


@pytest.mark.parametrize("kind,slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_noise_colour_spectral_slope(kind, slope):
    x = aug.colored_noise(1 << 16, kind, np.random.default_rng(0))
    assert abs(np.sqrt(np.mean(x.astype(np.float64) ** 2)) - 1) < 1e-4
    f, p = welch(x, fs=8000, nperseg=1024)
    band = (f > 50) & (f < 3000)
    fitted = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert abs(fitted - slope) < 0.15, fitted


def test_add_noise_reaches_the_snr():
    x = _sine(300, 4000)
    n = aug.colored_noise(4000, "white", np.random.default_rng(1))
    y = aug.add_noise(x, n, 20.0)
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x).astype(np.float64) ** 2))
    assert abs(snr - 20.0) < 0.01


def test_augment_clip_is_seeded_and_padded():
    cfg = aug.parse_augment({"copies": 1, "shift_ms": 50, "gain_db": 6, "speed": 0.1,
                             "tempo": 0.1, "noise": ["pink", "mix"], "snr_db": [10, 20]})
    x, other = _sine(400, 3000), _sine(900, 2000)
    a = aug.augment_clip(x, cfg, np.random.default_rng([0, 1]), sample_rate=8000, length=7760,
                         pool=[other])
    b = aug.augment_clip(x, cfg, np.random.default_rng([0, 1]), sample_rate=8000, length=7760,
                         pool=[other])
    c = aug.augment_clip(x, cfg, np.random.default_rng([0, 2]), sample_rate=8000, length=7760,
                         pool=[other])
    np.testing.assert_array_equal(a, b)
    assert a.size >= 7760 and not np.array_equal(a[:7760], c[:7760])
    assert np.all(np.abs(a) < 1)


def test_augment_clip_pads_a_short_copy_as_the_features_place_it():
    from edgekit.frontend import FrontendConfig
    from edgekit.frontend.features import FrontendFeatures

    f = FrontendFeatures(FrontendConfig.fsdd(), 49, "centre")           # 7920 samples
    x = _sine(400, 3000)
    cfg = aug.parse_augment({"copies": 1, "gain_db": 6})
    y = aug.augment_clip(x, cfg, np.random.default_rng(0), sample_rate=8000, length=7920,
                         place=f.place)
    assert y.size == 7920 and not y[:2460].any() and not y[5460:].any()   # (7920 - 3000) // 2
    loud = np.abs(x) > 0.1
    g = y[2460:5460][loud] / x[loud]                           # one gain over the clip
    np.testing.assert_allclose(g, g[0], rtol=1e-5)
    assert not np.allclose(g[0], 1.0)
    np.testing.assert_array_equal(f.clip_pcm(y), f.place(f.clip_pcm(y)))  # placed once only
    end = aug.augment_clip(x, cfg, np.random.default_rng(0), sample_rate=8000, length=7920)
    np.testing.assert_array_equal(end[:3000], y[2460:5460])   # default: zeros at the end
    assert not end[3000:].any()


class _Identity:
    """A 'feature computation' that keeps the first 8 samples: copies are checkable by hand."""

    sample_rate = 8000
    clip_samples = 8
    shape = (8, 1)

    def compute(self, samples):
        return np.asarray(samples[:8], np.float32).reshape(8, 1)


def test_augmented_copies_apply_the_gain_per_copy():
    clips = [np.full(8, 0.1, np.float32), np.full(8, 0.2, np.float32)]
    cfg = aug.parse_augment({"copies": 3, "gain_db": 6})
    out = aug.augmented_copies(clips, _Identity(), cfg, seed=5)
    assert out.shape == (3, 2, 8, 1)
    for k in range(3):
        for i, clip in enumerate(clips):
            db = np.random.default_rng([5, 3, i, k]).uniform(-6, 6)
            np.testing.assert_allclose(out[k, i, :, 0], clip * 10 ** (db / 20), rtol=1e-6)
    np.testing.assert_array_equal(out, aug.augmented_copies(clips, _Identity(), cfg, seed=5))


def test_shift_frames_moves_and_fills_with_the_minimum():
    x = np.arange(12, dtype=np.float32).reshape(1, 4, 3) + 1
    y = aug.shift_frames(x, [1])
    np.testing.assert_array_equal(y[0, 1:], x[0, :3])
    np.testing.assert_array_equal(y[0, 0], [1, 1, 1])
    np.testing.assert_array_equal(aug.shift_frames(x, [-1])[0, :3], x[0, 1:])


def test_masks_set_exactly_the_drawn_bands():
    x = np.random.default_rng(0).normal(size=(4, 20, 10)).astype(np.float32) + 5
    y = aug.mask_features(x, np.random.default_rng(3), time_masks=1, time_mask=5,
                          freq_masks=1, freq_mask=3)
    rng = np.random.default_rng(3)   # the same draws, in the documented order
    for i in range(4):
        expect = x[i].copy()
        w, s = rng.integers(0, 6), rng.integers(0, 20)
        expect[s:s + w, :] = x[i].min()
        w, s = rng.integers(0, 4), rng.integers(0, 10)
        expect[:, s:s + w] = x[i].min()
        np.testing.assert_array_equal(y[i], expect)
    assert np.array_equal(aug.mask_features(x, np.random.default_rng(3)), x)


def test_mixup_mixes_features_and_labels_alike():
    x = np.stack([np.full((2, 2), v, np.float32) for v in (0.0, 10.0, 20.0)])
    y = np.array([0, 1, 2])
    xm, ym = aug.mixup_batch(x, y, 3, 0.4, np.random.default_rng(7))
    assert ym.shape == (3, 3)
    np.testing.assert_allclose(ym.sum(axis=1), 1, rtol=1e-6)
    for i in range(3):
        # feature value = 10 * (sum of label weights times the class index)
        np.testing.assert_allclose(xm[i], np.full((2, 2), 10 * ym[i] @ np.arange(3)), rtol=1e-5)


def test_parse_augment_values():
    assert not aug.parse_augment(False).enabled and not aug.parse_augment({}).enabled
    assert aug.parse_augment(True) == aug.AugmentConfig(max_shift=6, freq_masks=1, freq_mask=4)
    cfg = aug.parse_augment({"copies": 2, "noise": "white", "snr_db": 20})
    assert cfg.noise == ("white",) and cfg.snr_db == (20.0, 20.0)


@pytest.mark.parametrize("value,message", [
    ({"colour": 1}, "unknown augment key(s) colour (got colour = 1)"),
    ({"copies": -1}, "augment.copies must be >= 0 (got -1)"),
    ({"copies": 1.5}, "augment.copies must be an integer >= 0 (got 1.5)"),
    ({"copies": 1, "speed": 0.7}, "augment.speed must be in [0, 0.5) (got 0.7)"),
    ({"copies": 1, "vtlp": 0.5}, "augment.vtlp must be in [0, 0.3) (got 0.5)"),
    ({"vtlp": 0.1}, "needs copies > 0"),
    ({"copies": 1, "noise": ["purple"]}, "(got ['purple'])"),
    ({"copies": 1, "snr_db": [30, 10]}, "low <= high (got [30, 10])"),
    ({"gain_db": 3}, "needs copies > 0"),
    ("yes", "augment must be true, false or a table of settings (got 'yes')"),
])
def test_parse_augment_errors_repeat_the_value(value, message):
    with pytest.raises(ConfigError) as exc:
        aug.parse_augment(value)
    assert message in str(exc.value)


def test_recipe_validates_augment():
    with pytest.raises(ConfigError, match=r"recipe: \[train\] augment.mixup must be >= 0 \(got -0.2\)"):
        load_recipe({"train": {"augment": {"mixup": -0.2}}})
    r = load_recipe({"train": {"augment": {"copies": 2, "speed": 0.1}}})
    assert r["train"]["augment"]["speed"] == 0.1
