"""``edgekit quantize``: float model -> int8 (or 16x8) TFLite with a diagnostics report.

:func:`quantize_file` quantizes (see :func:`edgekit.quantize.convert.quantize_model`),
checks the result loads and runs in tflite_micro, measures the per-layer
SQNR against the float model (:func:`edgekit.quantize.diagnostics.layer_sqnr`)
and, when the calibration comes from FSDD and the model fits its features,
the float vs int8 test accuracy.  It writes ``model.tflite`` (or the given
``.tflite`` path) and ``quantize.json`` / ``quantize.md`` beside it, only
after everything succeeded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError
from edgekit.outputs import atomic_file

__all__ = ["QuantizeFileResult", "quantize_file", "render_sqnr"]


@dataclass
class QuantizeFileResult:
    tflite_path: Path
    report: dict
    text: str


def render_sqnr(q: dict) -> str:
    """Markdown of a quantization report (mode, accuracy, per-layer SQNR)."""
    cal = q.get("calibration", {})
    lines = [f"- source: {q.get('source')} ({q.get('source_kind')})",
             f"- mode {q.get('mode')}: weights {q.get('weights')}, activations "
             f"{q.get('activations')}; calibration {cal.get('samples')} {cal.get('kind')} "
             f"examples ({cal.get('sampling')})",
             f"- ops: {', '.join(q.get('ops', []))}"]
    if "int8_accuracy" in q:
        lines.append(f"- test accuracy: float {q['float_accuracy']:.4f}, quantized "
                     f"{q['int8_accuracy']:.4f} (tflite_micro)")
    c = q.get("comparison")
    if c:
        lines.append(f"- vs reference: same ops (RESHAPE aside) {c['same_ops_except_reshape']}, "
                     f"input scale x{c['input_scale_ratio']}, output quantization "
                     f"{c['output_quantization']} vs {c['reference_output_quantization']}, "
                     "op output scales x" + ", x".join(str(r["ratio"])
                                                       for r in c["op_output_scale_ratios"]))
    lines.append(f"- worst layers: {', '.join(q.get('worst', []))}")
    lines += [f"- **warning**: {w}" for w in q.get("warnings", [])]
    lines.append(f"- input quantization SQNR: {q.get('input_sqnr_db')} dB")
    lines += ["", f"| # | op | layers | SQNR dB (threshold {q.get('threshold_db')}) | "
              "drop dB | |", "|---|---|---|---|---|---|"]
    for r in q.get("layers", []):
        names = "/".join(r.get("layers") or []) or r.get("tensor", "")[:60]
        lines.append(f"| {r['index']} | {r['op']} | {names} | {r['sqnr_db']:.1f} | "
                     f"{r.get('drop_db', 0):.1f} | {'LOW' if r.get('warn') else ''} |")
    return "\n".join(lines)


def quantize_file(model, *, out="model.tflite", calib="fsdd", data=None, num_samples: int = 300,
                  sampling: str = "random", seed: int = 0, activations: str = "int8",
                  sqnr_threshold_db: float | None = None, sqnr_samples: int = 32,
                  compare=None) -> QuantizeFileResult:
    """Quantize ``model`` (Keras file, SavedModel dir, edgekit model dir).

    ``calib``: ``"fsdd"`` (the FSDD train split, features of the dataset
    loader), ``"random"`` / ``"mfcc"`` (synthetic), or a ``.npy``/``.npz``
    file of examples ``(N, *input_shape)``.  ``compare``: a reference int8
    ``.tflite`` of the same network (op list and scales compared).
    """
    from edgekit.quantize.convert import compare_quantized, float_tflite, quantize_model
    from edgekit.quantize.diagnostics import DEFAULT_THRESHOLD_DB, layer_sqnr
    from edgekit.reference import run_tflm

    out = Path(os.fspath(out))
    if out.is_dir() or not out.suffix:
        out = out / "model.tflite"
    if out.suffix != ".tflite":
        raise ConfigError(f"--out must be a .tflite file or a directory (got {out})")
    ref = None
    if compare is not None:
        from edgekit.quantize.evaluate import op_list

        try:
            ref = Path(os.fspath(compare)).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read --compare {compare}: {exc.strerror or exc}") from None
        op_list(ref)           # TFLiteFormatError if it is not a .tflite
    labels, ds = None, None
    if calib == "fsdd":
        from edgekit.data import load_fsdd, resolve_data_root

        ds = load_fsdd(resolve_data_root("fsdd", data))
        calibration, labels = ds.x_train, ds.y_train
    else:
        calibration = calib
    res = quantize_model(model, calibration, num_samples=num_samples, sampling=sampling,
                         seed=seed, labels=labels, activations=activations)
    rep = dict(res.report)
    # runs in tflite_micro (the reference the generated C is checked against)
    probe = np.zeros((1, *rep["input"]["shape"][1:]), dtype=rep["input"]["dtype"])
    run_tflm(res.tflite, probe)
    if ds is not None and tuple(res.float_model.input_shape) == tuple(ds.input_shape):
        from edgekit.quantize.evaluate import tflite_accuracy

        fp = res.float_model.predict(ds.x_test)
        rep["float_accuracy"] = round(float(np.mean(np.argmax(fp, -1) == ds.y_test)), 4)
        if activations == "int8":
            rep["int8_accuracy"] = round(tflite_accuracy(res.tflite, ds.x_test, ds.y_test,
                                                         runtime="tflm"), 4)
    thr = DEFAULT_THRESHOLD_DB if sqnr_threshold_db is None else float(sqnr_threshold_db)
    rep.update(layer_sqnr(float_tflite(res.float_model), res.tflite, res.calibration,
                          threshold_db=thr, max_samples=sqnr_samples,
                          **res.float_model.names()))
    if ref is not None:
        rep["comparison"] = compare_quantized(res.tflite, ref)
    text = render_sqnr(rep)
    atomic_file(out, res.tflite)
    atomic_file(out.parent / "quantize.json", json.dumps(rep, indent=2) + "\n")
    atomic_file(out.parent / "quantize.md", f"# edgekit quantize\n\n{text}\n")
    return QuantizeFileResult(tflite_path=out, report=rep, text=text)
