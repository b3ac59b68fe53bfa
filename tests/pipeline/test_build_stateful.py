"""``edgekit build --model X --stateful``: the LSTM state kept between calls, checked as one stream.

The Keras LSTM converted by TF 2.21 (``tests/fixtures/keras_lstm6_int8.tflite``)
is built with its state kept between ``edgekit_invoke`` calls; the host and
QEMU checks compare with tflite_micro invoked the same way (reset once, then
every case carries the state; see tests/firmware_export/test_lstm_stateful.py
for the golden comparison with resets in the middle of the stream).
"""

import json
from pathlib import Path

from click.testing import CliRunner

from edgekit.cli import main

LSTM = Path(__file__).resolve().parents[1] / "fixtures" / "keras_lstm6_int8.tflite"


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_stateful_lstm(tmp_path):
    out = tmp_path / "out"
    r = _run("build", "--model", str(LSTM), "--stateful", "--cases", "6", "--out", str(out))
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert report["emulator"]["bit_exact"] is True and report["emulator"]["cases"] == 6
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model"]["lstm_state"] == "keep"
    assert "#define EDGEKIT_STATEFUL      1" in (out / "firmware/src/model.h").read_text()


def test_stateful_needs_an_lstm(mlperf_dir, tmp_path):
    r = _run("build", "--model", str(mlperf_dir / "ad01_int8.tflite"), "--stateful",
             "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert "--stateful" in r.output and "ad01_int8.tflite has no variable tensors" in r.output
    assert not (tmp_path / "o").exists()


def test_stateful_needs_a_model(tmp_path):
    r = _run("build", "--arch", "lstm", "--stateful", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert "--stateful goes with --model" in r.output and "got no --model" in r.output


def test_lstm_streams_in_the_window_form_only(tmp_path):
    r = _run("build", "--arch", "lstm", "--streaming", "--stream-form", "recurrent",
             "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert "--stream-form window (got recurrent)" in r.output
    assert not (tmp_path / "o").exists()
