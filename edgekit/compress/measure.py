"""Measure a compression step the way it matters on the device.

:func:`measure` quantizes a Keras model to int8 (the same
:func:`edgekit.quantize.quantize_int8` the build uses), generates the C
code and reports the bytes of constant data (weights and biases) the
generated firmware carries, next to the Keras parameter count, the MACs and
the float and int8 (tflite_micro) test accuracy.
"""

from __future__ import annotations

import tempfile

import numpy as np

__all__ = ["measure", "weight_flash_bytes", "nonzero_per_tensor"]


def weight_flash_bytes(tflite: bytes) -> int:
    """Bytes of constant tensors in edgekit's generated C for ``tflite``."""
    from edgekit.firmware_export import generate, read_tflite

    with tempfile.TemporaryDirectory(prefix="ek_measure_") as tmp:
        return int(generate(read_tflite(bytes(tflite)), tmp).weight_bytes)


def nonzero_per_tensor(tflite: bytes) -> list[dict]:
    """Nonzero count of every constant int8 weight tensor of an int8 model.

    For a quantized weight, "zero" is the zero point (0 for TFLite's
    symmetric int8 weights).
    """
    from edgekit.firmware_export import read_tflite

    graph = read_tflite(bytes(tflite))
    rows, seen = [], set()
    for op in graph.operators:
        for t in op.inputs:
            if t < 0 or t in seen:
                continue
            ten = graph.tensors[t]
            if not ten.is_const or ten.dtype != "int8":
                continue
            seen.add(t)
            data = np.asarray(ten.data).reshape(-1)
            rows.append({"tensor": ten.name, "op": op.opcode, "elements": int(data.size),
                         "nonzero": int(np.count_nonzero(data)), "bytes": int(ten.nbytes)})
    return rows


def measure(model, x_calib, x_test=None, y_test=None, *, num_samples: int = 300, seed: int = 0,
            tflite: bytes | None = None, input_range=None) -> dict:
    """Params, MACs, int8 weight flash bytes and accuracy of a Keras model.

    Returns ``{"params", "macs", "weight_flash_bytes", "tflite_bytes",
    "float_accuracy", "int8_accuracy"}`` (accuracies only with test data)
    and the int8 flatbuffer under ``"_tflite"`` (dropped from reports).
    ``input_range``: the input's fixed float range, when the features come
    quantized from the front end (:func:`edgekit.quantize.int8.quantize_int8`).
    """
    from edgekit.models.registry import count_macs, count_params
    from edgekit.quantize.evaluate import tflite_accuracy
    from edgekit.quantize.int8 import quantize_int8

    from edgekit.compress.fit import accuracy

    if tflite is None:
        tflite = quantize_int8(model, x_calib, num_samples=num_samples, seed=seed,
                               input_range=input_range)
    row = {"params": count_params(model), "macs": count_macs(model),
           "weight_flash_bytes": weight_flash_bytes(tflite), "tflite_bytes": len(tflite)}
    if x_test is not None:
        row["float_accuracy"] = round(accuracy(model, x_test, y_test), 4)
        row["int8_accuracy"] = round(tflite_accuracy(tflite, x_test, y_test, runtime="tflm"), 4)
    row["_tflite"] = tflite
    return row
