"""CONV_2D golden tests of the optimized kernels on Cortex-M under QEMU.

The CONV_2D part of tests/emulator/test_kernels_qemu.py (see its docstring:
single-op int8 models built for a DSP core or not, tflite_micro the golden
reference byte for byte, the seed in every failure message), kept apart for
the size of that file: the generic, six-pixel, column, dilated and
few-channel paths, each case checking which paths ``ek_paths.h`` lists.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.kernel_harness import (N_QEMU_INPUTS, check_op_qemu, opcodes, random_act_bias,
                                  random_inputs, run_generated_qemu, single_op_model)
from tests.shared_data import needs_arm_qemu

pytestmark = [pytest.mark.qemu, needs_arm_qemu]

M4, M3, M0 = "cortex-m4", "cortex-m3", "cortex-m0plus"


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
             **random_act_bias(r))

    def build(ins):
        return keras.layers.Conv2D(c["cout"], c["kernel"], strides=c["stride"],
                                   padding=c["padding"], activation=c["act"],
                                   use_bias=c["use_bias"],
                                   bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(h, w, cin)], seed, low=c["lo"], high=c["hi"])
    check_op_qemu(m, seed, c, target, "CONV_2D")


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
    check_op_qemu(m, seed, c, M4, "CONV_2D", scratch_allowance=allow)


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
    xs = random_inputs(m, N_QEMU_INPUTS, seed)
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
    xs = random_inputs(m, N_QEMU_INPUTS, seed)
    xs[1] = 127
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs, target=M4, scratch_allowance=allow, keep=tmp_path)
    np.testing.assert_array_equal(got, ref.reshape(got.shape).astype(np.int8),
                                  err_msg=f"seed={seed} case={c}")
    assert "EKOPT_CONV_" + path in _conv_paths_listed(tmp_path), seed
