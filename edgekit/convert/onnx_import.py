"""ONNX -> fully int8 TFLite that edgekit's generated C and TFLM run.

:func:`convert_onnx` is the library function behind ``edgekit convert`` (and
``edgekit build --model MODEL.onnx``):

0. rewrite what PyTorch's exporters leave in the graph
   (:func:`~edgekit.convert.onnx_simplify.simplify_onnx`: constant shape
   arithmetic folded, ``Gather`` with a constant index -> ``Slice``; listed
   in the report's ``onnx.rewrites``);
1. check the ONNX model before spending time on it: ``onnx.checker``, opset,
   one float input with a static shape (or ``input_shape`` to fix it), and
   every op by name (ops onnx2tf cannot convert, ops with no int8 kernel);
2. load the calibration samples (``.npy``/``.npz``, in the ONNX model's own
   layout: NCL, NCHW...) and check their shape;
3. ONNX -> TensorFlow with onnx2tf (channels-first inputs become
   channels-last; the layout is confirmed numerically against onnxruntime);
4. edgekit's own post-training int8 quantization of that TF graph
   (``TFLITE_BUILTINS_INT8``, int8 input and output, batch 1);
5. verify: the ONNX model in onnxruntime (float) against the int8 model in
   ``tflite_micro`` on the calibration samples: cosine similarity, max abs
   error of the dequantized outputs, top-1 agreement for classifiers;
6. write ``model.tflite``, ``report.json`` and ``report.md`` (only when every
   step succeeded, each file replaced atomically).

The steps live in :mod:`~edgekit.convert.onnx_check` (1, 2),
:mod:`~edgekit.convert.onnx_to_tf` and :mod:`~edgekit.convert.layout` (3),
:mod:`~edgekit.convert.int8` (4), :mod:`~edgekit.convert.verify` (5) and
:mod:`~edgekit.convert.report` (6); this module chains them.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.convert.int8 import CALIB_SAMPLES, io_quant, quantize_tf
from edgekit.convert.layout import layout_text, pick_layout
from edgekit.convert.onnx_check import (OnnxInfo, check_onnx, fmt_shape, load_calibration,
                                        load_onnx, parse_input_shape)
from edgekit.convert.onnx_simplify import simplify_onnx
from edgekit.convert.onnx_to_tf import float_tf, onnx_to_tf
from edgekit.convert.report import out_paths, render_markdown, tool_versions, write_outputs
from edgekit.convert.verify import agreement, onnxruntime_outputs, tflm_dequantized
from edgekit.errors import ConfigError, ModelError
from edgekit.log import Progress
from edgekit.quantize.evaluate import quantize_input

__all__ = ["ConversionResult", "OnnxInfo", "check_onnx", "convert_onnx", "load_calibration",
           "load_onnx", "parse_input_shape", "render_markdown"]


@dataclass
class ConversionResult:
    """The int8 model, the ``conversion`` report dict and the files written."""

    tflite: bytes
    report: dict
    inputs_int8: np.ndarray              # calibration samples, TFLite layout, quantized
    files: list[Path] = field(default_factory=list)


def convert_onnx(onnx_path, calib, out=None, input_shape=None, min_cosine=None,
                 progress: Progress | None = None) -> ConversionResult:
    """Convert an ONNX model to a fully int8 TFLite and verify it.

    Parameters
    ----------
    onnx_path : path
        The ``.onnx`` file (e.g. from ``torch.onnx.export``).
    calib : path or numpy.ndarray
        Calibration samples ``(N, *input_shape[1:])`` in the ONNX model's own
        layout (``.npy``, or ``.npz`` with one array / an array named after the
        input or ``x``).
    out : path, optional
        A ``.tflite`` path (``report.json``/``report.md`` are written beside
        it) or a directory (``model.tflite``, ``report.json``, ``report.md``
        in it).  ``None`` writes nothing.
    input_shape : str or sequence of int, optional
        Static input shape (batch 1) replacing dynamic dims, e.g. ``"1,10,49"``.
    min_cosine : float, optional
        Fail (:class:`ModelError`, nothing written) when the mean cosine
        similarity between onnxruntime and the int8 model is lower.

    Returns
    -------
    ConversionResult
        ``tflite`` bytes, ``report`` (the ``conversion`` dict), the quantized
        calibration inputs in TFLite layout, and the files written.
    """
    progress = progress or Progress()
    t0 = time.monotonic()
    if min_cosine is not None and not (-1.0 <= float(min_cosine) <= 1.0):
        raise ConfigError(f"--min-cosine must be in [-1, 1] (got {min_cosine})")
    onnx_path = Path(onnx_path)
    targets = out_paths(out) if out is not None else None

    progress.stage("check", f"{onnx_path}: onnx.checker, opset, input shape, ops")
    model = load_onnx(onnx_path)
    fixed_shape = parse_input_shape(input_shape)       # ConfigError before any rewriting
    model, rewrites = simplify_onnx(model, fixed_shape)
    info = check_onnx(model, input_shape, source=str(onnx_path))
    for note in rewrites:
        progress.info(note)
    progress.info(f"opset {info.opset}, input '{info.input_name}' "
                  f"{fmt_shape(info.input_shape)}, output {fmt_shape(info.output_shape)}, "
                  f"{sum(info.ops.values())} nodes: "
                  + ", ".join(f"{k} x{v}" for k, v in sorted(info.ops.items())))
    x = load_calibration(calib, info)
    progress.info(f"{len(x)} calibration samples {fmt_shape(x.shape)}")

    xv, ref = onnxruntime_outputs(info, x, onnx_path)
    nv = len(xv)
    t_check = time.monotonic() - t0

    progress.stage("onnx2tf", "ONNX -> TensorFlow")
    t1 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgekit-onnx2tf-") as work:
        km = onnx_to_tf(info, Path(work))
        tf_in = tuple(int(d) for d in km.inputs[0].shape)
        tf_out = tuple(int(d) if d is not None else 1 for d in km.outputs[0].shape)
        cf = float_tf(km, tf_in)
        in_perm, out_perm, float_err = pick_layout(info, cf, tf_in, tf_out, xv[:1], ref[:1])
        in_layout = layout_text(in_perm, len(in_perm))
        out_layout = layout_text(out_perm, len(out_perm))
        progress.info(f"input {fmt_shape(info.input_shape)} -> {fmt_shape(tf_in)}: "
                      f"{in_layout}; output {out_layout}; float TF vs onnxruntime max relative "
                      f"error {float_err:.2g}")
        t_tf = time.monotonic() - t1

        progress.stage("quantize", f"full int8, {min(CALIB_SAMPLES, len(x))} calibration "
                                   f"samples, {in_layout}"
                       if in_layout != "unchanged" else
                       f"full int8, {min(CALIB_SAMPLES, len(x))} calibration samples")
        t2 = time.monotonic()
        xt = np.ascontiguousarray(np.transpose(x, in_perm))
        tflite = quantize_tf(cf, km, xt)
        t_q = time.monotonic() - t2

    from edgekit.firmware_export import lower_graph, read_tflite  # noqa: PLC0415

    graph = read_tflite(tflite)
    lower_graph(graph)                                     # UnsupportedOpError names the ops
    tin, in_scale, in_zp = io_quant(graph, "input")
    tout, out_scale, out_zp = io_quant(graph, "output")
    if tin.dtype != "int8" or tout.dtype != "int8" or in_scale is None or out_scale is None:
        raise ModelError(f"the converted model is not fully int8 (input {tin.dtype}, output "
                         f"{tout.dtype})")

    progress.stage("verify", f"onnxruntime (float) vs tflite_micro (int8) on {nv} samples")
    t3 = time.monotonic()
    xq = quantize_input(xt, in_scale, in_zp)
    xvq = quantize_input(np.transpose(xv, in_perm), in_scale, in_zp)
    got = tflm_dequantized(tflite, xvq, tout.shape, out_scale, out_zp)
    ref_t = np.transpose(ref, out_perm)
    nontrivial = [d for d in info.output_shape[1:] if d > 1]
    classifier = len(nontrivial) == 1 and nontrivial[0] > 1
    agree = agreement(ref_t, got, classifier)
    t_v = time.monotonic() - t3
    top1 = agree["top1_agreement"]
    progress.info(f"cosine {agree['cosine']:.4f} (min {agree['cosine_min']:.4f}), max abs error "
                  f"{agree['max_abs_error']:.4g} (outputs up to {agree['output_abs_max']:.4g})"
                  + (f", top-1 agreement {top1:.4f}" if top1 is not None else ""))

    report = {
        "source": str(onnx_path),
        "onnx": {"opset": info.opset, "ir_version": int(info.model.ir_version),
                 "producer": info.producer,
                 "input": {"name": info.input_name, "shape": list(info.input_shape),
                           "shape_in_file": info.input_shape_fixed},
                 "output": {"name": info.output_name, "shape": list(info.output_shape)},
                 "nodes": int(sum(info.ops.values())), "ops": dict(sorted(info.ops.items())),
                 "rewrites": rewrites},
        "tflite": {"bytes": len(tflite), "ops": graph.op_counts(),
                   "input": {"shape": list(tin.shape), "dtype": "int8", "scale": in_scale,
                             "zero_point": in_zp},
                   "output": {"shape": list(tout.shape), "dtype": "int8", "scale": out_scale,
                              "zero_point": out_zp}},
        "layout": {"input": in_layout, "input_permutation": list(in_perm),
                   "output": out_layout, "output_permutation": list(out_perm),
                   "float_max_relative_error": float_err},
        "calibration": {"source": str(calib) if isinstance(calib, (str, Path)) else "array",
                        "samples": int(len(x)), "used": int(min(CALIB_SAMPLES, len(x))),
                        "shape": list(x.shape)},
        "verification": {"reference": "onnxruntime (float32)", "candidate":
                         "tflite_micro (int8, dequantized)", "samples": int(nv),
                         "classifier": classifier},
        **agree,
        "min_cosine": None if min_cosine is None else float(min_cosine),
        "passed": None if min_cosine is None else bool(agree["cosine"] >= float(min_cosine)),
        "seconds": {"check": round(t_check, 2), "onnx2tf": round(t_tf, 2),
                    "quantize": round(t_q, 2), "verify": round(t_v, 2),
                    "total": round(time.monotonic() - t0, 2)},
        "tools": tool_versions(),
    }
    if min_cosine is not None and not report["passed"]:
        raise ModelError(f"int8 model agrees with the ONNX model at cosine {agree['cosine']:.4f}"
                         f" < --min-cosine {float(min_cosine):g} (max abs error "
                         f"{agree['max_abs_error']:.4g}); nothing written")

    result = ConversionResult(tflite=tflite, report=report, inputs_int8=xq)
    if targets is not None:
        result.files = write_outputs(targets, tflite, report)
        progress.info("wrote " + ", ".join(str(p) for p in result.files))
    return result
