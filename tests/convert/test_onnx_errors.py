"""ONNX import: bad input is a clear error naming the problem, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from edgekit.cli import main
from edgekit.convert import examples


def _convert(tmp_path, model_path, calib_path, *extra):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["convert", str(model_path), "--calib", str(calib_path),
                                  "--out", str(out), *extra], catch_exceptions=False)
    return r, out


def _nothing_written(tmp_path, out):
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


@pytest.fixture()
def kws(tmp_path):
    m = examples.kws_conv1d()
    np.save(tmp_path / "calib.npy", examples.calibration_data(m, n=8))
    return m, tmp_path / "calib.npy"


def test_not_an_onnx_file(tmp_path, kws):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is a text file, not a protobuf\n")
    r, out = _convert(tmp_path, bad, kws[1])
    assert r.exit_code == 2
    assert "notes.onnx is not an ONNX model" in r.output
    _nothing_written(tmp_path, out)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    r, out = _convert(tmp_path, empty, kws[1])
    assert r.exit_code == 2 and "empty.onnx is not an ONNX model" in r.output


def test_missing_onnx_file(tmp_path, kws):
    r, out = _convert(tmp_path, tmp_path / "nope.onnx", kws[1])
    assert r.exit_code == 2 and "nope.onnx does not exist" in r.output


def test_model_failing_the_checker(tmp_path, kws):
    m, calib = kws
    m.graph.node[1].input[0] = "no_such_tensor"          # dangling edge
    path = tmp_path / "broken.onnx"
    onnx.save(m, str(path))
    r, out = _convert(tmp_path, path, calib)
    assert r.exit_code == 2
    assert "fails the ONNX checker" in r.output and "no_such_tensor" in r.output
    _nothing_written(tmp_path, out)


def _dynamic(m):
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    return m


def test_dynamic_input_shape_needs_input_shape(tmp_path, kws):
    m, calib = kws
    path = tmp_path / "dyn.onnx"
    onnx.save(_dynamic(m), str(path))
    r, out = _convert(tmp_path, path, calib)
    assert r.exit_code == 2
    assert "dynamic shape (batch, 10, 49)" in r.output
    assert "--input-shape 1,10,49" in r.output
    _nothing_written(tmp_path, out)
    r, out = _convert(tmp_path, path, calib, "--input-shape", "1,10,50")
    assert r.exit_code == 2 and "contradicts" in r.output
    _nothing_written(tmp_path, out)


def test_input_shape_fixes_a_dynamic_batch(tmp_path, kws):
    from edgekit.convert import check_onnx

    m, _ = kws
    info = check_onnx(_dynamic(m), "1,10,49")
    assert info.input_shape == (1, 10, 49) and info.output_shape == (1, 12)
    assert info.input_shape_fixed == ["batch", 10, 49]


def test_calibration_of_the_wrong_shape(tmp_path, kws):
    m, _ = kws
    path = tmp_path / "kws.onnx"
    onnx.save(m, str(path))
    calib = tmp_path / "nlc.npy"
    np.save(calib, np.zeros((8, 49, 10), np.float32))         # NLC instead of NCL
    r, out = _convert(tmp_path, path, calib)
    assert r.exit_code == 2
    assert "nlc.npy has shape (8, 49, 10)" in r.output
    assert "(1, 10, 49) in NCL layout" in r.output and "expected (N, 10, 49)" in r.output
    _nothing_written(tmp_path, out)
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    r, out = _convert(tmp_path, path, bad)
    assert r.exit_code == 2 and "is not a .npy/.npz array" in r.output
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((4, 10, 49), np.nan, np.float32))
    r, out = _convert(tmp_path, path, nan)
    assert r.exit_code == 2 and "NaN" in r.output
    _nothing_written(tmp_path, out)


def test_float_only_and_unknown_ops_are_named_before_converting(tmp_path, kws):
    _, calib = kws
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 10, 49])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10, 49])
    nodes = [helper.make_node("Erf", ["input"], ["e"], name="gelu_erf"),
             helper.make_node("Relu", ["e"], ["output"], name="relu")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "erf.onnx"
    onnx.save(m, str(path))
    r, out = _convert(tmp_path, path, calib)
    assert r.exit_code == 2
    assert "float-only ops" in r.output and "Erf" in r.output and "gelu_erf" in r.output
    _nothing_written(tmp_path, out)

    nodes = [helper.make_node("FancyOp", ["input"], ["output"], name="fancy", domain="acme")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17),
                                         helper.make_opsetid("acme", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(m, str(path))
    r, out = _convert(tmp_path, path, calib)
    assert r.exit_code == 2
    assert "cannot convert" in r.output and "acme.FancyOp" in r.output
    _nothing_written(tmp_path, out)


def test_build_onnx_needs_calib(tmp_path, kws):
    m, calib = kws
    path = tmp_path / "kws.onnx"
    onnx.save(m, str(path))
    out = tmp_path / "build"
    r = CliRunner().invoke(main, ["build", "--model", str(path), "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 2 and "--calib is needed" in r.output
    _nothing_written(tmp_path, out)


def test_dynamic_batch_converts_with_input_shape_and_npz_calibration(tmp_path, kws):
    m, _ = kws
    path = tmp_path / "dyn.onnx"
    onnx.save(_dynamic(m), str(path))
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=examples.calibration_data(m, n=16), labels=np.zeros(16))
    out = tmp_path / "dist"
    r = CliRunner().invoke(main, ["convert", str(path), "--calib", str(calib), "--out", str(out),
                                  "--input-shape", "1x10x49"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    import json

    c = json.loads((out / "report.json").read_text())["conversion"]
    assert c["onnx"]["input"]["shape"] == [1, 10, 49]
    assert c["onnx"]["input"]["shape_in_file"] == ["batch", 10, 49]
    assert c["calibration"]["samples"] == 16 and c["cosine"] >= 0.98
    assert (out / "model.tflite").is_file() and "fixed from" in (out / "report.md").read_text()
