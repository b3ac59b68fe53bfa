"""ONNX import: three model kinds (made here with onnx.helper) go from ONNX to QEMU.

Each model is converted (onnx2tf + edgekit's int8 PTQ), verified against
onnxruntime (cosine >= 0.98), then deployed by ``edgekit build --model X.onnx
--calib X.npy``: the generated C must be bit-exact with tflite_micro on the
host and in QEMU on a Cortex-M4, and report.json carries the agreement.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import partial

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.convert import examples
from edgekit.log import Progress

KINDS = {
    # name: (builder, layout change reported, TFLite input shape)
    "kws_conv1d": (examples.kws_conv1d, "NCL -> NLC", (1, 49, 10)),
    "ds_cnn": (examples.ds_cnn, "NCHW -> NHWC", (1, 49, 10, 1)),
    "transformer_encoder": (examples.transformer_encoder, "unchanged", (1, 16, 32)),
    # LayerNorm as ReduceMean/Sub/Pow/Sqrt/Div (torch.onnx.export before opset 17)
    "transformer_decomposed_ln": (partial(examples.transformer_encoder,
                                          decomposed_layernorm=True), "unchanged", (1, 16, 32)),
}

needs_toolchain = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))
    and not os.environ.get("CI"),  # under CI a missing toolchain fails loudly
    reason="arm-none-eabi-gcc / qemu-system-arm not installed (scripts/setup.sh installs them)")


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    files = {}
    for name, (make, _, _) in KINDS.items():
        m = make()
        examples.save(m, d / f"{name}.onnx")
        np.save(d / f"{name}_calib.npy", examples.calibration_data(m, n=48, seed=3))
        files[name] = (d / f"{name}.onnx", d / f"{name}_calib.npy")
    return files


@pytest.mark.qemu
@needs_toolchain
@pytest.mark.parametrize("name", list(KINDS))
def test_onnx_model_to_qemu_cortex_m4(name, onnx_files, tmp_path):
    from edgekit.pipeline import build

    onnx_path, calib = onnx_files[name]
    out = tmp_path / "build"
    res = build(target="cortex-m4", model=onnx_path, calib=calib, out=out, cases=16,
                progress=Progress(quiet=True))
    r = json.loads((out / "report.json").read_text())
    assert r == json.loads(json.dumps(res.report))
    c = r["conversion"]
    print(f"{name}: cosine {c['cosine']} (min {c['cosine_min']}), top-1 {c['top1_agreement']}, "
          f"max abs err {c['max_abs_error']}, ops {c['tflite']['ops']}, "
          f"{r['emulator']['instructions']} instr, {c['seconds']}")
    assert c["cosine"] >= 0.98 and c["cosine_min"] >= 0.95
    assert c["top1_agreement"] is not None and c["top1_agreement"] >= 0.85   # classifiers
    assert c["max_abs_error"] < 0.1 * c["output_abs_max"]
    _, layout, tfl_shape = KINDS[name]
    assert c["layout"]["input"].startswith(layout)
    assert tuple(c["tflite"]["input"]["shape"]) == tfl_shape
    assert c["onnx"]["opset"] == 17 and c["onnx"]["ops"]
    if name.startswith("transformer"):
        assert {"BATCH_MATMUL", "SOFTMAX", "RSQRT"} <= set(c["tflite"]["ops"])
        assert ("LayerNormalization" in c["onnx"]["ops"]) == (name == "transformer_encoder")
    # generated C == tflite_micro, on the host and in QEMU (calibration samples + random)
    emu = r["emulator"]
    assert emu["bit_exact"] and emu["host_bit_exact"] and emu["qemu_bit_exact"]
    assert emu["real_cases"] > 0 and r["target"]["name"] == "cortex-m4"
    assert (out / "conversion" / "report.md").is_file()
    assert (out / "model.tflite").read_bytes() == (out / "conversion" / "model.tflite").read_bytes()


def test_transformer_keeps_attention_in_int8(onnx_files, tmp_path):
    from edgekit.convert import convert_onnx

    res = convert_onnx(*onnx_files["transformer_encoder"], out=None,
                       progress=Progress(quiet=True))
    ops = res.report["tflite"]["ops"]
    assert {"BATCH_MATMUL", "SOFTMAX", "FULLY_CONNECTED", "RSQRT"} <= set(ops)
    assert res.report["cosine"] >= 0.98
    assert res.inputs_int8.dtype == np.int8 and res.inputs_int8.shape == (48, 16, 32)


def test_cli_convert_writes_model_and_reports(onnx_files, tmp_path):
    onnx_path, calib = onnx_files["kws_conv1d"]
    out = tmp_path / "dist" / "kws.tflite"
    r = CliRunner().invoke(main, ["convert", str(onnx_path), "--calib", str(calib), "--out",
                                  str(out), "--min-cosine", "0.98"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[4:8] == b"TFL3"
    rep = json.loads((out.parent / "report.json").read_text())
    c = rep["conversion"]
    assert c["passed"] is True and c["min_cosine"] == 0.98 and c["cosine"] >= 0.98
    assert c["layout"]["input_permutation"] == [0, 2, 1]
    assert c["onnx"]["ops"]["Conv"] == 3 and "CONV_2D" in c["tflite"]["ops"]
    md = (out.parent / "report.md").read_text()
    assert "NCL -> NLC" in md and "cosine" in md and "CONV_2D" in md
    assert '"cosine"' in r.output


def test_cli_min_cosine_is_a_hard_gate(onnx_files, tmp_path):
    onnx_path, calib = onnx_files["ds_cnn"]
    out = tmp_path / "gate"
    r = CliRunner().invoke(main, ["convert", str(onnx_path), "--calib", str(calib), "--out",
                                  str(out), "--min-cosine", "1.0"], catch_exceptions=False)
    assert r.exit_code == 2
    assert "--min-cosine 1" in r.output and "cosine" in r.output
    assert not out.exists()
