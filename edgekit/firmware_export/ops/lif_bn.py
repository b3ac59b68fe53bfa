"""EK_LIF_BN: a LIF layer with the ADD and the per-channel stages in front of it, in one call.

Made by :func:`edgekit.firmware_export.passes.lif_bn.lif_bn` from an
``EK_LIF_LAYER`` (:mod:`.lif_layer`) whose current is made from two
activation tensors ``a``, ``b`` by an int8 ADD (the *head*), then by up to
:data:`MAX_STAGES` int8 ADD/MUL ops with one constant per channel (a batch
normalization the converter did not fold: in the spiking LMUFormer,
``lmu_bn`` after ``W_m m + W_x x``).  Per channel ``c`` and step ``t``,
with ``u`` an int8 code + 128 (0..255)::

    u = usat8((a_lut[a] + b_lut[b] + head_add) >> head_sh)      the head ADD
    u = usat8((mlahr(v, m_k, add_k) + (v >> 31)) >> rsh_k),    stage k = 1..K,
        v = u * P_k[c] + Q_k[c]    (an ADD stage: P is 2**20, only Q stored)
    then the LIF layer of ``ek_lif_layer16_s8`` on the code u - 128

The head's int16 tables are a solution of the difference constraints of its
65,536 input pairs (:func:`head_tables`, as the LIF layer's);
a stage is TFLite's requantization written as one rounding high product of
an affine function of ``u`` (``ek_rq_x2``: ``v`` is twice the MUL's
product, or twice the ADD's sum when the activation's multiplier is exactly
0.5), with the channel's constant in ``P``, ``Q``.  Everything is checked
here against TFLite's int8 arithmetic on every code and channel (and the
head on every pair of codes); a layer that fails a check keeps its ops.  The
last stage may clamp above -128 (a RELU folded into it): it then writes
``code - act_min`` and the current table is shifted to match (its entries
past ``act_max`` repeat the clamp).
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops import add as add_op
from edgekit.firmware_export.ops import mul as mul_op
from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.ops.lif_layer import SH16, layer_params, pack_int16, sum_tables
from edgekit.firmware_export.quant import mbqm, mbqm_array

__all__ = ["MAX_STAGES", "OPCODE", "add_codes", "head_tables", "identity_head", "lif_bn_params",
           "lower", "stage_codes", "stage_form", "sum_tables16"]

#: Opcode of the fused op (no TFLite op has it).
OPCODE = "EK_LIF_BN"
#: Per-channel stages the kernels run (``ek_lif_bn<K>_s8``, K = 0..MAX_STAGES).
MAX_STAGES = 3
#: ``ek_lif_bn_params`` fields, in struct order.
FIELDS = ("channels", "steps", "spike_k", "head_sh", "head_add", "a_lut", "b_lut", "cur_lut",
          "mem_lut", "pq", "rq")
CODES = np.arange(-128, 128, dtype=np.int64)


def add_codes(p: dict, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """TFLite's int8 ADD of codes ``x1`` and ``x2`` (broadcast against each
    other), with the parameters of :func:`.add.add_params`."""
    s1 = mbqm_array((np.asarray(x1, np.int64) + p["in1_offset"]) << p["left_shift"],
                    p["in1_mult"], p["in1_shift"])
    s2 = mbqm_array((np.asarray(x2, np.int64) + p["in2_offset"]) << p["left_shift"],
                    p["in2_mult"], p["in2_shift"])
    out = mbqm_array(s1 + s2, p["out_mult"], p["out_shift"]) + p["out_offset"]
    return np.clip(out, p["act_min"], p["act_max"])


#: Shifts tried for summed int16 tables, in order (:func:`sum_tables16`).
SUM_SHIFTS = (SH16, 8, 9, 10)


def sum_tables16(target: np.ndarray):
    """``(sh, add, a, b)``: int16 tables with ``clip((a[i] + b[j] + add) >>
    sh, 0, 255) == target[i, j]`` for every pair, or None.

    A solution of the pairs' difference constraints
    (:func:`.lif_layer.sum_tables`) is centred on int16 table by table, the
    constant going to ``add`` (into the tables when they stay int16 with
    it: ``add`` 0); the shifts of :data:`SUM_SHIFTS` are tried in turn (a
    finer one when no sums of 128 units per code give the codes, a coarser
    one keeps the tables in int16).

    Parameters
    ----------
    target : numpy.ndarray
        ``[rows, 256]`` codes + 128 (0..255).
    """
    target = np.asarray(target, np.int64)
    for sh in SUM_SHIFTS:
        sol = sum_tables(target, sh)
        if sol is None:
            continue
        ka, kb = ((int(v.max()) + int(v.min())) // 2 for v in sol)
        ta, tb = sol[0] - ka, sol[1] - kb
        if max(np.abs(ta).max(), np.abs(tb).max()) >= 1 << 15 or abs(ka + kb) >= 1 << 30:
            continue
        add = ka + kb
        lo = max(-(1 << 15) - int(ta.min()), int(tb.max()) + add - (1 << 15) + 1)
        if lo <= min((1 << 15) - 1 - int(ta.max()), int(tb.min()) + add + (1 << 15)):
            ta, tb, add = ta + lo, tb + add - lo, 0
        got = np.clip((ta[:, None] + tb[None, :] + add) >> sh, 0, 255)
        if np.array_equal(got, target):
            return sh, add, ta, tb
    return None


def head_tables(op, graph) -> tuple[int, int, list[int], list[int]]:
    """``head_sh``, ``head_add``, ``a_lut``, ``b_lut`` of the head ADD:
    ``usat8((a_lut[a] + b_lut[b] + head_add) >> head_sh)`` is its code + 128
    for all 65,536 pairs of codes (:func:`sum_tables16`); the tables are
    int16, by the input code's low byte, two to a word.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the ADD is not int8 or no such tables give its codes.
    """
    a, b = graph.op_inputs(op)[:2]
    require_int8(op, a, b, *graph.op_outputs(op))
    p = add_op.add_params(op, graph)
    found = sum_tables16(add_codes(p, CODES[:, None], CODES[None, :]) + 128)
    if found is None:
        raise fail(op, "no int16 tables give this ADD's codes")
    sh, add, ta, tb = found
    return sh, add, pack_int16(np.roll(ta, -128)), pack_int16(np.roll(tb, -128))


def identity_head() -> tuple[int, int, list[int], list[int]]:
    """Head tables passing input ``a`` through (``b`` ignored), for a layer whose
    head ADD has no int16 tables and stays its own op: ``a_lut[a] = (a + 128) << 7``,
    ``b_lut = 0``, so ``usat8((a_lut[a] + b_lut[b]) >> 7) = a + 128`` exactly."""
    ta = np.arange(256, dtype=np.int64) << SH16
    return SH16, 0, pack_int16(np.roll(ta, -128)), pack_int16(np.zeros(256, np.int64))


def _data_const(op, graph):
    """(data tensor, constant tensor, data is the first input)."""
    a, b = graph.op_inputs(op)[:2]
    if a is None or b is None or a.is_const == b.is_const:
        raise fail(op, "a per-channel stage needs one activation and one constant")
    return (b, a, False) if a.is_const else (a, b, True)


def stage_codes(op, graph, channels: int) -> np.ndarray:
    """TFLite's int8 result of an ADD/MUL stage, ``[256 codes, channels]``
    (the constant repeated along the last dim, or one scalar)."""
    x, c, first = _data_const(op, graph)
    y = graph.op_outputs(op)[0]
    require_int8(op, x, c, y)
    if add_op.const_period(x, c, y) not in (1, channels) or c.num_elements not in (1, channels):
        raise fail(op, "the stage's constant is not one value per channel")
    cv = np.broadcast_to(c.data.reshape(-1).astype(np.int64), (channels,))
    if op.opcode == "MUL":
        p = mul_op.lower(op, graph).params
        xo, co = (p["in1_offset"], p["in2_offset"])[::1 if first else -1]
        prod = (CODES[:, None] + xo) * (cv[None, :] + co)
        out = mbqm_array(prod, p["out_mult"], p["out_shift"]) + p["out_offset"]
        return np.clip(out, p["act_min"], p["act_max"])
    p = add_op.add_params(op, graph)
    return add_codes(p, CODES[:, None], cv[None, :]) if first else \
        add_codes(p, cv[None, :], CODES[:, None])


def stage_form(op, graph, channels: int, last: bool) -> dict:
    """The kernel's form of one stage: ``P``, ``Q`` per channel, ``m``,
    ``add``, ``rsh``, and ``lo``, ``hi`` (its output clamp), checked on
    every code and channel against :func:`stage_codes`.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the stage is not of the form, a value leaves int32, or a result
        differs; or (not ``last``) the stage clamps inside int8.
    """
    ref = stage_codes(op, graph, channels)
    x, c, first = _data_const(op, graph)
    cv = np.broadcast_to(c.data.reshape(-1).astype(np.int64), (channels,))
    if op.opcode == "MUL":
        p = mul_op.lower(op, graph).params
        xo, co = (p["in1_offset"], p["in2_offset"])[::1 if first else -1]
        m, e = p["out_mult"], -p["out_shift"]
        t = 2 * (cv + co)                                   # twice the product, per code
        pq = np.stack([t, (xo - 128) * t], axis=1)
    else:
        p = add_op.add_params(op, graph)
        xi, ci = ("in1", "in2") if first else ("in2", "in1")
        if (p[f"{xi}_mult"], p[f"{xi}_shift"], p["left_shift"]) != (1 << 30, 0, 20):
            raise fail(op, "the stage's activation is not the ADD's larger-scale input")
        k = np.asarray([mbqm((int(v) + p[f"{ci}_offset"]) << 20, p[f"{ci}_mult"],
                             p[f"{ci}_shift"]) for v in cv], np.int64)
        m, e = p["out_mult"], -p["out_shift"]
        # twice the sum: (x + xo) << 20 + 2 k
        pq = np.stack([np.full(channels, 1 << 20), ((p[f"{xi}_offset"] - 128) << 20) + 2 * k],
                      axis=1)
    lo, hi = p["act_min"], p["act_max"]
    if not 0 < m < 1 << 31 or not 1 <= e <= 30:
        raise fail(op, "the stage's requantization is not of the kernel's form")
    if not last and (lo, hi) != (-128, 127):
        raise fail(op, "a stage before the last one clamps inside int8")
    add = (1 << (e - 1)) + ((p["out_offset"] - lo) << e)
    u = np.arange(256, dtype=np.int64)[:, None]
    v = u * pq[None, :, 0] + pq[None, :, 1]
    t = add + ((v * m + (1 << 31)) >> 32)
    got = np.clip((t + np.where(v < 0, -1, 0)) >> e, 0, 255)
    if (np.abs(pq).max() >= 1 << 31 or np.abs(v).max() >= 1 << 31 or abs(add) >= 1 << 31
            or np.abs(t).max() >= (1 << 31) - 1):
        raise fail(op, "the stage's kernel form leaves int32")
    if not np.array_equal(np.minimum(got, hi - lo), ref - lo):
        raise fail(op, "the stage's kernel form differs from TFLite's on some code")
    return dict(pq=pq, m=int(m), add=int(add), rsh=int(e), lo=int(lo), hi=int(hi))


def lif_bn_params(graph, op) -> dict:
    """The ``ek_lif_bn_params`` fields of an ``EK_LIF_BN`` op and ``stages`` (K).

    Parameters
    ----------
    graph : Graph
    op : Operator
        Inputs ``[a, b]`` (the head ADD's), outputs ``[spikes]``, options
        ``head`` (the ADD; None: inputs ``[y, y]``, the first stage's
        activation, passed through by :func:`identity_head`), ``stages``
        (the per-channel ops, input first) and the ``EK_LIF_LAYER`` options (``steps``, ``tree``, ``pre``,
        ``codes``) with ``layer_input`` (the layer's current tensor).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If a check fails (head, stage or layer).
    """
    o = op.options
    layer = dict(steps=o["steps"], tree=o["tree"], pre=o["pre"], input=o["layer_input"],
                 output=op.outputs[0])
    lp = layer_params(graph, layer)
    if lp["wide"]:
        raise fail(op, "the LIF layer has no int16 tables")
    if lp["sh"] != SH16:
        raise fail(op, "the LIF layer's tables are not of the kernel's shift")
    channels, stages = lp["channels"], o["stages"]
    if len(stages) > MAX_STAGES:
        raise fail(op, f"more than {MAX_STAGES} per-channel stages")
    head_sh, head_add, a_lut, b_lut = (head_tables(o["head"], graph) if o["head"] is not None
                                       else identity_head())
    forms = [stage_form(s, graph, channels, k == len(stages) - 1) for k, s in enumerate(stages)]
    # the current table by the last stage's output (u, or code - act_min)
    cur_u = np.roll(np.asarray(lp["cur_lut"], np.int64).astype("<i4").view("<i2"), 128)
    lo, hi = (forms[-1]["lo"], forms[-1]["hi"]) if forms else (-128, 127)
    idx = np.minimum(np.arange(256) + lo + 128, hi + 128)
    # a stage whose P is 2**20 on every channel (an ADD) stores Q only: bit k of
    # `shifted`; the kernel makes u * P as u << 20
    shifted = sum(1 << k for k, f in enumerate(forms) if (f["pq"][:, 0] == 1 << 20).all())
    pq = [int(v) for k, f in enumerate(forms)
          for v in (f["pq"][:, 1] if shifted >> k & 1 else f["pq"].reshape(-1))] or [0]
    rq = [v for f in forms for v in (f["m"], f["add"], f["rsh"])] or [0]
    return dict(channels=channels, steps=lp["steps"], spike_k=lp["spike_k"], head_sh=head_sh,
                head_add=head_add, a_lut=a_lut,
                b_lut=b_lut, cur_lut=pack_int16(cur_u[idx]), mem_lut=lp["mem_lut"], pq=pq,
                rq=rq, stages=len(stages), shifted=shifted)


def lower(op, graph) -> Lowered:
    """Lower an ``EK_LIF_BN`` op (inputs ``[a, b]``, outputs ``[spikes]``)."""
    p = lif_bn_params(graph, op)
    a, b = op.inputs
    # element (t, c) of a and b is read before the same element of the spikes is written
    # the head's shift 7 without a constant, or the general head (suffix h);
    # then the stages stored as Q only (a bit mask)
    plain = (p["head_sh"], p["head_add"]) == (SH16, 0)
    kernel = f"ek_lif_bn{p['stages']}{'' if plain else 'h'}_{p['shifted']}_s8"
    return Lowered(kernel, "ek_lif_bn_params", {k: p[k] for k in FIELDS},
                   [a, b, op.outputs[0]], source="ek_lif_bn.c", inplace=(a, b))
