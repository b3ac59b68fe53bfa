"""Firmware from sound with a streaming step model: edgekit_push_audio feeds it frame by frame.

The golden scores are tflite_micro's (:func:`edgekit.reference.run_tflm_stream`)
running the step model on the host front end's frames
(:meth:`FrontendFeatures.compute_int8`), one hop per call with its state
outputs fed back, reset at each clip: what the device must equal after
every hop.  The fast tests use a streaming lmuformer with random weights (the
arithmetic, not accuracy, is checked); the slow one trains a small lmuformer
on FSDD through ``edgekit build --streaming`` and runs raw audio in QEMU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.frontend import FrontendConfig
from edgekit.frontend.features import FrontendFeatures
from edgekit.reference import run_tflm_stream

FEATURES = FrontendFeatures(FrontendConfig.fsdd(), 48)


@pytest.fixture(scope="module")
def step_model():
    """An int8 streaming lmuformer step (hop 2 frames) on the FSDD front end's frames."""
    from edgekit.models.registry import build_model
    from edgekit.quantize.streaming import quantize_streaming_int8

    model = build_model("lmuformer", FEATURES.shape, 10, seed=1, dim=16, order=4, memory_d=8,
                        patch_kernel=4, patch_stride=2)
    rng = np.random.default_rng(0)
    clips = FEATURES.dequantize(rng.integers(-128, 128, (16, *FEATURES.shape)))
    tflite, _ = quantize_streaming_int8(model, clips, num_samples=16, calib_clips=8)
    return tflite


@pytest.fixture(scope="module")
def stream_src(step_model, tmp_path_factory):
    from edgekit.firmware_export.audio import generate_audio
    from edgekit.verify import export_c

    src = tmp_path_factory.mktemp("stream-audio") / "src"
    exp = export_c(step_model, src)
    return src, exp, generate_audio(FEATURES, exp.graph, src)


def _clips():
    from edgekit.verify.audio import synthetic_clips

    return synthetic_clips(FEATURES, 8, seed=3)


def test_streaming_audio_header_documents_the_stream(stream_src):
    src, exp, aud = stream_src
    assert aud.streaming and aud.hop == 2 and aud.run_every == 2
    assert aud.window_bytes == 40 + 10                 # the newest frame and the scores
    h = (src / "edgekit_audio.h").read_text()
    for text in ("EDGEKIT_AUDIO_SAMPLE_RATE   8000u", "EDGEKIT_AUDIO_STRIDE        160u",
                 "EDGEKIT_AUDIO_STREAMING     1", "EDGEKIT_AUDIO_HOP           2u",
                 "EDGEKIT_AUDIO_DECISION_FRAME 48u", "EDGEKIT_AUDIO_RUN_EVERY     2u",
                 "latency", "at\n *                  most 40 ms old", "EDGEKIT_STATE_BYTES"):
        assert text in h, text
    assert "edgekit_audio_window" not in h              # no window of frames is kept
    assert "EDGEKIT_AUDIO_WINDOW_BYTES" not in h
    c = (src / "edgekit_audio.c").read_text()
    assert "edgekit_push_frame(slot, ek_audio_scores)" in c and "edgekit_invoke" not in c


def test_host_build_streams_every_hop_like_tflite_micro(step_model, stream_src, tmp_path):
    from edgekit.verify import check_audio

    src, exp, _ = stream_src
    clips = _clips()
    chk = check_audio(step_model, FEATURES, src, tmp_path, clips, qemu_clips=0, graph=exp.graph)
    assert chk.streaming and chk.hop == 2 and chk.decision_frame == 48
    assert chk.frames_equal["host"] and chk.scores_equal["host"] and chk.bit_exact
    assert chk.runs_compared["host"] == len(clips) * 24

    # Independently of check_audio: tflite_micro on the host front end's frames, hop by hop.
    frames = np.stack([FEATURES.compute_int8(c) for c in clips])
    calls = frames.reshape(len(clips) * 24, 2 * 40)
    resets = np.zeros(len(calls), bool)
    resets[::24] = True
    golden = run_tflm_stream(step_model, exp.graph, calls, resets).reshape(len(clips), 24, -1)
    run = chk.host
    for i, c in enumerate(run.clips):
        assert [r["frames"] for r in c.runs] == list(range(2, 49, 2))
        got = np.stack([r["scores"] for r in c.runs])
        np.testing.assert_array_equal(got, golden[i], err_msg=f"clip {i}")
    np.testing.assert_array_equal(run.first_windows(), frames)
    np.testing.assert_array_equal(run.decision_scores(), golden[:, -1])
    # The state matters: scores change over a clip, and differ from a clip's first hop alone.
    assert len({g.tobytes() for g in golden[1]}) > 1
    assert not np.array_equal(golden[:, -1], golden[:, 0])
    d = chk.to_dict(exp.result.plan.arena_bytes, exp.result.state_bytes)
    assert d["streaming"] is True and d["hop_frames"] == 2 and d["decision_frame"] == 48
    assert d["host_decisions_equal_int8"] and d["run_every_frames"] == 2


def test_scores_every_run_every_frames_the_model_every_hop(step_model, tmp_path):
    from edgekit.emulator import AUDIO_DEFINES, build_host, run_audio_host
    from edgekit.errors import ConfigError, ModelError
    from edgekit.firmware_export.audio import generate_audio
    from edgekit.verify import export_c

    src = tmp_path / "src"
    exp = export_c(step_model, src)
    with pytest.raises(ConfigError, match=r"multiple of the streaming model's 2 frames per call "
                                          r"\(got 3\)"):
        generate_audio(FEATURES, exp.graph, src, run_every=3)
    with pytest.raises(ModelError, match="takes 2 frames per call, more than the 1 frames"):
        generate_audio(FrontendFeatures(FrontendConfig.fsdd(), 1), exp.graph, src)
    aud = generate_audio(FEATURES, exp.graph, src, run_every=8)
    assert aud.run_every == 8
    clip = FEATURES.clip_pcm(_clips()[5])
    run = run_audio_host(build_host(src, tmp_path / "host", defines=AUDIO_DEFINES),
                         [clip, clip[:1000]], 8000)
    assert run.streaming and run.hop == 2 and run.run_every == 8 and run.decision_frame == 48
    c = run.clips[0]
    assert [r["frames"] for r in c.runs] == list(range(8, 49, 8)) and c.padded == 0
    golden = run_tflm_stream(step_model, exp.graph,
                             FEATURES.compute_int8(clip).reshape(24, 80))
    for r in c.runs:      # the model ran on every hop in between: its state saw every frame
        np.testing.assert_array_equal(r["scores"], golden[r["frames"] // 2 - 1])
    # A short clip is followed by silence up to one clip (7760 samples): its decision exists.
    short = run.clips[1]
    assert short.samples == 1000 and short.padded == 7760 - 1000 and short.frames == 48
    padded = np.concatenate([clip[:1000], np.zeros(6760, np.int16)])
    golden = run_tflm_stream(step_model, exp.graph, FEATURES.compute_int8(padded).reshape(24, 80))
    np.testing.assert_array_equal(short.runs[-1]["scores"], golden[-1])


@pytest.mark.slow
@pytest.mark.qemu
def test_streaming_build_from_raw_audio_in_qemu(fsdd_root, tmp_path):
    """edgekit build --streaming of a small lmuformer on FSDD's front end: raw test audio
    through edgekit_push_audio feeding the step model gives, in QEMU and on the host build,
    tflite_micro's scores after every hop and so the host int8 decisions."""
    from edgekit.emulator.emulate import emulate_wav
    from edgekit.pipeline import build

    out = tmp_path / "b"
    res = build(target="cortex-m4", data=str(fsdd_root), out=out, arch="lmuformer",
                streaming=True, audio_clips=8, overrides=[
                    "dataset.limit_per_class=30", "train.epochs=5", "train.batch_size=32",
                    "train.learning_rate=0.01", "model.hparams.dim=16", "model.hparams.order=4",
                    "model.hparams.memory_d=8", "quantize.num_samples=100"])
    s = res.report["streaming"]
    assert s["bit_exact"] and s["hop_frames"] == 2
    a = s["audio"]
    print(json.dumps({k: a[k] for k in a if k != "features"}, indent=1))
    assert a["streaming"] is True and a["hop_frames"] == 2 and a["decision_frame"] == 48
    assert a["frames_bit_exact"] == {"host": True, "qemu": True}
    assert a["scores_bit_exact"] == {"host": True, "qemu": True}
    assert a["host_clips"] == 300 and a["qemu_clips"] == 8
    assert a["runs_compared"] == {"host": 300 * 24, "qemu": 8 * 24}
    assert a["host_decisions_equal_int8"] and a["qemu_decisions_equal_int8"]
    assert a["qemu_accuracy_raw_audio"] == a["qemu_int8_accuracy_same_clips"]
    # The window form's final step is the int8 window model: so are the decisions from sound.
    assert a["host_accuracy_raw_audio"] == pytest.approx(res.report["accuracy"]["int8"], abs=1e-9)
    ram = a["ram"]
    assert ram["model_state_bytes"] == s["state_bytes"] > 0
    assert ram["arena_bytes"] == s["arena_bytes"] and ram["frame_buffer_bytes"] == 50
    assert ram["total_bytes"] == sum(v for k, v in ram.items() if k != "total_bytes")
    md = (out / "report.md").read_text()
    assert "Streaming form from sound" in md and f"frame buffer {ram['frame_buffer_bytes']}" in md
    meta = json.loads((out / "metadata.json").read_text())
    elf = out / meta["files"]["stream_audio_firmware"]

    wav = sorted(fsdd_root.glob("4_*_0.wav"))[0]
    d = emulate_wav(elf, wav)
    assert d["streaming"] is True and d["hop_frames"] == 2 and d["run_every_frames"] == 2
    frames = [r["frames"] for r in d["runs"]]
    assert frames[:3] == [2, 4, 6] and 48 in frames
