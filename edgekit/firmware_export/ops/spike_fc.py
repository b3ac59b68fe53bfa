"""EK_SPIKE_FC: a FULLY_CONNECTED or 1x1 CONV_2D whose input is a spike tensor.

:mod:`edgekit.firmware_export.passes.spike_sparse` proves that every input
code is one of two (``off``, ``on``) and rewrites the layer into this op; its
kernel (``kernels/ek_spike_fc.c``) adds, per output unit, the weights of the
active inputs only.  With ``w`` the ``[units, accum]`` weights (zero point 0)
and ``io = -zp_in`` the dense sum is::

    acc[u] = bias[u] + sum_d w[u][d] * (x[d] + io)
           = (bias[u] + (off + io) * sum_d w[u][d]) + (on - off) * sum_{x[d] == on} w[u][d]

The first term is folded at export time (the ``bias`` field); the kernel
reads the weights transposed (``[accum, units]``, a constant the pass adds)
so that an active input's weights are one contiguous row.  The output is
requantized as by the dense kernel, bit for bit.
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, nhwc, require_int8
from edgekit.firmware_export.quant import activation_range, per_channel_multipliers

#: Opcode of a rewritten layer (no TFLite op has it).
OPCODE = "EK_SPIKE_FC"
INT32 = 1 << 31


def sparse_operands(op, graph) -> tuple:
    """``(input, weights, bias or None, output)`` of a layer an event-driven kernel can run.

    The checks every spike-sparse kernel needs: int8 activations and
    weights, an activation input, constant weights with zero points 0 and
    an optional constant int32 bias.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        When a check fails (the message names it).
    """
    ins = graph.op_inputs(op)
    if len(ins) < 2 or ins[0] is None or ins[1] is None:
        raise fail(op, "needs input and weight tensors")
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int8(op, x, w, y)
    if x.is_const or not w.is_const:
        raise fail(op, "needs an activation input and constant weights")
    if any(int(z) != 0 for z in w.zero_point):
        raise fail(op, "weight zero points must be 0")
    if b is not None and (b.dtype != "int32" or not b.is_const):
        raise fail(op, f"bias must be a constant int32 tensor (got {b.dtype})")
    return x, w, b, y


def layer_shape(op, graph) -> tuple[int, int, int, np.ndarray]:
    """``(batches, accum, units, weights [units, accum])`` of a layer the kernel computes.

    Parameters
    ----------
    op : Operator
        A ``FULLY_CONNECTED``, or a ``CONV_2D`` with a 1x1 filter, stride 1
        and no groups (a fully connected layer over the pixels).
    graph : Graph

    Returns
    -------
    tuple
        Rows of the input, inputs per row, outputs per row, the int8
        weights as a 2-D array.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        For any other layer (types, shapes, weight zero points, options).
    """
    x, w, b, y = sparse_operands(op, graph)
    if op.opcode == "FULLY_CONNECTED":
        if len(w.shape) != 2 or op.options.get("weights_format", 0) != 0:
            raise fail(op, "weights must be a plain 2-D tensor")
        units, accum = (int(d) for d in w.shape)
        w2 = np.asarray(w.data).reshape(units, accum)
    elif op.opcode == "CONV_2D":
        n, ih, iw, ic = nhwc(op, x)
        _, oh, ow, oc = nhwc(op, y)
        wn, fh, fw, fc = nhwc(op, w)
        if (fh, fw) != (1, 1) or (oh, ow) != (ih, iw) or fc != ic or wn != oc:
            raise fail(op, "only a 1x1 convolution of stride 1 without groups is a sparse layer")
        if (op.options.get("stride_h", 1), op.options.get("stride_w", 1)) != (1, 1):
            raise fail(op, "stride must be 1")
        units, accum = oc, ic
        w2 = np.asarray(w.data).reshape(oc, ic)
    else:
        raise fail(op, "not a FULLY_CONNECTED or CONV_2D")
    if accum <= 0 or x.num_elements % accum:
        raise fail(op, f"input of {x.num_elements} elements is not a multiple of {accum}")
    batches = x.num_elements // accum
    if y.num_elements != batches * units:
        raise fail(op, f"output has {y.num_elements} elements, expected {batches * units}")
    if b is not None and b.num_elements != units:
        raise fail(op, f"bias has {b.num_elements} entries for {units} units")
    return batches, accum, units, w2.astype(np.int64)


def spike_fc_params(op, graph, codes: tuple[int, int]) -> tuple[dict, int]:
    """The ``ek_spike_fc_params`` of a layer, and its scratch bytes.

    Parameters
    ----------
    op : Operator
        The layer as in the file (see :func:`layer_shape`).
    graph : Graph
    codes : (int, int)
        The input's ``(off, on)`` codes.

    Returns
    -------
    params : dict
    scratch : int
    """
    batches, accum, units, w2 = layer_shape(op, graph)
    params = dict(batches=batches, accum=accum, units=units)
    params.update(spike_requant(op, graph, w2, codes))
    params["chan"] = [0]
    if params["fast_rq"] and params["per_channel"]:
        # per unit a row of four (bias, multiplier, rounding add, right shift):
        # one pointer and two LDRD per output in the kernels
        rows = zip(params["bias"], params["mult"], params["rq_add"], params["shift"])
        params.update(chan=[v for r in rows for v in r], bias=[0], mult=[0], shift=[0],
                      rq_add=[0])
    return params, 4 * (accum + units)


def spike_requant(op, graph, w2: np.ndarray, codes: tuple[int, int]) -> dict:
    """The requantization fields shared by the event-driven kernels.

    Parameters
    ----------
    op : Operator
        The layer as in the file: inputs ``[x, weights, bias]`` (bias
        optional), one output.
    graph : Graph
    w2 : numpy.ndarray
        ``[units, taps]``: every weight that meets the input in one output's
        sum (all taps of the window: the off code's constant share is folded
        into the bias over all of them).
    codes : (int, int)
        The input's ``(off, on)`` codes.

    Returns
    -------
    dict
        ``on_code, delta, out_offset, act_min, act_max, per_channel,
        fast_rq, bias, mult, shift, rq_add`` (see ``ek_spike_fc_params``).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the accumulator can leave the kernel's int32 arithmetic.
    """
    units = int(w2.shape[0])
    x, w, b, y = sparse_operands(op, graph)
    off, on = (int(c) for c in codes)
    bias = (np.asarray(b.data, np.int64).reshape(-1) if b is not None
            else np.zeros(units, np.int64))
    folded = bias + (off - x.zp) * w2.sum(axis=1)
    delta = on - off
    per_channel = len(w.scale) > 1
    n = units if per_channel else 1
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, units)
    mult, shift = mult[:n], shift[:n]
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp)
    # the accumulator's range: folded bias + delta * (a sum of some weights of the unit)
    pos, neg = np.where(w2 > 0, w2, 0).sum(axis=1), np.where(w2 < 0, w2, 0).sum(axis=1)
    reach = np.maximum(np.abs(folded + delta * pos), np.abs(folded + delta * neg))
    big = int(max(reach.max(), np.abs(folded).max())) if units else 0
    if big >= INT32 // 2:
        raise fail(op, f"accumulator bound {big} does not fit the kernel's int32 arithmetic")
    rq_add, fast = [], True
    for m, sh in zip(mult, shift):
        e = -int(sh)
        ok = 0 < m < INT32 and 1 <= e <= 31
        # the code - act_min (the kernels add act_min back after a USAT)
        add = (1 << (e - 1)) + ((y.zp - act_min) << e) if ok else 0
        fast = fast and ok and abs(add) + big + 1 < INT32
        rq_add.append(add if fast else 0)
    if fast:        # the kernels' fast form: twice the bias, the right shift
        folded, shift = 2 * folded, -np.asarray(shift, np.int64)
    return dict(on_code=on, delta=delta, out_offset=y.zp, act_min=act_min, act_max=act_max,
                per_channel=int(per_channel), fast_rq=int(fast),
                bias=[int(v) for v in folded], mult=[int(v) for v in mult],
                shift=[int(v) for v in shift], rq_add=[int(v) for v in rq_add])


def lower(op, graph) -> Lowered:
    """Lower an ``EK_SPIKE_FC`` op (made by
    :func:`edgekit.firmware_export.passes.spike_sparse.sparse_spikes`).

    Its inputs are ``[x, weights transposed]``, its output the layer's;
    ``options["layer"]`` is the file's op and ``options["codes"]`` the
    input's ``(off, on)`` codes.
    """
    layer = op.options["layer"]
    params, scratch = spike_fc_params(layer, graph, op.options["codes"])
    wt = graph.tensors[op.inputs[1]]
    if tuple(wt.shape) != (params["accum"], params["units"]) or wt.dtype != "int8":
        raise fail(op, f"transposed weights {list(wt.shape)} do not match the layer")
    return Lowered("ek_spike_fc_s8", "ek_spike_fc_params", params,
                   [op.inputs[0], op.inputs[1], op.outputs[0]], source="ek_spike_fc.c",
                   scratch=scratch)
