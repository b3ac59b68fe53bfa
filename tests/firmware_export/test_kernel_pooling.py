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


@pytest.mark.parametrize("fill", [127, -128])
def test_global_average_pool_of_extreme_inputs(fill):
    """A 16 x 16 window of all 127 (or all -128): the plain-C lane sums of the
    optimized kernel reach bit 31 of their word (255 * 256 in the upper 16-bit
    lane); the sanitized host build must see no signed overflow and tflite_micro's
    result."""
    import keras

    from edgekit.reference import run_tflm
    from tests.kernel_harness import kernel_sets, run_generated_host

    def build(ins):
        return keras.layers.AveragePooling2D((16, 16))(ins[0])

    m = single_op_model(build, [(16, 16, 8)], 3, low=-1.0, high=1.0)
    xs = np.full((2, 16, 16, 8), fill, np.int8)
    xs[1, ::3] = -fill - 1 if fill == 127 else 127     # and a mixed one
    ref = np.asarray(run_tflm(m, xs))
    for kernels in kernel_sets(m):
        got = run_generated_host(m, xs, kernels=kernels)
        np.testing.assert_array_equal(got, ref.reshape(got.shape))
