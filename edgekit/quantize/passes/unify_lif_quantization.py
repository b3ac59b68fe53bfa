"""Pass: one quantisation per LIF tensor family of an int8 window model.

LIF layers (:class:`edgekit.models.spiking.LIF`) in an int8 TFLite graph:
the window model unrolls each LIF layer over the time steps; the TFLite
converter quantises every step's tensors on their own calibrated ranges.
:func:`lif_chains` finds the unrolled steps of each layer in a flatbuffer,
and :func:`unify_lif_quantization` (applied by
:func:`edgekit.quantize.convert.quantize_model`, the one converter, for
models with LIF layers) gives each family of per-step tensors one
quantisation, spikes exactly 0/1, so that one streaming step with one state
quantisation computes every window step (:mod:`edgekit.models.streaming`,
:mod:`edgekit.quantize.streaming`).
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ModelError
from edgekit.quantize.passes.graph import (
    BIASED,
    REQUANTIZING,
    SAME_QUANT,
    Graph,
    load_model,
    pack_model,
    requantize_bias,
)

__all__ = ["STEP_ROLES", "SPIKE_QUANT", "lif_chains", "uniform_chain", "unify_lif_quantization"]

#: Roles of the tensors of one unrolled LIF step in an int8 TFLite graph
#: (see :func:`lif_chains`).
STEP_ROLES = ("v", "d", "z1", "z2", "z3", "s", "ns", "oms", "r", "dr")

#: Quantisation of spikes: exactly 0 and 1 (codes -128 and 127).
SPIKE_QUANT = (1.0 / 255.0, -128)


def _lif_steps(g: Graph) -> list[dict]:
    """Every unrolled LIF step of graph ``g`` (the ops of :meth:`LIF.fire` and the reset).

    A step is found from its firing stages, ``s = mul(relu6(mul(relu6(mul(
    relu6(mul(add(v, -threshold), gain)), 255)), 255)), 1/6)``; its reset
    ``r`` (hard: ``v * (s * -1 + 1)``, soft: ``v + s * -threshold``) and
    decayed membrane ``dr = r * decay`` follow from the consumers.  The
    returned dicts map the roles of :data:`STEP_ROLES` to tensor indices
    (``None`` where the converter dropped the op, e.g. the last step's
    reset), plus ``"ops"`` (role -> op index; ``"dr_in"``: the op decaying
    the previous membrane), ``"cur"`` (the step's input current),
    ``"dr_in"`` / ``"r_in"`` (the previous step's ``dr`` / ``r``, or a
    graph input in a streaming model; None for the first step of a window,
    whose membrane is the current itself).
    """
    relu6 = 3   # ActivationFunctionType.RELU6
    steps = []
    for k, name in enumerate(g.names):
        if name != "MUL" or g.fused(k) not in (0, None):
            continue
        d_in, c_in = g.split(k)
        if len(d_in) != 1 or len(c_in) != 1:
            continue
        chain, t = [k], d_in[0]
        for _ in range(3):
            p = g.made_by(t, "MUL", fused=relu6)
            if p is None:
                break
            chain.append(p)
            t = g.split(p)[0][0]
        p = g.made_by(t, "ADD", fused=0) if len(chain) == 4 else None
        if p is None:
            continue
        s_op, z3_op, z2_op, z1_op = chain
        v = g.split(p)[0][0]
        step = {"v": v, "d": t, "z1": g.out(z1_op), "z2": g.out(z2_op), "z3": g.out(z3_op),
                "s": g.out(s_op), "ns": None, "oms": None, "r": None, "dr": None,
                "ops": {"d": p, "z1": z1_op, "z2": z2_op, "z3": z3_op, "s": s_op}}
        for n_op in g.uses(step["s"], "MUL", fused=0):
            ns = g.out(n_op)
            hard = [a for a in g.uses(ns, "ADD", fused=0)
                    if any(g.reads(m, v) for m in g.uses(g.out(a), "MUL", data=2, consts=0))]
            if hard:
                oms = g.out(hard[0])
                r_op = next(m for m in g.uses(oms, "MUL", data=2, consts=0) if g.reads(m, v))
                step.update(ns=ns, oms=oms, r=g.out(r_op))
                step["ops"].update(ns=n_op, oms=hard[0], r=r_op)
                break
            soft = [a for a in g.uses(ns, "ADD", data=2, consts=0) if g.reads(a, v)]
            if soft:
                step.update(ns=ns, r=g.out(soft[0]))
                step["ops"].update(ns=n_op, r=soft[0])
                break
        if step["r"] is not None:
            dr_ops = g.uses(step["r"], "MUL", fused=0)
            if len(dr_ops) == 1:
                step["dr"] = g.out(dr_ops[0])
                step["ops"]["dr"] = dr_ops[0]
        steps.append(step)
    # the previous step of each step: v = add(r_prev * decay, current)
    resets = {s["r"] for s in steps if s["r"] is not None} | g.inputs
    for step in steps:
        step["cur"], step["dr_in"], step["r_in"] = step["v"], None, None
        a = g.made_by(step["v"], "ADD", data=2, consts=0, fused=0)
        if a is None:
            continue
        x, y = g.split(a)[0]
        for dr, cur in ((x, y), (y, x)):
            m = g.made_by(dr, "MUL", fused=0)
            if m is not None and g.split(m)[0][0] in resets:
                step.update(cur=cur, dr_in=dr, r_in=g.split(m)[0][0])
                step["ops"].update(v=a, dr_in=m)
                break
    return steps


def lif_chains(model, graph) -> list[list[dict]]:
    """The LIF layers of an int8 TFLite graph, as chains of unrolled steps.

    Parameters
    ----------
    model : ai_edge_litert.schema_py_generated.ModelT
        The unpacked flatbuffer.
    graph : ai_edge_litert.schema_py_generated.SubGraphT
        One of its subgraphs.

    Returns
    -------
    list of list of dict
        One list per LIF layer (in graph order), its steps in time order
        (see :func:`_lif_steps` for the dicts).  A window model has one step
        per time step, the first one without ``r_in``; a streaming model
        (:mod:`edgekit.models.streaming`) has one step per layer, whose
        ``r_in`` is the membrane state input.
    """
    g = Graph(model, graph)
    steps = _lif_steps(g)
    by_r_in = {s["r_in"]: s for s in steps if s["r_in"] is not None}
    chains = []
    for head in steps:
        if head["r_in"] is not None and head["r_in"] not in g.inputs:
            continue
        chain = [head]
        while chain[-1]["r"] in by_r_in:
            chain.append(by_r_in[chain[-1]["r"]])
        chains.append(chain)
    chains.sort(key=lambda c: c[0]["ops"]["d"])
    return chains


def uniform_chain(graph, chain) -> bool:
    """Whether a window LIF chain quantises each role alike at every step (and its currents).

    Parameters
    ----------
    graph : SubGraphT
        The subgraph of the chain.
    chain : list of dict
        One chain of :func:`lif_chains`.

    Returns
    -------
    bool
        True if the chain has at least two steps and every role of
        :data:`STEP_ROLES` (the currents with the membranes) has one
        ``(scale, zero point)``.
    """
    def q(i):
        t = graph.tensors[i].quantization
        return (float(t.scale[0]), int(t.zeroPoint[0]))

    if len(chain) < 2:
        return False
    for role in STEP_ROLES:
        ts = [st[role] for st in chain if st[role] is not None
              and not (role == "v" and st["dr_in"] is None)]
        if role == "v":
            ts += [st["cur"] for st in chain]
        if len({q(i) for i in ts}) > 1:
            return False
    return True


def _same_quant_root(g: Graph, t: int) -> int:
    """The tensor ``t`` is a view of: back through quantisation-preserving ops."""
    while t in g.producer and g.names[g.producer[t]] in SAME_QUANT:
        k = g.producer[t]
        ins = g.split(k)[0]
        t = ins[-1] if g.names[k] == "CONCATENATION" else ins[0]
    return t


def _families(g: Graph, chain: list[dict]) -> dict[str, list[int]]:
    """Role -> the tensors of that role at every step of one LIF chain.

    ``"v"`` holds the membranes of the steps after the first and the
    tensor the input currents are sliced from: the first step's membrane
    *is* its current, so the current must be quantised like the membranes
    for a one-step (streaming) model, whose membrane is ``0 * decay +
    current``, to compute the first step as the window model does.
    """
    fam = {role: [] for role in STEP_ROLES}
    for step in chain:
        for role in STEP_ROLES:
            if step[role] is not None and not (role == "v" and step["dr_in"] is None):
                fam[role].append(step[role])
    roots = sorted({_same_quant_root(g, s["cur"]) for s in chain})
    fam["v"] = roots + fam["v"]
    return {role: ts for role, ts in fam.items() if ts}


def _union_quant(quants):
    """Scale and zero point of the int8 range covering every ``(scale, zero point)`` range."""
    lo = min(s * (-128 - z) for s, z in quants)
    hi = max(s * (127 - z) for s, z in quants)
    for s, z in quants:   # one of them covers them all: keep it exactly
        if s * (-128 - z) <= lo and s * (127 - z) >= hi:
            return s, z
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(round(-128 - lo / scale), -128, 127))


def unify_lif_quantization(flatbuffer: bytes) -> tuple[bytes, list[dict]]:
    """Quantise each LIF tensor of an int8 window model alike at every unrolled step.

    The converter calibrates every tensor of the unrolled LIF steps on its
    own, so a membrane gets a different scale at every step (~10% apart),
    while a streaming model (:mod:`edgekit.models.streaming`) carries one
    membrane state, with one scale.  Here every family of per-step tensors
    of one LIF layer (the roles of :data:`STEP_ROLES`) gets one
    quantisation, covering the union of the calibrated ranges; spikes get
    :data:`SPIKE_QUANT` (exactly 0/1); the tensor the input currents are
    sliced from joins the membranes (see :func:`_families`).  Only outputs
    of ops that requantise from their tensors' own scales
    (:data:`edgekit.quantize.passes.graph.REQUANTIZING`) are changed, views of
    them (``RESHAPE``, ``STRIDED_SLICE``, ``CONCATENATION``) follow, and the
    int32 bias of a ``FULLY_CONNECTED`` / convolution whose input changed is
    requantised.  The int8 model then computes every step with the same
    arithmetic, which a one-step streaming model can reproduce bit for bit.

    Parameters
    ----------
    flatbuffer : bytes
        An int8 ``.tflite`` (e.g. from :func:`edgekit.quantize.quantize_int8`).

    Returns
    -------
    bytes
        The flatbuffer with the new quantisation (unchanged if it has no
        LIF step).
    list of dict
        Per LIF chain: ``steps``; ``roles``: role -> ``tensors`` (how
        many), ``before`` (their distinct ``(scale, zero point)`` pairs) and
        ``after``; ``kept``: roles left alone (a tensor is a graph input or
        its producer does not requantise).

    Raises
    ------
    ModelError
        If a ``CONCATENATION`` would join tensors of different quantisation.
    """
    model = load_model(flatbuffer)
    report, changed = [], set()
    for graph in model.subgraphs:
        g = Graph(model, graph)
        for chain in lif_chains(model, graph):
            entry = {"steps": len(chain), "roles": {}, "kept": []}
            for role, members in _families(g, chain).items():
                quants = [g.quant(t) for t in members]
                if any(q is None for q in quants) or any(
                        t not in g.producer or g.names[g.producer[t]] not in REQUANTIZING
                        for t in members):
                    entry["kept"].append(role)
                    continue
                new = SPIKE_QUANT if role == "s" else _union_quant(quants)
                entry["roles"][role] = {"tensors": len(members),
                                        "before": sorted(set(quants)), "after": new}
                for t, q0 in zip(members, quants):
                    if q0 != new:
                        q = graph.tensors[t].quantization
                        q.scale = np.array([new[0]], np.float32)
                        q.zeroPoint = np.array([new[1]], np.int64)
                        changed.add((id(graph), t))
            report.append(entry)
        # views of changed tensors take their quantisation; biases follow their input
        for k, op in enumerate(graph.operators):
            data = g.split(k)[0]
            if not data:
                continue
            concat = g.names[k] == "CONCATENATION"
            src = data[-1] if concat else data[0]
            if g.names[k] in SAME_QUANT and (id(graph), src) in changed:
                if concat and any(g.quant(t) != g.quant(src) for t in data):
                    raise ModelError(
                        f"CONCATENATION {k} joins LIF tensors of different quantisation")
                t = g.out(k)
                if g.quant(t) != g.quant(src):
                    q, sq = graph.tensors[t].quantization, graph.tensors[src].quantization
                    q.scale = np.array(sq.scale, np.float32)
                    q.zeroPoint = np.array(sq.zeroPoint, np.int64)
                    changed.add((id(graph), t))
            elif (g.names[k] in BIASED and len(op.inputs) > 2 and op.inputs[2] >= 0
                  and (id(graph), data[0]) in changed):
                requantize_bias(model, graph, op)
    if not changed:
        return bytes(flatbuffer), report
    return pack_model(model, len(flatbuffer)), report
