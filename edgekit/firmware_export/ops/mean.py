"""MEAN over a contiguous run of axes (size-1 axes aside), int8 and 16x8 (global average pooling)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_type
from edgekit.firmware_export.quant import quantize_multiplier


def lower(op, graph) -> Lowered:
    """MEAN, int8 or int16 (by the input's type)."""
    x, axis_t = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    dtype = "int16" if x.dtype == "int16" else "int8"
    require_type(op, dtype, x, y)
    if axis_t is None or not axis_t.is_const:
        raise fail(op, "axis must be a constant tensor")
    rank = len(x.shape)
    axes = sorted({int(a) % rank for a in axis_t.data.reshape(-1)})
    # an axis of size 1 changes neither the sum nor the count: torch's global
    # average pooling exports as a MEAN over (batch, time) after an Unsqueeze
    axes = [a for a in axes if int(x.shape[a]) != 1] or axes[:1]
    if not axes or axes != list(range(axes[0], axes[-1] + 1)):
        raise fail(op, f"reduces over axes {axes}; only a contiguous run of axes is supported")
    outer = 1
    for d in x.shape[:axes[0]]:
        outer *= int(d)
    reduce = 1
    for d in x.shape[axes[0]:axes[-1] + 1]:
        reduce *= int(d)
    inner = 1
    for d in x.shape[axes[-1] + 1:]:
        inner *= int(d)
    if y.num_elements != outer * inner:
        raise fail(op, f"output shape {list(y.shape)} does not match the reduction")
    if reduce <= 0:
        raise fail(op, "reduces over an empty axis")
    # tflite_micro takes the requantizing path below for every int8 MEAN,
    # including keep_dims over H,W of a 4-D input and equal input/output
    # quantization (checked against it in tests/test_kernel_mean.py; a
    # truncating sum / count differs there).
    mult, shift = quantize_multiplier(float(x.s) / float(y.s))
    # Fold 1/count into the multiplier as TFLite's quantized mean does.
    sh = reduce.bit_length() - 1
    sh = min(sh, 32, 31 + shift)
    mult = (mult << sh) // reduce
    shift -= sh
    params = dict(outer=outer, reduce=reduce, inner=inner, in_zp=x.zp, out_zp=y.zp,
                  mult=mult, shift=shift)
    if dtype == "int16":
        return Lowered("ek_mean_s16", "ek_mean_params", params, [x.index, y.index],
                       source="ek_mean_s16.c")
    return Lowered("ek_mean_s8", "ek_mean_params", params, [x.index, y.index],
                   source="ek_mean.c")
