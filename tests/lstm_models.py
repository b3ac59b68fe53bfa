"""Tiny int8 UNIDIRECTIONAL_SEQUENCE_LSTM flatbuffers for the golden tests.

:func:`lstm_tflite` writes one LSTM op the way the TFLite converter emits a
Keras ``LSTM`` quantized to int8 (24 inputs: input, 4 + 4 int8 weight
matrices, 4 int32 biases, the int8 hidden and int16 cell state as variable
tensors; cell clip, TANH cell activation), with random weights and
quantization, through LiteRT's schema object API.  No converter runs, so a
case costs milliseconds; the expected outputs come from tflite_micro.
"""

from __future__ import annotations

import numpy as np


def lstm_tflite(*, batch: int, steps: int, n_in: int, n_cell: int, seed: int,
                time_major: bool = False, cell_power: int = -14,
                cell_clip: float = 10.0) -> bytes:
    """A one-op int8 LSTM model with random weights and scales (bytes of a .tflite)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    r = np.random.default_rng(seed)
    bufs = [s.BufferT()]
    tensors = []

    def tensor(name, shape, ttype, scale=None, zp=0, data=None, variable=False):
        t = s.TensorT()
        t.name, t.shape, t.type, t.isVariable = name, list(shape), ttype, variable
        t.buffer = 0
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            bufs.append(b)
            t.buffer = len(bufs) - 1
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [float(scale)], [int(zp)]
            t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    in_shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    out_shape = in_shape[:2] + (n_cell,)
    x_scale = float(r.uniform(0.005, 0.08))
    h_scale, h_zp = float(r.uniform(0.003, 0.009)), int(r.integers(-12, 13))
    x = tensor("input", in_shape, s.TensorType.INT8, x_scale, int(r.integers(-40, 41)))
    wx, wh, bias = [], [], []
    for g in "ifco":
        ws = float(r.uniform(0.002, 0.03))
        wx.append((tensor(f"w_{g}", (n_cell, n_in), s.TensorType.INT8, ws, 0,
                          r.integers(-127, 128, (n_cell, n_in)).astype(np.int8)), ws))
    for g in "ifco":
        ws = float(r.uniform(0.002, 0.03))
        wh.append(tensor(f"r_{g}", (n_cell, n_cell), s.TensorType.INT8, ws, 0,
                         r.integers(-127, 128, (n_cell, n_cell)).astype(np.int8)))
    for g, (_, ws) in zip("ifco", wx):
        bs = x_scale * ws
        real = r.normal(0.0, 1.5, n_cell)          # pre-activations of a few units
        bias.append(tensor(f"b_{g}", (n_cell,), s.TensorType.INT32, bs, 0,
                           np.round(real / bs).astype(np.int32)))
    h = tensor("h", (batch, n_cell), s.TensorType.INT8, h_scale, h_zp, variable=True)
    c = tensor("c", (batch, n_cell), s.TensorType.INT16, 2.0 ** cell_power, 0, variable=True)
    y = tensor("output", out_shape, s.TensorType.INT8, h_scale, h_zp)

    op = s.OperatorT()
    op.opcodeIndex = 0
    op.inputs = [x, *(w for w, _ in wx), *wh, -1, -1, -1, *bias, -1, -1, h, c, -1, -1, -1, -1]
    op.outputs = [y]
    opt = s.UnidirectionalSequenceLSTMOptionsT()
    opt.fusedActivationFunction = s.ActivationFunctionType.TANH
    opt.cellClip, opt.projClip, opt.timeMajor = float(cell_clip), 0.0, bool(time_major)
    op.builtinOptionsType = s.BuiltinOptions.UnidirectionalSequenceLSTMOptions
    op.builtinOptions = opt
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    code.version = 1
    sg = s.SubGraphT()
    sg.tensors, sg.operators, sg.inputs, sg.outputs = tensors, [op], [x], [y]
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [sg], bufs
    m.description = "edgekit LSTM test"
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())
