"""QUANTIZE between integer types, int16 -> int8, int8 -> int16, int16 ->
int16, uint8 -> int8 and int8 -> uint8, against tflite_micro: one-op models
written with LiteRT's flatbuffer object API (the converter emits these only
inside larger 16x8 or uint8-input models), every input value of the type
(int8 / uint8: all 256; int16: 4096 values spanning the range and its ends),
256 a call."""

import numpy as np
import pytest

from edgekit.reference import run_tflm
from tests.kernel_harness import assert_same, opcodes, run_generated_host

QUANTIZE_OP = 114      # BuiltinOperator.QUANTIZE
WIDTH = 256            # elements per call (tflite_micro's host arena is small)
TYPES = {"int8": (9, np.int8), "uint8": (3, np.uint8), "int16": (7, np.int16),
         "float32": (0, np.float32)}
DEQUANTIZE_OP = 6      # BuiltinOperator.DEQUANTIZE


def quantize_model(src: str, dst: str, src_q: tuple, dst_q: tuple, n: int,
                   opcode: int = QUANTIZE_OP) -> bytes:
    """A .tflite holding one QUANTIZE (or ``opcode``) of a [1, n] tensor of
    type ``src`` with (scale, zero point) ``src_q`` to ``dst`` with ``dst_q``
    (None: a float tensor without quantization)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    def tensor(name, dtype, q, buf):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, n], TYPES[dtype][0], buf
        if q is not None:
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [float(q[0])], [int(q[1])]
        return t

    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = opcode, opcode, 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    sg = schema.SubGraphT()
    sg.tensors = [tensor("x", src, src_q, 1), tensor("y", dst, dst_q, 2)]
    sg.inputs, sg.outputs, sg.operators, sg.name = [0], [1], [op], "main"
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [sg]
    model.buffers = [schema.BufferT() for _ in range(3)]
    model.description = "edgekit test"
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _inputs(dtype: str) -> np.ndarray:
    info = np.iinfo(TYPES[dtype][1])
    if info.bits == 8:
        v = np.arange(info.min, info.max + 1)
    else:
        v = np.concatenate([np.linspace(info.min, info.max, 4090).round(),
                            [info.min, info.min + 1, -1, 0, 1, info.max]])
    return v.astype(TYPES[dtype][1]).reshape(-1, 1, WIDTH)


CASES = [  # (src, dst, src (scale, zp), dst (scale, zp))
    ("int16", "int8", (1 / 4096, 0), (0.031, -3)),          # 16x8 activations -> int8 output
    ("int16", "int8", (3.1e-4, 0), (1.7e-3, 100)),          # clamps at both ends
    ("int8", "int16", (0.05, 7), (1 / 2048, 0)),            # int8 input -> 16x8 activations
    ("int8", "int16", (0.3, -128), (1.2e-5, 0)),            # saturates int16
    ("int16", "int16", (2.5e-4, 0), (1.1e-4, 0)),           # 16x8 requantization
    ("int16", "int16", (1 / 1024, 0), (1 / 1024, 0)),       # same scale: identity
    ("uint8", "int8", (0.02, 128), (0.02, 0)),              # the shift-by-128 case
    ("uint8", "int8", (1 / 255, 0), (0.013, -20)),
    ("int8", "uint8", (0.1, 0), (0.1, 128)),
    ("int8", "uint8", (0.07, -5), (0.3, 37)),
]


@pytest.mark.parametrize("src, dst, src_q, dst_q", CASES)
def test_requantize_bit_exact(src, dst, src_q, dst_q):
    xs = _inputs(src)
    m = quantize_model(src, dst, src_q, dst_q, xs.shape[-1])
    assert opcodes(m) == ["QUANTIZE"]
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_host(m, xs)
    assert got.dtype == TYPES[dst][1]
    assert_same(got, ref.reshape(got.shape), f"QUANTIZE {src} {src_q} -> {dst} {dst_q}")
    if src_q[0] != dst_q[0] or src != dst:
        assert len(np.unique(got)) > 1, "a test that cannot fail: constant output"


def test_float_to_int16_and_back_bit_exact():
    """QUANTIZE float32 -> int16 (values within and far beyond the range,
    halves) and DEQUANTIZE int16 -> float32 (every 16th int16 value).
    Quotients x / scale stay below 2^31: beyond, TFLM's float -> int32 cast
    is undefined (on x86 it gives INT32_MIN, so +1e30 becomes -32768; on
    Arm it saturates), edgekit saturates."""
    scale = 3.0517578e-4 * 1.37
    r = np.random.default_rng(5)
    xs = np.concatenate([r.uniform(-12, 12, 3000), r.uniform(-5e5, 5e5, 64),
                         (np.arange(-500, 500) + 0.5) * scale, [0.0, -0.0, 6e5, -6e5]])
    xs = np.resize(xs.astype(np.float32), 16 * WIDTH).reshape(-1, 1, WIDTH)
    m = quantize_model("float32", "int16", None, (scale, 0), WIDTH)
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_host(m, xs)
    assert got.dtype == np.int16 and got.min() == -32768 and got.max() == 32767
    assert_same(got, ref.reshape(got.shape), "QUANTIZE float32 -> int16")

    qs = np.arange(-32768, 32768, 16, dtype=np.int16).reshape(-1, 1, WIDTH)
    m = quantize_model("int16", "float32", (scale, 0), None, WIDTH, opcode=DEQUANTIZE_OP)
    ref = np.asarray(run_tflm(m, qs), np.float32)
    got = run_generated_host(m, qs)
    assert got.dtype == np.float32
    assert_same(got, ref.reshape(got.shape), "DEQUANTIZE int16 -> float32")
