"""Real peer models (MLPerf Tiny, int8): generated C must match tflite_micro
byte for byte, in a planned arena no larger than TFLM's."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgekit.emulator import build_host, run_host
from edgekit.firmware_export import generate, read_tflite
from edgekit.reference import run_litert, run_tflm, tflm_arena
from tests.conftest import MLPERF_MODELS

# TFLM's arena_used_bytes for these models on Cortex-M4, measured by TFLM
# itself (../shared/benchmarks/tflm-cortex-m4-summary.md, reference kernels).
TFLM_M4_ARENA = {"kws_ref_model": 22772, "ad01_int8": 2260, "pretrainedResnet_quant": 54340,
                 "vww_96_int8": 100660}
HOST_CASES = 200


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_host_build_is_bit_exact_with_tflm(mlperf_dir, tmp_path, name):
    tflite = (mlperf_dir / f"{name}.tflite").read_bytes()
    graph = read_tflite(tflite)
    exp = generate(graph, tmp_path / "src")
    n = graph.tensors[graph.inputs[0]].num_elements
    rng = np.random.default_rng(1234)
    x = rng.integers(-128, 128, (HOST_CASES, n), dtype=np.int8)
    ref = run_tflm(tflite, x).reshape(HOST_CASES, -1)
    ours = run_host(build_host(tmp_path / "src", tmp_path / "host"), x.view(np.uint8))
    bad = np.flatnonzero((ours.view(np.int8) != ref).any(axis=1))
    assert bad.size == 0, f"{name}: {bad.size} of {HOST_CASES} cases differ (first {bad[:5]}, seed 1234)"
    # The reference is not trivially constant: outputs vary over inputs.
    assert len({r.tobytes() for r in ref}) > 1
    # LiteRT may differ from TFLM by a few LSB (reported, not gated).
    lite = run_litert(tflite, x[:20]).reshape(20, -1)
    print(f"{name}: max |LiteRT - TFLM| = {np.abs(lite.astype(int) - ref[:20].astype(int)).max()}")
    # Memory plan: never above TFLM, never below the lower bound.
    plan = exp.plan
    assert plan.lower_bound_bytes <= plan.arena_bytes
    # In place only lowers the bound; scratch may raise it.
    assert plan.lower_bound_bytes <= plan.lower_bound_no_inplace_bytes + sum(
        b.size for b in plan.scratch.values())
    assert plan.arena_bytes <= tflm_arena(tflite)["head_bytes"]
    if name in TFLM_M4_ARENA:
        assert plan.arena_bytes <= TFLM_M4_ARENA[name]


def _check_plan_has_no_overlap(graph, plan):
    def in_place(a, b):
        # b overwrites a in place: same start, together at b's first step only.
        return (bool(a.tensors) and b.over == a.tensors[0] and a.last == b.first
                and a.offset == b.offset and b.size <= a.size)

    placed = plan.buffers + list(plan.scratch.values())
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            alive_together = not (a.last < b.first or b.last < a.first)
            apart = a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
            assert not alive_together or apart or in_place(a, b) or in_place(b, a), (a, b)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_plan_never_overlaps_live_tensors(mlperf_dir, tmp_path, name):
    graph = read_tflite(mlperf_dir / f"{name}.tflite")
    exp = generate(graph, tmp_path)
    _check_plan_has_no_overlap(graph, exp.plan)
    # Every activation tensor touched by an op has a place in the arena.
    for op in graph.operators:
        for t in op.inputs + op.outputs:
            if t >= 0 and not graph.tensors[t].is_const:
                assert t in exp.plan.offsets


@pytest.mark.qemu
@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_edgekit_build_model_runs_bit_exact_in_qemu(mlperf_dir, tmp_path, name):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit.cli", "build", "--target", "cortex-m",
         "--model", str(mlperf_dir / f"{name}.tflite"), "--out", str(out), "--cases", "20"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    emu, mem = report["emulator"], report["memory"]
    assert emu["bit_exact"] is True and emu["cases"] == 20
    assert emu["instructions"] > 0 and len(emu["per_op"]) == len(read_tflite(out / "model.tflite").operators)
    assert sum(p["instructions"] for p in emu["per_op"]) <= emu["instructions"]
    # Cortex-M4 cycle estimate (validated on hand-counted kernels in test_cycles.py):
    # every instruction takes at least one cycle, and the trace counts the same run.
    cyc = emu["cycles_estimate"]
    assert cyc["instructions"] == pytest.approx(emu["instructions"], rel=0.01)
    assert cyc["cycles"] > cyc["instructions"]
    assert [p["index"] for p in cyc["per_op"]] == [p["index"] for p in emu["per_op"]]
    assert report["target"]["machine"] == "mps2-an386"
    assert mem["arena_vs_tflm"] <= 1.0 and mem["arena_vs_lower_bound"] >= 1.0
    assert mem["arena_lower_bound_no_inplace_bytes"] > 0
    if name in TFLM_M4_ARENA:
        assert mem["arena_bytes"] <= TFLM_M4_ARENA[name]
    assert mem["flash_bytes"] > mem["weights_bytes"] > 0
    assert (out / "firmware" / "src" / "model.c").is_file()
    assert (out / "firmware" / "tflite_array" / "edgekit_model_tflite.c").is_file()
    md = (out / "report.md").read_text()
    assert "bit-exact" in md
    assert f"| arena_lower_bound_no_inplace_bytes | " \
           f"{mem['arena_lower_bound_no_inplace_bytes']:,} |" in md
