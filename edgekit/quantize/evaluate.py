"""Run and inspect int8 TFLite models with LiteRT or TFLite Micro."""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError, DataError, ModelError, TFLiteFormatError

__all__ = [
    "RUNTIMES",
    "input_quantization",
    "output_quantization",
    "quantize_input",
    "op_list",
    "tflite_predict",
    "tflite_accuracy",
]

#: Interpreters :func:`tflite_predict` can use.
RUNTIMES = ("litert", "tflm")


def _model(tflite_bytes):
    """Parse the flatbuffer's root ``Model`` table, checking the magic."""
    from ai_edge_litert import schema_py_generated as schema

    if not isinstance(tflite_bytes, (bytes, bytearray, memoryview)):
        raise ModelError(f"expected TFLite flatbuffer bytes (got {type(tflite_bytes).__name__})")
    buf = bytes(tflite_bytes)
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise TFLiteFormatError("not a TFLite flatbuffer (missing 'TFL3' identifier)")
    try:
        model = schema.Model.GetRootAs(buf, 0)
        if model.SubgraphsLength() < 1:
            raise TFLiteFormatError("TFLite model has no subgraph")
    except TFLiteFormatError:
        raise
    except Exception as exc:  # flatbuffers raises struct.error / IndexError
        raise TFLiteFormatError(f"malformed TFLite flatbuffer: {exc}") from exc
    return model, schema


def _tensor_quantization(tflite_bytes, which: str) -> tuple[float, int]:
    model, _ = _model(tflite_bytes)
    try:
        graph = model.Subgraphs(0)
        index = graph.Inputs(0) if which == "input" else graph.Outputs(0)
        quant = graph.Tensors(index).Quantization()
        if quant is None or quant.ScaleLength() != 1 or quant.ZeroPointLength() != 1:
            raise ModelError(f"the model {which} is not per-tensor quantised")
        return float(quant.Scale(0)), int(quant.ZeroPoint(0))
    except ModelError:
        raise
    except Exception as exc:
        raise TFLiteFormatError(f"malformed TFLite flatbuffer: {exc}") from exc


def input_quantization(tflite_bytes) -> tuple[float, int]:
    """Scale and zero point of the first input tensor.

    Parameters
    ----------
    tflite_bytes : bytes
        A quantised ``.tflite`` flatbuffer.

    Returns
    -------
    tuple of (float, int)
        ``(scale, zero_point)`` with ``real = scale * (q - zero_point)``.

    Raises
    ------
    ModelError
        If the input is not per-tensor quantised or the bytes are not TFLite.
    """
    return _tensor_quantization(tflite_bytes, "input")


def output_quantization(tflite_bytes) -> tuple[float, int]:
    """Scale and zero point of the first output tensor (see :func:`input_quantization`)."""
    return _tensor_quantization(tflite_bytes, "output")


def quantize_input(x, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """Quantise float features: ``clip(round(x / scale) + zero_point)`` to ``dtype``'s range.

    The one input quantisation of edgekit (builds, streaming, ONNX
    conversion, SQNR diagnostics).

    Parameters
    ----------
    x : array_like
        Float features.
    scale : float
        Quantisation scale (> 0).
    zero_point : int
        Zero point in ``dtype``'s range.
    dtype : numpy dtype
        ``np.int8`` (default) or ``np.int16`` (16x8 models).

    Returns
    -------
    numpy.ndarray
        ``dtype`` array of the same shape as ``x``.
    """
    if not scale > 0:
        raise ModelError(f"quantisation scale must be > 0 (got {scale})")
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, dtype=np.float32) / np.float32(scale)) + int(zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def op_list(tflite_bytes) -> list[str]:
    """Builtin operator names of the main subgraph, in execution order.

    Parameters
    ----------
    tflite_bytes : bytes
        A ``.tflite`` flatbuffer.

    Returns
    -------
    list of str
        One name per operator (e.g. ``["RESHAPE", "CONV_2D", ...]``); custom
        operators appear as ``"CUSTOM:<name>"``.

    Raises
    ------
    TFLiteFormatError
        If the bytes are not a readable TFLite flatbuffer.
    """
    from edgekit.tflite_ops import builtin_op_name  # noqa: PLC0415

    model, _ = _model(tflite_bytes)
    try:
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
            name = builtin_op_name(code)
            if name == "CUSTOM":
                custom = oc.CustomCode()
                name = "CUSTOM:" + (custom.decode() if custom else "?")
            codes.append(name)
        graph = model.Subgraphs(0)
        return [codes[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength())]
    except Exception as exc:
        raise TFLiteFormatError(f"malformed TFLite flatbuffer: {exc}") from exc


def tflite_predict(tflite_bytes, x, runtime: str = "litert") -> np.ndarray:
    """Run a single-input int8 TFLite classifier on float examples.

    Each example is quantised with the input tensor's scale and zero point
    and run with batch size 1.

    Parameters
    ----------
    tflite_bytes : bytes
        Full-integer ``.tflite`` flatbuffer with a batch-1 input.
    x : numpy.ndarray
        Float examples ``(N, *input_shape[1:])``.
    runtime : {"litert", "tflm"}
        ``"litert"`` uses the LiteRT (TFLite) interpreter, ``"tflm"`` the
        TFLite Micro reference kernels.

    Returns
    -------
    numpy.ndarray
        Raw int8 outputs, shape ``(N, num_outputs)``.

    Raises
    ------
    ConfigError
        If ``runtime`` is unknown.
    DataError
        If ``x`` does not match the model input.
    ModelError
        If the model cannot be loaded by the runtime.
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}; available: {', '.join(RUNTIMES)}")
    scale, zp = input_quantization(tflite_bytes)
    x = np.asarray(x)
    from edgekit.reference import litert_interpreter, tflm_interpreter  # noqa: PLC0415

    if runtime == "litert":
        interp = litert_interpreter(tflite_bytes)
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        shape = tuple(int(d) for d in inp["shape"])

        def run(example):
            interp.reset_all_variables()      # an LSTM's state: from zero at every example
            interp.set_tensor(inp["index"], example)
            interp.invoke()
            return interp.get_tensor(out["index"]).reshape(-1)
    else:
        interp = tflm_interpreter(tflite_bytes)
        shape = tuple(int(d) for d in interp.get_input_details(0)["shape"])

        def run(example):
            interp.reset()                    # an LSTM's state: from zero at every example
            interp.set_input(example, 0)
            interp.invoke()
            return np.array(interp.get_output(0)).reshape(-1)

    if shape[0] != 1 or x.ndim != len(shape) or tuple(x.shape[1:]) != shape[1:]:
        raise DataError(
            f"examples must have shape (N, {', '.join(map(str, shape[1:]))}) "
            f"to match the model input {shape} (got {x.shape})"
        )
    q = quantize_input(x, scale, zp)
    return np.stack([run(q[i : i + 1]) for i in range(len(q))]) if len(q) else np.zeros((0, 0), np.int8)


def tflite_accuracy(tflite_bytes, x, y, runtime: str = "litert") -> float:
    """Top-1 accuracy of an int8 TFLite classifier on float examples.

    Parameters
    ----------
    tflite_bytes : bytes
        Full-integer ``.tflite`` flatbuffer.
    x : numpy.ndarray
        Float examples ``(N, ...)``, quantised with the input scale/zero point.
    y : numpy.ndarray
        Integer labels ``(N,)``.
    runtime : {"litert", "tflm"}
        Interpreter to use (see :func:`tflite_predict`).

    Returns
    -------
    float
        Fraction of examples whose arg-max output equals the label.
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x) or len(y) == 0:
        raise DataError(f"labels must have shape ({len(x)},) and be non-empty (got {y.shape})")
    out = tflite_predict(tflite_bytes, x, runtime)
    return float(np.mean(np.argmax(out, axis=-1) == y))
