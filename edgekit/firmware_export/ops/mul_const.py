"""MUL of an int8 activation by a constant (a scalar or a per-channel vector
repeating along the activation's last dims), as ``ek_mul_const_s8``.

TFLite's int8 MUL requantizes ``(x + io) * (c + co)`` once by ``s_x * s_c /
s_out`` (:mod:`.mul`).  The constant's ``c + co`` is computed here once per
position of its period (``terms``); the requantization is one rounding high
product (``ek_rq_x2`` of ``prod << pre``, ``pre`` = 1 + the multiplier's left
shift), which this module checks against the MUL's arithmetic on every
(input code, constant) pair before choosing the kernel.  Anything else takes
the general ``ek_mul_s8``.
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops import mul
from edgekit.firmware_export.ops.add import const_period
from edgekit.firmware_export.ops.base import Lowered
from edgekit.firmware_export.quant import mbqm_array, rq_x2_array


def const_mul(op, graph, params: dict) -> Lowered | None:
    """``ek_mul_const_s8`` for a MUL of an activation by a constant, or None.

    Parameters
    ----------
    op : Operator
    graph : Graph
    params : dict
        The op's ``ek_mul_params`` fields (:func:`.mul.lower`).

    Returns
    -------
    Lowered or None
        None when no input is a constant with a period along the other
        (:func:`.add.const_period`), or when the one-product requantization
        would differ from the MUL's on some pair of codes.
    """
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    if a is None or b is None or {a.dtype, b.dtype, y.dtype} != {"int8"}:
        return None                                  # int8 only (16x8 MUL: ek_mul_s16)
    m, sh = params["out_mult"], params["out_shift"]
    e = -sh if sh < 0 else 0
    if not 0 < m < 1 << 31 or not 1 <= e <= 31:
        return None
    for k, (x, c) in enumerate(((a, b), (b, a))):
        period = const_period(x, c, y)
        if period is None:
            continue
        xo, co = (params["in1_offset"], params["in2_offset"])[::1 if k == 0 else -1]
        terms = [int(v) + co for v in c.data.reshape(-1)] or [co]
        codes = np.arange(-128, 128, dtype=np.int64)[:, None]
        prod = (codes + xo) * np.asarray(terms, np.int64)[None, :]
        add = (1 << (e - 1)) + (params["out_offset"] << e)
        fast = rq_x2_array(prod << 1, m, add, e)
        ref = mbqm_array(prod, m, sh) + params["out_offset"]
        lo, hi = params["act_min"], params["act_max"]
        if (fast is None or abs(add) >= 1 << 31
                or not np.array_equal(np.clip(fast, lo, hi), np.clip(ref, lo, hi))):
            return None
        p = dict(rows=y.num_elements // period, cols=period, in_offset=xo, mult=m, add=add,
                 rsh=e, act_min=lo, act_max=hi, terms=terms)
        # Element i is read right before output element i is written.
        return Lowered("ek_mul_const_s8", "ek_mul_const_params", p, [x.index, y.index],
                       source="ek_mul_const.c", inplace=(x.index,))
    return None


def lower(op, graph) -> Lowered:
    """Lower a MUL: :func:`const_mul` when it applies, else :func:`.mul.lower`."""
    low = mul.lower(op, graph)
    return const_mul(op, graph, low.params) or low
