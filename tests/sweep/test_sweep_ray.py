"""``edgekit sweep`` on a real Ray: a local one, and a separately started head joined by --address.

The trials are as small as a build gets (2 FSDD clips per class and split,
1 epoch, width 8, one block, 1 bit-exact case, no raw-audio clip in QEMU)
and differ only in their learning rate, so the sweep estimates one model
before training: the suite's time goes to Ray, not to training.

Ray 2.60 authenticates with a token by default, and a process caches the
token it read: a driver that joins a head from inside the test process
would present a token cached by the earlier local sweep, not the head's,
and Ray reports that as "Failed to connect to Ray cluster at <node IP>".
So both tests give Ray their own token through the environment, and the
cluster test runs the head and the sweep as separate processes, as a user
does from two shells.  Ray also replaces 127.0.0.1 by the machine's
outward address (which may be unreachable: a TEST-NET address on the CI);
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps the head, its workers and
the driver on 127.0.0.1 (Ray's single-machine mode).

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
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.recipe import load_recipe

pytestmark = [pytest.mark.slow, pytest.mark.qemu]

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SPACE = """
[sweep]
trials = 2
cases = 1
audio_clips = 0

[dataset]
name = "fsdd"
limit_per_class = 2

[model]
arch = "dscnn"
hparams = { width = 8, num_blocks = 1 }

[train]
epochs = 1
learning_rate = { loguniform = [1e-3, 1e-2] }
"""


def _check_outputs(out: Path, trials: int) -> dict:
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
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = data["best"]
    assert best in [r["index"] for r in done]
    assert f"Trial {best}:" in (out / "report.md").read_text()
    # best.toml is a recipe `edgekit build --recipe` takes: the measured trial's own recipe
    recipe = load_recipe(out / "best.toml")
    b = next(r for r in rows if r["index"] == best)
    assert recipe["model"]["arch"] == "dscnn"
    assert recipe["train"]["learning_rate"] == pytest.approx(b["config"]["train.learning_rate"])
    assert recipe["dataset"]["limit_per_class"] == 2 and recipe["target"]["name"] == "cortex-m4"
    return data


def test_sweep_on_a_local_ray(tmp_path, fsdd_root, monkeypatch):
    # Ray's own token, so that the local Ray neither writes ~/.ray/auth_token nor leaves
    # RAY_AUTH_MODE set in the environment of the tests that follow
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
    (tmp_path / "space.toml").write_text(SPACE)
    res = CliRunner().invoke(main, ["sweep", str(tmp_path / "space.toml"), "--target",
                                    "cortex-m4", "--out", str(tmp_path / "sweep"),
                                    "--data", str(fsdd_root)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    data = _check_outputs(tmp_path / "sweep", trials=2)
    assert data["ray"]["local"] and data["ray"]["cpus"] == os.cpu_count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _head_processes(temp_dir: str) -> list:
    """The processes of the Ray head started with ``--temp-dir=temp_dir``, and their children."""
    import psutil  # noqa: PLC0415

    mine = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(temp_dir in arg for arg in (p.info["cmdline"] or [])):
                mine += [p, *p.children(recursive=True)]   # workers rename themselves ray::...
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return list({p.pid: p for p in mine}.values())


def _stop_head(temp_dir: str) -> list:
    """Terminate the head of ``temp_dir`` (and only it), by pid; the pids still alive after."""
    import psutil  # noqa: PLC0415

    mine = _head_processes(temp_dir)
    for p in mine:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(mine, timeout=15)
    for p in alive:
        p.kill()
    psutil.wait_procs(alive, timeout=5)
    return [p.pid for p in _head_processes(temp_dir)]


def test_sweep_against_a_separately_started_ray_head(tmp_path, fsdd_root):
    temp_dir = tempfile.mkdtemp(prefix="ekray", dir="/tmp")   # short: Ray's socket paths
    port = _free_port()
    env = dict(os.environ)
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
               # the head's workers run the trials: they import this checkout's edgekit
               PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), *filter(None, [
                   os.environ.get("PYTHONPATH")])]))
    try:
        start = subprocess.run(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
             "--node-ip-address=127.0.0.1", "--num-cpus=1", f"--temp-dir={temp_dir}",
             "--include-dashboard=false", "--disable-usage-stats"],
            env=env, capture_output=True, text=True, timeout=180)
        assert start.returncode == 0, start.stdout + start.stderr
        (tmp_path / "space.toml").write_text(SPACE.replace("trials = 2", "trials = 1"))
        res = subprocess.run(
            [sys.executable, "-m", "edgekit.cli", "sweep", str(tmp_path / "space.toml"),
             "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "sweep"),
             "--data", str(fsdd_root)],
            env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        data = _check_outputs(tmp_path / "sweep", trials=1)
        # the sweep ran on that head, on 127.0.0.1: its address, its one CPU, not a Ray of its own
        assert data["ray"]["address"] == f"127.0.0.1:{port}" and not data["ray"]["local"]
        assert data["ray"]["cpus"] == 1 and data["ray"]["nodes"] == 1
    finally:
        left = _stop_head(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert not left, f"processes of the test's Ray head still alive: {left}"
