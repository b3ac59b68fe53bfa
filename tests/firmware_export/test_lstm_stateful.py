"""Stateful LSTM: C generated with ``lstm_state="keep"`` against tflite_micro invoked the same way.

The LSTM's hidden and cell state (TFLite variable tensors, in the generated
C's static state buffers) carry over from one ``edgekit_invoke`` to the next
until ``edgekit_reset()``, as tflite_micro's variable tensors persist
between ``invoke()`` calls until ``reset()``.  The harnesses, built with
``-DEDGEKIT_RESET_EVERY=K``, reset before every K-th case; the reference
(:func:`edgekit.verify.io.run_tflm_io` with ``resets``) resets tflite_micro
before the same cases.  Models: a random one-op int8 LSTM
(:func:`tests.lstm_models.lstm_tflite`) and a Keras LSTM converted by TF
2.21 (``tests/fixtures/keras_lstm6_int8.tflite``).
"""

from pathlib import Path

import numpy as np
import pytest

from edgekit.emulator import build_firmware, build_host, run_host, run_qemu
from edgekit.errors import ConfigError
from edgekit.firmware_export.codegen import generate
from edgekit.firmware_export.tflite_reader import read_tflite
from edgekit.verify.io import join_outputs, run_tflm_io
from tests.kernel_harness import kernel_sets
from tests.lstm_models import lstm_tflite

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVERY = 4          # a stream of 4 calls, then edgekit_reset() / interpreter.reset()


def _stream(graph, n: int, seed: int) -> np.ndarray:
    """``n`` cases of int8 input bytes; the second stream repeats the first's first calls."""
    x = graph.tensors[graph.inputs[0]]
    xs = np.random.default_rng(seed).integers(-128, 128, (n, x.num_elements)).astype(np.int8)
    if n >= EVERY + 2:
        xs[EVERY:EVERY + 2] = xs[:2]
    return xs.view(np.uint8)


def _reference(tfl, graph, xs, resets):
    return join_outputs(run_tflm_io(tfl, graph, xs, resets))


def _resets(n):
    return np.arange(n) % EVERY == 0


def _host(tfl, tmp: Path, xs, *, kernels="optimized", lstm_state="keep", every=EVERY):
    graph = read_tflite(tfl)
    generate(graph, tmp / "src", kernels=kernels, lstm_state=lstm_state)
    exe = build_host(tmp / "src", tmp / "host", defines={"EDGEKIT_RESET_EVERY": every})
    return run_host(exe, xs).reshape(len(xs), -1)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_lstm_stateful_host(seed, tmp_path):
    tfl = lstm_tflite(batch=1, steps=3, n_in=5, n_cell=7, seed=300 + seed, cell_clip=0.0)
    graph = read_tflite(tfl)
    n = 2 * EVERY + 1
    xs = _stream(graph, n, seed)
    want = _reference(tfl, graph, xs, _resets(n))
    stateless = _reference(tfl, graph, xs, None)
    # the state is carried: later calls of a stream differ from the stateless run...
    assert not np.array_equal(want[1:EVERY], stateless[1:EVERY])
    # ...and a reset restarts it: the second stream repeats the first's outputs
    assert np.array_equal(want[EVERY:EVERY + 2], want[:2])
    for kernels in kernel_sets(tfl):
        got = _host(tfl, tmp_path / kernels, xs, kernels=kernels)
        assert np.array_equal(got, want), (kernels, np.argwhere(got != want)[:5].tolist())


@pytest.mark.qemu
def test_keras_lstm_stateful_host_and_qemu(tmp_path):
    tfl = (FIXTURES / "keras_lstm6_int8.tflite").read_bytes()
    graph = read_tflite(tfl)
    n = 2 * EVERY + 2
    xs = _stream(graph, n, 7)
    want = _reference(tfl, graph, xs, _resets(n))
    assert not np.array_equal(want, _reference(tfl, graph, xs, None))
    got = _host(tfl, tmp_path, xs)
    assert np.array_equal(got, want), np.argwhere(got != want)[:5].tolist()
    assert "#define EDGEKIT_STATEFUL      1" in (tmp_path / "src" / "model.h").read_text()
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4",
                        defines={"EDGEKIT_RESET_EVERY": EVERY})
    run = run_qemu(fw.elf, xs, target="cortex-m4")
    assert np.array_equal(run.outputs.reshape(n, -1), want)


def test_default_still_resets_every_call(tmp_path):
    tfl = (FIXTURES / "keras_lstm6_int8.tflite").read_bytes()
    graph = read_tflite(tfl)
    xs = _stream(graph, EVERY + 2, 3)
    got = _host(tfl, tmp_path, xs, lstm_state="reset", every=0)
    assert np.array_equal(got, _reference(tfl, graph, xs, None))
    assert "#define EDGEKIT_STATEFUL      0" in (tmp_path / "src" / "model.h").read_text()


def test_bad_lstm_state_refused(tmp_path):
    graph = read_tflite((FIXTURES / "keras_lstm6_int8.tflite").read_bytes())
    with pytest.raises(ConfigError, match=r"lstm_state must be one of .*got 'stateful'"):
        generate(graph, tmp_path, lstm_state="stateful")


def test_resets_length_checked():
    tfl = (FIXTURES / "keras_lstm6_int8.tflite").read_bytes()
    graph = read_tflite(tfl)
    with pytest.raises(ConfigError, match=r"one flag per case \(3\) \(got 2\)"):
        run_tflm_io(tfl, graph, _stream(graph, 3, 0), np.ones(2, bool))


@pytest.mark.parametrize("hop", [1, 2])
def test_stateful_hops_equal_the_window_lstm(hop, tmp_path):
    """A stateful LSTM fed ``hop`` frames per call gives the window LSTM's outputs, bit for bit.

    Same weights and quantization (the writer draws them independently of
    the number of steps); the window model is run by tflite_micro from the
    reset state on whole 8-frame clips, the streaming one is the generated
    C, reset at the start of each clip (streaming, one hop per call).
    """
    steps, clips = 8, 3
    kw = dict(batch=1, n_in=5, n_cell=7, seed=411, cell_clip=0.0)
    window = lstm_tflite(steps=steps, **kw)
    stream = lstm_tflite(steps=hop, **kw)
    x = np.random.default_rng(hop).integers(-128, 128, (clips, 1, steps, 5)).astype(np.int8)
    want = run_tflm_io(window, read_tflite(window), x.reshape(clips, -1).view(np.uint8))[0]
    calls = x.reshape(clips * steps // hop, hop * 5).view(np.uint8)
    got = _host(stream, tmp_path, calls, every=steps // hop)
    assert np.array_equal(got.view(np.int8).reshape(want.shape), want)
    # without the kept state only each clip's first hop would agree
    reset = _host(stream, tmp_path / "reset", calls, lstm_state="reset", every=0)
    assert not np.array_equal(reset, got)


@pytest.mark.qemu
def test_verify_api_stateful(tmp_path):
    from edgekit.verify import verify

    tfl = (FIXTURES / "keras_lstm6_int8.tflite").read_bytes()
    graph = read_tflite(tfl)
    xs = _stream(graph, 5, 21)
    v = verify(tfl, tmp_path, "cortex-m4", xs, lstm_state="keep")
    assert v.host.bit_exact and v.qemu.bit_exact
    # one stream: the reference is tflite_micro reset once, not before every case
    assert np.array_equal(v.reference, _reference(tfl, graph, xs, np.arange(5) == 0))
    assert not np.array_equal(v.reference, _reference(tfl, graph, xs, None))
    assert v.host.max_diff_litert is None


def test_lstm_macs_by_hand():
    """4 gates x (n_in + n_cell) x n_cell per step and batch row (hand count)."""
    from edgekit.budget.layers import op_macs
    from edgekit.firmware_export.tflite_reader import read_tflite
    from tests.lstm_models import lstm_tflite

    g = read_tflite(lstm_tflite(batch=2, steps=5, n_in=3, n_cell=7, seed=0))
    (op,) = [o for o in g.operators if o.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert op_macs(g, op) == 2 * 5 * 4 * 7 * (3 + 7)
