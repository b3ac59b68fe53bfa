"""EK_LIF: one step of an int8 LIF neuron layer, fused from its TFLite op chain.

The chain (:class:`edgekit.models.spiking.LIF`, found by
:mod:`edgekit.firmware_export.passes.fuse_lif`) is, per element::

    v   = ADD(dr_in, cur)               leak + input current (absent at the first step: v = cur)
    d   = ADD(v, -threshold)
    z1  = MUL(d, gain)   RELU6          three saturating stages
    z2  = MUL(z1, 255)   RELU6
    z3  = MUL(z2, 255)   RELU6
    s   = MUL(z3, 1/6)                  the spike: one of two codes
    ns  = MUL(s, -1);  oms = ADD(ns, 1) hard reset factor 1 - s
    r   = MUL(v, oms)                   reset membrane
    dr  = MUL(r, decay)                 the next step's decayed membrane

each op with TFLite's int8 requantization (the parameters are those of the
ADD and MUL lowerings, :mod:`.add` and :mod:`.mul`).  Everything from ``v``
to ``s`` is a function of the int8 code of ``v`` alone; the stages are
monotone, so ``s`` is ``s_on`` for ``v >= v_on`` and ``s_off`` below: this
module evaluates the stages on all 256 codes at export time (with the
integer arithmetic of the kernels, :func:`add_one` / :func:`mul_one`) and
finds ``v_on``.  The reset factor ``oms`` is likewise one of two codes.  The
kernel then computes per element one ADD (``v``), a compare, and the two
MULs ``r`` and ``dr`` with the constant operand folded into a term: the same
int8 values as the chain, without its intermediate tensors.
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops import add as add_op
from edgekit.firmware_export.ops import mul as mul_op
from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import mbqm, mbqm_array, rq_x2_array, wrap32

#: The spike stages, in chain order (each an ADD or MUL with one scalar constant).
SPIKE_ROLES = ("d", "z1", "z2", "z3", "s")
#: ``ek_lif_params`` (the fast kernel ``ek_lif_s8``): these fields of :func:`lif_params`,
#: then these of :func:`lif_fast_params`; ``ek_lif_exact_s8`` takes :func:`lif_params`'.
FAST_COMMON = ("size", "has_prev", "has_next", "v_on", "s_on", "s_off", "v_act_min",
               "v_act_max")
FAST_FIELDS = tuple(f"f_{k}{i}" for i in (1, 2) for k in ("pre", "off", "m", "add", "rsh")) + (
    "f_mo", "f_ao", "f_ro", "f_half", "next_lut")


def add_one(p: dict, a: int, b: int) -> int:
    """One int8 ADD element (``ek_add_one``) with the parameters of :func:`.add.add_params`.

    Parameters
    ----------
    p : dict
        ``Lowered.params`` of the ADD.
    a, b : int
        The int8 codes of the first and second input.

    Returns
    -------
    int
        The output code.
    """
    s1 = mbqm(wrap32((a + p["in1_offset"]) << p["left_shift"]), p["in1_mult"], p["in1_shift"])
    s2 = mbqm(wrap32((b + p["in2_offset"]) << p["left_shift"]), p["in2_mult"], p["in2_shift"])
    r = mbqm(s1 + s2, p["out_mult"], p["out_shift"]) + p["out_offset"]
    return min(max(r, p["act_min"]), p["act_max"])


def mul_one(p: dict, a: int, b: int) -> int:
    """One int8 MUL element (``ek_mul_one``) with the parameters of :func:`.mul.lower`.

    Parameters
    ----------
    p : dict
        ``Lowered.params`` of the MUL.
    a, b : int
        The int8 codes of the first and second input.

    Returns
    -------
    int
        The output code.
    """
    r = mbqm((a + p["in1_offset"]) * (b + p["in2_offset"]), p["out_mult"], p["out_shift"])
    r += p["out_offset"]
    return min(max(r, p["act_min"]), p["act_max"])


def const_stage(op, graph):
    """``f(code)`` of an ADD/MUL with one scalar int8 constant, and the constant's side."""
    p = add_op.add_params(op, graph) if op.opcode == "ADD" else mul_op.lower(op, graph).params
    a, b = graph.op_inputs(op)[:2]
    if a.is_const == b.is_const:
        raise fail(op, "a LIF stage needs exactly one constant input")
    c = a if a.is_const else b
    if c.num_elements != 1:
        raise fail(op, f"constant {c.index} of a LIF stage has {c.num_elements} elements, not 1")
    code = int(c.data.reshape(-1)[0])
    one = add_one if op.opcode == "ADD" else mul_one
    if a.is_const:
        return (lambda x: one(p, code, x)), p, 0, code
    return (lambda x: one(p, x, code)), p, 1, code


def _mul_const_term(op, graph, data_tensor: int, other_code: int) -> dict:
    """Kernel fields of a MUL ``data * other``: offset of the data input, the
    other operand's ``code + offset`` and the requantization."""
    p = mul_op.lower(op, graph).params
    first = op.inputs[0] == data_tensor
    return dict(in_offset=p["in1_offset"] if first else p["in2_offset"],
                term=other_code + (p["in2_offset"] if first else p["in1_offset"]),
                mult=p["out_mult"], shift=p["out_shift"], out_offset=p["out_offset"],
                act_min=p["act_min"], act_max=p["act_max"])


def lif_params(graph, chain: dict) -> dict:
    """The ``ek_lif_params`` of one LIF step.

    Parameters
    ----------
    graph : Graph
    chain : dict
        Role -> :class:`~edgekit.firmware_export.graph.Operator` of the step's
        TFLite ops (``v`` and ``ns``/``oms``/``r``/``dr`` may be absent; see
        :func:`edgekit.firmware_export.passes.fuse_lif.lif_steps`), plus
        ``"v_tensor"``: the membrane tensor index.

    Returns
    -------
    dict
        Field -> int.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If a stage is not int8 with scalar constants, or the spike is not a
        two-valued step function of the membrane code.
    """
    v_t = chain["v_tensor"]
    s_op = chain["s"]
    require_int8(s_op, graph.tensors[v_t], *(graph.op_outputs(chain[r])[0] for r in SPIKE_ROLES))
    stages = [const_stage(chain[r], graph)[0] for r in SPIKE_ROLES]
    spikes = []
    for code in range(-128, 128):
        x = code
        for f in stages:
            x = f(x)
        spikes.append(x)
    s_off, s_on = spikes[0], spikes[-1]
    v_on = next((c for c, s in zip(range(-128, 128), spikes) if s != s_off), 128)
    if any(s != (s_on if c >= v_on else s_off) for c, s in zip(range(-128, 128), spikes)):
        raise fail(s_op, "the LIF spike is not a step function of the membrane code")
    p = dict(size=graph.tensors[v_t].num_elements, has_prev=0, v_on=v_on, s_on=s_on,
             s_off=s_off)
    v_op = chain.get("v")
    add_fields = ("in1_offset", "in2_offset", "left_shift", "in1_mult", "in1_shift", "in2_mult",
                  "in2_shift", "out_mult", "out_shift", "out_offset", "act_min", "act_max")
    ap = add_op.add_params(v_op, graph) if v_op is not None else {}
    p.update({f"v_{k}": int(ap.get(k, 0)) for k in add_fields})
    p["has_prev"] = int(v_op is not None)
    p["has_next"] = int("r" in chain)
    p["has_decay"] = int("dr" in chain)
    zero = dict(in_offset=0, mult=0, shift=0, out_offset=0, act_min=-128, act_max=127)
    r_fields = dict(zero, on_term=0, off_term=0)
    dr_fields = dict(zero, term=0)
    if "r" in chain:
        ns_f = const_stage(chain["ns"], graph)[0]
        oms_f = const_stage(chain["oms"], graph)[0]
        oms = {s: oms_f(ns_f(s)) for s in (s_on, s_off)}
        r_op = chain["r"]
        on = _mul_const_term(r_op, graph, v_t, oms[s_on])
        off = _mul_const_term(r_op, graph, v_t, oms[s_off])
        r_fields = dict({k: on[k] for k in zero}, on_term=on["term"], off_term=off["term"])
        require_int8(r_op, graph.op_outputs(r_op)[0])
    if "dr" in chain:
        dr_op = chain["dr"]
        r_t = chain["r"].outputs[0]
        code = const_stage(dr_op, graph)[3]
        dr_fields = _mul_const_term(dr_op, graph, r_t, code)
        require_int8(dr_op, graph.op_outputs(dr_op)[0])
    p.update({f"r_{k}": int(v) for k, v in r_fields.items()})
    p.update({f"dr_{k}": int(v) for k, v in dr_fields.items()})
    return p


def _fast_input(offset: int, mult: int, shift: int) -> tuple[int, int, int, int, int] | None:
    """``(pre, off, m, add, rsh)``: ``ek_rq_x2((x << pre) + off, m, add, rsh)`` as the
    int8 ADD rescales an input (left shift 20), or None (not that form)."""
    if mult == 1 << 30 and shift == 0:     # multiplier 0.5: (x + o) << 19, exactly
        return 22, offset << 22, mult, 1, 1
    if 0 < mult < 1 << 31 and -30 <= shift <= -1:
        return 21, offset << 21, mult, 1 << (-shift - 1), -shift
    return None


def lif_fast_params(p: dict) -> dict:
    """The fast path's fields of ``ek_lif_params``, from :func:`lif_params`' fields.

    The leak ``v = ADD(in1, in2)`` as one rounding high product per input and
    one for the sum (``ek_rq_x2``, the identities of ``kernels/ek_add_const.c``;
    an input whose multiplier is exactly 0.5 as the exact ``(x << 19) + f_hoff``,
    ``f_half`` naming it, the other input's fields then in the ``*1`` slots and
    ``f_hoff << f_rsh1`` in ``f_add1``),
    checked here on all 65,536 pairs of input codes against the ADD's
    arithmetic (:func:`add_one`); the next membrane (reset, decay) as a table
    of the 256 codes of ``v`` (the slow path's integer arithmetic), packed
    four int8 to a word.

    Parameters
    ----------
    p : dict
        The fields of :func:`lif_params`.

    Returns
    -------
    dict
        ``fast`` (1 when the check passed, else 0: :func:`lower` then calls
        ``ek_lif_exact_s8``), ``f_*`` (the leak's rescalings) and ``next_lut``.
    """
    zero = dict(fast=0, **{f"f_{k}{i}": 0 for i in (1, 2) for k in ("pre", "off", "m", "add",
                                                                    "rsh")},
                f_mo=0, f_ao=0, f_ro=0, f_half=0, f_hoff=0, next_lut=[0])
    out = dict(zero, fast=1)
    if p["has_prev"]:
        a = np.repeat(np.arange(-128, 128, dtype=np.int64), 256)
        b = np.tile(np.arange(-128, 128, dtype=np.int64), 256)
        ls = p["v_left_shift"]
        s1 = mbqm_array((a + p["v_in1_offset"]) << ls, p["v_in1_mult"], p["v_in1_shift"])
        s2 = mbqm_array((b + p["v_in2_offset"]) << ls, p["v_in2_mult"], p["v_in2_shift"])
        ref = mbqm_array(s1 + s2, p["v_out_mult"], p["v_out_shift"]) + p["v_out_offset"]
        ins = [_fast_input(p[f"v_in{i}_offset"], p[f"v_in{i}_mult"], p[f"v_in{i}_shift"])
               for i in (1, 2)]
        ro = -p["v_out_shift"]
        if ls != 20 or None in ins or not 1 <= ro <= 30 or not 0 < p["v_out_mult"] < 1 << 31:
            return zero
        # an input rescaled exactly, (x << 19) + (offset << 19), beside a general one
        # (x << 21), with no activation clamp: the kernel's shortest loop, the
        # offset added before the other input's rounding shift (exact: an integer)
        halves = [k for k in (2, 1) if ins[k - 1][0] == 22 and ins[2 - k][0] == 21
                  and (p["v_act_min"], p["v_act_max"]) == (-128, 127)]
        xs = [(1, a), (2, b)]
        if halves:
            h = halves[0]
            hx, gx = (b, a) if h == 2 else (a, b)
            hoff = p[f"v_in{h}_offset"] << 19
            pre, off, m, add, rsh = ins[2 - h]
            ins = [(pre, off, m, add + (hoff << rsh), rsh)]
            xs = [(1, gx)]
            out.update(f_half=h, f_hoff=hoff)
        ss = []
        for (i, x), (pre, off, m, add, rsh) in zip(xs, ins):
            out.update({f"f_pre{i}": pre, f"f_off{i}": off, f"f_m{i}": m, f"f_add{i}": add,
                        f"f_rsh{i}": rsh})
            ss.append(rq_x2_array((x << pre) + off, m, add, rsh))
        if halves:
            ss.append(hx << 19)
        ao = (1 << (ro - 1)) + (p["v_out_offset"] << ro)
        out.update(f_mo=p["v_out_mult"], f_ao=ao, f_ro=ro)
        v = (None if any(x is None for x in ss)
             else rq_x2_array(2 * (ss[0] + ss[1]), p["v_out_mult"], ao, ro))
        lo, hi = p["v_act_min"], p["v_act_max"]
        if (v is None or abs(ao) >= 1 << 31
                or not np.array_equal(np.clip(v, lo, hi), np.clip(ref, lo, hi))):
            return zero
    if p["has_next"]:
        out["next_lut"] = pack_int8(next_codes(p))
    return out


def next_codes(p: dict) -> list[int]:
    """The next membrane code (reset, then decay) of each membrane code ``v``
    -128..127, with the MUL arithmetic of the chain (``ek_mul_one``).

    Parameters
    ----------
    p : dict
        The fields of :func:`lif_params` (``has_next`` must be 1).

    Returns
    -------
    list of int
        256 int8 codes, by ``v + 128``.
    """
    nxt = []
    for v in range(-128, 128):
        term = p["r_on_term"] if v >= p["v_on"] else p["r_off_term"]
        r = mbqm((v + p["r_in_offset"]) * term, p["r_mult"], p["r_shift"]) + p["r_out_offset"]
        r = min(max(r, p["r_act_min"]), p["r_act_max"])
        if p["has_decay"]:
            r = mbqm((r + p["dr_in_offset"]) * p["dr_term"], p["dr_mult"], p["dr_shift"])
            r = min(max(r + p["dr_out_offset"], p["dr_act_min"]), p["dr_act_max"])
        nxt.append(r)
    return nxt


def pack_int8(codes) -> list[int]:
    """int8 ``codes`` (a multiple of four) packed four to a little-endian int32 word."""
    b8 = np.asarray(codes, np.int64).astype(np.int8).view(np.uint8)
    return [int(w) for w in b8.view("<i4")]


def lower(op, graph) -> Lowered:
    """Lower an ``EK_LIF`` op (made by :func:`edgekit.firmware_export.passes.fuse_lif.fuse_lif`).

    Its inputs are ``[in1, in2]`` (the two inputs of the leak ADD, or
    ``[cur, -1]`` at a first step; a current read from a sliced tensor
    is that tensor, its argument a ``(tensor, byte offset)`` pair); its outputs ``[next, spikes]`` (next:
    the decayed or reset membrane, -1 when the step has no reset) or
    ``[spikes]``.
    """
    chain = op.options["chain"]
    params = lif_params(graph, chain)
    fast = lif_fast_params(params)
    if fast["fast"]:           # ek_lif_s8: the fields the fast form reads, nothing else
        kernel, params_type = "ek_lif_s8", "ek_lif_params"
        params = dict({k: params[k] for k in FAST_COMMON},
                      **{k: fast[k] for k in FAST_FIELDS})
    else:
        kernel, params_type = "ek_lif_exact_s8", "ek_lif_exact_params"
    in1, in2 = op.inputs
    nxt, spikes = (op.outputs[0], op.outputs[1]) if len(op.outputs) == 2 else (None, op.outputs[0])
    # Each element of the inputs is read before the same element of the
    # outputs is written: the next membrane may overwrite an input.
    inplace = tuple(t for t in (in1, in2)
                    if t >= 0 and nxt is not None
                    and graph.tensors[t].num_elements == params["size"])
    args = [in1, in2 if in2 >= 0 else None, spikes, nxt]
    if "slice" in chain:       # the current, read in place from the sliced tensor
        pos = chain["slice_input"]
        args[pos] = (args[pos], chain["slice_offset"] * graph.tensors[args[pos]].itemsize)
    return Lowered(kernel, params_type, params, args,
                   source="ek_lif.c", inplace=inplace if nxt is not None else ())
