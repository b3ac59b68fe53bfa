"""CONV_2D golden tests: edgekit's generated C vs tflite_micro, random cases."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(16)


def _case(seed):
    r = np.random.default_rng(seed)
    k = (int(r.integers(1, 5)), int(r.integers(1, 5)))
    stride = (int(r.integers(1, 3)), int(r.integers(1, 3)))
    dil = (1, 1)
    if r.random() < 0.3:
        dil, stride = (int(r.integers(1, 3)), int(r.integers(1, 3))), (1, 1)
    pad = str(r.choice(["same", "valid"]))
    h = int(r.integers(max(k[0], 1) * dil[0] + 1, 12))
    w = int(r.integers(max(k[1], 1) * dil[1] + 1, 12))
    return dict(h=h, w=w, cin=int(r.integers(1, 9)), cout=int(r.integers(1, 13)), kernel=k,
                stride=stride, dilation=dil, padding=pad,
                act=str(r.choice(["linear", "relu", "relu6"])),
                use_bias=bool(r.random() < 0.8), lo=float(-r.uniform(0.1, 4)),
                hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_2d_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        return keras.layers.Conv2D(c["cout"], c["kernel"], strides=c["stride"],
                                   dilation_rate=c["dilation"], padding=c["padding"],
                                   activation=c["act"], use_bias=c["use_bias"],
                                   bias_initializer="random_normal")(ins[0])

    m = single_op_model(build, [(c["h"], c["w"], c["cin"])], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("CONV_2D",))
