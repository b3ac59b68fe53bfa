"""The streaming form of the zoo ``lstm``: a few feature frames per call, the window model's scores.

The int8 window model (:func:`edgekit.models.lstm.build_lstm`, ``pool="mean"``,
as TF 2.21 converts it) is::

    features (1, steps, mels) -> UNIDIRECTIONAL_SEQUENCE_LSTM -> (1, steps, units)
        -> MEAN over the steps -> FULLY_CONNECTED -> SOFTMAX -> scores

:func:`lstm_stream_tflite` rewrites that file, keeping every weight and
quantisation parameter, into a model that takes ``hop`` frames per call::

    frame (1, hop, mels) -> LSTM -> (1, hop, units) --+
    state_0 (1, steps - hop, units) ------------------+-> CONCATENATION (1, steps, units)
        -> MEAN -> FULLY_CONNECTED -> SOFTMAX -> scores
        CONCATENATION[:, hop:] -> state_0 (the next call's history)

The LSTM's hidden and cell state stay TFLite variable tensors: kept from one
call to the next by tflite_micro until ``reset()``, and by the C generated
with ``lstm_state="keep"`` until ``edgekit_reset()``; ``state_0`` (the
LSTM outputs of the clip's earlier hops, which the window model's MEAN
averages with the current ones) is an explicit state pair (signature
``frame``, ``state_0`` -> ``scores``, ``state_0``).  From a reset, after
``steps / hop`` calls the scores are the int8 window model's, bit for bit
(the integer LSTM's steps do not depend on how they are split into calls;
the concatenation and slice copy bytes of one quantisation).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError, ModelError
from edgekit.quantize.passes.graph import copy_quant, load_model, op_name, pack_model

__all__ = ["export_lstm_streaming", "lstm_stream_tflite"]


def _opcode(m, name: str) -> int:
    from ai_edge_litert import schema_py_generated as s  # noqa: PLC0415

    code = getattr(s.BuiltinOperator, name)
    for i, oc in enumerate(m.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
            return i
    oc = s.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
    m.operatorCodes.append(oc)
    return len(m.operatorCodes) - 1


def lstm_stream_tflite(window_tflite: bytes, hop: int = 1) -> bytes:
    """The streaming form of an int8 ``LSTM -> MEAN -> FULLY_CONNECTED -> SOFTMAX`` model.

    Parameters
    ----------
    window_tflite : bytes
        The int8 window model (see module docs).
    hop : int
        Feature frames per call; divides the window's steps, smaller than it.

    Returns
    -------
    bytes
        The streaming ``.tflite`` (signature ``frame``, ``state_0`` ->
        ``scores``, ``state_0``); generate its C with ``lstm_state="keep"``.

    Raises
    ------
    ModelError
        If the model is not of that form.
    ConfigError
        For a ``hop`` that does not divide the steps.
    """
    from ai_edge_litert import schema_py_generated as s  # noqa: PLC0415

    m = load_model(window_tflite)
    sg = m.subgraphs[0]
    names = [op_name(m, op) for op in sg.operators]
    if names != ["UNIDIRECTIONAL_SEQUENCE_LSTM", "MEAN", "FULLY_CONNECTED", "SOFTMAX"]:
        raise ModelError("the LSTM streaming form needs LSTM -> MEAN -> FULLY_CONNECTED -> "
                         f"SOFTMAX (got {' -> '.join(names)})")
    lstm, mean = sg.operators[0], sg.operators[1]
    x, y = sg.tensors[lstm.inputs[0]], sg.tensors[lstm.outputs[0]]
    if int(mean.inputs[0]) != int(lstm.outputs[0]) or len(sg.inputs) != 1:
        raise ModelError("the LSTM streaming form needs the MEAN of the LSTM's outputs")
    axis = np.frombuffer(bytes(np.asarray(m.buffers[sg.tensors[mean.inputs[1]].buffer].data,
                                          np.uint8)), np.int32)
    if axis.tolist() != [1] or int(x.shape[0]) != 1:
        raise ModelError(f"the LSTM streaming form needs batch 1 and a MEAN over the steps "
                         f"(axis {axis.tolist()})")
    steps, units = int(x.shape[1]), int(y.shape[2])
    if isinstance(hop, bool) or not isinstance(hop, int) or not 0 < hop < steps \
            or steps % hop:
        raise ConfigError(f"hop must divide the {steps} steps and be smaller (got {hop!r})")

    def tensor(name, shape, ttype, like=None, data=None):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, np.array(shape, np.int32), ttype, 0
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            m.buffers.append(b)
            t.buffer = len(m.buffers) - 1
        if like is not None:
            t.quantization = s.QuantizationParametersT()
            copy_quant(t, like)
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    for t in (x, y):
        t.shape = np.array([1, hop, int(t.shape[2])], np.int32)
        t.shapeSignature = None
    hist = (1, steps - hop, units)
    state_in = tensor("state_0", hist, s.TensorType.INT8, like=y)
    joined = tensor("lstm_window", (1, steps, units), s.TensorType.INT8, like=y)
    state_out = tensor("state_0_next", hist, s.TensorType.INT8, like=y)
    consts = [tensor(f"slice_{k}", (3,), s.TensorType.INT32, data=np.array(v, np.int32))
              for k, v in (("begin", [0, hop, 0]), ("end", [1, steps, units]),
                           ("strides", [1, 1, 1]))]
    cat = s.OperatorT()
    cat.opcodeIndex, cat.inputs, cat.outputs = _opcode(m, "CONCATENATION"), \
        [state_in, int(lstm.outputs[0])], [joined]
    cat.builtinOptionsType = s.BuiltinOptions.ConcatenationOptions
    cat.builtinOptions = s.ConcatenationOptionsT()
    cat.builtinOptions.axis = 1
    mean.inputs = np.array([joined, int(mean.inputs[1])], np.int32)
    cut = s.OperatorT()
    cut.opcodeIndex, cut.inputs, cut.outputs = _opcode(m, "STRIDED_SLICE"), [joined, *consts], \
        [state_out]
    cut.builtinOptionsType = s.BuiltinOptions.StridedSliceOptions
    cut.builtinOptions = s.StridedSliceOptionsT()
    sg.operators = [lstm, cat, *sg.operators[1:], cut]
    frame, scores = int(sg.inputs[0]), int(sg.outputs[0])
    sg.inputs = np.array([frame, state_in], np.int32)
    sg.outputs = np.array([scores, state_out], np.int32)

    def tmap(name, index):
        t = s.TensorMapT()
        t.name, t.tensorIndex = name, index
        return t

    sig = s.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = "serving_default", 0
    sig.inputs = [tmap("frame", frame), tmap("state_0", state_in)]
    sig.outputs = [tmap("scores", scores), tmap("state_0", state_out)]
    m.signatureDefs = [sig]
    return pack_model(m, len(window_tflite))


def export_lstm_streaming(window_tflite: bytes, out_dir, hop: int = 1) -> dict:
    """Write ``stream.tflite`` and ``stream.json`` of the zoo lstm's streaming form to ``out_dir``.

    Parameters
    ----------
    window_tflite : bytes
        The int8 window model (see :func:`lstm_stream_tflite`).
    out_dir : path
        Created if missing.
    hop : int
        Feature frames per call.

    Returns
    -------
    dict
        The JSON written, as :func:`edgekit.quantize.streaming.export_streaming`'s:
        ``form`` (``"lstm"``), ``hop``, ``steps`` (calls per window),
        ``state_bytes`` (``state_0``; the LSTM's own state, variable tensors,
        comes on top), the ``frame`` / ``state_0`` shapes and quantisation,
        and ``lstm_state`` (``"keep"``: generate the C with it).
    """
    from edgekit.firmware_export.tflite_reader import read_tflite  # noqa: PLC0415
    from edgekit.outputs import atomic_file  # noqa: PLC0415

    flat = lstm_stream_tflite(window_tflite, hop)
    g = read_tflite(flat)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_file(out / "stream.tflite", flat)
    fin, sin = g.signature_inputs["frame"], g.signature_inputs["state_0"]
    hist = g.tensors[sin]
    info = {"form": "lstm", "hop": int(hop),
            "steps": (int(hist.shape[1]) + int(hop)) // int(hop),
            "state_bytes": int(hist.nbytes), "lstm_state": "keep", "inputs": {},
            "states": {"state_0": "LSTM outputs of the window's earlier frames (the MEAN's "
                                  "history)"}}
    for name, t in (("frame", fin), ("state_0", sin)):
        ten = g.tensors[t]
        info["inputs"][name] = {"shape": [int(d) for d in ten.shape], "scale": float(ten.s),
                                "zero_point": int(ten.zp)}
    atomic_file(out / "stream.json", json.dumps(info, indent=1))
    return info
