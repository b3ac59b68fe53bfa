"""The DS-CNN's fixed cepstral lifter layer against scipy's DCT."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ConfigError


def test_dscnn_lifter_keeps_the_first_dct_coefficients():
    from scipy.fft import dct, idct

    from edgekit.models.dscnn import build_dscnn, lifter_matrix

    v = np.random.default_rng(1).normal(size=12)
    c = dct(v, norm="ortho")
    c[5:] = 0.0
    np.testing.assert_allclose(lifter_matrix(12, 5) @ v, idct(c, norm="ortho"), atol=1e-5)
    np.testing.assert_allclose(lifter_matrix(12, 12), np.eye(12), atol=1e-6)
    import keras

    m = build_dscnn((6, 12), num_classes=2, width=4, num_blocks=0, first_kernel=(2, 2),
                    first_stride=(1, 1), lifter=5)
    x = np.random.default_rng(2).normal(size=(1, 6, 12)).astype(np.float32)
    inner = keras.Model(m.input, m.get_layer("lifter_channel").output)
    expected = idct(np.where(np.arange(12) < 5, dct(x[0], norm="ortho", axis=1), 0.0),
                    norm="ortho", axis=1)
    np.testing.assert_allclose(inner(x).numpy()[0, :, :, 0], expected, atol=1e-4)
    assert not m.get_layer("lifter").trainable_weights
    with pytest.raises(ConfigError, match=r"lifter must be an integer in \[0, 12\] \(got 13\)"):
        build_dscnn((6, 12), num_classes=2, lifter=13)
