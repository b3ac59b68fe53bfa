"""FULLY_CONNECTED: int8 input, int8 weights [units, accum], int32 bias."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import activation_range, f32, quantize_multiplier


def lower(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int8(op, x, w, y)
    if not w.is_const or len(w.shape) != 2:
        raise fail(op, "weights must be a constant 2-D tensor")
    if op.options.get("weights_format", 0) != 0:
        raise fail(op, "shuffled weight formats are not supported")
    if b is not None and (b.dtype != "int32" or not b.is_const):
        raise fail(op, f"bias must be a constant int32 tensor (got {b.dtype})")
    units, accum = (int(d) for d in w.shape)
    if accum <= 0 or x.num_elements % accum:
        raise fail(op, f"input of {x.num_elements} elements is not a multiple of {accum}")
    batches = x.num_elements // accum
    if y.num_elements != batches * units:
        raise fail(op, f"output has {y.num_elements} elements, expected {batches * units}")
    per_channel = len(w.scale) > 1
    if per_channel:
        mult, shift = [], []
        for s in w.scale:
            m, sh = quantize_multiplier(f32(x.s) * float(s) / f32(y.s))
            mult.append(m)
            shift.append(sh)
    else:
        # TFLite (GetQuantizedConvolutionMultipler): the product of the two
        # scales in double, divided by the output scale in double.
        m, sh = quantize_multiplier(f32(x.s) * f32(w.s) / f32(y.s))
        mult, shift = [m], [sh]
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp)
    params = dict(batches=batches, accum=accum, units=units, in_offset=-x.zp,
                  filter_offset=-w.zp, out_offset=y.zp, act_min=act_min, act_max=act_max,
                  per_channel=int(per_channel), mult=mult, shift=shift)
    return Lowered("ek_fully_connected_s8", "ek_fc_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_fully_connected.c")
