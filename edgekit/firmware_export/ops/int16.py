"""More int16-activation (TFLite 16x8) lowerings: DEPTHWISE_CONV_2D and
BATCH_MATMUL (the other ops that take int16 share their int8 module:
pooling, mean, mul, pad, concat, strided_copy, reshape, quantize).

Both accumulate in 64 bits and requantize as the 16x8 CONV_2D does
(ops/s16.py: the multiplier rounded to 16 bits, one rounding shift)."""

from __future__ import annotations

import math

from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation, require_int16)
from edgekit.firmware_export.ops.s16 import I16, check_shifts, check_weights
from edgekit.firmware_export.quant import (activation_range, f32, per_channel_multipliers,
                                           quantize_multiplier)

__all__ = ["lower_batch_matmul", "lower_depthwise"]


def lower_depthwise(op, graph) -> Lowered:
    """DEPTHWISE_CONV_2D with int16 input/output, int8 filters 1 x H x W x (C * M)."""
    ins = graph.op_inputs(op)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int16(op, x, y)
    require_activation(op, x)
    o = op.options
    n, ih, iw, ic = nhwc(op, x)
    yn, oh, ow, oc = nhwc(op, y)
    wn, fh, fw, fc = nhwc(op, w)
    check_weights(op, w, b, oc)
    if yn != n or wn != 1 or fc != oc or ic <= 0 or oc % ic:
        raise fail(op, f"depthwise filter shape {list(w.shape)} does not match input {ic} / "
                       f"output {oc}")
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    if min(sh, sw, dh, dw, fh, fw) < 1:
        raise fail(op, f"strides/dilations must be >= 1 (got {sh},{sw},{dh},{dw})")
    for name, got, exp in (("height", oh, expected_out(o["padding"], ih, fh, sh, dh)),
                           ("width", ow, expected_out(o["padding"], iw, fw, sw, dw))):
        if got != exp:
            raise fail(op, f"output {name} {got} does not match padding {o['padding']} ({exp})")
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, oc)
    check_shifts(op, shift)
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, 0, *I16)
    params = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  f_h=fh, f_w=fw, f_in_c=1, stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw,
                  pad_h=compute_padding(o["padding"], ih, fh, sh, dh, oh),
                  pad_w=compute_padding(o["padding"], iw, fw, sw, dw, ow),
                  depth_multiplier=oc // ic, in_offset=0, out_offset=0,
                  act_min=act_min, act_max=act_max, mult=mult, shift=shift)
    return Lowered("ek_depthwise_conv2d_s16", "ek_conv_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_depthwise_conv_s16.c")


MAX_BATCH_DIMS = 4


def lower_batch_matmul(op, graph) -> Lowered:
    """BATCH_MATMUL int16 x int16 -> int16: ranks 2 to 5, broadcast batch dims,
    adj_x / adj_y folded into the strides (the int8 kernel's parameter block)."""
    lhs, rhs = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int16(op, lhs, rhs, y)
    for t in (lhs, rhs, y):
        if len(t.scale) != 1:
            raise fail(op, f"tensor {t.index} must be quantized per tensor")
    lr, rr = len(lhs.shape), len(rhs.shape)
    if not (2 <= lr <= 5 and 2 <= rr <= 5):
        raise fail(op, f"operand ranks {lr} and {rr}: 2 to 5 are supported")
    rank = max(lr, rr)
    ls = [1] * (rank - lr) + [int(d) for d in lhs.shape]
    rs = [1] * (rank - rr) + [int(d) for d in rhs.shape]
    adj_x, adj_y = bool(op.options.get("adj_x")), bool(op.options.get("adj_y"))
    rows, depth = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
    rdepth, cols = (rs[-1], rs[-2]) if adj_y else (rs[-2], rs[-1])
    if depth != rdepth:
        raise fail(op, f"inner dimensions differ: {depth} and {rdepth}")
    nb = rank - 2
    out_b = []
    for a, b in zip(ls[:nb], rs[:nb]):
        if a != b and a != 1 and b != 1:
            raise fail(op, f"batch dims {ls[:nb]} and {rs[:nb]} do not broadcast")
        out_b.append(max(a, b))
    if [int(d) for d in y.shape] != out_b + [rows, cols]:
        raise fail(op, f"output shape {list(y.shape)} is not {out_b + [rows, cols]}")

    def batch_strides(shape):
        st, acc = [0] * nb, shape[-1] * shape[-2]
        for d in range(nb - 1, -1, -1):
            st[d] = acc if shape[d] > 1 else 0
            acc *= shape[d]
        return st

    pad = MAX_BATCH_DIMS - nb
    m, sh = quantize_multiplier(f32(lhs.s) * f32(rhs.s) / f32(y.s))
    check_shifts(op, [sh])
    params = dict(
        batches=math.prod(out_b), rows=rows, cols=cols, depth=depth,
        batch_shape=tuple([1] * pad + out_b),
        lhs_batch_stride=tuple([0] * pad + batch_strides(ls)),
        rhs_batch_stride=tuple([0] * pad + batch_strides(rs)),
        lhs_row_stride=1 if adj_x else depth, lhs_depth_stride=rows if adj_x else 1,
        rhs_depth_stride=1 if adj_y else cols, rhs_col_stride=depth if adj_y else 1,
        lhs_offset=0, rhs_offset=0, out_offset=0, out_mult=m, out_shift=sh)
    return Lowered("ek_batch_matmul_s16", "ek_batch_matmul_params", params,
                   [lhs.index, rhs.index, y.index], source="ek_batch_matmul_s16.c")
