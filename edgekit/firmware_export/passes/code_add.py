"""Pass: an int8 ADD with one input of a few codes becomes a two-table ``EK_CODE_ADD`` op.

After :func:`edgekit.firmware_export.passes.spike_sparse.sparse_spikes` the
spike tensors are known (two codes each, :func:`~.spike_sparse.spike_codes`)
and so are the outputs of ``EK_SPIKE_ADD`` ops (the ADD of two spike
tensors: at most four codes, its table).  An ADD of such a tensor and any
other activation of the same size (the spiking LMUFormer's residual
``x1 + mix2(...)``) is a function of (few code, code): its results come
from two int16 tables (:mod:`edgekit.firmware_export.ops.code_add`) instead
of two rescalings and a requantization per element.
"""

from __future__ import annotations

from dataclasses import replace

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.graph import Graph, Operator
from edgekit.firmware_export.ops import add as add_op
from edgekit.firmware_export.ops.code_add import MAX_CODES, OPCODE, code_add_params
from edgekit.firmware_export.ops.lif import add_one
from edgekit.firmware_export.ops.spike_add import OPCODE as SPIKE_ADD_OPCODE
from edgekit.firmware_export.passes.spike_sparse import spike_codes

__all__ = ["OPCODE", "code_adds", "few_codes"]


def few_codes(graph: Graph) -> dict[int, tuple[int, ...]]:
    """Tensor index -> the codes it can hold, for spike tensors and the
    outputs of ``EK_SPIKE_ADD`` ops (at most :data:`~.code_add.MAX_CODES`)."""
    out = {t: tuple(c) for t, c in spike_codes(graph).items()}
    for op in graph.operators:
        if op.opcode == SPIKE_ADD_OPCODE:
            p = add_op.add_params(op.options["layer"], graph)
            (off1, on1), (off2, on2) = op.options["codes"]
            out[op.outputs[0]] = tuple(sorted({add_one(p, x, y) for x in (off1, on1)
                                               for y in (off2, on2)}))
    return {t: c for t, c in out.items() if len(c) <= MAX_CODES}


def code_adds(graph: Graph) -> Graph:
    """``graph`` with each ADD of a few-code tensor and another activation
    as an ``EK_CODE_ADD`` op.

    Parameters
    ----------
    graph : Graph
        After :func:`~.spike_sparse.sparse_spikes` (not changed).

    Returns
    -------
    Graph
        ``graph`` itself when no ADD qualifies; else a new graph whose
        ``EK_CODE_ADD`` ops keep the ADD's inputs and output, with
        ``options``: ``layer`` (the file's ADD), ``codes`` (the few codes)
        and ``side`` (the input holding them, 0 or 1).  An ADD qualifies
        when :func:`edgekit.firmware_export.ops.code_add.code_add_params`
        finds its tables.
    """
    codes = few_codes(graph)
    operators, changed = [], False
    for op in graph.operators:
        new = None
        if op.opcode == "ADD" and len(op.inputs) == 2:
            for side in (0, 1):
                c = codes.get(op.inputs[side])
                if c is None:
                    continue
                try:
                    code_add_params(op, graph, c, side)
                except UnsupportedOpError:
                    continue
                new = Operator(index=op.index, opcode=OPCODE, inputs=list(op.inputs),
                               outputs=list(op.outputs),
                               options={"layer": op, "codes": c, "side": side},
                               version=op.version)
                break
        operators.append(new or op)
        changed = changed or new is not None
    if not changed:
        return graph
    return replace(graph, operators=operators, source_opcodes=graph.opcodes())
