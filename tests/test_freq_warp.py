"""Feature-domain VTLP (edgekit.data.freq_warp) against hand-computed warps."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data import augment as aug
from edgekit.data.freq_warp import (channel_centres_hz, mel_centres_hz, warp_channels,
                                    warp_source_channels)
from edgekit.errors import ConfigError
from edgekit.frontend.config import FrontendConfig
from edgekit.frontend.features import FrontendFeatures


def _batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 3, 10)).astype(np.float32)


def test_alpha_one_is_the_identity():
    x = _batch()
    np.testing.assert_array_equal(warp_channels(x, [1.0, 1.0]), x)
    np.testing.assert_array_equal(warp_channels(x, [1.0, 1.0], mel_centres_hz(125, 3800, 10)), x)


def test_a_channel_moves_where_the_hand_warp_says():
    # centres 1..10 (the channel index + 1), f_hi 0.85: alpha 0.8 has its knee at
    # 0.85 * 10 = 8.5 (output 6.8).  Output centre 4 reads input 4 / 0.8 = 5 (channel 4);
    # output centre 8 reads 8.5 + (8 - 6.8) * (10 - 8.5) / (10 - 6.8) = 9.0625 (channel 8.0625);
    # the top centre 10 stays.
    x = _batch()
    y = warp_channels(x, [0.8, 1.0])
    np.testing.assert_allclose(y[0, :, 3], x[0, :, 4], rtol=1e-6)
    np.testing.assert_allclose(y[0, :, 7], 0.9375 * x[0, :, 8] + 0.0625 * x[0, :, 9], rtol=1e-5)
    np.testing.assert_allclose(y[0, :, 9], x[0, :, 9], rtol=1e-6)
    np.testing.assert_array_equal(y[1], x[1])
    # alpha 1.25 (knee 8.5 / 1.25 = 6.8): output centre 5 reads 4 (channel 3); below the
    # lowest centre the edge channel is held: output centre 1 reads 0.8 -> channel 0.
    y = warp_channels(x, [1.25, 1.25])
    np.testing.assert_allclose(y[:, :, 4], x[:, :, 3], rtol=1e-6)
    np.testing.assert_allclose(y[:, :, 0], x[:, :, 0], rtol=1e-6)


def test_mel_centres_are_equally_spaced_in_mels():
    c = mel_centres_hz(125.0, 3800.0, 40)
    mel = 1127.0 * np.log(1 + np.concatenate([[125.0], c, [3800.0]]) / 700.0)
    np.testing.assert_allclose(np.diff(mel), (mel[-1] - mel[0]) / 41, rtol=1e-9)
    fe = FrontendFeatures(FrontendConfig.fsdd())
    np.testing.assert_allclose(channel_centres_hz(fe), c)


def test_mel_warp_moves_a_high_channel_by_the_log_of_alpha():
    # f / alpha is 1127 ln((700 + f / alpha) / (700 + f)) mels from f; the channel position is
    # interpolated linearly in Hz between two centres, which is within 0.01 channel of mels here
    c = mel_centres_hz(125.0, 3800.0, 40)
    src = warp_source_channels(0.9, c)
    spacing = (1127.0 * np.log((700 + 3800.0) / (700 + 125.0))) / 41
    f = c[25]  # below the knee (0.85 * top)
    expected = 1127.0 * np.log((700 + f / 0.9) / (700 + f)) / spacing
    assert abs(src[25] - 25 - expected) < 0.01


def test_parse_freq_warp():
    cfg = aug.parse_augment({"freq_warp": 0.15})
    assert cfg.freq_warp == 0.15 and cfg.features and cfg.enabled and not cfg.waveform
    with pytest.raises(ConfigError, match=r"augment.freq_warp must be in \[0, 0.3\) \(got 0.4\)"):
        aug.parse_augment({"freq_warp": 0.4})
    with pytest.raises(ConfigError, match=r"augment.freq_warp must be >= 0 \(got -0.1\)"):
        aug.parse_augment({"freq_warp": -0.1})
    with pytest.raises(ConfigError, match=r"must be > 0 \(got 0.0\)"):
        warp_source_channels(0.0, [1.0, 2.0])

