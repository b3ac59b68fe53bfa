"""STRIDED_SLICE golden tests: random begin/end/strides (negative indices and
strides), begin/end masks, shrink masks, ranks 2 to 4 (TFLM's limit)."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden, opcodes, single_op_model

SEEDS = range(14)


def _case(seed):
    r = np.random.default_rng(7300 + seed)
    rank = int(r.integers(1, 4))
    shape = tuple(int(r.integers(2, 8)) for _ in range(rank))
    begin, end, strides = [0], [1], [1]
    bm = em = sm = 0
    for ax, d in enumerate(shape, start=1):      # non-empty slices only
        s = int(r.choice([1, 1, 2, 3, -1, -2]))
        bn = int(r.integers(0, d))
        en = int(r.integers(bn + 1, d + 1)) if s > 0 else int(r.integers(-1, bn))
        b = bn - d if r.random() < 0.4 else bn
        if en == -1 or (en == d and r.random() < 0.5):
            e = 0
            em |= 1 << ax
        else:
            e = en - d if (r.random() < 0.4 and en < d) else (en if en < d else d + 3)
        if r.random() < 0.2:
            b = 0
            bm |= 1 << ax
        if r.random() < 0.15 and s > 0:
            sm |= 1 << ax
        begin.append(b)
        end.append(e)
        strides.append(s)
    if all(s == 1 for s in strides):
        strides[-1] = 2
    return dict(shape=shape, begin=begin, end=end, strides=strides, bm=bm, em=em, sm=sm)


@pytest.mark.parametrize("seed", SEEDS)
def test_strided_slice_bit_exact(seed):
    import tensorflow as tf
    c = _case(seed)

    def build(ins):
        y = tf.strided_slice(ins[0], c["begin"], c["end"], c["strides"], begin_mask=c["bm"],
                             end_mask=c["em"], shrink_axis_mask=c["sm"])
        return tf.reshape(y, [1, -1])

    m = single_op_model(build, [c["shape"]], seed, keras=False, low=-3, high=2)
    if "STRIDED_SLICE" not in opcodes(m):
        pytest.skip(f"converter folded the slice away: {opcodes(m)}")
    check_golden(m, seed, c, expect_ops=("STRIDED_SLICE",))
