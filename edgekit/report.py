"""Write ``report.json`` and ``report.md`` for a build."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(n) -> str:
    if n is None:
        return "n/a"
    if isinstance(n, float):
        return f"{n:.4f}"
    if isinstance(n, int):
        return f"{n:,}"
    return str(n)


def render_markdown(report: dict) -> str:
    m, mem, emu, tgt = (report.get(k, {}) for k in ("model", "memory", "emulator", "target"))
    acc = report.get("accuracy")
    lines = [f"# edgekit build report ({tgt.get('name', '?')}, QEMU {tgt.get('machine', '?')})", ""]
    lines += ["## Model", "", "| | |", "|---|---|"]
    for key in ("arch", "source", "params", "macs"):
        if key in m:
            lines.append(f"| {key} | {_fmt(m[key])} |")
    if "ops" in m:
        lines.append("| ops | " + ", ".join(f"{k} x{v}" for k, v in m["ops"].items()) + " |")
    if acc:
        lines += ["", "## Accuracy (FSDD official test split)", "", "| float | int8 (tflite_micro) |",
                  "|---|---|", f"| {_fmt(acc.get('float'))} | {_fmt(acc.get('int8'))} |"]
    lines += ["", "## Memory", "", "| what | bytes |", "|---|---|"]
    for key in ("flash_bytes", "weights_bytes", "ram_bytes", "arena_bytes",
                "arena_lower_bound_bytes", "tflm_arena_host_bytes", "stack_bytes"):
        if key in mem:
            lines.append(f"| {key} | {_fmt(mem[key])} |")
    for key in ("arena_vs_tflm", "arena_vs_lower_bound"):
        if key in mem:
            lines.append(f"| {key} (ratio) | {mem[key]} |")
    lines += ["", "## Emulator check", "",
              f"- bit-exact with tflite_micro: **{emu.get('bit_exact')}** "
              f"(host {emu.get('host_bit_exact')}, QEMU {emu.get('qemu_bit_exact')}) "
              f"on {emu.get('cases')} inputs",
              f"- max difference to LiteRT (not gated): {emu.get('max_diff_litert')} LSB",
              f"- guest instructions per inference: {_fmt(emu.get('instructions'))} "
              f"(counted with {emu.get('clock')}, 40 instructions per tick)", "",
              "| # | op | instructions |", "|---|---|---|"]
    for p in emu.get("per_op", []):
        lines.append(f"| {p['index']} | {p['op']} | {_fmt(p['instructions'])} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    pj = out_dir / "report.json"
    pm = out_dir / "report.md"
    pj.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    pm.write_text(render_markdown(report))
    return pj, pm
