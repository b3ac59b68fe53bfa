"""UNIDIRECTIONAL_SEQUENCE_LSTM, the integer LSTM of TFLite's quantization spec
as tflite_micro runs it (the form the TFLite converter emits for a Keras
``LSTM`` quantized to int8): int8 input, output and hidden state, int16
cell state with a power-of-two scale, int8 weights with one scale per
tensor, int32 gate biases; no CIFG, peephole, projection or layer norm
(tflite_micro refuses those in an integer LSTM, and so does edgekit).

The parameters are TFLM's (``PrepareGateParametersInteger``): each gate's
input and recurrent FC requantize to int16 Q3.12 with the multiplier of an
FC (input scale times weight scale in double, over 2^-12); the cell and
hidden products are MULs with ``QuantizeMultiplier`` of the product of the
two input scales (Q0.15 gates: 2^-15) over the output scale; tanh of the
cell state scales the cell code by 3 * 2^(cell_power + 12) before the
table (``reference_integer_ops::Tanh``).

The hidden and cell state tensors are TFLite *variable* tensors.  The
generated C keeps them in its static state buffers (:func:`variable_tensors`,
outside the arena) and zeroes them (hidden state: its zero point) at the
start of every call: each call computes what Keras' LSTM (without
``stateful=True``) computes for that input, and what tflite_micro computes
after ``reset()`` (tflite_micro alone would carry the state over from one
invoke to the next; :func:`edgekit.reference.run_tflm` resets it).
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.firmware_export.ops.base import Lowered, fail, require_activation, require_int8
from edgekit.firmware_export.quant import f32, quantize_multiplier

#: Input positions of the op (TFLite's lstm_shared.h).
INPUT, W_X, W_H, BIAS, H_STATE, C_STATE = 0, range(1, 5), range(5, 9), range(12, 16), 18, 19
#: Optional inputs edgekit refuses: peephole, projection, layer norm.
OPTIONAL = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection",
            17: "projection bias", 20: "layer norm", 21: "layer norm", 22: "layer norm",
            23: "layer norm"}
#: Gate scale of the FC outputs (Q3.12) and of the gate activations (Q0.15).
GATE_IN_SCALE = 2.0 ** -12
GATE_OUT_SCALE = 2.0 ** -15


def cell_power(op, scale: float) -> int:
    """``log2`` of the cell state scale (TFLite's ``CheckedLog2``).

    Parameters
    ----------
    op : Operator
        The LSTM (named in the error).
    scale : float
        The cell state's scale.

    Returns
    -------
    int
        The power of two.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the scale is not a positive power of two (within 1e-3 in log2).
    """
    if not scale > 0:
        raise fail(op, f"cell state scale must be > 0 (got {scale})")
    lg = math.log(f32(scale)) / math.log(2.0)
    p = int(round(lg))
    if abs(lg - p) >= 1e-3:
        raise fail(op, f"cell state scale must be a power of two (got {scale})")
    return p


def mul_params(s1: float, s2: float, out: float) -> tuple[int, int]:
    """TFLM's ``CreateInterGateMulParams``: the scales' product in double over the output's.

    Parameters
    ----------
    s1, s2 : float
        The two input scales.
    out : float
        The output scale.

    Returns
    -------
    (int, int)
        Q0.31 multiplier and shift (:func:`edgekit.firmware_export.quant.quantize_multiplier`).
    """
    return quantize_multiplier(f32(s1) * f32(s2) / f32(out))


def variable_tensors(graph) -> list[int]:
    """The variable tensors the graph's ops read and write, in index order.

    Parameters
    ----------
    graph : Graph

    Returns
    -------
    list of int
        Tensor indices (LSTM hidden and cell states): state kept between calls.
    """
    return sorted({t for op in graph.operators for t in op.inputs
                   if t >= 0 and graph.tensors[t].is_variable})


def lower(op, graph) -> Lowered:
    """Lower an int8 UNIDIRECTIONAL_SEQUENCE_LSTM to ``ek_lstm_s8``.

    Parameters
    ----------
    op : Operator
    graph : Graph

    Returns
    -------
    Lowered
        Arguments: input, the 4 input and 4 recurrent weight matrices (gates
        i, f, c, o), the 4 biases, the hidden and cell state (state buffers),
        the output; scratch 8 * n_cell bytes.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        For CIFG, peephole, projection, layer norm, hybrid or non-int8/int16
        LSTMs, or tensors whose shapes or quantization do not match.
    """
    ins = graph.op_inputs(op)
    if len(ins) != 24 or len(op.outputs) != 1:
        raise fail(op, f"expected 24 inputs and 1 output (got {len(ins)} and {len(op.outputs)})")
    for i, what in OPTIONAL.items():
        if ins[i] is not None:
            raise fail(op, f"LSTMs with {what} tensors are not supported (input {i})")
    if ins[1] is None:
        raise fail(op, "CIFG LSTMs (no input gate) are not supported")
    x, h, c = ins[INPUT], ins[H_STATE], ins[C_STATE]
    y = graph.op_outputs(op)[0]
    wx = [ins[i] for i in W_X]
    wh = [ins[i] for i in W_H]
    bias = [ins[i] for i in BIAS]
    require_int8(op, x, y, h, *wx, *wh)
    require_activation(op, x)
    opt = op.options
    if opt.get("asymmetric_quantize_inputs") or opt.get("diagonal_recurrent_tensors"):
        raise fail(op, "hybrid and diagonal-recurrent LSTMs are not supported")
    act = opt.get("activation", "TANH")
    if act not in ("TANH",):
        raise fail(op, f"cell gate activation {act} is not supported (TANH only)")
    if opt.get("proj_clip", 0.0) not in (0.0,):
        raise fail(op, "projection clipping without projection weights")
    for s in (h, c):
        if s is None or not s.is_variable:
            raise fail(op, "the hidden and cell states must be variable tensors")
    if c.dtype != "int16" or not len(c.scale) or c.zp != 0:
        raise fail(op, f"the cell state must be int16 with zero point 0 (got {c.dtype}, "
                       f"zero point {c.zp})")
    if len(x.shape) != 3 or len(y.shape) != 3:
        raise fail(op, f"input and output must be 3-D (got {list(x.shape)}, {list(y.shape)})")
    time_major = bool(opt.get("time_major"))
    d0, d1, n_in = (int(d) for d in x.shape)
    steps, batches = (d0, d1) if time_major else (d1, d0)
    n_cell = int(wx[0].shape[0]) if len(wx[0].shape) == 2 else -1
    for w, cols in [(w, n_in) for w in wx] + [(w, n_cell) for w in wh]:
        if not w.is_const or tuple(int(d) for d in w.shape) != (n_cell, cols):
            raise fail(op, f"weights {w.index} must be constant [{n_cell}, {cols}] "
                           f"(got {list(w.shape)})")
        if len(w.scale) != 1 or w.zp != 0:
            raise fail(op, f"weights {w.index} must have one scale and zero point 0")
    for b in bias:
        if b is None or b.dtype != "int32" or not b.is_const or b.num_elements != n_cell:
            raise fail(op, f"gate biases must be constant int32 [{n_cell}]")
    if h.num_elements != batches * n_cell or c.num_elements != batches * n_cell:
        raise fail(op, f"states must have {batches * n_cell} elements")
    if tuple(int(d) for d in y.shape) != (d0, d1, n_cell):
        raise fail(op, f"output shape {list(y.shape)} does not match [{d0}, {d1}, {n_cell}]")
    if (y.s, y.zp) != (h.s, h.zp):
        raise fail(op, "output and hidden state must have the same quantization")
    in_m, in_s, rec_m, rec_s = [], [], [], []
    for g in range(4):
        m, s = quantize_multiplier(f32(x.s) * f32(wx[g].s) / f32(GATE_IN_SCALE))
        in_m.append(m)
        in_s.append(s)
        m, s = quantize_multiplier(f32(h.s) * f32(wh[g].s) / f32(GATE_IN_SCALE))
        rec_m.append(m)
        rec_s.append(s)
    power = cell_power(op, c.s)
    fc_m, fc_s = mul_params(GATE_OUT_SCALE, c.s, c.s)
    ic_m, ic_s = mul_params(GATE_OUT_SCALE, GATE_OUT_SCALE, c.s)
    h_m, h_s = mul_params(GATE_OUT_SCALE, GATE_OUT_SCALE, h.s)
    # reference_integer_ops::Tanh(input_multiplier, input_left_shift) as
    # TFLM's LSTM calls it: shift 15 + power - 3; a negative shift becomes
    # multiplier 3 and a rounding right shift.
    shift = 15 + power - 3
    tanh_mult, tanh_rshift = (3 << shift, 0) if shift >= 0 else (3, -shift)
    if tanh_mult > (1 << 14):
        raise fail(op, f"cell state scale 2^{power} is too coarse")
    clip = 0
    if opt.get("cell_clip", 0.0) > 0:
        clip = int(min(max(f32(opt["cell_clip"]) / f32(c.s), -32768.0), 32767.0))
    # The optimized kernel's folded offsets (exact integers, checked to fit int32).
    in_bias, rec_bias = [], []
    for g in range(4):
        wsum = wx[g].data.astype(np.int64).sum(axis=1)
        in_bias += (bias[g].data.astype(np.int64) - x.zp * wsum).tolist()
        rec_bias += (-h.zp * wh[g].data.astype(np.int64).sum(axis=1)).tolist()
    if any(abs(v) >= 2 ** 31 for v in in_bias + rec_bias):
        raise fail(op, "a gate bias with the input offset folded in does not fit int32")
    params = dict(batches=batches, steps=steps, n_in=n_in, n_cell=n_cell,
                  time_major=int(time_major), in_offset=-x.zp, h_offset=-h.zp,
                  in_mult=tuple(in_m), in_shift=tuple(in_s), rec_mult=tuple(rec_m),
                  rec_shift=tuple(rec_s), cell_tanh=1, fc_mult=fc_m, fc_shift=fc_s,
                  ic_mult=ic_m, ic_shift=ic_s, h_mult=h_m, h_shift=h_s, h_zp=h.zp,
                  tanh_mult=tanh_mult, tanh_rshift=tanh_rshift, cell_clip=clip,
                  in_bias=[int(v) for v in in_bias], rec_bias=[int(v) for v in rec_bias])
    args = [x.index, *(w.index for w in wx), *(w.index for w in wh), *(b.index for b in bias),
            h.index, c.index, y.index]
    return Lowered("ek_lstm_s8", "ek_lstm_params", params, args, source="ek_lstm.c",
                   scratch=8 * n_cell)
