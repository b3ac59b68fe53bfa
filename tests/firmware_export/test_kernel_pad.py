"""PAD / PADV2 golden tests: ZeroPadding1D/2D and keras.ops.pad with random
(asymmetric) paddings and constant values."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(14)


def _case(seed):
    r = np.random.default_rng(8500 + seed)
    kind = str(r.choice(["zero2d", "zero1d", "ops_pad", "ops_pad_value"]))
    shape = (int(r.integers(1, 7)), int(r.integers(1, 7)), int(r.integers(1, 5)))
    if kind == "zero1d":
        shape = shape[1:]
    pads = [(int(r.integers(0, 3)), int(r.integers(0, 3))) for _ in shape]
    if sum(a + b for a, b in pads[:2 if kind != "zero1d" else 1]) == 0:
        pads[0] = (1, 0)    # the converter drops a pad of nothing
    return dict(kind=kind, shape=shape, pads=pads, value=float(r.uniform(-1, 1)),
                lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_pad_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        x = ins[0]
        if c["kind"] == "zero2d":
            return keras.layers.ZeroPadding2D(tuple(c["pads"][:2]))(x)
        if c["kind"] == "zero1d":
            return keras.layers.ZeroPadding1D(c["pads"][0])(x)
        value = c["value"] if c["kind"] == "ops_pad_value" else 0.0
        return keras.ops.pad(x, [(0, 0)] + c["pads"], constant_values=value)

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=(("PADV2",) if c["kind"] == "ops_pad_value"
                                         else ("PAD",)))
