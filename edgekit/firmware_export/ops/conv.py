"""CONV_2D: int8 activations, per-channel (or per-tensor) int8 filters."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation, require_int8)
from edgekit.firmware_export.quant import activation_range, per_channel_multipliers


def conv_like(op, graph, depthwise: bool) -> Lowered:
    ins = graph.op_inputs(op)
    if len(ins) < 2 or ins[0] is None or ins[1] is None:
        raise fail(op, "needs input and filter tensors")
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int8(op, x, w, y)
    require_activation(op, x)
    if not w.is_const:
        raise fail(op, "filter must be a constant tensor")
    if b is not None and (b.dtype != "int32" or not b.is_const):
        raise fail(op, f"bias must be a constant int32 tensor (got {b.dtype})")
    if any(int(z) != 0 for z in w.zero_point):
        raise fail(op, "filter zero points must be 0 (symmetric int8 weights)")
    o = op.options
    n, ih, iw, ic = nhwc(op, x)
    _, oh, ow, oc = nhwc(op, y)
    wn, fh, fw, fc = nhwc(op, w)
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    if min(sh, sw, dh, dw) < 1:
        raise fail(op, f"strides/dilations must be >= 1 (got {sh},{sw},{dh},{dw})")
    if depthwise:
        if wn != 1 or fc != oc:
            raise fail(op, f"depthwise filter shape {list(w.shape)} does not match output {oc}")
        dm = oc // ic if ic else 0
        if dm * ic != oc:
            raise fail(op, f"output channels {oc} are not a multiple of input channels {ic}")
        f_in_c = 1
    else:
        if wn != oc or fc <= 0 or ic % fc:
            raise fail(op, f"filter shape {list(w.shape)} does not match input {ic} / output {oc}")
        dm = 1
        f_in_c = fc
    for name, got, exp in (("height", oh, expected_out(o["padding"], ih, fh, sh, dh)),
                           ("width", ow, expected_out(o["padding"], iw, fw, sw, dw))):
        if got != exp:
            raise fail(op, f"output {name} {got} does not match padding {o['padding']} ({exp})")
    if b is not None and b.num_elements != oc:
        raise fail(op, f"bias has {b.num_elements} entries for {oc} output channels")
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, oc)
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, y.zp)
    params = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  f_h=fh, f_w=fw, f_in_c=f_in_c, stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw,
                  pad_h=compute_padding(o["padding"], ih, fh, sh, dh, oh),
                  pad_w=compute_padding(o["padding"], iw, fw, sw, dw, ow),
                  depth_multiplier=dm, in_offset=-x.zp, out_offset=y.zp,
                  act_min=act_min, act_max=act_max, mult=mult, shift=shift)
    kernel = "ek_depthwise_conv2d_s8" if depthwise else "ek_conv2d_s8"
    source = "ek_depthwise_conv.c" if depthwise else "ek_conv.c"
    return Lowered(kernel, "ek_conv_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source=source)


def lower(op, graph) -> Lowered:
    return conv_like(op, graph, depthwise=False)
