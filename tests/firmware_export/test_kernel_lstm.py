"""UNIDIRECTIONAL_SEQUENCE_LSTM golden tests: edgekit's generated C against tflite_micro.

Random tiny integer LSTMs (:func:`tests.lstm_models.lstm_tflite`: hidden
sizes 1..16, 1..8 steps, batch 1 or 2, batch- or time-major, cell state
scales 2^-15..2^-11, with and without cell clipping), each over several
inputs; the hidden and cell state (TFLite variable tensors, kept in the
generated C's static state buffers) carry over from one time step to the
next and start from zero at every call (tflite_micro reset before each
invoke, as :func:`edgekit.reference.run_tflm` does).  Two models converted
by TF 2.21 from a Keras ``LSTM`` (``tests/fixtures/keras_lstm*.tflite``,
made by ``scripts/lstm_fixtures.py``) check the converter's form: the
fused op, lowered to ``ek_lstm_s8``, not unrolled.
"""

from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.codegen import lower_graph
from edgekit.firmware_export.tflite_reader import read_tflite
from edgekit.reference import run_tflm
from tests.kernel_harness import kernel_sets, run_generated_host
from tests.lstm_models import lstm_tflite

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = range(4)


def _case(seed):
    r = np.random.default_rng(4100 + seed)
    return dict(batch=int(r.choice([1, 1, 2])), steps=int(r.choice([1, 2, 5, 8])),
                n_in=int(r.integers(1, 9)), n_cell=int(r.integers(1, 17)), seed=seed,
                time_major=bool(r.random() < 0.25), cell_power=int(r.integers(-15, -10)),
                cell_clip=float(r.choice([0.0, 10.0, 0.6])))


def _inputs(tflite, n, seed):
    g = read_tflite(tflite)
    x = g.tensors[g.inputs[0]]
    return np.random.default_rng(seed).integers(-128, 128, (n, *x.shape)).astype(np.int8)


@pytest.mark.parametrize("seed", SEEDS)
def test_lstm_bit_exact(seed):
    c = _case(seed)
    tfl = lstm_tflite(**c)
    xs = _inputs(tfl, 4, seed)
    want = run_tflm(tfl, xs)
    assert kernel_sets(tfl) == ("optimized", "reference")
    for kernels in kernel_sets(tfl):
        got = run_generated_host(tfl, xs, kernels=kernels)
        assert want.shape == got.shape
        assert np.array_equal(want, got), (kernels, c, np.argwhere(want != got)[:5].tolist())
    # every call starts from the reset state (Keras' stateless LSTM; TFLM reset before each
    # invoke): the same input twice gives the same output, within a call the state carries
    again = run_generated_host(tfl, np.stack([xs[0], xs[1], xs[0]]))
    assert np.array_equal(again[0], again[2]) and np.array_equal(again[0], want[0])


@pytest.mark.parametrize("name", ["keras_lstm6_int8.tflite", "keras_lstm5_seq_int8.tflite"])
def test_converted_keras_lstm(name):
    tfl = (FIXTURES / name).read_bytes()
    g = read_tflite(tfl)
    ops = [op.opcode for op in g.operators]
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    assert "WHILE" not in ops and "LOGISTIC" not in ops      # fused, not unrolled
    kernels = {low.kernel for low in lower_graph(g)}
    assert "ek_lstm_s8" in kernels
    lstm = g.operators[ops.index("UNIDIRECTIONAL_SEQUENCE_LSTM")]
    assert g.tensors[lstm.inputs[19]].dtype == "int16"       # int16 cell state
    xs = _inputs(tfl, 6, 11)
    assert np.array_equal(run_tflm(tfl, xs), run_generated_host(tfl, xs))


def test_lstm_projection_refused():
    from edgekit.quantize.passes.graph import load_model, pack_model

    m = load_model(lstm_tflite(batch=1, steps=2, n_in=3, n_cell=4, seed=0))
    op = m.subgraphs[0].operators[0]
    op.inputs[16] = op.inputs[5]                            # a [4, 4] int8 "projection"
    with pytest.raises(UnsupportedOpError, match=r"projection tensors are not supported"):
        lower_graph(read_tflite(pack_model(m)))


def test_lstm_int8_cell_state_refused():
    from ai_edge_litert import schema_py_generated as s

    from edgekit.quantize.passes.graph import load_model, pack_model

    m = load_model(lstm_tflite(batch=1, steps=2, n_in=3, n_cell=4, seed=0))
    sg = m.subgraphs[0]
    sg.tensors[sg.operators[0].inputs[19]].type = s.TensorType.INT8
    with pytest.raises(UnsupportedOpError, match=r"cell state must be int16.*got int8"):
        lower_graph(read_tflite(pack_model(m)))
