"""TRANSPOSE golden tests: ranks 2 to 5 (TFLM's limit; the kernel takes 6),
random permutations, dims >= 2 so that the converter keeps the transpose."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(12)


def _case(seed):
    r = np.random.default_rng(7100 + seed)
    rank = int(r.integers(2, 5))          # without the batch dim
    shape = tuple(int(r.integers(2, 6)) for _ in range(rank))
    perm = list(range(rank + 1))
    while perm == sorted(perm):
        perm = [0] + [int(p) + 1 for p in r.permutation(rank)]
    return dict(shape=shape, perm=tuple(perm))


@pytest.mark.parametrize("seed", SEEDS)
def test_transpose_bit_exact(seed):
    import tensorflow as tf
    c = _case(seed)
    m = single_op_model(lambda ins: tf.transpose(ins[0], c["perm"]), [c["shape"]],
                        seed, keras=False, low=-2, high=3)
    check_golden(m, seed, c, expect_ops=("TRANSPOSE",))
