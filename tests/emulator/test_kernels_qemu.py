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


def _check_qemu(model: bytes, seed: int, case: dict, target: str, expect_op: str) -> None:
    """Assert the firmware's outputs equal tflite_micro's, byte for byte."""
    from edgekit.reference import run_tflm

    ops_ = opcodes(model)
    assert expect_op in ops_, f"seed={seed} case={case}: no {expect_op} in {ops_}"
    xs = random_inputs(model, N_INPUTS, seed)
    xs[0] = -128            # saturating inputs in the first two cases
    xs[1] = 127
    ref = np.asarray(run_tflm(model, xs))
    got = run_generated_qemu(model, xs, target=target)
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


# -------------------------------------------------------------------- ADD
# (target, seed, kind): same shape (two activations, or a constant), and
# broadcast (a constant vector, or a one-channel branch).
ADD_CASES = [
    (M4, 61, "branch"),
    (M4, 62, "const"),
    (M4, 63, "bcast_const"),
    (M4, 64, "bcast_branch"),
    (M3, 65, "branch"),
    (M0, 66, "bcast_const"),
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
        elif kind == "bcast_branch":   # [1,H,W,C] + [1,H,W,1]
            y = keras.layers.Add()([x, keras.layers.Conv2D(1, 2, padding="same")(x)])
        else:
            y = keras.ops.add(x, k)
        return keras.layers.ReLU()(y) if c["relu"] else y

    m = single_op_model(build, [(h, w, ch)], seed, low=c["lo"], high=c["hi"])
    _check_qemu(m, seed, c, target, "ADD")


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
