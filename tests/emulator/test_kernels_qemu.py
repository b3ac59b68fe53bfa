"""Per-op golden tests of the optimized kernels on Cortex-M under QEMU.

The host tests (tests/test_kernel_*.py) compile only the plain-C path of
``kernels/optimized/*.c``; the ``__ARM_FEATURE_DSP`` intrinsics and inline
asm run only when the code is built for a DSP core.  Here every case is a
small single-op int8 model, exported by edgekit, built for ``cortex-m4``
(DSP path) or ``cortex-m3`` / ``cortex-m0plus`` (no DSP: plain-C path with
the target compiler) and run under QEMU; tflite_micro is the golden
reference, byte for byte.

Each case is a fixed structural choice (the shapes that steer the kernels'
code paths: odd channel counts, im2col window size around EKOPT_KMAX,
depthwise channel groups of 4 and tap-table limit, FC accumulation depth
around chunk/loop/widen limits) plus a seed that draws everything else
(spatial size, output channels, activation, bias, input range, weights,
inputs).  The seed is in every failure message.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from tests.kernel_harness import opcodes, random_inputs, run_generated_qemu, single_op_model
from tests.shared_data import missing

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None
                       or shutil.which("qemu-system-arm") is None,
                       reason="arm-none-eabi-gcc or qemu-system-arm missing"),
]

M4, M3, M0 = "cortex-m4", "cortex-m3", "cortex-m0plus"
N_INPUTS = 6


def _check_qemu(model: bytes, seed: int, case: dict, target: str, expect_op: str,
                scratch_allowance: int | None = None) -> None:
    """Assert the firmware's outputs equal tflite_micro's, byte for byte."""
    from edgekit.reference import run_tflm

    ops_ = opcodes(model)
    assert expect_op in ops_, f"seed={seed} case={case}: no {expect_op} in {ops_}"
    xs = random_inputs(model, N_INPUTS, seed)
    xs[0] = -128            # saturating inputs in the first two cases
    xs[1] = 127
    ref = np.asarray(run_tflm(model, xs))
    got = run_generated_qemu(model, xs, target=target, scratch_allowance=scratch_allowance)
    ref = ref.reshape(got.shape).astype(np.int8)
    if not np.array_equal(got, ref):
        bad = np.argwhere(got != ref)
        d = np.abs(got.astype(np.int32) - ref.astype(np.int32))
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"seed={seed} target={target} case={case} ops={ops_}: not bit-exact with "
            f"tflite_micro: {len(bad)} of {d.size} values differ, max diff {d.max()}, first "
            f"at {first}: ours {got[first]} tflm {ref[first]}")


def _common(r: np.random.Generator) -> dict:
    return dict(act=str(r.choice(["linear", "relu", "relu6"])), use_bias=bool(r.random() < 0.8),
                lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))


# ---------------------------------------------------------------- CONV_2D
# (target, seed, in_c, kernel, stride, padding); K = kh * kw * in_c picks
# the DSP route: K <= 576 im2col + asm micro-kernel (K % 4 = tail), else
# the run-based path with SXTAB16/SMLAD intrinsics.
CONV_CASES = [
    (M4, 1, 1, (3, 3), 1, "same"),      # K=9: two chunks + tail 1, borders
    (M4, 2, 3, (3, 3), 2, "valid"),     # K=27: tail 3
    (M4, 3, 5, (5, 2), 2, "same"),      # K=50: tail 2, asymmetric window
    (M4, 4, 8, (1, 1), 1, "valid"),     # K=8: 1x1, no tail
    (M4, 5, 17, (3, 3), 1, "same"),     # K=153
    (M4, 6, 17, (1, 1), 2, "same"),     # strided 1x1
    (M4, 7, 3, (5, 2), 1, "valid"),
    (M4, 8, 8, (3, 3), 2, "same"),      # K=72: even chunk count
    (M4, 9, 64, (3, 3), 1, "same"),     # K=576 = EKOPT_KMAX: largest im2col window
    (M4, 10, 65, (3, 3), 2, "same"),    # K=585 > EKOPT_KMAX: intrinsics path
    (M3, 11, 5, (3, 3), 2, "same"),
    (M3, 12, 17, (1, 1), 1, "valid"),   # plain-C 1x1 matrix-product path
    (M0, 13, 3, (5, 2), 1, "same"),
]


@pytest.mark.parametrize("target,seed,cin,kernel,stride,padding", CONV_CASES)
def test_conv_2d_qemu(target, seed, cin, kernel, stride, padding):
    import keras
    r = np.random.default_rng(70000 + seed)
    big = cin > 32
    h = int(r.integers(kernel[0] + 1, 6 if big else 10))
    w = int(r.integers(kernel[1] + 1, 6 if big else 10))
    cout = int(r.integers(1, 6 if big else 12))
    c = dict(h=h, w=w, cin=cin, cout=cout, kernel=kernel, stride=stride, padding=padding,
             **_common(r))

    def build(ins):
        return keras.layers.Conv2D(c["cout"], c["kernel"], strides=c["stride"],
                                   padding=c["padding"], activation=c["act"],
                                   use_bias=c["use_bias"],
                                   bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, cin)], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "CONV_2D")


# Six-pixel path (K rounded up to 4 <= 288, >= 6 output pixels, activation
# range all of int8: linear, or relu with output zero point -128):
# (seed, h, w, in_c, kernel, stride, padding, out_c, tiny) with K % 4 tails
# 0..3, chunk counts % 4 = 0..3 (TBB entry), 6 pixels exactly and 7 (the
# last group moved back), one-channel 10x4 windows at stride 2 (KWS's first
# layer), K = 288 (the largest buffer; K = 576 above takes the 2-pixel
# path).  `tiny` scales the weights of the first output channels down so
# that their right shift exceeds 22 (output offset added outside the 64-bit
# sum).
SIX_CASES = [
    (101, 13, 8, 1, (10, 4), 2, "same", 9, ()),     # K=40: 10 chunks, padding
    (102, 7, 6, 1, (3, 3), 1, "same", 5, ()),       # K=9: tail 1
    (103, 9, 9, 3, (3, 3), 2, "valid", 7, ()),      # K=27: tail 3
    (104, 6, 5, 2, (3, 1), 1, "same", 4, ()),       # K=6: tail 2
    (105, 2, 3, 8, (1, 1), 1, "valid", 6, ()),      # 6 pixels exactly, 2 chunks
    (106, 1, 7, 12, (1, 1), 1, "valid", 11, ()),    # 7 pixels, 3 chunks
    (107, 5, 5, 64, (1, 1), 1, "valid", 13, ()),    # KWS pointwise shape, 16 chunks
    (108, 4, 5, 20, (1, 1), 2, "same", 3, ()),      # 5 chunks, strided 1x1
    (109, 5, 4, 32, (3, 3), 1, "same", 5, ()),      # K=288: largest buffer
    (110, 5, 6, 13, (3, 3), 1, "valid", 3, ()),     # K=117: 29 chunks + tail 1
    (111, 5, 5, 16, (1, 1), 1, "valid", 8, (1e-5, 1e-7)),   # right shifts > 22
    (112, 6, 6, 4, (3, 3), 1, "same", 6, (1e-6,)),
    # Channel pairs (ek_conv_pair.h: even out_c, K 40 or a multiple of 32,
    # shifts within 2..22): KWS's pointwise K=64 over 25 pixels (last group moved
    # back; one loop trip, no test), K=32 over 9 pixels, K=288 3x3 with
    # padding (9 trips of 8 chunks), K=96 over 6 pixels (3 trips), K=128
    # (2 trips of 16 chunks).
    (113, 5, 5, 64, (1, 1), 1, "valid", 14, ()),
    (114, 3, 3, 32, (1, 1), 1, "valid", 8, ()),
    (115, 5, 4, 32, (3, 3), 1, "same", 6, ()),
    (116, 2, 3, 96, (1, 1), 1, "valid", 2, ()),
    (117, 2, 4, 128, (1, 1), 1, "valid", 4, ()),
    # K=40: KWS's 10x4 stride-2 stem on one channel (10 chunks, one trip),
    # with padding.
    (118, 13, 8, 1, (10, 4), 2, "same", 8, ()),
]


@pytest.mark.parametrize("seed,h,w,cin,kernel,stride,padding,cout,tiny", SIX_CASES)
def test_conv_2d_qemu_six_pixel_path(seed, h, w, cin, kernel, stride, padding, cout, tiny,
                                     tmp_path):
    import keras
    r = np.random.default_rng(75000 + seed)
    act = str(r.choice(["linear", "relu"]))
    wts = r.standard_normal((kernel[0], kernel[1], cin, cout)).astype(np.float32) * 0.3
    for j, t in enumerate(tiny):
        wts[..., j] *= t
    c = dict(h=h, w=w, cin=cin, cout=cout, kernel=kernel, stride=stride, padding=padding,
             act=act, tiny=tiny, lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))

    def build(ins):
        return keras.layers.Conv2D(cout, kernel, strides=stride, padding=padding, activation=act,
                                   kernel_initializer=keras.initializers.Constant(wts),
                                   bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, cin)], seed, low=c["lo"], high=c["hi"])
    K = kernel[0] * kernel[1] * cin
    allow = None
    if seed >= 113:
        # The channel-pair cases, with room for the six-pixel buffer: the
        # generator must list (so the kernel compiles and takes) the pair
        # loop of this window.
        from edgekit.firmware_export import generate, read_tflite
        allow = BIG
        generate(read_tflite(m), tmp_path, scratch_allowance=allow)
        assert re.search(rf"#define EKOPT_CONV_PAIR{K}\s+1\b",
                         (tmp_path / "ek_paths.h").read_text()), f"seed={seed}: no pair loop"
    _check_qemu(m, seed, c, M4, "CONV_2D", scratch_allowance=allow)


# ------------------------------------------------------ DEPTHWISE_CONV_2D
# (target, seed, channels, kernel, stride, padding, depth_multiplier): the
# optimized kernel runs one channel at a time on an int16 plane (3-row
# filters at column stride 1 or 2: assembly row loops of 4 outputs and a
# 1-output tail; other filters: the generic pair loop), or groups of 4
# channels on a group plane (multiplier 1, many channels, small planes or
# fh x 1 filters; SMLABB/SMLATT, 3x3 taps in assembly), the last in_c % 4
# channels then on the int16 plane.
DW_CASES = [
    (M4, 31, 16, (3, 3), 1, "same", 1),  # int16 plane, stride-1 assembly rows
    (M4, 32, 16, (3, 3), 2, "same", 1),  # int16 plane, stride-2 assembly rows
    (M4, 33, 64, (3, 3), 1, "same", 1),  # group plane (small plane, 64 channels)
    (M4, 34, 42, (5, 1), 1, "valid", 1),  # group plane, fh x 1 taps, + 2 plane channels
    (M4, 35, 1, (3, 3), 1, "same", 8),   # 1 -> 8 channels on one plane

    (M4, 21, 3, (3, 3), 1, "same", 1),   # only a partial group
    (M4, 22, 5, (3, 3), 2, "valid", 1),  # one DSP group + 1
    (M4, 23, 7, (3, 3), 2, "same", 1),   # one DSP group + 3, borders at stride 2
    (M4, 24, 12, (5, 5), 1, "same", 1),  # three DSP groups, 25 taps (not 3-wide rows)
    (M4, 25, 6, (2, 4), 1, "valid", 1),
    (M4, 26, 4, (9, 9), 1, "same", 1),   # 81 taps > EKOPT_DW_MAXTAPS: plain loop
    (M4, 27, 9, (1, 1), 2, "same", 1),
    (M4, 28, 3, (3, 3), 1, "same", 2),   # depth_multiplier 2: generic loop
    (M3, 29, 6, (3, 3), 1, "same", 1),
    (M0, 30, 5, (3, 2), 2, "valid", 1),
]


@pytest.mark.parametrize("target,seed,ch,kernel,stride,padding,mult", DW_CASES)
def test_depthwise_conv_2d_qemu(target, seed, ch, kernel, stride, padding, mult):
    import keras
    r = np.random.default_rng(71000 + seed)
    h = int(r.integers(kernel[0] + 1, kernel[0] + 8))
    w = int(r.integers(kernel[1] + 1, kernel[1] + 8))
    c = dict(h=h, w=w, c=ch, kernel=kernel, stride=stride, padding=padding, mult=mult,
             **_common(r))

    def build(ins):
        return keras.layers.DepthwiseConv2D(c["kernel"], strides=c["stride"],
                                            depth_multiplier=c["mult"], padding=c["padding"],
                                            activation=c["act"], use_bias=c["use_bias"],
                                            bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, ch)], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "DEPTHWISE_CONV_2D")


# The stride-1 assembly rows run two blocks of four outputs per loop trip,
# entered at the second for an odd count: rows of 12 (3 blocks) and 16 (4).
@pytest.mark.parametrize("seed,hw", [(41, 12), (42, 16)])
def test_depthwise_conv_2d_qemu_row_blocks(seed, hw):
    import keras
    r = np.random.default_rng(71000 + seed)
    c = dict(h=hw, w=hw, c=8, act="linear", lo=float(-r.uniform(0.1, 4)),
             hi=float(r.uniform(0.1, 4)))

    def build(ins):
        return keras.layers.DepthwiseConv2D((3, 3), padding="same",
                                            bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(hw, hw, 8)], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, M4, "DEPTHWISE_CONV_2D")


# ----------------------------------------- CONV_2D, int16 activations (16x8)
# (seed, input h/w/c, filters, kernel, stride, dilation, padding); K = kh * kw
# * in_c: 4 <= K <= 512 takes the patch path of kernels/optimized/ek_conv_s16.c
# (K % 4 = tail, K > 256 two int32 partial sums), K < 4 the reference loop.
S16_CONV_CASES = [
    (91, (9, 6, 1), 5, (4, 3), 2, 1, "same"),    # one channel, K=12, odd filters, borders
    (92, (7, 7, 3), 4, (3, 3), 1, 1, "valid"),   # K=27: tail 3
    (93, (6, 6, 5), 6, (3, 2), 1, 2, "same"),    # K=30: tail 2, dilation 2
    (94, (5, 5, 33), 3, (3, 3), 2, 1, "same"),   # K=297: two partial sums, tail 1
    (95, (6, 5, 2), 3, (1, 1), 1, 1, "same"),    # K=2: the reference loop
]


@pytest.mark.parametrize("seed,hwc,filters,k,stride,dil,pad", S16_CONV_CASES)
def test_conv_s16_qemu(seed, hwc, filters, k, stride, dil, pad):
    import keras

    from edgekit.reference import run_tflm
    from tests.kernel_harness import single_op_model_16x8
    r = np.random.default_rng(73000 + seed)
    c = dict(act=str(r.choice(["linear", "relu"])), use_bias=bool(r.random() < 0.8))
    m = single_op_model_16x8(
        lambda ins: keras.layers.Conv2D(filters, k, strides=stride, dilation_rate=dil,
                                        padding=pad, activation=c["act"], use_bias=c["use_bias"],
                                        bias_initializer="random_normal")(ins[0]),
        [hwc], seed, low=-3.0, high=3.0)
    assert "CONV_2D" in opcodes(m), opcodes(m)
    xs = r.integers(-32768, 32768, (N_INPUTS, *hwc)).astype(np.int16)
    xs[0] = -32768          # saturating inputs in the first two cases
    xs[1] = 32767
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs, target=M4)
    ref = ref.reshape(got.shape).astype(np.int16)
    assert np.array_equal(got, ref), (
        f"seed={seed} case={c}: {int((got != ref).sum())} of {got.size} values differ from "
        f"tflite_micro")


# -------------------------------------------------------- FULLY_CONNECTED
# (target, seed, input shape, units): accum // 4 = chunks; odd chunks take
# the one-chunk prologue, pairs the asm loop, accum % 4 the scalar tail,
# accum > 1024 is not widened (scalar loop on DSP cores too).
FC_CASES = [
    (M4, 41, (3,), 1),         # no chunk, tail only
    (M4, 42, (7,), 5),         # 1 chunk (prologue) + 3
    (M4, 43, (13,), 3),        # 3 chunks: prologue + one loop trip, tail 1
    (M4, 44, (37,), 17),       # 9 chunks, tail 1
    (M4, 45, (4, 22), 9),      # 3-D input: batches of 22 (5 chunks + 2)
    (M4, 46, (1030,), 7),      # > EKOPT_FC_MAXACC
    # Two-unit LDRD path (accum % 4 == 0, >= 8): steps of 8 inputs % 4 =
    # 0..3 (TBB entry), accum % 8 == 4 (scalar tail), odd units (last one on
    # the one-chunk path), batches of 2, and the widening limit.
    (M4, 49, (8,), 4),         # 1 step
    (M4, 50, (16,), 5),        # 2 steps, odd units
    (M4, 51, (24,), 6),        # 3 steps
    (M4, 52, (64,), 3),        # 8 steps
    (M4, 53, (36,), 7),        # 4 steps + 4 inputs scalar
    (M4, 54, (2, 40), 4),      # batches of 40 (5 steps)
    (M4, 55, (1024,), 2),      # = EKOPT_FC_MAXACC
    (M4, 56, (45,), 1),        # one unit: no widening, 8 + 4 inputs per step + 1 scalar
    (M3, 47, (29,), 11),
    (M0, 48, (21,), 3),
]


@pytest.mark.parametrize("target,seed,shape,units", FC_CASES)
def test_fully_connected_qemu(target, seed, shape, units):
    import keras
    r = np.random.default_rng(72000 + seed)
    c = dict(shape=shape, units=units, **_common(r))

    def build(ins):
        return keras.layers.Dense(c["units"], activation=c["act"], use_bias=c["use_bias"],
                                  bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [shape], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "FULLY_CONNECTED")


# Rows of 9..15 inputs (kernels/optimized/ek_fc_tiny.h, EKOPT_FC_TINY<A>):
# the row widened in registers, a table of bias, widened weights and
# requantization per unit; every A % 4, batches, no bias, one unit and the
# 32-unit limit; 33 units keep the C loop.  (seed, input
# shape, units, bias, activation, tiny path taken).
FC_TINY_CASES = [
    (71, (9,), 5, True, "linear", True),
    (72, (10,), 32, False, "linear", True),
    (73, (3, 11), 6, True, "linear", True),
    (74, (12,), 1, True, "linear", True),
    (75, (13,), 7, True, "linear", True),
    (76, (2, 14), 9, True, "linear", True),
    (77, (15,), 33, True, "linear", False),
    (78, (15,), 4, True, "relu", True),   # ReLU's range: zero point -128, all of int8
]


@pytest.mark.parametrize("seed,shape,units,use_bias,act,tiny", FC_TINY_CASES)
def test_fully_connected_qemu_tiny(seed, shape, units, use_bias, act, tiny, tmp_path):
    import re
    import keras
    from edgekit.reference import run_tflm
    r = np.random.default_rng(72500 + seed)
    c = dict(shape=shape, units=units, use_bias=use_bias, act=act)

    def build(ins):
        return keras.layers.Dense(units, activation=act, use_bias=use_bias,
                                  bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [shape], seed, low=float(-r.uniform(0.1, 4)),
                        high=float(r.uniform(0.1, 4)))
    xs = random_inputs(m, N_INPUTS, seed)
    xs[0] = -128
    xs[1] = 127
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs, target=M4, keep=tmp_path)
    np.testing.assert_array_equal(got, ref.reshape(got.shape).astype(np.int8),
                                  err_msg=f"seed={seed} case={c}")
    listed = set(re.findall(r"#define (EKOPT_FC_TINY\d+)\s+1\b",
                            (tmp_path / "src" / "ek_paths.h").read_text()))
    assert listed == ({f"EKOPT_FC_TINY{shape[-1]}"} if tiny else set()), (seed, listed)


# -------------------------------------------------------------------- ADD
# (target, seed, kind): same shape (two activations, or a constant), and
# broadcast (a constant vector, or a one-channel branch); SUB shares the kernel.
ADD_CASES = [
    (M4, 61, "branch"),
    (M4, 62, "const"),
    (M4, 63, "bcast_const"),
    (M4, 64, "bcast_branch"),
    (M3, 65, "branch"),
    (M0, 66, "bcast_const"),
    (M4, 67, "sub"),
    (M3, 68, "sub"),
]


@pytest.mark.parametrize("target,seed,kind", ADD_CASES)
def test_add_qemu(target, seed, kind):
    import keras
    r = np.random.default_rng(73000 + seed)
    h, w, ch = (int(r.integers(1, 8)) for _ in range(3))
    other = (ch,) if kind == "bcast_const" else (h, w, ch)
    c = dict(shape=(h, w, ch), kind=kind, other=other, relu=bool(r.random() < 0.3),
             cscale=float(r.uniform(0.1, 5)), lo=float(-r.uniform(0.1, 4)),
             hi=float(r.uniform(0.1, 4)))
    k = (r.standard_normal(other) * c["cscale"]).astype(np.float32)

    def build(ins):
        x = ins[0]
        if kind == "branch":
            y = keras.layers.Add()([x, keras.layers.Conv2D(ch, 1)(x)])
        elif kind == "sub":
            y = keras.layers.Subtract()([x, keras.layers.Conv2D(ch, 1)(x)])
        elif kind == "bcast_branch":   # [1,H,W,C] + [1,H,W,1]
            y = keras.layers.Add()([x, keras.layers.Conv2D(1, 2, padding="same")(x)])
        else:
            y = keras.ops.add(x, k)
        return keras.layers.ReLU()(y) if c["relu"] else y

    m = single_op_model(build, [(h, w, ch)], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "SUB" if kind == "sub" else "ADD")


# ---------------------------------------------------- AVERAGE/MAX_POOL_2D
# (target, seed, kind, (h, w, c), pool, stride, padding): channel counts with
# 8- and 4-channel blocks and a scalar tail, windows clipped by SAME padding,
# a global pool over whole rows (KWS: 25x5x64), and a window of more than
# 256 pixels (the 32-bit per-channel path of the average).
POOL_CASES = [
    (M4, 81, "avg", (25, 5, 64), (25, 5), (1, 1), "valid"),
    (M4, 82, "avg", (9, 7, 13), (3, 3), (2, 2), "same"),
    (M4, 83, "avg", (6, 6, 7), (2, 3), (1, 2), "same"),
    (M4, 84, "avg", (20, 15, 9), (20, 15), (1, 1), "valid"),
    (M4, 85, "max", (9, 7, 13), (3, 3), (2, 2), "same"),
    (M4, 86, "max", (8, 8, 16), (2, 2), (2, 2), "valid"),
    (M3, 87, "avg", (9, 7, 13), (3, 3), (2, 2), "same"),
    (M3, 88, "avg", (20, 15, 9), (20, 15), (1, 1), "valid"),
    (M3, 89, "max", (9, 7, 13), (3, 3), (2, 2), "same"),
    (M0, 90, "avg", (5, 5, 6), (3, 3), (1, 1), "same"),
]


@pytest.mark.parametrize("target,seed,kind,shape,pool,stride,padding", POOL_CASES)
def test_pooling_qemu(target, seed, kind, shape, pool, stride, padding):
    import keras
    r = np.random.default_rng(74000 + seed)
    c = dict(shape=shape, kind=kind, pool=pool, stride=stride, padding=padding,
             relu=bool(r.random() < 0.4), lo=float(-r.uniform(0.1, 4)),
             hi=float(r.uniform(0.1, 4)))
    layer = keras.layers.AveragePooling2D if kind == "avg" else keras.layers.MaxPooling2D

    def build(ins):
        y = layer(pool, strides=stride, padding=padding)(ins[0])
        return keras.layers.ReLU()(y) if c["relu"] else y

    m = single_op_model(build, [shape], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "AVERAGE_POOL_2D" if kind == "avg" else "MAX_POOL_2D")


# ------------------------------------------------------------------- MEAN
# (target, seed, shape, axes): global average over H,W (inner = channels),
# over the last axis (inner = 1), and a long reduction.
MEAN_CASES = [
    (M4, 91, (25, 5, 64), (1, 2)),
    (M4, 92, (7, 3, 13), (1, 2)),
    (M4, 93, (6, 37), (2,)),
    (M4, 94, (40, 30, 5), (1, 2)),
    (M3, 95, (7, 3, 13), (1, 2)),
    (M3, 96, (6, 37), (2,)),
]


@pytest.mark.parametrize("target,seed,shape,axes", MEAN_CASES)
def test_mean_qemu(target, seed, shape, axes):
    import keras
    r = np.random.default_rng(75000 + seed)
    c = dict(shape=shape, axes=axes, keepdims=bool(r.random() < 0.5),
             lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))

    def build(ins):
        return keras.ops.mean(ins[0], axis=axes, keepdims=c["keepdims"])

    m = single_op_model(build, [shape], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "MEAN")


# ------------------------------------------ the DSP path is really built
def test_m4_build_uses_dsp_instructions(tmp_path):
    """The cortex-m4 firmware contains SMLAD (the cases above exercise the
    DSP path); the cortex-m3 one does not (they exercise the plain-C path)."""
    import keras
    objdump = shutil.which("arm-none-eabi-objdump")
    if objdump is None:
        missing("arm-none-eabi-objdump missing")
    m = single_op_model(lambda ins: keras.layers.Conv2D(3, 3)(ins[0]), [(5, 5, 4)], 0)
    xs = random_inputs(m, 1, 0)
    found = {}
    for target in (M4, M3):
        keep = tmp_path / target
        run_generated_qemu(m, xs, target=target, keep=str(keep))
        dis = subprocess.run([objdump, "-d", str(keep / "fw" / "model.elf")],
                             capture_output=True, text=True, check=True).stdout
        found[target] = "smlad" in dis
    assert found == {M4: True, M3: False}


# Dilated CONV_2D (issue 13, no cliffs): on DSP cores the im2col paths
# gather the dilated window tap by tap (ekopt_col_dilated, EKOPT_CONV_DIL)
# into the six- or two-pixel micro-kernels; without DSP, or with no room
# for an im2col buffer (scratch_allowance=0 on a model without in-place),
# the reference loop.  (target, seed, h, w, in_c, kernel, dilation, stride,
# padding, out_c, scratch_allowance, path): BIG lets these tiny models take
# their im2col buffers.
BIG = 1 << 14
DILATED_CASES = [
    (M4, 201, 9, 8, 16, (3, 3), (2, 2), 1, "same", 5, BIG, "SIX"),   # borders
    (M4, 202, 10, 9, 3, (3, 3), (2, 3), 1, "valid", 4, BIG, "SIX"),  # K=27 tail 3, unequal
    (M4, 203, 7, 11, 5, (2, 3), (3, 2), 1, "same", 3, BIG, "SIX"),   # K=30, rows of 15 B
    (M4, 204, 9, 9, 64, (3, 3), (2, 2), 1, "same", 3, BIG, "TWO"),   # K=576
    (M4, 205, 8, 8, 8, (3, 3), (2, 2), 1, "same", 6, 0, "TWO_STACK"),  # no room: stack
    (M4, 207, 8, 8, 40, (3, 3), (2, 2), 1, "same", 3, 0, "REF"),     # no buffer (K=360)
    (M3, 206, 8, 7, 6, (3, 3), (2, 2), 1, "same", 4, BIG, "SIX"),     # no DSP: reference loop
]


@pytest.mark.parametrize("target,seed,h,w,cin,kernel,dil,stride,padding,cout,allow,path",
                         DILATED_CASES)
def test_dilated_conv_2d_qemu(target, seed, h, w, cin, kernel, dil, stride, padding, cout,
                              allow, path, tmp_path):
    import keras
    from edgekit.reference import run_tflm
    r = np.random.default_rng(76000 + seed)
    act = str(r.choice(["linear", "relu"]))
    c = dict(h=h, w=w, cin=cin, cout=cout, kernel=kernel, dil=dil, padding=padding, act=act,
             allow=allow, lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))

    def build(ins):
        return keras.layers.Conv2D(cout, kernel, strides=stride, dilation_rate=dil,
                                   padding=padding, activation=act,
                                   bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, cin)], seed, low=c["lo"], high=c["hi"])
    assert "CONV_2D" in opcodes(m)
    xs = random_inputs(m, N_INPUTS, seed)
    xs[0] = -128
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs, target=target, scratch_allowance=allow, keep=tmp_path)
    np.testing.assert_array_equal(got, ref.reshape(got.shape).astype(np.int8),
                                  err_msg=f"seed={seed} target={target} case={c}")
    # The six-pixel path's channel loops (SIX_CH, SIX_TAIL, PAIR<K>) aside.
    listed = {n for n in _conv_paths_listed(tmp_path)
              if not n.startswith(("EKOPT_CONV_SIX_CH", "EKOPT_CONV_SIX_TAIL",
                                   "EKOPT_CONV_PAIR"))}
    want = {"SIX": {"EKOPT_CONV_SIX", "EKOPT_CONV_DIL", "EKOPT_CONV_REF"},
            "TWO": {"EKOPT_CONV_TWO", "EKOPT_CONV_DIL", "EKOPT_CONV_REF"},
            "TWO_STACK": {"EKOPT_CONV_TWO", "EKOPT_CONV_TWO_STACK", "EKOPT_CONV_DIL",
                          "EKOPT_CONV_REF"},
            "REF": {"EKOPT_CONV_REF"}}[path]
    assert listed == want, (seed, listed)


def _conv_paths_listed(keep) -> set[str]:
    import re
    text = (keep / "src" / "ek_paths.h").read_text()
    return set(re.findall(r"#define (EKOPT_CONV_\w+)\s+1\b", text))


# Few input channels (1..15): the im2col window is the whole receptive
# field (K = kh * kw * in_c), so a one-op model with room for its buffer
# runs the six-pixel path; scratch_allowance=0 keeps it on the
# buffer-less loops (1x1 / run-based, SXTAB16 intrinsics), which larger
# models (ResNet-8, VWW) still take.  (seed, h, w, in_c, kernel, stride,
# padding, out_c, scratch_allowance, path).
SMALL_C_CASES = [
    (301, 12, 6, 1, (3, 3), 1, "same", 8, BIG, "SIX"),    # one channel, K=9
    (302, 9, 7, 7, (1, 1), 1, "valid", 5, BIG, "SIX_1X1"),   # K=7: odd-channel 1x1 gather
    (303, 8, 8, 13, (1, 1), 1, "valid", 9, BIG, "SIX_1X1"),  # K=13
    (304, 13, 6, 1, (10, 4), 2, "same", 16, BIG, "SIX"),  # KWS conv1 shape, K=40
    (305, 9, 7, 7, (1, 1), 1, "valid", 5, 0, "1X1_DSP"),   # 1x1 loop, intrinsics
    (306, 12, 5, 40, (3, 3), 1, "same", 8, 0, "RUN_DSP"),  # run-based loop, intrinsics (K=360)
    # No room in scratch, window of <= 48 bytes (not 1x1): the six-pixel
    # buffer on the stack.
    (310, 12, 5, 1, (3, 3), 1, "same", 8, 0, "SIX_STACK"),
    (311, 9, 7, 5, (3, 3), 1, "valid", 7, 0, "SIX_STACK"),  # K=45, odd channels
    # ... the column path's (output rows of >= 6 pixels), when it is at most
    # 1,280 bytes.
    (317, 9, 8, 5, (3, 3), 1, "valid", 7, 0, "COLS_STACK"),  # K=45, odd channels
    (318, 7, 12, 1, (3, 3), 2, "same", 8, 0, "COLS_STACK"),  # one channel, stride 2
    # No room for any im2col buffer, not 1x1, two-pixel buffer <= 1,280
    # bytes: the two-pixel path with its buffer on the stack.
    (319, 8, 7, 8, (5, 5), 1, "same", 6, 0, "TWO_STACK"),     # K=200, padded edges
    (320, 7, 9, 32, (3, 3), 1, "valid", 5, 0, "TWO_STACK"),   # K=288, odd out_c
    # Rows not whole chunks, K <= 60, output rows of < 6 pixels: windows
    # copied a word at a time (ekopt_rows6), those over the padding or at the
    # input's end gathered.
    (307, 9, 8, 3, (3, 3), 2, "same", 8, BIG, "SIX_ROWS"),   # VWW stem, K=27
    (308, 7, 7, 5, (3, 3), 1, "valid", 7, BIG, "SIX_ROWS"),  # K=45, last window at the end
    (309, 8, 5, 3, (4, 5), 1, "same", 6, BIG, "SIX_ROWS"),   # K=60: the largest
    # Output rows of >= 6 pixels: the column path (ek_conv_cols.h), input
    # rows copied once per output row, padding columns and rows included;
    # groups of six straddling rows, odd widths, stride 2, even filters.
    (312, 11, 10, 1, (3, 3), 1, "same", 8, BIG, "SIX_COLS"),  # one channel, K=9
    (313, 9, 13, 3, (3, 3), 2, "same", 8, BIG, "SIX_COLS"),   # VWW stem, out_w 7
    (314, 8, 11, 5, (3, 3), 1, "same", 7, BIG, "SIX_COLS"),   # K=45, odd channels
    (315, 7, 9, 3, (4, 5), 1, "same", 6, BIG, "SIX_COLS"),    # K=60, uneven padding
    (316, 6, 8, 7, (2, 3), 1, "valid", 3, BIG, "SIX_COLS"),   # K=42, no padding
]


@pytest.mark.parametrize("seed,h,w,cin,kernel,stride,padding,cout,allow,path", SMALL_C_CASES)
def test_small_channel_conv_2d_qemu(seed, h, w, cin, kernel, stride, padding, cout, allow, path,
                                    tmp_path):
    import keras
    from edgekit.reference import run_tflm
    r = np.random.default_rng(77000 + seed)
    act = str(r.choice(["linear", "relu"]))
    c = dict(h=h, w=w, cin=cin, cout=cout, kernel=kernel, padding=padding, act=act, allow=allow)

    def build(ins):
        return keras.layers.Conv2D(cout, kernel, strides=stride, padding=padding, activation=act,
                                   bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, cin)], seed, low=float(-r.uniform(0.1, 4)),
                        high=float(r.uniform(0.1, 4)))
    xs = random_inputs(m, N_INPUTS, seed)
    xs[1] = 127
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs, target=M4, scratch_allowance=allow, keep=tmp_path)
    np.testing.assert_array_equal(got, ref.reshape(got.shape).astype(np.int8),
                                  err_msg=f"seed={seed} case={c}")
    assert "EKOPT_CONV_" + path in _conv_paths_listed(tmp_path), seed
