"""RESHAPE, SQUEEZE, EXPAND_DIMS: no computation; the output aliases the input."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail


def lower(op, graph) -> Lowered:
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    if x.num_elements != y.num_elements:
        raise fail(op, f"reshapes {list(x.shape)} to {list(y.shape)}: element counts differ")
    if x.dtype != y.dtype:
        raise fail(op, f"changes type {x.dtype} -> {y.dtype}")
    if len(x.zero_point) and (x.zp != y.zp or x.s != y.s):
        raise fail(op, "changes quantization parameters")
    return Lowered(None, alias_of=x.index, args=[x.index, y.index])
