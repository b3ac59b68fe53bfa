"""Training: learning on a small real FSDD subset, determinism, saving, bad input."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from edgekit.errors import ConfigError, DataError, ModelError
from edgekit.models import build_model, evaluate_float, load_model, save_model, train

SMALL = dict(width=32, num_blocks=4, dropout=0.1)


@pytest.fixture(scope="module")
def small_fsdd(fsdd_root):
    from edgekit.data import load_fsdd

    # 80 clips per digit for training (round-robin over the 6 speakers),
    # 20 per digit of the official test split.
    train_ds = load_fsdd(fsdd_root, limit_per_class=80)
    test_ds = load_fsdd(fsdd_root, limit_per_class=20)
    return train_ds, test_ds


@pytest.fixture(scope="module")
def trained_small(small_fsdd):
    train_ds, test_ds = small_fsdd
    model = build_model("dscnn", train_ds.x_train.shape[1:], 10, seed=0, **SMALL)
    result = train(
        model,
        train_ds.x_train,
        train_ds.y_train,
        epochs=12,
        batch_size=32,
        learning_rate=1e-2,
        seed=0,
        validation=(test_ds.x_test, test_ds.y_test),
        progress=False,
    )
    return model, result, train_ds, test_ds


def test_small_subset_learns_well_above_chance(trained_small):
    model, result, train_ds, test_ds = trained_small
    assert len(train_ds.y_train) == 800 and len(test_ds.y_test) == 200
    assert result.epochs == 12
    assert len(result.history["loss"]) == 12
    assert result.history["loss"][-1] < 0.6 * result.history["loss"][0]
    assert result.train_accuracy > 0.8
    assert result.float_accuracy > 0.6  # chance is 0.1
    assert result.float_accuracy == pytest.approx(
        evaluate_float(model, test_ds.x_test, test_ds.y_test)
    )


def test_small_subset_int8_matches_float(trained_small):
    from edgekit.quantize import op_list, quantize_int8, tflite_accuracy

    model, result, train_ds, test_ds = trained_small
    tfl = quantize_int8(model, train_ds.x_train, num_samples=200)
    acc8 = tflite_accuracy(tfl, test_ds.x_test, test_ds.y_test)
    assert acc8 >= result.float_accuracy - 0.03
    assert set(op_list(tfl)) <= {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "AVERAGE_POOL_2D",
        "MEAN",
        "RESHAPE",
        "FULLY_CONNECTED",
        "SOFTMAX",
    }


def test_save_model_writes_keras_and_features(trained_small, tmp_path):
    from edgekit.data import FeatureConfig

    model, _, train_ds, test_ds = trained_small
    model_path, feat_path = save_model(model, train_ds.feature_config, tmp_path / "out")
    assert model_path.name == "model.keras" and model_path.is_file()
    assert feat_path.name == "features.json" and feat_path.parent == model_path.parent
    assert FeatureConfig.load(feat_path) == train_ds.feature_config
    json.loads(feat_path.read_text())
    again = load_model(model_path.parent)
    x = test_ds.x_test[:8]
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def _tiny_run(x, y):
    model = build_model("dscnn", (16, 8), 3, seed=5, width=4, num_blocks=1, first_kernel=(4, 2))
    train(model, x, y, epochs=2, batch_size=8, seed=5, progress=False)
    return model.get_weights()


def test_training_is_deterministic():
    rng = np.random.default_rng(0)
    x = rng.normal(-8, 3, size=(40, 16, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    for a, b in zip(_tiny_run(x, y), _tiny_run(x, y)):
        np.testing.assert_array_equal(a, b)


def test_head_epochs_train_the_last_layer_first():
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(-8, 3, size=(40, 16, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    model = build_model("dscnn", (16, 8), 3, seed=5, width=4, num_blocks=1, first_kernel=(4, 2))
    model.get_layer("conv0").trainable = False          # a layer the model itself keeps fixed
    flags = [layer.trainable for layer in model.layers]
    start = {w.path: w.numpy().copy() for w in model.weights}
    seen = []

    class Snap(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append({w.path: w.numpy().copy() for w in model.weights})

    result = train(model, x, y, epochs=2, head_epochs=2, batch_size=8, seed=5, progress=False,
                   callbacks=[Snap()])
    assert result.epochs == 4 and len(result.history["loss"]) == 4 and len(seen) == 4
    head = {w.path for w in model.layers[-1].weights}
    moved = lambda snap: {k for k in snap if not np.array_equal(snap[k], start[k])}  # noqa: E731
    assert moved(seen[1]) == head                       # after the head phase: only the head
    assert any(k.startswith("block1") for k in moved(seen[3]))   # then the body too
    assert not any(k.startswith("conv0/") for k in moved(seen[3]))
    assert [layer.trainable for layer in model.layers] == flags


def test_label_smoothing_is_the_compiled_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(-8, 3, size=(24, 16, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=24)
    model = build_model("dscnn", (16, 8), 3, seed=5, width=4, num_blocks=1, first_kernel=(4, 2),
                        dropout=0.0)
    train(model, x, y, epochs=1, batch_size=8, seed=5, progress=False, label_smoothing=0.3)
    p = model.predict(x, verbose=0).astype(np.float64)
    target = np.full((24, 3), 0.1) + 0.7 * np.eye(3)[y]     # (1 - 0.3) one-hot + 0.3 / 3
    by_hand = float(np.mean(-np.sum(target * np.log(p), axis=1)))
    loss = model.evaluate(x, np.eye(3, dtype=np.float32)[y], verbose=0)[0]
    assert loss == pytest.approx(by_hand, rel=1e-4)
    with pytest.raises(ConfigError, match="label_smoothing must be in"):
        train(model, x, y, epochs=1, label_smoothing=1.0)
    with pytest.raises(ConfigError, match="head_epochs must be"):
        train(model, x, y, epochs=1, head_epochs=-1)


def test_bad_training_inputs():
    model = build_model("dscnn", (16, 8), 3, width=4, num_blocks=1, first_kernel=(4, 2))
    x = np.zeros((10, 16, 8), np.float32)
    y = np.zeros(10, np.int64)
    with pytest.raises(DataError, match=r"model expects \(16, 8\)"):
        train(model, np.zeros((10, 8, 16), np.float32), y, epochs=1)
    with pytest.raises(DataError, match="labels must have shape"):
        train(model, x, y[:5], epochs=1)
    with pytest.raises(DataError, match=r"labels must be in \[0, 2\]"):
        train(model, x, np.full(10, 7), epochs=1)
    with pytest.raises(DataError, match="NaN"):
        train(model, np.full((10, 16, 8), np.nan, np.float32), y, epochs=1)
    with pytest.raises(ConfigError, match="epochs must be > 0 .got 0."):
        train(model, x, y, epochs=0)
    with pytest.raises(ConfigError, match="learning_rate"):
        train(model, x, y, epochs=1, learning_rate=0)
    with pytest.raises(ConfigError, match="save"):
        save_model(model, {"n_mels": 40}, "/tmp/never-written")
    with pytest.raises(ModelError):
        load_model("/nonexistent/model.keras")
