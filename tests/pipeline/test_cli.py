"""The CLI: clear errors with exit code 2 and nothing half-written."""

from __future__ import annotations

import io
import os
import shutil
import threading
import wave
import zipfile
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main


def _run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_truncated_tflite_is_exit_2_and_writes_nothing(mlperf_dir, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes((mlperf_dir / "kws_ref_model.tflite").read_bytes()[:5000])
    out = tmp_path / "out"
    r = _run("build", "--model", str(bad), "--out", str(out))
    assert r.exit_code == 2
    assert "bad.tflite" in r.output and "truncated" in r.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_unsupported_model_names_the_op(mlperf_dir, tmp_path):
    out = tmp_path / "out"
    r = _run("build", "--model", str(mlperf_dir / "kws_ref_model_float32.tflite"), "--out", str(out))
    assert r.exit_code == 2
    assert "op 0 (CONV_2D)" in r.output and "float32" in r.output
    assert not out.exists()


def test_failed_build_keeps_the_previous_output(mlperf_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"TFL3 but not really a model")
    r = _run("build", "--model", str(bad), "--out", str(out))
    assert r.exit_code == 2
    assert (out / "report.json").read_text() == "{}"


def test_missing_toolchain_gives_the_install_command(mlperf_dir, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    # Keep python reachable but hide gcc, arm-none-eabi-* and qemu.
    r = _run("build", "--model", str(mlperf_dir / "ad01_int8.tflite"), "--out",
             str(tmp_path / "out"), env={"PATH": str(empty)})
    assert r.exit_code == 2
    assert "apt-get install" in r.output and "arm-none-eabi-gcc" in r.output
    assert not (tmp_path / "out").exists()


def test_unknown_target(mlperf_dir, tmp_path):
    r = _run("build", "--target", "cortex-z9", "--model", str(mlperf_dir / "ad01_int8.tflite"),
             "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "cortex-z9" in r.output and "cortex-m4" in r.output


def test_data_fetch_from_a_local_server(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("3_theo_0.wav", "7_george_12.wav"):
            wb = io.BytesIO()
            with wave.open(wb, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes((np.sin(np.arange(800) * 0.3) * 8000).astype("<i2").tobytes())
            z.writestr(f"free-spoken-digit-dataset-master/recordings/{name}", wb.getvalue())
    (site / "fsdd.zip").write_bytes(buf.getvalue())
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    server = HTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/fsdd.zip"
        r = _run("data", "fetch", "fsdd", "--dest", str(tmp_path / "cache"), "--url", url)
        assert r.exit_code == 0, r.output
        got = sorted(p.name for p in (tmp_path / "cache").rglob("*.wav"))
        assert got == ["3_theo_0.wav", "7_george_12.wav"]
        r = _run("data", "fetch", "fsdd", "--dest", str(tmp_path / "c2"), "--url", url + ".missing",)
        assert r.exit_code == 2 and "404" in r.output
    finally:
        server.shutdown()


@pytest.mark.qemu
def test_emulate_prints_the_per_op_table(mlperf_dir, tmp_path):
    out = tmp_path / "out"
    r = _run("build", "--model", str(mlperf_dir / "ad01_int8.tflite"), "--out", str(out),
             "--cases", "2")
    assert r.exit_code == 0, r.output
    elf = out / "firmware" / "cortex-m4" / "model.elf"
    r = _run("emulate", str(elf), "--cases", "2")
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines() if "FULLY_CONNECTED" in line]
    assert len(rows) == 10  # ad01 is ten FC layers
    assert all(int(row.split()[2].replace(",", "")) > 0 for row in rows)
    bad = tmp_path / "in.bin"
    bad.write_bytes(b"\x01\x02\x03")
    r = _run("emulate", str(elf), "--inputs", str(bad))
    assert r.exit_code == 2 and "not a multiple" in r.output
