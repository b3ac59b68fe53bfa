"""MUL by a constant: a per-channel constant on either side takes the one-product
kernel (ops/mul_const.py, kernels/ek_mul_const.c), a scalar the table
(ops/const_lut.py, kernels/ek_lut.c); both bit-exact with tflite_micro on every
int8 input code."""

import numpy as np
import pytest

from tests.kernel_harness import run_generated_host, single_op_model

CASES = [  # (constant shape, constant first, ReLU)
    ((), False, False),
    ((16,), False, True),
    ((16,), True, False),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_mul_const_kernel_bit_exact_on_every_code(case):
    import keras

    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import lower_graph
    from edgekit.reference import run_tflm

    shape, first, relu = CASES[case]
    k = (np.random.default_rng(case).standard_normal(shape) * 2).astype(np.float32)

    def build(ins):
        y = keras.ops.multiply(k, ins[0]) if first else keras.ops.multiply(ins[0], k)
        return keras.layers.ReLU()(y) if relu else y

    tflite = single_op_model(build, [(16, 16)], 60 + case, low=-3.0, high=2.0)
    kernels = [low.kernel for low in lower_graph(read_tflite(tflite)) if low.kernel]
    # a scalar constant: by table (ops/const_lut.py); a vector: one product per element
    assert kernels == ["ek_lut_s8" if shape == () else "ek_mul_const_s8"], kernels
    # all 256 codes at every position of the constant's period
    codes = np.arange(-128, 128, dtype=np.int64)
    xs = np.stack([np.roll(codes, 16 * r)[: 256].reshape(16, 16) for r in range(16)])
    xs = xs.astype(np.int8)
    ref = np.asarray(run_tflm(tflite, xs))
    got = run_generated_host(tflite, xs)
    np.testing.assert_array_equal(got, ref.reshape(got.shape), err_msg=str(CASES[case]))
