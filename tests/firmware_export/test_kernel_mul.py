"""MUL golden tests: two activations (same shape and broadcast), constant
operands on either side, fused ReLU."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(16)


def _case(seed):
    r = np.random.default_rng(5800 + seed)
    h, w, ch = (int(r.integers(1, 8)) for _ in range(3))
    kind = str(r.choice(["branch", "self", "const", "const_first", "bcast_const",
                         "bcast_branch"]))
    other = (h, w, ch)
    if kind == "bcast_const":
        other = [(ch,), (1, 1, ch), (w, 1), (1, w, ch), (h, w, 1)][int(r.integers(0, 5))]
    return dict(shape=(h, w, ch), kind=kind, other=other, relu=bool(r.random() < 0.3),
                cscale=float(r.uniform(0.1, 5)), lo=float(-r.uniform(0.1, 4)),
                hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_mul_bit_exact(seed):
    import keras
    c = _case(seed)
    rng = np.random.default_rng(seed)

    def build(ins):
        x = ins[0]
        if c["kind"] == "branch":
            y = keras.layers.Multiply()([x, keras.layers.Conv2D(c["shape"][2], 1)(x)])
        elif c["kind"] == "self":
            y = keras.layers.Multiply()([x, x])
        elif c["kind"] == "bcast_branch":   # [1,H,W,C] op [1,H,W,1]
            y = keras.layers.Multiply()([x, keras.layers.Conv2D(1, 2, padding="same")(x)])
        else:
            k = (rng.standard_normal(c["other"]) * c["cscale"]).astype(np.float32)
            y = keras.ops.multiply(k, x) if c["kind"] == "const_first" else keras.ops.multiply(x, k)
        return keras.layers.ReLU()(y) if c["relu"] else y

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("MUL",))
