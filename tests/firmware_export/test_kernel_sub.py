"""SUB golden tests: two activations (same shape and broadcast), constant
operands on either side, fused ReLU."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(16)


def _case(seed):
    r = np.random.default_rng(5500 + seed)
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
def test_sub_bit_exact(seed):
    import keras
    c = _case(seed)
    rng = np.random.default_rng(seed)

    def build(ins):
        x = ins[0]
        if c["kind"] == "branch":
            y = keras.layers.Subtract()([x, keras.layers.Conv2D(c["shape"][2], 1)(x)])
        elif c["kind"] == "self":
            y = keras.layers.Subtract()([x, keras.layers.DepthwiseConv2D(1)(x)])
        elif c["kind"] == "bcast_branch":   # [1,H,W,C] op [1,H,W,1]
            y = keras.layers.Subtract()([x, keras.layers.Conv2D(1, 2, padding="same")(x)])
        else:
            k = (rng.standard_normal(c["other"]) * c["cscale"]).astype(np.float32)
            y = keras.ops.subtract(k, x) if c["kind"] == "const_first" else keras.ops.subtract(x, k)
        return keras.layers.ReLU()(y) if c["relu"] else y

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("SUB",))


def _set_scale(tflite: bytes, tensor_index: int, value: float) -> bytes:
    """Rewrite one tensor's (per-tensor) scale in the flatbuffer bytes."""
    import struct

    from edgekit.firmware_export import read_tflite

    old = read_tflite(tflite).tensors[tensor_index].scale
    assert len(old) == 1
    needle = struct.pack("<If", 1, float(old[0]))        # vector length 1 + the float
    assert tflite.count(needle) >= 1
    buf = bytearray(tflite)
    for pos in range(len(buf)):                          # patch the right occurrence
        if buf[pos:pos + 8] == needle:
            trial = bytearray(buf)
            trial[pos + 4:pos + 8] = struct.pack("<f", value)
            if read_tflite(bytes(trial)).tensors[tensor_index].scale[0] == np.float32(value):
                return bytes(trial)
    raise AssertionError("scale not found")


def test_sub_rounding_ties_like_tflm():
    """A scale ratio whose multiplier has exactly 21 significant bits puts the
    rescaled second input on exact rounding ties: TFLite's Sub rescales it with
    a positive multiplier and then subtracts, which rounds those ties
    differently from rescaling with a negated multiplier."""
    import keras

    from edgekit.firmware_export import read_tflite

    def build(ins):
        x = ins[0]
        return keras.layers.Subtract()([x, keras.layers.Conv2D(4, 1)(x)])

    m = single_op_model(build, [(4, 4, 4)], 77, low=-2, high=2)
    g = read_tflite(m)
    sub = [op for op in g.operators if op.opcode == "SUB"][0]
    (a, b), y = sub.inputs, sub.outputs[0]
    # in1 scale 1 and in2 scale (2**20 + 1) / 2**21: the second input's
    # multiplier is (2**20 + 1) << 10 (shift -1), so odd values land on exact
    # ties; output scale 1 makes the output rescale a division by 2**19, so a
    # one-unit difference in the rescaled input decides a half-way rounding.
    for t, v in ((a, 1.0), (b, (2**20 + 1) / 2**21), (y, 1.0)):
        m = _set_scale(m, t, v)
    check_golden(m, 77, {"case": "tie scales"}, n=24, expect_ops=("SUB",))
