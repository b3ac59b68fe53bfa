"""Real PyTorch: torch.nn models exported with torch.onnx.export, through edgekit convert and build.

Five model kinds (:mod:`tests.convert.torch_models`, random weights): a
Conv1d keyword spotter, a DS-CNN (Conv2d + BatchNorm2d), an
nn.TransformerEncoderLayer, an LMU written in torch, and GRU / LSTM
classifiers.  The first four convert and pass the gates (cosine >= 0.98
against onnxruntime, top-1 agreement, generated C bit-exact with
tflite_micro: on the host for all, in QEMU for the two that go through
``edgekit build --model``); GRU and LSTM are refused before conversion, by
op name, with what to use instead.  Exporters: TorchScript
(``dynamo=False``, opset 17) for all, and the dynamo exporter (opset 18)
for the keyword spotter.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main

try:
    import torch
except ImportError:                       # the test extra installs torch (make test)
    if os.environ.get("CI"):
        raise
    pytest.skip("torch not installed (pip install -e '.[test]')", allow_module_level=True)

from tests.convert import torch_models as tm  # noqa: E402

CALIB = 24


def _export(name, d, dynamo=False):
    model, example = tm.build(name)
    path = d / f"{name}{'_dynamo' if dynamo else ''}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm.export(model, example, path, dynamo=dynamo, opset=18 if dynamo else 17)
    x = np.random.default_rng(3).normal(size=(CALIB, *example.shape[1:])).astype(np.float32)
    calib = d / f"{name}_calib.npy"
    np.save(calib, x)
    # the export itself: onnxruntime on the file agrees with torch
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = model(torch.from_numpy(x[:4])).numpy()
    got = np.concatenate([sess.run(None, {"x": x[i:i + 1]})[0] for i in range(4)])
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, float(np.abs(want).max())))
    return path, calib


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("torch")
    return {name: _export(name, d) for name in ("kws_conv1d", "ds_cnn", "transformer", "gru",
                                                "lstm", "lmu")}


def _gates(c, name):
    print(f"{name}: cosine {c['cosine']} (min {c['cosine_min']}), top-1 {c['top1_agreement']}, "
          f"ops {c['tflite']['ops']}, rewrites {c['onnx']['rewrites']}, {c['seconds']}")
    assert c["cosine"] >= 0.98 and c["cosine_min"] >= 0.95
    assert c["top1_agreement"] is not None and c["top1_agreement"] >= 0.85
    assert c["max_abs_error"] < 0.1 * c["output_abs_max"]
    assert c["tflite"]["input"]["dtype"] == "int8"


@pytest.mark.qemu
@pytest.mark.parametrize("name,target,layout", [("ds_cnn", "cortex-m7", "NCHW -> NHWC"),
                                                ("lmu", "cortex-m33", "unchanged")])
def test_torch_model_builds_bit_exact(name, target, layout, exported, tmp_path):
    onnx_path, calib = exported[name]
    out = tmp_path / "build"
    r = CliRunner().invoke(main, ["build", "--target", target, "--model", str(onnx_path),
                                  "--calib", str(calib), "--out", str(out), "--cases", "4"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    c = rep["conversion"]
    _gates(c, name)
    assert c["layout"]["input"].startswith(layout)
    emu = rep["emulator"]
    assert emu["bit_exact"] and emu["host_bit_exact"] and emu["qemu_bit_exact"]
    assert emu["real_cases"] > 0 and rep["target"]["name"] == target
    if name == "ds_cnn":       # BatchNorm2d folded into the convolutions
        assert "BatchNormalization" not in c["onnx"]["ops"]
        assert c["tflite"]["ops"].get("DEPTHWISE_CONV_2D") == 2
    else:                      # the LMU's memory: a fixed convolution over time, in int8
        assert c["onnx"]["rewrites"] and "Shape" not in c["onnx"]["ops"]
        assert "CONV_2D" in c["tflite"]["ops"]


def _host_bit_exact(tflite_path, work):
    from edgekit.firmware_export import read_tflite
    from edgekit.verify import check_inputs
    from edgekit.verify.core import verify

    tfl = tflite_path.read_bytes()
    x = check_inputs(read_tflite(tfl), None, 4, seed=0)
    v = verify(tfl, work, "cortex-m4", x, host=True, qemu=False, litert=False)
    return v.host.bit_exact


@pytest.mark.parametrize("name,dynamo", [("kws_conv1d", True), ("transformer", False)])
def test_torch_model_converts_and_runs_bit_exact_on_host(name, dynamo, exported, tmp_path):
    if dynamo:
        onnx_path, calib = _export(name, tmp_path, dynamo=True)
    else:
        onnx_path, calib = exported[name]
    out = tmp_path / "dist"
    r = CliRunner().invoke(main, ["convert", str(onnx_path), "--calib", str(calib), "--out",
                                  str(out), "--min-cosine", "0.98"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    c = json.loads((out / "report.json").read_text())["conversion"]
    _gates(c, name)
    assert c["passed"] is True
    if name == "transformer":
        # nn.MultiheadAttention's q, k, v = qkv[0], qkv[1], qkv[2]: Gather -> Slice
        assert any("Gather" in note for note in c["onnx"]["rewrites"])
        assert "Gather" not in c["onnx"]["ops"] and "LayerNormalization" in c["onnx"]["ops"]
        assert {"BATCH_MATMUL", "SOFTMAX", "RSQRT"} <= set(c["tflite"]["ops"])
        assert c["layout"]["input"] == "unchanged"
    else:                      # dynamo: AdaptiveAvgPool1d -> Unsqueeze + ReduceMean
        assert c["onnx"]["opset"] == 18 and "ReduceMean" in c["onnx"]["ops"]
        assert c["layout"]["input"].startswith("NCL -> NLC")
    assert _host_bit_exact(out / "model.tflite", tmp_path / "verify")


@pytest.mark.parametrize("name,command", [("gru", "convert"), ("lstm", "build")])
def test_torch_recurrent_layers_are_refused_before_converting(name, command, exported,
                                                              tmp_path):
    onnx_path, calib = exported[name]
    out = tmp_path / "out"
    args = ([command, str(onnx_path), "--calib", str(calib), "--out", str(out)]
            if command == "convert" else
            [command, "--model", str(onnx_path), "--calib", str(calib), "--out", str(out)])
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 2, r.output
    op = name.upper()
    assert f"{op} -> {op}" in r.output and f"instead of {op}: nn.{op}" in r.output
    assert "Conv1d" in r.output
    assert "Gather" not in r.output          # y[:, -1] is a slice, not a refusal
    assert "onnx2tf: ONNX -> TensorFlow" not in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_simplify_onnx_keeps_the_torch_graphs_numbers(exported):
    """The rewrites (constant folding, Gather -> Slice) change no output."""
    import onnx
    import onnxruntime as ort

    from edgekit.convert.onnx_simplify import simplify_onnx

    for name, gone in (("transformer", {"Gather", "Shape", "Mod"}),
                       ("lmu", {"ConstantOfShape", "Concat", "Cast"})):
        onnx_path, calib = exported[name]
        before = onnx.load(str(onnx_path))
        after, notes = simplify_onnx(before, (1, *np.load(calib).shape[1:]))
        assert notes and gone <= {n.op_type for n in before.graph.node}
        assert not gone & {n.op_type for n in after.graph.node}
        x = np.load(calib)[:4]
        outs = []
        for m in (before, after):
            sess = ort.InferenceSession(m.SerializeToString(),
                                        providers=["CPUExecutionProvider"])
            outs.append(np.concatenate([sess.run(None, {"x": x[i:i + 1]})[0]
                                        for i in range(len(x))]))
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)
