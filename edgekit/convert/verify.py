"""Verification of a converted model: onnxruntime (float) against tflite_micro (int8)."""

from __future__ import annotations

import numpy as np

from edgekit.convert.onnx_check import OnnxInfo
from edgekit.errors import ModelError

__all__ = ["VERIFY_SAMPLES", "agreement", "onnxruntime_outputs", "tflm_dequantized"]

VERIFY_SAMPLES = 500         # samples compared against onnxruntime


def onnxruntime_outputs(info: OnnxInfo, x: np.ndarray, source) -> tuple[np.ndarray, np.ndarray]:
    """The verification samples and the ONNX model's float outputs for them (onnxruntime).

    Parameters
    ----------
    info : OnnxInfo
        The checked model (static shapes).
    x : numpy.ndarray
        Calibration samples ``(N, *input_shape[1:])``, ONNX layout.
    source : str or Path
        How to name the model in an error.

    Returns
    -------
    xv : numpy.ndarray
        Up to :data:`VERIFY_SAMPLES` of ``x`` (a fixed random subset, in order).
    ref : numpy.ndarray
        onnxruntime's outputs ``(len(xv), *output_shape[1:])``.

    Raises
    ------
    ModelError
        If onnxruntime cannot load the model.
    """
    import onnxruntime as ort  # noqa: PLC0415

    try:
        sess = ort.InferenceSession(info.model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  onnxruntime's own exception types
        raise ModelError(f"onnxruntime cannot load {source}: "
                         f"{str(e).splitlines()[0][:300]}") from None
    nv = min(VERIFY_SAMPLES, len(x))
    xv = x[np.sort(np.random.default_rng(1).permutation(len(x))[:nv])]
    ref = np.concatenate([sess.run(None, {info.input_name: xv[i:i + 1]})[0]
                          .reshape(info.output_shape) for i in range(nv)])
    return xv, ref


def tflm_dequantized(tflite: bytes, xq: np.ndarray, out_shape, out_scale: float,
                     out_zp: int) -> np.ndarray:
    """Run int8 inputs through tflite_micro and dequantize the outputs.

    Parameters
    ----------
    tflite : bytes
        The int8 model.
    xq : numpy.ndarray
        int8 inputs ``(N, ...)`` in the TFLite layout.
    out_shape : sequence of int
        The TFLite output shape (batch 1).
    out_scale, out_zp : float, int
        The output quantization.

    Returns
    -------
    numpy.ndarray
        float32 outputs ``(N, *out_shape[1:])``.
    """
    from edgekit.reference import run_tflm  # noqa: PLC0415

    yq = run_tflm(tflite, xq).reshape((len(xq), *tuple(out_shape)[1:]))
    return (yq.astype(np.float32) - out_zp) * out_scale


def agreement(ref: np.ndarray, got: np.ndarray, classifier: bool) -> dict:
    """Cosine similarity, abs errors and top-1 agreement of ``got`` against ``ref``.

    Parameters
    ----------
    ref, got : numpy.ndarray
        Reference and candidate outputs ``(N, ...)`` (same layout).
    classifier : bool
        Whether to report top-1 agreement (else it is ``None``).

    Returns
    -------
    dict
        ``cosine``, ``cosine_min``, ``max_abs_error``, ``mean_abs_error``,
        ``output_abs_max`` and ``top1_agreement``, rounded to 6 digits.
    """
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    got = got.reshape(len(got), -1).astype(np.float64)
    num = (ref * got).sum(1)
    den = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cos = np.where(den > 0, num / np.maximum(den, 1e-30),
                   np.where(np.abs(ref - got).max(axis=1) == 0, 1.0, 0.0))
    err = np.abs(ref - got)
    out = {
        "cosine": round(float(cos.mean()), 6),
        "cosine_min": round(float(cos.min()), 6),
        "max_abs_error": round(float(err.max()), 6),
        "mean_abs_error": round(float(err.mean()), 6),
        "output_abs_max": round(float(np.abs(ref).max()), 6),
        "top1_agreement": (round(float((ref.argmax(1) == got.argmax(1)).mean()), 6)
                           if classifier else None),
    }
    return out

