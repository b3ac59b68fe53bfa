"""``build_streaming``: the per-frame form of a trained recurrent model, built and checked.

A small lmuformer trained briefly on real FSDD clips (conftest); its streaming form
is exported, generated as C, built for the host and Cortex-M4 and run in
QEMU.  The generated C must equal tflite_micro call by call (the reference
feeds tflite_micro's own state outputs back), and the report must say how
the streaming decisions compare with the int8 window model's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.emulator import get_target
from edgekit.errors import ModelError
from edgekit.models import build_model


@pytest.fixture(scope="module")
def trained(fsdd_dataset, small_lmuformer):
    from edgekit.quantize import quantize_int8

    model, idx = small_lmuformer
    window = quantize_int8(model, fsdd_dataset.x_train[idx], num_samples=100)
    return model, fsdd_dataset, idx, window


@pytest.mark.parametrize("form", ["window", "recurrent"])
def test_build_streaming_is_bit_exact_and_reports_decisions(trained, form, tmp_path):
    from edgekit.quantize.evaluate import tflite_predict
    from edgekit.stream_build import QEMU_CLIPS, build_streaming

    model, ds, idx, window = trained
    pick = np.arange(0, len(ds.y_test), 10)          # 30 test clips, every digit
    x, y = ds.x_test[pick], ds.y_test[pick]
    rep = build_streaming(model, ds.x_train[idx], x, y, window, tmp_path / "stream",
                          get_target("cortex-m4"), form=form)
    assert rep["form"] == form
    assert rep["hop_frames"] == 2 and rep["steps"] == ds.input_shape[0] // 2
    assert rep["bit_exact"] and rep["host_bit_exact"] and rep["qemu_bit_exact"]
    assert rep["host_calls"] == len(x) * rep["steps"]
    assert rep["qemu_calls"] == QEMU_CLIPS * rep["steps"]
    assert rep["push_matches"]
    assert rep["instructions_per_hop"] > 0 and rep["state_bytes"] > 0
    # The window model's accuracy recomputed independently of build_streaming.
    w = tflite_predict(window, x, runtime="tflm").argmax(1)
    assert rep["window_accuracy_int8"] == round(float(np.mean(w == y)), 4)
    assert len(rep["clips_differing"]) == round((1 - rep["decisions_equal_window"]) * len(x))
    if form == "window":   # the window model's own int8 ops, step by step: its scores exactly
        assert rep["decisions_equal_window"] == 1.0 and rep["max_abs_diff_vs_window"] == 0
        assert rep["accuracy_int8"] == rep["window_accuracy_int8"]
    for name in ("stream.tflite", "stream.json", "stream_report.json",
                 "firmware/src/model.c", "firmware/cortex-m4/model.elf"):
        assert (tmp_path / "stream" / name).is_file(), name
    assert json.loads((tmp_path / "stream" / "stream_report.json").read_text()) == rep
    h = (tmp_path / "stream" / "firmware" / "src" / "model.h").read_text()
    assert "#define EDGEKIT_FRAMES_PER_CALL 2" in h and "edgekit_push_frame" in h


def test_build_streaming_refuses_a_model_without_lmu(tmp_path):
    from edgekit.stream_build import build_streaming

    model = build_model("dscnn", (16, 8), 4, width=4, num_blocks=1, first_kernel=(4, 2))
    x = np.zeros((2, 16, 8), np.float32)
    with pytest.raises(ModelError, match="no LMU layer"):
        build_streaming(model, x, x, np.zeros(2, int), b"", tmp_path / "s", get_target("cortex-m4"))


@pytest.mark.parametrize("args, says", [
    (["--arch", "dscnn"], "got dscnn"),
    ([], "got dscnn"),                                     # the default recipe is not recurrent
    (["--model", "m.tflite"], "not --model"),
])
def test_cli_streaming_needs_a_recurrent_arch(args, says, tmp_path):
    from click.testing import CliRunner

    from edgekit.cli import main

    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["build", "--streaming", "--out", str(out), *args])
    assert r.exit_code == 2, r.output
    assert "--streaming needs --arch lmu|lmuformer|lstm|spiking_lmuformer" in r.output
    assert says in r.output
    assert not out.exists() and not list(tmp_path.glob(".out*"))
