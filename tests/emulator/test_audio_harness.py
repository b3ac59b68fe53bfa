"""The audio harness's input format and records (edgekit.emulator.audio), without a model."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.emulator import pack_clips, parse_audio_output
from edgekit.errors import ConfigError, EmulatorError

HEAD = "EDGEKIT 1 host 0\nAUDIO 8000 160 240 2 3 1 2 160\nFEMEM 10 20 6\n"


def test_pack_clips_layout():
    blob = pack_clips([np.array([1, -2], np.int16), np.zeros(0, np.int16)], 8000)
    # per clip: uint32 rate, uint32 samples (little endian), then int16 samples
    assert blob == (b"\x40\x1f\x00\x00\x02\x00\x00\x00\x01\x00\xfe\xff"
                    b"\x40\x1f\x00\x00\x00\x00\x00\x00")
    with pytest.raises(ConfigError, match="clip 0 must be 1-D int16"):
        pack_clips([np.zeros(4, np.float32)], 8000)
    with pytest.raises(ConfigError, match="no clips"):
        pack_clips([], 8000)


def test_parse_records():
    text = HEAD + ("CLIP 0 1000\nWIN 0 010203040506\nRUN 0 3 ff7f 400\nRUN 0 4 0001 360\n"
                   "FE 0 6 2400\nCLIP 1 100\nFE 1 0 80\nCLIPS 2\nSTACK 512\nDONE\n")
    run = parse_audio_output(text, expected_clips=2)
    assert (run.sample_rate, run.stride, run.num_frames, run.run_every, run.chunk) == (
        8000, 160, 3, 1, 160)
    assert (run.frontend_state_bytes, run.frontend_scratch_bytes, run.window_bytes) == (10, 20, 6)
    c = run.clips[0]
    assert c.window.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert [r["frames"] for r in c.runs] == [3, 4] and c.runs[0]["scores"].tolist() == [-1, 127]
    assert run.frontend_instructions_per_stride() == pytest.approx(2480 / 6)
    assert run.model_instructions() == [400, 360] and run.stack_bytes == 512
    with pytest.raises(EmulatorError, match=r"1 clip\(s\) made no model run \(e.g. clip 1"):
        run.first_scores()


def test_parse_streaming_records():
    """A streaming build: AUDIO carries streaming, hop and decision frame; the clip's first
    frames come as FRM records (no window), a short clip says how much silence followed."""
    head = "AUDIO 8000 160 240 2 2 2 2 160 1 2 2\nFEMEM 10 20 4\n"
    text = head + ("CLIP 0 400 0\nFRM 0 0 0102\nFRM 0 1 0304\nRUN 0 2 ff7f 90\nRUN 0 4 0a0b 91\n"
                   "FE 0 4 100\nCLIP 1 100 300\nFRM 1 0 0506\nFRM 1 1 0708\nRUN 1 2 0001 90\n"
                   "FE 1 2 50\nCLIPS 2\nSTACK 64\nDONE\n")
    run = parse_audio_output(text, expected_clips=2)
    assert run.streaming and (run.hop, run.decision_frame, run.run_every) == (2, 2, 2)
    assert run.first_windows().tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    assert run.decision_scores().tolist() == [[-1, 127], [0, 1]]
    assert (run.clips[0].padded, run.clips[1].padded) == (0, 300)
    with pytest.raises(EmulatorError, match="clip 1 made no model run at frame 4"):
        run.scores_at(4)


def test_parse_errors():
    with pytest.raises(EmulatorError, match="firmware reported an error: clip sample rate"):
        parse_audio_output(HEAD + "ERR clip sample rate 16000 Hz, the front end takes 8000 Hz\n")
    with pytest.raises(EmulatorError, match="did not finish"):
        parse_audio_output(HEAD + "CLIP 0 10\n")
    with pytest.raises(EmulatorError, match="malformed audio harness line 4"):
        parse_audio_output(HEAD + "RUN 5 1 00 1\nCLIPS 0\nSTACK 0\nDONE\n")
    with pytest.raises(EmulatorError, match=r"ran 0 clip\(s\), expected 1"):
        parse_audio_output(HEAD + "CLIPS 0\nSTACK 0\nDONE\n", expected_clips=1)
