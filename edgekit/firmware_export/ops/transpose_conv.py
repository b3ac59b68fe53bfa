"""TRANSPOSE_CONV, int8 and int16 (16x8), with TFLM's arithmetic (transpose_conv.cc
and the reference integer TransposeConv):

* inputs: 0 the output shape (ignored: the output tensor's shape is static),
  1 the filter ``[out_c, f_h, f_w, in_c]`` (int8, symmetric, per channel or
  per tensor), 2 the data input, 3 the optional bias (int32 for int8,
  int64 for int16);
* padding as TFLM computes it, from the *output* size: for SAME,
  ``max(0, (n - 1) * stride + f - out) // 2`` where ``n`` is the input size
  a stride-``stride`` convolution of the output would give, 0 for VALID;
* each output element sums ``(x + in_offset) * w`` (int8; in int32) or
  ``x * w`` (int16; in int64) over the input pixels it is scattered from,
  adds the bias, is requantized per channel (``in_s * w_s[c] / out_s``), gets
  the output zero point (int8) and is clamped to the fused activation's
  range.  The kernel gathers what TFLM scatters: the same integer sums,
  without TFLM's output-sized scratch buffer.
"""

from __future__ import annotations

from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation)
from edgekit.firmware_export.quant import activation_range, per_channel_multipliers

#: Per input type: kernel, bias type, clamp range of the type.
KINDS = {"int8": ("ek_transpose_conv_s8", "int32", (-128, 127)),
         "int16": ("ek_transpose_conv_s16", "int64", (-32768, 32767))}


def lower(op, graph) -> Lowered:
    """Lower one TRANSPOSE_CONV (int8 or int16) to ``ek_transpose_conv_s8`` / ``_s16``.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        For other types, a non-constant or asymmetric filter, a bias of
        another type, shapes that do not agree, or options out of range.
    """
    ins = graph.op_inputs(op)
    if len(ins) < 3 or ins[1] is None or ins[2] is None:
        raise fail(op, "needs output-shape, filter and input tensors")
    w, x = ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    y = graph.op_outputs(op)[0]
    if x.dtype not in KINDS or y.dtype != x.dtype or w.dtype != "int8":
        raise fail(op, f"input {x.dtype.upper()}, filter {w.dtype.upper()}, output "
                       f"{y.dtype.upper()}: this kernel needs INT8 or INT16 input and output "
                       "with an INT8 filter")
    kernel, bias_type, (qmin, qmax) = KINDS[x.dtype]
    for t in (x, w, y):
        if not len(t.scale):
            raise fail(op, f"tensor {t.index} ({t.name!r}) has no quantization parameters")
    require_activation(op, x)
    if not w.is_const:
        raise fail(op, "filter must be a constant tensor")
    if any(int(z) != 0 for z in w.zero_point):
        raise fail(op, "filter zero points must be 0 (symmetric int8 weights)")
    if x.dtype == "int16" and (x.zp != 0 or y.zp != 0):
        raise fail(op, f"int16 zero points must be 0 (got input {x.zp}, output {y.zp})")
    if b is not None and (b.dtype != bias_type or not b.is_const):
        raise fail(op, f"bias must be a constant {bias_type.upper()} tensor with "
                       f"{x.dtype.upper()} activations (got {b.dtype.upper()})")
    o = op.options
    if "stride_h" not in o or "padding" not in o:
        raise fail(op, "its options (padding, strides) were not read")
    n, ih, iw, ic = nhwc(op, x)
    yn, oh, ow, oc = nhwc(op, y)
    wo, fh, fw, wc = nhwc(op, w)
    sh, sw = int(o["stride_h"]), int(o["stride_w"])
    if min(sh, sw) < 1:
        raise fail(op, f"strides must be >= 1 (got {sh}, {sw})")
    if yn != n or wo != oc or wc != ic or min(fh, fw, ic, oc, oh, ow) < 1:
        raise fail(op, f"filter {list(w.shape)} does not match input {list(x.shape)} and output "
                       f"{list(y.shape)}")
    # The input must be what a convolution of the output with these options gives.
    for name, got, exp in (("height", ih, expected_out(o["padding"], oh, fh, sh, 1)),
                           ("width", iw, expected_out(o["padding"], ow, fw, sw, 1))):
        if got != exp:
            raise fail(op, f"input {name} {got} does not match output and padding "
                           f"{o['padding']} ({exp})")
    if b is not None and b.num_elements != oc:
        raise fail(op, f"bias has {b.num_elements} entries for {oc} output channels")
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, oc)
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, y.zp, qmin, qmax)
    params = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  f_h=fh, f_w=fw, f_in_c=ic, stride_h=sh, stride_w=sw, dil_h=1, dil_w=1,
                  pad_h=compute_padding(o["padding"], oh, fh, sh, 1, ih),
                  pad_w=compute_padding(o["padding"], ow, fw, sw, 1, iw),
                  depth_multiplier=1, in_offset=-x.zp, out_offset=y.zp,
                  act_min=act_min, act_max=act_max, mult=mult, shift=shift, scratch_bytes=0)
    return Lowered(kernel, "ek_conv_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_transpose_conv.c")
