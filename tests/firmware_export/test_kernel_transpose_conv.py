"""TRANSPOSE_CONV golden tests, int8 and 16x8, against tflite_micro.

Keras ``Conv2DTranspose`` layers of random shapes, strides, paddings and
bias/no bias, converted by the TFLite converter; random inputs over the
input type's whole range; every output byte must equal tflite_micro's.
"""

import numpy as np
import pytest

from tests.kernel_harness import (check_golden_typed, opcodes, random_inputs, run_generated_qemu,
                                  single_op_model, single_op_model_16x8)
from edgekit.reference import run_tflm

SEEDS = range(3)


def _case(seed):
    r = np.random.default_rng(4200 + seed)
    return dict(h=int(r.integers(1, 6)), w=int(r.integers(1, 6)), c=int(r.integers(1, 5)),
                filters=int(r.integers(1, 6)), k=(int(r.integers(1, 4)), int(r.integers(1, 4))),
                strides=(int(r.integers(1, 3)), int(r.integers(1, 4))),
                padding=str(r.choice(["same", "valid"])), bias=bool(r.integers(0, 2)),
                relu=bool(seed == 2))


def _build(c):
    def build(ins):
        import keras
        return keras.layers.Conv2DTranspose(
            c["filters"], c["k"], strides=c["strides"], padding=c["padding"],
            use_bias=c["bias"], activation="relu" if c["relu"] else None)(ins[0])
    return build


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["int8", "int16"])
def test_transpose_conv_bit_exact(seed, kind):
    # A fused RELU in int8 (16x8 keeps the RELU as its own op: not this kernel's).
    c = {**_case(seed), **({"relu": False} if kind == "int16" else {})}
    make = single_op_model if kind == "int8" else single_op_model_16x8
    m = make(_build(c), [(c["h"], c["w"], c["c"])], seed, samples=8)
    check_golden_typed(m, seed, c, expect_ops=("TRANSPOSE_CONV",))


def test_transpose_conv_int8_in_qemu():
    c = dict(h=3, w=4, c=3, filters=4, k=(3, 3), strides=(2, 2), padding="same", bias=True,
             relu=False)
    m = single_op_model(_build(c), [(3, 4, 3)], 11, samples=8)
    assert "TRANSPOSE_CONV" in opcodes(m)
    xs = random_inputs(m, 3, 11)
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs)
    np.testing.assert_array_equal(got, ref.reshape(got.shape))
