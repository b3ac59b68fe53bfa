"""Pass: layers that read a spike tensor run event-driven (``EK_SPIKE_FC``).

A spike tensor holds one of two int8 codes in every element: the zero
code (no spike) and the code of one.  :func:`spike_codes` proves it from
the graph, without data: the spike output of a fused LIF step
(:mod:`edgekit.firmware_export.passes.fuse_lif`, whose two codes
:func:`edgekit.firmware_export.ops.lif.lif_params` computes from the
chain's quantization) is one, and so is what ops that only move bytes make
of spike tensors (RESHAPE, SQUEEZE, EXPAND_DIMS, STRIDED_SLICE, TRANSPOSE,
CONCATENATION of spike tensors with the same codes, and PAD when its pad
value, the zero point, is the off code), when input and output are
quantized alike.  A streaming model's state input is one too when the
state output it is fed back from is (a history of spikes), with the same
codes and quantization, the off code being the zero point the state starts
from (``edgekit_reset``): by induction over the calls, given that every
such state is.  :func:`sparse_spikes` rewrites each FULLY_CONNECTED,
and each 1x1 CONV_2D of stride 1, that reads one into an ``EK_SPIKE_FC``
op (:mod:`edgekit.firmware_export.ops.spike_fc`), with its weights
transposed into a new constant, and each one-column DEPTHWISE_CONV_2D over
time (the LMU memory) into an ``EK_SPIKE_DW`` op
(:mod:`edgekit.firmware_export.ops.spike_dw`), and each ADD of two spike
tensors into an ``EK_SPIKE_ADD`` op (four possible results, a table:
:mod:`edgekit.firmware_export.ops.spike_add`); the op keeps the file's op
index.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.graph import Graph, Operator, Tensor
from edgekit.firmware_export.ops.lif import lif_params
from edgekit.firmware_export.ops.lif_bn import OPCODE as LIF_BN_OPCODE
from edgekit.firmware_export.ops.spike_add import OPCODE as ADD_OPCODE
from edgekit.firmware_export.ops.spike_add import spike_add_params
from edgekit.firmware_export.passes.fuse_lif import fuse_lif
from edgekit.firmware_export.passes.lif_layer import OPCODE as LAYER_OPCODE
from edgekit.firmware_export.passes.lif_layer import STEP_OPCODE
from edgekit.firmware_export.passes.lif_layer import lif_layers
from edgekit.firmware_export.ops.spike_dw import OPCODE as DW_OPCODE
from edgekit.firmware_export.ops.spike_dw import spike_dw_params
from edgekit.firmware_export.ops.spike_fc import OPCODE, layer_shape, spike_fc_params

__all__ = ["sparse_layers", "sparse_spikes", "spike_codes"]

#: Ops whose int8 output is bytes of their first input (same quantization).
COPY_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "STRIDED_SLICE", "TRANSPOSE"})
#: Layers :func:`sparse_spikes` rewrites.
LAYERS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def _same_quant(a: Tensor, b: Tensor) -> bool:
    return (a.dtype == b.dtype == "int8" and len(a.scale) == len(b.scale) == 1
            and a.s == b.s and a.zp == b.zp)


def spike_codes(graph: Graph, assume: dict | None = None) -> dict[int, tuple[int, int]]:
    """The spike tensors of ``graph`` and their codes.

    Parameters
    ----------
    graph : Graph
        After :func:`~edgekit.firmware_export.passes.fuse_lif.fuse_lif`
        (the spikes of unfused LIF chains are not found).
    assume : dict, optional
        Tensor index -> ``(off, on)``: tensors to take as spike tensors
        (e.g. a model input known to be spikes).

    Returns
    -------
    dict
        Tensor index -> ``(off, on)`` codes: every element of the tensor is
        one of the two, ``off`` the tensor's zero point (real 0).

    Notes
    -----
    Streaming state pairs (:meth:`~edgekit.firmware_export.graph.Graph.state_pairs`)
    quantized alike on both sides are first all taken as spike tensors
    with the codes found elsewhere in the graph for their zero point (when
    those are unique); a state whose output is then not proven to hold
    those codes is dropped and the rest checked again, until none is
    dropped (the largest set of states consistent with each other).
    """
    codes = _propagate(graph, dict(assume or {}))
    t = graph.tensors
    found = set(codes.values())
    cand = {}
    for a, b in graph.state_pairs():
        if a in (assume or {}) or not _same_quant(t[a], t[b]):
            continue
        opts = [c for c in found if c[0] == t[a].zp]
        if len(opts) == 1:
            cand[a] = (opts[0], b)
    while cand:
        trial = _propagate(graph, {**(assume or {}), **{a: c for a, (c, _) in cand.items()}})
        keep = {a: (c, b) for a, (c, b) in cand.items() if trial.get(b) == c}
        if keep == cand:
            return trial
        cand = keep
    return codes


def _propagate(graph: Graph, assume: dict) -> dict[int, tuple[int, int]]:
    """Spike tensors of ``graph`` given the assumed ones (one pass in op order)."""
    codes = dict(assume)
    t = graph.tensors
    for op in graph.operators:
        if op.opcode == "EK_LIF":
            s = op.outputs[-1]
            try:
                p = lif_params(graph, op.options["chain"])
            except UnsupportedOpError:
                continue
            if p["s_off"] != p["s_on"] and p["s_off"] == t[s].zp:
                codes[s] = (p["s_off"], p["s_on"])
        elif op.opcode in (LAYER_OPCODE, STEP_OPCODE, LIF_BN_OPCODE):   # lif_layer.py, lif_bn.py
            s = op.outputs[-1]
            off, on = op.options["codes"]
            if off != on and off == t[s].zp:
                codes[s] = (off, on)
        elif op.opcode in COPY_OPS:
            x, y = op.inputs[0], op.outputs[0]
            if x in codes and _same_quant(t[x], t[y]):
                codes[y] = codes[x]
        elif op.opcode == "PAD":     # pads with the zero point: the off code
            x, y = op.inputs[0], op.outputs[0]
            if x in codes and _same_quant(t[x], t[y]) and codes[x][0] == t[y].zp:
                codes[y] = codes[x]
        elif op.opcode == "CONCATENATION":
            y = op.outputs[0]
            ins = [i for i in op.inputs if i >= 0]
            found = {codes.get(i) for i in ins}
            if (len(found) == 1 and None not in found
                    and op.options.get("activation", "NONE") == "NONE"
                    and all(_same_quant(t[i], t[y]) for i in ins)):
                codes[y] = found.pop()
    return codes


def sparse_spikes(graph: Graph, assume: dict | None = None) -> Graph:
    """``graph`` with each layer reading a spike tensor as one ``EK_SPIKE_FC`` op.

    Parameters
    ----------
    graph : Graph
        Not changed.
    assume : dict, optional
        As for :func:`spike_codes`.

    Returns
    -------
    Graph
        ``graph`` itself when no layer reads spikes; else a new graph with
        one more constant per rewritten layer (its weights transposed to
        ``[accum, units]``) and ``source_opcodes`` keeping the file's
        opcodes.  A rewritten op's inputs are ``[x, transposed weights]``,
        its options ``layer`` (the file's op) and ``codes``.
    """
    codes = spike_codes(graph, assume)
    tensors, operators, changed = list(graph.tensors), [], False
    for op in graph.operators:
        if op.opcode == "ADD" and len(op.inputs) == 2 and all(i in codes for i in op.inputs):
            pair = tuple(codes[i] for i in op.inputs)
            try:
                spike_add_params(op, graph, pair)
            except UnsupportedOpError:
                operators.append(op)
                continue
            operators.append(Operator(index=op.index, opcode=ADD_OPCODE, inputs=list(op.inputs),
                                      outputs=list(op.outputs),
                                      options={"layer": op, "codes": pair}, version=op.version))
            changed = True
            continue
        c = codes.get(op.inputs[0]) if op.opcode in LAYERS and op.inputs else None
        if c is None:
            operators.append(op)
            continue
        if op.opcode == "DEPTHWISE_CONV_2D":
            try:
                spike_dw_params(op, graph, c)
            except UnsupportedOpError:
                operators.append(op)
                continue
            operators.append(Operator(index=op.index, opcode=DW_OPCODE,
                                      inputs=[op.inputs[0], op.inputs[1]],
                                      outputs=list(op.outputs),
                                      options={"layer": op, "codes": c}, version=op.version))
            changed = True
            continue
        try:
            _, accum, units, w2 = layer_shape(op, graph)
            spike_fc_params(op, graph, c)
        except UnsupportedOpError:
            operators.append(op)
            continue
        w = graph.tensors[op.inputs[1]]
        wt = Tensor(index=len(tensors), name=f"{w.name}_spike_t", shape=(accum, units),
                    dtype="int8", data=np.ascontiguousarray(w2.T.astype(np.int8)),
                    scale=w.scale, zero_point=w.zero_point)
        tensors.append(wt)
        operators.append(Operator(index=op.index, opcode=OPCODE,
                                  inputs=[op.inputs[0], wt.index], outputs=list(op.outputs),
                                  options={"layer": op, "codes": c}, version=op.version))
        changed = True
    if not changed:
        return graph
    return replace(graph, tensors=tensors, operators=operators,
                   source_opcodes=graph.opcodes())


def sparse_layers(graph: Graph) -> dict[int, dict]:
    """The layers of a model file that the code generator runs event-driven.

    Parameters
    ----------
    graph : Graph
        As read from the .tflite file (the passes of
        :func:`edgekit.firmware_export.codegen.generate` are applied here).

    Returns
    -------
    dict
        TFLite op index -> ``{"opcode", "input", "codes"}``: the file's
        opcode, the spike tensor it reads and that tensor's ``(off, on)``
        codes.
    """
    out = {}
    for op in sparse_spikes(lif_layers(fuse_lif(graph))).operators:
        if op.opcode in (OPCODE, DW_OPCODE):
            out[op.index] = dict(opcode=op.options["layer"].opcode, input=op.inputs[0],
                                 codes=tuple(op.options["codes"]))
    return out
