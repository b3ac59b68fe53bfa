"""Rendering a budget report: terminal table, Markdown and the PNG plot."""

from __future__ import annotations

from pathlib import Path

from edgekit.budget.layers import shape_str

__all__ = ["format_table", "format_markdown", "write_plot"]


def _shapes(shapes: list) -> str:
    return "+".join(shape_str(s) for s in shapes) or "-"


def _mb(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n:,} B"


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 100 else f"{x:,.1f}"


def _layer_lines(report: dict) -> list[list[str]]:
    rows = []
    for r in report["layers"]:
        rows.append([str(r["index"]), r["op"], _shapes(r["inputs"]), _shapes(r["outputs"]),
                     f"{r['params']:,}", f"{r['macs']:,}", f"{r['weight_bytes']:,}",
                     f"{r['activation_bytes']:,}",
                     f"{r['instructions']:,}" if r["instructions"] is not None else "-",
                     _ms(r["latency_ms"])])
    t = report["totals"]
    rows.append(["", "total", "", "", f"{t['params']:,}", f"{t['macs']:,}",
                 f"{t['weight_bytes']:,}", f"{report['ram']['arena_bytes']:,} peak",
                 f"{report['instructions']:,}" if report["instructions"] is not None else "-",
                 _ms(report["latency"]["ms"])])
    return rows


_HEADER = ["#", "op", "input", "output", "params", "MACs", "weight B", "arena B",
           "instructions", "est. ms"]
_RIGHT = {0, 4, 5, 6, 7, 8, 9}


def _fit_line(what: str, part: dict, headroom: float) -> str:
    pct = f"{headroom * 100:g}%"
    head = (f"budget {part['budget_bytes']:,} B ({_mb(part['capacity_bytes'])} - {pct} headroom)")
    if part["fits"]:
        return f"        {head}: fits, {part['margin_bytes']:,} B to spare"
    return f"        {head}: DOES NOT FIT, over by {-part['margin_bytes']:,} B"


def format_table(report: dict) -> str:
    """Format a budget report as the terminal table plus a memory/time summary.

    Parameters
    ----------
    report : dict
        The ``budget.json`` content.

    Returns
    -------
    str
    """
    tgt, fl, ram, lat = report["target"], report["flash"], report["ram"], report["latency"]
    rows = _layer_lines(report)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(_HEADER)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in _RIGHT else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    measured = tgt["measured_on"]
    out = [f"{report['model']['name']} on {tgt['name']} ({tgt['title']}; core {tgt['core']}, "
           f"measured on QEMU {measured})", line(_HEADER), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]]
    out.append(line(["-" * w for w in widths]))
    out.append(line(rows[-1]))
    out.append("")
    out.append(f"Flash   {fl['total_bytes']:,} B (ELF text {fl['text_bytes']:,} + data "
               f"{fl['data_bytes']:,}) = weights {fl['weights_bytes']:,} + op params "
               f"{fl['op_params_bytes']:,} + edgekit code {fl['edgekit_code_bytes']:,} + "
               f"harness/runtime {fl['other_bytes']:,}")
    out.append(_fit_line("flash", fl, report["headroom"]))
    tflm = ram["tflm_arena_bytes"]
    out.append(f"RAM     {ram['total_bytes']:,} B = static {ram['static_bytes']:,} (.data+.bss; "
               f"arena {ram['arena_bytes']:,}) + stack {ram['stack_bytes']:,} (measured)")
    out.append(f"        arena {ram['arena_bytes']:,} B vs lower bound "
               f"{ram['lower_bound_bytes']:,} B ({ram['lower_bound_no_inplace_bytes']:,} B "
               "without in-place)"
               + (f" and TFLM's arena {tflm:,} B (host, 64-bit)" if tflm is not None else ""))
    if ram.get("op_order", "file") != "file":
        out.append(f"        ops run in the order '{ram['op_order']}' (file order: arena "
                   f"{ram['file_order_arena_bytes']:,} B)")
    out.append(_fit_line("RAM", ram, report["headroom"]))
    if report["instructions"] is not None:
        out.append(f"Time    {report['instructions']:,} instructions per inference (QEMU "
                   f"{measured}) -> ~{_ms(lat['ms'])} ms at {lat['clock_hz'] / 1e6:g} MHz "
                   f"(estimate: CPI ~{lat['cpi']:g}, rough)")
    else:
        out.append("Time    not measured")
    out.append(f"Fit     {'yes' if report['fits'] else 'NO: ' + '; '.join(report['overflows'])}")
    return "\n".join(out)


def format_markdown(report: dict) -> str:
    """Format a budget report as Markdown.

    Parameters
    ----------
    report : dict
        The ``budget.json`` content.

    Returns
    -------
    str
    """
    tgt, fl, ram, lat = report["target"], report["flash"], report["ram"], report["latency"]
    md = [f"# Budget: {report['model']['name']} on {tgt['name']}", "",
          f"- Target: {tgt['title']} (`{tgt['name']}`, {tgt['kind']}); core `{tgt['core']}`, "
          f"measured on QEMU `{tgt['measured_on']}`",
          f"- Figures: {tgt['source']}",
          f"- Fits (with {report['headroom'] * 100:g}% headroom): "
          f"**{'yes' if report['fits'] else 'no'}**"]
    for o in report["overflows"]:
        md.append(f"  - {o}")
    md += ["", "| | bytes | capacity | budget | margin |", "|---|---:|---:|---:|---:|",
           f"| flash | {fl['total_bytes']:,} | {fl['capacity_bytes']:,} | {fl['budget_bytes']:,} "
           f"| {fl['margin_bytes']:,} |",
           f"| RAM | {ram['total_bytes']:,} | {ram['capacity_bytes']:,} | {ram['budget_bytes']:,} "
           f"| {ram['margin_bytes']:,} |", "",
           f"Flash = weights {fl['weights_bytes']:,} + op parameters {fl['op_params_bytes']:,} + "
           f"edgekit code {fl['edgekit_code_bytes']:,} + harness/runtime {fl['other_bytes']:,} B "
           "(from the ELF: `arm-none-eabi-size`, symbols from `arm-none-eabi-nm -S`).", "",
           f"RAM = .data+.bss {ram['static_bytes']:,} (tensor arena {ram['arena_bytes']:,}; lower "
           f"bound {ram['lower_bound_bytes']:,}, {ram['lower_bound_no_inplace_bytes']:,} without "
           f"in-place; TFLM's arena for the same model "
           f"{ram['tflm_arena_bytes']:,}, host 64-bit build) + stack {ram['stack_bytes']:,} B "
           "(high-water mark measured in QEMU).", ""]
    if report["instructions"] is not None:
        md += [f"Time: {report['instructions']:,} guest instructions per inference; "
               f"estimated {_ms(lat['ms'])} ms at {lat['clock_hz'] / 1e6:g} MHz with a rough "
               f"CPI of {lat['cpi']:g} ({lat['cpi_source']}). An estimate, not a measurement.", ""]
    md += ["| " + " | ".join(_HEADER) + " |",
           "|" + "|".join("---:" if i in _RIGHT else "---" for i in range(len(_HEADER))) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in _layer_lines(report)]
    md.append("")
    return "\n".join(md)


def write_plot(report: dict, path: str | Path) -> None:
    """Write ``budget.png``: arena occupancy over the op schedule and instructions per layer.

    Parameters
    ----------
    report : dict
        The ``budget.json`` content (uses ``ram.live_bytes_per_step``, the
        arena size, the lower bound and each layer's instructions).
    path : str, pathlib.Path or file object
        PNG file to write (or a binary file object to write it into).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    ram, layers = report["ram"], report["layers"]
    usage = ram["live_bytes_per_step"]
    steps = list(range(-1, len(usage) - 1))
    n = len(layers)
    fig = Figure(figsize=(max(8.0, 0.35 * n + 4), 7.5), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.bar(steps, [u / 1024 for u in usage], width=0.8, color="#4c72b0", label="live activations")
    ax1.axhline(ram["arena_bytes"] / 1024, color="#c44e52", ls="--",
                label=f"arena {ram['arena_bytes']:,} B")
    if ram["lower_bound_bytes"] != ram["arena_bytes"]:
        ax1.axhline(ram["lower_bound_bytes"] / 1024, color="#937860", ls="-.",
                    label=f"lower bound {ram['lower_bound_bytes']:,} B")
    if ram["tflm_arena_bytes"]:
        ax1.axhline(ram["tflm_arena_bytes"] / 1024, color="#8172b2", ls=":",
                    label=f"TFLM arena {ram['tflm_arena_bytes']:,} B (host)")
    peak = max(range(len(usage)), key=lambda i: usage[i]) if usage else 0
    if usage:
        ax1.annotate(f"peak {usage[peak]:,} B", xy=(steps[peak], usage[peak] / 1024),
                     xytext=(0, 8), textcoords="offset points", ha="center", color="#c44e52")
        ax1.plot([steps[peak]], [usage[peak] / 1024], "v", color="#c44e52")
        ax1.set_ylim(0, max(max(usage), ram["arena_bytes"], ram["tflm_arena_bytes"] or 0)
                     / 1024 * 1.2)
    ax1.set_ylabel("KiB")
    ax1.set_title(f"{report['model']['name']} on {report['target']['name']}: tensor arena "
                  "occupancy per op step (step -1: input)")
    ax1.legend(loc="upper right", fontsize=8)
    # Bars at the step where each op runs (the generated code may run the
    # ops in another order than the file: plan.order).
    layers = sorted(layers, key=lambda r: r.get("step", r["index"]))
    instr = [r["instructions"] or 0 for r in layers]
    ax2.bar([r.get("step", r["index"]) for r in layers], [i / 1e6 for i in instr], width=0.8,
            color="#55a868")
    ax2.set_ylabel("M instructions")
    ax2.set_title(f"guest instructions per layer (QEMU {report['target']['measured_on']}; "
                  f"total {report['instructions'] or 0:,})")
    ax2.set_xticks(steps)
    labels = ["input"] + [f"{r['index']} {r['op']}" for r in layers] + ["output"]
    ax2.set_xticklabels(labels[:len(steps)], rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path if hasattr(path, "write") else str(path), format="png")
