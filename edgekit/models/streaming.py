"""Per-frame streaming form of the ``lmu``, ``lmuformer`` and ``spiking_lmuformer`` models.

A streaming model consumes one *hop* of features per call (``patch_stride``
feature frames; one frame for ``lmu`` and ``patch_stride=1``) and returns the
class scores so far, carrying the recurrent state explicitly (an audio front
end delivers one frame at a time: :meth:`StreamingRunner.push` and the
generated C's ``edgekit_push_frame`` collect a hop and run the model on it)::

    inputs : frame (1, hop, mels), state_0, state_1, ...
    outputs: scores (1, num_classes), state_0, state_1, ...

The states (in this order, the ones the model has) are: the patch
convolution's input history ``(1, patch_kernel - patch_stride, mels)``, the
LMU memory ``(1, memory_d * order)``, the LIF membranes ``(1, 1, dim)`` /
``(1, 1, mlp_ratio * dim)`` of ``patch_act``, ``lmu_act``, ``mix_act``, and the
running sum of the features that the window model averages over time.
All states start at zero (:meth:`StreamingRunner.reset`).  After the last hop
of a clip the scores equal the window model's (exactly in float, up to
int8 rounding of the states in int8).

The int8 converter keeps the TFLite signature names (``frame``,
``state_i``, ``scores``), and :func:`quantize_streaming_int8` gives every
``state_i`` output the quantisation of the ``state_i`` input, so the state
bytes are fed back unchanged (the generated C keeps them in static buffers).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings

import numpy as np

from edgekit.errors import ConfigError, ModelError

__all__ = [
    "StreamingSpec",
    "build_streaming_model",
    "streaming_float",
    "quantize_streaming_int8",
    "StreamingRunner",
    "export_streaming",
]

#: Ops whose int8 kernels requantise their output from the tensors' own
#: scales, so an output's quantisation may be changed in the flatbuffer.
REQUANTIZING = {"ADD", "SUB", "MUL", "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D",
                "BATCH_MATMUL", "QUANTIZE", "MEAN", "SQUARED_DIFFERENCE"}


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
    """

    def __init__(self, hop, steps, frame_shape, state_names, state_shapes):
        self.hop = hop
        self.steps = steps
        self.frame_shape = frame_shape
        self.state_names = state_names
        self.state_shapes = state_shapes

    def __repr__(self):
        return (f"StreamingSpec(hop={self.hop}, steps={self.steps}, frame={self.frame_shape}, "
                f"states={list(zip(self.state_names, self.state_shapes))})")


def build_streaming_model(model, batch_size: int = 1, memory_scale=None):
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
        Per-component scale of the LMU memory state (see
        :meth:`edgekit.models.lmu.LMU.step`); the state is then ``m / scale``.

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
        If ``model`` is not one of the supported architectures.
    """
    import keras  # noqa: PLC0415

    from edgekit.models import lmu as lmu_mod  # noqa: PLC0415
    from edgekit.models import spiking as spk  # noqa: PLC0415

    ops = keras.ops
    names = {layer.name for layer in model.layers}
    if "lmu" not in names or not isinstance(model.get_layer("lmu"), lmu_mod.LMU):
        raise ModelError(f"model {model.name!r} has no LMU layer named 'lmu'")
    lmu = model.get_layer("lmu")
    frames, mels = (int(d) for d in model.input_shape[1:])
    state_names, state_shapes = [], []

    def add_state(label, shape):
        state_names.append(label)
        state_shapes.append((batch_size, *shape))
        return f"state_{len(state_names) - 1}"

    if "patch_conv" in names:  # lmuformer family
        conv = model.get_layer("patch_conv")
        k, hop = int(conv.kernel_size[0]), int(conv.strides[0])
        keys = {}
        if k > hop:
            keys["hist"] = add_state("patch_history", (k - hop, mels))
        keys["m"] = add_state("lmu_memory", (lmu.memory_d * lmu.order,))
        spiking = isinstance(model.get_layer("patch_act"), spk.LIF)
        if spiking:
            dim = int(conv.filters)
            hidden = int(model.get_layer("mix1").filters)
            keys["v_patch"] = add_state("patch_act_membrane", (1, dim))
            keys["v_lmu"] = add_state("lmu_act_membrane", (1, dim))
            keys["v_mix"] = add_state("mix_act_membrane", (1, hidden))
        dim = int(conv.filters)
        keys["sum"] = add_state("feature_sum", (dim,))
    else:
        hop, k, spiking = 1, 1, False
        keys = {"m": add_state("lmu_memory", (lmu.memory_d * lmu.order,)),
                "sum": add_state("feature_sum", (lmu.units,))}
    steps = frames // hop
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

    if "patch_conv" in names:
        frame = inputs["frame"]
        if "hist" in keys:
            window = ops.concatenate([inputs[keys["hist"]], frame], axis=1)
            new[keys["hist"]] = window[:, hop:, :]
        else:
            window = frame
        x = model.get_layer("patch_conv")(window)
        x0 = act("patch_act", model.get_layer("patch_bn")(x), keys.get("v_patch"))
        h, m = lmu.step(ops.reshape(x0, (-1, x0.shape[-1])), inputs[keys["m"]], memory_scale)
        new[keys["m"]] = m
        h = ops.reshape(h, (-1, 1, h.shape[-1]))
        h = act("lmu_act", model.get_layer("lmu_bn")(h), keys.get("v_lmu"))
        x1 = model.get_layer("lmu_res")([x0, h])
        h = model.get_layer("mix1")(x1)
        h = act("mix_act", model.get_layer("mix1_bn")(h), keys.get("v_mix"))
        h = model.get_layer("mix2_bn")(model.get_layer("mix2")(h))
        feat = ops.reshape(model.get_layer("mix_res")([x1, h]), (-1, h.shape[-1]))
    else:
        x = ops.reshape(model.get_layer("in_bn")(inputs["frame"]), (-1, mels))
        feat, m = lmu.step(x, inputs[keys["m"]], memory_scale)
        new[keys["m"]] = m
    total = inputs[keys["sum"]] + feat
    new[keys["sum"]] = total
    scores = model.get_layer("classifier")(total * (1.0 / steps))
    outputs = {"scores": scores}
    for i in range(len(state_shapes)):
        outputs[f"state_{i}"] = new[f"state_{i}"]
    smodel = keras.Model(inputs, outputs, name=f"{model.name}_streaming")
    spec = StreamingSpec(hop, steps, (batch_size, hop, mels), state_names, state_shapes)
    spec.memory_scale = None if memory_scale is None else np.asarray(memory_scale, np.float32)
    return smodel, spec


def streaming_float(model, x, *, collect: bool = False, batch_size: int = 300):
    """Run the float streaming form of ``model`` over clips ``x`` (N, frames, mels).

    Clips are processed in batches (a batch-``batch_size`` streaming graph).
    Returns the final scores ``(N, classes)``; with ``collect=True`` also, per
    batch and hop, the input dicts that were fed (for calibration).
    """
    x = np.asarray(x, dtype=np.float32)
    outs, seen = [], []
    models = {}
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        n = len(xb)
        if n not in models:
            models[n] = build_streaming_model(model, n)
        smodel, spec = models[n]
        states = [np.zeros(s, np.float32) for s in spec.state_shapes]
        scores = None
        for t in range(spec.steps):
            feed = {"frame": xb[:, t * spec.hop:(t + 1) * spec.hop],
                    **{f"state_{i}": s for i, s in enumerate(states)}}
            if collect:
                seen.append({k: np.array(v) for k, v in feed.items()})
            out = smodel(feed, training=False)
            scores = np.asarray(out["scores"])
            states = [np.asarray(out[f"state_{i}"]) for i in range(len(states))]
        outs.append(scores)
    scores = np.concatenate(outs)
    return (scores, seen) if collect else scores


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


def quantize_streaming_int8(model, representative, *, num_samples: int = 300, seed: int = 0,
                            calib_clips: int = 200):
    """Convert the streaming form of ``model`` to a full-int8 TFLite flatbuffer.

    Parameters
    ----------
    model : keras.Model
        Trained window model (``lmu``, ``lmuformer`` or ``spiking_lmuformer``).
    representative : numpy.ndarray
        Training clips ``(N, frames, mels)``; the float streaming model is run
        over ``calib_clips`` of them and ``num_samples`` of the visited
        ``(frame, states)`` are the calibration set.
    num_samples, seed, calib_clips
        Size and seed of the calibration draw.

    Returns
    -------
    bytes
        The int8 ``.tflite`` with signature inputs ``frame``, ``state_i`` and
        outputs ``scores``, ``state_i`` (``state_i`` in/out share
        quantisation).
    StreamingSpec
        The streaming layout.
    """
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    x = np.asarray(representative, dtype=np.float32)
    sel = np.sort(rng.permutation(len(x))[:min(calib_clips, len(x))])
    _, seen = streaming_float(model, x[sel], collect=True)
    # LMU memory: carry m / d with d = per-component max |m| on the
    # calibration clips, so one int8 scale suits every Legendre coefficient.
    _, spec0 = build_streaming_model(model)
    k = f"state_{spec0.state_names.index('lmu_memory')}"
    peak = np.max([np.abs(feed[k]).max(axis=0) for feed in seen], axis=0).reshape(-1)
    d = np.maximum(peak, 1e-3 * max(float(peak.max()), 1e-12))
    for feed in seen:
        feed[k] = feed[k] / d
    smodel, spec = build_streaming_model(model, memory_scale=d)
    pool = [(t, i) for t in range(len(seen)) for i in range(len(seen[t]["frame"]))]
    pick = rng.permutation(len(pool))[:num_samples]
    names = ["frame"] + [f"state_{i}" for i in range(len(spec.state_shapes))]
    sig = [tf.TensorSpec(spec.frame_shape, tf.float32, name="frame")] + [
        tf.TensorSpec(s, tf.float32, name=f"state_{i}") for i, s in enumerate(spec.state_shapes)]

    def serve(*args):
        return smodel(dict(zip(names, args)), training=False)

    def gen():
        for j in pick:
            t, i = pool[j]
            yield {k: seen[t][k][i:i + 1] for k in names}

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
                flat = conv.convert()
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).strip().splitlines()
            raise ModelError(f"streaming int8 conversion failed: {msg[0] if msg else exc}") from exc
    flat, _ = _fix_state_quantization(bytes(flat))
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
                     seed: int = 0) -> dict:
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

    Returns
    -------
    dict
        The JSON written: ``hop``, ``steps``, the ``frame`` / ``scores`` /
        ``state_i`` shapes, scales and zero points, and each state's meaning.
    """
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    flat, spec = quantize_streaming_int8(model, representative, num_samples=num_samples,
                                         seed=seed)
    runner = StreamingRunner(flat, "litert")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream.tflite").write_bytes(flat)
    info = {"hop": spec.hop, "steps": spec.steps, "inputs": {}, "states": {}}
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
