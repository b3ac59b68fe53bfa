"""Sound in, decision out: the audio firmware checked against the host front end and tflite_micro.

:func:`check_audio` feeds raw PCM clips to the generated code of
:func:`edgekit.firmware_export.audio.generate_audio` (``edgekit_push_audio``)
through the audio harness, on the host build (all clips) and in QEMU (the
first ``qemu_clips``), and checks, clip by clip:

(a) the model input of the clip's first run (the last ``num_frames``
    frames the device's front end made) is byte-equal to the host's
    front-end frames (:meth:`FrontendFeatures.compute_int8`), and the
    scores of that run are byte-equal to tflite_micro's on those frames;
(b) the decisions (argmax of the scores) give the accuracy from raw audio
    on the device, beside tflite_micro's int8 accuracy on the same clips.

For a streaming step model (``edgekit build --streaming``, fed frame by
frame) the reference is tflite_micro running the step model on the host
front end's frames, one hop per call with its state outputs fed back (reset
at each clip): (a) becomes the clip's first ``num_frames`` frames and the
scores of *every* run the device reported, and (b) the scores of the run
after the clip's last whole hop (``decision_frame``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.emulator import (AUDIO_DEFINES, AudioRun, FirmwareBuild, Target, build_firmware,
                              build_host, get_target, run_audio_host, run_audio_qemu)
from edgekit.errors import ConfigError
from edgekit.firmware_export import read_tflite
from edgekit.firmware_export.audio import decision_frame, is_streaming, step_shape
from edgekit.reference import run_tflm_stream
from edgekit.verify.core import REFERENCE, tflm_reference

__all__ = ["AudioCheck", "DEFAULT_QEMU_CLIPS", "audio_clips", "check_audio", "synthetic_clips"]

#: Clips run in QEMU by default (all of them on the host build).
DEFAULT_QEMU_CLIPS = 20


def _accuracy(decisions: np.ndarray, labels, index: np.ndarray) -> float | None:
    if labels is None or not len(index):
        return None
    return float(np.mean(decisions == np.asarray(labels)[index]))


@dataclass
class AudioCheck:
    """Result of :func:`check_audio`.

    Attributes
    ----------
    features : edgekit.frontend.features.FrontendFeatures
    reference : numpy.ndarray
        int8 ``(clips, score_bytes)``: tflite_micro on the host front end's
        frames (streaming: its scores at the decision frame).
    labels : numpy.ndarray or None
        The clips' classes (None when unknown: accuracies are then None).
    host, qemu : edgekit.emulator.AudioRun or None
        The runs (None when not run).
    firmware : edgekit.emulator.FirmwareBuild or None
        The audio firmware of the QEMU run.
    frames_equal, scores_equal : dict
        ``{"host": bool, "qemu": bool}`` (None for a run that did not happen).
    qemu_index : numpy.ndarray
        Which clips QEMU ran (evenly spread over the list, so over the classes
        of a split ordered by class).
    stream_reference : numpy.ndarray or None
        Streaming model: int8 ``(clips, steps, score_bytes)``, tflite_micro's
        scores after every hop of each clip (None for a window model).
    hop : int
        Frames per model call (1 for a window model).
    decision_frame : int
        Frames since the reset at the run whose scores decide a clip.
    runs_compared : dict
        ``{"host": int, "qemu": int}``: model runs compared with tflite_micro.
    """

    features: object
    reference: np.ndarray
    labels: np.ndarray | None
    host: AudioRun | None
    qemu: AudioRun | None
    firmware: FirmwareBuild | None
    frames_equal: dict
    scores_equal: dict
    qemu_index: np.ndarray
    stream_reference: np.ndarray | None = None
    hop: int = 1
    decision_frame: int = 0
    runs_compared: dict | None = None

    @property
    def streaming(self) -> bool:
        """The model is a streaming step model."""
        return self.stream_reference is not None

    def index(self, run: AudioRun) -> np.ndarray:
        """The clips ``run`` holds (all of them for the host build)."""
        return self.qemu_index if run is self.qemu else np.arange(len(self.reference))

    @property
    def bit_exact(self) -> bool:
        """Frames and scores byte-equal in every run that happened."""
        return all(v for v in (*self.frames_equal.values(), *self.scores_equal.values())
                   if v is not None)

    def decisions(self, run: AudioRun) -> np.ndarray:
        """argmax of the scores that decide each clip (the first run of a window model)."""
        return np.argmax(run.scores_at(self.decision_frame), axis=1)

    def reference_decisions(self, index: np.ndarray) -> np.ndarray:
        """argmax of tflite_micro's scores (the host int8 decisions) of the clips ``index``."""
        return np.argmax(self.reference[index], axis=1)

    @property
    def device_run(self) -> AudioRun | None:
        """The run that stands for the device: QEMU's, else the host build's."""
        return self.qemu if self.qemu is not None else self.host

    def device_accuracy(self) -> float | None:
        """Accuracy from raw audio in QEMU (else on the host build)."""
        run = self.device_run
        return None if run is None else _accuracy(self.decisions(run), self.labels,
                                                  self.index(run))

    def device_clips(self) -> int:
        """Clips behind :meth:`device_accuracy`."""
        run = self.device_run
        return 0 if run is None else len(run.clips)

    def summary(self) -> str:
        """The progress line: accuracy from raw audio on the device, and exactness."""
        n = self.device_clips()
        where = "QEMU" if self.qemu is not None else "host build"
        run = self.device_run
        idx = self.index(run)
        acc = self.device_accuracy()
        host_acc = _accuracy(self.reference_decisions(idx), self.labels, idx)
        exact = "frames and scores bit-exact" if self.bit_exact else "MISMATCH"
        if self.streaming:
            exact += (f" (streaming, {self.hop} frame(s) per call, "
                      f"{(self.runs_compared or {}).get('qemu' if self.qemu else 'host', 0)} runs)")
        if acc is None:
            agree = float(np.mean(self.decisions(run) == self.reference_decisions(idx)))
            return (f"audio: decisions from raw audio on the device ({where}, {n} clips) equal "
                    f"the host int8's on {agree:.4f} of them; {exact}")
        return (f"audio: accuracy from raw audio on the device {acc:.4f} ({where}, {n} clips; "
                f"host int8 {host_acc:.4f} on the same clips); {exact}")

    def to_dict(self, arena_bytes: int, model_state_bytes: int = 0) -> dict:
        """The ``audio`` section of ``report.json``.

        Parameters
        ----------
        arena_bytes : int
            The model's arena (part of the total RAM).
        model_state_bytes : int
            A streaming model's state (0 for a window model).
        """
        f, fe = self.features, self.features.frontend
        any_run = self.device_run
        d = {"features": f.to_dict(), "sample_rate": fe.sample_rate,
             "stride_ms": round(fe.stride_ms, 3), "num_frames": f.num_frames,
             "streaming": self.streaming, "hop_frames": self.hop,
             "decision_frame": self.decision_frame,
             "runs_compared": dict(self.runs_compared or {}),
             "run_every_frames": any_run.run_every,
             "run_every_ms": round(any_run.run_every * fe.stride_ms, 3),
             "chunk_samples": any_run.chunk, "reference": REFERENCE,
             "frames_bit_exact": dict(self.frames_equal), "scores_bit_exact":
             dict(self.scores_equal), "bit_exact": self.bit_exact}
        for name, run in (("host", self.host), ("qemu", self.qemu)):
            if run is None:
                d[f"{name}_clips"] = 0
                continue
            idx = self.index(run)
            d[f"{name}_clips"] = len(idx)
            d[f"{name}_accuracy_raw_audio"] = _accuracy(self.decisions(run), self.labels, idx)
            d[f"{name}_int8_accuracy_same_clips"] = _accuracy(self.reference_decisions(idx),
                                                             self.labels, idx)
            d[f"{name}_decisions_equal_int8"] = bool(
                np.array_equal(self.decisions(run), self.reference_decisions(idx)))
        d["accuracy_raw_audio_device"] = self.device_accuracy()
        d["device"] = "qemu" if self.qemu is not None else "host"
        if self.qemu is not None:
            q, fw = self.qemu, self.firmware
            model = q.model_instructions()
            ram = {"arena_bytes": int(arena_bytes), "model_state_bytes": int(model_state_bytes),
                   "frontend_state_bytes": q.frontend_state_bytes,
                   "frontend_scratch_bytes": q.frontend_scratch_bytes,
                   ("frame_buffer_bytes" if self.streaming else "window_bytes"): q.window_bytes,
                   "stack_bytes": q.stack_bytes}
            ram["total_bytes"] = sum(ram.values())
            d.update({
                "frontend_instructions_per_stride": int(round(q.frontend_instructions_per_stride())),
                "model_instructions_per_run": int(round(float(np.mean(model)))) if model else None,
                "ram": ram, "firmware_ram_bytes": fw.ram_bytes, "flash_bytes": fw.flash_bytes})
        return d


def check_audio(tflite: bytes, features, src_dir, work, clips, labels=None, *,
                target: str | Target = "cortex-m4", host: bool = True,
                qemu_clips: int | None = DEFAULT_QEMU_CLIPS, graph=None,
                timeout: float = 600.0) -> AudioCheck:
    """Run raw clips through the audio firmware (host build and QEMU) and check it.

    Parameters
    ----------
    tflite : bytes
        The int8 model the C was generated from (tflite_micro's reference):
        a window model, or a streaming step model (see the module docs).
    features : edgekit.frontend.features.FrontendFeatures
        The front end and the frames per model input.
    src_dir : path
        Generated C with the front end and ``edgekit_audio.c``
        (:func:`edgekit.firmware_export.audio.generate_audio`).
    work : path
        Build directory: ``work/audio-host`` and ``work/<target>-audio``.
    clips : sequence of array_like
        Audio at ``features.sample_rate`` (int16, or floats in [-1, 1));
        each is cut or zero-padded to ``features.clip_samples``
        (:meth:`FrontendFeatures.clip_pcm`).
    labels : array_like, optional
        Classes of the clips, for the accuracies.
    target : str or edgekit.emulator.Target
        Cortex-M target of the QEMU run.
    host : bool
        Run every clip on the host build.
    qemu_clips : int or None
        Clips run in QEMU, evenly spread over ``clips`` (all of them if fewer);
        0 or None: no QEMU run.
    graph : edgekit.firmware_export.Graph, optional
        ``tflite`` already read.
    timeout : float
        Seconds before a run is stopped.

    Returns
    -------
    AudioCheck

    Raises
    ------
    edgekit.errors.ConfigError
        With no clip, or neither run asked for.
    edgekit.errors.ToolchainError, edgekit.errors.EmulatorError
        If a build or run fails.
    """
    pcm = [features.clip_pcm(c) for c in clips]
    if not pcm:
        raise ConfigError("check_audio needs at least one clip")
    k = min(int(qemu_clips or 0), len(pcm))
    pick = (np.unique(np.linspace(0, len(pcm) - 1, k).round().astype(int)) if k
            else np.zeros(0, dtype=int))
    if not host and k == 0:
        raise ConfigError("check_audio: neither the host build nor QEMU asked for")
    frames = np.stack([features.compute_int8(c) for c in pcm])
    graph = graph if graph is not None else read_tflite(tflite)
    streaming = is_streaming(graph)
    hop = step_shape(graph, features.frontend.num_channels) if streaming else 1
    decide = decision_frame(features.num_frames, hop)
    stream_ref = None
    if streaming:
        steps = decide // hop
        calls = frames[:, :decide].reshape(len(pcm) * steps, -1)
        resets = np.zeros(len(calls), bool)
        resets[::steps] = True
        stream_ref = run_tflm_stream(tflite, graph, calls, resets).astype(np.int8).reshape(
            len(pcm), steps, -1)
        reference = stream_ref[:, -1]
    else:
        reference = tflm_reference(tflite, frames.reshape(len(pcm), -1), graph=graph,
                                   stream=False).view(np.int8)

    def scores_match(run: AudioRun, index: np.ndarray) -> tuple[bool, int]:
        if not streaming:
            return bool(np.array_equal(run.first_scores(), reference[index])), len(index)
        n, ok = 0, True
        for c, i in zip(run.clips, index):
            for r in c.runs:
                k = r["frames"] // hop - 1
                if r["frames"] % hop or not 0 <= k < stream_ref.shape[1]:
                    continue          # past the clip's frames (none: clips are clip_samples long)
                n += 1
                ok = ok and bool(np.array_equal(r["scores"], stream_ref[i, k]))
        run.decision_scores()         # raises if a clip has no run at the decision frame
        return ok and n > 0, n

    rate, work, tgt = features.sample_rate, Path(work), get_target(target)
    frames_equal: dict = {"host": None, "qemu": None}
    scores_equal: dict = {"host": None, "qemu": None}
    compared: dict = {"host": 0, "qemu": 0}
    hr = qr = fw = None
    if host:
        exe = build_host(src_dir, work / "audio-host", defines=AUDIO_DEFINES)
        hr = run_audio_host(exe, pcm, rate, timeout=timeout)
        frames_equal["host"] = bool(np.array_equal(hr.first_windows(), frames))
        scores_equal["host"], compared["host"] = scores_match(hr, np.arange(len(pcm)))
    if k:
        fw = build_firmware(src_dir, work / f"{tgt.name}-audio", target=tgt,
                            defines=AUDIO_DEFINES)
        qr = run_audio_qemu(fw.elf, [pcm[i] for i in pick], rate, target=tgt, timeout=timeout)
        frames_equal["qemu"] = bool(np.array_equal(qr.first_windows(), frames[pick]))
        scores_equal["qemu"], compared["qemu"] = scores_match(qr, pick)
    return AudioCheck(features=features, reference=reference,
                      labels=None if labels is None else np.asarray(labels),
                      host=hr, qemu=qr, firmware=fw, frames_equal=frames_equal,
                      scores_equal=scores_equal, qemu_index=pick, stream_reference=stream_ref,
                      hop=hop, decision_frame=decide, runs_compared=compared)


def synthetic_clips(features, n: int = 12, seed: int = 0) -> list[np.ndarray]:
    """Clips of ``features.clip_samples`` int16 samples: silence, white noise, tones, chirps.

    For checking a front end + model when no recordings are at hand:
    ``n`` clips cycling through silence, white noise at three levels, pure
    tones (250 Hz .. 0.4 x the sample rate) and linear chirps.
    """
    rng = np.random.default_rng(seed)
    rate, size = features.sample_rate, features.clip_samples
    t = np.arange(size) / rate
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            x = np.zeros(size) if i == 0 else 0.3 * np.sin(2 * np.pi * 50.0 * i * t)
        elif kind == 1:
            x = rng.normal(0.0, (0.01, 0.1, 0.5)[(i // 4) % 3], size)
        elif kind == 2:
            f = 250.0 + (0.4 * rate - 250.0) * ((i * 0.37) % 1.0)
            x = 0.5 * np.sin(2 * np.pi * f * t)
        else:
            f0, f1 = 100.0, 0.45 * rate
            x = 0.4 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * t[-1])))
        out.append(np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16))
    return out


def audio_clips(features, data=None, *, num_classes: int | None = None):
    """Clips to check a given model's firmware from sound: FSDD's test split, else synthetic.

    Parameters
    ----------
    features : edgekit.frontend.features.FrontendFeatures
    data : path, optional
        Where to look for FSDD (as :func:`edgekit.data.resolve_data_root`).
    num_classes : int, optional
        The model's outputs: FSDD's digits are its labels only when it has 10.

    Returns
    -------
    clips : list of numpy.ndarray
        Float samples at ``features.sample_rate`` (FSDD recordings at another
        rate resampled with :func:`edgekit.data.resample.resample`) or int16.
    labels : numpy.ndarray or None
    source : str
        ``"fsdd"`` (with the rate and whether resampled) or ``"synthetic"``.
    """
    from edgekit.data.fsdd import FSDD_TEST_INDICES, fsdd_entries  # noqa: PLC0415
    from edgekit.data.paths import find_fsdd_recordings, resolve_data_root  # noqa: PLC0415
    from edgekit.data.resample import read_wav_at  # noqa: PLC0415
    from edgekit.errors import DataError  # noqa: PLC0415

    try:
        recordings = find_fsdd_recordings(resolve_data_root("fsdd", data))
    except DataError:
        recordings = None
    entries = []
    if recordings is not None:
        entries = [e for e in fsdd_entries(recordings)[0] if e[2] in FSDD_TEST_INDICES]
    if not entries:
        return synthetic_clips(features), None, "synthetic (no FSDD found)"
    clips = [read_wav_at(p, features.sample_rate) for *_, p in entries]
    labels = np.array([e[0] for e in entries]) if num_classes == 10 else None
    return clips, labels, f"fsdd test split ({len(clips)} clips at {features.sample_rate} Hz)"
