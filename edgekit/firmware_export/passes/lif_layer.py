"""Pass: the fused steps of one LIF layer become one ``EK_LIF_LAYER`` op.

After :func:`edgekit.firmware_export.passes.fuse_lif.fuse_lif` a LIF layer
over ``T`` steps is ``T`` ``EK_LIF`` ops chained by their membranes, each
reading its step's ``C`` currents in place from one ``[T, C]`` tensor, and
a tree of CONCATENATION ops that joins the ``T`` spike tensors into one
``[T, C]`` tensor.  :func:`lif_layers` replaces all of them by one op that
reads the currents and writes the joined spikes
(:mod:`edgekit.firmware_export.ops.lif_layer`, kernel ``ek_lif_layer_s8``):
the membranes never leave the kernel's registers and the concatenations
disappear.  Elementwise stages with one scalar constant that make the
currents from another tensor and are read by nothing else (the LIF's input
clip: ``ADD(x, -3)`` after a RELU6 producer), and RESHAPEs between, are
folded into the op as well: their int8 function of one code becomes part
of the kernel's tables.

The op takes the index of the layer's first step; ``Graph.fused`` maps it
to every TFLite op it computes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.graph import Graph, Operator
from edgekit.firmware_export.ops.lif_layer import layer_params, step_params

__all__ = ["OPCODE", "STEP_OPCODE", "lif_layers"]

#: Opcode of a fused LIF layer (no TFLite op has it).
OPCODE = "EK_LIF_LAYER"
#: Opcode of one table-driven LIF step with a leak (a streaming call's).
STEP_OPCODE = "EK_LIF_STEP"
#: Ops folded into the currents: int8 ADD/MUL with one scalar constant, and RESHAPE.
PRE_OPS = ("ADD", "MUL")


def _chain_of(graph: Graph, first: Operator, readers) -> list[Operator] | None:
    """The steps of the layer whose first step is ``first``, or None."""
    ch = first.options["chain"]
    if "v" in ch or "slice" not in ch or len(first.outputs) != 2:
        return None
    src = ch["slice_source"]
    steps = [first]
    while len(steps[-1].outputs) == 2:
        mem = steps[-1].outputs[0]
        rd = readers.get(mem, [])
        if len(rd) != 1 or rd[0].opcode != "EK_LIF" or mem in graph.outputs:
            return None
        nxt = rd[0]
        c = nxt.options["chain"]
        if ("v" not in c or "slice" not in c or c["slice_source"] != src
                or nxt.inputs[1 - c["slice_input"]] != mem):
            return None
        steps.append(nxt)
    return steps if len(steps) > 1 else None


def _place(graph: Graph, t: int, readers, tree: list[Operator]) -> tuple[int, int]:
    """``(tensor, element offset)``: where the bytes of ``t`` end up through
    CONCATENATIONs that only join bytes (one outer block); their ops go to ``tree``."""
    off = 0
    while True:
        rd = readers.get(t, [])
        if len(rd) != 1 or rd[0].opcode != "CONCATENATION" or t in graph.outputs:
            return t, off
        op = rd[0]
        y = graph.tensors[op.outputs[0]]
        axis = op.options.get("axis", 0) % max(len(y.shape), 1)
        ins = [graph.tensors[i] for i in op.inputs]
        if (op.options.get("activation", "NONE") != "NONE" or op.inputs.count(t) != 1
                or int(np.prod(y.shape[:axis], dtype=np.int64)) != 1
                or any(x.dtype != "int8" or (x.s, x.zp) != (y.s, y.zp) for x in ins)):
            return t, off
        off += sum(x.num_elements for x in ins[:op.inputs.index(t)])
        if all(o is not op for o in tree):
            tree.append(op)
        t = y.index


def _pre_stages(graph: Graph, src: int, readers, members: set[int]) -> tuple[int, list]:
    """``(input tensor, folded ops in order)``: the scalar-constant stages and
    RESHAPEs that make ``src`` and whose outputs only the layer reads."""
    producer = graph.producers()
    folded: list[Operator] = []
    t = src
    while True:
        op = producer.get(t)
        own = members | {o.index for o in folded}
        if (op is None or t in graph.outputs or len(op.outputs) != 1
                or any(r.index not in own for r in readers.get(t, []))):
            break
        if op.opcode == "RESHAPE":
            nxt = op.inputs[0]
        elif op.opcode in PRE_OPS and len(op.inputs) == 2:
            ts = [graph.tensors[i] for i in op.inputs]
            if sum(x.is_const for x in ts) != 1 or any(x.dtype != "int8" for x in ts):
                break
            data = next(x for x in ts if not x.is_const)
            const = next(x for x in ts if x.is_const)
            if const.num_elements != 1 or data.num_elements != graph.tensors[t].num_elements:
                break
            nxt = data.index
        else:
            break
        folded.append(op)
        t = nxt
    # the stages apply from the input outwards; RESHAPEs only move nothing
    return t, [op for op in reversed(folded)]


def _layer(graph: Graph, steps: list[Operator], readers) -> dict | None:
    n = len(steps)
    c0 = steps[0].options["chain"]
    src = c0["slice_source"]
    size = graph.tensors[steps[0].outputs[-1]].num_elements
    if graph.tensors[src].num_elements != n * size:
        return None
    if any(s.options["chain"]["slice_offset"] != k * size for k, s in enumerate(steps)):
        return None
    tree: list[Operator] = []
    places = [_place(graph, s.outputs[-1], readers, tree) for s in steps]
    root = places[0][0]
    if (any(p != (root, k * size) for k, p in enumerate(places))
            or graph.tensors[root].num_elements != n * size):
        return None
    inner = {s.outputs[-1] for s in steps} | {op.outputs[0] for op in tree}
    if any(i not in inner for op in tree for i in op.inputs):
        return None
    members = {s.index for s in steps} | {op.index for op in tree}
    x, pre = _pre_stages(graph, src, readers, members)
    layer = dict(steps=steps, tree=tree, pre=pre, input=x, output=root)
    try:
        layer_params(graph, layer)
    except UnsupportedOpError:
        return None
    layer["codes"] = (-128, 127)        # the only spike codes the layer kernel writes
    return layer


def _single(graph: Graph, op: Operator, readers) -> dict | None:
    """One step with a leak of two whole tensors as an ``EK_LIF_STEP``, the
    scalar-constant stages in front of each input folded (the state's decay,
    the current's clip); None when it does not qualify."""
    ch = op.options["chain"]
    if "v" not in ch or "slice" in ch or op.inputs[0] == op.inputs[1]:
        return None
    x1, pre1 = _pre_stages(graph, op.inputs[0], readers, {op.index})
    x2, pre2 = _pre_stages(graph, op.inputs[1], readers, {op.index})
    if {o.index for o in pre1} & {o.index for o in pre2}:
        return None
    try:
        step_params(graph, op, pre1, pre2)
    except UnsupportedOpError:
        return None
    outs = list(op.outputs) if len(op.outputs) == 2 else [-1, op.outputs[0]]
    return dict(steps=[op], tree=[], pre=pre1 + pre2, step=op, pre1=pre1, pre2=pre2,
                inputs=[x1, x2], outputs=outs, codes=(-128, 127))


def lif_layers(graph: Graph) -> Graph:
    """``graph`` with each whole LIF layer as one ``EK_LIF_LAYER`` op.

    Parameters
    ----------
    graph : Graph
        After :func:`~edgekit.firmware_export.passes.fuse_lif.fuse_lif` (not changed).

    Returns
    -------
    Graph
        ``graph`` itself when no layer qualifies; else a new graph whose
        ``EK_LIF_LAYER`` ops have inputs ``[x]`` (the currents, or the
        tensor the folded stages make them from), outputs ``[spikes]`` (the
        joined ``[T, C]`` spike tensor) and ``options``: ``steps`` (the
        ``EK_LIF`` ops), ``tree`` (the CONCATENATIONs), ``pre`` (the folded
        ops, in order), ``codes`` (off and on spike codes).  A layer
        qualifies when its steps read one tensor in step order, the
        membranes and partial joins are read by the layer only, the joined
        spikes are in step order, and the steps share their arithmetic
        (:func:`edgekit.firmware_export.ops.lif_layer.layer_params`).  Every
        other step with a leak of two whole tensors (a streaming model's)
        becomes an ``EK_LIF_STEP`` op: inputs ``[x1, x2]`` (the leak's inputs
        before their folded stages), outputs ``[next, spikes]`` (next -1
        without a reset), ``options`` ``step``, ``pre1``, ``pre2``, ``codes``.
    """
    readers = graph.readers()
    layers, in_layer = [], set()
    for op in graph.operators:
        if op.opcode == "EK_LIF":
            steps = _chain_of(graph, op, readers)
            layer = _layer(graph, steps, readers) if steps else None
            if layer is not None:
                layers.append(layer)
                in_layer.update(s.index for s in layer["steps"])
    for op in graph.operators:          # single steps with a leak (a streaming call)
        if op.opcode == "EK_LIF" and op.index not in in_layer:
            layer = _single(graph, op, readers)
            if layer is not None:
                layers.append(layer)
    if not layers:
        return graph
    taken, fused = {}, dict(graph.fused)
    for layer in layers:
        first = layer["steps"][0].index
        ops = layer["steps"] + layer["tree"] + layer["pre"]
        members = set()
        for op in ops:
            taken[op.index] = layer
            members.update(fused.pop(op.index, [op.index]))
        fused[first] = sorted(members)
    operators = []
    for op in graph.operators:
        layer = taken.get(op.index)
        if layer is None:
            operators.append(op)
        elif op is layer["steps"][0] and "step" in layer:
            operators.append(Operator(
                index=op.index, opcode=STEP_OPCODE, inputs=layer["inputs"],
                outputs=layer["outputs"],
                options={k: layer[k] for k in ("step", "pre1", "pre2", "codes")}))
        elif op is layer["steps"][0]:
            operators.append(Operator(
                index=op.index, opcode=OPCODE, inputs=[layer["input"]],
                outputs=[layer["output"]],
                options={k: layer[k] for k in ("steps", "tree", "pre", "codes")}))
    return replace(graph, operators=operators, fused=fused,
                   source_opcodes=graph.opcodes())
