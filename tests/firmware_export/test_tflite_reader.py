"""The .tflite reader: checked against tflite_micro's own flatbuffer parser,
and robust to malformed files (every failure is an EdgekitError)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import EdgekitError, TFLiteFormatError, UnsupportedOpError
from edgekit.firmware_export import lower_graph, read_tflite
from tests.conftest import MLPERF_MODELS


def _schema_model(data: bytes):
    from tflite_micro.python.tflite_micro import runtime

    sf = runtime.schema_fb
    return sf, sf.ModelT.InitFromObj(sf.Model.GetRootAsModel(data, 0))


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_reader_matches_the_official_schema(mlperf_dir, name):
    data = (mlperf_dir / f"{name}.tflite").read_bytes()
    g = read_tflite(data)
    sf, m = _schema_model(data)
    names = {v: k for k, v in vars(sf.BuiltinOperator).items() if not k.startswith("_")}
    sg = m.subgraphs[0]
    assert len(g.tensors) == len(sg.tensors)
    assert len(g.operators) == len(sg.operators)
    assert g.inputs == list(sg.inputs) and g.outputs == list(sg.outputs)
    for ours, theirs in zip(g.tensors, sg.tensors):
        assert list(ours.shape) == list(theirs.shape)
        if theirs.quantization is not None and theirs.quantization.scale is not None:
            np.testing.assert_array_equal(ours.scale, np.asarray(theirs.quantization.scale, np.float32))
            np.testing.assert_array_equal(ours.zero_point, theirs.quantization.zeroPoint)
        buf = m.buffers[theirs.buffer].data
        if buf is not None and len(buf):
            assert ours.data is not None
            assert ours.data.tobytes() == bytes(np.asarray(buf, np.uint8))
    for ours, theirs in zip(g.operators, sg.operators):
        code = m.operatorCodes[theirs.opcodeIndex]
        assert ours.opcode == names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        assert ours.inputs == list(theirs.inputs) and ours.outputs == list(theirs.outputs)


def test_conv_options_decoded(mlperf_dir):
    g = read_tflite(mlperf_dir / "kws_ref_model.tflite")
    op0 = g.operators[0]
    # MLPerf's DS-CNN starts with a 10x4 conv, stride 2, SAME, fused ReLU.
    assert op0.opcode == "CONV_2D"
    assert op0.options["stride_h"] == 2 and op0.options["stride_w"] == 2
    assert op0.options["padding"] == "SAME" and op0.options["activation"] == "RELU"
    assert g.tensors[op0.inputs[1]].shape == (64, 10, 4, 1)


@pytest.mark.parametrize("cut", [0, 3, 7, 100, 1000, -1])
def test_truncated_file_is_a_clear_error(mlperf_dir, cut):
    data = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    cut = len(data) - 1 if cut == -1 else cut
    with pytest.raises(TFLiteFormatError):
        read_tflite(data[:cut])


def test_wrong_magic(mlperf_dir):
    data = bytearray((mlperf_dir / "ad01_int8.tflite").read_bytes())
    data[4:8] = b"ONNX"
    with pytest.raises(TFLiteFormatError, match="identifier"):
        read_tflite(bytes(data))


def test_out_of_range_tensor_index(mlperf_dir):
    g = read_tflite(mlperf_dir / "ad01_int8.tflite")
    data = bytearray((mlperf_dir / "ad01_int8.tflite").read_bytes())
    # Find the subgraph's input vector [0] right after its length 1 and make it 999.
    sf, m = _schema_model(bytes(data))
    assert list(m.subgraphs[0].inputs) == g.inputs == [0]
    # Corrupt every operator's first input index by searching the op input vectors.
    needle = np.array([3] + g.operators[0].inputs, dtype="<i4").tobytes()
    pos = bytes(data).find(needle)
    assert pos > 0
    data[pos + 4:pos + 8] = np.array([999], "<i4").tobytes()
    with pytest.raises(TFLiteFormatError, match="999"):
        read_tflite(bytes(data))


def test_missing_file_is_an_edgekit_error(tmp_path):
    with pytest.raises(EdgekitError, match="cannot read"):
        read_tflite(tmp_path / "nope.tflite")


def test_unsupported_op_names_op_and_index(mlperf_dir):
    g = read_tflite(mlperf_dir / "kws_ref_model.tflite")
    g.operators[5].opcode = "GELU"
    with pytest.raises(UnsupportedOpError, match=r"op 5 \(GELU\)"):
        lower_graph(g)


def test_float_model_is_rejected_naming_the_tensor(mlperf_dir):
    g = read_tflite(mlperf_dir / "kws_ref_model_float32.tflite")
    with pytest.raises(UnsupportedOpError, match="float32"):
        lower_graph(g)


# The fuzzing of the reader and code generator: tests/fuzz/ (structure-aware mutations,
# the short run in the suite, the long campaign in tests/fuzz/campaign.py).
