"""int16-activation (TFLite 16x8) golden tests: FULLY_CONNECTED, CONV_2D and
ADD with int16 input/output over the full int16 input range."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden_typed, single_op_model_16x8


def _rng(base, seed):
    return np.random.default_rng(base + seed)


@pytest.mark.parametrize("seed", range(5))
def test_fc_s16_bit_exact(seed):
    import keras
    r = _rng(8100, seed)
    c = dict(shape=(int(r.integers(1, 5)), int(r.integers(2, 17))), units=int(r.integers(1, 9)),
             act=str(r.choice(["linear", "relu"])), bias=bool(r.random() < 0.8),
             lo=-float(r.uniform(0.5, 6)), hi=float(r.uniform(0.5, 6)))
    m = single_op_model_16x8(
        lambda ins: keras.layers.Dense(c["units"], activation=c["act"], use_bias=c["bias"])(
            ins[0]), [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("FULLY_CONNECTED",))


@pytest.mark.parametrize("seed", range(5))
def test_conv_s16_bit_exact(seed):
    import keras
    r = _rng(8300, seed)
    c = dict(shape=(int(r.integers(3, 9)), int(r.integers(3, 9)), int(r.integers(1, 5))),
             filters=int(r.integers(1, 7)), k=int(r.choice([1, 3])), stride=int(r.choice([1, 2])),
             pad=str(r.choice(["same", "valid"])), act=str(r.choice(["linear", "relu", "relu6"])),
             lo=-float(r.uniform(0.5, 4)), hi=float(r.uniform(0.5, 4)))
    m = single_op_model_16x8(
        lambda ins: keras.layers.Conv2D(c["filters"], c["k"], strides=c["stride"],
                                        padding=c["pad"], activation=c["act"])(ins[0]),
        [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("CONV_2D",))


@pytest.mark.parametrize("seed", range(6))
def test_add_s16_bit_exact(seed):
    import keras
    r = _rng(8500, seed)
    c = dict(shape=(int(r.integers(1, 6)), int(r.integers(1, 6)), int(r.integers(1, 6))),
             k=float(r.choice([0.3, 2.0])),
             bcast=bool(r.random() < 0.4), relu=bool(r.random() < 0.3),
             lo=-float(r.uniform(0.5, 4)), hi=float(r.uniform(0.5, 4)))

    def build(ins):
        x = ins[0]
        other = keras.layers.Conv2D(1 if c["bcast"] else c["shape"][2], 1)(x) * c["k"]
        y = keras.layers.Add()([x, other]) if not c["bcast"] else x + other
        return keras.layers.ReLU()(y) if c["relu"] else y

    m = single_op_model_16x8(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("ADD",))
