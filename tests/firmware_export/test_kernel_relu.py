"""RELU / RELU6 / LEAKY_RELU golden tests (standalone ops: after a MEAN or
on the model input, so that they are not fused into a preceding op)."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(8)
KINDS = ["relu", "relu6", "leaky"]


def _case(seed, kind):
    r = np.random.default_rng(9000 + seed + 100 * KINDS.index(kind))
    rank = int(r.choice([1, 2, 3]))
    return dict(kind=kind, shape=tuple(int(r.integers(1, 9)) for _ in range(rank)),
                alpha=float(r.choice([0.01, 0.1, 0.2, 0.3, 0.5, 0.9])),
                lo=float(-r.uniform(0.1, 10)), hi=float(r.uniform(0.1, 10)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_relu_family_bit_exact(seed, kind):
    import keras
    c = _case(seed, kind)

    def build(ins):
        x = ins[0]
        if kind == "relu":
            return keras.layers.ReLU()(x)
        if kind == "relu6":
            return keras.layers.ReLU(max_value=6.0)(x)
        return keras.layers.LeakyReLU(negative_slope=c["alpha"])(x)

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=({"relu": "RELU", "relu6": "RELU6",
                                          "leaky": "LEAKY_RELU"}[kind],))
