"""The outputs of a sweep: trials.csv / .json, pareto.png, report.md and best.toml.

Every configuration drawn is one row, whatever became of it: ``rejected``
(the budget estimate does not fit the target, never trained), ``stopped``
(ASHA stopped it early), ``failed`` (the error's last line) or
``completed`` (measured figures of its deployed build).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

__all__ = ["FIGURES", "trial_rows", "best_trial", "pareto_front", "write_outputs"]

#: Measured columns of a completed trial (see :func:`edgekit.sweep.trial.figures`).
FIGURES = ("int8_accuracy", "float_accuracy", "loso_mean", "loso_worst", "loso_worst_speaker",
           "flash_bytes", "ram_bytes", "static_ram_bytes", "stack_bytes", "instructions",
           "cycles_estimate", "params", "bit_exact", "fits")
_AXES = (("ram_bytes", "RAM: arena + state + stack (bytes)", "ram"),
         ("flash_bytes", "flash (bytes)", "flash"),
         ("instructions", "instructions per inference (QEMU)", None))


def _fits(m: dict, tgt, headroom: float) -> bool:
    return (m["flash_bytes"] <= tgt.flash_bytes * (1 - headroom)
            and m["static_ram_bytes"] + m["stack_bytes"] <= tgt.ram_bytes * (1 - headroom))


def trial_rows(configs: list, results: dict, space, tgt) -> list[dict]:
    """One row per configuration: index, status, ``config`` (the drawn values), the figures."""
    rows = []
    headroom = float(space.settings["headroom"])
    for c in configs:
        row = {"index": c["index"], "status": "", "iterations": 0, "error": None,
               "config": c["params"], "estimate": c["estimate"], "rejected": c["rejected"]}
        row.update({k: None for k in FIGURES})
        res = results.get(c["index"])
        if c["rejected"]:
            row["status"] = "rejected"
        elif res is None:
            row["status"] = "not run"
        else:
            m = res["metrics"]
            row["iterations"] = int(m.get("training_iteration") or 0)
            if m.get("measured"):
                row["status"] = "completed"
                for k in FIGURES:
                    if k in m:
                        row[k] = m[k]
                loso = m.get("loso") or {k.split("/", 1)[1]: v for k, v in m.items()
                                         if k.startswith("loso/")}
                if loso:
                    row["loso"] = loso
                row["fits"] = _fits(row, tgt, headroom)
            elif res["error"]:
                row["status"], row["error"] = "failed", res["error"]
            else:
                row["status"] = "stopped"
                row["last_epoch_accuracy"] = m.get("epoch_accuracy")
        rows.append(row)
    return rows


def best_trial(rows: list, metric: str) -> dict | None:
    """The completed trial that fits with the highest ``metric`` (ties: less RAM, then flash)."""
    ok = [r for r in rows if r["status"] == "completed" and r["fits"] and r[metric] is not None]
    if not ok:
        return None
    return max(ok, key=lambda r: (r[metric], -r["ram_bytes"], -r["flash_bytes"]))


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: higher accuracy (y) at no more cost (x)."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any((x2 <= x and y2 >= y) and (x2 < x or y2 > y)
                   for j, (x2, y2) in enumerate(points) if j != i):
            front.append(i)
    return front


def _plot(rows: list, metric: str, tgt, headroom: float) -> bytes:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    done = [r for r in rows if r["status"] == "completed"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (key, label, limit) in zip(axes, _AXES):
        pts = [(r[key], r[metric]) for r in done if r[key] is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.scatter(xs, ys, c="tab:blue", label="trial")
            for r in done:
                ax.annotate(str(r["index"]), (r[key], r[metric]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
            front = sorted((pts[i] for i in pareto_front(pts)))
            ax.plot([p[0] for p in front], [p[1] for p in front], "o-", color="tab:red",
                    mfc="none", ms=10, label="Pareto front")
        if limit == "ram":
            ax.axvline(tgt.ram_bytes, color="k", ls="--", label=f"{tgt.name} RAM")
            ax.axvline(tgt.ram_bytes * (1 - headroom), color="gray", ls=":",
                       label=f"after {headroom:.0%} headroom")
        elif limit == "flash":
            ax.axvline(tgt.flash_bytes, color="k", ls="--", label=f"{tgt.name} flash")
            ax.axvline(tgt.flash_bytes * (1 - headroom), color="gray", ls=":",
                       label=f"after {headroom:.0%} headroom")
        ax.set_xlabel(label)
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"sweep on {tgt.name}: {len(done)} completed trial(s)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _markdown(rows: list, best: dict | None, space, tgt) -> str:
    s = space.settings
    metric = s["metric"]
    lines = [f"# Sweep of {space.path} on {tgt.name}", "",
             f"- target: {tgt.title} — flash {tgt.flash_bytes:,} B, RAM {tgt.ram_bytes:,} B, "
             f"{s['headroom']:.0%} kept free",
             f"- evaluation: {s['eval']}; objective: {metric} (int8, tflite_micro)",
             f"- search: {len(rows)} configuration(s) drawn (seed {s['seed']}); rejected before "
             "training when the budget estimate of the untrained model does not fit; ASHA "
             "stops poor trials on their per-epoch accuracy",
             "- RAM is the model's working memory: arena + state + stack (measured in QEMU); "
             "instructions per inference counted by QEMU", "",
             "## Search space", "", "| key | values |", "|---|---|"]
    lines += [f"| {k} | {json.dumps(v)} |" for k, v in space.params.items()]
    lines += ["", "## Best recipe that fits", ""]
    if best is None:
        lines.append("No completed trial fits the target.")
    else:
        lines.append(f"Trial {best['index']}: {metric} **{best[metric]:.4f}**, flash "
                     f"{best['flash_bytes']:,} B, RAM {best['ram_bytes']:,} B, "
                     f"{best['instructions']:,} instructions; `best.toml` "
                     "(`edgekit build --recipe best.toml`).")
        if best.get("loso"):
            lines.append("")
            lines.append("Per held-out speaker: " + ", ".join(f"{k} {v:.4f}" for k, v in
                                                              best["loso"].items()))
    cols = ["index", "status", metric, "flash_bytes", "ram_bytes", "instructions",
            "cycles_estimate", "params", "fits"]
    lines += ["", "## Trials", "", "| " + " | ".join(cols + ["parameters", "note"]) + " |",
              "|" + "---|" * (len(cols) + 2)]
    for r in rows:
        note = r["rejected"] or r["error"] or (
            f"stopped after {r['iterations']} report(s)" if r["status"] == "stopped" else "")
        params = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in r["config"].items())
        lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + f" | {params} | {note} |")
    lines += ["", "![accuracy against RAM, flash and instructions](pareto.png)", ""]
    return "\n".join(lines)


def write_outputs(work: Path, rows: list, best: dict | None, space, tgt, configs: list,
                  cluster: dict | None = None) -> list:
    """Write the sweep's files into ``work`` (the temporary output directory); returns their names.

    ``cluster`` describes the Ray cluster the trials ran on (``trials.json`` ``ray``).
    """
    from edgekit.recipe import recipe_toml  # noqa: PLC0415

    work = Path(work)
    (work / "trials.json").write_text(json.dumps(
        {"target": tgt.to_dict(), "settings": space.settings, "space": space.params,
         "ray": cluster or {},
         "best": None if best is None else best["index"], "trials": rows}, indent=1,
        default=str) + "\n")
    keys = sorted({k for r in rows for k in r["config"]})
    cols = ["index", "status", "iterations", *keys, *FIGURES, "estimate_flash_bytes",
            "estimate_ram_bytes", "note"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for r in rows:
        w.writerow([r["index"], r["status"], r["iterations"],
                    *(r["config"].get(k, "") for k in keys),
                    *("" if r[k] is None else r[k] for k in FIGURES),
                    r["estimate"]["flash_bytes"], r["estimate"]["ram_bytes"],
                    r["rejected"] or r["error"] or ""])
    (work / "trials.csv").write_text(buf.getvalue())
    (work / "pareto.png").write_bytes(_plot(rows, space.settings["metric"], tgt,
                                            float(space.settings["headroom"])))
    (work / "report.md").write_text(_markdown(rows, best, space, tgt))
    files = ["trials.csv", "trials.json", "pareto.png", "report.md"]
    if best is not None:
        recipe = dict(configs[best["index"]]["recipe"])
        recipe["name"] = f"sweep-best-{best['index']}"
        recipe["target"] = {"name": tgt.core.name}
        (work / "best.toml").write_text(recipe_toml(recipe))
        files.append("best.toml")
    return files
