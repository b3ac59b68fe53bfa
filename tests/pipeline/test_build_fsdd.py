"""The main job, end to end: ``edgekit build --target cortex-m`` on FSDD.

Trains the default recipe (DS-CNN on the fixed-point front end's frames) on
the official split, quantizes to int8, generates C, runs it on the host and
in QEMU (Cortex-M4) and checks it against tflite_micro; then feeds the raw
audio of the test clips to the firmware from sound (front end + model), all
300 on the host build and 20 in QEMU.  This is the slowest test of the suite (minutes).  Its
time is printed, not asserted: it varies between machines of the same kind
(622 s on a 2-core CI-like machine); the subprocess timeout is only a hang guard.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
@pytest.mark.qemu
def test_default_build_on_fsdd(fsdd_root, tmp_path):
    out = tmp_path / "build"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit.cli", "build", "--target", "cortex-m",
         "--data", str(fsdd_root), "--out", str(out)],
        capture_output=True, text=True, timeout=1900)   # a hang guard: ~3x the 622 s seen on CI
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads((out / "report.json").read_text())
    print(json.dumps({k: r[k] for k in ("model", "accuracy", "memory", "training")}, indent=1))
    print(f"build took {seconds:.0f} s")
    assert r["model"]["params"] <= 25_000
    assert r["model"]["macs"] > 0
    assert r["accuracy"]["test_cases"] == 300
    assert r["features"]["kind"] == "frontend"
    # Training-dependent: the result of a seed differs between machines of the same
    # kind, so the bounds leave a margin below what was seen (registry.DEFAULT_RECIPE):
    # int8 0.993 (seed 0) and 0.990 (seed 1), 0.983 with 4 epochs fewer; float - int8
    # 0.000 for both.  Bounds: the worst int8 seen minus 1.3 points (4 clips), and a
    # float - int8 gap of at most 2 points (6 clips).
    assert r["accuracy"]["int8"] >= 0.97
    assert r["accuracy"]["int8"] >= r["accuracy"]["float"] - 0.02
    # From sound: frames and scores byte-equal on the host build (all 300 test clips)
    # and in QEMU (20), the device's decisions equal the host int8 model's.
    a = r["audio"]
    assert a["bit_exact"] is True and a["host_clips"] == 300 and a["qemu_clips"] >= 20
    assert a["host_decisions_equal_int8"] and a["qemu_decisions_equal_int8"]
    assert a["host_accuracy_raw_audio"] == pytest.approx(r["accuracy"]["int8"], abs=1e-9)
    assert a["ram"]["total_bytes"] <= 32 * 1024, a["ram"]       # a 64 KB part keeps half
    assert 0 < a["frontend_instructions_per_stride"] < 30_000
    assert "accuracy from raw audio" in (out / "report.md").read_text().lower()
    assert "raw audio" in proc.stdout + proc.stderr             # what `make demo` prints
    emu = r["emulator"]
    assert emu["bit_exact"] is True and emu["cases"] >= 50 and emu["real_cases"] >= 30
    assert r["target"]["name"] == "cortex-m4" and r["target"]["machine"] == "mps2-an386"
    mem = r["memory"]
    assert mem["flash_bytes"] > mem["weights_bytes"] > 0
    assert mem["ram_bytes"] >= mem["arena_bytes"] > 0
    assert emu["instructions"] > 0 and len(emu["per_op"]) > 5
    for name in ("model.keras", "features.json", "model.tflite", "report.md",
                 "firmware/src/model.c", "firmware/cortex-m4/model.elf"):
        assert (out / name).exists(), name
