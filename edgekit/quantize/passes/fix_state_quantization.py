"""Pass: feed the state bytes of an int8 streaming model back unchanged.

The TFLite converter calibrates each ``state_i`` input and output of a
streaming model (:mod:`edgekit.models.streaming`) on its own;
:func:`fix_state_quantization` gives each ``state_i`` output the
quantisation of the ``state_i`` input (or the input the output's, where
only the input's consumers requantise), so that the generated C can copy
the state bytes back as they are.
"""

from __future__ import annotations

from edgekit.errors import ModelError
from edgekit.quantize.passes.graph import REQUANTIZING, load_model, op_name, pack_model, text

__all__ = ["fix_state_quantization"]


def fix_state_quantization(flatbuffer: bytes) -> tuple[bytes, list[dict]]:
    """Give each ``state_i`` output the quantisation of the ``state_i`` input.

    Parameters
    ----------
    flatbuffer : bytes
        An int8 streaming ``.tflite`` (signature inputs ``frame``,
        ``state_i``; outputs ``scores``, ``state_i``).

    Returns
    -------
    bytes
        The flatbuffer with each state pair quantised alike.
    list of dict
        Per state: ``state``, ``in`` / ``out`` (their ``(scale, zero point)``
        before the pass) and ``fixed`` (``"output"``, ``"input"`` or None
        when they were equal).

    Raises
    ------
    ModelError
        If the model has no signature, a ``state_i`` input has no output of
        that name, or neither side of a pair may be requantised.
    """
    model = load_model(flatbuffer)
    if not model.signatureDefs:
        raise ModelError("the streaming TFLite model has no signature")
    sig = model.signatureDefs[0]
    graph = model.subgraphs[sig.subgraphIndex]
    ins = {text(t.name): t.tensorIndex for t in sig.inputs}
    outs = {text(t.name): t.tensorIndex for t in sig.outputs}

    producer, consumers = {}, {}
    for op in graph.operators:
        for o in op.outputs:
            producer[int(o)] = op_name(model, op)
        for i in op.inputs:
            consumers.setdefault(int(i), []).append(op_name(model, op))
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
    return pack_model(model, len(flatbuffer)), report
