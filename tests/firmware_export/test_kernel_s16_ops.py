"""int16-activation (TFLite 16x8) golden tests of the kernels beyond
FULLY_CONNECTED / CONV_2D / ADD / SOFTMAX: DEPTHWISE_CONV_2D, pooling, MUL,
MEAN, PAD, CONCATENATION, TRANSPOSE, STRIDED_SLICE, BATCH_MATMUL and the
reshape-like ops, on tiny one-op models converted in 16x8 mode, inputs over
the full int16 range, against tflite_micro."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden_typed, opcodes, single_op_model_16x8


def _rng(base, seed):
    return np.random.default_rng(base + seed)


def _range(r):
    return dict(lo=-float(r.uniform(0.5, 4)), hi=float(r.uniform(0.5, 4)))


@pytest.mark.parametrize("seed", range(3))
def test_depthwise_s16_bit_exact(seed):
    import keras
    r = _rng(9100, seed)
    c = dict(shape=(int(r.integers(3, 8)), int(r.integers(3, 8)), int(r.integers(1, 5))),
             mult=int(r.choice([1, 2])), k=int(r.choice([1, 3])), stride=int(r.choice([1, 2])),
             pad=str(r.choice(["same", "valid"])), act=str(r.choice(["linear", "relu"])),
             bias=bool(r.random() < 0.8), **_range(r))
    m = single_op_model_16x8(
        lambda ins: keras.layers.DepthwiseConv2D(
            c["k"], strides=c["stride"], padding=c["pad"], depth_multiplier=c["mult"],
            activation=c["act"], use_bias=c["bias"])(ins[0]),
        [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("DEPTHWISE_CONV_2D",))


@pytest.mark.parametrize("seed", range(2))
def test_pooling_s16_bit_exact(seed):
    import keras
    r = _rng(9200, seed)
    c = dict(shape=(int(r.integers(2, 8)), int(r.integers(2, 8)), int(r.integers(1, 4))),
             kind=["avg", "max"][seed % 2], pool=int(r.choice([2, 3])),
             stride=int(r.choice([1, 2])), pad=str(r.choice(["same", "valid"])), **_range(r))
    layer = keras.layers.AveragePooling2D if c["kind"] == "avg" else keras.layers.MaxPooling2D
    pool = min(c["pool"], *c["shape"][:2])
    m = single_op_model_16x8(
        lambda ins: layer(pool, strides=c["stride"], padding=c["pad"])(ins[0]),
        [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=(
        "AVERAGE_POOL_2D" if c["kind"] == "avg" else "MAX_POOL_2D",))


@pytest.mark.parametrize("seed", range(2))
def test_mul_s16_bit_exact(seed):
    import keras
    r = _rng(9300, seed)
    c = dict(shape=(int(r.integers(1, 6)), int(r.integers(1, 6)), int(r.integers(1, 6))),
             bcast=bool(seed % 2), k=float(r.choice([0.2, 3.0])), **_range(r))

    def build(ins):
        x = ins[0]
        other = keras.layers.Conv2D(1 if c["bcast"] else c["shape"][2], 1)(x) * c["k"]
        return keras.layers.Multiply()([x, other]) if not c["bcast"] else x * other

    m = single_op_model_16x8(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("MUL",))


@pytest.mark.parametrize("seed", range(3))
def test_mean_s16_bit_exact(seed):
    import keras
    r = _rng(9400, seed)
    c = dict(shape=(int(r.integers(2, 7)), int(r.integers(2, 7)), int(r.integers(1, 5))),
             kind=["gap2d", "axis2", "gap1d"][seed], **_range(r))

    def build(ins):
        x = ins[0]
        if c["kind"] == "gap2d":
            return keras.layers.GlobalAveragePooling2D()(x)
        if c["kind"] == "axis2":
            return keras.ops.mean(x, axis=[2], keepdims=True)
        return keras.layers.GlobalAveragePooling1D()(keras.layers.Reshape((-1, c["shape"][2]))(x))

    m = single_op_model_16x8(build, [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("MEAN",))


@pytest.mark.parametrize("seed", range(1))
def test_pad_s16_bit_exact(seed):
    import tensorflow as tf
    r = _rng(9500, seed)
    c = dict(shape=(int(r.integers(1, 5)), int(r.integers(1, 5)), int(r.integers(1, 4))),
             pads=[[0, 0]] + [[int(r.integers(0, 3)), int(r.integers(0, 3))] for _ in range(3)],
             **_range(r))
    m = single_op_model_16x8(lambda ins: tf.pad(ins[0], c["pads"]), [c["shape"]], seed,
                             keras=False, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("PAD",))


@pytest.mark.parametrize("seed", range(2))
def test_concatenation_s16_bit_exact(seed):
    """Concatenation of the input and a scaled copy: the converter gives the
    second input the output's scale and requantizes the model input to it
    with an int16 -> int16 QUANTIZE."""
    import keras
    r = _rng(9600, seed)
    c = dict(shape=(int(r.integers(1, 5)), int(r.integers(1, 6))), axis=int(r.choice([1, 2])),
             k=float(r.choice([0.1, 1.0, 8.0])), **_range(r))
    m = single_op_model_16x8(
        lambda ins: keras.layers.Concatenate(axis=c["axis"])(
            [ins[0], keras.layers.Dense(c["shape"][1])(ins[0]) * c["k"]]),
        [c["shape"]], seed, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("QUANTIZE", "CONCATENATION"))


@pytest.mark.parametrize("seed", range(1))
def test_transpose_and_reshape_s16_bit_exact(seed):
    import tensorflow as tf
    r = _rng(9700, seed)
    c = dict(shape=(int(r.integers(2, 5)), int(r.integers(2, 5)), int(r.integers(2, 5))),
             perm=[0] + [int(v) + 1 for v in r.permutation(3)], **_range(r))
    m = single_op_model_16x8(lambda ins: tf.reshape(tf.transpose(ins[0], c["perm"]), [1, -1]),
                             [c["shape"]], seed, keras=False, low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, expect_ops=("TRANSPOSE", "RESHAPE"))


@pytest.mark.parametrize("seed", range(2))
def test_strided_slice_s16_bit_exact(seed):
    import tensorflow as tf
    c = [dict(shape=(6, 5), begin=[0, 1, 0], end=[1, 6, 5], strides=[1, 2, 1]),
         dict(shape=(4, 7), begin=[0, 3, 6], end=[1, 0, 0], strides=[1, -1, -2])][seed]
    m = single_op_model_16x8(
        lambda ins: tf.reshape(tf.strided_slice(ins[0], c["begin"], c["end"], c["strides"]),
                               [1, -1]),
        [c["shape"]], seed, keras=False, low=-3, high=2)
    check_golden_typed(m, seed, c, expect_ops=("STRIDED_SLICE",))


@pytest.mark.parametrize("seed", range(3))
def test_batch_matmul_s16_bit_exact(seed):
    import tensorflow as tf
    r = _rng(9800, seed)
    c = dict(t=int(r.integers(2, 6)), d=int(r.integers(2, 7)),
             kind=["qkt", "av", "heads"][seed], **_range(r))
    t, d = c["t"], c["d"]
    rng = np.random.default_rng(seed)

    def dense(x, n):
        w = tf.constant(rng.standard_normal((int(x.shape[-1]), n)).astype(np.float32) * 0.5)
        return tf.matmul(x, w)

    def build(ins):
        x = ins[0]
        q, k = dense(x, d), dense(x, d)
        if c["kind"] == "qkt":
            return tf.matmul(q, k, transpose_b=True)
        if c["kind"] == "av":
            return tf.matmul(tf.matmul(q, k, transpose_b=True), dense(x, d))
        qh = tf.transpose(tf.reshape(dense(x, 2 * d), (1, t, 2, d)), (0, 2, 1, 3))
        kh = tf.transpose(tf.reshape(dense(x, 2 * d), (1, t, 2, d)), (0, 2, 1, 3))
        return tf.matmul(qh, kh, transpose_b=True)

    m = single_op_model_16x8(build, [(t, d)], seed, keras=False, low=c["lo"], high=c["hi"])
    assert "BATCH_MATMUL" in opcodes(m), opcodes(m)
    check_golden_typed(m, seed, c, expect_ops=("BATCH_MATMUL",))
