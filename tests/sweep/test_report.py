"""The sweep's table and choice of the best trial (edgekit.sweep.report), on hand-made results."""

from __future__ import annotations

import csv
import json

from edgekit.budget import resolve_target
from edgekit.sweep import load_space
from edgekit.sweep import report as rep


def test_pareto_front_by_hand():
    # (cost, accuracy): 1 beats 3 (cheaper, more accurate); 0 and 1 trade off; 2 ties 0's cost
    pts = [(1.0, 0.5), (2.0, 0.6), (1.0, 0.4), (3.0, 0.55), (2.0, 0.6)]
    assert rep.pareto_front(pts) == [0, 1, 4]


def _measured(acc, flash, ram_static, stack=1000):
    return {"measured": True, "training_iteration": 3, "int8_accuracy": acc,
            "float_accuracy": acc, "flash_bytes": flash, "ram_bytes": ram_static,
            "static_ram_bytes": ram_static, "stack_bytes": stack, "instructions": 10_000,
            "cycles_estimate": 12_000, "params": 500, "bit_exact": True}


def test_rows_statuses_and_best_that_fits(tmp_path):
    sp = load_space({"model": {"hparams": {"width": {"choice": [8, 16, 24, 32, 40]}}},
                     "train": {"epochs": 2}})
    configs = sp.sample()
    est = {"fits": True, "flash_bytes": 1, "ram_bytes": 1, "params": 1, "overflows": [],
           "pruned": False}
    for i, c in enumerate(configs):
        c.update(index=i, estimate=est, rejected=None)
    configs[4]["rejected"] = "RAM overflows by 10 bytes"
    tgt = resolve_target("stm32f103c8")               # 64 KB flash, 20 KB RAM
    results = {
        0: {"metrics": _measured(0.80, 30_000, 8_000), "error": None},
        1: {"metrics": _measured(0.95, 30_000, 19_000), "error": None},   # RAM > 90 % of 20 KB
        2: {"metrics": {"epoch_accuracy": 0.1, "training_iteration": 1}, "error": None},
        3: {"metrics": {"training_iteration": 1}, "error": "ModelError: training failed: x"},
    }
    rows = rep.trial_rows(configs, results, sp, tgt)
    assert [r["status"] for r in rows] == ["completed", "completed", "stopped", "failed",
                                           "rejected"]
    assert rows[0]["fits"] and not rows[1]["fits"]
    best = rep.best_trial(rows, "int8_accuracy")
    assert best["index"] == 0                        # 1 is more accurate but does not fit
    files = rep.write_outputs(tmp_path, rows, best, sp, tgt, configs)
    assert files == ["trials.csv", "trials.json", "pareto.png", "report.md", "best.toml"]
    with open(tmp_path / "trials.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [t["status"] for t in table] == [r["status"] for r in rows]
    assert table[4]["note"] == "RAM overflows by 10 bytes"
    assert json.loads((tmp_path / "trials.json").read_text())["best"] == 0
    assert f"width = {configs[0]['params']['model.hparams.width']}" in \
        (tmp_path / "best.toml").read_text().replace("{ ", "").replace(",", "\n")
