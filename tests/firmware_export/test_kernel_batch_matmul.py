"""BATCH_MATMUL golden tests, both operands activations: attention scores
Q K^T and the weighted sum A V, single and multi-head (4-D), adj_x / adj_y,
broadcast batch dims."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(12)


def _case(seed):
    r = np.random.default_rng(7500 + seed)
    return dict(t=int(r.integers(1, 7)), d=int(r.integers(1, 9)), heads=int(r.integers(1, 4)),
                kind=str(r.choice(["qkt", "av", "adj_x", "adj_y", "heads", "bcast"])),
                lo=-float(r.uniform(0.5, 4)), hi=float(r.uniform(0.5, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_matmul_bit_exact(seed):
    import tensorflow as tf
    c = _case(seed)
    t, d, h = c["t"], c["d"], c["heads"]
    rng = np.random.default_rng(seed)

    def dense(x, n, name):
        w = tf.constant(rng.standard_normal((int(x.shape[-1]), n)).astype(np.float32) * 0.5)
        return tf.matmul(x, w, name=name)

    def build(ins):
        x = ins[0]                                     # [1, t, d]
        q, k = dense(x, d, "q"), dense(x, d, "k")
        if c["kind"] == "qkt":
            return tf.matmul(q, tf.transpose(k, (0, 2, 1)))
        if c["kind"] == "adj_y":
            return tf.linalg.matmul(q, k, adjoint_b=True)
        if c["kind"] == "adj_x":
            return tf.linalg.matmul(q, k, adjoint_a=True)
        if c["kind"] == "av":
            a = tf.nn.softmax(tf.matmul(q, k, transpose_b=True))
            return tf.matmul(a, dense(x, d, "v"))
        if c["kind"] == "heads":
            qh = tf.transpose(tf.reshape(dense(x, d * h, "qh"), (1, t, h, d)), (0, 2, 1, 3))
            kh = tf.transpose(tf.reshape(dense(x, d * h, "kh"), (1, t, h, d)), (0, 2, 1, 3))
            return tf.matmul(qh, kh, transpose_b=True)
        # bcast: [1, h, t, d] x [1, 1, d, t]
        qh = tf.reshape(dense(x, d * h, "qh"), (1, h, t, d))
        kk = tf.reshape(tf.transpose(k, (0, 2, 1)), (1, 1, d, t))
        return tf.matmul(qh, kk)

    m = single_op_model(build, [(t, d)], seed, keras=False, low=c["lo"], high=c["hi"])
    check_golden(m, seed, c, expect_ops=("BATCH_MATMUL",))
