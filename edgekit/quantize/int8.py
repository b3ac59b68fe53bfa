"""Full-integer int8 post-training quantisation of an in-memory Keras model.

:func:`quantize_int8` is a thin wrapper of
:func:`edgekit.quantize.convert.quantize_model` (the one converter), with
the argument checks and the seeded random calibration draw the build,
budget, sizing and compression paths use.
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import DataError, ModelError
from edgekit.quantize.convert import quantize_model, representative_subset

__all__ = ["quantize_int8", "representative_subset"]


def quantize_int8(model, representative, *, num_samples: int = 300, seed: int = 0,
                  input_range=None) -> bytes:
    """Convert a Keras model to a full-integer int8 TFLite flatbuffer.

    The model is wrapped in a functional model whose input has a static
    batch size of 1, so every tensor in the TFLite graph has a static shape.  Weights are
    quantised per channel (TFLite's default), activations per tensor with
    ranges calibrated on ``representative``; the graph input and output are
    int8 and only ``TFLITE_BUILTINS_INT8`` kernels are allowed.  In a model
    with spiking :class:`edgekit.models.spiking.LIF` layers, each tensor of
    the unrolled LIF steps is then quantised alike at every step
    (:func:`edgekit.quantize.passes.unify_lif_quantization.unify_lif_quantization`),
    as the streaming form's one membrane state needs to compute the same steps.
    The bytes are those of ``quantize_model(model, representative,
    num_samples=num_samples, sampling="random", seed=seed).tflite``.

    Parameters
    ----------
    model : keras.Model
        Float model with one input ``(batch, *example_shape)`` and one output.
    representative : numpy.ndarray
        Calibration examples ``(N, *example_shape)``, drawn from the training
        split (never the test split).
    num_samples : int
        Number of calibration examples used (a seeded random subset of
        ``representative`` when it holds more, :func:`representative_subset`).
    seed : int
        Seed of that subset.
    input_range : (float, float), optional
        The model input's fixed float range (see
        :func:`edgekit.quantize.convert.quantize_model`).

    Returns
    -------
    bytes
        The ``.tflite`` flatbuffer.

    Raises
    ------
    DataError
        If ``representative`` is empty, non-finite or of the wrong shape.
    ModelError
        If the model cannot be traced or converted to pure int8 kernels.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise DataError(f"num_samples must be > 0 (got {num_samples})")
    try:
        example_shape = tuple(int(d) for d in model.input_shape[1:])
    except (AttributeError, TypeError) as exc:
        raise ModelError(
            f"expected a Keras model with one fixed-shape input (got {type(model).__name__})"
        ) from exc
    rep = np.asarray(representative)
    if rep.ndim != len(example_shape) + 1 or tuple(rep.shape[1:]) != example_shape:
        raise DataError(
            f"representative data must have shape (N, {', '.join(map(str, example_shape))}) "
            f"to match the model input (got {rep.shape})"
        )
    if len(rep) == 0:
        raise DataError("representative data is empty")
    if not np.issubdtype(rep.dtype, np.number):
        raise DataError(f"representative data must be numeric (got dtype {rep.dtype})")
    rep = rep.astype(np.float32)
    if not np.all(np.isfinite(rep)):
        raise DataError("representative data contains NaN or infinite values")
    return quantize_model(model, rep, num_samples=num_samples, sampling="random",
                          seed=seed, input_range=input_range).tflite
