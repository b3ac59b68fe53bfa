"""ONNX -> fully int8 TFLite that edgekit's generated C and TFLM run.

:func:`convert_onnx` is the library function behind ``edgekit convert`` (and
``edgekit build --model MODEL.onnx``):

1. check the ONNX model before spending time on it: ``onnx.checker``, opset,
   one float input with a static shape (or ``input_shape`` to fix it), and
   every op by name (ops onnx2tf cannot convert, ops with no int8 kernel);
2. load the calibration samples (``.npy``/``.npz``, in the ONNX model's own
   layout: NCL, NCHW...) and check their shape;
3. ONNX -> TensorFlow with onnx2tf (channels-first inputs become
   channels-last; the layout is confirmed numerically against onnxruntime);
4. edgekit's own post-training int8 quantization of that TF graph
   (``TFLITE_BUILTINS_INT8``, int8 input and output, batch 1);
5. verify: the ONNX model in onnxruntime (float) against the int8 model in
   ``tflite_micro`` on the calibration samples: cosine similarity, max abs
   error of the dequantized outputs, top-1 agreement for classifiers;
6. write ``model.tflite``, ``report.json`` and ``report.md`` (only when every
   step succeeded, each file replaced atomically).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError, DataError, EdgekitError, ModelError
from edgekit.log import Progress

__all__ = ["ConversionResult", "OnnxInfo", "check_onnx", "convert_onnx", "load_calibration",
           "load_onnx", "parse_input_shape", "render_markdown"]

MIN_OPSET = 9
CALIB_SAMPLES = 300          # samples used to calibrate activation ranges
VERIFY_SAMPLES = 500         # samples compared against onnxruntime

# Ops that convert, but to TFLite ops with no int8 kernel (in TFLite or in
# edgekit's generated C): reported by name before converting.
FLOAT_ONLY = {
    "Erf": "GELU/erf", "Gelu": "GELU", "Exp": "EXP", "Log": "LOG", "Sin": "SIN", "Cos": "COS",
    "Tan": "TAN", "Reciprocal": "DIV", "Elu": "ELU", "Selu": "SELU",
    "Softplus": "SOFTPLUS", "Softsign": "DIV", "Mish": "MISH", "LogSoftmax": "LOG_SOFTMAX",
    "LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN", "Resize": "RESIZE", "Upsample": "RESIZE",
    "ArgMax": "ARG_MAX", "ArgMin": "ARG_MIN", "TopK": "TOPK_V2",
    "NonMaxSuppression": "NON_MAX_SUPPRESSION", "ReduceMax": "REDUCE_MAX",
    "ReduceMin": "REDUCE_MIN", "ReduceProd": "REDUCE_PROD", "ReduceL1": "ABS/SUM",
    "ReduceL2": "SQRT", "ReduceLogSum": "LOG", "ReduceLogSumExp": "EXP/LOG", "CumSum": "CUMSUM",
    "ConvTranspose": "TRANSPOSE_CONV", "InstanceNormalization": "SQRT/DIV",
    "GroupNorm": "SQRT/DIV", "LpNormalization": "L2_NORMALIZATION", "Max": "MAXIMUM",
    "Min": "MINIMUM", "Abs": "ABS", "Neg": "NEG", "Floor": "FLOOR", "Ceil": "CEIL",
    "Round": "ROUND", "Where": "SELECT", "Gather": "GATHER", "GatherElements": "GATHER",
    "GatherND": "GATHER_ND", "Einsum": "EINSUM", "Loop": "WHILE", "If": "IF",
    "Tile": "TILE", "Expand": "BROADCAST_TO",
}
# Ops onnx2tf may fold away as constants (shape arithmetic) even if their
# TFLite counterpart has no int8 kernel.
_FOLDABLE = {"Gather", "Where", "Expand", "Tile", "Max", "Min", "Floor", "Ceil", "Round", "Abs",
             "Neg", "Reciprocal", "Exp", "Log", "Cos", "Sin"}
_SPATIAL = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
            "GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "LpPool",
            "DepthToSpace", "SpaceToDepth", "Resize", "Upsample"}
_LAYOUT_NAMES = {3: ("NCL", "NLC"), 4: ("NCHW", "NHWC"), 5: ("NCDHW", "NDHWC")}


@dataclass
class OnnxInfo:
    """What :func:`check_onnx` found out about a model."""

    model: object                       # onnx.ModelProto with static shapes, shapes inferred
    opset: int
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    output_shape: tuple[int, ...]
    ops: dict[str, int]
    input_shape_fixed: list | None = None   # the original dims when input_shape replaced them
    producer: str = ""


@dataclass
class ConversionResult:
    """The int8 model, the ``conversion`` report dict and the files written."""

    tflite: bytes
    report: dict
    inputs_int8: np.ndarray              # calibration samples, TFLite layout, quantized
    files: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- checks

def load_onnx(path: str | Path):
    """Read an ONNX file; :class:`ModelError` if it is missing or not ONNX."""
    import onnx  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ONNX model {path} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # DecodeError, OSError, ValueError from external data
        raise ModelError(f"{path} is not an ONNX model: {str(e).splitlines()[0]}") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise ModelError(f"{path} is not an ONNX model: no graph, IR version or opset")
    return model


def parse_input_shape(spec) -> tuple[int, ...]:
    """``"1,10,49"`` / ``"1x10x49"`` / ``(1, 10, 49)`` -> a tuple of positive ints."""
    if spec is None:
        return None
    try:
        if isinstance(spec, str):
            parts = [p for p in spec.replace("x", ",").replace(" ", "").strip("()[]").split(",")
                     if p]
            dims = tuple(int(p) for p in parts)
        else:
            dims = tuple(int(d) for d in spec)
    except (TypeError, ValueError):
        raise ConfigError(f"--input-shape must be comma-separated integers like 1,10,49 "
                          f"(got {spec!r})") from None
    if not dims or any(d <= 0 for d in dims):
        raise ConfigError(f"--input-shape must be positive integers like 1,10,49 (got {spec!r})")
    return dims


def _dims(value_info) -> list:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else
            (d.dim_param or "?") for d in t.shape.dim]


def _fmt_shape(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


def check_onnx(model, input_shape=None, source: str = "model") -> OnnxInfo:
    """Check an ONNX model before converting it; return a copy with static shapes.

    Raises :class:`ModelError` naming the problem: checker failure, opset,
    inputs/outputs, dynamic input dims (fix them with ``input_shape``),
    unsupported or float-only ops.
    """
    import onnx  # noqa: PLC0415

    model = onnx.ModelProto.FromString(model.SerializeToString())    # work on a copy
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # ValidationError, and C++ errors for odd protos
        msg = " ".join(str(e).split())[:300]
        raise ModelError(f"{source} fails the ONNX checker: {msg}") from None

    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    opset = opsets.get("ai.onnx", 0)
    if opset < MIN_OPSET:
        raise ModelError(f"{source} uses ONNX opset {opset}; edgekit needs opset >= {MIN_OPSET} "
                         f"(re-export with torch.onnx.export(..., opset_version=17))")
    if opset > onnx.defs.onnx_opset_version():
        raise ModelError(f"{source} uses ONNX opset {opset}, newer than this onnx package "
                         f"supports ({onnx.defs.onnx_opset_version()})")

    g = model.graph
    init_names = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in init_names]
    if len(inputs) != 1:
        raise ModelError(f"{source} has {len(inputs)} inputs "
                         f"({', '.join(i.name for i in inputs) or 'none'}); edgekit deploys "
                         f"models with exactly one input")
    if len(g.output) != 1:
        raise ModelError(f"{source} has {len(g.output)} outputs "
                         f"({', '.join(o.name for o in g.output)}); edgekit deploys models "
                         f"with exactly one output")
    inp, outp = inputs[0], g.output[0]
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        dt = onnx.TensorProto.DataType.Name(inp.type.tensor_type.elem_type)
        raise ModelError(f"{source} input '{inp.name}' is {dt}; edgekit converts float32 models")

    # ---- ops, before any time is spent converting
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                  for n in g.node)
    first = {}
    for n in g.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        first.setdefault(key, n.name or n.output[0])
    known = _onnx2tf_ops()
    unsupported = sorted(k for k in ops if "." in k or (known and k not in known))
    if unsupported:
        raise ModelError(f"{source} has ops onnx2tf cannot convert: " + ", ".join(
            f"{k} (x{ops[k]}, e.g. node '{first[k]}')" for k in unsupported))
    const_only = _constant_nodes(g)
    float_only = sorted(k for k in ops if k in FLOAT_ONLY and not (
        k in _FOLDABLE and all(n.name in const_only for n in g.node if n.op_type == k)))
    if float_only:
        raise ModelError(f"{source} has float-only ops (no int8 kernel in edgekit's generated "
                         f"C): " + ", ".join(f"{k} -> {FLOAT_ONLY[k]} (x{ops[k]}, e.g. node "
                                              f"'{first[k]}')" for k in float_only))

    # ---- a static input shape (or the one given)
    dims = _dims(inp)
    if dims is None:
        raise ModelError(f"{source} input '{inp.name}' has no shape; pass --input-shape")
    fixed = None
    if input_shape is not None:
        shape = parse_input_shape(input_shape)
        if len(shape) != len(dims):
            raise ConfigError(f"--input-shape {_fmt_shape(shape)} has rank {len(shape)} but "
                              f"input '{inp.name}' {_fmt_shape(dims)} has rank {len(dims)}")
        for i, (s, d) in enumerate(zip(shape, dims)):
            if isinstance(d, int) and d != s and i > 0:
                raise ConfigError(f"--input-shape {_fmt_shape(shape)} contradicts the static "
                                  f"dim {i} = {d} of input '{inp.name}' {_fmt_shape(dims)}")
        if list(shape) != dims:
            fixed = dims
        dims = list(shape)
    elif any(not isinstance(d, int) for d in dims):
        hint = ",".join("1" if i == 0 and not isinstance(d, int) else str(d)
                        for i, d in enumerate(dims))
        raise ModelError(f"{source} input '{inp.name}' has a dynamic shape {_fmt_shape(dims)}; "
                         f"pass a static one with --input-shape (e.g. --input-shape {hint})")
    if dims[0] != 1:
        raise ModelError(f"{source} input '{inp.name}' {_fmt_shape(dims)} has batch {dims[0]}; "
                         f"edgekit deploys batch 1 (pass --input-shape "
                         f"{','.join(['1'] + [str(d) for d in dims[1:]])})")
    tshape = inp.type.tensor_type.shape
    for d, v in zip(tshape.dim, dims):
        d.Clear()
        d.dim_value = int(v)
    # re-infer every intermediate shape from the static input (onnx2tf relies on them)
    del g.value_info[:]
    for o in g.output:
        if any(not isinstance(d, int) for d in (_dims(o) or [])) or fixed is not None:
            o.type.tensor_type.ClearField("shape")
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as e:
        msg = " ".join(str(e).split())[:300]
        raise ModelError(f"{source}: shape inference failed with input "
                         f"{_fmt_shape(dims)}: {msg}") from None
    out_dims = _dims(model.graph.output[0])
    if out_dims is None or any(not isinstance(d, int) for d in out_dims):
        raise ModelError(f"{source}: the output '{outp.name}' shape is not static after fixing "
                         f"the input to {_fmt_shape(dims)} (got {out_dims})")
    producer = " ".join(x for x in (model.producer_name, model.producer_version) if x)
    return OnnxInfo(model=model, opset=opset, input_name=inp.name, input_shape=tuple(dims),
                    output_name=outp.name, output_shape=tuple(out_dims), ops=dict(ops),
                    input_shape_fixed=fixed, producer=producer)


def _onnx2tf_ops() -> set[str]:
    import importlib.util  # noqa: PLC0415

    # the op modules' names, without importing onnx2tf (and TensorFlow) yet
    spec = importlib.util.find_spec("onnx2tf")
    if spec is None or not spec.origin:
        return set()                      # onnx2tf missing: reported when converting
    return {p.stem.lstrip("_") for p in (Path(spec.origin).parent / "ops").glob("*.py")
            if p.stem != "__init__"}


def _constant_nodes(g) -> set[str]:
    """Names of nodes whose inputs are all constants (onnx2tf folds them)."""
    const = {i.name for i in g.initializer}
    names = set()
    for n in g.node:
        if n.op_type in ("Constant", "Shape") or all(not x or x in const for x in n.input):
            const.update(n.output)
            names.add(n.name)
    return names


def load_calibration(calib, info: OnnxInfo) -> np.ndarray:
    """Calibration samples ``(N, *input_shape[1:])`` as float32, in the ONNX layout."""
    path = None
    if isinstance(calib, (str, Path)):
        path = Path(calib)
        if not path.is_file():
            raise DataError(f"calibration data {path} does not exist")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as e:  # ValueError, OSError, zipfile errors
            raise DataError(f"calibration data {path} is not a .npy/.npz array: "
                            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        if isinstance(data, np.lib.npyio.NpzFile):
            keys = list(data.keys())
            pick = [k for k in (info.input_name, "x", "calib", "inputs", "input", "data")
                    if k in keys]
            if len(keys) == 1:
                pick = keys
            if not pick:
                raise DataError(f"calibration data {path} holds arrays {keys}; name the one "
                                f"to use '{info.input_name}' or 'x'")
            data = data[pick[0]]
    else:
        data = calib
    name = str(path) if path else "calibration data"
    x = np.asarray(data)
    example = tuple(info.input_shape[1:])
    if x.shape == tuple(info.input_shape) and len(example) + 1 == x.ndim:
        pass                                         # one sample with its batch dim
    elif x.ndim == len(example) + 2 and x.shape[1] == 1 and tuple(x.shape[2:]) == example:
        x = x[:, 0]                                  # (N, 1, *example): samples saved with batch
    if x.ndim != len(example) + 1 or tuple(x.shape[1:]) != example:
        layout = _LAYOUT_NAMES.get(len(info.input_shape), ("",))[0]
        lay = f" in {layout} layout" if layout and any(o in info.ops for o in _SPATIAL) else ""
        raise DataError(f"{name} has shape {_fmt_shape(x.shape)} but the ONNX input "
                        f"'{info.input_name}' is {_fmt_shape(info.input_shape)}{lay}: "
                        f"expected (N, {', '.join(map(str, example))})")
    if len(x) == 0:
        raise DataError(f"{name} is empty")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{name} must be real numbers (got dtype {x.dtype})")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{name} contains NaN or infinite values")
    return x


# --------------------------------------------------------------------------- conversion

@contextlib.contextmanager
def _quiet():
    """Silence onnx2tf's and the TFLite converter's prints (Python level)."""
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


def _onnx_to_tf(info: OnnxInfo, workdir: Path):
    """onnx2tf: ONNX -> a tf_keras model (channels-last where onnx2tf decides)."""
    onnx2tf = _import_onnx2tf()
    spatial = any(op in _SPATIAL for op in info.ops)
    kwargs = {}
    if not spatial:
        # sequence models (transformers, MLPs): keep (N, T, D) as it is
        kwargs["keep_shape_absolutely_input_names"] = [info.input_name]
    import logging  # noqa: PLC0415

    import tensorflow as tf  # noqa: PLC0415

    tf_logger = tf.get_logger()
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)        # "incompatible static batch sizes" chatter
    try:
        with _quiet() as (out, err):
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


def _candidate_perms(src: tuple, dst: tuple) -> list[tuple[int, ...]]:
    """Permutations mapping ONNX shape ``src`` to TF shape ``dst`` (identity first)."""
    n = len(src)
    cands = [tuple(range(n))]
    if n >= 3:
        cands.append((0, *range(2, n), 1))          # channels-first -> channels-last
        cands.append((0, n - 1, *range(1, n - 1)))  # the inverse, for completeness
    return [p for p in dict.fromkeys(cands)
            if len(dst) == n and tuple(src[i] for i in p) == tuple(dst)]


def _float_tf(km, shape):
    import tensorflow as tf  # noqa: PLC0415

    fn = tf.function(lambda t: km(t, training=False),
                     input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
    return fn.get_concrete_function()


def _pick_layout(info: OnnxInfo, cf, tf_in: tuple, tf_out: tuple, sample: np.ndarray,
                 onnx_out: np.ndarray):
    """Find the input/output permutations by running the float TF model once."""
    import tensorflow as tf  # noqa: PLC0415

    in_perms = _candidate_perms(info.input_shape, tf_in)
    out_perms = _candidate_perms(info.output_shape, tf_out)
    if not in_perms or not out_perms:
        raise ModelError(f"onnx2tf changed the shapes in an unexpected way: input "
                         f"{_fmt_shape(info.input_shape)} -> {_fmt_shape(tf_in)}, output "
                         f"{_fmt_shape(info.output_shape)} -> {_fmt_shape(tf_out)}")
    best = None
    ref = onnx_out.reshape(info.output_shape)
    scale = float(np.abs(ref).max()) + 1e-6
    for ip in in_perms:
        y = np.asarray(cf(tf.constant(np.transpose(sample, ip)))).reshape(tf_out)
        for op in out_perms:
            err = float(np.abs(y - np.transpose(ref, op)).max()) / scale
            if best is None or err < best[0]:
                best = (err, ip, op)
    err, ip, op = best
    if err > 1e-2:
        raise ModelError(f"the TensorFlow model from onnx2tf does not match onnxruntime "
                         f"(max relative error {err:.3g}); the conversion is wrong for this "
                         f"model")
    return ip, op, err


def _quantize(cf, km, samples: np.ndarray, seed: int = 0) -> bytes:
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
        with _quiet():
            fb = conv.convert()
    except Exception as e:  # ConverterError, ValueError, RuntimeError
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        hits = [ln for ln in lines if "error:" in ln.lower() or "not supported" in ln.lower()]
        raise ModelError("int8 TFLite conversion failed: "
                         + ((hits or lines or [type(e).__name__])[0])[:300]) from None
    return bytes(fb)


def _io_quant(graph, which: str):
    t = graph.tensors[(graph.inputs if which == "input" else graph.outputs)[0]]
    if not len(t.scale):
        return t, None, None
    return t, t.s, t.zp


def _agreement(ref: np.ndarray, got: np.ndarray, classifier: bool) -> dict:
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    got = got.reshape(len(got), -1).astype(np.float64)
    num = (ref * got).sum(1)
    den = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cos = np.where(den > 0, num / np.maximum(den, 1e-30),
                   np.where(np.abs(ref - got).max(axis=1) == 0, 1.0, 0.0))
    err = np.abs(ref - got)
    out = {
        "cosine": round(float(cos.mean()), 6),
        "cosine_min": round(float(cos.min()), 6),
        "max_abs_error": round(float(err.max()), 6),
        "mean_abs_error": round(float(err.mean()), 6),
        "output_abs_max": round(float(np.abs(ref).max()), 6),
        "top1_agreement": (round(float((ref.argmax(1) == got.argmax(1)).mean()), 6)
                           if classifier else None),
    }
    return out


def _tool_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    out = {}
    for name in ("onnx", "onnx2tf", "onnxruntime", "tensorflow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _layout_text(perm, rank) -> str:
    if list(perm) == list(range(rank)):
        return "unchanged"
    names = _LAYOUT_NAMES.get(rank)
    if names and tuple(perm) == (0, *range(2, rank), 1):
        return f"{names[0]} -> {names[1]} (transposed {tuple(perm)})"
    return f"transposed {tuple(perm)}"


def convert_onnx(onnx_path, calib, out=None, input_shape=None, min_cosine=None,
                 progress: Progress | None = None) -> ConversionResult:
    """Convert an ONNX model to a fully int8 TFLite and verify it.

    Parameters
    ----------
    onnx_path : path
        The ``.onnx`` file (e.g. from ``torch.onnx.export``).
    calib : path or numpy.ndarray
        Calibration samples ``(N, *input_shape[1:])`` in the ONNX model's own
        layout (``.npy``, or ``.npz`` with one array / an array named after the
        input or ``x``).
    out : path, optional
        A ``.tflite`` path (``report.json``/``report.md`` are written beside
        it) or a directory (``model.tflite``, ``report.json``, ``report.md``
        in it).  ``None`` writes nothing.
    input_shape : str or sequence of int, optional
        Static input shape (batch 1) replacing dynamic dims, e.g. ``"1,10,49"``.
    min_cosine : float, optional
        Fail (:class:`ModelError`, nothing written) when the mean cosine
        similarity between onnxruntime and the int8 model is lower.

    Returns
    -------
    ConversionResult
        ``tflite`` bytes, ``report`` (the ``conversion`` dict), the quantized
        calibration inputs in TFLite layout, and the files written.
    """
    progress = progress or Progress()
    t0 = time.monotonic()
    if min_cosine is not None and not (-1.0 <= float(min_cosine) <= 1.0):
        raise ConfigError(f"--min-cosine must be in [-1, 1] (got {min_cosine})")
    onnx_path = Path(onnx_path)
    targets = _out_paths(out) if out is not None else None

    progress.stage("check", f"{onnx_path}: onnx.checker, opset, input shape, ops")
    info = check_onnx(load_onnx(onnx_path), input_shape, source=str(onnx_path))
    progress.info(f"opset {info.opset}, input '{info.input_name}' "
                  f"{_fmt_shape(info.input_shape)}, output {_fmt_shape(info.output_shape)}, "
                  f"{sum(info.ops.values())} nodes: "
                  + ", ".join(f"{k} x{v}" for k, v in sorted(info.ops.items())))
    x = load_calibration(calib, info)
    progress.info(f"{len(x)} calibration samples {_fmt_shape(x.shape)}")

    import onnxruntime as ort  # noqa: PLC0415

    try:
        sess = ort.InferenceSession(info.model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  onnxruntime's own exception types
        raise ModelError(f"onnxruntime cannot load {onnx_path}: "
                         f"{str(e).splitlines()[0][:300]}") from None
    nv = min(VERIFY_SAMPLES, len(x))
    xv = x[np.sort(np.random.default_rng(1).permutation(len(x))[:nv])]
    ref = np.concatenate([sess.run(None, {info.input_name: xv[i:i + 1]})[0]
                          .reshape(info.output_shape) for i in range(nv)])
    t_check = time.monotonic() - t0

    progress.stage("onnx2tf", "ONNX -> TensorFlow")
    t1 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgekit-onnx2tf-") as work:
        km = _onnx_to_tf(info, Path(work))
        tf_in = tuple(int(d) for d in km.inputs[0].shape)
        tf_out = tuple(int(d) if d is not None else 1 for d in km.outputs[0].shape)
        cf = _float_tf(km, tf_in)
        in_perm, out_perm, float_err = _pick_layout(info, cf, tf_in, tf_out, xv[:1], ref[:1])
        in_layout = _layout_text(in_perm, len(in_perm))
        out_layout = _layout_text(out_perm, len(out_perm))
        progress.info(f"input {_fmt_shape(info.input_shape)} -> {_fmt_shape(tf_in)}: "
                      f"{in_layout}; output {out_layout}; float TF vs onnxruntime max relative "
                      f"error {float_err:.2g}")
        t_tf = time.monotonic() - t1

        progress.stage("quantize", f"full int8, {min(CALIB_SAMPLES, len(x))} calibration "
                                   f"samples, {in_layout}"
                       if in_layout != "unchanged" else
                       f"full int8, {min(CALIB_SAMPLES, len(x))} calibration samples")
        t2 = time.monotonic()
        xt = np.ascontiguousarray(np.transpose(x, in_perm))
        tflite = _quantize(cf, km, xt)
        t_q = time.monotonic() - t2

    from edgekit.firmware_export import lower_graph, read_tflite  # noqa: PLC0415

    graph = read_tflite(tflite)
    lower_graph(graph)                                     # UnsupportedOpError names the ops
    tin, in_scale, in_zp = _io_quant(graph, "input")
    tout, out_scale, out_zp = _io_quant(graph, "output")
    if tin.dtype != "int8" or tout.dtype != "int8" or in_scale is None or out_scale is None:
        raise ModelError(f"the converted model is not fully int8 (input {tin.dtype}, output "
                         f"{tout.dtype})")

    progress.stage("verify", f"onnxruntime (float) vs tflite_micro (int8) on {nv} samples")
    t3 = time.monotonic()
    from edgekit.reference import run_tflm  # noqa: PLC0415

    xq = np.clip(np.round(xt / in_scale) + in_zp, -128, 127).astype(np.int8)
    xvq = np.clip(np.round(np.transpose(xv, in_perm) / in_scale)
                  + in_zp, -128, 127).astype(np.int8)
    yq = run_tflm(tflite, xvq).reshape((nv, *tuple(tout.shape)[1:]))
    got = (yq.astype(np.float32) - out_zp) * out_scale
    ref_t = np.transpose(ref, out_perm)
    nontrivial = [d for d in info.output_shape[1:] if d > 1]
    classifier = len(nontrivial) == 1 and nontrivial[0] > 1
    agree = _agreement(ref_t, got, classifier)
    t_v = time.monotonic() - t3
    top1 = agree["top1_agreement"]
    progress.info(f"cosine {agree['cosine']:.4f} (min {agree['cosine_min']:.4f}), max abs error "
                  f"{agree['max_abs_error']:.4g} (outputs up to {agree['output_abs_max']:.4g})"
                  + (f", top-1 agreement {top1:.4f}" if top1 is not None else ""))

    report = {
        "source": str(onnx_path),
        "onnx": {"opset": info.opset, "ir_version": int(info.model.ir_version),
                 "producer": info.producer,
                 "input": {"name": info.input_name, "shape": list(info.input_shape),
                           "shape_in_file": info.input_shape_fixed},
                 "output": {"name": info.output_name, "shape": list(info.output_shape)},
                 "nodes": int(sum(info.ops.values())), "ops": dict(sorted(info.ops.items()))},
        "tflite": {"bytes": len(tflite), "ops": graph.op_counts(),
                   "input": {"shape": list(tin.shape), "dtype": "int8", "scale": in_scale,
                             "zero_point": in_zp},
                   "output": {"shape": list(tout.shape), "dtype": "int8", "scale": out_scale,
                              "zero_point": out_zp}},
        "layout": {"input": in_layout, "input_permutation": list(in_perm),
                   "output": out_layout, "output_permutation": list(out_perm),
                   "float_max_relative_error": float_err},
        "calibration": {"source": str(calib) if isinstance(calib, (str, Path)) else "array",
                        "samples": int(len(x)), "used": int(min(CALIB_SAMPLES, len(x))),
                        "shape": list(x.shape)},
        "verification": {"reference": "onnxruntime (float32)", "candidate":
                         "tflite_micro (int8, dequantized)", "samples": int(nv),
                         "classifier": classifier},
        **agree,
        "min_cosine": None if min_cosine is None else float(min_cosine),
        "passed": None if min_cosine is None else bool(agree["cosine"] >= float(min_cosine)),
        "seconds": {"check": round(t_check, 2), "onnx2tf": round(t_tf, 2),
                    "quantize": round(t_q, 2), "verify": round(t_v, 2),
                    "total": round(time.monotonic() - t0, 2)},
        "tools": _tool_versions(),
    }
    if min_cosine is not None and not report["passed"]:
        raise ModelError(f"int8 model agrees with the ONNX model at cosine {agree['cosine']:.4f}"
                         f" < --min-cosine {float(min_cosine):g} (max abs error "
                         f"{agree['max_abs_error']:.4g}); nothing written")

    result = ConversionResult(tflite=tflite, report=report, inputs_int8=xq)
    if targets is not None:
        result.files = _write(targets, tflite, report)
        progress.info("wrote " + ", ".join(str(p) for p in result.files))
    return result


# --------------------------------------------------------------------------- output

def _out_paths(out) -> tuple[Path, Path, Path]:
    out = Path(out)
    if out.suffix == ".tflite":
        if out.is_dir():
            raise ConfigError(f"--out {out} is a directory")
        d = out.parent
        model = out
    else:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} exists and is not a directory (use a .tflite name "
                              f"or a directory)")
        d = out
        model = out / "model.tflite"
    return model, d / "report.json", d / "report.md"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write(targets, tflite: bytes, conversion: dict) -> list[Path]:
    model, pj, pm = targets
    model.parent.mkdir(parents=True, exist_ok=True)
    full = {"edgekit": __import__("edgekit").__version__, "model": str(model.name),
            "conversion": conversion}
    try:
        _atomic_write(model, tflite)
        _atomic_write(pj, (json.dumps(full, indent=2) + "\n").encode())
        _atomic_write(pm, render_markdown(full).encode())
    except OSError as e:
        raise EdgekitError(f"cannot write {model.parent}: {e.strerror or e}") from None
    return [model, pj, pm]


def render_markdown(report: dict) -> str:
    """``report.md`` of ``edgekit convert`` (``report`` holds a ``conversion`` dict)."""
    c = report.get("conversion", report)
    o, t, lay, cal = c["onnx"], c["tflite"], c["layout"], c["calibration"]

    def ops(d):
        return ", ".join(f"{k} x{v}" for k, v in d.items())

    top1 = c.get("top1_agreement")
    lines = [f"# edgekit conversion report: {c['source']}", "",
             "## Agreement (onnxruntime float vs tflite_micro int8)", "",
             "| metric | value |", "|---|---|",
             f"| samples | {c['verification']['samples']} |",
             f"| cosine similarity (mean) | {c['cosine']:.6f} |",
             f"| cosine similarity (min) | {c['cosine_min']:.6f} |",
             f"| max abs error | {c['max_abs_error']:.6g} |",
             f"| mean abs error | {c['mean_abs_error']:.6g} |",
             f"| max abs float output | {c['output_abs_max']:.6g} |",
             f"| top-1 agreement | {'n/a (not a classifier)' if top1 is None else f'{top1:.4f}'} |"]
    if c.get("min_cosine") is not None:
        lines.append(f"| gate --min-cosine {c['min_cosine']:g} | "
                     f"{'passed' if c['passed'] else 'FAILED'} |")
    lines += ["", "## Layout", "",
              f"- input: ONNX {tuple(o['input']['shape'])} -> TFLite "
              f"{tuple(t['input']['shape'])}: {lay['input']}",
              f"- output: ONNX {tuple(o['output']['shape'])} -> TFLite "
              f"{tuple(t['output']['shape'])}: {lay['output']}",
              f"- calibration data: {cal['samples']} samples {tuple(cal['shape'])} from "
              f"{cal['source']} ({cal['used']} used), transposed the same way as the input"]
    if o["input"].get("shape_in_file"):
        lines.append(f"- input shape fixed from {tuple(o['input']['shape_in_file'])} to "
                     f"{tuple(o['input']['shape'])}")
    lines += ["", "## Ops", "", "| | |", "|---|---|",
              f"| ONNX (opset {o['opset']}, {o['nodes']} nodes) | {ops(o['ops'])} |",
              f"| int8 TFLite ({t['bytes']:,} bytes) | {ops(t['ops'])} |",
              "", f"int8 input: scale {t['input']['scale']:.6g}, zero point "
                  f"{t['input']['zero_point']}; output: scale {t['output']['scale']:.6g}, "
                  f"zero point {t['output']['zero_point']}", "",
              "Times (s): " + ", ".join(f"{k} {v}" for k, v in c["seconds"].items()),
              "", "Tools: " + ", ".join(f"{k} {v}" for k, v in c["tools"].items())]
    return "\n".join(lines) + "\n"
