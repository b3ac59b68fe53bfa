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


@pytest.mark.parametrize("shape, begin, end, em", [   # shape without the batch dim
    ((9, 6), [0, 1, 0], [1, 0, 0], 0b110),      # drop the oldest row: a streaming history shift
    ((9, 6), [0, 0, 2], [1, 0, 5], 0b010),      # part of every row: runs of 3
    ((5, 4, 3), [0, 1, 0, 0], [1, 4, 0, 0], 0b1100),
])
def test_unit_stride_slices_copy_runs_bit_exact(shape, begin, end, em):
    """All strides 1 (excluded from the random cases): the kernel copies contiguous runs."""
    import tensorflow as tf

    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.ops import lower

    def build(ins):
        x = ins[0] * 1.0
        # (an end mask keeps the converter from turning it into SLICE)
        y = tf.strided_slice(x, begin, end, [1] * len(begin), end_mask=em)
        return tf.reshape(y, [1, -1])

    m = single_op_model(build, [shape], 0, keras=False, low=-3, high=2)
    assert "STRIDED_SLICE" in opcodes(m), f"the end mask no longer keeps the op: {opcodes(m)}"
    g = read_tflite(m)
    (op,) = [o for o in g.operators if o.opcode == "STRIDED_SLICE"]
    assert lower(op, g).params["step"][-1] == 1      # innermost dim contiguous
    check_golden(m, 0, {"shape": shape, "begin": begin, "end": end},
                 expect_ops=("STRIDED_SLICE",))


def test_merge_dims_by_hand():
    from edgekit.firmware_export.ops.strided_copy import merge_dims

    assert merge_dims([1, 8, 6], [0, 6, 1]) == ([48], [1])          # whole rows: one run
    assert merge_dims([8, 3], [6, 1]) == ([8, 3], [6, 1])            # 3 of 6 per row
    assert merge_dims([2, 3, 4], [24, 4, 1]) == ([2, 12], [24, 1])   # stride 2 on axis 0
    assert merge_dims([4, 3], [1, 4]) == ([4, 3], [1, 4])            # a transpose: no merge
    assert merge_dims([1, 1], [5, 7]) == ([1], [0])                  # a single element
