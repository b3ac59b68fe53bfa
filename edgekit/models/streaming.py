"""Per-frame streaming form of the ``lmu``, ``lmuformer`` and ``spiking_lmuformer`` models.

A streaming model consumes one *hop* of features per call (``patch_stride``
feature frames; one frame for ``lmu`` and ``patch_stride=1``) and returns the
class scores so far, carrying the recurrent state explicitly (an audio front
end delivers one frame at a time:
:meth:`edgekit.quantize.streaming_runner.StreamingRunner.push` and the
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
    :meth:`edgekit.models.lmu.LMU.step_window`; with a spiking memory
    input also its LIF membrane ``(memory_d,)``; with a spiking memory
    (``m_lif``) the history is ``(steps - 1, memory_d)``, the memory the
    window model's ``DEPTHWISE_CONV_2D`` at the newest step, and the memory
    neurons' membrane ``(memory_d * order,)`` a state too), the LIF membranes
    ``(1, dim)`` / ``(1, mlp_ratio * dim)`` of ``patch_act``, ``lmu_act``,
    ``mix_in_act`` (with ``spiking_mixer_input``), ``mix_act``, and the
    features of the last ``steps - 1`` steps ``(steps - 1, dim)``, which
    the head averages with the current one (the
    window model's ``MEAN``; over a continuous stream, a sliding window of
    the last ``steps`` hops).  The int8 export
    (:func:`edgekit.quantize.streaming.quantize_streaming_int8`) takes every
    quantisation parameter from the int8 *window* model
    (:func:`edgekit.quantize.passes.align_to_window.align_to_window`), so
    the scores after the last hop of a clip are the int8 window model's,
    bit for bit, for all three.  For ``spiking_lmuformer`` this needs the
    window model's help: it unrolls the LIF neurons over the steps, and the
    converter calibrates each step's membrane (and every other LIF tensor)
    with its own scale (a membrane's by up to 1.7x over the steps), while a
    streaming state has one scale, so a membrane within a rounding step of
    the threshold fired in one model and not in the other (297/300 equal
    decisions, max |diff| 103).  :func:`edgekit.quantize.quantize_int8`
    therefore gives each LIF tensor of the window model one quantisation
    at every step
    (:func:`edgekit.quantize.passes.unify_lif_quantization.unify_lif_quantization`),
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

All states start at zero
(:meth:`edgekit.quantize.streaming_runner.StreamingRunner.reset`).  The int8
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

import numpy as np

from edgekit.errors import ConfigError, ModelError

__all__ = [
    "FORMS",
    "StreamingSpec",
    "build_streaming_model",
    "run_streaming_float",
    "streaming_float",
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
    if window_form and getattr(lmu, "m_lif", None) is not None:   # a depthwise over the steps
        keys["m"] = add_state("lmu_input_history", (steps - 1, lmu.memory_d), (1, 1))
    elif window_form:
        keys["m"] = add_state("lmu_input_history", (lmu.memory_d, steps - 1), (1, 2))
    else:
        keys["m"] = add_state("lmu_memory", (lmu.memory_d * lmu.order,))
    if getattr(lmu, "u_lif", None) is not None:     # spiking memory input
        keys["v_u"] = add_state("lmu_input_membrane", (lmu.memory_d,))
    if getattr(lmu, "m_lif", None) is not None:     # spiking memory (in front of W_m)
        keys["v_m"] = add_state("lmu_memory_membrane", (lmu.memory_d * lmu.order,))
    spiking = lmuformer and isinstance(model.get_layer("patch_act"), spk.LIF)
    if spiking:
        hidden = int(model.get_layer("mix1").filters)
        keys["v_patch"] = add_state("patch_act_membrane", (1, dim))
        keys["v_lmu"] = add_state("lmu_act_membrane", (1, dim))
        if "mix_in_act" in names:
            keys["v_mix_in"] = add_state("mix_in_act_membrane", (1, dim))
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
        u = None
        if "v_u" in keys:
            u, new[keys["v_u"]] = lmu.spike_input(x, inputs[keys["v_u"]])
        v_m = inputs[keys["v_m"]] if "v_m" in keys else None
        if window_form:
            out = lmu.step_window(x, inputs[keys["m"]], u, v_m)
        else:
            out = lmu.step(x, inputs[keys["m"]], memory_scale, u, v_m)
        new[keys["m"]] = out[1]
        if v_m is not None:
            new[keys["v_m"]] = out[2]
        return out[0]

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
        h = act("mix_in_act", x1, keys.get("v_mix_in")) if "v_mix_in" in keys else x1
        h = model.get_layer("mix1")(h)
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


def run_streaming_float(model, x, form, batch_size, visit=None, memory_scale=None):
    """Stream clips ``x`` through the float streaming form of ``model``, batch by batch.

    Parameters
    ----------
    model : keras.Model
        The window model.
    x : numpy.ndarray
        Float clips ``(N, frames, mels)``.
    form : {"window", "recurrent"}
        Streaming form.
    batch_size : int
        Clips per streaming graph call.
    visit : callable, optional
        ``visit(start, t, feed, out)`` sees every call: ``start`` is the index
        of the batch's first clip, ``t`` the call, ``feed`` / ``out`` the
        input and output dicts (numpy).
    memory_scale : numpy.ndarray, optional
        ``form="recurrent"`` only (see :func:`build_streaming_model`).

    Returns
    -------
    numpy.ndarray
        The final scores ``(N, classes)``.
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

    scores = run_streaming_float(model, x, form, batch_size, visit if collect else None)
    return (scores, seen) if collect else scores
