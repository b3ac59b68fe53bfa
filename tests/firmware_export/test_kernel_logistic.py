"""LOGISTIC golden tests over a wide range of input scales."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(12)


def _case(seed):
    r = np.random.default_rng(9500 + seed)
    rank = int(r.choice([1, 2, 3]))
    span = float(r.choice([0.05, 0.5, 2.0, 6.0, 12.0, 40.0, 200.0]))
    return dict(shape=tuple(int(r.integers(1, 9)) for _ in range(rank)),
                lo=-span * float(r.uniform(0.2, 1)), hi=span * float(r.uniform(0.2, 1)))


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_bit_exact(seed):
    import keras
    c = _case(seed)
    m = single_op_model(lambda ins: keras.layers.Activation("sigmoid")(ins[0]), [c["shape"]],
                        seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, n=24, expect_ops=("LOGISTIC",))
