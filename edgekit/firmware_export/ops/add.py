"""ADD, int8, with broadcasting (TFLite's integer add: both inputs are
brought to a common scale 2 * max(s1, s2) with 20 bits of headroom)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import activation_range, f32, mbqm, quantize_multiplier

LEFT_SHIFT = 20
MAX_DIMS = 6


def broadcast_params(op, a, b, y) -> dict:
    """Output shape and element strides of both inputs over 6 padded dims."""
    shape = [int(d) for d in y.shape]
    if len(shape) > MAX_DIMS:
        raise fail(op, f"rank {len(shape)} is above {MAX_DIMS}")
    out = [1] * (MAX_DIMS - len(shape)) + shape

    def strides(t):
        s = [int(d) for d in t.shape]
        if len(s) > MAX_DIMS:
            raise fail(op, f"rank {len(s)} is above {MAX_DIMS}")
        s = [1] * (MAX_DIMS - len(s)) + s
        st, acc = [0] * MAX_DIMS, 1
        for d in range(MAX_DIMS - 1, -1, -1):
            if s[d] == out[d]:
                st[d] = acc if s[d] > 1 else 0
            elif s[d] == 1:
                st[d] = 0
            else:
                raise fail(op, f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast "
                               f"to {list(y.shape)}")
            acc *= s[d]
        return st

    s1, s2 = strides(a), strides(b)
    # Inputs that broadcast to the output with as many elements as it (shapes
    # equal up to leading 1s) are read in order: the flat loop.
    same = a.num_elements == b.num_elements == y.num_elements
    return dict(size=y.num_elements, broadcast=int(not same), out_shape=tuple(out),
                in1_strides=tuple(s1), in2_strides=tuple(s2))


def const_period(x, c, y) -> int | None:
    """The period of constant ``c`` along activation ``x`` in ``x (+) c -> y``.

    Returns the number of elements of ``c`` when ``x`` has as many elements as
    ``y`` and ``c`` (leading 1s dropped) equals the last dims of ``y``: output
    element ``i`` then reads ``x[i]`` and ``c[i % period]``.  None otherwise.
    """
    if x.is_const or not c.is_const or x.num_elements != y.num_elements:
        return None
    tail = [int(d) for d in c.shape]
    while tail and tail[0] == 1:
        tail.pop(0)
    out = [int(d) for d in y.shape]
    if len(tail) > len(out) or (tail and out[len(out) - len(tail):] != tail):
        return None
    return max(c.num_elements, 1)


def const_operand(op, graph, params: dict, subtract: bool = False) -> Lowered | None:
    """ADD (either input) or SUB (second input) of a constant, as
    ``ek_add_const_s8`` (``ek_add_const_half_s8`` when the activation's
    multiplier is exactly 0.5): the constant's rescaled value is computed here,
    once per position of its period (``terms``), not per element.

    Parameters
    ----------
    op : Operator
    graph : Graph
    params : dict
        The op's ``ek_add_params`` fields (offsets, multipliers, shifts,
        activation range), as :func:`lower` or ``ops.sub.lower`` compute them.
    subtract : bool
        SUB: ``in1 - in2``.

    Returns
    -------
    Lowered or None
        None (the general kernel) when no input is a constant with a period
        along the other (:func:`const_period`), for SUB of a constant first,
        or for shifts outside the kernel's exact range (output right shift
        1..23, the activation's 1..30 unless its multiplier is 0.5).
    """
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    ro = -params["out_shift"]
    if params["left_shift"] != LEFT_SHIFT or not 1 <= ro <= 23 or params["out_mult"] <= 0:
        return None
    for k, (x, c) in enumerate(((a, b), (b, a))):
        period = const_period(x, c, y)
        if period is None or (subtract and k == 1):
            continue
        xi, ci = ("in1", "in2") if k == 0 else ("in2", "in1")
        im, ri, io = params[f"{xi}_mult"], -params[f"{xi}_shift"], params[f"{xi}_offset"]
        half = im == 1 << 30 and ri == 0
        if not half and (not 1 <= ri <= 30 or im <= 0):
            continue
        terms = []
        for v in [int(v) for v in c.data.reshape(-1)] or [0]:
            t = mbqm((v + params[f"{ci}_offset"]) << LEFT_SHIFT, params[f"{ci}_mult"],
                     params[f"{ci}_shift"])
            terms.append(2 * ((-t if subtract else t) + (io << (LEFT_SHIFT - 1) if half else 0)))
        p = dict(rows=y.num_elements // period, cols=period,
                 in_offset21=0 if half else io << (LEFT_SHIFT + 1), in_mult=im,
                 in_add=0 if half else 1 << (ri - 1), in_rsh=ri,
                 out_mult=params["out_mult"],
                 out_add=(1 << (ro - 1)) + (params["out_offset"] << ro), out_rsh=ro,
                 act_min=params["act_min"], act_max=params["act_max"], terms=terms)
        # Element i is read right before output element i is written.
        return Lowered("ek_add_const_half_s8" if half else "ek_add_const_s8",
                       "ek_add_const_params", p, [x.index, y.index],
                       source="ek_add_const.c", inplace=(x.index,))
    return None


def add_params(op, graph) -> dict:
    """The ``ek_add_params`` fields of an int8 ADD (the general kernel's).

    Parameters
    ----------
    op : Operator
    graph : Graph

    Returns
    -------
    dict
        Field -> value (shapes and strides of :func:`broadcast_params`, offsets,
        multipliers, shifts, activation range).
    """
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int8(op, a, b, y)
    twice_max = 2.0 * max(f32(a.s), f32(b.s))
    m1, sh1 = quantize_multiplier(f32(a.s) / twice_max)
    m2, sh2 = quantize_multiplier(f32(b.s) / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * f32(y.s)))
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp)
    params = broadcast_params(op, a, b, y)
    params.update(in1_offset=-a.zp, in2_offset=-b.zp, out_offset=y.zp, left_shift=LEFT_SHIFT,
                  in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
                  out_mult=mo, out_shift=sho, act_min=act_min, act_max=act_max)
    return params


def lower(op, graph) -> Lowered:
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    params = add_params(op, graph)
    fast = const_operand(op, graph, params)
    if fast is not None:
        return fast
    # Element i of a full-shape input is read right before output element i
    # is written, so the output may overwrite such an input.
    inplace = tuple(t.index for t in (a, b) if list(t.shape) == list(y.shape) and not t.is_const)
    return Lowered("ek_add_s8", "ek_add_params", params, [a.index, b.index, y.index],
                   source="ek_add.c", inplace=inplace)


#: ``ek_paths.h`` macros of ``ek_add_s8``'s paths (kernels/optimized/ek_add.c): its
#: flat loops, by which input has the exact 0.5 multiplier (``H1``: the first, after
#: ADD puts it first; ``H2``: the second; ``H12``: both), for ADD and for SUB, and
#: the reference loop (broadcasting, other parameters; every core).
ADD_PATHS = ("EKOPT_ADD_H1", "EKOPT_ADD_H12", "EKOPT_SUB_H1", "EKOPT_SUB_H2", "EKOPT_SUB_H12",
             "EKOPT_ADD_REF")


def _add_input(mult: int, shift: int) -> tuple[bool, bool]:
    """``ekadd_in_make``: (multiplier exactly 0.5, the flat loop takes the input).

    The input offset does not enter the choice, only the requantization.
    """
    half = shift == 0 and mult == 1 << 30
    return half, half or (mult != -(1 << 31) and 1 <= -shift <= 30)


def add_paths(low: Lowered) -> frozenset[str]:
    """The path of ``ek_add_s8`` this ADD or SUB takes (the same on every core).

    Parameters
    ----------
    low : Lowered
        An ``ek_add_s8`` op (:func:`lower`, :func:`edgekit.firmware_export.ops.sub.lower`).

    Returns
    -------
    frozenset of str
        One name from :data:`ADD_PATHS`: the choice of ``ek_add_s8`` in
        kernels/optimized/ek_add.c, evaluated here so that ``ek_paths.h``
        compiles only the loops a model's layers take.
    """
    p = low.params
    h1, ok1 = _add_input(p["in1_mult"], p["in1_shift"])
    h2, ok2 = _add_input(p["in2_mult"], p["in2_shift"])
    if (p["broadcast"] or p["left_shift"] != LEFT_SHIFT or p["out_mult"] == -(1 << 31)
            or not -23 <= p["out_shift"] <= -1 or not (ok1 and ok2) or not (h1 or h2)):
        return frozenset({"EKOPT_ADD_REF"})
    if p.get("subtract", 0):
        return frozenset({"EKOPT_SUB_H12" if h1 and h2 else "EKOPT_SUB_H1" if h1
                          else "EKOPT_SUB_H2"})
    return frozenset({"EKOPT_ADD_H12" if h1 and h2 else "EKOPT_ADD_H1"})
