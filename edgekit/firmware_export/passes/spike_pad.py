"""Pass: the causal PAD in front of an event-driven depthwise layer joins it.

The LMU memory is ``PAD`` (``steps - 1`` rows of the zero point in front of
the time axis) then a VALID depthwise convolution
(:mod:`edgekit.firmware_export.ops.spike_dw`).  When that layer reads spikes
the zero point is the off code, and the kernel lists only the active rows
of each channel: padded rows are never active.  :func:`fold_spike_pads`
drops the PAD and gives the ``EK_SPIKE_DW`` op the unpadded tensor and
``options["pad"]``, the rows it stands for (the kernel numbers the rows it
reads from there); the padded copy is neither written nor read.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgekit.firmware_export.graph import Graph, Operator
from edgekit.firmware_export.ops.spike_dw import OPCODE as DW_OPCODE

__all__ = ["fold_spike_pads"]


def _leading_pad(graph: Graph, pad: Operator, dw: Operator) -> int | None:
    """Rows the PAD adds in front of the depthwise layer's time axis (and
    nowhere else, with the off code), or None."""
    ins = graph.op_inputs(pad)
    if pad.opcode != "PAD" or len(ins) != 2 or ins[1] is None or not ins[1].is_const:
        return None
    x, y = ins[0], graph.op_outputs(pad)[0]
    if x.dtype != "int8" or (x.s, x.zp) != (y.s, y.zp) or y.zp != dw.options["codes"][0]:
        return None
    pv = np.asarray(ins[1].data, np.int64).reshape(-1, 2)
    shape = [int(d) for d in y.shape]
    if len(pv) != 4 or len(shape) != 4:
        return None
    axis = 1 if shape[2] == 1 else 2           # the time axis: rows, or one row's columns
    lead = pv.copy()
    lead[axis, 0] = 0
    if lead.any() or pv[axis, 0] <= 0:
        return None
    return int(pv[axis, 0])


def fold_spike_pads(graph: Graph) -> Graph:
    """``graph`` with each PAD read only by an ``EK_SPIKE_DW`` op folded into it.

    Parameters
    ----------
    graph : Graph
        After :func:`~edgekit.firmware_export.passes.spike_sparse.sparse_spikes`
        (not changed).

    Returns
    -------
    Graph
        ``graph`` itself when no PAD qualifies; else a new graph where the
        ``EK_SPIKE_DW`` op reads the PAD's input, has ``options["pad"]``
        and stands for the PAD too (``Graph.fused``).
    """
    readers, producer = graph.readers(), graph.producers()
    new, gone, fused = {}, set(), dict(graph.fused)
    for op in graph.operators:
        if op.opcode != DW_OPCODE or op.options.get("pad"):
            continue
        t = op.inputs[0]
        pad = producer.get(t)
        if pad is None or t in graph.outputs or len(readers.get(t, [])) != 1:
            continue
        rows = _leading_pad(graph, pad, op)
        if rows is None:
            continue
        new[op.index] = replace(op, inputs=[pad.inputs[0]] + list(op.inputs[1:]),
                                options=dict(op.options, pad=rows))
        gone.add(pad.index)
        fused[op.index] = sorted(set(fused.pop(op.index, [op.index]))
                                 | set(fused.pop(pad.index, [pad.index])))
    if not new:
        return graph
    operators = [new.get(op.index, op) for op in graph.operators if op.index not in gone]
    return replace(graph, operators=operators, fused=fused, source_opcodes=graph.opcodes())
