"""Pass: give the int8 streaming model the int8 window model's quantisation.

The streaming form (:mod:`edgekit.models.streaming`) is converted by the
TFLite converter with its own calibration (:mod:`edgekit.quantize.streaming`);
:func:`align_to_window` then gives every streaming op that has a
counterpart in the int8 window model that op's quantisation (and bias), so
that the streaming model computes the window model's int8 values step by
step.  An output's quantisation may be changed only where the producing
op's int8 kernel requantises from the tensors' own scales
(:data:`edgekit.quantize.passes.graph.REQUANTIZING`).
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ModelError
from edgekit.quantize.passes.graph import (
    BIASED,
    SAME_QUANT,
    buffer_bytes,
    consumers_of,
    copy_quant,
    load_model,
    pack_model,
    requantize_bias,
    text,
    tflite_ops,
)
from edgekit.quantize.passes.unify_lif_quantization import STEP_ROLES, lif_chains, uniform_chain

__all__ = ["align_to_window"]


def align_to_window(stream_fb: bytes, window_fb: bytes):
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

    LIF layers (:func:`~edgekit.quantize.passes.unify_lif_quantization.lif_chains`): the
    streaming model's one step of a layer (membrane state in, decayed, plus the
    current, firing stages, reset, membrane state out) is paired as a whole
    with the window chain fed by the same currents, if that chain quantises
    each of its tensors alike at every step
    (:func:`~edgekit.quantize.passes.unify_lif_quantization.unify_lif_quantization`) and the
    step's constants are the window step's; the state takes the window's reset
    membrane quantisation, and the step's spikes stand for the window's
    concatenated spikes.  The first call (state 0) computes the window's
    first step, whose membrane is the current itself: ``0 * decay +
    current`` is exact because the window model quantises the currents
    like the membranes.  Where the converter folded the spikes' ``1/6``
    into a following ``FULLY_CONNECTED`` (its input is then the last firing
    stage, its weight scales / 6), the op is given back the spikes and the
    window weights' scales.

    Parameters
    ----------
    stream_fb : bytes
        The int8 streaming model as converted (signature input ``frame``).
    window_fb : bytes
        The deployed int8 window model of the same Keras model.

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
    smod = load_model(stream_fb)
    wmod = load_model(window_fb)
    sg, wg = smod.subgraphs[0], wmod.subgraphs[0]
    if len(wg.inputs) != 1:
        raise ModelError("the window model must have one input")
    frame = [int(t.tensorIndex) for t in (smod.signatureDefs[0].inputs if smod.signatureDefs
                                          else []) if text(t.name) == "frame"]
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
            raw = buffer_bytes(mod, t)
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
    for name, op in tflite_ops(wmod, wg):
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
           for name, op in tflite_ops(wmod, wg) if name == "DEPTHWISE_CONV_2D"]

    def lmu_memory(op):
        """The window DEPTHWISE_CONV_2D an LMU-memory FULLY_CONNECTED evaluates at one step."""
        w = sg.tensors[op.inputs[1]]
        raw, v = buffer_bytes(smod, w), sval.get(int(op.inputs[0]), ("s", int(op.inputs[0])))
        if raw is None or len(w.shape) != 2 or (len(op.inputs) > 2 and op.inputs[2] >= 0):
            return None
        order, steps = (int(d) for d in w.shape)
        kern = np.frombuffer(raw, np.int8).reshape(order, steps)
        scales = np.asarray(w.quantization.scale, np.float32)
        for wop, wv in wdw:
            k = wg.tensors[wop.inputs[1]]
            kraw, braw = buffer_bytes(wmod, k), None
            if len(wop.inputs) > 2 and wop.inputs[2] >= 0:
                braw = buffer_bytes(wmod, wg.tensors[wop.inputs[2]])
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
    wchains = [c for c in lif_chains(wmod, wg) if uniform_chain(wg, c)]
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
        raw, sv = buffer_bytes(smod, w), sval.get(spk)
        if raw is None or len(consumers_of(sg, int(op.inputs[1]))) != 1:
            return None
        zq, sq = sg.tensors[z3].quantization, wg.tensors[sv[1]].quantization
        if int(zq.zeroPoint[0]) != int(sq.zeroPoint[0]):
            return None
        for wname, wop in tflite_ops(wmod, wg):
            if (wname != name or wval.get(int(wop.inputs[0]), ("w", int(wop.inputs[0]))) != sv
                    or len(wop.inputs) != len(op.inputs)):
                continue
            ww = wg.tensors[wop.inputs[1]]
            if (buffer_bytes(wmod, ww) != raw or tuple(ww.shape) != tuple(w.shape)
                    or getattr(wop.builtinOptions, "fusedActivationFunction", None)
                    != getattr(op.builtinOptions, "fusedActivationFunction", None)):
                continue
            ratio = (np.asarray(w.quantization.scale, np.float64) * zq.scale[0]
                     / (np.asarray(ww.quantization.scale, np.float64) * sq.scale[0]))
            if np.allclose(ratio, 1.0, rtol=1e-5):
                op.inputs[0] = spk
                copy_quant(w, ww)
                return wop
        return None

    paired, unpaired = 0, []
    biased_unpaired = []
    sops = tflite_ops(smod, sg)
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
                bias = buffer_bytes(wmod, wb)
                smod.buffers[sb.buffer].data = np.frombuffer(bias, np.uint8).copy()
                copy_quant(sb, wb)
            else:
                biased_unpaired.append(op)
    for i, v in sval.items():
        if v[0] == "w":
            copy_quant(sg.tensors[i], wg.tensors[v[1]])
    for name, op in tflite_ops(smod, sg):  # e.g. the history state entering a CONCATENATION
        if name in SAME_QUANT:
            ins = [int(i) for i in op.inputs if i >= 0]
            src = sg.tensors[data_input(name, ins)]
            for i in [*(ins if name == "CONCATENATION" else ins[:1]), *map(int, op.outputs)]:
                copy_quant(sg.tensors[i], src)
    for op in biased_unpaired:
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            requantize_bias(smod, sg, op)
    return pack_model(smod, len(stream_fb)), {"paired": paired, "unpaired": unpaired}


def _const_key(mod, graph, op):
    """Fused activation and constant inputs (bytes, scales, shape) of ``op``."""
    parts = []
    for i in (int(i) for i in op.inputs if i >= 0):
        t = graph.tensors[i]
        raw = buffer_bytes(mod, t)
        if raw is not None:
            q = t.quantization
            scales = () if q is None or q.scale is None else tuple(np.asarray(q.scale).tolist())
            parts.append((raw, scales, tuple(np.asarray(t.shape).tolist())))
    return getattr(op.builtinOptions, "fusedActivationFunction", None), tuple(parts)
