"""``edgekit sweep`` on a real Ray: a local one, and a separately started head joined by --address.

Trials are tiny (3 FSDD clips per class and split, 2 epochs, widths 8-12)
so that three of them fit the suite's two cores.  Each checks the files
of the sweep and that the exported best recipe builds bit-exact with
``edgekit build --recipe``.

The head is stopped by terminating the processes of its own temporary
directory (by pid), not with ``ray stop``, which would stop every Ray on
the machine.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.qemu]

SPACE = """
[sweep]
trials = 3
cases = 2
audio_clips = 1

[dataset]
name = "fsdd"
limit_per_class = 3

[model]
arch = { choice = ["dscnn", "lmu"] }

[model.hparams.dscnn]
width = { choice = [8, 12] }
num_blocks = 1

[model.hparams.lmu]
units = { range = [8, 12] }
order = 4
memory_d = 4

[train]
epochs = 2
learning_rate = { loguniform = [1e-3, 1e-2] }
"""


def _check_outputs(out: Path, fsdd_root, tmp_path, trials: int = 3,
                   build_best: bool = True) -> None:
    files = {p.name for p in out.iterdir()}
    assert {"trials.csv", "trials.json", "pareto.png", "report.md", "best.toml"} <= files
    data = json.loads((out / "trials.json").read_text())
    rows = data["trials"]
    assert len(rows) == trials and data["target"]["name"] == "cortex-m4"
    done = [r for r in rows if r["status"] == "completed"]
    assert done and all(r["status"] in ("completed", "stopped") for r in rows)
    for r in done:
        assert 0.0 <= r["int8_accuracy"] <= 1.0
        assert r["flash_bytes"] > 4000 and r["instructions"] > 10_000 and r["bit_exact"]
        assert r["ram_bytes"] > r["stack_bytes"] > 0 and r["cycles_estimate"] > 0
    with open(out / "trials.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(t["index"]) for t in table] == list(range(trials))
    assert {t["model.arch"] for t in table} <= {"dscnn", "lmu"}
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = data["best"]
    assert best in [r["index"] for r in done]
    assert f"Trial {best}:" in (out / "report.md").read_text()
    if not build_best:
        return
    built = CliRunner().invoke(main, ["build", "--recipe", str(out / "best.toml"), "--cases", "2",
                                      "--audio-clips", "1", "--data", str(fsdd_root),
                                      "--out", str(tmp_path / "best-build")],
                               catch_exceptions=False)
    assert built.exit_code == 0, built.output
    report = json.loads((tmp_path / "best-build" / "report.json").read_text())
    assert report["emulator"]["bit_exact"]
    b = next(r for r in rows if r["index"] == best)
    assert report["model"]["arch"] == b["config"]["model.arch"]
    assert report["memory"]["flash_bytes"] == b["flash_bytes"]     # same model, same firmware


def test_sweep_on_a_local_ray(tmp_path, fsdd_root):
    (tmp_path / "space.toml").write_text(SPACE)
    res = CliRunner().invoke(main, ["sweep", str(tmp_path / "space.toml"), "--target",
                                    "cortex-m4", "--out", str(tmp_path / "sweep"),
                                    "--data", str(fsdd_root)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    _check_outputs(tmp_path / "sweep", fsdd_root, tmp_path)
    ray_info = json.loads((tmp_path / "sweep" / "trials.json").read_text())["ray"]
    assert ray_info["local"] and ray_info["cpus"] == os.cpu_count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_head(temp_dir: str) -> None:
    """Terminate the processes of the head started in ``temp_dir`` (and only those), by pid."""
    import psutil  # noqa: PLC0415

    mine = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(temp_dir in arg for arg in (p.info["cmdline"] or [])):
                mine += [p, *p.children(recursive=True)]   # workers rename themselves ray::...
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    mine = list({p.pid: p for p in mine}.values())
    for p in mine:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(mine, timeout=15)
    for p in alive:
        p.kill()


def test_sweep_against_a_separately_started_ray_head(tmp_path, fsdd_root, monkeypatch):
    ray_bin = Path(sys.executable).with_name("ray")
    temp_dir = tempfile.mkdtemp(prefix="ekray", dir="/tmp")   # short: Ray's socket paths
    port = _free_port()
    # Ray's token authentication with a token made here, for the head and the driver alike
    # (what a cluster's users do: RAY_AUTH_MODE=token and the same RAY_AUTH_TOKEN everywhere)
    token = secrets.token_hex(32)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    env = dict(os.environ)
    try:
        start = subprocess.run(
            [str(ray_bin), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
             "--num-cpus=1", f"--temp-dir={temp_dir}", "--include-dashboard=false",
             "--disable-usage-stats"], env=env, capture_output=True, text=True, timeout=180)
        assert start.returncode == 0, start.stdout + start.stderr
        # One trial: the local test covers the search and the best recipe's build; this
        # one shows the same sweep runs, unchanged, on a cluster it joins.
        (tmp_path / "space.toml").write_text(SPACE.replace("trials = 3", "trials = 1"))
        res = CliRunner().invoke(main, ["sweep", str(tmp_path / "space.toml"), "--address",
                                        f"127.0.0.1:{port}", "--out", str(tmp_path / "sweep"),
                                        "--data", str(fsdd_root)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        _check_outputs(tmp_path / "sweep", fsdd_root, tmp_path, trials=1, build_best=False)
        ray_info = json.loads((tmp_path / "sweep" / "trials.json").read_text())["ray"]
        # Ray replaces 127.0.0.1 by the node's address; the port is the head's
        assert ray_info["address"].endswith(f":{port}") and not ray_info["local"]
        assert ray_info["cpus"] == 1
    finally:
        _stop_head(temp_dir)
        time.sleep(1)
        shutil.rmtree(temp_dir, ignore_errors=True)


LOSO_SPACE = """
[sweep]
trials = 1
cases = 2
audio_clips = 1
eval = "loso"
metric = "loso_worst"

[dataset]
name = "fsdd"
limit_per_class = 2

[model]
arch = "dscnn"
hparams = { width = 8, num_blocks = 1 }

[train]
epochs = 1
"""


def test_sweep_optimizes_leave_one_speaker_out(tmp_path, fsdd_root):
    (tmp_path / "space.toml").write_text(LOSO_SPACE)
    res = CliRunner().invoke(main, ["sweep", str(tmp_path / "space.toml"), "--out",
                                    str(tmp_path / "sweep"), "--data", str(fsdd_root)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "sweep" / "trials.json").read_text())
    assert data["settings"]["metric"] == "loso_worst"
    (row,) = data["trials"]
    assert row["status"] == "completed" and row["iterations"] == 7   # 6 speakers + the figures
    per = row["loso"]
    trial = tmp_path / "sweep" / "trials" / "000"
    assert per == json.loads((trial / "loso.json").read_text())["speakers"]
    assert len(per) == 6 and row["loso_worst"] == min(per.values())
    assert row["loso_mean"] == pytest.approx(sum(per.values()) / 6, abs=1e-4)
    # the first speaker's run is deployed: its build gives the figures
    first = json.loads((trial / "george" / "report.json").read_text())
    assert first["memory"]["flash_bytes"] == row["flash_bytes"] and first["emulator"]["bit_exact"]
    assert not (trial / "jackson" / "report.json").exists()
    assert (trial / "jackson" / "train_report.json").exists()
