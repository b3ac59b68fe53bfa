"""DS-CNN builder, registry and size counters."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from edgekit.errors import ConfigError, EdgekitError
from edgekit.models import (
    ARCHITECTURES,
    DEFAULT_RECIPE,
    PARAM_BUDGET,
    build_dscnn,
    build_model,
    count_macs,
    count_params,
)

# A tiny configuration small enough to count by hand:
# input (16, 8) -> conv0 kernel (4, 2), stride 2, valid -> (7, 4, 4)
# one depthwise-separable block keeps (7, 4, 4); pool -> 4; dense -> 10.
TINY = dict(
    input_shape=(16, 8),
    num_classes=10,
    width=4,
    num_blocks=1,
    dropout=0.0,
    first_kernel=(4, 2),
    first_stride=(2, 2),
)


def test_tiny_param_count_matches_hand_count():
    model = build_dscnn(**TINY)
    conv0 = 4 * 2 * 1 * 4  # kh * kw * in_c * out_c, no bias (BN follows)
    dw = 3 * 3 * 4  # depthwise 3x3, multiplier 1, no bias
    pw = 1 * 1 * 4 * 4
    bn = 4 * 4  # gamma, beta, moving mean, moving variance per channel
    dense = 4 * 10 + 10
    assert count_params(model) == conv0 + dw + pw + 3 * bn + dense == 182
    assert count_params(model, trainable_only=True) == conv0 + dw + pw + 3 * 2 * 4 + dense
    assert count_params(model) == model.count_params()


def test_tiny_mac_count_matches_hand_count():
    model = build_dscnn(**TINY)
    oh, ow, c = 7, 4, 4
    assert model.get_layer("conv0").output.shape[1:] == (oh, ow, c)
    conv0 = oh * ow * c * (4 * 2 * 1)
    dw = oh * ow * c * 9
    pw = oh * ow * c * c
    dense = c * 10
    assert count_macs(model) == conv0 + dw + pw + dense == 2392


def test_default_recipe_model_is_within_budget():
    hp = DEFAULT_RECIPE["hparams"]
    model = build_model(DEFAULT_RECIPE["arch"], (48, 40), 10, **hp)   # the front end's frames
    assert count_params(model) <= PARAM_BUDGET
    assert model.input_shape == (None, 48, 40)
    assert model.output_shape == (None, 10)
    # The hand formula for the default layout (4 blocks, valid first conv, stride (2, 4)).
    w, blocks = hp["width"], hp["num_blocks"]
    assert list(hp["first_stride"]) == [2, 4]
    oh, ow = (48 - 10) // 2 + 1, (40 - 4) // 4 + 1
    expected = oh * ow * w * 40 + blocks * (oh * ow * w * 9 + oh * ow * w * w) + w * 10
    assert count_macs(model) == expected


def test_reference_layout_layers():
    model = build_dscnn((49, 10), width=8, num_blocks=2)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:5] == ["InputLayer", "Reshape", "Conv2D", "BatchNormalization", "ReLU"]
    assert kinds.count("DepthwiseConv2D") == 2
    assert kinds.count("BatchNormalization") == 5
    assert kinds[-4:] == ["AveragePooling2D", "Flatten", "Dropout", "Dense"]
    conv0 = model.get_layer("conv0")
    assert conv0.kernel_size == (10, 4) and conv0.strides == (2, 2)
    assert model.get_layer("global_pool").output.shape[1:3] == (1, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 0}, "width must be > 0 (got 0)"),
        ({"width": -3}, "width must be > 0 (got -3)"),
        ({"num_classes": 0}, "num_classes must be > 0 (got 0)"),
        ({"num_blocks": -1}, "num_blocks must be >= 0 (got -1)"),
        ({"dropout": 1.5}, "dropout must be in [0, 1) (got 1.5)"),
        ({"input_shape": (5, 40)}, "larger than the input"),
        ({"input_shape": (64,)}, "input_shape must be (frames, mels)"),
        ({"first_stride": (0, 2)}, "first_stride must be a pair of positive ints"),
        ({"first_padding": "full"}, "first_padding must be 'valid' or 'same' (got 'full')"),
    ],
)
def test_bad_hyperparameters_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError) as info:
        build_dscnn(**kwargs)
    assert message in str(info.value)


def test_unknown_arch_lists_available_names():
    with pytest.raises(ConfigError) as info:
        build_model("resnet9000", (64, 40), 10)
    assert "resnet9000" in str(info.value)
    for name in ARCHITECTURES:
        assert name in str(info.value)
    assert isinstance(info.value, EdgekitError)


def test_unknown_hyperparameter_is_config_error():
    with pytest.raises(ConfigError, match="bad hyper-parameters"):
        build_model("dscnn", (64, 40), 10, widht=8)


def test_build_model_seed_is_reproducible():
    a = build_model("dscnn", (16, 8), 10, seed=3, width=4, num_blocks=1, first_kernel=(4, 2))
    b = build_model("dscnn", (16, 8), 10, seed=3, width=4, num_blocks=1, first_kernel=(4, 2))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert (wa == wb).all()


def test_importing_models_does_not_import_tensorflow():
    code = (
        "import sys, edgekit.models, edgekit.quantize; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- input_norm="time_mean"

def test_time_mean_norm_subtracts_each_channels_mean_over_frames():
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = build_dscnn(**{**TINY, "input_norm": "time_mean"})
    x = np.random.default_rng(0).uniform(0, 15, (3, 16, 8)).astype(np.float32)
    inner = keras.Model(model.input, model.get_layer("minus_time_mean").output)
    np.testing.assert_allclose(inner.predict(x, verbose=0), x - x.mean(axis=1, keepdims=True),
                               atol=1e-5)
    # A gain (a constant added to the log features) and a per-channel tilt do not change the output.
    tilt = np.linspace(-2, 3, 8, dtype=np.float32)
    np.testing.assert_allclose(model.predict(x + 2.5 + tilt, verbose=0),
                               model.predict(x, verbose=0), atol=1e-5)
    plain = build_dscnn(**TINY)
    assert count_params(model) == count_params(plain)
    assert count_macs(model) == count_macs(plain)


def test_bad_input_norm_is_config_error():
    with pytest.raises(ConfigError, match=r"input_norm must be one of none, time_mean \(got 'cmn'\)"):
        build_dscnn(**{**TINY, "input_norm": "cmn"})


def test_time_mean_norm_converts_to_mean_and_sub_bit_exact_with_tflite_micro():
    import keras
    import numpy as np

    from edgekit.firmware_export import read_tflite
    from edgekit.quantize.int8 import quantize_int8
    from edgekit.reference import run_tflm
    from tests.kernel_harness import random_inputs, run_generated_host

    keras.utils.set_random_seed(0)
    model = build_dscnn(**{**TINY, "input_norm": "time_mean"})
    rep = np.random.default_rng(1).uniform(0, 15, (16, 16, 8)).astype(np.float32)
    tflite = quantize_int8(model, rep, num_samples=16)
    ops = [op.opcode for op in read_tflite(tflite).operators]
    assert ops[:2] == ["MEAN", "SUB"], ops
    xs = random_inputs(tflite, 6, seed=3)
    ref = np.asarray(run_tflm(tflite, xs))
    got = run_generated_host(tflite, xs)
    assert np.array_equal(got, ref.reshape(got.shape))
