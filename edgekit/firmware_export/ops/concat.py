"""CONCATENATION, int8 and int16: inputs must share the output's scale and zero point
(the converter arranges that; TFLM then copies bytes)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_type

MAX_INPUTS = 8


def lower(op, graph) -> Lowered:
    """CONCATENATION, int8 or int16 (by the output's type)."""
    ins = graph.op_inputs(op)
    y = graph.op_outputs(op)[0]
    if not ins or None in ins:
        raise fail(op, "needs at least one input")
    if len(ins) > MAX_INPUTS:
        raise fail(op, f"{len(ins)} inputs; at most {MAX_INPUTS} are supported")
    dtype = "int16" if y.dtype == "int16" else "int8"
    require_type(op, dtype, y, *ins)
    if op.options.get("activation", "NONE") != "NONE":
        raise fail(op, f"fused activation {op.options['activation']} is not supported")
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    if not -rank <= axis < rank:
        raise fail(op, f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    for t in ins:
        if (t.s, t.zp) != (y.s, y.zp):
            raise fail(op, f"input {t.index} quantization ({t.s}, {t.zp}) differs from the "
                           f"output's ({y.s}, {y.zp}); requantizing concatenation is not "
                           "supported")
        if len(t.shape) != rank or any(int(a) != int(b) for d, (a, b) in
                                       enumerate(zip(t.shape, y.shape)) if d != axis):
            raise fail(op, f"input shape {list(t.shape)} does not match output {list(y.shape)}")
    if sum(int(t.shape[axis]) for t in ins) != int(y.shape[axis]):
        raise fail(op, "input sizes along the axis do not add up to the output's")
    outer = 1
    for d in y.shape[:axis]:
        outer *= int(d)
    inner = 1
    for d in y.shape[axis + 1:]:
        inner *= int(d)
    blocks = [int(t.shape[axis]) * inner for t in ins]
    blocks += [0] * (MAX_INPUTS - len(blocks))
    args = [t.index for t in ins] + [None] * (MAX_INPUTS - len(ins)) + [y.index]
    suffix = "s16" if dtype == "int16" else "s8"
    return Lowered(f"ek_concat_{suffix}", "ek_concat_params",
                   dict(outer=outer, num_inputs=len(ins), block=tuple(blocks)), args,
                   source="ek_concat_s16.c" if dtype == "int16" else "ek_concat.c")
