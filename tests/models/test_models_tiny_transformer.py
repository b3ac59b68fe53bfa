"""Tiny transformer: size, hyper-parameter checks, config round trip, learning
on an FSDD subset, the exact int8 op list, and bit-exact generated C."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.errors import ConfigError  # noqa: E402
from edgekit.models import (  # noqa: E402
    ARCHITECTURES,
    DEFAULT_RECIPE,
    build_model,
    build_tiny_transformer,
    count_macs,
    count_params,
)
from edgekit.models.registry import RECIPES  # noqa: E402

PRESET = RECIPES["tiny_transformer"]["hparams"]

# The int8 graph of the preset (batch norm, 2 heads, 1 block), in order.
PRESET_OPS = [
    "RESHAPE", "AVERAGE_POOL_2D", "RESHAPE",                     # frame pooling
    "FULLY_CONNECTED", "ADD",                                    # embedding (+BN), + positions
    "FULLY_CONNECTED", "RESHAPE", "TRANSPOSE",                   # queries
    "FULLY_CONNECTED", "RESHAPE", "TRANSPOSE",                   # keys
    "BATCH_MATMUL", "SOFTMAX",                                   # q k^T / sqrt(dk)
    "FULLY_CONNECTED", "RESHAPE", "TRANSPOSE",                   # values
    "BATCH_MATMUL", "TRANSPOSE", "RESHAPE", "FULLY_CONNECTED",   # a v, merge heads, out
    "ADD", "MUL", "ADD",                                         # residual, batch norm
    "FULLY_CONNECTED", "FULLY_CONNECTED", "ADD", "MUL", "ADD",   # FFN, residual, batch norm
    "MEAN", "FULLY_CONNECTED", "SOFTMAX",                        # pooled head
]
SUPPORTED_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED",
    "SOFTMAX", "ADD", "SUB", "MUL", "MEAN", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
    "CONCATENATION", "PAD", "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH",
    "QUANTIZE", "DEQUANTIZE", "TRANSPOSE", "STRIDED_SLICE", "BATCH_MATMUL",
    "SQUARED_DIFFERENCE", "RSQRT",
}
FLOAT_ONLY_OPS = {"DEQUANTIZE", "QUANTIZE", "NEG", "SHAPE", "GATHER", "REDUCE_PROD"}


def _opcodes(tflite: bytes) -> list[str]:
    from edgekit.firmware_export import read_tflite

    return [op.opcode for op in read_tflite(tflite).operators]


def _check_deployable(tflite: bytes) -> None:
    """Only supported int8 ops, all activations int8, static shapes, lowers."""
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import lower_graph

    graph = read_tflite(tflite)
    ops = {op.opcode for op in graph.operators}
    assert ops <= SUPPORTED_OPS and not ops & FLOAT_ONLY_OPS, sorted(ops)
    for op in graph.operators:
        for t in graph.op_inputs(op) + graph.op_outputs(op):
            if t is not None and not t.is_const:
                assert t.dtype == "int8", (op.opcode, t.name, t.dtype)
                assert all(int(d) > 0 for d in t.shape), (op.opcode, t.name, t.shape)
    lower_graph(graph)  # raises UnsupportedOpError / a lowering error otherwise


# ---------------------------------------------------------------- size


def test_preset_param_count_matches_hand_count():
    model = build_model("tiny_transformer", (64, 40), 10, **PRESET)
    d, f, t, mels = PRESET["embed_dim"], PRESET["ffn_dim"], 64 // PRESET["frame_pool"], 40
    assert PRESET["num_blocks"] == 1 and PRESET["norm"] == "batch"
    embed = mels * d + 4 * d  # no bias, batch norm (gamma, beta, mean, var)
    pos = t * d
    attn = 4 * (d * d + d)  # q, k, v, out (H * dk == d)
    ffn = d * f + f + f * d + d
    norms = 2 * 4 * d
    head = d * 10 + 10
    assert count_params(model) == embed + pos + attn + ffn + norms + head == model.count_params()
    assert count_params(model) <= 8_000


def test_preset_mac_count_matches_hand_count():
    model = build_model("tiny_transformer", (64, 40), 10, **PRESET)
    d, f, t, h = PRESET["embed_dim"], PRESET["ffn_dim"], 64 // PRESET["frame_pool"], 2
    dk = d // h
    expected = (t * 40 * d  # frame embedding
                + 4 * t * d * d + 2 * h * t * t * dk  # projections, q k^T and a v
                + 2 * t * d * f  # FFN
                + d * 10)
    assert count_macs(model) == expected


def test_registry_entries():
    assert ARCHITECTURES["tiny_transformer"] is build_tiny_transformer
    recipe = RECIPES["tiny_transformer"]
    assert set(recipe) == set(DEFAULT_RECIPE) and recipe["arch"] == "tiny_transformer"
    model = build_model("tiny_transformer", (64, 40), 10, seed=0, **recipe["hparams"])
    assert model.input_shape == (None, 64, 40) and model.output_shape == (None, 10)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=0), "num_heads must be > 0 (got 0)"),
    (dict(num_heads=1.5), "num_heads must be > 0 (got 1.5)"),
    (dict(embed_dim=-4), "embed_dim must be > 0 (got -4)"),
    (dict(num_blocks=0), "num_blocks must be > 0 (got 0)"),
    (dict(ffn_dim=True), "ffn_dim must be > 0 (got True)"),
    (dict(key_dim=0), "key_dim must be > 0 (got 0)"),
    (dict(frame_pool=0), "frame_pool must be > 0 (got 0)"),
    (dict(frame_pool=5), "frame_pool must divide the 64 frames (got 5)"),
    (dict(norm="group"), "got 'group'"),
    (dict(activation="gelu"), "got 'gelu'"),
    (dict(dropout=1.0), "dropout must be in [0, 1) (got 1.0)"),
    (dict(bn_momentum=0), "bn_momentum must be in (0, 1) (got 0.0)"),
    (dict(num_classes=1), "num_classes must be >= 2 (got 1)"),
    (dict(input_shape=(64,)), "input_shape must be (frames, mels)"),
])
def test_bad_hyper_parameters_raise_config_error(kwargs, message):
    kw = dict(input_shape=(64, 40), num_classes=10)
    kw.update(kwargs)
    with pytest.raises(ConfigError) as err:
        build_tiny_transformer(**kw)
    assert message in str(err.value)


def test_bad_layer_arguments_raise_config_error():
    from edgekit.models.layers_tiny_transformer import (DecomposedLayerNormalization,
                                                        PositionalEmbedding,
                                                        StaticSelfAttention)

    with pytest.raises(ConfigError, match=r"num_heads must be > 0 \(got 0\)"):
        StaticSelfAttention(0, 8)
    with pytest.raises(ConfigError, match=r"key_dim must be > 0 \(got -1\)"):
        StaticSelfAttention(2, -1)
    with pytest.raises(ConfigError, match=r"output_dim must be > 0 \(got 0\)"):
        StaticSelfAttention(2, 8, output_dim=0)
    with pytest.raises(ConfigError, match=r"initializer_stddev must be > 0 \(got 0\)"):
        PositionalEmbedding(initializer_stddev=0)
    with pytest.raises(ConfigError, match=r"epsilon must be > 0 \(got -1\)"):
        DecomposedLayerNormalization(epsilon=-1)
    with pytest.raises(ConfigError, match="unknown architecture|bad hyper-parameters"):
        build_model("tiny_transformer", (64, 40), 10, num_layers=2)


# ---------------------------------------------------------------- config round trip


@pytest.mark.parametrize("kwargs", [dict(), dict(norm="layer", num_heads=1, num_blocks=2)])
def test_get_config_round_trip(kwargs, tmp_path):
    import keras

    from edgekit.models.layers_tiny_transformer import (DecomposedLayerNormalization,
                                                        PositionalEmbedding,
                                                        StaticSelfAttention)

    for layer in (StaticSelfAttention(3, 5, output_dim=7, use_bias=False, name="a"),
                  PositionalEmbedding(initializer_stddev=0.1, name="p"),
                  DecomposedLayerNormalization(epsilon=1e-5, name="n")):
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg

    keras.utils.set_random_seed(3)
    model = build_tiny_transformer((32, 12), 4, embed_dim=8, ffn_dim=8, **kwargs)
    x = np.random.default_rng(0).normal(-5, 2, (3, 32, 12)).astype(np.float32)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    path = tmp_path / "tt.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- deployability


@pytest.mark.parametrize("kwargs", [
    dict(norm="layer"),
    dict(norm="none", num_heads=4, num_blocks=2, activation="hard_swish"),
    dict(num_heads=1, activation="relu6"),
])
def test_variants_convert_to_supported_int8_ops(kwargs):
    """Untrained variants (random calibration): every op lowers; no float islands."""
    import keras

    from edgekit.quantize.int8 import quantize_int8

    keras.utils.set_random_seed(1)
    model = build_tiny_transformer((64, 40), 10, embed_dim=16, ffn_dim=16, **kwargs)
    rep = np.random.default_rng(1).normal(-9, 3, (16, 64, 40)).astype(np.float32)
    tflite = quantize_int8(model, rep, num_samples=16)
    _check_deployable(tflite)
    ops = _opcodes(tflite)
    if kwargs.get("norm") == "layer":
        assert {"MEAN", "SQUARED_DIFFERENCE", "RSQRT"} <= set(ops)


@pytest.fixture(scope="module")
def trained(fsdd_dataset):
    """The preset trained for a few epochs on a class-balanced FSDD subset."""
    import keras

    from edgekit.models.train import evaluate_float, train
    from edgekit.quantize.int8 import quantize_int8

    ds = fsdd_dataset
    rng = np.random.default_rng(0)
    sub = np.sort(rng.permutation(len(ds.y_train))[:900])
    keras.utils.set_random_seed(0)
    model = build_model("tiny_transformer", ds.input_shape, ds.num_classes, seed=0, **PRESET)
    train(model, ds.x_train[sub], ds.y_train[sub], epochs=10, batch_size=32, seed=0,
          learning_rate=3e-3, progress=False)
    float_acc = evaluate_float(model, ds.x_test, ds.y_test)
    tflite = quantize_int8(model, ds.x_train[sub], num_samples=100, seed=0)
    return model, tflite, float_acc


def test_learns_on_fsdd_subset(trained, fsdd_dataset):
    from edgekit.quantize.evaluate import tflite_accuracy

    _, tflite, float_acc = trained
    assert float_acc >= 0.6, f"float test accuracy {float_acc:.3f} (chance 0.1)"
    int8_acc = tflite_accuracy(tflite, fsdd_dataset.x_test, fsdd_dataset.y_test,
                               runtime="tflm")
    assert int8_acc >= 0.6, f"int8 test accuracy {int8_acc:.3f}"
    assert int8_acc >= float_acc - 0.05, (float_acc, int8_acc)


def test_trained_int8_op_list_is_exact_and_supported(trained):
    _, tflite, _ = trained
    assert _opcodes(tflite) == PRESET_OPS
    _check_deployable(tflite)


def test_generated_host_c_is_bit_exact_with_tflite_micro(trained, fsdd_dataset):
    from edgekit.quantize.evaluate import input_quantization, quantize_input
    from edgekit.reference import run_tflm
    from tests.kernel_harness import random_inputs, run_generated_host

    _, tflite, _ = trained
    scale, zp = input_quantization(tflite)
    real = quantize_input(fsdd_dataset.x_test[:8], scale, zp)
    noise = random_inputs(tflite, 8, seed=5)
    xs = np.concatenate([noise, np.asarray(real, np.int8).reshape((-1,) + noise.shape[1:])])
    ref = np.asarray(run_tflm(tflite, xs))
    got = run_generated_host(tflite, xs)
    assert np.array_equal(got, ref.reshape(got.shape)), np.abs(
        got.astype(int) - ref.reshape(got.shape).astype(int)).max()
