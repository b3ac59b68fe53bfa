"""Op lowerings: one module per TFLite op type.

Each module has ``lower(op, graph) -> Lowered``: it checks that the op is one
edgekit's kernel computes exactly (types, quantization, options) and
precomputes the kernel's parameters.  Anything else raises
:class:`~edgekit.errors.UnsupportedOpError` naming the op and its index.
"""

from __future__ import annotations

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.ops import (add, batch_matmul, code_add, concat, const_lut, conv,
                                         depthwise_conv, fully_connected, hard_swish, int16,
                                         leaky_relu, lif, lif_bn, lif_layer, logistic, lstm, mean,
                                         mul, pad, pooling, quantize, relu, reshape, rsqrt, s16,
                                         softmax, spike_add, spike_dw, spike_fc, squared_difference,
                                         strided_copy, sub, tanh, transpose_conv)
from edgekit.firmware_export.ops.base import Lowered

LOWERINGS = {
    "CONV_2D": s16.by_dtype(conv.lower, s16.lower_conv),
    "DEPTHWISE_CONV_2D": s16.by_dtype(depthwise_conv.lower, int16.lower_depthwise),
    "AVERAGE_POOL_2D": pooling.lower_avg,
    "MAX_POOL_2D": pooling.lower_max,
    "FULLY_CONNECTED": s16.by_dtype(fully_connected.lower, s16.lower_fc),
    "SOFTMAX": s16.by_dtype(softmax.lower, s16.lower_softmax),
    "RESHAPE": reshape.lower,
    "SQUEEZE": reshape.lower,
    "EXPAND_DIMS": reshape.lower,
    "ADD": s16.by_dtype(const_lut.lower_add, s16.lower_add),
    "MEAN": mean.lower,
    "SUB": sub.lower,
    "MUL": const_lut.lower_mul,
    "CONCATENATION": concat.lower,
    "PAD": pad.lower,
    "PADV2": pad.lower,
    "RELU": relu.lower,
    "RELU6": relu.lower,
    "LEAKY_RELU": leaky_relu.lower,
    "LOGISTIC": s16.by_dtype(logistic.lower, int16.lower_logistic),
    "TANH": s16.by_dtype(tanh.lower, int16.lower_tanh),
    "HARD_SWISH": hard_swish.lower,
    "QUANTIZE": quantize.lower,
    "DEQUANTIZE": quantize.lower_dequantize,
    "TRANSPOSE": strided_copy.lower_transpose,
    "STRIDED_SLICE": strided_copy.lower_strided_slice,
    "TRANSPOSE_CONV": transpose_conv.lower,
    "BATCH_MATMUL": s16.by_dtype(batch_matmul.lower, int16.lower_batch_matmul),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm.lower,
    "SQUARED_DIFFERENCE": squared_difference.lower,
    "RSQRT": rsqrt.lower,
    # not a TFLite op: one LIF step fused by passes/fuse_lif.py
    "EK_LIF": lif.lower,
    # not a TFLite op: the steps of one LIF layer, joined by passes/lif_layer.py
    "EK_LIF_LAYER": lif_layer.lower,
    "EK_LIF_STEP": lif_layer.lower_step,
    # not a TFLite op: a LIF layer with the ADD and per-channel stages making
    # its current, joined by passes/lif_bn.py
    "EK_LIF_BN": lif_bn.lower,
    # not a TFLite op: a layer reading spikes, rewritten by passes/spike_sparse.py
    "EK_SPIKE_FC": spike_fc.lower,
    "EK_SPIKE_DW": spike_dw.lower,
    "EK_SPIKE_ADD": spike_add.lower,
    # not a TFLite op: an ADD with one input of a few codes, by passes/code_add.py
    "EK_CODE_ADD": code_add.lower,
}


def lower(op, graph) -> Lowered:
    """Lower one op, or raise UnsupportedOpError naming it."""
    fn = LOWERINGS.get(op.opcode)
    if fn is None:
        raise UnsupportedOpError(
            f"op {op.index} ({op.opcode}) is not supported by edgekit's code generator; "
            f"supported ops: {', '.join(sorted(LOWERINGS))}")
    return fn(op, graph)


__all__ = ["LOWERINGS", "Lowered", "lower"]
