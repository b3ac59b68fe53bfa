"""The files ``edgekit convert`` writes: ``model.tflite``, ``report.json``, ``report.md``."""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.errors import ConfigError, EdgekitError
from edgekit.outputs import atomic_file

__all__ = ["out_paths", "render_markdown", "tool_versions", "write_outputs"]


def tool_versions() -> dict:
    """Installed versions of onnx, onnx2tf, onnxruntime and tensorflow (``None`` if missing)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    out = {}
    for name in ("onnx", "onnx2tf", "onnxruntime", "tensorflow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def out_paths(out) -> tuple[Path, Path, Path]:
    """``(model, report.json, report.md)`` paths for ``--out`` (a ``.tflite`` or a directory).

    Raises
    ------
    ConfigError
        If ``out`` names a directory as ``.tflite``, or a file that is not a directory.
    """
    out = Path(out)
    if out.suffix == ".tflite":
        if out.is_dir():
            raise ConfigError(f"--out {out} is a directory")
        d = out.parent
        model = out
    else:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} exists and is not a directory (use a .tflite name "
                              f"or a directory)")
        d = out
        model = out / "model.tflite"
    return model, d / "report.json", d / "report.md"


def write_outputs(targets, tflite: bytes, conversion: dict) -> list[Path]:
    """Write the model and its reports, each file replaced atomically.

    Parameters
    ----------
    targets : tuple of Path
        ``(model.tflite, report.json, report.md)`` from :func:`out_paths`.
    tflite : bytes
        The int8 model.
    conversion : dict
        The ``conversion`` report.

    Returns
    -------
    list of Path
        The three paths written.

    Raises
    ------
    EdgekitError
        If a file cannot be written.
    """
    model, pj, pm = targets
    full = {"edgekit": __import__("edgekit").__version__, "model": str(model.name),
            "conversion": conversion}
    try:
        atomic_file(model, tflite)
        atomic_file(pj, json.dumps(full, indent=2) + "\n")
        atomic_file(pm, render_markdown(full))
    except OSError as e:
        raise EdgekitError(f"cannot write {model.parent}: {e.strerror or e}") from None
    return [model, pj, pm]


def render_markdown(report: dict) -> str:
    """``report.md`` of ``edgekit convert`` (``report`` holds a ``conversion`` dict)."""
    c = report.get("conversion", report)
    o, t, lay, cal = c["onnx"], c["tflite"], c["layout"], c["calibration"]

    def ops(d):
        return ", ".join(f"{k} x{v}" for k, v in d.items())

    top1 = c.get("top1_agreement")
    lines = [f"# edgekit conversion report: {c['source']}", "",
             "## Agreement (onnxruntime float vs tflite_micro int8)", "",
             "| metric | value |", "|---|---|",
             f"| samples | {c['verification']['samples']} |",
             f"| cosine similarity (mean) | {c['cosine']:.6f} |",
             f"| cosine similarity (min) | {c['cosine_min']:.6f} |",
             f"| max abs error | {c['max_abs_error']:.6g} |",
             f"| mean abs error | {c['mean_abs_error']:.6g} |",
             f"| max abs float output | {c['output_abs_max']:.6g} |",
             f"| top-1 agreement | {'n/a (not a classifier)' if top1 is None else f'{top1:.4f}'} |"]
    if c.get("min_cosine") is not None:
        lines.append(f"| gate --min-cosine {c['min_cosine']:g} | "
                     f"{'passed' if c['passed'] else 'FAILED'} |")
    lines += ["", "## Layout", "",
              f"- input: ONNX {tuple(o['input']['shape'])} -> TFLite "
              f"{tuple(t['input']['shape'])}: {lay['input']}",
              f"- output: ONNX {tuple(o['output']['shape'])} -> TFLite "
              f"{tuple(t['output']['shape'])}: {lay['output']}",
              f"- calibration data: {cal['samples']} samples {tuple(cal['shape'])} from "
              f"{cal['source']} ({cal['used']} used), transposed the same way as the input"]
    if o["input"].get("shape_in_file"):
        lines.append(f"- input shape fixed from {tuple(o['input']['shape_in_file'])} to "
                     f"{tuple(o['input']['shape'])}")
    lines += ["", "## Ops", "", "| | |", "|---|---|",
              f"| ONNX (opset {o['opset']}, {o['nodes']} nodes) | {ops(o['ops'])} |",
              f"| int8 TFLite ({t['bytes']:,} bytes) | {ops(t['ops'])} |",
              "", f"int8 input: scale {t['input']['scale']:.6g}, zero point "
                  f"{t['input']['zero_point']}; output: scale {t['output']['scale']:.6g}, "
                  f"zero point {t['output']['zero_point']}", "",
              "Times (s): " + ", ".join(f"{k} {v}" for k, v in c["seconds"].items()),
              "", "Tools: " + ", ".join(f"{k} {v}" for k, v in c["tools"].items())]
    return "\n".join(lines) + "\n"
