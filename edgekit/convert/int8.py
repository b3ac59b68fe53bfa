"""Post-training full-int8 quantization of the TensorFlow graph onnx2tf made.

``TFLITE_BUILTINS_INT8``, int8 input and output, batch 1, calibrated on up
to :data:`CALIB_SAMPLES` samples.
"""

from __future__ import annotations

import numpy as np

from edgekit.convert.onnx_to_tf import quiet_prints
from edgekit.errors import ModelError
from edgekit.quiet import filtered_stderr

__all__ = ["CALIB_SAMPLES", "io_quant", "quantize_tf"]

CALIB_SAMPLES = 300          # samples used to calibrate activation ranges


def quantize_tf(cf, km, samples: np.ndarray, seed: int = 0) -> bytes:
    """Full-int8 TFLite of a float TF concrete function, calibrated on ``samples``.

    The converter call is TensorFlow's ``TFLiteConverter.from_concrete_functions``
    (onnx2tf's graph -> TFLite).

    Parameters
    ----------
    cf : tensorflow ConcreteFunction
        The float model (:func:`edgekit.convert.onnx_to_tf.float_tf`).
    km : tf_keras.Model
        The model ``cf`` traces (the converter keeps its variables alive).
    samples : numpy.ndarray
        Calibration samples in the TF layout; up to :data:`CALIB_SAMPLES` of
        them, picked with ``seed``, calibrate the activation ranges.
    seed : int
        Seed of the calibration subset.

    Returns
    -------
    bytes
        The int8 ``.tflite`` flatbuffer (int8 input and output).

    Raises
    ------
    ModelError
        If the converter fails; the message repeats its first error line.
    """
    import tensorflow as tf  # noqa: PLC0415

    n = min(CALIB_SAMPLES, len(samples))
    idx = np.sort(np.random.default_rng(seed).permutation(len(samples))[:n])
    rep = samples[idx]

    def _gen():
        for i in range(len(rep)):
            yield [rep[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([cf], km)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    try:
        with quiet_prints(), filtered_stderr():    # the calibrator printf()s to fd 2
            fb = conv.convert()
    except Exception as e:  # ConverterError, ValueError, RuntimeError
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        hits = [ln for ln in lines if "error:" in ln.lower() or "not supported" in ln.lower()]
        raise ModelError("int8 TFLite conversion failed: "
                         + ((hits or lines or [type(e).__name__])[0])[:300]) from None
    return bytes(fb)


def io_quant(graph, which: str):
    """The input or output tensor of ``graph`` with its scale and zero point.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph
        The graph read from the int8 model.
    which : {"input", "output"}
        Which end of the graph.

    Returns
    -------
    tuple
        ``(tensor, scale, zero_point)``; scale and zero point are ``None``
        when the tensor is not quantized.
    """
    t = graph.tensors[(graph.inputs if which == "input" else graph.outputs)[0]]
    if not len(t.scale):
        return t, None, None
    return t, t.s, t.zp

