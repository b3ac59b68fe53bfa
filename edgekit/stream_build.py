"""``edgekit build --streaming``: the per-frame form of a recurrent zoo model on the device.

:func:`build_streaming` takes a trained ``lmu`` / ``lmuformer`` / ``lstm`` /
``spiking_lmuformer`` window model and its dataset and writes, into one
directory (``build/stream`` in a build):

- ``stream.tflite`` + ``stream.json``: the int8 streaming model (one hop of
  feature frames and the state in, scores and the new state out; see
  :mod:`edgekit.models.streaming`);
- ``firmware/src``: generated C with the state in static buffers and
  ``edgekit_push_frame()`` (one feature frame per call);
- ``firmware/host`` and ``firmware/<target>``: host and Cortex-M builds.

It checks what a user relies on and returns it for ``report.json``
(``streaming``): the generated C against tflite_micro call by call (host on
whole test clips, QEMU on the first clips), the streaming model's final
decision on every test clip against the int8 window model's, the int8
accuracy of both, and the device cost of one call (instructions per hop in
QEMU, state and arena bytes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgekit.errors import ModelError

__all__ = ["build_streaming", "QEMU_CLIPS"]

#: Test clips streamed through QEMU (the host build streams all of them).
QEMU_CLIPS = 2


def _clip_frames(x: np.ndarray, hop: int, scale: float, zp: int) -> np.ndarray:
    """int8 model inputs of every hop of clips ``x`` (N, frames, mels): (N, steps, hop*mels)."""
    from edgekit.quantize.evaluate import quantize_input  # noqa: PLC0415

    n, frames, mels = x.shape
    steps = frames // hop
    q = quantize_input(x[:, :steps * hop], scale, zp)
    return q.reshape(n, steps, hop * mels)


def build_streaming(model, x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                    window_tflite: bytes, out_dir: str | Path, target, progress=None,
                    form: str = "window") -> dict:
    """Export, generate, build and check the streaming form of ``model``.

    Parameters
    ----------
    model : keras.Model
        Trained window model with an LMU layer named ``lmu``, or the zoo ``lstm``
        (:func:`edgekit.quantize.lstm_stream.export_lstm_streaming`: its LSTM
        state kept between calls, ``lstm_state="keep"``).
    x_train : numpy.ndarray
        Training clips (calibration of the streaming int8 model).
    x_test, y_test : numpy.ndarray
        Test clips ``(N, frames, mels)`` and labels.
    window_tflite : bytes
        The int8 window model (its decisions are the reference).
    out_dir : str or pathlib.Path
        Written (created if missing).
    target : edgekit.emulator.Target
        Cortex-M target of the firmware.
    progress : edgekit.log.Progress, optional
    form : {"window", "recurrent"}
        Streaming form (:mod:`edgekit.models.streaming`): ``window`` gives
        the window model's int8 scores exactly (state: input and feature
        histories), ``recurrent`` carries the LMU memory itself (a few
        hundred bytes of state, decisions approximately the window's).

    Returns
    -------
    dict
        The ``streaming`` section of ``report.json``.

    Raises
    ------
    ModelError
        If ``model`` has no streaming form.
    """
    from edgekit.firmware_export import read_tflite  # noqa: PLC0415
    from edgekit.quantize.streaming import StreamingRunner, export_streaming  # noqa: PLC0415
    from edgekit.quantize.evaluate import tflite_predict  # noqa: PLC0415
    from edgekit.reference import run_tflm_stream  # noqa: PLC0415
    from edgekit.verify import verify  # noqa: PLC0415

    from edgekit.models.lstm import has_lstm  # noqa: PLC0415

    out = Path(out_dir)
    lstm_state = "reset"
    if has_lstm(model):           # the zoo lstm: its LSTM state kept between calls
        if form != "window":
            raise ModelError(f"the lstm's streaming form is 'window' (got {form!r})")
        from edgekit.quantize.lstm_stream import export_lstm_streaming  # noqa: PLC0415

        info = export_lstm_streaming(window_tflite, out)
        lstm_state = "keep"
    else:
        info = export_streaming(model, x_train, out, form=form,
                                window_tflite=(window_tflite or None) if form == "window"
                                else None)
    tflite = (out / "stream.tflite").read_bytes()
    if not read_tflite(tflite).state_pairs():
        raise ModelError("the streaming export has no state_i pairs")
    hop, steps = int(info["hop"]), int(info["steps"])
    frame = info["inputs"]["frame"]
    clips = _clip_frames(np.asarray(x_test, np.float32), hop, frame["scale"], frame["zero_point"])
    n = len(clips)

    # Generated C vs tflite_micro, call by call, on the test clips streamed back to back
    # (one reset at the start, as the harness does; tflite_micro's state outputs fed back):
    # the host build on every clip, QEMU on the first QEMU_CLIPS.
    stream = clips.reshape(n * steps, -1)
    k = min(QEMU_CLIPS, n) * steps
    v = verify(tflite, out / "firmware", target, stream, litert=False, source="stream.tflite",
               stream=True, qemu_cases=k, lstm_state=lstm_state)
    graph, exp, fw = v.export.graph, v.export.result, v.qemu.firmware
    host_exact, qemu_exact = v.host.bit_exact, v.qemu.bit_exact

    # Each test clip from a reset state: final decision vs the int8 window model.
    resets = np.zeros(n * steps, bool)
    resets[::steps] = True
    final = run_tflm_stream(tflite, graph, stream, resets)[steps - 1::steps].astype(np.int32)
    window = tflite_predict(window_tflite, x_test, runtime="tflm").astype(np.int32)
    same = final.argmax(1) == window.argmax(1)
    differ = np.flatnonzero(~same)
    y = np.asarray(y_test)
    report = {
        "form": info.get("form", form), "hop_frames": hop, "steps": steps,
        "state_bytes": exp.state_bytes, "arena_bytes": exp.plan.arena_bytes,
        "flash_bytes": fw.flash_bytes, "ram_bytes": fw.ram_bytes,
        "instructions_per_hop": v.qemu.instructions,
        "bit_exact": host_exact and qemu_exact, "host_bit_exact": host_exact,
        "qemu_bit_exact": qemu_exact, "host_calls": int(n * steps), "qemu_calls": int(k),
        "test_clips": int(n),
        "decisions_equal_window": round(float(same.mean()), 4),
        "clips_differing": [int(i) for i in differ],
        "max_abs_diff_vs_window": int(np.abs(final - window).max()),
        "accuracy_int8": round(float(np.mean(final.argmax(1) == y)), 4),
        "window_accuracy_int8": round(float(np.mean(window.argmax(1) == y)), 4),
        "states": info["states"],
    }
    # The runner's push() gives the same final scores as the tflite_micro stream.
    runner = StreamingRunner(tflite, "tflm")
    pushed = [runner.push(f) for f in np.asarray(x_test[0], np.float32)[:steps * hop]][-1]
    report["push_matches"] = bool(np.array_equal(pushed, final[0].astype(np.int8)))
    (out / "stream_report.json").write_text(json.dumps(report, indent=1) + "\n")
    if progress is not None:
        progress.info(
            f"streaming: {hop} frame(s) per call, {report['instructions_per_hop']:,} instructions "
            f"per hop, state {exp.state_bytes} B, arena {exp.plan.arena_bytes} B; "
            f"{'bit-exact' if report['bit_exact'] else 'NOT bit-exact'} with tflite_micro; "
            f"final decision = window model's on {int(same.sum())}/{n} test clips")
    return report
