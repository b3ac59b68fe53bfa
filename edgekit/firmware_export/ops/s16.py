"""int16-activation (TFLite 16x8) lowerings: FULLY_CONNECTED, CONV_2D, ADD.

16x8 tensors: int16 activations with zero point 0, int8 symmetric weights,
int64 bias.  Multipliers are computed as for int8 (double); conv/FC
requantize their 64-bit accumulators with TFLite's 16-bit-rounded
multiplier (the kernels' ek_mbqm64); ADD uses the int8 scheme with 15 bits
of headroom (TFLM add_common.cc, pot_scale_int16 = false)."""

from __future__ import annotations

from edgekit.firmware_export.ops.add import broadcast_params
from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation)
from edgekit.firmware_export.quant import (activation_range, f32, per_channel_multipliers,
                                           quantize_multiplier)

I16 = (-32768, 32767)


def require_int16(op, *tensors) -> None:
    for t in tensors:
        if t.dtype != "int16":
            raise fail(op, f"tensor {t.index} ({t.name!r}) is {t.dtype}; this kernel needs int16")
        if not len(t.scale):
            raise fail(op, f"tensor {t.index} ({t.name!r}) has no quantization parameters")
        if any(int(z) != 0 for z in t.zero_point):
            raise fail(op, f"int16 tensor {t.index} must have zero point 0")


def _weights(op, w, b, n_out) -> None:
    if w.dtype != "int8" or not w.is_const or not len(w.scale):
        raise fail(op, "weights must be a constant quantized int8 tensor")
    if any(int(z) != 0 for z in w.zero_point):
        raise fail(op, "weight zero points must be 0 (symmetric int8 weights)")
    if b is not None:
        if b.dtype != "int64" or not b.is_const:
            raise fail(op, f"bias must be a constant int64 tensor (got {b.dtype})")
        if b.num_elements != n_out:
            raise fail(op, f"bias has {b.num_elements} entries for {n_out} outputs")


def _check_shifts(op, shifts) -> None:
    if any(not -31 <= s <= 7 for s in shifts):
        raise fail(op, "a requantization shift is outside [-31, 7]")


def lower_fc(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int16(op, x, y)
    if len(w.shape) != 2:
        raise fail(op, "weights must be 2-D")
    if op.options.get("weights_format", 0) != 0:
        raise fail(op, "shuffled weight formats are not supported")
    units, accum = (int(d) for d in w.shape)
    _weights(op, w, b, units)
    if accum <= 0 or x.num_elements % accum:
        raise fail(op, f"input of {x.num_elements} elements is not a multiple of {accum}")
    batches = x.num_elements // accum
    if y.num_elements != batches * units:
        raise fail(op, f"output has {y.num_elements} elements, expected {batches * units}")
    per_channel = len(w.scale) > 1
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, units if per_channel else 1)
    _check_shifts(op, shift)
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, 0, *I16)
    params = dict(batches=batches, accum=accum, units=units, in_offset=0, filter_offset=0,
                  out_offset=0, act_min=act_min, act_max=act_max,
                  per_channel=int(per_channel), mult=mult, shift=shift)
    return Lowered("ek_fully_connected_s16", "ek_fc_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_fully_connected_s16.c")


def lower_conv(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int16(op, x, y)
    require_activation(op, x)
    o = op.options
    n, ih, iw, ic = nhwc(op, x)
    _, oh, ow, oc = nhwc(op, y)
    wn, fh, fw, fc = nhwc(op, w)
    _weights(op, w, b, oc)
    if wn != oc or fc <= 0 or ic % fc or oc % (ic // fc):
        raise fail(op, f"filter shape {list(w.shape)} does not match input {ic} / output {oc}")
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    if min(sh, sw, dh, dw) < 1:
        raise fail(op, f"strides/dilations must be >= 1 (got {sh},{sw},{dh},{dw})")
    for name, got, exp in (("height", oh, expected_out(o["padding"], ih, fh, sh, dh)),
                           ("width", ow, expected_out(o["padding"], iw, fw, sw, dw))):
        if got != exp:
            raise fail(op, f"output {name} {got} does not match padding {o['padding']} ({exp})")
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, oc)
    _check_shifts(op, shift)
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, 0, *I16)
    params = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  f_h=fh, f_w=fw, f_in_c=fc, stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw,
                  pad_h=compute_padding(o["padding"], ih, fh, sh, dh, oh),
                  pad_w=compute_padding(o["padding"], iw, fw, sw, dw, ow),
                  depth_multiplier=1, in_offset=0, out_offset=0,
                  act_min=act_min, act_max=act_max, mult=mult, shift=shift)
    return Lowered("ek_conv2d_s16", "ek_conv_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_conv_s16.c")


ADD_LEFT_SHIFT = 15


def lower_add(op, graph) -> Lowered:
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int16(op, a, b, y)
    if op.options.get("pot_scale_int16", True):
        raise fail(op, "int16 ADD with pot_scale_int16 (power-of-two scales) is not supported")
    twice_max = 2.0 * max(f32(a.s), f32(b.s))
    m1, sh1 = quantize_multiplier(f32(a.s) / twice_max)
    m2, sh2 = quantize_multiplier(f32(b.s) / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * f32(y.s)))
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, 0, *I16)
    params = broadcast_params(op, a, b, y)
    params.update(in1_offset=0, in2_offset=0, out_offset=0, left_shift=ADD_LEFT_SHIFT,
                  in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
                  out_mult=mo, out_shift=sho, act_min=act_min, act_max=act_max)
    inplace = tuple(t.index for t in (a, b) if list(t.shape) == list(y.shape) and not t.is_const)
    return Lowered("ek_add_s16", "ek_add_params", params, [a.index, b.index, y.index],
                   source="ek_add_s16.c", inplace=inplace)


def by_dtype(int8_lower, int16_lower):
    """A lowering that picks the int16 one when the op's first input is int16."""
    def lower(op, graph):
        x = graph.op_inputs(op)[0]
        if x is not None and x.dtype == "int16":
            return int16_lower(op, graph)
        return int8_lower(op, graph)
    return lower
