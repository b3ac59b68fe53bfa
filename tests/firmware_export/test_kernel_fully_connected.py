"""FULLY_CONNECTED golden tests (2-D and 3-D inputs): generated C vs tflite_micro."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(16)


def _case(seed):
    r = np.random.default_rng(3000 + seed)
    shape = (int(r.integers(2, 40)),)
    if r.random() < 0.35:          # Dense over the last axis of a 3-D input
        shape = (int(r.integers(1, 6)), int(r.integers(2, 20)))
    return dict(shape=shape, units=int(r.integers(1, 24)),
                act=str(r.choice(["linear", "relu", "relu6"])),
                use_bias=bool(r.random() < 0.8), lo=float(-r.uniform(0.1, 4)),
                hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_fully_connected_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        return keras.layers.Dense(c["units"], activation=c["act"], use_bias=c["use_bias"],
                                  bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("FULLY_CONNECTED",))
