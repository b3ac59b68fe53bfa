"""ONNX -> TensorFlow with onnx2tf.

onnx2tf turns channels-first inputs into channels-last where it decides to;
:mod:`edgekit.convert.layout` confirms the layout numerically afterwards.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np

from edgekit.convert.onnx_check import SPATIAL_OPS, OnnxInfo
from edgekit.errors import ModelError

__all__ = ["channels_first_input", "float_tf", "onnx_to_tf", "quiet_prints"]


@contextlib.contextmanager
def quiet_prints():
    """Silence onnx2tf's and the TFLite converter's prints (Python level).

    Yields
    ------
    tuple of io.StringIO
        What was printed to ``sys.stdout`` and ``sys.stderr`` (for error messages).
    """
    with contextlib.redirect_stdout(io.StringIO()) as out, \
            contextlib.redirect_stderr(io.StringIO()) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield out, err


def _last_error_line(exc: BaseException, *texts: str) -> str:
    msg = str(exc).strip()
    if msg and not isinstance(exc, SystemExit):
        lines = [ln for ln in msg.splitlines() if ln.strip()]
        for ln in lines:
            if "Error" in ln or "must" in ln or "not" in ln:
                return ln.strip()[:300]
        return lines[0].strip()[:300]
    for text in texts:
        errs = [ln for ln in text.splitlines() if "ERROR" in ln]
        if errs:
            import re  # noqa: PLC0415
            return re.sub(r"\x1b\[[0-9;]*m", "", errs[0]).strip()[:300]
    return type(exc).__name__


def _import_onnx2tf():
    """Import onnx2tf, undoing the process-wide settings its import makes.

    Importing it sets ``TF_USE_LEGACY_KERAS=1`` (``tf.keras`` would become
    Keras 2 for the rest of the process), enables TF op determinism, seeds
    the global ``random``/``numpy``/TF generators and silences TF logging.
    onnx2tf itself uses ``tf_keras`` directly and needs none of that.
    """
    import logging  # noqa: PLC0415
    import random  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if "onnx2tf" in sys.modules:
        return sys.modules["onnx2tf"]
    env = {k: os.environ.get(k) for k in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL")}
    py_state, np_state = random.getstate(), np.random.get_state()
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow.python.framework import config as tf_config  # noqa: PLC0415

    determinism = tf_config.is_op_determinism_enabled()
    tf_level = tf.get_logger().level
    try:
        import onnx2tf  # noqa: PLC0415
    except Exception as e:  # noqa: BLE001  ImportError of one of its dependencies
        raise ModelError(f"onnx2tf is not usable ({type(e).__name__}: {e}); "
                         f"reinstall edgekit's dependencies") from None
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        random.setstate(py_state)
        np.random.set_state(np_state)
        if not determinism and tf_config.is_op_determinism_enabled():
            tf_config.disable_op_determinism()
        tf.get_logger().setLevel(tf_level or logging.WARNING)
    return onnx2tf


# ops that keep the layout of their input (looked through to find what reads the input)
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid",
                "HardSigmoid", "HardSwish", "Tanh", "Identity", "Cast", "Dropout"}


def channels_first_input(info: OnnxInfo) -> bool:
    """Whether the model's input is channels-first (NCL, NCHW): it feeds a spatial op.

    The input reaches a ``Conv``, pooling, ``BatchNormalization``... directly
    or through elementwise ops only.  An input that first goes through a
    ``MatMul``, ``Transpose`` or ``Reshape`` (a sequence ``(N, T, D)``, even
    with a convolution over time further in) is kept as it is.

    Parameters
    ----------
    info : OnnxInfo
        The checked model.

    Returns
    -------
    bool
    """
    consumers = {}
    for n in info.model.graph.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
    todo, seen = [info.input_name], set()
    while todo:
        for n in consumers.get(todo.pop(), []):
            if n.op_type in SPATIAL_OPS:
                return True
            if n.op_type in _ELEMENTWISE and id(n) not in seen:
                seen.add(id(n))
                todo.extend(n.output)
    return False


def onnx_to_tf(info: OnnxInfo, workdir: Path):
    """onnx2tf: ONNX -> a tf_keras model (channels-last where onnx2tf decides).

    Parameters
    ----------
    info : OnnxInfo
        The checked model (static shapes).
    workdir : Path
        A scratch directory for onnx2tf.

    Returns
    -------
    tf_keras.Model
        One input, one output.

    Raises
    ------
    ModelError
        If onnx2tf fails (its last error line is repeated) or is not usable.
    """
    onnx2tf = _import_onnx2tf()
    kwargs = {}
    if not channels_first_input(info):
        # sequence models (transformers, MLPs, an LMU's (N, T, D) with a Conv
        # over time inside): keep the input as it is
        kwargs["keep_shape_absolutely_input_names"] = [info.input_name]
    import logging  # noqa: PLC0415

    import tensorflow as tf  # noqa: PLC0415

    tf_logger = tf.get_logger()
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)        # "incompatible static batch sizes" chatter
    try:
        with quiet_prints() as (out, err):
            km = onnx2tf.convert(onnx_graph=info.model, output_folder_path=str(workdir),
                                 not_use_onnxsim=True, non_verbose=True,
                                 disable_model_save=True, **kwargs)
    except (Exception, SystemExit) as e:  # onnx2tf raises anything, or sys.exit(1)
        raise ModelError("onnx2tf could not convert the model: "
                         + _last_error_line(e, out.getvalue(), err.getvalue())) from None
    finally:
        tf_logger.setLevel(level)
    if km is None or len(km.inputs) != 1 or len(km.outputs) != 1:
        raise ModelError("onnx2tf produced a model without exactly one input and one output")
    return km


def float_tf(km, shape):
    """The float concrete function of ``km`` for one input of ``shape`` (inference mode).

    Parameters
    ----------
    km : tf_keras.Model
        The model from :func:`onnx_to_tf`.
    shape : tuple of int
        The TF input shape (batch 1).

    Returns
    -------
    tensorflow ConcreteFunction
    """
    import tensorflow as tf  # noqa: PLC0415

    fn = tf.function(lambda t: km(t, training=False),
                     input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
    return fn.get_concrete_function()

