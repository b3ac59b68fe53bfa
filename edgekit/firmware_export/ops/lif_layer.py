"""EK_LIF_LAYER: every step of an int8 LIF layer in one kernel call, table-driven.

Made by :func:`edgekit.firmware_export.passes.lif_layer.lif_layers` from the
``EK_LIF`` steps of one layer (each the int8 chain of :mod:`.lif`).  Per
channel, over the steps ``t = 0 .. T-1`` (``x`` the op's input code, ``pre``
the folded scalar-constant stages, e.g. the input clip)::

    v_0 = pre(x_0)                                   the first step: v = current
    v_t = ADD(next(v_{t-1}), pre(x_t))               the leak, t >= 1
    s_t = s_on if v_t >= v_on else s_off             the spike

where ``next`` is the reset and decay of the chain (:func:`.lif.next_codes`)
and ``ADD`` the int8 ADD of the leak (TFLite's arithmetic).  Each ADD input
is rescaled on its own before the sum (``mbqm((code + offset) << 20, m,
shift)``), so both rescalings are functions of one int8 code: the kernel
reads them, doubled, from two tables of 256 int32 (``mem_lut[v_{t-1}]``,
the rescaled next membrane, and ``cur_lut[x_t]``, the rescaled current with
the folded stages) and requantizes their sum with one rounding high product
(``SMMLAR``).  The first step runs the same arithmetic from the zero
membrane (rescaled: 0), which must give ``pre(x)`` back.  Spikes are the
codes -128 / 127, ``sat8(spike_k + 256 * v)``.  All of it is checked here on
every pair of codes (membrane, input) against the chain's arithmetic; a
layer that fails a check stays per step (:mod:`.lif`).  When the export
finds int16 tables whose plain sum, shifted, gives the same code for every
pair (:func:`int16_tables`), the kernel takes those (``ek_lif_layer16_s8``:
no requantization, half the table bytes).  A streaming call's step (the
membrane from the state) runs the same way (:func:`step_params`).
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.ops.lif import const_stage, lif_params, next_codes, pack_int8
from edgekit.firmware_export.quant import mbqm_array

#: ``lif_params`` fields that every step of a layer shares.
SHARED = ("size", "v_on", "s_on", "s_off")
#: ... that every step with a leak shares (the leak ADD).
LEAK = tuple(f"v_{k}" for k in ("in1_offset", "in2_offset", "left_shift", "in1_mult",
                                "in1_shift", "in2_mult", "in2_shift", "out_mult", "out_shift",
                                "out_offset", "act_min", "act_max"))
#: ... that every step with a reset shares (reset and decay).
NEXT = ("has_decay",) + tuple(f"r_{k}" for k in ("in_offset", "mult", "shift", "out_offset",
                                                 "act_min", "act_max", "on_term", "off_term")) \
    + tuple(f"dr_{k}" for k in ("in_offset", "mult", "shift", "out_offset", "act_min",
                                "act_max", "term"))
#: ``ek_lif_layer_params`` fields, in struct order.
FIELDS = ("channels", "steps", "mo", "ao", "ro", "spike_k", "cur_lut", "mem_lut")

def _rescale(p: dict, i: int, codes: np.ndarray) -> np.ndarray:
    """Input ``i`` (1 or 2) of the leak ADD rescaled (before the sum), per code."""
    x = (codes + p[f"v_in{i}_offset"]) << p["v_left_shift"]
    return mbqm_array(x, p[f"v_in{i}_mult"], p[f"v_in{i}_shift"])


def layer_params(graph, layer: dict) -> dict:
    """The kernel fields of a LIF layer (see the module notes).

    Parameters
    ----------
    graph : Graph
    layer : dict
        ``steps`` (the ``EK_LIF`` ops in step order, the first without a
        leak, the last without a reset), ``pre`` (folded ADD/MUL stages with
        one scalar constant, in order), ``input``, ``output`` (tensor indices).

    Returns
    -------
    dict
        ``wide`` 0: the fields of :data:`FIELDS16` (int16 tables, two to a
        word); 1: those of :data:`FIELDS` (int32 tables).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the steps do not share their arithmetic, or a table input is not int8.
    """
    steps = layer["steps"]
    ps = [lif_params(graph, s.options["chain"]) for s in steps]
    first, rest = ps[0], ps[1:]
    op = steps[0]
    require_int8(op, graph.tensors[layer["input"]], graph.tensors[layer["output"]])
    if first["has_prev"] or not all(p["has_prev"] for p in rest):
        raise fail(op, "a LIF layer's first step has no leak and the others have one")
    if any(p[k] != first[k] for p in rest for k in SHARED):
        raise fail(op, "the LIF steps differ in size or spike codes")
    if any(p[k] != rest[0][k] for p in rest for k in LEAK):
        raise fail(op, "the LIF steps' leaks differ")
    with_next = [p for p in ps if p["has_next"]]
    if len(with_next) != len(ps) - 1 or ps[-1]["has_next"]:
        raise fail(op, "every LIF step but the last needs a reset")
    if any(p[k] != first[k] for p in with_next for k in NEXT):
        raise fail(op, "the LIF steps' resets differ")
    pos = {s.options["chain"]["slice_input"] for s in steps[1:]}
    if len(pos) != 1:
        raise fail(op, "the LIF steps read the current on different sides of the leak")
    cur_i = pos.pop() + 1           # ADD input (1 or 2) of the current
    mem_i = 3 - cur_i
    leak = rest[0]
    cur = stage_codes(graph, layer["pre"])
    nxt = np.asarray(next_codes(first), np.int64)
    if (first["s_off"], first["s_on"]) != (-128, 127):
        raise fail(op, "the LIF layer kernel needs the spike codes -128 / 127")
    cur_lut = 2 * _rescale(leak, cur_i, cur)
    mem_lut = 2 * _rescale(leak, mem_i, nxt)
    zero = 2 * _rescale(leak, mem_i, np.asarray([graph.tensors[steps[0].outputs[0]].zp]))
    if int(zero[0]) != 0:
        raise fail(op, "the LIF layer's zero membrane does not rescale to 0")
    # every (membrane, input) pair: TFLite's requantization of the sum; and
    # the first step from the zero membrane: the current itself
    x2 = np.concatenate([np.add.outer(mem_lut, cur_lut).reshape(-1), cur_lut])
    form = sum_form(op, leak, x2, cur)
    out = dict(channels=first["size"], steps=len(steps), spike_k=127 - 256 * (first["v_on"] + 128))
    small = int16_tables(form_codes(x2[:-256], form).reshape(256, 256), cur + 128)
    if small is not None:       # ek_lif_layer16_s8; tables by the input's low byte
        return dict(out, wide=0, sh=SH16, cur_lut=pack_int16(np.roll(small[1], -128)),
                    mem_lut=pack_int16(small[0]))
    # cur_lut by the input's low byte: codes 0..127, then -128..-1
    return dict(out, wide=1, **form, cur_lut=[int(v) for v in np.roll(cur_lut, -128)],
                mem_lut=[int(v) for v in mem_lut])


def form_codes(x2: np.ndarray, form: dict) -> np.ndarray:
    """The kernel's code + 128 (0..255) of the doubled sums ``x2`` (:func:`sum_form`)."""
    h = (x2 * form["mo"] + (1 << 31)) >> 32
    return np.clip((form["ao"] + h + np.where(x2 < 0, -1, 0)) >> form["ro"], 0, 255)


def stage_codes(graph, ops) -> np.ndarray:
    """The int8 function of one code that ``ops`` (ADD/MUL with one scalar
    constant, RESHAPE) compute in order, on the 256 codes -128..127."""
    stages = [o for o in ops if o.opcode != "RESHAPE"]
    for o in stages:
        require_int8(o, *graph.op_inputs(o), *graph.op_outputs(o))
    fs = [const_stage(o, graph)[0] for o in stages]
    out = []
    for x in range(-128, 128):
        for f in fs:
            x = f(x)
        out.append(x)
    return np.asarray(out, np.int64)


def sum_form(op, leak: dict, x2: np.ndarray, first=None) -> dict:
    """``mo``, ``ao``, ``ro``: the kernel's requantization of the doubled sums
    ``x2`` (``u = usat8((x2 * mo rounded high + ao + (x2 < 0 ? -1 : 0)) >> ro)``,
    the code + 128), checked against the leak ADD's on every value of ``x2``;
    with ``first``, the last 256 sums must give those codes instead (a first
    step: the current itself).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the form differs anywhere or leaves int32.
    """
    lo, hi = leak["v_act_min"], leak["v_act_max"]
    mo, so, zo = leak["v_out_mult"], leak["v_out_shift"], leak["v_out_offset"]
    ro = -so
    if (lo, hi) != (-128, 127) or not 1 <= ro <= 30 or not 0 < mo < 1 << 31:
        raise fail(op, "the LIF leak's requantization is not of the kernel's form")
    ref = np.clip(mbqm_array(x2 // 2, mo, so) + zo, lo, hi)
    if first is not None:
        ref[-256:] = first
    h = (x2 * mo + (1 << 31)) >> 32
    # ek_rq_x2's rounding and zero point; the kernel's code is v + 128 (USAT, a table index)
    a = (1 << (ro - 1)) + (zo << ro) + (128 << ro)
    got = np.clip((a + h + np.where(x2 < 0, -1, 0)) >> ro, 0, 255) - 128
    if (abs(a) >= 1 << 31 or np.abs(x2).max() >= 1 << 31
            or np.abs(a + h).max() >= 1 << 31 or not np.array_equal(got, ref)):
        raise fail(op, "the LIF layer's table form differs from the chain on some codes")
    return dict(mo=mo, ao=a, ro=ro)


def step_params(graph, step, pre1: list, pre2: list) -> dict:
    """The ``ek_lif_step_params`` of one LIF step with a leak (a streaming
    model's step: the membrane from the state, the current from this call).

    Parameters
    ----------
    graph : Graph
    step : Operator
        An ``EK_LIF`` op with a leak (``v`` in its chain) and no sliced input.
    pre1, pre2 : list of Operator
        Scalar-constant stages (and RESHAPEs) folded in front of the leak's
        two inputs (e.g. the state's decay, the current's clip), in order.

    Returns
    -------
    dict
        ``size``, ``spike_k``, ``next_lut`` (the next membrane code by the
        membrane code + 128, four int8 to a word; ``[0]`` without a reset),
        ``wide`` and the tables ``in1_lut``, ``in2_lut`` by the input's low
        byte: ``wide`` 0, int16 tables and ``sh`` (:data:`STEP16_FIELDS`);
        1, the leak's rescaled inputs doubled and ``mo``, ``ao``, ``ro``
        (:data:`STEP_FIELDS`).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If a check fails (see :func:`sum_form`).
    """
    p = lif_params(graph, step.options["chain"])
    if not p["has_prev"] or "slice" in step.options["chain"]:
        raise fail(step, "a LIF step kernel needs a leak of two whole tensors")
    if (p["s_off"], p["s_on"]) != (-128, 127):
        raise fail(step, "the LIF step kernel needs the spike codes -128 / 127")
    t1 = 2 * _rescale(p, 1, stage_codes(graph, pre1))
    t2 = 2 * _rescale(p, 2, stage_codes(graph, pre2))
    x2 = np.add.outer(t1, t2).reshape(-1)
    form = sum_form(step, p, x2)
    nxt = pack_int8(next_codes(p)) if p["has_next"] else [0]
    out = dict(size=p["size"], spike_k=127 - 256 * (p["v_on"] + 128), next_lut=nxt)
    small = int16_tables(form_codes(x2, form).reshape(256, 256))
    if small is not None:       # ek_lif_step16_s8
        return dict(out, wide=0, sh=SH16, in1_lut=pack_int16(np.roll(small[0], -128)),
                    in2_lut=pack_int16(np.roll(small[1], -128)))
    return dict(out, wide=1, **form, in1_lut=[int(v) for v in np.roll(t1, -128)],
                in2_lut=[int(v) for v in np.roll(t2, -128)])


#: Sum units per membrane code in the int16 tables (:func:`int16_tables`).
SH16 = 7
BIG = 1 << 40


def sum_tables(target: np.ndarray, sh: int):
    """int64 tables ``a``, ``b`` with ``clip((a[i] + b[j]) >> sh, 0, 255) ==
    target[i, j]`` for every pair (any range), or None when none exist.

    The conditions are difference constraints on ``a`` and ``-b`` (each
    pair bounds ``a[i] + b[j]`` to the ``2**sh`` sums of its code, one-sided
    at the clamps); a shortest-path solution (Bellman-Ford, the rows and the
    columns relaxed in turn) exists exactly when they can all hold.  Only
    ``a + c``, ``b - c`` are determined (any constant ``c``).
    """
    t = np.asarray(target, np.int64)
    step = 1 << sh
    hi = np.where(t < 255, (t + 1) * step - 1, BIG)       # a + b <= hi
    lo = np.where(t > 0, t * step, -BIG)                   # a + b >= lo
    x = np.zeros(t.shape[0], np.int64)                     # a
    y = np.zeros(t.shape[1], np.int64)                     # -b
    for _ in range(4 * (t.shape[0] + t.shape[1])):
        xn = np.minimum(x, (y[None, :] + hi).min(axis=1))
        yn = np.minimum(y, (xn[:, None] - lo).min(axis=0))
        if np.array_equal(xn, x) and np.array_equal(yn, y):
            return x, -y
        x, y = xn, yn
    return None                                             # a negative cycle: none


def int16_tables(target: np.ndarray, first: np.ndarray | None = None, sh: int = SH16):
    """int16 tables ``a``, ``b`` with ``clip((a[i] + b[j]) >> sh, 0, 255) ==
    target[i, j]`` for every pair (and ``clip(b[j] >> sh, 0, 255) == first[j]``),
    or None.

    The conditions are difference constraints on ``a`` and ``-b`` (each pair
    bounds ``a[i] + b[j]`` to the ``2**sh`` sums of its code, one-sided at
    the clamps); a shortest-path solution (Bellman-Ford, the rows and the
    columns relaxed in turn) exists exactly when they can all hold.  The
    int32 tables of the leak's exact arithmetic are one solution at a much
    finer scale.

    Parameters
    ----------
    target : numpy.ndarray
        ``[rows, 256]`` membrane codes + 128 (0..255) the kernel must give.
    first : numpy.ndarray, optional
        256 codes + 128 for a zero row (``a`` = 0: a layer's first step).
    sh : int
        Right shift of the sum.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) or None
    """
    t = np.asarray(target, np.int64)
    if first is not None:
        t = np.vstack([t, np.asarray(first, np.int64)[None, :]])
    sol = sum_tables(t, sh)
    if sol is None:
        return None                                         # a negative cycle: none
    x, y = sol[0], -sol[1]
    shift = -x[-1] if first is not None else -(x.max() + x.min()) // 2
    a, b = x + shift, -(y + shift)
    if first is not None:
        a = a[:-1]
    if max(np.abs(a).max(), np.abs(b).max()) >= 1 << 15:
        return None
    got = np.clip((a[:, None] + b[None, :]) >> sh, 0, 255)
    if not np.array_equal(got, np.asarray(target)):
        return None
    if first is not None and not np.array_equal(np.clip(b >> sh, 0, 255), first):
        return None
    return a, b


def pack_int16(values) -> list[int]:
    """int16 ``values`` (an even count) packed two to a little-endian int32 word."""
    v = np.asarray(values, np.int64).astype(np.int16)
    return [int(w) for w in v.view("<i4")]


#: ``ek_lif_step_params`` fields, in struct order (``ek_lif_step16_params``: STEP16_FIELDS).
STEP_FIELDS = ("size", "mo", "ao", "ro", "spike_k", "in1_lut", "in2_lut", "next_lut")
STEP16_FIELDS = ("size", "sh", "spike_k", "in1_lut", "in2_lut", "next_lut")
#: ``ek_lif_layer16_params`` fields.
FIELDS16 = ("channels", "steps", "sh", "spike_k", "cur_lut", "mem_lut")


def lower_step(op, graph) -> Lowered:
    """Lower an ``EK_LIF_STEP`` op (inputs ``[x1, x2]``, the tensors the folded
    stages read; outputs ``[next, spikes]``, next -1 without a reset)."""
    p = step_params(graph, op.options["step"], op.options["pre1"], op.options["pre2"])
    nxt, spikes = op.outputs
    kernel, ptype, fields = (("ek_lif_step_s8", "ek_lif_step_params", STEP_FIELDS) if p["wide"]
                             else ("ek_lif_step16_s8", "ek_lif_step16_params", STEP16_FIELDS))
    return Lowered(kernel, ptype, {k: p[k] for k in fields},
                   [op.inputs[0], op.inputs[1], spikes, nxt if nxt >= 0 else None],
                   source="ek_lif_layer.c")


def lower(op, graph) -> Lowered:
    """Lower an ``EK_LIF_LAYER`` op (inputs ``[x]``, outputs ``[spikes]``)."""
    layer = dict(op.options, input=op.inputs[0], output=op.outputs[0])
    p = layer_params(graph, layer)
    kernel, ptype, fields = (("ek_lif_layer_s8", "ek_lif_layer_params", FIELDS) if p["wide"]
                             else ("ek_lif_layer16_s8", "ek_lif_layer16_params", FIELDS16))
    # element (t, c) of the input is read before the same element of the spikes is written
    return Lowered(kernel, ptype, {k: p[k] for k in fields},
                   [op.inputs[0], op.outputs[0]], source="ek_lif_layer.c",
                   inplace=(op.inputs[0],))


__all__ = ["form_codes", "int16_tables", "layer_params", "lower", "lower_step", "pack_int16",
           "stage_codes", "step_params", "sum_form", "sum_tables"]
