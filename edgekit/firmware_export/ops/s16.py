"""int16-activation (TFLite 16x8) lowerings: FULLY_CONNECTED, CONV_2D, ADD,
SOFTMAX.

16x8 tensors: int16 activations with zero point 0, int8 symmetric weights,
int64 bias.  Multipliers are computed as for int8 (double); conv/FC
requantize their 64-bit accumulators with TFLite's 16-bit-rounded
multiplier (the kernels' ek_mbqm64); ADD uses the int8 scheme with 15 bits
of headroom (TFLM add_common.cc, pot_scale_int16 = false)."""

from __future__ import annotations

import functools
import math

from edgekit.firmware_export.ops.add import broadcast_params
from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation, require_int16)
from edgekit.firmware_export.quant import (activation_range, f32, per_channel_multipliers,
                                           quantize_multiplier)

I16 = (-32768, 32767)


def check_weights(op, w, b, n_out) -> None:
    """16x8 weights: constant symmetric int8; bias None or ``n_out`` constant int64."""
    if w.dtype != "int8" or not w.is_const or not len(w.scale):
        raise fail(op, "weights must be a constant quantized int8 tensor")
    if any(int(z) != 0 for z in w.zero_point):
        raise fail(op, "weight zero points must be 0 (symmetric int8 weights)")
    if b is not None:
        if b.dtype != "int64" or not b.is_const:
            raise fail(op, f"bias must be a constant int64 tensor (got {b.dtype})")
        if b.num_elements != n_out:
            raise fail(op, f"bias has {b.num_elements} entries for {n_out} outputs")


def check_shifts(op, shifts) -> None:
    """The 64-bit requantization's shifts must lie in [-31, 7]."""
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
    check_weights(op, w, b, units)
    if accum <= 0 or x.num_elements % accum:
        raise fail(op, f"input of {x.num_elements} elements is not a multiple of {accum}")
    batches = x.num_elements // accum
    if y.num_elements != batches * units:
        raise fail(op, f"output has {y.num_elements} elements, expected {batches * units}")
    per_channel = len(w.scale) > 1
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, units if per_channel else 1)
    check_shifts(op, shift)
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, 0, *I16)
    params = dict(batches=batches, accum=accum, units=units, in_offset=0, filter_offset=0,
                  out_offset=0, act_min=act_min, act_max=act_max,
                  per_channel=int(per_channel), mult=mult, shift=shift)
    return Lowered("ek_fully_connected_s16", "ek_fc_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_fully_connected_s16.c")


def lower_conv_like(op, graph, *, depthwise: bool) -> Lowered:
    """CONV_2D or DEPTHWISE_CONV_2D with int16 input/output and int8 filters (TFLite 16x8).

    Parameters
    ----------
    op, graph
        The operator and its graph.
    depthwise : bool
        DEPTHWISE_CONV_2D (filters 1 x H x W x (C * M)) instead of CONV_2D
        (filters O x H x W x C / groups).

    Returns
    -------
    Lowered
        ``ek_depthwise_conv2d_s16`` or ``ek_conv2d_s16`` with ``ek_conv_params``
        (zero points 0, per-channel multipliers).
    """
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
    if depthwise and (yn != n or wn != 1 or fc != oc or ic <= 0 or oc % ic):
        raise fail(op, f"depthwise filter shape {list(w.shape)} does not match input {ic} / "
                       f"output {oc}")
    if not depthwise and (wn != oc or fc <= 0 or ic % fc or oc % (ic // fc)):
        raise fail(op, f"filter shape {list(w.shape)} does not match input {ic} / output {oc}")
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    if min(sh, sw, dh, dw, *((fh, fw) if depthwise else ())) < 1:
        raise fail(op, f"strides/dilations must be >= 1 (got {sh},{sw},{dh},{dw})")
    for name, got, exp in (("height", oh, expected_out(o["padding"], ih, fh, sh, dh)),
                           ("width", ow, expected_out(o["padding"], iw, fw, sw, dw))):
        if got != exp:
            raise fail(op, f"output {name} {got} does not match padding {o['padding']} ({exp})")
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, oc)
    check_shifts(op, shift)
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, 0, *I16)
    params = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  f_h=fh, f_w=fw, f_in_c=1 if depthwise else fc, stride_h=sh, stride_w=sw,
                  dil_h=dh, dil_w=dw,
                  pad_h=compute_padding(o["padding"], ih, fh, sh, dh, oh),
                  pad_w=compute_padding(o["padding"], iw, fw, sw, dw, ow),
                  depth_multiplier=oc // ic if depthwise else 1, in_offset=0, out_offset=0,
                  act_min=act_min, act_max=act_max, mult=mult, shift=shift)
    name, source = (("ek_depthwise_conv2d_s16", "ek_depthwise_conv_s16.c") if depthwise
                    else ("ek_conv2d_s16", "ek_conv_s16.c"))
    return Lowered(name, "ek_conv_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source=source)


def lower_conv(op, graph) -> Lowered:
    """CONV_2D with int16 input/output: :func:`lower_conv_like`."""
    return lower_conv_like(op, graph, depthwise=False)


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


# ---- SOFTMAX (int16 -> int16) ----------------------------------------------
#
# TFLM's int16 softmax (softmax_common.cc, reference_ops::SoftmaxInt16) looks
# exp(x) on [-10, 0] and 1 / (1 + x) on [0, 1] up in two 513-entry int16
# tables it fills at Prepare with float arithmetic (gen_lut), and interpolates
# them linearly on the low 7 bits of the int16 argument.  The tables do not
# depend on the model; they are computed here with the same float32 steps and
# emitted as constants.

LUT_STEPS = 512


def _f32_exp(x):
    """exp of a float32 as float32.  TFLM calls the C library's expf; over the
    1025 arguments gen_lut uses, glibc's expf, numpy's float32 exp and exp in
    double rounded to float32 give the same tables (checked by
    tests/test_kernel_softmax_s16.py), so the export does not depend on the
    host's C library."""
    import numpy as np  # noqa: PLC0415
    return np.float32(math.exp(float(x)))


def _f32_one_over_one_plus_x(x):
    import numpy as np  # noqa: PLC0415
    return np.float32(1.0) / (np.float32(1.0) + x)


def _roundf(x) -> float:
    """C's roundf: half away from zero (exact for any float32 in double)."""
    v = float(x)
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def gen_lut_s16(func, input_min: float, input_max: float) -> list[int]:
    """TFLM's gen_lut<float, int16_t, int16_t>(func, input_min, input_max,
    -1, 1): 512 samples biased by half the midpoint interpolation error, plus
    func(input_max) for the slope of the last segment; every step in float32."""
    import numpy as np  # noqa: PLC0415
    f = np.float32
    lo, hi = f(input_min), f(input_max)
    step = (hi - lo) / f(LUT_STEPS)
    half_step = step / f(2)
    scale = f(65536) / (f(1) - f(-1))           # output_scaling_inv
    out = []
    for i in range(LUT_STEPS):
        x = lo + f(i) * step
        val = func(x)
        val_mid = func(x + half_step)
        val_next = func(lo + f(i + 1) * step)
        sample = _roundf(val * scale)
        interp = _roundf((val_next * scale + f(_roundf(val * scale))) / f(2))
        mid = _roundf(val_mid * scale)
        bias = _roundf(f(interp - mid) / f(2))
        out.append(int(min(max(sample - bias, -32768.0), 32767.0)))
    out.append(int(min(max(_roundf(func(hi) * scale), -32768.0), 32767.0)))
    return out


def pack_s16(values: list[int]) -> list[int]:
    """int16 values two to an int32 word (entry 2k in the low half)."""
    import numpy as np  # noqa: PLC0415
    v = list(values) + [0] * (len(values) % 2)
    b = np.asarray(v, np.int64).astype("<i2").view("<u2").astype(np.int64)
    words = b[0::2] | (b[1::2] << 16)
    return [int(w) - (1 << 32) if w >= (1 << 31) else int(w) for w in words]


@functools.lru_cache(maxsize=1)
def softmax_luts() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(exp table on [-10, 0], 1 / (1 + x) table on [0, 1]), 513 entries each."""
    return (tuple(gen_lut_s16(_f32_exp, -10.0, 0.0)),
            tuple(gen_lut_s16(_f32_one_over_one_plus_x, 0.0, 1.0)))


def lower_softmax(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    require_int16(op, x, y)
    if abs(f32(y.s) - 1.0 / 32768) > 0.001 / 32768:
        raise fail(op, f"int16 softmax output must have scale 1/32768 (got {y.s})")
    if not x.shape or x.num_elements != y.num_elements:
        raise fail(op, "input and output shapes differ")
    depth = int(x.shape[-1])
    if depth <= 0 or depth > 65535:
        raise fail(op, f"softmax depth {depth} outside 1..65535")
    beta = f32(op.options.get("beta", 1.0))
    mult, shift = quantize_multiplier(f32(x.s) * beta / (10.0 / 65535.0))
    if not -31 <= shift <= 14:
        raise fail(op, f"input rescale shift {shift} outside [-31, 14]")
    exp_lut, recip_lut = softmax_luts()
    params = dict(outer=x.num_elements // depth, depth=depth, input_multiplier=mult,
                  input_left_shift=shift, exp_lut=pack_s16(exp_lut),
                  recip_lut=pack_s16(recip_lut))
    return Lowered("ek_softmax_s16", "ek_softmax_s16_params", params, [x.index, y.index],
                   source="ek_softmax_s16.c")
