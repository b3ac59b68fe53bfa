"""RESHAPE golden tests (the output aliases the input; checked through a
following FULLY_CONNECTED / ADD so that the alias is actually used)."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(8)


def _case(seed):
    r = np.random.default_rng(7000 + seed)
    dims = [int(r.integers(2, 6)) for _ in range(int(r.integers(2, 4)))]
    n = int(np.prod(dims))
    target = (n,)
    if r.random() < 0.5:
        a = int(r.choice([d for d in range(2, n) if n % d == 0] or [1]))
        target = (a, n // a) if (a, n // a) != tuple(dims) else (1, n // a, a)
    return dict(shape=tuple(dims), target=target,
                then=str(r.choice(["dense", "none"])), lo=float(-r.uniform(0.1, 4)),
                hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_reshape_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        y = keras.layers.Dense(c["shape"][-1])(ins[0])
        y = keras.layers.Reshape(c["target"])(y)
        if c["then"] == "dense":
            y = keras.layers.Dense(3)(y)
        return y

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("RESHAPE",))
