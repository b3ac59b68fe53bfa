"""EK_SPIKE_DW: a DEPTHWISE_CONV_2D over time (one column) whose input is a spike tensor.

The LMU memory is a causal depthwise convolution over the time axis
(``PAD`` then a VALID ``DEPTHWISE_CONV_2D`` with a ``K x 1`` filter and depth
multiplier ``M``; :class:`edgekit.models.lmu.LMU`).  When its input holds
spikes (two codes, :mod:`edgekit.firmware_export.passes.spike_sparse`), each
output needs only the taps that meet an active input::

    acc[t][c] = bias[c] + sum_p w[p][c] * (x[t + p][c / M] + io)
              = (bias[c] + (off + io) * sum_p w[p][c]) + (on - off) * sum_{x[t + p][c / M] == on} w[p][c]

The first term is folded at export time as for ``EK_SPIKE_FC``
(:func:`edgekit.firmware_export.ops.spike_fc.spike_requant`, which also gives
the requantization, the dense kernel's bit for bit).  The kernel
(``kernels/ek_spike_fc.c``) lists each input channel's active rows once and
adds, per output row and channel, the ``M`` weights of each active tap in
its window (one word of four at a time on DSP cores); the filter
``[1, K, 1, C * M]`` is read as it is in the file (``[K, C * M]``).
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, nhwc
from edgekit.firmware_export.ops.spike_fc import sparse_operands, spike_requant

__all__ = ["OPCODE", "dw_shape", "spike_dw_params", "lower"]

#: Opcode of a rewritten depthwise layer (no TFLite op has it).
OPCODE = "EK_SPIKE_DW"
#: Longest time axis the kernel's uint16 row lists hold.
MAX_ROWS = 1 << 16


def dw_shape(op, graph) -> dict:
    """The geometry of a depthwise layer the kernel computes.

    Parameters
    ----------
    op : Operator
        A ``DEPTHWISE_CONV_2D``: batch 1, one input column and a ``K x 1``
        filter (or one row and a ``1 x K`` filter), stride 1, dilation 1,
        VALID padding, constant weights with zero points 0.
    graph : Graph

    Returns
    -------
    dict
        ``in_h`` (time rows of the input), ``in_c``, ``depth_mult``, ``k``
        (taps), ``out_h`` and ``w2`` (the weights ``[C * M, K]``, int64).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        For any other layer.
    """
    if op.opcode != "DEPTHWISE_CONV_2D":
        raise fail(op, "not a DEPTHWISE_CONV_2D")
    x, w, b, y = sparse_operands(op, graph)
    n, ih, iw, ic = nhwc(op, x)
    _, oh, ow, oc = nhwc(op, y)
    _, fh, fw, fc = nhwc(op, w)
    o = op.options
    if n != 1 or (o.get("stride_h", 1), o.get("stride_w", 1)) != (1, 1) \
            or (o.get("dilation_h", 1), o.get("dilation_w", 1)) != (1, 1) \
            or o.get("padding", "VALID") != "VALID":
        raise fail(op, "only batch 1, stride 1, dilation 1 and VALID padding run event-driven")
    if iw == 1 and fw == 1 and ow == 1:
        rows, k, out_rows = ih, fh, oh
    elif ih == 1 and fh == 1 and oh == 1:
        rows, k, out_rows = iw, fw, ow
    else:
        raise fail(op, "only a one-column (or one-row) depthwise filter runs event-driven")
    if fc != oc or oc % ic or out_rows != rows - k + 1 or rows >= MAX_ROWS:
        raise fail(op, f"unexpected depthwise shapes: input {list(x.shape)}, "
                       f"filter {list(w.shape)}, output {list(y.shape)}")
    if b is not None and b.num_elements != oc:
        raise fail(op, f"bias has {b.num_elements} entries for {oc} channels")
    w2 = np.asarray(w.data, np.int64).reshape(k, oc).T
    return dict(in_h=rows, in_c=ic, depth_mult=oc // ic, k=k, out_h=out_rows, w2=w2)


def spike_dw_params(op, graph, codes: tuple[int, int]) -> tuple[dict, int]:
    """The ``ek_spike_dw_params`` of a depthwise layer, and its scratch bytes."""
    g = dw_shape(op, graph)
    out_c = g["in_c"] * g["depth_mult"]
    params = dict(in_h=g["in_h"], in_c=g["in_c"], depth_mult=g["depth_mult"], k=g["k"],
                  out_h=g["out_h"], units=out_c, pad=0)
    rq = spike_requant(op, graph, g["w2"], codes)
    # one row of four per channel (bias, multiplier, rounding add, right shift;
    # or bias, multiplier, shift, 0 for the dense kernel's requantization):
    # one pointer for the kernel's requantization loop
    per = len(rq["mult"]) > 1
    chan = []
    for c in range(out_c):
        k = c if per else 0
        if rq["fast_rq"]:       # twice the bias, the right shift (spike_requant's)
            chan += [rq["bias"][c], rq["mult"][k], rq["rq_add"][k], rq["shift"][k]]
        else:
            chan += [rq["bias"][c], rq["mult"][k], rq["shift"][k], 0]
    params.update(on_code=rq["on_code"], delta=rq["delta"], out_offset=rq["out_offset"],
                  act_min=rq["act_min"], act_max=rq["act_max"], fast_rq=rq["fast_rq"], chan=chan)
    # sums (out_c int32), one window's tap offsets (k int32), per channel
    # the count and window start (uint16 each) and the active rows (uint16),
    # the outputs of a zero sum (out_c int8)
    scratch = 4 * (out_c + g["k"]) + 2 * g["in_c"] * (2 + g["in_h"]) + out_c
    return params, -(-scratch // 4) * 4


def lower(op, graph) -> Lowered:
    """Lower an ``EK_SPIKE_DW`` op (made by
    :func:`edgekit.firmware_export.passes.spike_sparse.sparse_spikes`).

    Its inputs are ``[x, weights]``, its output the layer's;
    ``options["layer"]`` is the file's op and ``options["codes"]`` the
    input's ``(off, on)`` codes; ``options["pad"]`` (optional) the rows of
    the layer's input in front of ``x`` (a causal PAD folded in by
    :func:`edgekit.firmware_export.passes.spike_pad.fold_spike_pads`).
    """
    layer = op.options["layer"]
    params, scratch = spike_dw_params(layer, graph, op.options["codes"])
    params["pad"] = int(op.options.get("pad", 0))
    return Lowered("ek_spike_dw_s8", "ek_spike_dw_params", params,
                   [op.inputs[0], op.inputs[1], op.outputs[0]], source="ek_spike_fc.c",
                   scratch=scratch)
