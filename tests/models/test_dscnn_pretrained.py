"""The DS-CNN started from MLPerf Tiny's KWS model (``init="mlperf-kws"``) and its fixed DCT.

Goldens: TensorFlow's ``tf.signal.mfccs_from_log_mel_spectrograms`` for the DCT,
and the KWS SavedModel run by TensorFlow for the loaded weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ConfigError, DataError
from tests.shared_data import shared_dir

SAVEDMODEL = "models/mlperf-tiny/kws_ref_model_savedmodel"


def test_cepstra_layer_is_tf_signal_mfcc():
    import keras
    import tensorflow as tf

    from edgekit.models.dscnn import build_dscnn, dct_matrix

    logmel = np.random.default_rng(3).normal(-5.0, 3.0, size=(1, 6, 40)).astype(np.float32)
    golden = tf.signal.mfccs_from_log_mel_spectrograms(logmel)[..., :10].numpy()
    np.testing.assert_allclose(logmel @ dct_matrix(40, 10, orthonormal=False).T, golden,
                               rtol=1e-5, atol=1e-4)
    m = build_dscnn((6, 40), num_classes=2, width=4, num_blocks=0, first_kernel=(2, 2),
                    cepstra=10)
    dct = keras.Model(m.input, m.get_layer("dct").output)
    np.testing.assert_allclose(dct(logmel).numpy()[0, :, 0, :], golden[0], rtol=1e-5, atol=1e-4)
    assert not m.get_layer("dct").trainable_weights
    assert m.get_layer("dct_bn").trainable_weights
    with pytest.raises(ConfigError, match=r"cepstra must be an integer in \[0, 40\] \(got 41\)"):
        build_dscnn((6, 40), num_classes=2, cepstra=41)


def test_mlperf_kws_weights_reproduce_the_savedmodel(monkeypatch):
    import tensorflow as tf

    from edgekit.models.dscnn import build_dscnn

    saved = shared_dir(SAVEDMODEL, ["saved_model.pb", "variables/variables.index"])
    monkeypatch.setenv("EDGEKIT_MODELS", str(saved.parent.parent))
    # MLPerf's layout: 49 x 10 MFCC in, 10x4 stride-2 "same" conv, 4 blocks of 64, 12 classes.
    m = build_dscnn((49, 10), num_classes=12, width=64, num_blocks=4, dropout=0.0,
                    first_kernel=(10, 4), first_stride=(2, 2), first_padding="same",
                    init="mlperf-kws", freeze=1)
    x = np.random.default_rng(0).normal(size=(3, 49, 10)) * 20.0 - 40.0
    x = x.astype(np.float32)
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    golden = serve(input_1=tf.constant(x[..., None]))["dense"].numpy()
    np.testing.assert_allclose(m(x).numpy(), golden, atol=1e-5)
    assert not m.get_layer("conv0").trainable and not m.get_layer("conv0_bn").trainable
    assert m.get_layer("block1_dw").trainable
    with pytest.raises(ConfigError, match=r"layer conv0 has weights of shapes \[\(10, 4, 1, 32\)\]"):
        build_dscnn((49, 10), num_classes=10, width=32, first_kernel=(10, 4),
                    init="mlperf-kws")
    with pytest.raises(ConfigError, match=r"needs 10 cepstral coefficients .* \(got 40\)"):
        build_dscnn((49, 40), num_classes=10, init="mlperf-kws")


def test_mlperf_kws_missing_weights_name_the_path(monkeypatch, tmp_path):
    from edgekit.models.dscnn import build_dscnn

    monkeypatch.setenv("EDGEKIT_MODELS", str(tmp_path))
    index = tmp_path / "mlperf-tiny" / "kws_ref_model_savedmodel" / "variables" / "variables.index"
    with pytest.raises(DataError, match="MLPerf Tiny KWS weights not found: " + str(index)):
        build_dscnn((49, 10), num_classes=10, width=64, init="mlperf-kws")
    monkeypatch.delenv("EDGEKIT_MODELS")
    monkeypatch.setenv("EDGEKIT_DATA", str(tmp_path / "data"))
    index = tmp_path / "models" / "mlperf-tiny" / "kws_ref_model_savedmodel" / "variables"
    with pytest.raises(DataError, match="weights not found: " + str(index)):
        build_dscnn((49, 10), num_classes=10, width=64, init="mlperf-kws")
    monkeypatch.delenv("EDGEKIT_DATA")
    with pytest.raises(DataError, match="set EDGEKIT_MODELS"):
        build_dscnn((49, 10), num_classes=10, width=64, init="mlperf-kws")
