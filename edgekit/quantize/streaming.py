"""Int8 export of the streaming form of ``lmu``, ``lmuformer`` and ``spiking_lmuformer``.

The Keras streaming step (:func:`edgekit.models.streaming.build_streaming_model`)
is converted to a full-int8 TFLite with the one converter call
(:func:`edgekit.quantize.converter.run_converter`), calibrated on the
float streaming model's own inputs, and then edited by the streaming passes:
``form="window"``: :func:`~edgekit.quantize.passes.align_to_window.align_to_window`
(every quantisation parameter from the int8 window model) and
:func:`~edgekit.quantize.passes.fix_state_quantization.fix_state_quantization`
(state bytes fed back unchanged); ``form="recurrent"``: the latter.
See :mod:`edgekit.models.streaming` for the forms and their measurements,
:class:`edgekit.quantize.streaming_runner.StreamingRunner` to run the result.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError
from edgekit.models.streaming import (
    FORMS,
    build_streaming_model,
    run_streaming_float,
    streaming_float,
)
from edgekit.outputs import atomic_file
from edgekit.quantize.convert import representative_subset
from edgekit.quantize.converter import run_converter
from edgekit.quantize.int8 import quantize_int8
from edgekit.quantize.passes.align_to_window import align_to_window
from edgekit.quantize.passes.fix_state_quantization import fix_state_quantization
from edgekit.quantize.streaming_runner import StreamingRunner

__all__ = ["StreamCalibration", "StreamingRunner", "convert_streaming", "export_streaming",
           "quantize_streaming_int8"]


class StreamCalibration:
    """Every ``(clip, call)`` input of the float window-form streaming model.

    History states are not stored per call: the rows shifted in at each call
    are, and a call's history is cut from them (a few MB instead of
    ``calls x history`` floats).

    Parameters
    ----------
    model : keras.Model
        The float window model.
    clips : numpy.ndarray
        Calibration clips ``(N, frames, mels)``.
    batch_size : int
        Clips per float streaming call.

    Iterating yields one feed dict (``frame``, ``state_i``, batch 1) per
    ``(clip, call)``, clip by clip.
    """

    def __init__(self, model, clips, batch_size=300):
        _, self.spec = build_streaming_model(model, form="window")
        spec = self.spec
        self.n = len(clips)
        whole = [f"state_{i}" for i in range(len(spec.state_shapes))
                 if f"state_{i}" not in spec.shifts]
        parts = []  # per batch of clips: per call, frames / shifted-in rows / whole states

        def visit(start, t, feed, out):
            if t == 0:
                parts.append({"frames": [], "rows": {k: [] for k in spec.shifts},
                              "whole": {k: [] for k in whole}})
            p = parts[-1]
            p["frames"].append(feed["frame"])
            for k, (r, axis) in spec.shifts.items():
                hist = np.moveaxis(out[k], axis, 1)  # history axis second
                p["rows"][k].append(hist[:, -min(r, hist.shape[1]):])
            for k in whole:
                p["whole"][k].append(feed[k])

        run_streaming_float(model, np.asarray(clips, np.float32), "window", batch_size, visit)
        self.frames = np.concatenate([np.stack(p["frames"], 1) for p in parts])
        self.rows = {k: np.concatenate([np.concatenate(p["rows"][k], 1) for p in parts])
                     for k in spec.shifts}
        self.whole = {k: np.concatenate([np.stack(p["whole"][k], 1) for p in parts])
                      for k in whole}

    def __len__(self):
        return self.n * self.spec.steps

    def __iter__(self):
        spec = self.spec
        padded = {}
        for k, (r, axis) in spec.shifts.items():
            length = spec.state_shapes[int(k.split("_")[1])][axis]
            seq = self.rows[k]
            padded[k] = (np.concatenate([np.zeros((self.n, length, *seq.shape[2:]), np.float32),
                                         seq], axis=1), min(r, length), length, axis)
        for i in range(self.n):
            for t in range(spec.steps):
                feed = {"frame": self.frames[i, t][None]}
                for k, (pad, c, length, axis) in padded.items():
                    feed[k] = np.moveaxis(pad[i:i + 1, t * c:t * c + length], 1, axis)
                for k, v in self.whole.items():
                    feed[k] = v[i, t][None]
                yield feed


def convert_streaming(smodel, spec, samples) -> bytes:
    """Full-int8 conversion of a streaming Keras model calibrated on ``samples``.

    The model is exported as a SavedModel whose ``serving_default``
    signature has the inputs ``frame``, ``state_i`` (the TFLite signature
    keeps these names), then converted with :func:`run_converter`.

    Parameters
    ----------
    smodel : keras.Model
        From :func:`edgekit.models.streaming.build_streaming_model` (batch 1).
    spec : StreamingSpec
        Its layout.
    samples : iterable of dict
        Calibration feed dicts (``frame``, ``state_i``).

    Returns
    -------
    bytes
        The int8 ``.tflite`` as converted (no pass applied).

    Raises
    ------
    ModelError
        If the conversion fails.
    """
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    names = ["frame"] + [f"state_{i}" for i in range(len(spec.state_shapes))]
    sig = [tf.TensorSpec(spec.frame_shape, tf.float32, name="frame")] + [
        tf.TensorSpec(s, tf.float32, name=f"state_{i}") for i, s in enumerate(spec.state_shapes)]

    def serve(*args):
        return smodel(dict(zip(names, args)), training=False)

    def gen():
        for feed in samples:
            yield {k: feed[k] for k in names}

    with tempfile.TemporaryDirectory(prefix="ek_stream_") as tmp:
        archive = keras.export.ExportArchive()
        archive.track(smodel)
        archive.add_endpoint(name="serving_default", fn=serve, input_signature=sig)
        with contextlib.redirect_stdout(io.StringIO()):
            archive.write_out(tmp, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        return run_converter(conv, gen, "int8", what="streaming int8")


def quantize_streaming_int8(model, representative, *, num_samples: int = 300, seed: int = 0,
                            calib_clips: int = 200, form: str = "window", window_tflite=None):
    """Convert the streaming form of ``model`` to a full-int8 TFLite flatbuffer.

    Parameters
    ----------
    model : keras.Model
        Trained window model (``lmu``, ``lmuformer`` or ``spiking_lmuformer``).
    representative : numpy.ndarray
        Training clips ``(N, frames, mels)``.
    num_samples, seed
        ``form="window"``: the calibration clips are the ones
        :func:`edgekit.quantize.quantize_int8` draws with these arguments
        (every call of each clip is a calibration sample), and the window
        model is quantised with them when ``window_tflite`` is not given.
        ``form="recurrent"``: ``num_samples`` of the ``(frame, states)``
        visited on ``calib_clips`` clips are the calibration set.
    calib_clips : int
        ``form="recurrent"`` only (see above).
    form : {"window", "recurrent"}
        Streaming form (see :mod:`edgekit.models.streaming`).
    window_tflite : bytes, optional
        ``form="window"``: the deployed int8 window model of ``model``, whose
        quantisation the streaming model takes
        (:func:`~edgekit.quantize.passes.align_to_window.align_to_window`).
        It must come from :func:`edgekit.quantize.quantize_int8` with the
        same ``representative``, ``num_samples`` and ``seed``.

    Returns
    -------
    bytes
        The int8 ``.tflite`` with signature inputs ``frame``, ``state_i`` and
        outputs ``scores``, ``state_i`` (``state_i`` in/out share
        quantisation).
    StreamingSpec
        The streaming layout; ``form="window"`` adds ``alignment`` (see
        :func:`~edgekit.quantize.passes.align_to_window.align_to_window`).

    Raises
    ------
    ConfigError
        If ``form`` is unknown.
    ModelError
        If the model is not a streaming architecture or does not convert.
    """
    if form not in FORMS:
        raise ConfigError(f"unknown streaming form {form!r}; available: {', '.join(FORMS)}")
    rng = np.random.default_rng(seed)
    x = np.asarray(representative, dtype=np.float32)
    if form == "window":
        calib = StreamCalibration(model, representative_subset(x, num_samples, seed))
        smodel, spec = build_streaming_model(model, form="window")
        flat = convert_streaming(smodel, spec, calib)
        if window_tflite is None:
            window_tflite = quantize_int8(model, x, num_samples=num_samples, seed=seed)
        flat, spec.alignment = align_to_window(flat, bytes(window_tflite))
        flat, _ = fix_state_quantization(flat)
        return flat, spec
    sel = np.sort(rng.permutation(len(x))[:min(calib_clips, len(x))])
    _, seen = streaming_float(model, x[sel], collect=True, form="recurrent")
    # LMU memory: carry m / d with d = per-component max |m| on the
    # calibration clips, so one int8 scale suits every Legendre coefficient.
    _, spec0 = build_streaming_model(model, form="recurrent")
    k = f"state_{spec0.state_names.index('lmu_memory')}"
    peak = np.max([np.abs(feed[k]).max(axis=0) for feed in seen], axis=0).reshape(-1)
    d = np.maximum(peak, 1e-3 * max(float(peak.max()), 1e-12))
    for feed in seen:
        feed[k] = feed[k] / d
    smodel, spec = build_streaming_model(model, memory_scale=d, form="recurrent")
    pool = [(t, i) for t in range(len(seen)) for i in range(len(seen[t]["frame"]))]
    pick = rng.permutation(len(pool))[:num_samples]
    samples = ({k: seen[t][k][i:i + 1] for k in seen[t]} for t, i in (pool[j] for j in pick))
    flat = convert_streaming(smodel, spec, list(samples))
    flat, _ = fix_state_quantization(flat)
    return flat, spec


def export_streaming(model, representative, out_dir, *, num_samples: int = 300,
                     seed: int = 0, form: str = "window", window_tflite=None) -> dict:
    """Write ``stream.tflite`` and ``stream.json`` (layout and quantisation) to ``out_dir``.

    Parameters
    ----------
    model : keras.Model
        Trained window model (``lmu``, ``lmuformer`` or ``spiking_lmuformer``).
    representative : numpy.ndarray
        Training clips for calibration (see :func:`quantize_streaming_int8`).
    out_dir : str or os.PathLike
        Created if missing.
    num_samples, seed
        Calibration draw.
    form : {"window", "recurrent"}
        Streaming form (see :mod:`edgekit.models.streaming`).
    window_tflite : bytes, optional
        The deployed int8 window model (``form="window"``, see
        :func:`quantize_streaming_int8`).

    Returns
    -------
    dict
        The JSON written: ``form``, ``hop``, ``steps``, ``state_bytes``, the
        ``frame`` / ``scores`` / ``state_i`` shapes, scales and zero points,
        and each state's meaning.
    """
    flat, spec = quantize_streaming_int8(model, representative, num_samples=num_samples,
                                         seed=seed, form=form, window_tflite=window_tflite)
    runner = StreamingRunner(flat, "litert")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_file(out / "stream.tflite", flat)
    info = {"form": spec.form, "hop": spec.hop, "steps": spec.steps,
            "state_bytes": spec.state_bytes, "inputs": {}, "states": {}}
    for name in ["frame", *runner.states]:
        scale, zp = runner.quant[name]
        info["inputs"][name] = {"shape": [int(d) for d in runner.shapes[name]],
                                "scale": scale, "zero_point": zp}
    for i, label in enumerate(spec.state_names):
        info["states"][f"state_{i}"] = label
    if spec.memory_scale is not None:
        info["lmu_memory_scale"] = [float(v) for v in spec.memory_scale]
    atomic_file(out / "stream.json", json.dumps(info, indent=1))
    return info
