"""Per-frame streaming form of the ``lmu``, ``lmuformer`` and ``spiking_lmuformer`` models.

A streaming model consumes one *hop* of features per call (``patch_stride``
feature frames; one frame for ``lmu`` and ``patch_stride=1``) and returns the
class scores so far, carrying the recurrent state explicitly (an audio front
end delivers one frame at a time: :meth:`StreamingRunner.push` and the
generated C's ``edgekit_push_frame`` collect a hop and run the model on it)::

    inputs : frame (1, hop, mels), state_0, state_1, ...
    outputs: scores (1, num_classes), state_0, state_1, ...

Two forms (``form=``), both exactly the window model in float:

``"window"`` (default)
    Each call evaluates the window model's own per-step ops at one time
    step.  States: the patch convolution's input history
    ``(patch_kernel - patch_stride, mels)``, the LMU memory *input* ``u`` of
    the last ``steps - 1`` steps per memory channel ``(memory_d, steps - 1)``
    (the memory is the window form's causal convolution evaluated at the
    newest step, one ``FULLY_CONNECTED`` with the window kernel:
    :meth:`edgekit.models.lmu.LMU.step_window`), the LIF membranes
    ``(1, dim)`` / ``(1, mlp_ratio * dim)`` of ``patch_act``, ``lmu_act``,
    ``mix_act``, and the features of the last ``steps - 1`` steps
    ``(steps - 1, dim)``, which the head averages with the current one (the
    window model's ``MEAN``; over a continuous stream, a sliding window of
    the last ``steps`` hops).  The int8 export takes every quantisation
    parameter from the int8 *window* model (:func:`_align_to_window`), so
    the scores after the last hop of a clip are the int8 window model's,
    bit for bit, for all three.  For ``spiking_lmuformer`` this needs the
    window model's help: it unrolls the LIF neurons over the steps, and the
    converter calibrates each step's membrane (and every other LIF tensor)
    with its own scale (a membrane's by up to 1.7x over the steps), while a
    streaming state has one scale, so a membrane within a rounding step of
    the threshold fired in one model and not in the other (297/300 equal
    decisions, max |diff| 103).  :func:`edgekit.quantize.quantize_int8`
    therefore gives each LIF tensor of the window model one quantisation
    at every step (:func:`edgekit.models.spiking_int8.unify_lif_quantization`),
    and the streaming step takes it.

``"recurrent"``
    The LMU recurrence ``m_t = A_bar m_{t-1} + B_bar u_t`` on the memory
    ``(memory_d * order,)`` (carried divided per component by its calibration
    peak, ``memory_scale``) and a running sum of the features ``(dim,)``:
    a few hundred bytes of state, but the int8 state is rounded at every
    step.  Measured on ``lmu`` (100 test clips, relative RMS error of the
    memory vs float): int8 window model 1.7%, recurrent 8.1% (10.5% at the
    last step); simulated, the int8 ``A_bar`` weights alone cost 6.1%
    (1.1% in the delta form ``m + (A_bar - I) m + B_bar u``), the state
    rounding alone 3.4%; and the feature sum is carried at a 16x coarser
    scale than the features and rounded at every step.

All states start at zero (:meth:`StreamingRunner.reset`).  The int8
converter keeps the TFLite signature names (``frame``, ``state_i``,
``scores``), and every ``state_i`` output gets the quantisation of the
``state_i`` input, so the state bytes are fed back unchanged (the generated
C keeps them in static buffers).

Measured (FSDD official split, the zoo recipes: 16 epochs, seed 0; the
int8 streaming model in tflite_micro over every hop of each of the 300
test clips vs the int8 window model; instructions per hop, arena and
flash of the generated C on Cortex-M4 in QEMU):

=================  =========  ==========  ======  =====  =====  ======  =======
arch               form       dec. equal  max     state  arena  flash   instr.
                                          |diff|  (B)    (B)    (B)     per hop
=================  =========  ==========  ======  =====  =====  ======  =======
lmu                recurrent  295/300     52      256    432    72,256  222,085
lmu                window     300/300     0       5,040  9,152  30,972  154,840
lmuformer          recurrent  299/300     40      256    400    68,776  225,810
lmuformer          window     300/300     0       2,064  3,616  49,000  176,461
spiking_lmuformer  recurrent  300/300     80      448    640    74,152  525,384
spiking_lmuformer  window     300/300     0       2,256  3,808  54,376  475,499
=================  =========  ==========  ======  =====  =====  ======  =======

Window rows: ``edgekit build --arch NAME --streaming`` after the strided
copies of the histories became block copies (before: 232,220 / 207,465 /
506,982 instructions per hop); recurrent rows measured before that change.
``spiking_lmuformer`` rows: measured with the int8 window model whose LIF
tensors are quantised alike at every step (above).  Before that, the
window form differed from the window model on 3 clips (263, 267, 268, all
spoken "8", not near-ties: flipped spikes moved them; the streaming
model's spikes differed from the window model's in 3.9% (``patch_act``),
18.8% (``lmu_act``) and 7.7% (``mix_act``) of the (step, neuron) pairs),
and the recurrent form on 1 (max |diff| 46).  The one quantisation per
LIF tensor costs the window model one test clip: int8 accuracy 0.987 ->
0.983 (TFLM and LiteRT alike), clip 268, a near-tie before (int8 scores
8: 25 / 6: -26) that the float model gets wrong as well; the int8 model
now misclassifies exactly the float model's 5 clips.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings

import numpy as np

from edgekit.errors import ConfigError, ModelError
from edgekit.models.streaming_align import _align_to_window, _fix_state_quantization
from edgekit.models.streaming_runner import StreamingRunner

__all__ = [
    "FORMS",
    "StreamingSpec",
    "build_streaming_model",
    "streaming_float",
    "quantize_streaming_int8",
    "StreamingRunner",
    "export_streaming",
]

#: Streaming forms (see the module notes).
FORMS = ("window", "recurrent")


class StreamingSpec:
    """What a streaming model looks like (see :func:`build_streaming_model`).

    Attributes
    ----------
    hop : int
        Feature frames per call.
    steps : int
        Calls per clip (``frames / hop``).
    state_names : list of str
        Descriptive name of each ``state_i``.
    state_shapes : list of tuple
        Shapes (batch 1) of the states.
    frame_shape : tuple
        Shape of ``frame`` (batch 1).
    form : str
        ``"window"`` or ``"recurrent"``.
    shifts : dict
        History states: ``state_i`` -> ``(n, axis)``, ``n`` entries shifted
        in along ``axis`` (of the batch-shaped state) at each call, the
        oldest dropped; states not listed are replaced whole.
    """

    def __init__(self, hop, steps, frame_shape, state_names, state_shapes, form="recurrent",
                 shifts=None):
        self.hop = hop
        self.steps = steps
        self.frame_shape = frame_shape
        self.state_names = state_names
        self.state_shapes = state_shapes
        self.form = form
        self.shifts = dict(shifts or {})

    @property
    def state_bytes(self) -> int:
        """Bytes of int8 state (batch 1)."""
        return int(sum(np.prod(s[1:]) for s in self.state_shapes))

    def __repr__(self):
        return (f"StreamingSpec(form={self.form!r}, hop={self.hop}, steps={self.steps}, "
                f"frame={self.frame_shape}, "
                f"states={list(zip(self.state_names, self.state_shapes))})")


def build_streaming_model(model, batch_size: int = 1, memory_scale=None, *, form: str = "window"):
    """Build the per-hop streaming Keras model sharing ``model``'s weights.

    Parameters
    ----------
    model : keras.Model
        A window model from :func:`edgekit.models.lmu.build_lmu` or
        :func:`edgekit.models.lmuformer.build_lmuformer` (recognised by its
        layer names).
    batch_size : int
        Static batch size (1 for deployment; larger for fast float runs).
    memory_scale : numpy.ndarray, optional
        ``form="recurrent"`` only: per-component scale of the LMU memory
        state (see :meth:`edgekit.models.lmu.LMU.step`); the state is then
        ``m / scale``.
    form : {"window", "recurrent"}
        Streaming form (see the module notes).

    Returns
    -------
    keras.Model
        Dict inputs ``{"frame", "state_0", ...}`` (batch 1) and dict outputs
        ``{"scores", "state_0", ...}``.
    StreamingSpec
        Shapes and meaning of the inputs.

    Raises
    ------
    ModelError
        If ``model`` is not one of the supported architectures, or has a
        single step (``form="window"`` needs a history).
    ConfigError
        If ``form`` is unknown, or ``memory_scale`` is given with ``form="window"``.
    """
    import keras  # noqa: PLC0415

    from edgekit.models import lmu as lmu_mod  # noqa: PLC0415
    from edgekit.models import spiking as spk  # noqa: PLC0415

    if form not in FORMS:
        raise ConfigError(f"unknown streaming form {form!r}; available: {', '.join(FORMS)}")
    if form == "window" and memory_scale is not None:
        raise ConfigError("memory_scale applies to form='recurrent' only")
    ops = keras.ops
    names = {layer.name for layer in model.layers}
    if "lmu" not in names or not isinstance(model.get_layer("lmu"), lmu_mod.LMU):
        raise ModelError(f"model {model.name!r} has no LMU layer named 'lmu'")
    lmu = model.get_layer("lmu")
    frames, mels = (int(d) for d in model.input_shape[1:])
    window_form = form == "window"
    state_names, state_shapes, shifts = [], [], {}

    def add_state(label, shape, shift=None):
        state_names.append(label)
        state_shapes.append((batch_size, *shape))
        key = f"state_{len(state_names) - 1}"
        if shift:
            shifts[key] = shift
        return key

    lmuformer = "patch_conv" in names
    if lmuformer:
        conv = model.get_layer("patch_conv")
        k, hop = int(conv.kernel_size[0]), int(conv.strides[0])
        dim = int(conv.filters)
    else:
        k, hop, dim = 1, 1, lmu.units
    steps = frames // hop
    if window_form and steps < 2:
        raise ModelError(f"model {model.name!r} has a single step: nothing to stream")
    keys = {}
    if k > hop:
        keys["hist"] = add_state("patch_history", (k - hop, mels), (hop, 1))
    if window_form:
        keys["m"] = add_state("lmu_input_history", (lmu.memory_d, steps - 1), (1, 2))
    else:
        keys["m"] = add_state("lmu_memory", (lmu.memory_d * lmu.order,))
    spiking = lmuformer and isinstance(model.get_layer("patch_act"), spk.LIF)
    if spiking:
        hidden = int(model.get_layer("mix1").filters)
        keys["v_patch"] = add_state("patch_act_membrane", (1, dim))
        keys["v_lmu"] = add_state("lmu_act_membrane", (1, dim))
        keys["v_mix"] = add_state("mix_act_membrane", (1, hidden))
    if window_form:
        keys["feat"] = add_state("feature_history", (steps - 1, dim), (1, 1))
    else:
        keys["feat"] = add_state("feature_sum", (dim,))
    inputs = {"frame": keras.Input(batch_shape=(batch_size, hop, mels), name="frame")}
    for i, shape in enumerate(state_shapes):
        inputs[f"state_{i}"] = keras.Input(batch_shape=shape, name=f"state_{i}")
    new = {}

    def act(name, x, vkey):
        layer = model.get_layer(name)
        if isinstance(layer, spk.LIF):
            s, r = layer.step(layer.clip_current(x), inputs[vkey])
            new[vkey] = r
            return s
        return layer(x)

    def memory_step(x):
        if window_form:
            h, state = lmu.step_window(x, inputs[keys["m"]])
        else:
            h, state = lmu.step(x, inputs[keys["m"]], memory_scale)
        new[keys["m"]] = state
        return h

    if lmuformer:
        frame = inputs["frame"]
        if "hist" in keys:
            window = ops.concatenate([inputs[keys["hist"]], frame], axis=1)
            new[keys["hist"]] = window[:, hop:, :]
        else:
            window = frame
        x = model.get_layer("patch_conv")(window)
        x0 = act("patch_act", model.get_layer("patch_bn")(x), keys.get("v_patch"))
        h = memory_step(ops.reshape(x0, (-1, x0.shape[-1])))
        h = ops.reshape(h, (-1, 1, h.shape[-1]))
        h = act("lmu_act", model.get_layer("lmu_bn")(h), keys.get("v_lmu"))
        x1 = model.get_layer("lmu_res")([x0, h])
        h = model.get_layer("mix1")(x1)
        h = act("mix_act", model.get_layer("mix1_bn")(h), keys.get("v_mix"))
        h = model.get_layer("mix2_bn")(model.get_layer("mix2")(h))
        feat = model.get_layer("mix_res")([x1, h])  # (B, 1, dim)
    else:
        x = ops.reshape(model.get_layer("in_bn")(inputs["frame"]), (-1, mels))
        feat = ops.expand_dims(memory_step(x), 1)
    if window_form:
        # the window model's GlobalAveragePooling1D over the last `steps` features
        feats = ops.concatenate([inputs[keys["feat"]], feat], axis=1)
        new[keys["feat"]] = feats[:, 1:]
        scores = model.get_layer("classifier")(model.get_layer("pool")(feats))
    else:
        total = inputs[keys["feat"]] + ops.reshape(feat, (-1, dim))
        new[keys["feat"]] = total
        scores = model.get_layer("classifier")(total * (1.0 / steps))
    outputs = {"scores": scores}
    for i in range(len(state_shapes)):
        outputs[f"state_{i}"] = new[f"state_{i}"]
    smodel = keras.Model(inputs, outputs, name=f"{model.name}_streaming")
    spec = StreamingSpec(hop, steps, (batch_size, hop, mels), state_names, state_shapes, form,
                         shifts)
    spec.memory_scale = None if memory_scale is None else np.asarray(memory_scale, np.float32)
    return smodel, spec


def _run_float(model, x, form, batch_size, visit=None, memory_scale=None):
    """Stream clips ``x`` through the float model; ``visit(start, t, feed, out)`` sees every call.

    ``start`` is the index of the batch's first clip, ``t`` the call.
    """
    outs, models = [], {}
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        n = len(xb)
        if n not in models:
            models[n] = build_streaming_model(model, n, memory_scale, form=form)
        smodel, spec = models[n]
        states = [np.zeros(s, np.float32) for s in spec.state_shapes]
        scores = None
        for t in range(spec.steps):
            feed = {"frame": xb[:, t * spec.hop:(t + 1) * spec.hop],
                    **{f"state_{i}": s for i, s in enumerate(states)}}
            out = smodel(feed, training=False)
            out = {k: np.asarray(v) for k, v in out.items()}
            if visit is not None:
                visit(start, t, feed, out)
            scores = out["scores"]
            states = [out[f"state_{i}"] for i in range(len(states))]
        outs.append(scores)
    return np.concatenate(outs)


def streaming_float(model, x, *, collect: bool = False, batch_size: int = 300,
                    form: str = "window"):
    """Run the float streaming form of ``model`` over clips ``x`` (N, frames, mels).

    Clips are processed in batches (a batch-``batch_size`` streaming graph).
    Returns the final scores ``(N, classes)``; with ``collect=True`` also, per
    batch and hop, the input dicts that were fed (for calibration).
    """
    x = np.asarray(x, dtype=np.float32)
    seen = []

    def visit(start, t, feed, out):
        seen.append({k: np.array(v) for k, v in feed.items()})

    scores = _run_float(model, x, form, batch_size, visit if collect else None)
    return (scores, seen) if collect else scores


class _StreamCalibration:
    """Every ``(clip, call)`` input of the float window-form streaming model.

    History states are not stored per call: the rows shifted in at each call
    are, and a call's history is cut from them (a few MB instead of
    ``calls x history`` floats).
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

        _run_float(model, np.asarray(clips, np.float32), "window", batch_size, visit)
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


def _convert(smodel, spec, samples) -> bytes:
    """Full-int8 conversion of a streaming Keras model calibrated on ``samples`` (feed dicts)."""
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
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.filterwarnings("ignore")
                return bytes(conv.convert())
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).strip().splitlines()
            raise ModelError(f"streaming int8 conversion failed: {msg[0] if msg else exc}") from exc


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
        Streaming form (see the module notes).
    window_tflite : bytes, optional
        ``form="window"``: the deployed int8 window model of ``model``, whose
        quantisation the streaming model takes (:func:`_align_to_window`).
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
        :func:`_align_to_window`).

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
        from edgekit.quantize.int8 import quantize_int8, representative_subset  # noqa: PLC0415

        calib = _StreamCalibration(model, representative_subset(x, num_samples, seed))
        smodel, spec = build_streaming_model(model, form="window")
        flat = _convert(smodel, spec, calib)
        if window_tflite is None:
            window_tflite = quantize_int8(model, x, num_samples=num_samples, seed=seed)
        flat, spec.alignment = _align_to_window(flat, bytes(window_tflite))
        flat, _ = _fix_state_quantization(flat)
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
    flat = _convert(smodel, spec, list(samples))
    flat, _ = _fix_state_quantization(flat)
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
        Streaming form (see the module notes).
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
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    flat, spec = quantize_streaming_int8(model, representative, num_samples=num_samples,
                                         seed=seed, form=form, window_tflite=window_tflite)
    runner = StreamingRunner(flat, "litert")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream.tflite").write_bytes(flat)
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
    (out / "stream.json").write_text(json.dumps(info, indent=1))
    return info
