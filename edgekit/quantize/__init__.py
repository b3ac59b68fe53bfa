"""Int8 post-training quantisation and evaluation of TFLite models.

Importing this package does not import TensorFlow; :func:`quantize_int8`
imports it when called.
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
from edgekit.quantize.int8 import quantize_int8, representative_subset

__all__ = [
    "RUNTIMES",
    "input_quantization",
    "op_list",
    "output_quantization",
    "quantize_input",
    "quantize_int8",
    "representative_subset",
    "tflite_accuracy",
    "tflite_predict",
]
