"""int16 (TFLite 16x8) LOGISTIC and TANH against tflite_micro over every
int16 input value (256 calls of 256), for input scales that take the
general rescale (a 15-bit multiplier and a shift) and the power-of-two
cases (scale 2^-12 for both, 2^-11 for TANH), so every entry of the
sigmoid table and every interpolation step is compared; and MAX_POOL_2D ->
LOGISTIC -> TANH on QEMU."""

import numpy as np
import pytest

from edgekit.firmware_export.ops.int16 import checked_log2, sigmoid_table
from edgekit.firmware_export.tflite_reader import read_tflite
from edgekit.reference import run_tflm
from tests.kernel_harness import assert_same, opcodes, run_generated_host, single_op_model_16x8

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16).reshape(256, 1, 256)

CASES = [  # (activation, calibration max |x|, power-of-two input scale expected)
    ("sigmoid", 5.3, False),
    ("sigmoid", 32767 / 4096, True),
    ("tanh", 2.7, False),
    ("tanh", 32767 / 4096, True),
    ("tanh", 32767 / 2048, True),
]


@pytest.mark.parametrize("act, amax, pot", CASES)
def test_logistic_tanh_s16_every_input(act, amax, pot):
    import keras

    def dataset(rng, shapes):
        v = rng.uniform(-amax, amax, shapes[0]).astype(np.float32)
        v.flat[0], v.flat[1] = amax, -amax
        return [v]

    m = single_op_model_16x8(lambda ins: keras.layers.Activation(act)(ins[0]), [(256,)], 0,
                             dataset=dataset, samples=4)
    name = "LOGISTIC" if act == "sigmoid" else "TANH"
    assert opcodes(m) == [name], opcodes(m)
    g = read_tflite(m)
    x = g.tensors[g.inputs[0]]
    assert checked_log2(x.s)[0] == pot, f"{act}: input scale {x.s} (power of two: {pot})"
    ref = np.asarray(run_tflm(m, ALL_INT16))
    got = run_generated_host(m, ALL_INT16)
    assert got.dtype == np.int16 and len(np.unique(got)) > 1000
    assert_same(got, ref.reshape(got.shape), f"int16 {name} input scale {x.s}")


def test_sigmoid_table_by_hand():
    """A few entries from the definition (sigmoid(k/24) * 2^16 plus half the
    midpoint interpolation error, rounded): k = 0 is exactly one half, the
    table rises, and it ends at 65535."""
    t = sigmoid_table()
    assert len(t) == 256 and t[0] == 32768 and t[-1] == 65535
    assert all(a <= b for a, b in zip(t, t[1:]))
    # k = 4: sigmoid(1/6) * 65536 = 35492.36, which rounds to 35492; the
    # midpoint error of segment [4, 5] is +0.33 units, half of it gives
    # 35492.53 -> 35493.
    assert t[4] == 35493


def test_pool_logistic_tanh_s16_qemu():
    """MAX_POOL_2D -> LOGISTIC -> TANH in int16 built for the Cortex-M4
    (QEMU), 8 cases spanning the int16 range, against tflite_micro."""
    import keras

    from tests.kernel_harness import run_generated_qemu

    def build(ins):
        y = keras.layers.MaxPooling2D(2)(ins[0])
        return keras.layers.Activation("tanh")(keras.layers.Activation("sigmoid")(y))

    m = single_op_model_16x8(build, [(8, 8, 4)], 0, low=-6, high=6, samples=8)
    assert {"MAX_POOL_2D", "LOGISTIC", "TANH"} <= set(opcodes(m)), opcodes(m)
    xs = np.random.default_rng(0).integers(-32768, 32768, (8, 1, 8, 8, 4)).astype(np.int16)
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_qemu(m, xs, target="cortex-m4")
    assert got.dtype == np.int16 and len(np.unique(got)) > 20
    assert_same(got, ref.reshape(got.shape), "MAX_POOL_2D / LOGISTIC / TANH int16 on QEMU")
