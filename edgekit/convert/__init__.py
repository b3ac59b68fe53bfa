"""edgekit.convert: bring models from other frameworks (ONNX) to int8 TFLite."""

from edgekit.convert.onnx_import import (ConversionResult, check_onnx, convert_onnx,
                                         load_calibration, load_onnx)

__all__ = ["ConversionResult", "check_onnx", "convert_onnx", "load_calibration", "load_onnx"]
