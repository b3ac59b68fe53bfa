"""Bad input does not overflow: the host build under AddressSanitizer + UBSan.

Silence, DC (both signs, -32768 included), full-scale clipping (square wave
at +32767/-32768) and white noise (up to saturated) go through the C
compiled with ``-fsanitize=address,undefined -fno-sanitize-recover=all``
(any undefined behaviour -- signed overflow, bad shift, out-of-bounds --
aborts), for both presets.  The sanitized build must also give the same
frames as the normal library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgekit.frontend import FrontendConfig, HostFrontend, generate_c
from edgekit.frontend.codegen import C_UNITS

HERE = Path(__file__).resolve().parent
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def _sanitizer_available(tmp: Path) -> str | None:
    """None if gcc links a sanitized program here, else the reason."""
    if shutil.which("gcc") is None:
        return "gcc not found"
    src = tmp / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    proc = subprocess.run(["gcc", *SAN, str(src), "-o", str(tmp / "probe")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return "gcc cannot link -fsanitize=address,undefined: " + proc.stderr.strip()[-300:]
    return None


@pytest.mark.parametrize("preset", ["tflm_micro", "fsdd"])
def test_bad_input_runs_clean_under_asan_ubsan(tmp_path, preset, synthetic):
    reason = _sanitizer_available(tmp_path)
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cfg = getattr(FrontendConfig, preset)()
    generate_c(cfg, tmp_path / "src")
    exe = tmp_path / "fe_san"
    cmd = ["gcc", "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", *SAN,
           "-I", str(tmp_path / "src"), *(str(tmp_path / "src" / u) for u in C_UNITS),
           str(HERE / "sanitize_main.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    parts = synthetic(cfg.sample_rate, seconds=1.0, seed=3)
    stream = np.concatenate(list(parts.values()) + [parts["silence"], parts["noise_full"]])
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    run = subprocess.run([str(exe)], input=stream.tobytes(), capture_output=True, env=env)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert b"runtime error" not in run.stderr, run.stderr.decode(errors="replace")[-3000:]
    got = np.frombuffer(run.stdout, np.int8).reshape(-1, cfg.num_channels)
    want = HostFrontend(cfg).features(stream)
    assert got.shape == want.shape == (cfg.frames_for(stream.size), cfg.num_channels)
    np.testing.assert_array_equal(got, want)
