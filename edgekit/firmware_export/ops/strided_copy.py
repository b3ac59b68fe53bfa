"""TRANSPOSE and STRIDED_SLICE: both lower to one strided gather
(ek_strided_copy.c).  Data is moved, never requantized, so input and output
quantization must be equal (the converter makes them so).

STRIDED_SLICE follows TFLite's index logic (strided_slice_logic.h): masked
begin/end take the whole axis in the stride's direction, negative indices
count from the end, begin/end are clamped to [0, dim] ([-1, dim - 1] for
negative strides), a shrunk axis takes the single element at begin."""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail

MAX_DIMS = 6
ELEM_TYPES = {"int8": 1, "int16": 2, "float32": 4, "int32": 4}


def _row_strides(shape) -> list[int]:
    st, acc = [], 1
    for d in reversed(shape):
        st.insert(0, acc)
        acc *= int(d)
    return st


def _check_same(op, x, y) -> int:
    if x.dtype != y.dtype or x.dtype not in ELEM_TYPES:
        raise fail(op, f"{x.dtype} -> {y.dtype} is not supported "
                       f"(same type in and out, one of {sorted(ELEM_TYPES)})")
    if x.dtype in ("int8", "int16") and (
            not np.array_equal(np.float32(x.scale), np.float32(y.scale))
            or not np.array_equal(x.zero_point, y.zero_point)):
        raise fail(op, "input and output quantization differ")
    return ELEM_TYPES[x.dtype]


def _const_ints(op, t, what) -> list[int]:
    if t is None or not t.is_const:
        raise fail(op, f"{what} must be a constant tensor")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def merge_dims(shape, step) -> tuple[list[int], list[int]]:
    """The same gather over fewer dims: size-1 dims dropped, and a dim merged
    into the next inner one where it steps over exactly that dim's extent
    (``step[d - 1] == step[d] * shape[d]``).  A slice of whole rows becomes
    one contiguous run (``step == [1]``), which a kernel can copy as a block.
    """
    out_shape: list[int] = []
    out_step: list[int] = []
    for n, s in zip((int(v) for v in shape), (int(v) for v in step)):
        if n == 1:
            continue
        out_shape.append(n)
        out_step.append(s)
        while len(out_shape) > 1 and out_step[-2] == out_step[-1] * out_shape[-1]:
            inner_n, inner_s = out_shape.pop(), out_step.pop()
            out_shape[-1] *= inner_n
            out_step[-1] = inner_s
    return out_shape or [1], out_step or [0]


def _params(op, y, elem, base, shape, step) -> dict:
    shape, step = merge_dims(shape, step)
    if len(shape) > MAX_DIMS:
        raise fail(op, f"rank {len(shape)} is above {MAX_DIMS}")
    pad = MAX_DIMS - len(shape)
    return dict(size=y.num_elements, elem_size=elem, base=base,
                shape=tuple([1] * pad + list(shape)), step=tuple([0] * pad + list(step)))


def lower_transpose(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    x, y = ins[0], graph.op_outputs(op)[0]
    elem = _check_same(op, x, y)
    perm = _const_ints(op, ins[1] if len(ins) > 1 else None, "the permutation")
    rank = len(x.shape)
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise fail(op, f"permutation {perm} does not match rank {rank}")
    out_shape = [int(x.shape[p]) for p in perm]
    if out_shape != [int(d) for d in y.shape]:
        raise fail(op, f"output shape {list(y.shape)} is not the permuted {out_shape}")
    st = _row_strides(x.shape)
    return Lowered("ek_strided_copy", "ek_strided_copy_params",
                   _params(op, y, elem, 0, out_shape, [st[p] for p in perm]),
                   [x.index, y.index], source="ek_strided_copy.c")


def slice_spec(op, in_shape, begin, end, strides, o) -> tuple[list, list, list]:
    """Per axis (start, count, stride) of a TFLite strided slice."""
    starts, counts, keep = [], [], []
    for ax, dim in enumerate(int(d) for d in in_shape):
        s = strides[ax]
        if s == 0:
            raise fail(op, f"stride 0 on axis {ax}")
        big = 1 << 40
        start = begin[ax]
        if o["begin_mask"] >> ax & 1:
            start = -big if s > 0 else big
        if start < 0:
            start += dim
        start = min(max(start, 0), dim) if s > 0 else min(max(start, -1), dim - 1)
        if o["shrink_axis_mask"] >> ax & 1:
            if s < 0:
                raise fail(op, f"a shrunk axis ({ax}) with a negative stride is not supported")
            if not 0 <= start < dim:
                raise fail(op, f"shrunk axis {ax} index {begin[ax]} is out of range")
            starts.append(start)
            counts.append(1)
            continue
        stop = end[ax]
        if o["end_mask"] >> ax & 1:
            stop = big if s > 0 else -big
        if stop < 0:
            stop += dim
        stop = min(max(stop, 0), dim) if s > 0 else min(max(stop, -1), dim - 1)
        n = -(-(stop - start) // s) if s > 0 else -(-(start - stop) // -s)
        starts.append(start)
        counts.append(max(n, 0))
        keep.append(max(n, 0))
    return starts, counts, keep


def lower_strided_slice(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    x, y = ins[0], graph.op_outputs(op)[0]
    elem = _check_same(op, x, y)
    o = op.options
    for k in ("ellipsis_mask", "new_axis_mask"):
        if o.get(k, 0):
            raise fail(op, f"{k} is not supported")
    if o.get("offset", False):
        raise fail(op, "offset=True is not supported")
    rank = len(x.shape)
    begin = _const_ints(op, ins[1], "begin")
    end = _const_ints(op, ins[2], "end")
    strides = _const_ints(op, ins[3] if len(ins) > 3 else None, "strides")
    if not len(begin) == len(end) == len(strides) == rank:
        raise fail(op, f"begin/end/strides of lengths {len(begin)}/{len(end)}/{len(strides)} "
                       f"for rank {rank}")
    starts, counts, keep = slice_spec(op, x.shape, begin, end, strides, o)
    if keep != [int(d) for d in y.shape] and not (keep == [] and y.num_elements == 1):
        raise fail(op, f"output shape {list(y.shape)} differs from the slice's {keep}")
    st = _row_strides(x.shape)
    base = sum(a * b for a, b in zip(starts, st))
    step = [s * t for s, t in zip(strides, st)]
    return Lowered("ek_strided_copy", "ek_strided_copy_params",
                   _params(op, y, elem, base, counts, step),
                   [x.index, y.index], source="ek_strided_copy.c")
