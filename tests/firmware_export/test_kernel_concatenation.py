"""CONCATENATION golden tests: 2-4 inputs (activations and constants) along
random axes of 2-D to 4-D tensors."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(14)


def _case(seed):
    r = np.random.default_rng(8000 + seed)
    rank = int(r.choice([2, 3, 3]))      # without the batch dim
    shape = tuple(int(r.integers(1, 7)) for _ in range(rank))
    return dict(shape=shape, axis=int(r.integers(1, rank + 1)), n=int(r.integers(2, 5)),
                const=bool(r.random() < 0.3), lo=float(-r.uniform(0.1, 4)),
                hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_concatenation_bit_exact(seed):
    import keras
    c = _case(seed)
    rng = np.random.default_rng(seed)

    def build(ins):
        x = ins[0]
        parts = [x]
        for k in range(c["n"] - 1):
            if c["const"] and k == 0:
                parts.append(rng.uniform(-2, 2, (1, *c["shape"])).astype(np.float32))
            else:
                parts.append(keras.layers.Dense(c["shape"][-1],
                                                bias_initializer="random_normal")(x))
        return keras.ops.concatenate(parts, axis=c["axis"])

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("CONCATENATION",))
