"""The zoo ``lstm``: Keras 3 LSTM -> TFLite's fused integer LSTM -> ek_lstm_s8.

The preset's network (:func:`edgekit.models.lstm.build_lstm`, the recipe's
hyper-parameters) on a short input (16 frames x 8 features instead of the
front end's 48 x 40, so the conversion and QEMU run stay short), untrained:
the op list, the lowering and bit-exactness do not depend on the weights.
It must convert to one UNIDIRECTIONAL_SEQUENCE_LSTM (not a WHILE loop, not
unrolled into FULLY_CONNECTED / LOGISTIC / TANH / MUL), lower to
``ek_lstm_s8`` and run bit-exact with tflite_micro on the host and in QEMU
(every call from the reset LSTM state, as Keras computes it).
"""

import numpy as np
import pytest

from edgekit.errors import ModelError

SHAPE = (16, 8)


@pytest.fixture(scope="module")
def lstm_tflite():
    from edgekit.models.registry import build_model, default_recipe
    from edgekit.quantize.int8 import quantize_int8

    hp = default_recipe("lstm")["hparams"]
    model = build_model("lstm", SHAPE, 10, seed=0, **hp)
    calib = np.random.default_rng(0).uniform(0.0, 15.6, (32, *SHAPE)).astype(np.float32)
    return model, quantize_int8(model, calib, num_samples=32)


def test_lstm_counts(lstm_tflite):
    from edgekit.models.registry import count_macs, default_recipe

    model, _ = lstm_tflite
    units = default_recipe("lstm")["hparams"]["units"]
    frames, feats = SHAPE
    assert count_macs(model) == frames * 4 * units * (feats + units) + units * 10


def test_lstm_is_the_fused_op(lstm_tflite):
    from edgekit.firmware_export.codegen import lower_graph
    from edgekit.firmware_export.tflite_reader import read_tflite

    _, tfl = lstm_tflite
    g = read_tflite(tfl)
    ops = [op.opcode for op in g.operators]
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1, ops
    assert not {"WHILE", "LOGISTIC", "TANH", "MUL"} & set(ops), ops   # Rescaling folded
    lowered = lower_graph(g)
    assert [low.kernel for op, low in zip(g.operators, lowered)
            if op.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM"] == ["ek_lstm_s8"]
    lstm = g.operators[ops.index("UNIDIRECTIONAL_SEQUENCE_LSTM")]
    assert g.tensors[lstm.inputs[19]].dtype == "int16"
    assert g.tensors[lstm.inputs[18]].is_variable and g.tensors[lstm.inputs[19]].is_variable


@pytest.mark.qemu
def test_lstm_host_and_qemu_bit_exact(lstm_tflite, tmp_path):
    from edgekit.verify import check_qemu, export_c, tflm_reference
    from tests.kernel_harness import run_generated_host

    _, tfl = lstm_tflite
    xs = np.random.default_rng(1).integers(-128, 128, (4, 1, *SHAPE)).astype(np.int8)
    want = tflm_reference(tfl, xs)
    got = run_generated_host(tfl, xs).reshape(4, -1)
    assert np.array_equal(got.view(np.uint8), np.asarray(want).reshape(4, -1))
    export = export_c(tfl, tmp_path / "src")
    check = check_qemu(export.src_dir, tmp_path / "fw", "cortex-m4", xs.reshape(4, -1), want,
                       timeout=300)
    assert check.bit_exact


def test_twin_computes_the_keras_model(lstm_tflite):
    from edgekit.models.lstm import tf_keras_twin

    model, _ = lstm_tflite
    x = np.random.default_rng(2).uniform(0.0, 15.6, (3, *SHAPE)).astype(np.float32)
    want = np.asarray(model(x, training=False))
    got = np.concatenate([np.asarray(tf_keras_twin(model)(x[i:i + 1])) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_twin_refuses_other_layers():
    import keras

    from edgekit.models.lstm import has_lstm, tf_keras_twin

    inp = keras.Input((6, 3))
    h = keras.layers.Conv1D(4, 3)(inp)
    m = keras.Model(inp, keras.layers.LSTM(2)(h))
    assert has_lstm(m)
    with pytest.raises(ModelError, match=r"Conv1D\) has no tf_keras twin"):
        tf_keras_twin(m)


@pytest.mark.parametrize("hop", [1, 4])
def test_streaming_form_equals_the_window_model(lstm_tflite, hop, tmp_path):
    """The zoo lstm a hop of frames per call: from a reset, the last hop's scores are the
    int8 window model's, bit for bit (tflite_micro), and the generated C (LSTM state
    kept between calls) is bit-exact with tflite_micro on the host."""
    from edgekit.firmware_export.tflite_reader import read_tflite
    from edgekit.quantize.lstm_stream import lstm_stream_tflite
    from edgekit.reference import run_tflm, run_tflm_stream
    from edgekit.verify import verify

    _, tfl = lstm_tflite
    stream = lstm_stream_tflite(tfl, hop=hop)
    graph = read_tflite(stream)
    assert len(graph.state_pairs()) == 1
    clips = np.random.default_rng(hop).integers(-128, 128, (3, *SHAPE)).astype(np.int8)
    window = run_tflm(tfl, clips[:, None]).reshape(3, -1)
    calls = clips.reshape(3 * SHAPE[0] // hop, hop * SHAPE[1])
    per_clip = SHAPE[0] // hop
    resets = np.arange(len(calls)) % per_clip == 0
    got = run_tflm_stream(stream, graph, calls, resets)
    assert np.array_equal(got[per_clip - 1::per_clip], window)
    assert not np.array_equal(got[per_clip - 2::per_clip][:3], window)
    v = verify(stream, tmp_path, "cortex-m4", calls[:per_clip + 2], stream=True,
               lstm_state="keep", litert=False, qemu=hop == 4)
    assert v.host.bit_exact and (hop != 4 or v.qemu.bit_exact)
    assert np.array_equal(v.host.outputs.view(np.int8)[per_clip - 1], window[0])


@pytest.mark.qemu
def test_build_streaming_lstm(lstm_tflite, tmp_path):
    """``edgekit build --arch lstm --streaming``'s stage on the small model: the streaming
    C bit-exact with tflite_micro (host and QEMU) and every clip's final decision the
    int8 window model's."""
    from edgekit.emulator import get_target
    from edgekit.stream_build import build_streaming

    model, tfl = lstm_tflite
    r = np.random.default_rng(5)
    x = r.uniform(0.0, 15.6, (4, *SHAPE)).astype(np.float32)
    rep = build_streaming(model, x, x, np.arange(4) % 10, tfl, tmp_path, get_target("cortex-m4"))
    assert rep["form"] == "lstm" and rep["hop_frames"] == 1 and rep["steps"] == SHAPE[0]
    assert rep["bit_exact"] and rep["host_calls"] == 4 * SHAPE[0]
    assert rep["decisions_equal_window"] == 1.0 and rep["max_abs_diff_vs_window"] == 0
    assert rep["push_matches"]
