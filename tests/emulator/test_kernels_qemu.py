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

from tests.kernel_harness import (N_QEMU_INPUTS, check_op_qemu, opcodes, random_act_bias,
                                  random_inputs, run_generated_qemu, single_op_model)
from tests.shared_data import missing, needs_arm_qemu

pytestmark = [pytest.mark.qemu, needs_arm_qemu]

M4, M3, M0 = "cortex-m4", "cortex-m3", "cortex-m0plus"


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
             **random_act_bias(r))

    def build(ins):
        return keras.layers.DepthwiseConv2D(c["kernel"], strides=c["stride"],
                                            depth_multiplier=c["mult"], padding=c["padding"],
                                            activation=c["act"], use_bias=c["use_bias"],
                                            bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, ch)], seed, low=c["lo"], high=c["hi"])
    check_op_qemu(m, seed, c, target, "DEPTHWISE_CONV_2D")


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
    check_op_qemu(m, seed, c, M4, "DEPTHWISE_CONV_2D")


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
    xs = r.integers(-32768, 32768, (N_QEMU_INPUTS, *hwc)).astype(np.int16)
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
    c = dict(shape=shape, units=units, **random_act_bias(r))

    def build(ins):
        return keras.layers.Dense(c["units"], activation=c["act"], use_bias=c["use_bias"],
                                  bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [shape], seed, low=c["lo"], high=c["hi"])
    check_op_qemu(m, seed, c, target, "FULLY_CONNECTED")


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
    xs = random_inputs(m, N_QEMU_INPUTS, seed)
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
    check_op_qemu(m, seed, c, target, "SUB" if kind == "sub" else "ADD")


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
    check_op_qemu(m, seed, c, target, "AVERAGE_POOL_2D" if kind == "avg" else "MAX_POOL_2D")


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
    check_op_qemu(m, seed, c, target, "MEAN")


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
