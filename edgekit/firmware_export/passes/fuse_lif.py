"""Pass: each unrolled int8 LIF step becomes one ``EK_LIF`` op.

A spiking layer (:class:`edgekit.models.spiking.LIF`) converts to about ten
ADD/MUL ops per time step (see :mod:`edgekit.firmware_export.ops.lif` for
the chain).  :func:`lif_steps` finds them in a :class:`Graph`;
:func:`fuse_lif` returns a graph where each step is one op, whose kernel
(``ek_lif_s8``) computes the same int8 spikes and next membrane without the
step's intermediate tensors.  The fused op takes the index of the step's
first TFLite op (its place in the file order, where its inputs are ready);
``Graph.fused`` maps it back to the TFLite ops it computes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.graph import Graph, Operator
from edgekit.firmware_export.ops.lif import SPIKE_ROLES, lif_params
from edgekit.firmware_export.ops.strided_copy import lower_strided_slice, slice_spec

__all__ = ["fuse_lif", "lif_steps"]

#: Opcode of a fused LIF step (no TFLite op has it).
OPCODE = "EK_LIF"


class _Index:
    """Producers and readers of the tensors of a graph."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.producer: dict[int, Operator] = graph.producers()
        self.readers: dict[int, list[Operator]] = graph.readers()

    def const_stage(self, t: int, opcode: str, activation: str | None = None) -> Operator | None:
        """The ``opcode`` op with one constant input making tensor ``t``."""
        op = self.producer.get(t)
        if op is None or op.opcode != opcode or len(op.inputs) != 2 or len(op.outputs) != 1:
            return None
        if activation is not None and op.options.get("activation", "NONE") != activation:
            return None
        if sum(self.graph.tensors[i].is_const for i in op.inputs) != 1:
            return None
        return op

    def data_input(self, op: Operator) -> int:
        return next(i for i in op.inputs if not self.graph.tensors[i].is_const)

    def only_reader(self, t: int, opcode: str) -> Operator | None:
        readers = self.readers.get(t, [])
        if len(readers) != 1 or readers[0].opcode != opcode or t in self.graph.outputs:
            return None
        return readers[0]


def _step(ix: _Index, s_op: Operator) -> dict | None:
    """The LIF step whose spike ``s_op`` makes, or None."""
    g = ix.graph
    chain = {"s": s_op}
    t = ix.data_input(s_op)
    for role, opcode, act in (("z3", "MUL", "RELU6"), ("z2", "MUL", "RELU6"),
                              ("z1", "MUL", "RELU6"), ("d", "ADD", None)):
        op = ix.const_stage(t, opcode, act)
        if op is None:
            return None
        chain[role] = op
        t = ix.data_input(op)
    v = t
    # the spike stages are private to the step
    for role in SPIKE_ROLES[:-1]:
        out = chain[role].outputs[0]
        if len(ix.readers.get(out, [])) != 1 or out in g.outputs:
            return None
    chain["v_tensor"] = v
    # hard reset r = v * (s * c1 + c2), then the decay dr = r * c3
    s = s_op.outputs[0]
    for ns_op in ix.readers.get(s, []):
        if ix.const_stage(ns_op.outputs[0], "MUL") is not ns_op:
            continue
        oms_op = ix.only_reader(ns_op.outputs[0], "ADD")
        if oms_op is None or ix.const_stage(oms_op.outputs[0], "ADD") is not oms_op:
            continue
        r_op = ix.only_reader(oms_op.outputs[0], "MUL")
        if r_op is None or sorted(r_op.inputs) != sorted([v, oms_op.outputs[0]]):
            continue
        chain.update(ns=ns_op, oms=oms_op, r=r_op)
        dr_op = ix.only_reader(r_op.outputs[0], "MUL")
        if dr_op is not None and ix.const_stage(dr_op.outputs[0], "MUL") is dr_op:
            chain["dr"] = dr_op
        break
    # the leak v = dr_in + cur joins the step when v is read by the step only
    v_op = ix.producer.get(v)
    own = {id(chain[r]) for r in ("d", "r") if r in chain}
    if (v_op is not None and v_op.opcode == "ADD" and len(v_op.inputs) == 2
            and not any(g.tensors[i].is_const for i in v_op.inputs)
            # equal element counts: a flat elementwise sum (a streaming step's
            # current may come reshaped, [C] beside [1, 1, C])
            and all(g.tensors[i].num_elements == g.tensors[v].num_elements
                    for i in v_op.inputs)
            and v not in g.outputs
            and {id(op) for op in ix.readers.get(v, [])} == own):
        chain["v"] = v_op
    return chain


def _row_of(ix: _Index, t: int, readers: set[int]) -> tuple[Operator, int, int] | None:
    """``(slice op, source tensor, element offset)`` when tensor ``t`` is a
    STRIDED_SLICE of one contiguous block of an int8 activation, read only by
    the ops ``readers`` (ids); else None."""
    g = ix.graph
    op = ix.producer.get(t)
    if (op is None or op.opcode != "STRIDED_SLICE" or t in g.outputs
            or {id(r) for r in ix.readers.get(t, [])} - readers):
        return None
    src = g.tensors[op.inputs[0]]
    if src.is_const or src.dtype != "int8":
        return None
    try:
        lower_strided_slice(op, g)      # checks the options and the quantization
        begin, end, strides = (g.tensors[i].data.reshape(-1).tolist() for i in op.inputs[1:4])
        starts, counts, _ = slice_spec(op, src.shape, begin, end, strides, op.options)
    except (UnsupportedOpError, AttributeError, IndexError, ValueError):
        return None
    if any(st <= 0 for st in strides):
        return None
    grid = np.arange(src.num_elements).reshape([int(d) for d in src.shape])
    picked = grid[tuple(slice(a, a + c * st, st) for a, c, st in zip(starts, counts, strides))]
    picked = picked.reshape(-1)
    if picked.size != g.tensors[t].num_elements or not np.array_equal(
            picked, picked[0] + np.arange(picked.size)):
        return None
    return op, src.index, int(picked[0])


def lif_steps(graph: Graph) -> list[dict]:
    """Every fusable LIF step of ``graph``.

    Parameters
    ----------
    graph : Graph

    Returns
    -------
    list of dict
        Per step, role -> :class:`Operator`: ``d``, ``z1``, ``z2``, ``z3``,
        ``s`` always; ``v`` (the leak ADD, absent at a first step),
        ``ns``/``oms``/``r`` (hard reset, absent when the converter dropped
        it) and ``dr`` (decay of the reset membrane) when present; plus
        ``"v_tensor"`` (the membrane); ``slice`` (the STRIDED_SLICE of the
        current, see :func:`fuse_lif`) when it can be read in place.  Steps
        whose arithmetic
        :func:`edgekit.firmware_export.ops.lif.lif_params` cannot fuse
        exactly are left out.
    """
    ix = _Index(graph)
    steps = []
    for op in graph.operators:
        if op.opcode != "MUL" or ix.const_stage(op.outputs[0], "MUL") is not op:
            continue
        chain = _step(ix, op)
        if chain is None:
            continue
        try:
            lif_params(graph, chain)
        except UnsupportedOpError:
            continue
        # the step's input current: read in place from the tensor it is sliced from
        cur = chain["v"].inputs if "v" in chain else [chain["v_tensor"]]
        own = {id(o) for o in _ops(chain)}
        for pos, t in enumerate(cur):
            row = _row_of(ix, t, own)
            if row is not None:
                chain["slice"], chain["slice_input"] = row[0], pos
                chain["slice_source"], chain["slice_offset"] = row[1], row[2]
                break
        steps.append(chain)
    return steps


def _ops(chain: dict) -> list[Operator]:
    return [v for k, v in chain.items() if isinstance(v, Operator)]


def fuse_lif(graph: Graph) -> Graph:
    """``graph`` with each LIF step of :func:`lif_steps` as one ``EK_LIF`` op.

    Parameters
    ----------
    graph : Graph
        As read from the .tflite file (not changed).

    Returns
    -------
    Graph
        ``graph`` itself when it has no LIF step; else a new graph (same
        tensors) whose ``fused`` maps each EK_LIF op index to its TFLite op
        indices and ``source_opcodes`` keeps the file's opcodes.  An
        EK_LIF op's inputs are ``[in1, in2]`` (the leak ADD's inputs, or
        ``[membrane, -1]`` at a first step), its outputs ``[next,
        spikes]`` (next: the decayed membrane, or the reset one when no
        decay follows) or ``[spikes]`` without reset; ``options["chain"]``
        holds the step's ops (roles as in :func:`lif_steps`).  A current
        sliced from a larger tensor by a STRIDED_SLICE read by the step only
        (one contiguous block) is read in place: the input is the sliced
        tensor, ``chain["slice_offset"]`` the element offset (the slice
        op, role ``"slice"``, is merged too).
    """
    steps = lif_steps(graph)
    if not steps:
        return graph
    taken: dict[int, dict] = {}
    for chain in steps:
        for op in _ops(chain):
            taken[op.index] = chain
    operators, fused = [], dict(graph.fused)
    for op in graph.operators:
        chain = taken.get(op.index)
        if chain is None:
            operators.append(op)
            continue
        members = sorted(o.index for o in _ops(chain))
        # the step runs where its first ADD/MUL ran (its inputs are ready there)
        first = min(o.index for k, o in chain.items() if isinstance(o, Operator) and k != "slice")
        if op.index != first:
            continue
        ins = list(chain["v"].inputs) if "v" in chain else [chain["v_tensor"], -1]
        if "slice" in chain:
            ins[chain["slice_input"]] = chain["slice_source"]
        outs = [chain["s"].outputs[0]]
        last = chain.get("dr", chain.get("r"))
        if last is not None:
            outs.insert(0, last.outputs[0])
        operators.append(Operator(index=op.index, opcode=OPCODE, inputs=ins, outputs=outs,
                                  options={"chain": chain}))
        fused[op.index] = members
    return replace(graph, operators=operators, fused=fused,
                   source_opcodes=graph.opcodes())
