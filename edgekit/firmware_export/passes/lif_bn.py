"""Pass: the int8 ADD and per-channel ADD/MUL stages making a LIF layer's current join the layer.

In the spiking LMUFormer the current of the ``lmu_act`` layer is
``BN(W_m m + W_x x)``: an ADD of two activation tensors (the *head*), then
the batch normalization the converter could not fold into a weight, as
int8 ADD and MUL ops with one constant per channel (bias, scale, shift).
Each runs as its own kernel over the whole ``[T, C]`` tensor (about 25
instructions per element).  :func:`lif_bn` replaces an ``EK_LIF_LAYER``
(:mod:`edgekit.firmware_export.passes.lif_layer`), up to
:data:`~edgekit.firmware_export.ops.lif_bn.MAX_STAGES` such stages and the
head ADD by one ``EK_LIF_BN`` op (:mod:`edgekit.firmware_export.ops.lif_bn`,
kernels ``ek_lif_bn<K>_s8``): the stages run inside the layer's
channel-outer loop, their per-channel constants in registers, and the
intermediate tensors disappear.  The op keeps the layer's index;
``Graph.fused`` maps it to every TFLite op it computes.
"""

from __future__ import annotations

from dataclasses import replace

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.graph import Graph, Operator
from edgekit.firmware_export.ops.lif_bn import MAX_STAGES, OPCODE, lif_bn_params
from edgekit.firmware_export.passes.lif_layer import OPCODE as LAYER_OPCODE

__all__ = ["OPCODE", "lif_bn"]


def _chain(graph: Graph, op: Operator, readers, producer) -> dict | None:
    """The head ADD, the stages (input first) and every op passed (stages and
    RESHAPEs) from the layer's current back to the head, or None."""
    t, reader, stages, passed = op.inputs[0], op, [], []
    while True:
        pr = producer.get(t)
        rd = readers.get(t, [])
        if pr is None or t in graph.outputs or len(rd) != 1 or rd[0] is not reader:
            return None
        ts = graph.op_inputs(pr)
        if pr.opcode == "RESHAPE":
            passed.append(pr)
        elif pr.opcode in ("ADD", "MUL") and len(ts) == 2 and None not in ts:
            consts = sum(x.is_const for x in ts)
            y = graph.op_outputs(pr)[0]
            if consts == 0 and pr.opcode == "ADD" and \
                    ts[0].num_elements == ts[1].num_elements == y.num_elements:
                return dict(head=pr, stages=stages[::-1], passed=passed)
            if consts != 1 or len(stages) == MAX_STAGES:
                return None
            stages.append(pr)
            passed.append(pr)
        else:
            return None
        t = next(x.index for x in ts if x is not None and not x.is_const)
        reader = pr


def lif_bn(graph: Graph) -> Graph:
    """``graph`` with each LIF layer whose current is an ADD of two
    activations followed by per-channel ADD/MUL stages as one ``EK_LIF_BN`` op.

    Parameters
    ----------
    graph : Graph
        After :func:`~edgekit.firmware_export.passes.lif_layer.lif_layers` (not changed).

    Returns
    -------
    Graph
        ``graph`` itself when no layer qualifies; else a new graph whose
        ``EK_LIF_BN`` ops have inputs ``[a, b]`` (the head ADD's), outputs
        ``[spikes]`` and ``options``: the ``EK_LIF_LAYER``'s (``steps``,
        ``tree``, ``pre``, ``codes``), ``layer_input`` (its current tensor),
        ``head`` (the ADD) and ``stages`` (the per-channel ops, input
        first).  A layer qualifies when each tensor between the head and
        the layer is read by the next op only and every check of
        :func:`edgekit.firmware_export.ops.lif_bn.lif_bn_params` passes.
    """
    readers, producer = graph.readers(), graph.producers()
    new, gone, fused = {}, set(), dict(graph.fused)
    for op in graph.operators:
        if op.opcode != LAYER_OPCODE:
            continue
        ch = _chain(graph, op, readers, producer)
        if ch is None:
            continue
        head = ch["head"]
        cand = Operator(index=op.index, opcode=OPCODE, inputs=list(head.inputs[:2]),
                        outputs=list(op.outputs),
                        options=dict(op.options, head=head, stages=ch["stages"],
                                     layer_input=op.inputs[0]))
        try:
            lif_bn_params(graph, cand)
        except UnsupportedOpError:
            # the head ADD without int16 tables stays its own op; the stages still join
            y = head.outputs[0]
            cand = replace(cand, inputs=[y, y], options=dict(cand.options, head=None))
            try:
                lif_bn_params(graph, cand)
            except UnsupportedOpError:
                continue
        new[op.index] = cand
        members = set(fused.pop(op.index, [op.index]))
        joined = ch["passed"] if cand.options["head"] is None else [head] + ch["passed"]
        for o in joined:
            gone.add(o.index)
            members.update(fused.pop(o.index, [o.index]))
        fused[op.index] = sorted(members)
    if not new:
        return graph
    operators = [new.get(op.index, op) for op in graph.operators if op.index not in gone]
    return replace(graph, operators=operators, fused=fused, source_opcodes=graph.opcodes())
