"""Int8 post-training quantisation and evaluation of TFLite models.

:func:`quantize_model` is the one converter (Keras / SavedModel -> int8 or
16x8 TFLite, then the int8 flatbuffer passes of :mod:`edgekit.quantize.passes`);
:func:`quantize_int8` is its thin wrapper for in-memory Keras models.  The
streaming export is :mod:`edgekit.quantize.streaming`.

Importing this package does not import TensorFlow; the converters import it
when called.
"""

from edgekit.quantize.evaluate import (
    RUNTIMES,
    input_quantization,
    op_list,
    output_quantization,
    quantize_input,
    tflite_accuracy,
    tflite_predict,
)
from edgekit.quantize.convert import quantize_model
from edgekit.quantize.int8 import quantize_int8, representative_subset

__all__ = [
    "RUNTIMES",
    "input_quantization",
    "op_list",
    "output_quantization",
    "quantize_input",
    "quantize_int8",
    "quantize_model",
    "representative_subset",
    "tflite_accuracy",
    "tflite_predict",
]
