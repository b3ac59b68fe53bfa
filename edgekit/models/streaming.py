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
    at every step (:func:`edgekit.models.spiking.unify_lif_quantization`),
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
lmu                window     300/300     0       5,040  9,152  30,844  232,220
lmuformer          recurrent  299/300     40      256    400    68,776  225,810
lmuformer          window     300/300     0       2,064  3,616  48,872  207,465
spiking_lmuformer  recurrent  300/300     80      448    640    74,152  525,384
spiking_lmuformer  window     300/300     0       2,256  3,808  54,248  506,982
=================  =========  ==========  ======  =====  =====  ======  =======

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

#: Ops whose int8 kernels requantise their output from the tensors' own
#: scales, so an output's quantisation may be changed in the flatbuffer.
REQUANTIZING = {"ADD", "SUB", "MUL", "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D",
                "BATCH_MATMUL", "QUANTIZE", "MEAN", "SQUARED_DIFFERENCE"}

#: Ops whose int8 output must have the quantisation of their (first) input.
SAME_QUANT = {"RESHAPE", "STRIDED_SLICE", "CONCATENATION", "PAD", "SQUEEZE", "EXPAND_DIMS"}

#: Ops whose third input is an int32 bias quantised with input x weight scale.
BIASED = {"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"}


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


def _tflite_ops(model, graph):
    from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}

    def name(op):
        oc = model.operatorCodes[op.opcodeIndex]
        return codes[max(oc.builtinCode, oc.deprecatedBuiltinCode)]

    return [(name(op), op) for op in graph.operators]


def _buffer(model, tensor):
    buf = model.buffers[tensor.buffer].data if 0 <= tensor.buffer < len(model.buffers) else None
    return None if buf is None or len(buf) == 0 else np.asarray(buf, np.uint8).tobytes()


def _align_to_window(stream_fb: bytes, window_fb: bytes):
    """Give the streaming model's tensors the int8 window model's quantisation.

    The streaming graph evaluates the window graph's per-step ops at one
    time step, so most of its ops have a window counterpart.  They are paired
    structurally, in graph order: the ``frame`` input is the window input;
    quantisation-preserving ops (``RESHAPE``, ``PAD``, ``CONCATENATION`` of a
    history with the newest step, ...) pass their data input (the newest
    one) through; an op is paired with the window op of the same type whose
    inputs are the paired values and the same constants (compared as bytes,
    scales and shape; biases, which depend on the input scale, are not
    compared) and the same fused activation.  The LMU memory's
    ``FULLY_CONNECTED`` (:meth:`edgekit.models.lmu.LMU.step_window`) is
    paired with the window ``DEPTHWISE_CONV_2D`` whose kernel holds the same
    int8 values and scales for every memory channel.  A paired tensor takes
    the window tensor's scale and zero point and a paired op's bias is the
    window op's, so paired ops compute exactly what the window model
    computes, whatever the streaming calibration was.  Unpaired ops keep
    their calibrated quantisation (their biases are requantised to their
    input's new scale).

    LIF layers (:func:`edgekit.models.spiking.lif_chains`): the streaming
    model's one step of a layer (membrane state in, decayed, plus the
    current, firing stages, reset, membrane state out) is paired as a whole
    with the window chain fed by the same currents, if that chain quantises
    each of its tensors alike at every step
    (:func:`edgekit.models.spiking.unify_lif_quantization`) and the step's
    constants are the window step's; the state takes the window's reset
    membrane quantisation, and the step's spikes stand for the window's
    concatenated spikes.  The first call (state 0) computes the window's
    first step, whose membrane is the current itself: ``0 * decay +
    current`` is exact because the window model quantises the currents
    like the membranes.  Where the converter folded the spikes' ``1/6``
    into a following ``FULLY_CONNECTED`` (its input is then the last firing
    stage, its weight scales / 6), the op is given back the spikes and the
    window weights' scales.

    Returns
    -------
    bytes
        The aligned flatbuffer.
    dict
        ``{"paired": number of ops paired, "unpaired": [types of the other ops]}``.

    Raises
    ------
    ModelError
        If the window model does not have one input or the streaming model
        no ``frame`` input.
    """
    import flatbuffers  # noqa: PLC0415
    from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

    from edgekit.models.spiking import STEP_ROLES, lif_chains  # noqa: PLC0415

    smod = schema.ModelT.InitFromPackedBuf(bytearray(stream_fb), 0)
    wmod = schema.ModelT.InitFromPackedBuf(bytearray(window_fb), 0)
    sg, wg = smod.subgraphs[0], wmod.subgraphs[0]
    if len(wg.inputs) != 1:
        raise ModelError("the window model must have one input")
    frame = [int(t.tensorIndex) for t in (smod.signatureDefs[0].inputs if smod.signatureDefs
                                          else []) if _text(t.name) == "frame"]
    if not frame:
        raise ModelError("the streaming model has no 'frame' input")

    def data_input(name, ins):
        return ins[-1] if name == "CONCATENATION" else ins[0]

    def key(mod, graph, name, op, value):
        parts = []
        for j, i in enumerate(int(i) for i in op.inputs):
            if i < 0 or (name in BIASED and j == 2):
                continue
            t = graph.tensors[i]
            raw = _buffer(mod, t)
            if raw is None:
                parts.append(value(i))
            else:
                q = t.quantization
                scales = () if q is None or q.scale is None else tuple(np.asarray(q.scale).tolist())
                parts.append(("const", raw, scales, tuple(np.asarray(t.shape).tolist())))
        fused = getattr(op.builtinOptions, "fusedActivationFunction", None)
        return name, fused, tuple(parts)

    # window: the value of every tensor (itself, or the data input of a quantisation-preserving op)
    wval, wops = {}, {}
    for name, op in _tflite_ops(wmod, wg):
        ins = [int(i) for i in op.inputs if i >= 0]
        if name in SAME_QUANT:
            for o in op.outputs:
                wval[int(o)] = wval.get(data_input(name, ins), ("w", data_input(name, ins)))
            continue
        wops.setdefault(key(wmod, wg, name, op, lambda i: wval.get(i, ("w", i))), op)
        for o in op.outputs:
            wval.setdefault(int(o), ("w", int(o)))
    # streaming: a value is ("w", window tensor) once paired, else ("s", own tensor)
    sval = {frame[0]: wval.get(int(wg.inputs[0]), ("w", int(wg.inputs[0])))}
    wdw = [(op, wval.get(int(op.inputs[0]), ("w", int(op.inputs[0]))))
           for name, op in _tflite_ops(wmod, wg) if name == "DEPTHWISE_CONV_2D"]

    def lmu_memory(op):
        """The window DEPTHWISE_CONV_2D an LMU-memory FULLY_CONNECTED evaluates at one step."""
        w = sg.tensors[op.inputs[1]]
        raw, v = _buffer(smod, w), sval.get(int(op.inputs[0]), ("s", int(op.inputs[0])))
        if raw is None or len(w.shape) != 2 or (len(op.inputs) > 2 and op.inputs[2] >= 0):
            return None
        order, steps = (int(d) for d in w.shape)
        kern = np.frombuffer(raw, np.int8).reshape(order, steps)
        scales = np.asarray(w.quantization.scale, np.float32)
        for wop, wv in wdw:
            k = wg.tensors[wop.inputs[1]]
            kraw, braw = _buffer(wmod, k), None
            if len(wop.inputs) > 2 and wop.inputs[2] >= 0:
                braw = _buffer(wmod, wg.tensors[wop.inputs[2]])
            ch = int(k.shape[-1])
            if (wv != v or kraw is None or tuple(k.shape[:3]) != (1, steps, 1) or ch % order
                    or (braw is not None and any(braw))):
                continue
            blocks = np.frombuffer(kraw, np.int8).reshape(steps, ch // order, order)
            wsc = np.asarray(k.quantization.scale, np.float32).reshape(ch // order, order)
            if (blocks == kern.T[:, None, :]).all() and (wsc == scales[None, :]).all():
                return wop
        return None

    # LIF layers: the streaming model's one step per layer, the window model's chains
    wchains = [c for c in lif_chains(wmod, wg) if _uniform_chain(wg, c)]
    lif_step = {}
    for chain in lif_chains(smod, sg):
        if len(chain) == 1 and chain[0]["r_in"] is not None and chain[0]["dr_in"] is not None:
            for k in chain[0]["ops"].values():
                lif_step[k] = chain[0]
    spikes_of = {}   # streaming z3 tensor -> spikes of its paired step (see refold)

    def lif(step):
        """Pair one streaming LIF step with the window chain fed by the same currents."""
        cur = sval.get(step["cur"], ("s", step["cur"]))
        for chain in wchains:
            first = chain[1]
            if (wval.get(first["cur"], ("w", first["cur"])) != cur
                    or not set(step["ops"]) <= set(first["ops"])):
                continue
            if any(_const_key(smod, sg, sg.operators[step["ops"][role]])
                   != _const_key(wmod, wg, wg.operators[first["ops"][role]])
                   for role in step["ops"]):
                continue
            rep = {role: next((st[role] for st in chain[1:] + chain[:1] if st[role] is not None),
                              None) for role in STEP_ROLES if step[role] is not None}
            if step["r"] is None or None in rep.values():
                continue
            for role, t in rep.items():
                sval[step[role]] = ("w", t)
            sval[step["r_in"]] = ("w", rep["r"])
            sval[step["dr_in"]] = ("w", rep["dr"] if "dr" in rep else first["dr_in"])
            # downstream ops see the window's spikes of all steps
            sval[step["s"]] = wval.get(chain[-1]["s"], ("w", chain[-1]["s"]))
            spikes_of[step["z3"]] = step["s"]
            return True
        return False

    def refold(name, op):
        """Undo the converter folding the spikes' ``* 1/6`` into a layer's weights.

        A streaming ``FULLY_CONNECTED`` can take the last firing stage
        ``z3`` (codes -128 / 127 like the spikes) with its weights' scales
        divided by 6, where the window model multiplies its concatenated
        spikes by the unscaled weights.  The op is given the spikes as input
        and the window weights' scales (the same int8 weights), so it is
        the window op.
        """
        if name not in BIASED or int(op.inputs[0]) not in spikes_of:
            return None
        z3, spk = int(op.inputs[0]), spikes_of[int(op.inputs[0])]
        w = sg.tensors[op.inputs[1]]
        raw, sv = _buffer(smod, w), sval.get(spk)
        if raw is None or len(_consumers_of(sg, int(op.inputs[1]))) != 1:
            return None
        zq, sq = sg.tensors[z3].quantization, wg.tensors[sv[1]].quantization
        if int(zq.zeroPoint[0]) != int(sq.zeroPoint[0]):
            return None
        for wname, wop in _tflite_ops(wmod, wg):
            if (wname != name or wval.get(int(wop.inputs[0]), ("w", int(wop.inputs[0]))) != sv
                    or len(wop.inputs) != len(op.inputs)):
                continue
            ww = wg.tensors[wop.inputs[1]]
            if (_buffer(wmod, ww) != raw or tuple(ww.shape) != tuple(w.shape)
                    or getattr(wop.builtinOptions, "fusedActivationFunction", None)
                    != getattr(op.builtinOptions, "fusedActivationFunction", None)):
                continue
            ratio = (np.asarray(w.quantization.scale, np.float64) * zq.scale[0]
                     / (np.asarray(ww.quantization.scale, np.float64) * sq.scale[0]))
            if np.allclose(ratio, 1.0, rtol=1e-5):
                op.inputs[0] = spk
                _copy_quant(w, ww)
                return wop
        return None

    paired, unpaired = 0, []
    biased_unpaired = []
    sops = _tflite_ops(smod, sg)
    for k, (name, op) in enumerate(sops):
        ins = [int(i) for i in op.inputs if i >= 0]
        if name in SAME_QUANT:
            for o in op.outputs:
                sval[int(o)] = sval.get(data_input(name, ins), ("s", data_input(name, ins)))
            continue
        if k in lif_step:   # the whole step is paired (or not) at its membrane ADD
            step = lif_step[k]
            if k == step["ops"]["v"]:
                if lif(step):
                    paired += len(step["ops"])
                else:
                    unpaired.extend(sops[j][0] for j in step["ops"].values())
            continue
        wop = wops.get(key(smod, sg, name, op, lambda i: sval.get(i, ("s", i))))
        if wop is None and name == "FULLY_CONNECTED":
            wop = lmu_memory(op)
        if wop is None:
            wop = refold(name, op)
        if wop is None:
            unpaired.append(name)
            if name in BIASED:
                biased_unpaired.append(op)
            continue
        paired += 1
        for so, wo in zip(op.outputs, wop.outputs):
            sval[int(so)] = wval.get(int(wo), ("w", int(wo)))
        if name in BIASED and len(op.inputs) > 2 and op.inputs[2] >= 0:
            sb = sg.tensors[op.inputs[2]]
            wb = wg.tensors[wop.inputs[2]] if len(wop.inputs) > 2 and wop.inputs[2] >= 0 else None
            if wb is not None and tuple(sb.shape) == tuple(wb.shape):
                smod.buffers[sb.buffer].data = np.frombuffer(_buffer(wmod, wb), np.uint8).copy()
                _copy_quant(sb, wb)
            else:
                biased_unpaired.append(op)
    for i, v in sval.items():
        if v[0] == "w":
            _copy_quant(sg.tensors[i], wg.tensors[v[1]])
    for name, op in _tflite_ops(smod, sg):  # e.g. the history state entering a CONCATENATION
        if name in SAME_QUANT:
            ins = [int(i) for i in op.inputs if i >= 0]
            src = sg.tensors[data_input(name, ins)]
            for i in [*(ins if name == "CONCATENATION" else ins[:1]), *map(int, op.outputs)]:
                _copy_quant(sg.tensors[i], src)
    for op in biased_unpaired:
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            _requantize_bias(smod, sg, op)
    builder = flatbuffers.Builder(len(stream_fb) + 1024)
    builder.Finish(smod.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), {"paired": paired, "unpaired": unpaired}


def _const_key(mod, graph, op):
    """Fused activation and constant inputs (bytes, scales, shape) of ``op``."""
    parts = []
    for i in (int(i) for i in op.inputs if i >= 0):
        t = graph.tensors[i]
        raw = _buffer(mod, t)
        if raw is not None:
            q = t.quantization
            scales = () if q is None or q.scale is None else tuple(np.asarray(q.scale).tolist())
            parts.append((raw, scales, tuple(np.asarray(t.shape).tolist())))
    return getattr(op.builtinOptions, "fusedActivationFunction", None), tuple(parts)


def _uniform_chain(graph, chain) -> bool:
    """Whether a window LIF chain quantises each role alike at every step (and its currents)."""
    from edgekit.models.spiking import STEP_ROLES  # noqa: PLC0415

    def q(i):
        t = graph.tensors[i].quantization
        return (float(t.scale[0]), int(t.zeroPoint[0]))

    if len(chain) < 2:
        return False
    for role in STEP_ROLES:
        ts = [st[role] for st in chain if st[role] is not None
              and not (role == "v" and st["dr_in"] is None)]
        if role == "v":
            ts += [st["cur"] for st in chain]
        if len({q(i) for i in ts}) > 1:
            return False
    return True


def _consumers_of(graph, tensor: int) -> list:
    """Ops of ``graph`` reading ``tensor``."""
    return [op for op in graph.operators if tensor in [int(i) for i in op.inputs]]


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def _copy_quant(dst, src):
    dst.quantization.scale = np.array(src.quantization.scale, np.float32)
    dst.quantization.zeroPoint = np.array(src.quantization.zeroPoint, np.int64)


def _requantize_bias(mod, graph, op):
    """Requantise an int32 bias to ``input scale x weight scale`` (the input scale changed)."""
    x, w, b = (graph.tensors[int(i)] for i in op.inputs[:3])
    new = np.float64(x.quantization.scale[0]) * np.asarray(w.quantization.scale, np.float64)
    old = np.asarray(b.quantization.scale, np.float64)
    q = np.frombuffer(_buffer(mod, b), np.int32).astype(np.float64)
    q = np.clip(np.round(q * old / new), -2 ** 31, 2 ** 31 - 1).astype("<i4")
    mod.buffers[b.buffer].data = np.frombuffer(q.tobytes(), np.uint8).copy()
    b.quantization.scale = new.astype(np.float32)
    b.quantization.zeroPoint = np.zeros(len(new), np.int64)


def _fix_state_quantization(flatbuffer: bytes) -> tuple[bytes, list[dict]]:
    """Give each ``state_i`` output the quantisation of the ``state_i`` input."""
    import flatbuffers  # noqa: PLC0415
    from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    if not model.signatureDefs:
        raise ModelError("the streaming TFLite model has no signature")
    sig = model.signatureDefs[0]
    graph = model.subgraphs[sig.subgraphIndex]
    ins = {t.name.decode() if isinstance(t.name, bytes) else t.name: t.tensorIndex
           for t in sig.inputs}
    outs = {t.name.decode() if isinstance(t.name, bytes) else t.name: t.tensorIndex
            for t in sig.outputs}
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}

    def opname(op):
        oc = model.operatorCodes[op.opcodeIndex]
        return codes[max(oc.builtinCode, oc.deprecatedBuiltinCode)]

    producer, consumers = {}, {}
    for op in graph.operators:
        for o in op.outputs:
            producer[int(o)] = opname(op)
        for i in op.inputs:
            consumers.setdefault(int(i), []).append(opname(op))
    report = []
    for name, ti in sorted(ins.items()):
        if not name.startswith("state_"):
            continue
        to = outs.get(name)
        if to is None:
            raise ModelError(f"streaming model has input {name} but no output {name}")
        qi, qo = graph.tensors[ti].quantization, graph.tensors[to].quantization
        same = (list(qi.scale) == list(qo.scale) and list(qi.zeroPoint) == list(qo.zeroPoint))
        entry = {"state": name, "in": (float(qi.scale[0]), int(qi.zeroPoint[0])),
                 "out": (float(qo.scale[0]), int(qo.zeroPoint[0])), "fixed": None}
        if not same:
            if producer.get(to) in REQUANTIZING:
                qo.scale, qo.zeroPoint = list(qi.scale), list(qi.zeroPoint)
                entry["fixed"] = "output"
            elif all(c in REQUANTIZING for c in consumers.get(ti, [])):
                qi.scale, qi.zeroPoint = list(qo.scale), list(qo.zeroPoint)
                entry["fixed"] = "input"
            else:
                raise ModelError(
                    f"cannot align the quantisation of {name}: produced by {producer.get(to)}, "
                    f"consumed by {consumers.get(ti)}")
        report.append(entry)
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), report


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


class StreamingRunner:
    """Run a streaming int8 TFLite model hop by hop, feeding the states back.

    Parameters
    ----------
    tflite_bytes : bytes
        From :func:`quantize_streaming_int8`.
    runtime : {"litert", "tflm"}
        Interpreter.
    """

    def __init__(self, tflite_bytes, runtime: str = "litert"):
        from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

        if runtime not in ("litert", "tflm"):
            raise ConfigError(f"unknown runtime {runtime!r}; available: litert, tflm")
        self.runtime = runtime
        fb = schema.Model.GetRootAs(bytes(tflite_bytes), 0)
        sig = fb.SignatureDefs(0)
        graph = fb.Subgraphs(sig.SubgraphIndex())
        sub_in = [graph.Inputs(i) for i in range(graph.InputsLength())]
        sub_out = [graph.Outputs(i) for i in range(graph.OutputsLength())]
        self.in_index, self.out_index, self.quant, self.shapes = {}, {}, {}, {}
        for j in range(sig.InputsLength()):
            tm = sig.Inputs(j)
            self.in_index[tm.Name().decode()] = sub_in.index(tm.TensorIndex())
        for j in range(sig.OutputsLength()):
            tm = sig.Outputs(j)
            self.out_index[tm.Name().decode()] = sub_out.index(tm.TensorIndex())
        for name, pos in self.in_index.items():
            t = graph.Tensors(sub_in[pos])
            q = t.Quantization()
            self.quant[name] = (float(q.Scale(0)), int(q.ZeroPoint(0)))
            self.shapes[name] = tuple(t.ShapeAsNumpy())
        self.states = sorted((n for n in self.in_index if n.startswith("state_")),
                             key=lambda s: int(s.split("_")[1]))
        if runtime == "litert":
            from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

            self.interp = Interpreter(model_content=bytes(tflite_bytes))
            self.interp.allocate_tensors()
            det_in = self.interp.get_input_details()
            det_out = self.interp.get_output_details()
            self._set = lambda pos, v: self.interp.set_tensor(det_in[pos]["index"], v)
            self._get = lambda pos: self.interp.get_tensor(det_out[pos]["index"]).copy()
        else:
            from tflite_micro import runtime as tflm  # noqa: PLC0415

            self.interp = tflm.Interpreter.from_bytes(bytes(tflite_bytes))
            self._set = lambda pos, v: self.interp.set_input(v, pos)
            self._get = lambda pos: np.array(self.interp.get_output(pos)).copy()
        self.reset()

    def reset(self):
        """Zero all states (the quantised code of 0.0) and drop frames collected by :meth:`push`."""
        self._pending = []
        self.state = {}
        for n in self.states:
            scale, zp = self.quant[n]
            self.state[n] = np.full(self.shapes[n], np.clip(zp, -128, 127), np.int8)

    def step(self, frame) -> np.ndarray:
        """Feed one hop of float features ``(hop, mels)``; returns int8 scores ``(classes,)``."""
        from edgekit.quantize.evaluate import quantize_input  # noqa: PLC0415

        scale, zp = self.quant["frame"]
        self._set(self.in_index["frame"],
                  quantize_input(np.asarray(frame).reshape(self.shapes["frame"]), scale, zp))
        for n in self.states:
            self._set(self.in_index[n], self.state[n])
        self.interp.invoke()
        for n in self.states:
            self.state[n] = self._get(self.out_index[n]).reshape(self.shapes[n]).astype(np.int8)
        return self._get(self.out_index["scores"]).reshape(-1)

    @property
    def hop(self) -> int:
        """Feature frames per model call (``frame`` is ``(1, hop, features)``)."""
        shape = self.shapes["frame"]
        return int(shape[1]) if len(shape) == 3 else 1

    def push(self, frame):
        """Feed one feature frame ``(features,)``, as an audio front end delivers them.

        Frames are collected until a hop is complete; then the model runs
        (:meth:`step`) and its int8 scores are returned.  Returns None for a
        frame that only completed part of a hop.  The generated C's
        ``edgekit_push_frame`` behaves the same way.
        """
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        width = int(np.prod(self.shapes["frame"])) // self.hop
        if frame.size != width:
            raise ConfigError(f"a frame has {width} features (got {frame.size})")
        self._pending.append(frame)
        if len(self._pending) < self.hop:
            return None
        hop, self._pending = np.stack(self._pending), []
        return self.step(hop)

    def run_clip(self, clip, hop: int) -> np.ndarray:
        """Reset, stream a whole clip ``(frames, mels)`` and return the final int8 scores."""
        self.reset()
        clip = np.asarray(clip)
        out = None
        for t in range(len(clip) // hop):
            out = self.step(clip[t * hop:(t + 1) * hop])
        return out


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
