"""ADD/SUB of an activation and a constant (scalar or a vector over the last
dims) take ek_add_const_s8 / ek_add_const_half_s8 (ops/add.py const_operand,
the constant's rescaled value folded at generation time): golden tests
against tflite_micro, on the host and in QEMU."""

import numpy as np
import pytest

from edgekit.firmware_export.codegen import lower_graph
from edgekit.firmware_export.tflite_reader import read_tflite
from tests.kernel_harness import (check_golden, random_inputs, run_generated_qemu,
                                  single_op_model)
from edgekit.reference import run_tflm

SEEDS = range(10)


def _case(seed):
    r = np.random.default_rng(7100 + seed)
    h, w, ch = (int(r.integers(2, 7)) for _ in range(3))
    const = [(), (ch,), (1, 1, ch), (w, ch)][seed % 4]
    return dict(shape=(h, w, ch), const=const, op=["add", "add_first", "sub"][seed % 3],
                relu=bool(seed % 5 == 0),
                # the constant's scale above or below the activation's: both kernels
                cscale=float(r.uniform(0.1, 0.6) if seed % 2 else r.uniform(3, 8)),
                lo=float(-r.uniform(0.5, 4)), hi=float(r.uniform(0.5, 4)))


def _model(c, seed):
    import keras
    rng = np.random.default_rng(seed)
    k = (rng.standard_normal(c["const"]) * c["cscale"]).astype(np.float32)

    def build(ins):
        x = ins[0]
        y = {"add": lambda: keras.ops.add(x, k), "add_first": lambda: keras.ops.add(k, x),
             "sub": lambda: keras.ops.subtract(x, k)}[c["op"]]()
        return keras.layers.ReLU()(y) if c["relu"] else y

    return single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])


def _kernels(m):
    return [low.kernel for low in lower_graph(read_tflite(m)) if low.kernel]


@pytest.mark.parametrize("seed", SEEDS)
def test_add_const_bit_exact(seed):
    c = _case(seed)
    m = _model(c, seed)
    kernels = _kernels(m)
    if c["const"] == () and c["op"] != "sub":   # a scalar ADD: by table (ops/const_lut.py)
        assert kernels == ["ek_lut_s8"], (c, kernels)
    else:
        assert kernels in (["ek_add_const_s8"], ["ek_add_const_half_s8"]), (c, kernels)
    check_golden(m, seed, c, n=32, expect_ops=("SUB" if c["op"] == "sub" else "ADD",))


def test_add_const_takes_both_kernels():
    """The activation with the larger scale (multiplier 0.5) takes the _half
    kernel, the smaller one the general kernel."""
    base = dict(_case(1), const=(3,), shape=(2, 4, 3), op="add", relu=False, lo=-1.0, hi=1.0)
    small = _kernels(_model(dict(base, cscale=0.05), 1))
    large = _kernels(_model(dict(base, cscale=40.0), 1))
    assert small == ["ek_add_const_half_s8"], small
    assert large == ["ek_add_const_s8"], large


def test_add_const_qemu():
    """Both kernels in one firmware on the Cortex-M4 (the DSP rounding multiply)."""
    import keras
    rng = np.random.default_rng(3)
    k1 = np.float32(0.3)
    k2 = (rng.standard_normal(8) * 6).astype(np.float32)

    def build(ins):
        return keras.ops.add(keras.ops.subtract(ins[0], k1), k2)

    m = single_op_model(build, [(4, 5, 8)], 3, low=-2.0, high=3.0)
    kernels = _kernels(m)
    assert sorted(kernels) == ["ek_add_const_half_s8", "ek_add_const_s8"], kernels
    xs = random_inputs(m, 16, 3)
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs)
    assert np.array_equal(got, ref.reshape(got.shape))
