"""QUANTIZE / DEQUANTIZE golden tests.

* int8 -> int8 requantization: what the converter inserts between a
  fixed-scale LOGISTIC / TANH output and a CONCATENATION of another scale;
* float32 -> int8 at a float model input and int8 -> float32 at a float
  model output (float inputs: random values over and beyond the range).
"""

import numpy as np
import pytest

from edgekit.reference import run_tflm
from tests.kernel_harness import check_golden, opcodes, run_generated_host, single_op_model

SEEDS = range(8)


def _case(seed):
    r = np.random.default_rng(9300 + seed)
    return dict(shape=(int(r.integers(1, 6)), int(r.integers(1, 9))),
                act=str(r.choice(["sigmoid", "tanh"])), k=float(r.choice([0.1, 1.0, 5.0, 40.0])),
                lo=-float(r.uniform(0.5, 8)), hi=float(r.uniform(0.5, 8)))


@pytest.mark.parametrize("seed", SEEDS)
def test_requantize_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        a = keras.layers.Activation(c["act"])(ins[0])
        b = keras.layers.Dense(c["shape"][1])(ins[0]) * c["k"]
        return keras.layers.Concatenate()([a, b])

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, n=16, expect_ops=("QUANTIZE", "CONCATENATION"))


@pytest.mark.parametrize("seed", range(4))
def test_float_io_bit_exact(seed):
    import keras
    import tensorflow as tf
    c = _case(seed)
    m = single_op_model(lambda ins: keras.layers.Dense(5)(ins[0]), [c["shape"]], seed,
                        low=c["lo"], high=c["hi"], output_float=True,
                        inference_input_type=tf.float32)
    ops_ = opcodes(m)
    assert ops_[0] == "QUANTIZE" and ops_[-1] == "DEQUANTIZE", ops_
    r = np.random.default_rng(seed)
    xs = (r.uniform(-1.5, 1.5, (24, 1, *c["shape"])) * max(-c["lo"], c["hi"])).astype(np.float32)
    xs[0, 0, 0, 0] = 0.0
    ref = np.asarray(run_tflm(m, xs), np.float32)
    got = run_generated_host(m, xs)
    ref = ref.reshape(got.shape)
    assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), (
        f"seed={seed} case={c}: float I/O not bit-exact: max diff {np.abs(got - ref).max()}")
