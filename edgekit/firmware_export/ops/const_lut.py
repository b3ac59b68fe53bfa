"""ADD or MUL of an int8 activation and a scalar constant, by table.

With one input a one-element constant, the output code is a function of the
other input's code alone: its 256 values are computed here with the op's own
integer arithmetic (:func:`edgekit.firmware_export.ops.lif.add_one` /
:func:`~edgekit.firmware_export.ops.lif.mul_one`, the general kernels' element
functions, then the fused activation's clamp) and the kernel
(``ek_lut_s8``, kernels/ek_lut.c) only looks each element up.  Other ADD /
MUL ops take :func:`.add.lower` / :func:`.mul_const.lower`.
"""

from __future__ import annotations

from edgekit.firmware_export.ops import add, mul, mul_const
from edgekit.firmware_export.ops.base import Lowered
from edgekit.firmware_export.ops.lif import add_one, mul_one
from edgekit.firmware_export.ops.rsqrt import pack


def scalar_table(op, graph, params: dict, one) -> Lowered | None:
    """``ek_lut_s8`` for an op of an activation and a one-element constant, or None.

    Parameters
    ----------
    op : Operator
    graph : Graph
    params : dict
        The general kernel's parameters (offsets, multipliers, clamp).
    one : callable
        ``one(params, a, b) -> code``: one output element from the two input codes.

    Returns
    -------
    Lowered or None
    """
    ins = graph.op_inputs(op)
    if len(ins) != 2 or None in ins:
        return None
    a, b = ins
    y = graph.op_outputs(op)[0]
    if a.dtype != "int8" or b.dtype != "int8" or y.dtype != "int8":
        return None
    for x, c, first in ((a, b, True), (b, a, False)):
        if (x.is_const or not c.is_const or c.num_elements != 1
                or x.num_elements != y.num_elements):
            continue
        k = int(c.data.reshape(-1)[0])
        table = [one(params, v, k) if first else one(params, k, v) for v in range(-128, 128)]
        return Lowered("ek_lut_s8", "ek_lut_params", dict(size=y.num_elements, lut=pack(table)),
                       [x.index, y.index], source="ek_lut.c", inplace=(x.index,))
    return None


def lower_add(op, graph) -> Lowered:
    """Lower an ADD: a scalar constant by table, else :func:`.add.lower`."""
    ins = graph.op_inputs(op)
    if len(ins) == 2 and None not in ins and ins[0].dtype == "int8":
        low = scalar_table(op, graph, add.add_params(op, graph), add_one)
        if low is not None:
            return low
    return add.lower(op, graph)


def lower_mul(op, graph) -> Lowered:
    """Lower a MUL: a scalar constant by table, else :func:`.mul_const.lower`."""
    return scalar_table(op, graph, mul.lower(op, graph).params, mul_one) or \
        mul_const.lower(op, graph)
