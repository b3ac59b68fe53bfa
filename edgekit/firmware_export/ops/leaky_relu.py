"""LEAKY_RELU, int8 and int16 (16x8), with TFLM's arithmetic (leaky_relu_common.cc
and the reference QuantizeLeakyRelu):

* two multipliers, computed in float and quantized as doubles: the identity
  ``in_s / out_s`` and the slope ``(in_s * alpha) / out_s``;
* per element, ``v = x - in_zp``; ``v >= 0`` takes the identity multiplier,
  ``v < 0`` the slope's; then ``out_zp`` is added and the result clamped to
  the type's range (int8 or int16; int16 zero points are 0).
"""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail
from edgekit.firmware_export.quant import f32, quantize_multiplier

KERNELS = {"int8": "ek_leaky_relu_s8", "int16": "ek_leaky_relu_s16"}


def lower(op, graph) -> Lowered:
    """Lower one LEAKY_RELU (int8 or int16) to ``ek_leaky_relu_s8`` / ``_s16``.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        For another type, different input and output types or sizes, a
        tensor without quantization, an int16 zero point other than 0 or a
        negative alpha.
    """
    x = graph.op_inputs(op)[0]
    y = graph.op_outputs(op)[0]
    if x is None or x.dtype not in KERNELS or y.dtype != x.dtype:
        raise fail(op, f"input {x.dtype.upper() if x else None} and output {y.dtype.upper()}: "
                       "this kernel needs INT8 or INT16 for both")
    for t in (x, y):
        if not len(t.scale):
            raise fail(op, f"tensor {t.index} ({t.name!r}) has no quantization parameters")
        if x.dtype == "int16" and t.zp != 0:
            raise fail(op, f"int16 tensor {t.index} has zero point {t.zp}; TFLite's 16x8 "
                           "activations have 0")
    if x.num_elements != y.num_elements:
        raise fail(op, f"input and output sizes differ ({x.num_elements} vs {y.num_elements})")
    alpha = f32(op.options.get("alpha", 0.0))
    if alpha < 0:
        raise fail(op, f"negative alpha {alpha} is not supported")
    id_mult, id_shift = quantize_multiplier(f32(f32(x.s) / f32(y.s)))
    al_mult, al_shift = quantize_multiplier(f32(f32(f32(x.s) * alpha) / f32(y.s)))
    params = dict(size=y.num_elements, in_zp=x.zp, out_zp=y.zp, id_mult=id_mult,
                  id_shift=id_shift, alpha_mult=al_mult, alpha_shift=al_shift)
    return Lowered(KERNELS[x.dtype], "ek_leaky_relu_params", params, [x.index, y.index],
                   source="ek_leaky_relu.c", inplace=(x.index,))
