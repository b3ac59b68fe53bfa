"""PAD and PADV2, int8 and int16 (input and output share scale and zero point; PAD
fills with the zero point, PADV2 with its constant value)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_type

MAX_DIMS = 6


def lower(op, graph) -> Lowered:
    """PAD / PADV2, int8 or int16 (by the input's type)."""
    ins = graph.op_inputs(op)
    x, pads = ins[0], ins[1] if len(ins) > 1 else None
    y = graph.op_outputs(op)[0]
    dtype = "int16" if x.dtype == "int16" else "int8"
    require_type(op, dtype, x, y)
    if (x.s, x.zp) != (y.s, y.zp):
        raise fail(op, "input and output quantization must be equal")
    if pads is None or not pads.is_const:
        raise fail(op, "paddings must be a constant tensor")
    rank = len(x.shape)
    if rank > MAX_DIMS or len(y.shape) != rank:
        raise fail(op, f"rank {rank} is not supported (at most {MAX_DIMS})")
    pv = pads.data.reshape(-1, 2).astype(int).tolist()
    if len(pv) != rank or any(a < 0 or b < 0 for a, b in pv):
        raise fail(op, f"paddings {pv} do not fit rank {rank} (negative padding?)")
    for d in range(rank):
        if int(x.shape[d]) + pv[d][0] + pv[d][1] != int(y.shape[d]):
            raise fail(op, f"output shape {list(y.shape)} does not match paddings {pv}")
    value = y.zp
    if len(ins) > 2 and ins[2] is not None:
        c = ins[2]
        if not c.is_const or c.dtype != dtype or c.num_elements != 1:
            raise fail(op, f"the constant value must be a constant {dtype} scalar")
        value = int(c.data.reshape(-1)[0])
    lead = MAX_DIMS - rank
    suffix = "s16" if dtype == "int16" else "s8"
    return Lowered(f"ek_pad_{suffix}", "ek_pad_params", dict(
        size=y.num_elements,
        in_shape=tuple([1] * lead + [int(d) for d in x.shape]),
        out_shape=tuple([1] * lead + [int(d) for d in y.shape]),
        before=tuple([0] * lead + [a for a, _ in pv]), value=value),
        [x.index, y.index], source="ek_pad_s16.c" if dtype == "int16" else "ek_pad.c")
