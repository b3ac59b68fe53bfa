"""Quiet start-up: a CLI command that imports TensorFlow prints no C++ log line.

The command runs in a fresh subprocess, so TensorFlow is imported the way a
user's ``edgekit`` imports it (the test process may have imported it already).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import edgekit
from edgekit.quiet import filtered_stderr, is_cpp_log_line

# What TensorFlow's C++ side prints on this kind of machine (absl and tsl log
# formats, CUDA probing, oneDNN and CPU-instruction notices, NodeDef errors).
CPP_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:|^[IWEF]\d{4} |absl::|cuda|oneDNN|NodeDef|"
                     r"cpu_feature_guard|This TensorFlow binary", re.IGNORECASE)

SRC_ROOT = str(Path(edgekit.__file__).resolve().parent.parent)


def _cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "EDGEKIT_TF_LOG", "GLOG_minloglevel")}
    env["PYTHONPATH"] = SRC_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "edgekit.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10, 12, 1)), keras.layers.Conv2D(4, 3),
                              keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3)])
    path = tmp_path_factory.mktemp("quiet") / "tiny.keras"
    model.save(path)
    return path


def test_quantize_command_prints_no_tensorflow_cpp_log(tiny_keras, tmp_path):
    res = _cli("quantize", str(tiny_keras), "--calib", "random", "--num-samples", "16",
               "--out", str(tmp_path / "tiny.tflite"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    noise = [ln for ln in res.stderr.splitlines() if CPP_LOG.search(ln)]
    assert noise == [], "TensorFlow C++ log lines on stderr:\n" + "\n".join(noise)
    assert "wrote " in res.stdout and (tmp_path / "tiny.tflite").is_file()


def test_convert_command_prints_no_tensorflow_cpp_log(tmp_path):
    import numpy as np

    from edgekit.convert import examples

    model = examples.kws_conv1d()
    examples.save(model, tmp_path / "kws.onnx")
    np.save(tmp_path / "calib.npy", examples.calibration_data(model, n=16, seed=3))
    res = _cli("convert", str(tmp_path / "kws.onnx"), "--calib", str(tmp_path / "calib.npy"),
               "--out", str(tmp_path / "kws.tflite"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    # onnx2tf and the TFLite converter run here (its calibrator printf()s "fully_quantize:")
    noise = [ln for ln in res.stderr.splitlines()
             if CPP_LOG.search(ln) or ln.startswith("fully_quantize:")]
    assert noise == [], "TensorFlow C++ log lines on stderr:\n" + "\n".join(noise)
    assert "wrote " in res.stdout and (tmp_path / "kws.tflite").is_file()


def test_error_after_tensorflow_import_still_prints_edgekit_error(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a keras archive")
    res = _cli("quantize", str(bad), "--calib", "random", "--out", str(tmp_path / "x.tflite"),
               cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("edgekit: error: ") and "broken.keras" in lines[-1]
    assert not any(CPP_LOG.search(ln) for ln in lines), res.stderr


@pytest.mark.parametrize("line, cpp", [
    ("I0000 00:00:1796013020.697640    8959 cudart_stub.cc:31] Could not find cuda drivers", True),
    ("E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579] Unable to register cuDNN", True),
    ("2025-09-17 14:44:05.176998: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467]"
     " Unable to register cuFFT factory", True),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
     True),
    ("fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type:"
     " INT8", True),
    ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", True),
    ("[edgekit] 3/7 quantize: full int8", False),
    ("INFO: edgekit made this", False),
    ("edgekit: error: model x.keras does not exist", False),
    ("Epoch 1/3", False),
    ("Traceback (most recent call last):", False),
])
def test_is_cpp_log_line(line, cpp):
    assert is_cpp_log_line(line) is cpp


def test_filtered_stderr_drops_cpp_lines_and_keeps_the_rest(capfd, monkeypatch):
    monkeypatch.delenv("EDGEKIT_TF_LOG", raising=False)
    with filtered_stderr():
        os.write(2, b"I0000 00:00:1796013020.697640    8959 cudart_stub.cc:31] no cuda\n")
        os.write(2, b"a real message\n")
    assert capfd.readouterr().err == "a real message\n"
    with pytest.raises(RuntimeError), filtered_stderr():    # on failure everything is kept
        os.write(2, b"E0000 00:00:1.0 1 x.cc:1] why it failed\n")
        raise RuntimeError("boom")
    assert "why it failed" in capfd.readouterr().err
