"""SQUARED_DIFFERENCE golden tests: two activations of different scales, same
shape and broadcast, constant operands."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(12)


def _case(seed):
    r = np.random.default_rng(7700 + seed)
    h, w, ch = (int(r.integers(1, 7)) for _ in range(3))
    return dict(shape=(h, w, ch), kind=str(r.choice(["branch", "bcast", "const"])),
                k=float(r.choice([0.2, 1.0, 3.0])), lo=-float(r.uniform(0.2, 5)),
                hi=float(r.uniform(0.2, 5)))


@pytest.mark.parametrize("seed", SEEDS)
def test_squared_difference_bit_exact(seed):
    import tensorflow as tf
    c = _case(seed)
    rng = np.random.default_rng(seed)

    def build(ins):
        x = ins[0]
        if c["kind"] == "branch":
            return tf.math.squared_difference(x, tf.nn.relu(x) * c["k"] - 0.5)
        if c["kind"] == "bcast":
            m = tf.reduce_mean(x, axis=-1, keepdims=True)
            return tf.math.squared_difference(x, m * c["k"])
        k = tf.constant((rng.standard_normal(c["shape"][-1]) * c["k"]).astype(np.float32))
        return tf.math.squared_difference(x, k)

    m = single_op_model(build, [c["shape"]], seed, keras=False, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, n=12, expect_ops=("SQUARED_DIFFERENCE",))
