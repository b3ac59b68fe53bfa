"""Full-integer int8 post-training quantisation to a TFLite flatbuffer."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from edgekit.errors import DataError, ModelError

__all__ = ["quantize_int8", "representative_subset"]


def representative_subset(x, num_samples: int, seed: int = 0) -> np.ndarray:
    """Draw a reproducible random subset of calibration examples.

    Parameters
    ----------
    x : numpy.ndarray
        Candidate examples (normally the training split).
    num_samples : int
        How many to draw; all of ``x`` if it holds fewer.
    seed : int
        Seed of the draw.

    Returns
    -------
    numpy.ndarray
        ``min(num_samples, len(x))`` examples as float32, in a random order.
    """
    x = np.asarray(x, dtype=np.float32)
    n = min(int(num_samples), len(x))
    idx = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[np.sort(idx)]


def quantize_int8(model, representative, *, num_samples: int = 300, seed: int = 0) -> bytes:
    """Convert a Keras model to a full-integer int8 TFLite flatbuffer.

    The model is wrapped in a functional model whose input has a static
    batch size of 1, so every tensor in the TFLite graph has a static shape.  Weights are
    quantised per channel (TFLite's default), activations per tensor with
    ranges calibrated on ``representative``; the graph input and output are
    int8 and only ``TFLITE_BUILTINS_INT8`` kernels are allowed.  In a model
    with spiking :class:`edgekit.models.spiking.LIF` layers, each tensor of
    the unrolled LIF steps is then quantised alike at every step
    (:func:`edgekit.models.spiking_int8.unify_lif_quantization`), as the
    streaming form's one membrane state needs to compute the same steps.

    Parameters
    ----------
    model : keras.Model
        Float model with one input ``(batch, *example_shape)`` and one output.
    representative : numpy.ndarray
        Calibration examples ``(N, *example_shape)``, drawn from the training
        split (never the test split).
    num_samples : int
        Number of calibration examples used (a seeded random subset of
        ``representative`` when it holds more).
    seed : int
        Seed of that subset.

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
    rep = representative_subset(rep, num_samples, seed)

    import tensorflow as tf

    try:
        import keras

        inp = keras.Input(shape=example_shape, batch_size=1, name="input")
        batch1 = keras.Model(inp, model(inp, training=False), name=f"{model.name}_b1")
    except Exception as exc:  # tracing errors come in many types
        raise ModelError(f"cannot trace the model with input {(1, *example_shape)}: {exc}") from exc

    def _gen():
        for i in range(len(rep)):
            yield [rep[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(batch1)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _gen
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        # Keras' export prints the traced signature to stdout and the
        # converter warns about input statistics it does not need.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            flatbuffer = converter.convert()
    except Exception as exc:  # converter raises ConverterError, ValueError, RuntimeError...
        msg = str(exc).strip().splitlines()
        brief = msg[0] if msg else type(exc).__name__
        raise ModelError(f"int8 TFLite conversion failed: {brief}") from exc
    if _has_lif(model):
        from edgekit.models.spiking_int8 import unify_lif_quantization  # noqa: PLC0415

        flatbuffer, _ = unify_lif_quantization(bytes(flatbuffer))
    return bytes(flatbuffer)


def _has_lif(model) -> bool:
    """Whether ``model`` (or a model nested in it) has a spiking LIF layer."""
    from edgekit.models import spiking  # noqa: PLC0415

    lif = spiking.LIF
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        if isinstance(layer, lif):
            return True
        stack.extend(getattr(layer, "layers", []))
    return False
