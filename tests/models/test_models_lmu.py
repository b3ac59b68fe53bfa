"""LMU layer (discretisation, window form vs recurrence, config) and the ``lmu`` model."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.errors import ConfigError  # noqa: E402
from edgekit.models import ARCHITECTURES, build_model, count_macs, count_params  # noqa: E402
from edgekit.models.lmu import (  # noqa: E402
    build_lmu,
    impulse_response,
    legendre_delay_system,
    lmu_recurrence,
    zoh_discretize,
)
from edgekit.models.registry import DEFAULT_RECIPE, RECIPES  # noqa: E402

SUPPORTED_INT8 = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED",
    "SOFTMAX", "ADD", "SUB", "MUL", "MEAN", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
    "CONCATENATION", "PAD", "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH",
    "QUANTIZE", "DEQUANTIZE", "TRANSPOSE", "STRIDED_SLICE", "BATCH_MATMUL",
    "SQUARED_DIFFERENCE", "RSQRT",
}


@pytest.mark.parametrize("order,theta", [(1, 5.0), (4, 16.0), (8, 32.0), (12, 64.0)])
def test_zoh_matches_scipy_cont2discrete(order, theta):
    from scipy.signal import cont2discrete

    a, b = legendre_delay_system(order, theta)
    ad, bd = zoh_discretize(a, b, 1.0)
    c, d = np.eye(order), np.zeros((order, 1))
    ad_ref, bd_ref, *_ = cont2discrete((a, b, c, d), 1.0, method="zoh")
    np.testing.assert_allclose(ad, ad_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bd, bd_ref, rtol=1e-10, atol=1e-12)


def test_legendre_matrices_known_values():
    a, b = legendre_delay_system(3, 1.0)
    np.testing.assert_array_equal(a, [[-1, -1, -1], [3, -3, -3], [-5, 5, -5]])
    np.testing.assert_array_equal(b[:, 0], [1, -3, 5])


def test_impulse_response_is_powers_of_a_bar():
    ad, bd = zoh_discretize(*legendre_delay_system(6, 20.0))
    h = impulse_response(6, 20.0, 10)
    np.testing.assert_allclose(h[0], bd[:, 0])
    np.testing.assert_allclose(h[7], np.linalg.matrix_power(ad, 7) @ bd[:, 0], rtol=1e-10)


def _layer(steps=24, feat=5, **kw):
    import keras

    from edgekit.models.lmu import LMU

    keras.utils.set_random_seed(1)
    layer = LMU(**{"units": 7, "order": 6, "memory_d": 3, **kw})
    layer.build((None, steps, feat))
    return layer


def test_window_form_equals_step_by_step_recurrence():
    import keras

    layer = _layer(theta=10.0)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(2, 24, 3)).astype(np.float32)
    ref = lmu_recurrence(u, 6, 10.0)
    par = keras.ops.convert_to_numpy(layer.memory(keras.ops.convert_to_tensor(u)))
    assert par.shape == ref.shape == (2, 24, 18)
    np.testing.assert_allclose(par, ref, atol=1e-5 * np.abs(ref).max())


def test_layer_call_equals_streaming_steps():
    import keras

    layer = _layer(activation="tanh")
    x = np.random.default_rng(1).normal(size=(2, 24, 5)).astype(np.float32)
    full = keras.ops.convert_to_numpy(layer(x))
    m = np.zeros((2, 18), np.float32)
    for t in range(24):
        h, m = layer.step(x[:, t], m)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(h), full[:, t], atol=1e-5)


def test_layer_get_config_round_trip():
    from edgekit.models.lmu import LMU

    layer = _layer(theta=12.0, activation=None, use_input_skip=False)
    cfg = layer.get_config()
    clone = LMU.from_config(cfg)
    assert clone.get_config() == cfg
    assert (cfg["units"], cfg["order"], cfg["memory_d"], cfg["theta"]) == (7, 6, 3, 12.0)
    assert cfg["activation"] is None and cfg["use_input_skip"] is False


def test_model_get_config_round_trip_and_save(tmp_path):
    import keras

    model = build_lmu((16, 8), 4, units=8, order=4, memory_d=2)
    clone = keras.Model.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    x = np.random.default_rng(0).normal(size=(3, 16, 8)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"order": 0}, r"order must be > 0 \(got 0\)"),
    ({"order": 2.5}, r"order must be > 0 \(got 2.5\)"),
    ({"memory_d": -1}, r"memory_d must be > 0 \(got -1\)"),
    ({"units": 0}, r"units must be > 0 \(got 0\)"),
    ({"theta": -3.0}, r"theta must be > 0 \(got -3.0\)"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\) \(got 1.0\)"),
    ({"num_classes": 1}, r"num_classes must be >= 2 \(got 1\)"),
    ({"input_shape": (0, 8)}, r"input_shape must be positive"),
])
def test_bad_hyperparameters(kwargs, match):
    args = {"input_shape": (16, 8), "num_classes": 4, **kwargs}
    with pytest.raises(ConfigError, match=match):
        build_lmu(**args)


def test_layer_and_system_validation():
    from edgekit.models.lmu import LMU

    with pytest.raises(ConfigError, match=r"order must be > 0 \(got -2\)"):
        LMU(4, order=-2)
    with pytest.raises(ConfigError, match=r"theta must be > 0 \(got 0\)"):
        legendre_delay_system(4, 0)
    with pytest.raises(ConfigError, match="unknown activation"):
        LMU(4, activation="nope")
    with pytest.raises(ConfigError, match="bad hyper-parameters"):
        build_model("lmu", (16, 8), 4, nonsense=1)


def test_registry_and_recipe():
    assert "lmu" in ARCHITECTURES
    assert set(RECIPES["lmu"]) == set(DEFAULT_RECIPE) and RECIPES["lmu"]["arch"] == "lmu"
    model = build_model("lmu", (64, 40), 10, **RECIPES["lmu"]["hparams"])
    assert count_params(model) == 16_378
    layer = model.get_layer("lmu")
    # projections per step + the full causal memory convolution
    per_step = 40 * 16 + 16 * 12 * 64 + 40 * 64
    assert count_macs(model) == 64 * per_step + 64 * 64 * 16 * 12 + 64 * 10
    assert layer.count_macs() == 64 * per_step + 64 * 64 * 16 * 12


@pytest.fixture(scope="module")
def trained(fsdd_dataset):
    from edgekit.models.train import train

    ds = fsdd_dataset
    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(len(ds.x_train))[:900])
    model = build_model("lmu", ds.input_shape, 10, seed=0, units=32, order=8, memory_d=8)
    result = train(model, ds.x_train[idx], ds.y_train[idx], epochs=5, batch_size=32,
                   learning_rate=1e-2, seed=0, validation=(ds.x_test, ds.y_test),
                   progress=False)
    return model, result, ds, idx


def test_lmu_learns_well_above_chance(trained):
    _, result, _, _ = trained
    assert result.history["loss"][-1] < 0.6 * result.history["loss"][0]
    assert result.float_accuracy > 0.5  # chance 0.1


def test_lmu_int8_ops_and_generated_c_bit_exact(trained):
    from tests.kernel_harness import run_generated_host

    from edgekit.firmware_export import lower_graph
    from edgekit.firmware_export.tflite_reader import read_tflite
    from edgekit.quantize import quantize_int8
    from edgekit.quantize.evaluate import op_list, tflite_accuracy
    from edgekit.reference import run_tflm

    model, result, ds, idx = trained
    b = quantize_int8(model, ds.x_train[idx], num_samples=100)
    ops = op_list(b)
    assert set(ops) <= SUPPORTED_INT8, ops
    assert "DEPTHWISE_CONV_2D" in ops and "PAD" in ops  # window form of the memory
    graph = read_tflite(b)
    lower_graph(graph)
    for t in graph.tensors:
        assert t.dtype in ("int8", "int32"), t
    acc = tflite_accuracy(b, ds.x_test, ds.y_test, runtime="tflm")
    assert acc >= result.float_accuracy - 0.05
    x = np.random.default_rng(3).integers(-128, 128, size=(4, 64, 40)).astype(np.int8)
    np.testing.assert_array_equal(run_generated_host(b, x), run_tflm(b, x))
