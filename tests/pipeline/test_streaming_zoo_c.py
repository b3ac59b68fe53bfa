"""Streaming zoo models in generated C: state in static buffers, frame by frame.

The streaming int8 form of each recurrent zoo model (random weights: what is
checked is the arithmetic, not accuracy) is generated as C; a stream of int8
frames through the host build (and QEMU for one model) must give the scores
tflite_micro gives when its state outputs are fed back after every frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.emulator import build_firmware, build_host, run_host, run_qemu
from edgekit.firmware_export import generate, read_tflite
from edgekit.models.registry import build_model, default_recipe
from edgekit.quantize.streaming import quantize_streaming_int8
from edgekit.reference import run_tflm_stream


@pytest.fixture(scope="module", params=["lmu", "lmuformer", "spiking_lmuformer"])
def stream_model(request, tmp_path_factory):
    arch = request.param
    model = build_model(arch, (64, 40), 10, seed=1, **default_recipe(arch)["hparams"])
    clips = np.random.default_rng(0).normal(-6, 3, (24, 64, 40)).astype(np.float32)
    tflite, spec = quantize_streaming_int8(model, clips, num_samples=64, calib_clips=8)
    graph = read_tflite(tflite)
    src = tmp_path_factory.mktemp(arch) / "src"
    exp = generate(graph, src)
    return arch, tflite, graph, src, exp


def test_streaming_model_has_state_outside_the_arena(stream_model):
    arch, _, graph, _, exp = stream_model
    pairs = graph.state_pairs()
    assert pairs, f"{arch}: no state_N signature pairs"
    assert exp.state_bytes == sum(graph.tensors[a].nbytes for a, _ in pairs)
    assert all(a not in exp.plan.offsets for a, _ in pairs)


def test_streaming_c_matches_tflm_frame_by_frame(stream_model, tmp_path):
    arch, tflite, graph, src, _ = stream_model
    fin = graph.tensors[graph.signature_inputs["frame"]]
    frames = np.random.default_rng(2).integers(-128, 128, (48, fin.num_elements), dtype=np.int8)
    ref = run_tflm_stream(tflite, graph, frames)
    host = run_host(build_host(src, tmp_path / "host"), frames.view(np.uint8)).view(np.int8)
    bad = np.flatnonzero((host != ref).any(axis=1))
    assert bad.size == 0, f"{arch}: frames {bad[:5]} differ"
    # The stream has memory: the last frame alone, from a reset state, scores differently.
    alone = run_tflm_stream(tflite, graph, frames[-1:])
    assert not np.array_equal(alone[0], ref[-1])
    if arch in ("lmuformer", "spiking_lmuformer"):      # the spiking one: ek_lif_step_s8
        fw = build_firmware(src, tmp_path / "fw", target="cortex-m4")
        q = run_qemu(fw.elf, frames[:16].view(np.uint8), target="cortex-m4").outputs.view(np.int8)
        assert np.array_equal(q, ref[:16])


def test_push_frame_collects_one_frame_at_a_time(stream_model, tmp_path):
    """edgekit_push_frame: one feature frame per call, the model runs once per hop."""
    arch, tflite, graph, src, _ = stream_model
    fin = graph.tensors[graph.signature_inputs["frame"]]
    hop = int(fin.shape[1])
    assert hop == {"lmu": 1, "lmuformer": 2, "spiking_lmuformer": 2}[arch]  # registry presets
    width = fin.num_elements // hop
    frames = np.random.default_rng(3).integers(-128, 128, (12 * hop, width), dtype=np.int8)
    ref = run_tflm_stream(tflite, graph, frames.reshape(12, -1))
    exe = build_host(src, tmp_path / "push", defines={"EDGEKIT_HOST_PUSH_FRAMES": None})
    got = run_host(exe, frames.view(np.uint8)).view(np.int8)
    assert got.shape == (12 * hop, ref.shape[1])
    # After frame j the latest output is that of hop (j + 1) // hop - 1; zeros before the first.
    for j in range(12 * hop):
        done = (j + 1) // hop
        want = ref[done - 1] if done else np.zeros(ref.shape[1], np.int8)
        assert np.array_equal(got[j], want), f"{arch}: frame {j}"


def test_runner_push_equals_step_per_hop(stream_model):
    from edgekit.errors import ConfigError
    from edgekit.quantize.streaming_runner import StreamingRunner

    arch, tflite, graph, _, _ = stream_model
    runner = StreamingRunner(tflite, "tflm")
    clip = np.random.default_rng(4).normal(-6, 3, (16, 40)).astype(np.float32)
    whole = runner.run_clip(clip)
    runner.reset()
    outs = [runner.push(f) for f in clip]
    assert [o is not None for o in outs] == [(j + 1) % runner.hop == 0 for j in range(16)]
    assert np.array_equal(outs[-1], whole)
    with pytest.raises(ConfigError, match="40 features"):
        runner.push(np.zeros(39))


def test_streaming_lif_steps_fuse_their_leak(stream_model):
    """A streaming step's current comes reshaped ([C] beside the [1, 1, C]
    state): its leak ADD joins the fused step all the same (flat elementwise);
    then each step runs table-driven (EK_LIF_STEP), the state's decay and the
    current's clip folded in."""
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif, lif_steps
    from edgekit.firmware_export.passes.lif_layer import lif_layers

    arch, _, graph, src, _ = stream_model
    steps = lif_steps(graph)
    if arch != "spiking_lmuformer":
        assert not steps
        return
    # patch, memory input, memory, lmu, mixer input and mixer neurons
    assert len(steps) == 6 and all("v" in c for c in steps), [sorted(c) for c in steps]
    ops = [op for op in lif_layers(fuse_lif(graph)).operators if op.opcode == "EK_LIF_STEP"]
    assert len(ops) == 6 and all(op.options["pre1"] and op.options["pre2"] for op in ops)
    assert (src / "model.c").read_text().count("ek_lif_step16_s8(&") == 6   # int16 tables


def test_streaming_spike_history_state_runs_event_driven(stream_model):
    """The LMU memory input history of the spiking stream is a state holding spikes
    (fed back from the spikes it shifts in, starting at the off code): the
    memory layer reading it runs event-driven; the membrane states hold no spikes."""
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_layer import lif_layers
    from edgekit.firmware_export.passes.spike_sparse import sparse_layers, spike_codes

    arch, _, graph, _, _ = stream_model
    if arch != "spiking_lmuformer":
        return
    codes = spike_codes(lif_layers(fuse_lif(graph)))
    states = {a for a, _ in graph.state_pairs()}
    spiking_states = states & set(codes)
    assert len(spiking_states) == 1, sorted(spiking_states)    # lmu_input_history only
    hist = spiking_states.pop()
    assert 16 in graph.tensors[hist].shape[1:]       # memory_d channels of spikes
    layers = sparse_layers(graph)
    memory = [i for i, d in layers.items() if d["opcode"] in ("FULLY_CONNECTED",
                                                                "DEPTHWISE_CONV_2D")
              and any(op.index == i and hist in _upstream(graph, op) for op in graph.operators)]
    assert memory, layers


def _upstream(graph, op, depth=3):
    """Tensors feeding ``op`` through up to ``depth`` ops."""
    producer = {o: p for p in graph.operators for o in p.outputs}
    seen, frontier = set(), [i for i in op.inputs if i >= 0]
    for _ in range(depth):
        nxt = []
        for t in frontier:
            seen.add(t)
            if t in producer:
                nxt += [i for i in producer[t].inputs if i >= 0]
        frontier = nxt
    return seen | set(frontier)


def test_streaming_lif_steps_with_int32_tables(stream_model, tmp_path, monkeypatch):
    """The int32-table step kernel (ek_lif_step_s8: the leak's exact rescalings,
    for steps without int16 tables), forced here: frame by frame as TFLM."""
    from edgekit.firmware_export.ops import lif_layer

    arch, tflite, graph, _, _ = stream_model
    if arch != "spiking_lmuformer":
        return
    monkeypatch.setattr(lif_layer, "int16_tables", lambda *a, **k: None)
    generate(graph, tmp_path / "src")
    assert (tmp_path / "src" / "model.c").read_text().count("ek_lif_step_s8(&") == 6
    fin = graph.tensors[graph.signature_inputs["frame"]]
    frames = np.random.default_rng(3).integers(-128, 128, (16, fin.num_elements), dtype=np.int8)
    ref = run_tflm_stream(tflite, graph, frames)
    host = run_host(build_host(tmp_path / "src", tmp_path / "host"),
                    frames.view(np.uint8)).view(np.int8)
    np.testing.assert_array_equal(host, ref)
