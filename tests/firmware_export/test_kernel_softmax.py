"""SOFTMAX golden tests: several input scales and betas (via a scaling layer)."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(14)


def _case(seed):
    r = np.random.default_rng(4000 + seed)
    rank = int(r.choice([1, 2, 3]))
    shape = tuple(int(r.integers(1, 12)) for _ in range(rank - 1)) + (int(r.integers(2, 40)),)
    span = float(r.choice([0.05, 0.5, 2.0, 8.0, 30.0, 100.0]))
    return dict(shape=shape, span=span, beta=float(r.choice([1.0, 1.0, 0.5, 2.0, 3.7])))


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        x = ins[0]
        if c["beta"] != 1.0:
            x = keras.layers.Rescaling(c["beta"])(x)
        return keras.layers.Softmax()(x)

    m = single_op_model(build, [c["shape"]], seed, low=-c["span"], high=c["span"])
    check_golden(m, seed, c, expect_ops=("SOFTMAX",))
