"""AVERAGE_POOL_2D and MAX_POOL_2D golden tests: generated C vs tflite_micro."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(12)


def _case(seed, kind):
    r = np.random.default_rng(2000 + seed + (100 if kind == "max" else 0))
    k = (int(r.integers(1, 5)), int(r.integers(1, 5)))
    return dict(kind=kind, h=int(r.integers(k[0], 12)), w=int(r.integers(k[1], 12)),
                c=int(r.integers(1, 9)), pool=k,
                stride=(int(r.integers(1, 4)), int(r.integers(1, 4))),
                padding=str(r.choice(["same", "valid"])), relu=bool(r.random() < 0.3),
                lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("seed", SEEDS)
def test_pool_bit_exact(seed, kind):
    import keras
    c = _case(seed, kind)
    layer = keras.layers.AveragePooling2D if kind == "avg" else keras.layers.MaxPooling2D

    def build(ins):
        return layer(c["pool"], strides=c["stride"], padding=c["padding"])(ins[0])

    m = single_op_model(build, [(c["h"], c["w"], c["c"])], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c,
                 expect_ops=("AVERAGE_POOL_2D" if kind == "avg" else "MAX_POOL_2D",))
