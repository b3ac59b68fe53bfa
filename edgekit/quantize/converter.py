"""The one place edgekit runs TensorFlow's TFLite converter and the int8 passes.

:func:`run_converter` sets the full-integer options on a
``tf.lite.TFLiteConverter`` (int8, or 16x8 with int16 activations) and
converts, quietly, turning the converter's errors into :class:`ModelError`.
:func:`apply_int8_passes` applies the flatbuffer passes every int8 window
model gets (:mod:`edgekit.quantize.passes`): today the LIF unification for
a model with spiking layers.  Both are called by
:func:`edgekit.quantize.convert.quantize_model`, the converter every entry
point uses (:func:`edgekit.quantize.quantize_int8` is a thin wrapper of it),
so the same Keras model and calibration give the same bytes whichever way
they are converted; the streaming export
(:mod:`edgekit.quantize.streaming`) uses :func:`run_converter` too.
"""

from __future__ import annotations

import contextlib
import io
import warnings

from edgekit.errors import ConfigError, ModelError
from edgekit.quiet import filtered_stderr

__all__ = ["ACTIVATIONS", "MIN_INT16_SCALE", "apply_int8_passes", "check_int16_ranges", "has_lif",
           "run_converter"]

#: Activation types of a full-integer model (``"int16"``: the 16x8 mode).
ACTIVATIONS = ("int8", "int16")


def run_converter(converter, representative_dataset=None, activations: str = "int8", *,
                  what: str = "TFLite") -> bytes:
    """Convert with full-integer quantisation (or float, without calibration).

    Parameters
    ----------
    converter : tf.lite.TFLiteConverter
        A converter of the float model (from a Keras model, a concrete
        function or a SavedModel).
    representative_dataset : callable, optional
        A generator function yielding calibration inputs, as TFLite's
        ``representative_dataset``.  None: a float32 model (no quantisation).
    activations : {"int8", "int16"}
        ``"int8"``: int8 weights per channel, int8 activations
        (``TFLITE_BUILTINS_INT8``), int8 input and output; ``"int16"``: the
        16x8 mode (int8 weights, int16 activations, input and output).
    what : str
        What is converted (names it in the error message).

    Returns
    -------
    bytes
        The ``.tflite`` flatbuffer.

    Raises
    ------
    ConfigError
        If ``activations`` is unknown.
    ModelError
        If the converter fails (its first message line is repeated).
    """
    import tensorflow as tf  # noqa: PLC0415

    if representative_dataset is not None:
        if activations not in ACTIVATIONS:
            raise ConfigError(f"activations must be 'int8' or 'int16' (got {activations!r})")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        if activations == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            converter.inference_input_type = tf.int16
            converter.inference_output_type = tf.int16
    try:
        # Keras' export prints the traced signature to stdout and the
        # converter warns about input statistics it does not need.
        # The calibrator prints "fully_quantize: ..." from C++ (filtered_stderr).
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
                filtered_stderr():
            warnings.filterwarnings("ignore")
            return bytes(converter.convert())
    except Exception as exc:  # converter raises ConverterError, ValueError, RuntimeError...
        msg = str(exc).strip().splitlines()
        raise ModelError(f"{what} conversion failed: {msg[0] if msg else type(exc).__name__}") \
            from exc


#: Smallest scale of an int16 activation a 16x8 model may have: the converter
#: gives a tensor that calibration never moved from 0 a scale near 1e-43.
MIN_INT16_SCALE = 1e-20


def check_int16_ranges(tflite: bytes) -> None:
    """Refuse a 16x8 model with an activation that calibration never reached.

    In the 16x8 mode an activation whose calibration range is exactly zero
    (e.g. the spikes of a LIF layer that never fired on the calibration
    data) gets a scale of about 1e-43, and LiteRT and TFLM then refuse the
    ops that use it; this names the first such tensor instead.

    Parameters
    ----------
    tflite : bytes
        A 16x8 ``.tflite``.

    Raises
    ------
    ModelError
        Naming the tensor, its scale and what to do.
    """
    from edgekit.quantize.passes.graph import load_model  # noqa: PLC0415

    model = load_model(tflite)
    int16_type = 7                                # TensorType.INT16
    for sg in model.subgraphs:
        for i, t in enumerate(sg.tensors):
            q = t.quantization
            if t.type != int16_type or q is None or q.scale is None or not len(q.scale):
                continue
            scale = float(min(q.scale))
            if scale < MIN_INT16_SCALE:
                name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
                raise ModelError(
                    f"16x8 calibration gave int16 tensor {i} ({name!r}) the scale {scale:.3g}: "
                    "its values were 0 on every calibration example; calibrate with examples "
                    "that reach it (real data, or a larger input range)")


def has_lif(model) -> bool:
    """Whether ``model`` (or a model nested in it) has a spiking LIF layer.

    Parameters
    ----------
    model : keras.Model or None
        The float model (None: a model without Keras layers, e.g. a SavedModel).

    Returns
    -------
    bool
        True if any layer is an :class:`edgekit.models.spiking.LIF`.
    """
    from edgekit.models import spiking  # noqa: PLC0415

    lif = spiking.LIF
    stack = list(getattr(model, "layers", None) or [])
    while stack:
        layer = stack.pop()
        if isinstance(layer, lif):
            return True
        stack.extend(getattr(layer, "layers", None) or [])
    return False


def apply_int8_passes(tflite: bytes, keras_model=None) -> tuple[bytes, list[str]]:
    """The flatbuffer passes every int8 model converted from ``keras_model`` gets.

    A model with spiking LIF layers (:func:`has_lif`) gets
    :func:`~edgekit.quantize.passes.unify_lif_quantization.unify_lif_quantization`:
    each LIF tensor is quantised alike at every unrolled step, spikes
    exactly 0/1, as the streaming form's one membrane state needs.  Other
    models are returned unchanged.

    Parameters
    ----------
    tflite : bytes
        An int8 ``.tflite`` straight from :func:`run_converter`.
    keras_model : keras.Model, optional
        The float model it was converted from (None: no Keras layers).

    Returns
    -------
    bytes
        The flatbuffer after the passes.
    list of str
        Names of the passes applied.
    """
    applied = []
    if has_lif(keras_model):
        from edgekit.quantize.passes.unify_lif_quantization import (  # noqa: PLC0415
            unify_lif_quantization,
        )

        tflite, _ = unify_lif_quantization(bytes(tflite))
        applied.append("unify_lif_quantization")
    return bytes(tflite), applied
