"""ADD, int8, with broadcasting (TFLite's integer add: both inputs are
brought to a common scale 2 * max(s1, s2) with 20 bits of headroom)."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import activation_range, f32, quantize_multiplier

LEFT_SHIFT = 20
MAX_DIMS = 6


def broadcast_params(op, a, b, y) -> dict:
    """Output shape and element strides of both inputs over 6 padded dims."""
    shape = [int(d) for d in y.shape]
    if len(shape) > MAX_DIMS:
        raise fail(op, f"rank {len(shape)} is above {MAX_DIMS}")
    out = [1] * (MAX_DIMS - len(shape)) + shape

    def strides(t):
        s = [int(d) for d in t.shape]
        if len(s) > MAX_DIMS:
            raise fail(op, f"rank {len(s)} is above {MAX_DIMS}")
        s = [1] * (MAX_DIMS - len(s)) + s
        st, acc = [0] * MAX_DIMS, 1
        for d in range(MAX_DIMS - 1, -1, -1):
            if s[d] == out[d]:
                st[d] = acc if s[d] > 1 else 0
            elif s[d] == 1:
                st[d] = 0
            else:
                raise fail(op, f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast "
                               f"to {list(y.shape)}")
            acc *= s[d]
        return st

    s1, s2 = strides(a), strides(b)
    same = list(a.shape) == list(b.shape) == list(y.shape)
    return dict(size=y.num_elements, broadcast=int(not same), out_shape=tuple(out),
                in1_strides=tuple(s1), in2_strides=tuple(s2))


def lower(op, graph) -> Lowered:
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int8(op, a, b, y)
    twice_max = 2.0 * max(f32(a.s), f32(b.s))
    m1, sh1 = quantize_multiplier(f32(a.s) / twice_max)
    m2, sh2 = quantize_multiplier(f32(b.s) / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * f32(y.s)))
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp)
    params = broadcast_params(op, a, b, y)
    params.update(in1_offset=-a.zp, in2_offset=-b.zp, out_offset=y.zp, left_shift=LEFT_SHIFT,
                  in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
                  out_mult=mo, out_shift=sho, act_min=act_min, act_max=act_max)
    # Element i of a full-shape input is read right before output element i
    # is written, so the output may overwrite such an input.
    inplace = tuple(t.index for t in (a, b) if list(t.shape) == list(y.shape) and not t.is_const)
    return Lowered("ek_add_s8", "ek_add_params", params, [a.index, b.index, y.index],
                   source="ek_add.c", inplace=inplace)
