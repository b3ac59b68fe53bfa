"""Streaming models: state kept in static C buffers between calls.

A small recurrent cell (state' = relu(W x + U state), scores = V state') is
converted to int8 TFLite with signature inputs ``frame``/``state_0`` and
outputs ``scores``/``state_0``.  The reference feeds tflite_micro's state
output back (requantized to the state input's scale with TFLite's integer
requantization) frame by frame; the generated C must give the same scores
at every step, on the host and in QEMU.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.emulator import build_firmware, build_host, run_host, run_qemu
from edgekit.firmware_export import generate, read_tflite
from edgekit.firmware_export.quant import f32, quantize_multiplier

FRAME, STATE, CLASSES = 8, 12, 4


def _stream_tflite(tmp_path) -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(0, 0.5, (FRAME, STATE)).astype(np.float32))
    u = tf.constant(rng.normal(0, 0.3, (STATE, STATE)).astype(np.float32))
    v = tf.constant(rng.normal(0, 0.5, (STATE, CLASSES)).astype(np.float32))

    class Cell(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, FRAME], tf.float32, name="frame"),
                                      tf.TensorSpec([1, STATE], tf.float32, name="state_0")])
        def step(self, frame, state_0):
            new = tf.nn.relu(tf.matmul(frame, w) + tf.matmul(state_0, u))
            return {"scores": tf.nn.softmax(tf.matmul(new, v)), "state_0": new}

    cell = Cell()
    path = str(tmp_path / "sm")
    tf.saved_model.save(cell, path, signatures={"serving_default": cell.step})
    conv = tf.lite.TFLiteConverter.from_saved_model(path)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def rep():
        for _ in range(64):
            yield {"frame": rng.normal(0, 1, (1, FRAME)).astype(np.float32),
                   "state_0": np.abs(rng.normal(0, 1, (1, STATE))).astype(np.float32)}

    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def _requantize(x, in_s, in_zp, out_s, out_zp):
    """TFLite int8 requantization (double rounding), as the generated C does it."""
    m, sh = quantize_multiplier(f32(in_s) / f32(out_s))
    out = []
    for v in x.astype(np.int64) - in_zp:
        v = int(v) << max(sh, 0)
        ab = v * m
        nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
        hi = int((ab + nudge) / (1 << 31)) if ab + nudge >= 0 else -int(-(ab + nudge) // (1 << 31))
        r = max(-sh, 0)
        if r:
            mask = (1 << r) - 1
            rem = hi & mask
            thr = (mask >> 1) + (1 if hi < 0 else 0)
            hi = (hi >> r) + (1 if rem > thr else 0)
        out.append(min(127, max(-128, hi + out_zp)))
    return np.array(out, np.int8)


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stream")
    tflite = _stream_tflite(tmp)
    graph = read_tflite(tflite)
    return tflite, graph, tmp


def _reference(tflite, graph, frames):
    from tflite_micro.python.tflite_micro import runtime

    ip = runtime.Interpreter.from_bytes(tflite)
    (sin, sout), = graph.state_pairs()
    fin, fout = graph.signature_inputs["frame"], graph.signature_outputs["scores"]
    order_in = list(graph.inputs)
    order_out = list(graph.outputs)
    ti, to = graph.tensors[sin], graph.tensors[sout]
    state = np.full(STATE, ti.zp, np.int8)
    scores = []
    for f in frames:
        ip.set_input(f.reshape(1, FRAME), order_in.index(fin))
        ip.set_input(state.reshape(1, STATE), order_in.index(sin))
        ip.invoke()
        scores.append(np.array(ip.get_output(order_out.index(fout))).reshape(-1))
        new = np.array(ip.get_output(order_out.index(sout))).reshape(-1)
        state = _requantize(new, to.s, to.zp, ti.s, ti.zp)
    return np.stack(scores)


def test_signature_names_give_one_state_pair(stream):
    _, graph, _ = stream
    assert set(graph.signature_inputs) == {"frame", "state_0"}
    assert set(graph.signature_outputs) == {"scores", "state_0"}
    assert len(graph.state_pairs()) == 1


def test_state_lives_outside_the_arena_and_resets_to_zero_point(stream):
    tflite, graph, tmp = stream
    exp = generate(graph, tmp / "src")
    (sin, _), = graph.state_pairs()
    assert exp.state_bytes == STATE
    assert sin not in exp.plan.offsets
    c = (tmp / "src" / "model.c").read_text()
    assert f"memset(ek_state0, {graph.tensors[sin].zp}, sizeof ek_state0);" in c
    assert "#define EDGEKIT_STATE_BYTES   12" in (tmp / "src" / "model.h").read_text()


def test_stream_matches_tflm_frame_by_frame_host_and_qemu(stream):
    tflite, graph, tmp = stream
    rng = np.random.default_rng(5)
    frames = rng.integers(-128, 128, (40, FRAME), dtype=np.int8)
    ref = _reference(tflite, graph, frames)
    # The state matters: feeding a fresh state each frame would give other scores.
    generate(graph, tmp / "src")
    host = run_host(build_host(tmp / "src", tmp / "host"), frames.view(np.uint8)).view(np.int8)
    assert np.array_equal(host, ref)
    fw = build_firmware(tmp / "src", tmp / "fw", target="cortex-m4")
    q = run_qemu(fw.elf, frames.view(np.uint8), target="cortex-m4").outputs.view(np.int8)
    assert np.array_equal(q, ref)
    # The state matters: each frame run from a reset state scores differently.
    fresh = np.concatenate([_reference(tflite, graph, frames[[i]]) for i in range(len(frames))])
    assert (fresh != ref).any(axis=1).sum() > len(frames) // 2


def test_state_quantization_differs_so_the_writeback_requantizes(stream):
    _, graph, tmp = stream
    (sin, sout), = graph.state_pairs()
    ti, to = graph.tensors[sin], graph.tensors[sout]
    c = (tmp / "src" / "model.c").read_text()
    if (ti.s, ti.zp) != (to.s, to.zp):
        assert "ek_requantize_s8(&ek_state0_rq" in c
    else:
        assert "memcpy(ek_state0" in c
