"""Raw PCM clips through a firmware built with ``-DEDGEKIT_AUDIO``, under QEMU or on the host.

The audio harness (``firmware/edgekit_audio_harness.c``) reads clips from
``inputs.bin`` -- per clip two little-endian ``uint32`` (sample rate,
number of samples) then the int16 samples -- resets the generated
``edgekit_audio`` code per clip, pushes each clip in chunks (256 samples,
like a microphone DMA buffer) through ``edgekit_push_audio``, followed by
silence up to one model input when shorter, and prints every model run (see the header of ``edgekit_audio_harness.h`` for the
records).  :func:`pack_clips` writes that input, :func:`parse_audio_output`
reads the records, :func:`run_audio_qemu` / :func:`run_audio_host` do both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.emulator.run import run_host_program, run_qemu_log
from edgekit.emulator.targets import Target
from edgekit.errors import ConfigError, EmulatorError

__all__ = ["AUDIO_DEFINES", "AudioRun", "ClipRuns", "pack_clips", "parse_audio_output",
           "run_audio_host", "run_audio_qemu"]

#: Preprocessor macros of an audio harness build (``build_firmware(..., defines=)``).
AUDIO_DEFINES = {"EDGEKIT_AUDIO": "1"}


@dataclass
class ClipRuns:
    """What the firmware did with one clip.

    Attributes
    ----------
    samples : int
        Samples of the clip.
    padded : int
        Samples of silence the harness pushed after a clip shorter than one
        model input.
    frames : int
        Feature frames the front end made.
    frontend_instructions : int
        Guest instructions spent in the front end over the clip (0 on the host).
    window : numpy.ndarray or None
        int8 ``(num_frames, num_channels)``: the model input of the first run
        (streaming model: the clip's first ``num_frames`` frames, which the
        model took one hop at a time).
    runs : list of dict
        One per model run that wrote scores: ``frames`` (its input ends with
        frame ``frames - 1``), ``scores`` (int8 array), ``instructions`` (the
        model's within that push).
    """

    samples: int
    padded: int = 0
    frames: int = 0
    frontend_instructions: int = 0
    window: np.ndarray | None = None
    runs: list = field(default_factory=list)


@dataclass
class AudioRun:
    """Result of :func:`run_audio_qemu` or :func:`run_audio_host`.

    Attributes
    ----------
    clips : list of ClipRuns
    sample_rate, stride, window_size, num_channels, num_frames, run_every : int
        The firmware's constants (``edgekit_audio.h``).
    score_bytes, chunk : int
        Scores per run; samples per ``edgekit_push_audio`` call.
    frontend_state_bytes, frontend_scratch_bytes, window_bytes : int
        Static RAM of the front end and of ``edgekit_audio.c``'s buffers (the
        window of frames; streaming: the newest frame and the scores).
    streaming : bool
        The model is a streaming step model fed frame by frame.
    hop : int
        Frames per model call (1 for a window model).
    decision_frame : int
        Frames since the reset at the run that decides a clip
        (``EDGEKIT_AUDIO_DECISION_FRAME``).
    stack_bytes : int
        Stack high-water mark (0 on the host).
    log : str
        The raw records.
    """

    clips: list
    sample_rate: int
    stride: int
    window_size: int
    num_channels: int
    num_frames: int
    run_every: int
    score_bytes: int
    chunk: int
    frontend_state_bytes: int
    frontend_scratch_bytes: int
    window_bytes: int
    stack_bytes: int
    log: str = ""
    streaming: bool = False
    hop: int = 1
    decision_frame: int = 0

    def scores_at(self, frame: int) -> np.ndarray:
        """int8 ``(clips, score_bytes)``: each clip's scores written at ``frame`` frames since the reset.

        Raises
        ------
        edgekit.errors.EmulatorError
            If a clip has no run at that frame.
        """
        out = []
        for i, c in enumerate(self.clips):
            hit = [r["scores"] for r in c.runs if r["frames"] == frame]
            if not hit:
                raise EmulatorError(f"clip {i} made no model run at frame {frame} (runs at "
                                    f"{[r['frames'] for r in c.runs][:8]}; {c.samples} samples)")
            out.append(hit[0])
        return np.stack(out)

    def decision_scores(self) -> np.ndarray:
        """int8 ``(clips, score_bytes)``: the scores that decide each clip (run at :attr:`decision_frame`)."""
        return self.scores_at(self.decision_frame)

    def first_scores(self) -> np.ndarray:
        """int8 ``(clips, score_bytes)``: each clip's first run (raises if a clip has none)."""
        missing = [i for i, c in enumerate(self.clips) if not c.runs]
        if missing:
            raise EmulatorError(f"{len(missing)} clip(s) made no model run (e.g. clip "
                                f"{missing[0]}: {self.clips[missing[0]].samples} samples)")
        return np.stack([c.runs[0]["scores"] for c in self.clips])

    def first_windows(self) -> np.ndarray:
        """int8 ``(clips, num_frames, num_channels)``: the model input of each clip's first run
        (streaming: each clip's first ``num_frames`` frames)."""
        self.first_scores()
        missing = [i for i, c in enumerate(self.clips) if c.window is None]
        if missing:
            raise EmulatorError(f"{len(missing)} clip(s) have no frames recorded (e.g. clip "
                                f"{missing[0]}: {self.clips[missing[0]].frames} frames)")
        return np.stack([c.window for c in self.clips])

    def frontend_instructions_per_stride(self) -> float:
        """Front-end instructions over all clips divided by the frames made."""
        frames = sum(c.frames for c in self.clips)
        return sum(c.frontend_instructions for c in self.clips) / max(frames, 1)

    def model_instructions(self) -> list[int]:
        """Instructions of every model run."""
        return [r["instructions"] for c in self.clips for r in c.runs]


def pack_clips(clips: Sequence, sample_rate: int) -> bytes:
    """The harness input: per clip ``uint32`` rate, ``uint32`` samples, int16 samples (little endian).

    Parameters
    ----------
    clips : sequence of array_like of int16
    sample_rate : int
        Rate written in each clip's header (the harness refuses a mismatch).

    Raises
    ------
    edgekit.errors.ConfigError
        If a clip is not 1-D int16 or there is none.
    """
    parts = []
    for i, clip in enumerate(clips):
        x = np.asarray(clip)
        if x.dtype != np.int16 or x.ndim != 1:
            raise ConfigError(f"clip {i} must be 1-D int16 PCM (got {x.dtype}, shape {x.shape})")
        parts.append(np.array([sample_rate, x.size], dtype="<u4").tobytes())
        parts.append(x.astype("<i2").tobytes())
    if not parts:
        raise ConfigError("no clips to run")
    return b"".join(parts)


def _hex_i8(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype=np.int8).copy()


def parse_audio_output(text: str, expected_clips: int | None = None) -> AudioRun:
    """Parse the audio harness's records (see :mod:`edgekit.emulator.audio`).

    Raises
    ------
    edgekit.errors.EmulatorError
        On an ``ERR`` record (its message first), a missing ``DONE`` or malformed records.
    """
    errors = [ln.strip()[4:] for ln in text.splitlines() if ln.startswith("ERR")]
    if errors:
        raise EmulatorError("firmware reported an error: " + "; ".join(errors))
    head: list[int] | None = None
    mem: list[int] | None = None
    clips: dict[int, ClipRuns] = {}
    frms: dict[int, dict[int, np.ndarray]] = {}
    stack, done, count = None, False, None
    for lineno, raw in enumerate(text.splitlines(), 1):
        p = raw.split()
        if not p:
            continue
        try:
            tag = p[0]
            if tag == "AUDIO":
                head = [int(v) for v in p[1:12]]
            elif tag == "FEMEM":
                mem = [int(v) for v in p[1:4]]
            elif tag == "CLIP":
                clips[int(p[1])] = ClipRuns(samples=int(p[2]),
                                            padded=int(p[3]) if len(p) > 3 else 0)
            elif tag == "WIN":
                clips[int(p[1])].window = _hex_i8(p[2])
            elif tag == "FRM":
                frms.setdefault(int(p[1]), {})[int(p[2])] = _hex_i8(p[3])
            elif tag == "RUN":
                clips[int(p[1])].runs.append({"frames": int(p[2]), "scores": _hex_i8(p[3]),
                                             "instructions": int(p[4])})
            elif tag == "FE":
                c = clips[int(p[1])]
                c.frames, c.frontend_instructions = int(p[2]), int(p[3])
            elif tag == "CLIPS":
                count = int(p[1])
            elif tag == "STACK":
                stack = int(p[1])
            elif tag == "DONE":
                done = True
        except (IndexError, ValueError, KeyError) as exc:
            raise EmulatorError(f"malformed audio harness line {lineno}: {raw[:120]!r}") from exc
    if not done or head is None or mem is None or stack is None or count is None:
        tail = "\n".join(text.strip().splitlines()[-5:]) or "(no output)"
        raise EmulatorError(f"the audio harness did not finish (no DONE)\n{tail}")
    if sorted(clips) != list(range(count)) or (expected_clips is not None
                                               and count != expected_clips):
        raise EmulatorError(f"the audio harness ran {count} clip(s), expected {expected_clips}")
    if len(head) not in (8, 11):
        raise EmulatorError(f"malformed AUDIO record: {len(head)} numbers, expected 8 or 11")
    rate, stride, window, channels, frames, run_every, score_bytes, chunk = head[:8]
    streaming, hop, decide = head[8:] if len(head) == 11 else (0, 1, frames)
    for i, c in clips.items():
        got = frms.get(i, {})
        if c.window is None and got and all(k in got for k in range(frames)):
            c.window = np.concatenate([got[k] for k in range(frames)])
        if c.window is not None:
            c.window = c.window.reshape(frames, channels)
    return AudioRun(clips=[clips[i] for i in range(count)], sample_rate=rate, stride=stride,
                    window_size=window, num_channels=channels, num_frames=frames,
                    run_every=run_every, score_bytes=score_bytes, chunk=chunk,
                    frontend_state_bytes=mem[0], frontend_scratch_bytes=mem[1],
                    window_bytes=mem[2], stack_bytes=stack, log=text,
                    streaming=bool(streaming), hop=hop, decision_frame=decide)


def run_audio_qemu(elf, clips: Sequence, sample_rate: int, target: str | Target = "cortex-m4",
                   timeout: float = 300.0) -> AudioRun:
    """Run PCM clips through an audio firmware (``defines=AUDIO_DEFINES``) under QEMU.

    Parameters
    ----------
    elf : path
        Firmware built by :func:`edgekit.emulator.build_firmware` with :data:`AUDIO_DEFINES`.
    clips : sequence of int16 arrays
    sample_rate : int
        The clips' rate (the firmware refuses another than its front end's).
    target : str or Target
    timeout : float
        Seconds before QEMU is stopped.

    Returns
    -------
    AudioRun
    """
    blob = pack_clips(clips, sample_rate)
    log = run_qemu_log(elf, blob, target=target, timeout=timeout)
    return parse_audio_output(log, expected_clips=len(clips))


def run_audio_host(exe, clips: Sequence, sample_rate: int, timeout: float = 300.0) -> AudioRun:
    """Run PCM clips through a host build (:func:`edgekit.emulator.build_host` with :data:`AUDIO_DEFINES`)."""
    proc, out = run_host_program(exe, pack_clips(clips, sample_rate), "clips.bin", "records.txt",
                                 timeout)
    log = out.decode()
    if proc.returncode != 0:
        parse_audio_output(log)      # raises with the harness's ERR message when there is one
        raise EmulatorError(f"{Path(exe).name} exited with status {proc.returncode}: "
                            f"{proc.stderr.strip()[-500:]}")
    return parse_audio_output(log, expected_clips=len(clips))
