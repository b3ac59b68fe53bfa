"""AVERAGE_POOL_2D and MAX_POOL_2D, int8 and int16 (16x8)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation, require_type)
from edgekit.firmware_export.quant import activation_range


def _lower(op, graph, kind: str) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    dtype = "int16" if x.dtype == "int16" else "int8"
    lo, hi = require_type(op, dtype, x, y)
    require_activation(op, x)
    if x.zp != y.zp or x.s != y.s:
        raise fail(op, f"input and output quantization must be equal for {dtype} pooling")
    o = op.options
    n, ih, iw, c = nhwc(op, x)
    _, oh, ow, oc = nhwc(op, y)
    fh, fw, sh, sw = o["filter_h"], o["filter_w"], o["stride_h"], o["stride_w"]
    if min(fh, fw, sh, sw) < 1 or oc != c:
        raise fail(op, f"bad pooling window {fh}x{fw} stride {sh}x{sw}")
    if (oh, ow) != (expected_out(o["padding"], ih, fh, sh, 1), expected_out(o["padding"], iw, fw, sw, 1)):
        raise fail(op, f"output shape {list(y.shape)} does not match the window and padding")
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, y.zp, lo, hi)
    params = dict(batches=n, in_h=ih, in_w=iw, c=c, out_h=oh, out_w=ow, f_h=fh, f_w=fw,
                  stride_h=sh, stride_w=sw,
                  pad_h=compute_padding(o["padding"], ih, fh, sh, 1, oh),
                  pad_w=compute_padding(o["padding"], iw, fw, sw, 1, ow),
                  act_min=act_min, act_max=act_max)
    if dtype == "int16":
        return Lowered(f"ek_{kind}_pool_s16", "ek_pool_params", params, [x.index, y.index],
                       source="ek_pooling_s16.c")
    return Lowered(f"ek_{kind}_pool_s8", "ek_pool_params", params, [x.index, y.index],
                   source="ek_pooling.c")


def lower_avg(op, graph) -> Lowered:
    """AVERAGE_POOL_2D, int8 or int16 (by the input's type)."""
    return _lower(op, graph, "avg")


def lower_max(op, graph) -> Lowered:
    """MAX_POOL_2D, int8 or int16 (by the input's type)."""
    return _lower(op, graph, "max")
