"""TFLM-compatible mode: bit-exact with ``audio_preprocessor_int8.tflite`` in tflite_micro.

The golden reference is TFLM's micro_speech front end as a model of signal
ops, run by ``tflite_micro`` one 30 ms window (480 samples) per call, the
windows 20 ms (320 samples) apart, i.e. overlapping by 160 samples -- how
micro_speech feeds it.  The interpreter is never reset: the spectral
subtraction op keeps its noise estimate in a persistent kernel buffer (not a
variable tensor) between calls, and PCAN reads that estimate.

The parameters of :meth:`FrontendConfig.tflm_micro` and the tables our
Python computes are compared with what the model file stores (custom
options of each op, as flexbuffers, and its constant tensors).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.frontend import FrontendConfig, HostFrontend
from edgekit.frontend import tables


def _model(tflite: bytes):
    """``(ops, consts)``: ``ops`` = [(custom name, options dict, input ids)], consts by name."""
    import flatbuffers.flexbuffers as fx
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    sg = m.subgraphs[0]
    dtypes = {7: np.int16, 2: np.int32}
    consts = {}
    for t in sg.tensors:
        data = m.buffers[t.buffer].data
        if data is not None and t.type in dtypes:
            consts[t.name.decode()] = np.frombuffer(bytes(data), dtypes[t.type])
    ops = []
    for op in sg.operators:
        code = m.operatorCodes[op.opcodeIndex]
        name = code.customCode.decode() if code.customCode else None
        opts = fx.Loads(bytes(op.customOptions)) if op.customOptions is not None else None
        ops.append((name, opts, [int(i) for i in op.inputs]))
    names = [t.name.decode() for t in sg.tensors]
    return ops, consts, names


def _op(ops, name):
    found = [o for o in ops if o[0] == name]
    assert len(found) == 1, f"{name}: {len(found)} ops"
    return found[0]


def test_tflm_micro_preset_has_the_model_parameters(tflite_bytes_and_model):
    ops, consts, names = tflite_bytes_and_model
    c = FrontendConfig.tflm_micro()
    assert _op(ops, "SignalWindow")[1] == {"shift": c.window_bits}
    assert _op(ops, "SignalRfft")[1]["fft_length"] == c.fft_size
    fb = tables.mel_filterbank(c.fft_size, c.sample_rate, c.num_channels, c.lower_band_hz,
                               c.upper_band_hz)
    assert _op(ops, "SignalEnergy")[1] == {"start_index": fb.start_bin, "end_index": fb.end_bin}
    assert _op(ops, "SignalFilterBank")[1] == {"num_channels": c.num_channels}
    even, even_om, odd, odd_om = c.smoothing_q
    assert _op(ops, "SignalFilterBankSpectralSubtraction")[1] == {
        "num_channels": c.num_channels, "smoothing": even, "one_minus_smoothing": even_om,
        "alternate_smoothing": odd, "alternate_one_minus_smoothing": odd_om,
        "smoothing_bits": c.smoothing_bits, "min_signal_remaining": c.min_signal_remaining_q,
        "clamping": c.clamping, "spectral_subtraction_bits": c.spectral_subtraction_bits}
    assert _op(ops, "SignalPCAN")[1] == {"snr_shift": c.snr_shift}
    assert _op(ops, "SignalFilterBankLog")[1] == {
        "input_correction_bits": c.correction_bits, "output_scale": 1 << c.log_scale_bits}
    # the int8 mapping: (log * 256 + 333) // 666 - 128, clipped to [-128, 127]
    assert int(consts["Const1"][0]) == c.output_multiplier
    assert int(consts["Cast_3"][0]) == c.output_divisor // 2
    assert int(consts["Const_1"][0]) == c.output_divisor
    assert int(consts["Const_2"][0]) == c.output_zero_point


def test_python_tables_equal_the_model_constants(tflite_bytes_and_model):
    ops, consts, names = tflite_bytes_and_model
    c = FrontendConfig.tflm_micro()
    window = consts[names[_op(ops, "SignalWindow")[2][1]]]
    np.testing.assert_array_equal(tables.hann_window(c.window_size, c.window_bits), window)
    fb = tables.mel_filterbank(c.fft_size, c.sample_rate, c.num_channels, c.lower_band_hz,
                               c.upper_band_hz)
    fb_inputs = _op(ops, "SignalFilterBank")[2][1:]
    for got, tid in zip((fb.weights, fb.unweights, fb.freq_starts, fb.weight_starts, fb.widths),
                        fb_inputs):
        np.testing.assert_array_equal(got, consts[names[tid]])
    lut = consts[names[_op(ops, "SignalPCAN")[2][2]]]
    np.testing.assert_array_equal(
        tables.pcan_lut(c.pcan_strength, c.pcan_offset, c.pcan_gain_bits, c.pcan_input_bits), lut)


def test_log_table_matches_tflm_entries():
    """A few entries of TFLM's ``kLogLut`` (signal/src/log.cc), copied by hand."""
    lut = tables.log_lut()
    assert len(lut) == 130
    assert [int(lut[i]) for i in (0, 1, 2, 57, 64, 127, 128, 129)] == \
        [0, 224, 442, 5641, 5568, 142, 0, 0]


@pytest.fixture(scope="module")
def tflite_bytes_and_model(tflm_preprocessor):
    return _model(tflm_preprocessor)


@pytest.fixture(scope="module")
def golden_frames(tflm_preprocessor, golden_stream, run_tflm_stream):
    return run_tflm_stream(tflm_preprocessor, golden_stream)


def test_bit_exact_with_tflm_on_2000_frames(golden_stream, golden_frames):
    """>= 2,000 consecutive frames, pushed in uneven chunks, equal TFLM byte for byte."""
    assert len(golden_frames) >= 2000
    fe = HostFrontend(FrontendConfig.tflm_micro())
    fe.reset()
    rng = np.random.default_rng(1)
    got, pos = [], 0
    while pos < golden_stream.size:
        n = int(rng.integers(1, 2000))
        got.append(fe.push(golden_stream[pos:pos + n]))
        pos += n
    got = np.concatenate(got)
    assert got.shape == golden_frames.shape
    bad = np.nonzero((got != golden_frames).any(axis=1))[0]
    assert bad.size == 0, f"{bad.size} frames differ, first {bad[:5]}"
    # the stream is not trivial: features vary, and clipping reaches the top
    assert len(np.unique(golden_frames)) > 100


def test_reference_state_matters(tflm_preprocessor, golden_stream, golden_frames):
    """Fresh-state frames differ from the carried-state ones: the comparison above
    really checks the noise estimate carried between calls."""
    from edgekit.reference import tflm_interpreter

    differ = 0
    for f in range(100, 2000, 100):
        ip = tflm_interpreter(tflm_preprocessor)
        ip.set_input(golden_stream[f * 320: f * 320 + 480].reshape(1, 480), 0)
        ip.invoke()
        differ += int((np.asarray(ip.get_output(0)).reshape(-1) != golden_frames[f]).any())
    assert differ >= 10


def _full_scale_windows() -> list[np.ndarray]:
    """480-sample windows whose windowed samples reach -32768 (a -32768 sample under
    a full weight, positions 238-241), built so that TFLM's auto-scale peak (a
    running max |x| kept in int16, which -32768 wraps) ends on a small value: after
    the last -32768 the peak follows a negative rise of the windowed samples (here
    -32768 samples under the falling weights), then the running max |x| of what
    follows.  Its shift is then large and wraps the loud samples: a wrong shift
    changes the features a lot."""
    rng = np.random.default_rng(7)
    window = tables.hann_window(480, 12).astype(int)
    out = []
    for last in (238, 239, 240, 241):                     # position of the last -32768
        for rise_end in (last + 1, last + 2, last + 3, 250, 301, 302, 420, 477, 480):
            for how in ("positive", "drop", "equal"):
                x = rng.integers(-60, 61, 480).astype(np.int16)
                x[200:last + 1] = -32768
                x[last + 1:rise_end] = -32768                # rising windowed values
                if rise_end < 480:
                    # the rise ends on a sample >= 0, or on one below or equal to its
                    # predecessor (windowed)
                    x[rise_end] = {"positive": 50, "drop": -32768, "equal": 0}[how]
                    if rise_end - 1 > last and how == "drop":
                        x[rise_end - 1] = -30000
                    if rise_end - 1 > last and how == "equal":
                        v = -6 * int(window[rise_end])        # above the rise so far
                        for n in (rise_end - 1, rise_end):   # both windowed to v
                            x[n] = -((-v * 4096) // int(window[n]))
                        assert ((x[rise_end - 1:rise_end + 1].astype(int)
                                 * window[rise_end - 1:rise_end + 1]) >> 12 == v).all()
                out.append(x)
    # a -32768 sample under a weight < 1 is not -32768 once windowed: plain max |x|
    x = rng.integers(-60, 61, 480).astype(np.int16)
    x[100] = -32768
    out.append(x)
    return out


def test_full_scale_auto_scale_matches_tflm(tflm_preprocessor):
    """Windows where TFLM's auto-scale peak wraps (see _full_scale_windows), one
    fresh frame each, equal TFLM's."""
    from edgekit.reference import tflm_interpreter

    fe = HostFrontend(FrontendConfig.tflm_micro())
    windows = _full_scale_windows()
    got, want = [], []
    for x in windows:
        ip = tflm_interpreter(tflm_preprocessor)
        ip.set_input(x.reshape(1, 480), 0)
        ip.invoke()
        want.append(np.asarray(ip.get_output(0)).reshape(-1))
        fe.reset()
        got.append(fe.push(x)[0])
    got, want = np.array(got), np.array(want)
    bad = np.nonzero((got != want).any(axis=1))[0]
    assert bad.size == 0, f"{bad.size} of {len(windows)} windows differ, first {bad[:5]}"
    assert len({w.tobytes() for w in want}) > len(windows) // 2     # the cases differ
