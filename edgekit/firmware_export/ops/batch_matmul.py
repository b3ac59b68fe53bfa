"""BATCH_MATMUL, int8 x int8 -> int8 (TFLM batch_matmul.cc): ranks 2 to 5,
broadcast batch dims, adj_x / adj_y; multiplier lhs_s * rhs_s / out_s in
double; no fused activation (clamp to int8)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import f32, quantize_multiplier

MAX_BATCH_DIMS = 4


def matmul_params(op, graph, require=require_int8) -> dict:
    """The ``ek_batch_matmul_params`` fields of a BATCH_MATMUL (any element type).

    ``require(op, *tensors)`` checks the operand types (``require_int8`` here,
    ``require_int16`` for the 16x8 lowering, whose zero points are 0).
    """
    lhs, rhs = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require(op, lhs, rhs, y)
    for t in (lhs, rhs, y):
        if len(t.scale) != 1:
            raise fail(op, f"tensor {t.index} must be quantized per tensor")
    lr, rr = len(lhs.shape), len(rhs.shape)
    if not (2 <= lr <= 5 and 2 <= rr <= 5):
        raise fail(op, f"operand ranks {lr} and {rr}: 2 to 5 are supported")
    rank = max(lr, rr)
    ls = [1] * (rank - lr) + [int(d) for d in lhs.shape]
    rs = [1] * (rank - rr) + [int(d) for d in rhs.shape]
    adj_x, adj_y = bool(op.options.get("adj_x")), bool(op.options.get("adj_y"))
    rows, depth = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
    rdepth, cols = (rs[-1], rs[-2]) if adj_y else (rs[-2], rs[-1])
    if depth != rdepth:
        raise fail(op, f"inner dimensions differ: {depth} and {rdepth}")
    nb = rank - 2
    if nb > MAX_BATCH_DIMS:
        raise fail(op, f"{nb} batch dims (at most {MAX_BATCH_DIMS})")
    out_b = []
    for a, b in zip(ls[:nb], rs[:nb]):
        if a != b and a != 1 and b != 1:
            raise fail(op, f"batch dims {ls[:nb]} and {rs[:nb]} do not broadcast")
        out_b.append(max(a, b))
    if [int(d) for d in y.shape] != out_b + [rows, cols]:
        raise fail(op, f"output shape {list(y.shape)} is not {out_b + [rows, cols]}")

    def batch_strides(shape):
        st, acc = [0] * nb, shape[-1] * shape[-2]
        for d in range(nb - 1, -1, -1):
            st[d] = acc if shape[d] > 1 else 0
            acc *= shape[d]
        return st

    pad = MAX_BATCH_DIMS - nb
    batches = 1
    for d in out_b:
        batches *= d
    m, sh = quantize_multiplier(f32(lhs.s) * f32(rhs.s) / f32(y.s))
    params = dict(
        batches=batches, rows=rows, cols=cols, depth=depth,
        batch_shape=tuple([1] * pad + out_b),
        lhs_batch_stride=tuple([0] * pad + batch_strides(ls)),
        rhs_batch_stride=tuple([0] * pad + batch_strides(rs)),
        lhs_row_stride=1 if adj_x else depth, lhs_depth_stride=rows if adj_x else 1,
        rhs_depth_stride=1 if adj_y else cols, rhs_col_stride=depth if adj_y else 1,
        lhs_offset=-lhs.zp, rhs_offset=-rhs.zp, out_offset=y.zp, out_mult=m, out_shift=sh)
    return params


def lower(op, graph) -> Lowered:
    """BATCH_MATMUL int8 x int8 -> int8."""
    lhs, rhs = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    return Lowered("ek_batch_matmul_s8", "ek_batch_matmul_params", matmul_params(op, graph),
                   [lhs.index, rhs.index, y.index], source="ek_batch_matmul.c")
