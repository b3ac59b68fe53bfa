"""CONV_2D 1x1 in place through ek_conv2d_s8 itself (both kernel sets).

ops/conv.py declares ``inplace`` for 1x1 convolutions with stride 1, no
padding and out_c <= in_c; the planner then gives the output the input's
address when the input dies there.  The golden values come from tflite_micro.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgekit.firmware_export import generate, read_tflite
from edgekit.firmware_export.ops.conv import conv_inplace_ok, conv_scratch, conv_scratch_options
from edgekit.reference import run_tflm
from tests.kernel_harness import (KERNEL_SETS, run_generated_host, run_generated_qemu,
                                  single_op_model)


def _params(**kw):
    p = dict(batches=1, in_h=25, in_w=5, in_c=64, out_h=25, out_w=5, out_c=64, f_h=1, f_w=1,
             f_in_c=64, stride_h=1, stride_w=1, dil_h=1, dil_w=1, pad_h=0, pad_w=0,
             act_min=-128, act_max=127, out_offset=-3, mult=[1 << 30] * 64, shift=[-7] * 64)
    p.update(kw)
    return p


def test_scratch_and_inplace_rules_by_hand():
    pw = _params()
    assert conv_inplace_ok(pw)
    assert conv_scratch(pw, True) == 6 * 2 * 64                      # six int16 pixels
    assert not conv_inplace_ok(_params(out_c=65, mult=[1 << 30] * 65, shift=[-7] * 65))
    assert not conv_inplace_ok(_params(stride_h=2, out_h=13))
    assert not conv_inplace_ok(_params(f_h=3, f_w=3, pad_h=1, pad_w=1))
    # KWS conv1: 10x4 on one channel, K = 40: six pixels of 40 int16.
    c1 = _params(in_h=49, in_w=10, in_c=1, f_h=10, f_w=4, f_in_c=1, stride_h=2, stride_w=2,
                 pad_h=4, pad_w=1)
    assert conv_scratch(c1, False) == 6 * 2 * 40
    # K = 3 * 3 * 3 = 27 -> 28; a narrower activation range: six pixels too (clamped
    # after the path), + the 9-byte rows' buffer.
    c3 = _params(in_c=3, f_h=3, f_w=3, f_in_c=3, pad_h=1, pad_w=1, act_min=-128, act_max=90)
    assert conv_scratch(c3, False) == 6 * 2 * 28 + 28
    # an output offset beyond int8 (ekopt_rq2 adds it): the 2-pixel path
    assert conv_scratch(dict(c3, out_offset=-129), False) == 2 * 2 * 28 + 28
    # A multiplier ekopt_rq2 does not take (left shift): the 2-pixel path too.
    assert conv_scratch(_params(shift=[1] * 64), True) == 2 * 2 * 64
    # Windows over 576 bytes: no im2col; in place, two output pixels.
    assert conv_scratch(_params(in_c=600, f_in_c=600), True) == 2 * 64
    # Groups: the reference loop, one output pixel when in place, else nothing.
    assert conv_scratch(_params(f_in_c=32), False) == 4


@pytest.fixture(scope="module")
def pw_chain():
    """3x3 conv (16 ch) -> 1x1 16->16 -> 1x1 16->11 relu -> 1x1 11->11 -> 1x1 11->5
    stride 2: the three stride-1 1x1 convs may run in place (63 pixels: a
    partial last group of six)."""
    import keras

    def build(ins):
        x = keras.layers.Conv2D(16, 3, padding="same")(ins[0])
        x = keras.layers.Conv2D(16, 1)(x)
        x = keras.layers.Conv2D(11, 1, activation="relu")(x)
        x = keras.layers.Conv2D(11, 1)(x)
        return keras.layers.Conv2D(5, 1, strides=2)(x)

    return single_op_model(build, [(7, 9, 3)], seed=3)


def _conv_calls(model_c: str) -> list[tuple[str, str]]:
    pat = (r"ek_conv2d_s8\(&ek_op\d+, (EK_T\(\d+\)), ek_c\d+, (?:ek_c\d+|NULL), "
           r"(EK_T\(\d+\)), EK_T\(\d+\)\);")
    return re.findall(pat, model_c)


@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_pw_chain_in_place_is_bit_exact_on_host(pw_chain, kernels, tmp_path):
    graph = read_tflite(pw_chain)
    exp = generate(graph, tmp_path / "src", kernels=kernels)
    calls = _conv_calls((tmp_path / "src" / "model.c").read_text())
    assert len(calls) == 5
    assert [x == y for x, y in calls] == [False, True, True, True, False]
    assert [bool(low.inplace) for low in exp.lowered] == [False, True, True, True, False]
    x = np.random.default_rng(4).integers(-128, 128, (32, 7, 9, 3), dtype=np.int8)
    ours = run_generated_host(pw_chain, x, kernels=kernels)
    ref = np.stack([run_tflm(pw_chain, xi[None]) for xi in x]).reshape(ours.shape)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.qemu
@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_pw_chain_in_place_is_bit_exact_in_qemu(pw_chain, kernels):
    x = np.random.default_rng(5).integers(-128, 128, (4, 7, 9, 3), dtype=np.int8)
    ours = run_generated_qemu(pw_chain, x, kernels=kernels)
    ref = np.stack([run_tflm(pw_chain, xi[None]) for xi in x]).reshape(ours.shape)
    np.testing.assert_array_equal(ours, ref)


def test_scratch_options_by_hand():
    pw = _params()
    assert conv_scratch_options(pw, True) == [12 * 64, 4 * 64, 2 * 64]
    c3 = _params(in_c=3, f_h=3, f_w=3, f_in_c=3, pad_h=1, pad_w=1, out_c=8,
                 mult=[1 << 30] * 8, shift=[-7] * 8)
    assert conv_scratch_options(c3, False) == [12 * 28 + 28, 4 * 28 + 28, 0]   # 0: NULL


@pytest.mark.qemu
@pytest.mark.parametrize("choice", [1, -1])
def test_smaller_scratch_options_are_bit_exact_in_qemu(pw_chain, monkeypatch, choice):
    """Each CONV_2D given a later scratch option (two-pixel path, or none):
    the kernel takes the path that fits, still tflite_micro's results."""
    from edgekit.firmware_export import ops

    conv = ops.LOWERINGS["CONV_2D"]

    def smaller(op, g):
        low = conv(op, g)
        opts = conv_scratch_options(low.params, bool(low.inplace))
        low.scratch = low.params["scratch_bytes"] = opts[choice]
        return low

    monkeypatch.setitem(ops.LOWERINGS, "CONV_2D", smaller)
    x = np.random.default_rng(6).integers(-128, 128, (3, 7, 9, 3), dtype=np.int8)
    ours = run_generated_qemu(pw_chain, x)
    ref = np.stack([run_tflm(pw_chain, xi[None]) for xi in x]).reshape(ours.shape)
    np.testing.assert_array_equal(ours, ref)
