"""LEAKY_RELU golden tests, int8 and 16x8, against tflite_micro (a standalone
op on the model input, random alphas and input ranges)."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden_typed, single_op_model, single_op_model_16x8

SEEDS = range(3)


def _case(seed):
    r = np.random.default_rng(7300 + seed)
    rank = int(r.choice([1, 2, 3]))
    return dict(shape=tuple(int(r.integers(1, 9)) for _ in range(rank)),
                alpha=float(r.choice([0.01, 0.1, 0.2, 0.3, 0.5, 0.9, 1.5])),
                lo=float(-r.uniform(0.1, 10)), hi=float(r.uniform(0.1, 10)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["int8", "int16"])
def test_leaky_relu_bit_exact(seed, kind):
    c = _case(seed)

    def build(ins):
        import keras
        return keras.layers.LeakyReLU(negative_slope=c["alpha"])(ins[0])

    make = single_op_model if kind == "int8" else single_op_model_16x8
    m = make(build, [c["shape"]], seed, low=c["lo"], high=c["hi"], samples=8)
    check_golden_typed(m, seed, c, expect_ops=("LEAKY_RELU",))
