"""Spiking LMUFormer: LIF neurons, exact spikes, spike rates, int8 and host C bit-exactness."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.errors import ConfigError  # noqa: E402
from edgekit.models import build_model, build_spiking_lmuformer, spike_rates  # noqa: E402

from test_models_lmu import SUPPORTED_INT8  # noqa: E402


def _lif(**kw):
    from edgekit.models.spiking import LIF

    return LIF(**kw)


def _lif_reference(x, threshold=1.0, decay=0.5, reset="hard", clip=3.0):
    """Step-by-step numpy LIF."""
    x = np.clip(x, -clip, clip)
    v = np.zeros(x[:, 0].shape)
    out = np.zeros_like(x)
    for t in range(x.shape[1]):
        v = decay * v + x[:, t]
        s = (v > threshold).astype(x.dtype)
        out[:, t] = s
        v = v * (1 - s) if reset == "hard" else v - threshold * s
    return out


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_lif_matches_reference_and_is_binary(reset):
    import keras

    x = np.random.default_rng(0).normal(size=(4, 20, 6)).astype(np.float32) * 1.5
    layer = _lif(threshold=0.8, decay=0.7, reset=reset)
    s = keras.ops.convert_to_numpy(layer(x))
    assert set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_array_equal(s, _lif_reference(x, 0.8, 0.7, reset))
    # streaming steps give the same spikes
    v = np.zeros((4, 6), np.float32)
    for t in range(20):
        st, v = layer.step(layer.clip_current(x[:, t]), v)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(st), s[:, t])


def test_surrogate_gradient_flows():
    import tensorflow as tf

    x = tf.Variable(np.random.default_rng(1).normal(size=(2, 8, 4)).astype(np.float32))
    layer = _lif()
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x, training=True))
    g = tape.gradient(y, x).numpy()
    assert np.all(np.isfinite(g)) and np.abs(g).sum() > 0
    # forward value in training equals the exact spikes
    np.testing.assert_array_equal(layer(x, training=True).numpy(), layer(x).numpy())


def test_lif_config_round_trip_and_validation():
    from edgekit.models.spiking import LIF

    layer = _lif(threshold=0.5, decay=0.25, reset="soft", alpha=2.0, current_clip=None)
    cfg = layer.get_config()
    assert LIF.from_config(cfg).get_config() == cfg
    with pytest.raises(ConfigError, match=r"threshold must be > 0 \(got 0\)"):
        LIF(threshold=0)
    with pytest.raises(ConfigError, match=r"decay must be in \[0, 1\] \(got 1.5\)"):
        LIF(decay=1.5)
    with pytest.raises(ConfigError, match=r"reset must be one of .* \(got 'x'\)"):
        LIF(reset="x")
    with pytest.raises(ConfigError, match=r"current_clip must be > 0 or None \(got -1\)"):
        LIF(current_clip=-1)
    with pytest.raises(ConfigError, match=r"decay must be in \[0, 1\] \(got -0.1\)"):
        build_spiking_lmuformer((16, 8), 4, dim=8, decay=-0.1)
    with pytest.raises(ConfigError, match=r"rate_penalty must be >= 0 \(got -0.5\)"):
        LIF(rate_penalty=-0.5)
    with pytest.raises(ConfigError, match=r"rate_penalty must be >= 0 \(got -1\)"):
        build_spiking_lmuformer((16, 8), 4, dim=8, rate_penalty=-1)
    with pytest.raises(ConfigError, match=r"spiking_mixer_input must be true or false "
                                          r"\(got 'yes'\)"):
        build_spiking_lmuformer((16, 8), 4, dim=8, spiking_mixer_input="yes")
    from edgekit.models import build_lmuformer

    with pytest.raises(ConfigError, match=r"need spiking=True \(got True, False, 0.0\)"):
        build_lmuformer((16, 8), 4, dim=8, spiking_memory_output=True)
    from edgekit.models.lmu import LMU

    with pytest.raises(ConfigError, match=r"m_lif must be a dict of LIF arguments or None "
                                          r"\(got True\)"):
        LMU(8, m_lif=True)


def test_rate_penalty_adds_the_mean_spike_rate_to_the_loss_in_training_only():
    import keras

    x = np.random.default_rng(2).normal(size=(3, 10, 5)).astype(np.float32) * 2
    layer = _lif(rate_penalty=0.25)
    s = keras.ops.convert_to_numpy(layer(x, training=True))
    assert len(layer.losses) == 1
    # hand computed: 0.25 times the reference spikes' mean
    np.testing.assert_allclose(float(layer.losses[0]), 0.25 * _lif_reference(x).mean(),
                               rtol=1e-6)
    assert 0 < s.mean() < 1
    layer(x)   # inference: no penalty
    assert len(layer.losses) == 0
    model = build_spiking_lmuformer((16, 8), 4, dim=8, order=4, memory_d=2, rate_penalty=0.1,
                                    spiking_memory_output=True, spiking_mixer_input=True)
    model(np.zeros((1, 16, 8), np.float32), training=True)
    assert len(model.losses) == 6      # patch, u, m, lmu, mix_in and mix neurons
    x = np.random.default_rng(4).normal(size=(5, 16, 8)).astype(np.float32) * 3
    rates = spike_rates(model, x)
    assert set(rates) == {"patch_act", "lmu/u_act", "lmu/m_act", "lmu_act", "mix_in_act",
                          "mix_act", "__all__"}
    assert (rates["lmu/m_act"]["neurons"], rates["lmu/m_act"]["steps"]) == (8, 8)
    assert rates["lmu/m_act"]["fractional"] == 0.0


def test_model_config_round_trip():
    import keras

    for extra in ({}, dict(spiking_memory_output=True, spiking_mixer_input=True,
                           rate_penalty=0.01)):
        model = build_spiking_lmuformer((16, 8), 4, dim=8, order=4, memory_d=2, **extra)
        assert keras.Model.from_config(model.get_config()).get_config() == model.get_config()


@pytest.fixture(scope="module")
def trained(fsdd_dataset):
    from edgekit.models.train import train

    ds = fsdd_dataset
    idx = np.sort(np.random.default_rng(0).permutation(len(ds.x_train))[:900])
    model = build_model("spiking_lmuformer", ds.input_shape, 10, seed=0, dim=24, order=6,
                        memory_d=8, patch_kernel=8, patch_stride=4)
    result = train(model, ds.x_train[idx], ds.y_train[idx], epochs=5, batch_size=32,
                   learning_rate=1e-2, seed=0, validation=(ds.x_test, ds.y_test),
                   progress=False)
    return model, result, ds, idx


def test_learns_and_reports_spike_rates(trained):
    model, result, ds, _ = trained
    assert result.float_accuracy > 0.5  # chance 0.1
    rates = spike_rates(model, ds.x_test[:50])
    # the memory input's and the memory's neurons (inside the LMU layer) too
    names = ("patch_act", "lmu/u_act", "lmu/m_act", "lmu_act", "mix_in_act", "mix_act")
    assert set(rates) == {*names, "__all__"}
    for name in names:
        assert 0.0 < rates[name]["rate"] < 1.0
        assert rates[name]["fractional"] == 0.0  # exactly 0/1
        assert rates[name]["steps"] == 16


def test_int8_exact_spikes_ops_and_generated_c_bit_exact(trained):
    import keras
    from tests.kernel_harness import run_generated_host

    from edgekit.firmware_export import lower_graph
    from edgekit.firmware_export.tflite_reader import read_tflite
    from edgekit.quantize import quantize_int8
    from edgekit.quantize.evaluate import (
        op_list,
        output_quantization,
        tflite_accuracy,
        tflite_predict,
    )
    from edgekit.reference import run_tflm

    model, result, ds, idx = trained
    b = quantize_int8(model, ds.x_train[idx], num_samples=100)
    ops = op_list(b)
    assert set(ops) <= SUPPORTED_INT8 and "SUB" not in ops, set(ops)
    lower_graph(read_tflite(b))
    assert tflite_accuracy(b, ds.x_test, ds.y_test, runtime="tflm") >= result.float_accuracy - 0.05
    x = np.random.default_rng(5).integers(-128, 128, size=(3, 64, 40)).astype(np.int8)
    np.testing.assert_array_equal(run_generated_host(b, x), run_tflm(b, x))
    # every layer reading spikes runs event-driven, the LMU memory (depthwise) included
    from edgekit.firmware_export.passes.spike_sparse import sparse_layers
    sparse = sorted(v["opcode"] for v in sparse_layers(read_tflite(b)).values())
    # (W_u, W_m and W_x are FULLY_CONNECTED; mix1 and mix2 are 1x1 CONV_2D)
    assert sparse == ["CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                      "FULLY_CONNECTED", "FULLY_CONNECTED"], sparse
    _check_lif_steps_quantized_alike(b, ds.x_test[:20])
    # the int8 spikes of the first LIF layer are exactly 0/1
    probe = keras.Model(model.input, model.get_layer("patch_act").output)
    pb = quantize_int8(probe, ds.x_train[idx], num_samples=50)
    scale, zp = output_quantization(pb)
    q = tflite_predict(pb, ds.x_test[:10], runtime="tflm")
    assert set(np.unique(q)) <= {-128, 127} and (scale, zp) == (pytest.approx(1 / 255), -128)


def _check_lif_steps_quantized_alike(tflite, x):
    """Every LIF tensor has one quantisation at all 16 steps; every step's spikes are 0/1."""
    import warnings

    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.quantize.passes.unify_lif_quantization import STEP_ROLES, lif_chains
    from edgekit.quantize.evaluate import quantize_input

    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    graph = model.subgraphs[0]

    def quant(t):
        q = graph.tensors[t].quantization
        return float(q.scale[0]), int(q.zeroPoint[0])

    chains = lif_chains(model, graph)
    # 6 LIF layers (patch, LMU memory input, memory, LMU output, mixer input, mixer),
    # 64 frames / stride 4
    assert [len(c) for c in chains] == [16] * 6
    for chain in chains:
        for role in STEP_ROLES:
            ts = [st[role] for st in chain if st[role] is not None
                  and not (role == "v" and st["dr_in"] is None)]   # first step: v is the current
            assert len(ts) >= 15, role
            assert len({quant(t) for t in ts}) == 1, role
        # the first step's membrane is the current: quantised like the other membranes
        assert quant(chain[0]["v"]) == quant(chain[1]["v"])
        assert quant(chain[0]["s"]) == pytest.approx((1 / 255, -128))
    # the spikes of every step of every layer, in LiteRT: exactly 0 or 1 (scale 1/255,
    # zero point -128: codes -128 and 127)
    with warnings.catch_warnings():   # "intended for debugging purposes only"
        warnings.simplefilter("ignore")
        interp = Interpreter(model_content=bytes(tflite), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    det = interp.get_input_details()[0]
    seen = set()
    for clip in x:
        interp.set_tensor(det["index"], quantize_input(clip[None], *det["quantization"]))
        interp.invoke()
        for chain in chains:
            for st in chain:
                seen |= set(np.unique(interp.get_tensor(st["s"])).tolist())
    assert sorted(seen) == [-128, 127]
