"""LMUFormer builder: config, validation, registry, learning, int8 and host C bit-exactness."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.errors import ConfigError  # noqa: E402
from edgekit.models import build_lmuformer, build_model, count_macs, count_params  # noqa: E402
from edgekit.models.registry import ARCHITECTURES, DEFAULT_RECIPE, RECIPES  # noqa: E402

from test_models_lmu import SUPPORTED_INT8  # noqa: E402

TINY = dict(input_shape=(16, 8), num_classes=4, dim=8, order=4, memory_d=2, patch_kernel=4,
            patch_stride=2, mlp_ratio=2, dropout=0.0)


def test_shapes_and_hand_counts():
    model = build_lmuformer(**TINY)
    assert model.output_shape == (None, 4)
    assert model.get_layer("patch_conv").output.shape == (None, 8, 8)
    patch = 4 * 8 * 8
    lmu = 8 * 2 + 2 + 8 * 8 + 8 * 8 + 8  # w_u, b_u, w_m (md*d x units), w_x, b
    mix = 8 * 16 + 16 * 8
    bn = 4 * (8 + 8 + 16 + 8)
    assert count_params(model) == patch + lmu + mix + bn + 8 * 4 + 4
    t = 8
    macs = (t * 8 * 4 * 8  # patch conv
            + t * (8 * 2 + 8 * 8 + 8 * 8) + t * t * 8  # LMU projections + memory
            + 2 * t * 8 * 16 + 8 * 4)  # mixer + classifier
    assert count_macs(model) == macs


def test_recipe_size_and_registry():
    assert {"lmuformer", "spiking_lmuformer"} <= set(ARCHITECTURES)
    for arch in ("lmuformer", "spiking_lmuformer"):
        assert set(RECIPES[arch]) == set(DEFAULT_RECIPE) and RECIPES[arch]["arch"] == arch
        model = build_model(arch, (64, 40), 10, **RECIPES[arch]["hparams"])
        # spiking: + the memory input's batch norm (4 x memory_d = 64) and the
        # memory's (4 x memory_d x order = 512)
        assert count_params(model) == {"lmuformer": 27_626,
                                       "spiking_lmuformer": 28_202}[arch] <= 30_000


def test_get_config_round_trip():
    import keras

    for spiking in (False, True):
        model = build_lmuformer(**TINY, spiking=spiking)
        clone = keras.Model.from_config(model.get_config())
        assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("kwargs,match", [
    ({"dim": 0}, r"dim must be > 0 \(got 0\)"),
    ({"order": -1}, r"order must be > 0 \(got -1\)"),
    ({"memory_d": 0}, r"memory_d must be > 0 \(got 0\)"),
    ({"patch_kernel": 1}, r"patch_kernel must be >= patch_stride \(got 1 < 2\)"),
    ({"patch_stride": 3}, r"multiple of patch_stride \(got 16 frames, stride 3\)"),
    ({"mlp_ratio": 0}, r"mlp_ratio must be > 0 \(got 0\)"),
    ({"theta": 0}, r"theta must be > 0 \(got 0\)"),
    ({"dropout": -0.1}, r"dropout must be in \[0, 1\) \(got -0.1\)"),
    ({"bn_momentum": 1.0}, r"bn_momentum must be in \(0, 1\) \(got 1.0\)"),
    ({"num_classes": 1}, r"num_classes must be >= 2 \(got 1\)"),
])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_lmuformer(**{**TINY, **kwargs})


@pytest.fixture(scope="module")
def trained(fsdd_dataset):
    from edgekit.models.train import train

    ds = fsdd_dataset
    idx = np.sort(np.random.default_rng(0).permutation(len(ds.x_train))[:900])
    model = build_model("lmuformer", ds.input_shape, 10, seed=0, dim=24, order=6, memory_d=8)
    result = train(model, ds.x_train[idx], ds.y_train[idx], epochs=5, batch_size=32,
                   learning_rate=1e-2, seed=0, validation=(ds.x_test, ds.y_test),
                   progress=False)
    return model, result, ds, idx


def test_learns_well_above_chance(trained):
    _, result, _, _ = trained
    assert result.history["loss"][-1] < 0.6 * result.history["loss"][0]
    assert result.float_accuracy > 0.6  # chance 0.1


def test_int8_ops_accuracy_and_generated_c_bit_exact(trained):
    from tests.kernel_harness import run_generated_host

    from edgekit.firmware_export import lower_graph
    from edgekit.firmware_export.tflite_reader import read_tflite
    from edgekit.quantize import quantize_int8
    from edgekit.quantize.evaluate import op_list, tflite_accuracy
    from edgekit.reference import run_tflm

    model, result, ds, idx = trained
    b = quantize_int8(model, ds.x_train[idx], num_samples=100)
    assert set(op_list(b)) <= SUPPORTED_INT8, op_list(b)
    graph = read_tflite(b)
    lower_graph(graph)
    assert all(t.dtype in ("int8", "int32") for t in graph.tensors)
    assert tflite_accuracy(b, ds.x_test, ds.y_test, runtime="tflm") >= result.float_accuracy - 0.05
    x = np.random.default_rng(4).integers(-128, 128, size=(4, 64, 40)).astype(np.int8)
    np.testing.assert_array_equal(run_generated_host(b, x), run_tflm(b, x))
