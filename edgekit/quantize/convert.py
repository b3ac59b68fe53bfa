"""Post-training quantization of Keras files, SavedModels and edgekit models.

:func:`quantize_model` converts a float model to a full-integer TFLite
flatbuffer with a static batch-1 input:

* ``activations="int8"``: int8 weights per channel, int8 activations per
  tensor, then the int8 flatbuffer passes
  (:func:`edgekit.quantize.converter.apply_int8_passes`: the LIF
  unification for spiking models);
* ``activations="int16"``: the 16x8 mode, int8 weights and int16
  activations (``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``).

The source is a ``keras.Model``, a ``.keras``/``.h5`` file, a directory
written by :func:`edgekit.models.train.save_model`, or a SavedModel
directory (its ``serving_default`` signature, one input, one output).
Calibration data is an array ``(N, *input_shape)`` (or a ``.npy`` file),
sampled ``"random"`` (seeded subset), ``"first"`` (the first N) or
``"stratified"`` (round-robin over the ``labels``); or synthetic input from
:func:`synthetic_calibration`.  Everything is checked before anything is
converted, and nothing is written here: the caller writes the bytes.

This is the one converter of edgekit for Keras / SavedModel -> int8 or
16x8 TFLite: :func:`edgekit.quantize.quantize_int8` (the build, budget,
sizing and compression paths) is a thin wrapper of :func:`quantize_model`,
so the same model and calibration give byte-identical flatbuffers whichever
entry point converts them.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.data.arrays import read_array_file
from edgekit.errors import ConfigError, DataError, ModelError
from edgekit.quantize.converter import (ACTIVATIONS, apply_int8_passes, check_int16_ranges,
                                        run_converter)

__all__ = ["ACTIVATIONS", "check_calibration", "compare_quantized", "FloatModel", "QuantizeResult",
           "load_float_model",
           "quantize_model", "representative_subset", "select_calibration",
           "synthetic_calibration", "float_tflite", "SAMPLINGS",
           "export_saved_model"]

SAMPLINGS = ("random", "first", "stratified")


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


@dataclass
class FloatModel:
    """A float model ready for the TFLite converter (batch-1 input)."""

    kind: str                 # "keras" or "savedmodel"
    source: str
    input_shape: tuple        # one example, no batch axis
    keras_model: object = None
    concrete: object = None   # tf concrete function (SavedModel)
    loaded: object = None     # the loaded SavedModel (keeps variables alive)
    model_names: tuple = ()   # Keras model names (not layer names) in tensor names
    layer_names: tuple = ()   # Keras layer names
    export_dir: object = None  # TemporaryDirectory of the one SavedModel export (Keras)

    def names(self) -> dict:
        """Keyword arguments naming layers for :func:`edgekit.quantize.diagnostics.layer_sqnr`."""
        return {"model_names": self.model_names, "layer_names": self.layer_names}

    def converter(self):
        """A TFLite converter of this model.

        A Keras model is exported once, as TensorFlow's
        ``from_keras_model`` does it (a SavedModel with a ``serve`` endpoint
        calling the model with ``training=False``), and every converter of
        this model (float and int8) reads that one export: tracing a large
        unrolled model dominates the conversion time.
        """
        import tensorflow as tf

        if self.kind == "keras":
            from edgekit.models.lstm import has_lstm, tf_keras_twin

            if has_lstm(self.keras_model):   # TFLite's fused LSTM comes from Keras 2's LSTM
                return tf.lite.TFLiteConverter.from_keras_model(tf_keras_twin(self.keras_model))
            if self.export_dir is None:
                self.export_dir = export_saved_model(self.keras_model)
            return tf.lite.TFLiteConverter.from_saved_model(self.export_dir.name,
                                                            signature_keys=["serving_default"])
        return tf.lite.TFLiteConverter.from_concrete_functions([self.concrete], self.loaded)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if self.kind == "keras":
            return np.asarray(self.keras_model.predict(x, batch_size=1, verbose=0))
        return np.concatenate([self.concrete(x[i:i + 1]).numpy() for i in range(len(x))])


def export_saved_model(model) -> tempfile.TemporaryDirectory:
    """Export a Keras model for the TFLite converter (a ``serve`` endpoint, inference mode).

    Parameters
    ----------
    model : keras.Model
        A functional model with one fixed-shape input.

    Returns
    -------
    tempfile.TemporaryDirectory
        The directory holding the SavedModel; it is removed when the object
        is garbage-collected or cleaned up.
    """
    import functools

    import keras
    import tensorflow as tf

    tmp = tempfile.TemporaryDirectory(prefix="edgekit-export-")
    archive = keras.export.ExportArchive()
    archive.track(model)
    sig = [tf.TensorSpec(x.shape, dtype=x.dtype, name=x.name) for x in model.inputs]
    archive.add_endpoint("serve", functools.partial(model.__call__, training=False), sig)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            archive.write_out(tmp.name)
    except Exception as exc:
        tmp.cleanup()
        raise ModelError(f"{model.name}: cannot export the model for the TFLite converter: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return tmp


def _batch1_keras(model, source: str) -> FloatModel:
    try:
        shape = tuple(int(d) for d in model.input_shape[1:])
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelError(f"{source}: expected a Keras model with one fixed-shape input") from exc
    if isinstance(model.output_shape, list) and len(model.output_shape) != 1:
        raise ModelError(f"{source}: expected one output (got {len(model.output_shape)})")
    import keras

    try:
        inp = keras.Input(shape=shape, batch_size=1, name="input")
        b1 = keras.Model(inp, model(inp, training=False), name=f"{model.name}_b1")
    except Exception as exc:
        raise ModelError(f"{source}: cannot trace the model with input {(1, *shape)}: {exc}") \
            from exc
    names = [b1.name, model.name] + [lay.name for lay in model.layers if hasattr(lay, "layers")]
    layer_names = [lay.name for lay in model.layers]
    return FloatModel("keras", source, shape, keras_model=b1, model_names=tuple(names),
                      layer_names=tuple(layer_names))


def _load_savedmodel(path: Path) -> FloatModel:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise ModelError(f"{path}: not a readable SavedModel: {str(exc).splitlines()[0]}") \
            from None
    sigs = getattr(loaded, "signatures", {}) or {}
    if "serving_default" not in sigs:
        have = ", ".join(sigs) or "none"
        raise ModelError(f"{path}: SavedModel has no 'serving_default' signature "
                         f"(signatures: {have}); export it with one")
    fn = sigs["serving_default"]
    _, kwargs = fn.structured_input_signature
    outs = fn.structured_outputs
    if len(kwargs) != 1 or len(outs) != 1:
        raise ModelError(f"{path}: serving_default must have one input and one output "
                         f"(got {len(kwargs)} inputs, {len(outs)} outputs)")
    (name, spec), = kwargs.items()
    (out_name,) = outs
    dims = spec.shape.as_list()
    if len(dims) < 2 or any(d is None for d in dims[1:]):
        raise ModelError(f"{path}: input {name} must have a static shape after the batch "
                         f"axis (got {dims})")
    if spec.dtype != tf.float32:
        raise ModelError(f"{path}: input {name} is {spec.dtype.name}; a float32 model is needed")
    shape = tuple(int(d) for d in dims[1:])

    @tf.function(input_signature=[tf.TensorSpec((1, *shape), tf.float32, name=name)])
    def serve(x):
        return fn(**{name: x})[out_name]

    return FloatModel("savedmodel", str(path), shape, concrete=serve.get_concrete_function(),
                      loaded=loaded)


def load_float_model(source) -> FloatModel:
    """Load a Keras model / file / edgekit model dir / SavedModel dir (see module docs)."""
    if hasattr(source, "input_shape") and hasattr(source, "layers"):
        return _batch1_keras(source, getattr(source, "name", "model"))
    path = Path(os.fspath(source))
    if not path.exists():
        raise ModelError(f"no model at {path}")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return _load_savedmodel(path)
        if (path / "model.keras").is_file():
            path = path / "model.keras"
        else:
            raise ModelError(f"{path}: neither a SavedModel (saved_model.pb) nor an edgekit "
                             "model directory (model.keras)")
    if path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{path}: expected a .keras or .h5 Keras file or a SavedModel "
                         "directory")
    import keras

    from edgekit.models.registry import register_custom_layers

    register_custom_layers()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{path}: not a Keras model file ({first[:200]})") from None
    if not hasattr(model, "input_shape"):
        raise ModelError(f"{path}: the file holds no Keras model")
    return _batch1_keras(model, str(path))


def synthetic_calibration(shape, num_samples: int = 200, *, kind: str = "random",
                          seed: int = 0) -> np.ndarray:
    """Calibration input when no data is at hand.

    ``kind="random"``: standard normal.  ``kind="mfcc"``: MFCC-like
    ``(frames, coeffs[, 1])`` frames: coefficient 0 (log energy) around
    -60 with a wide spread (range about -125..0), the others centred on 0 with a spread that
    falls with the coefficient index, smooth in time (a moving average over
    3 frames), as in the MLPerf Tiny KWS front end.
    """
    shape = tuple(int(d) for d in shape)
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.standard_normal((num_samples, *shape)).astype(np.float32)
    if kind != "mfcc":
        raise ConfigError(f"synthetic calibration kind must be 'random' or 'mfcc' (got {kind!r})")
    if len(shape) < 2:
        raise ConfigError(f"mfcc calibration needs (frames, coeffs, ...) (got {shape})")
    frames, coeffs = shape[0], shape[1]
    spread = 20.0 / (1.0 + np.arange(coeffs))
    mean = np.zeros(coeffs)
    mean[0] = -60.0
    spread[0] = 20.0
    x = rng.standard_normal((num_samples, frames + 2, coeffs)) * spread + mean
    x = (x[:, :-2] + x[:, 1:-1] + x[:, 2:]) / 3.0
    x += rng.standard_normal((num_samples, 1, coeffs)) * spread * 0.5
    return x.reshape((num_samples, *shape)).astype(np.float32)


def select_calibration(x, num_samples: int, sampling: str = "random", seed: int = 0,
                       labels=None) -> np.ndarray:
    """Pick ``num_samples`` calibration examples (see module docs)."""
    if sampling not in SAMPLINGS:
        raise ConfigError(f"sampling must be one of {', '.join(SAMPLINGS)} (got {sampling!r})")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise ConfigError(f"num_samples must be > 0 (got {num_samples})")
    n = min(num_samples, len(x))
    if sampling == "first":
        return x[:n]
    if sampling == "random":
        return representative_subset(x, n, seed)
    if labels is None or len(labels) != len(x):
        raise ConfigError("stratified sampling needs one label per calibration example")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)]
    pick: list = []
    while len(pick) < n:
        for p in pools:
            if p and len(pick) < n:
                pick.append(p.pop())
    return x[np.sort(pick)]


def check_calibration(x, shape: tuple) -> np.ndarray:
    """Calibration examples for a model input of ``shape``, as float32 ``(N, *shape)``.

    Parameters
    ----------
    x : array_like or path
        The examples, or a ``.npy``/``.npz`` file holding them (read by
        :func:`edgekit.data.arrays.read_array_file`: no pickles, no header
        that declares more data than the file holds; a ``.npz`` must hold
        one array).  One example without the batch dimension is taken as
        ``N = 1``.
    shape : tuple of int
        The model input's shape without the batch dimension.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, *shape)``, ``N >= 1``, every value finite.

    Raises
    ------
    edgekit.errors.DataError
        If the file cannot be read, or the data is not numeric, has another
        shape, is empty or holds NaN or infinite values.
    """
    name = "calibration data"
    if isinstance(x, (str, os.PathLike)):
        name = f"calibration data {x}"
        x = read_array_file(x)
    shape = tuple(int(d) for d in shape)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{name} must be real numbers (got dtype {x.dtype})")
    if x.ndim == len(shape) and tuple(x.shape) == shape:
        x = x[None]
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise DataError(f"{name} must have shape (N, {', '.join(map(str, shape))}) "
                        f"to match the model input (got {x.shape})")
    if len(x) == 0:
        raise DataError(f"{name} is empty")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{name} contains NaN or infinite values")
    return x


@dataclass
class QuantizeResult:
    """What :func:`quantize_model` returns: the flatbuffer and how it was made."""

    tflite: bytes
    float_model: FloatModel
    calibration: np.ndarray
    report: dict = field(default_factory=dict)
    passes: list = field(default_factory=list)   # int8 flatbuffer passes applied


def _convert(fm: FloatModel, calib: np.ndarray | None, activations: str) -> bytes:
    """Run the converter on ``fm`` (float32 when ``calib`` is None)."""
    gen = None
    if calib is not None:
        def gen():
            for i in range(len(calib)):
                yield [calib[i:i + 1]]

    return run_converter(fm.converter(), gen, activations)


def _span_input_range(calib: np.ndarray, input_range) -> np.ndarray:
    """``calib`` with its first example's first and last element set to the range's ends."""
    lo, hi = (float(v) for v in input_range)
    if not lo < hi:
        raise ConfigError(f"input_range must be (low, high) with low < high (got {input_range!r})")
    calib = np.array(calib, dtype=np.float32, copy=True)
    if calib.min() < lo or calib.max() > hi:
        raise DataError(f"calibration data spans [{calib.min():g}, {calib.max():g}], outside the "
                        f"model input's fixed range [{lo:g}, {hi:g}]")
    flat = calib[0].reshape(-1)
    flat[0], flat[-1] = lo, hi
    return calib


def _check_input_range(inp: dict, input_range, activations: str) -> None:
    """The converter gave the input the quantization ``input_range`` implies."""
    lo, hi = (float(v) for v in input_range)
    qmin, qmax = (-128, 127) if activations == "int8" else (-32768, 32767)
    want_scale = (hi - lo) / (qmax - qmin)
    want_zp = int(round(qmin - lo / want_scale))
    scale, zp = float(inp["quantization"][0]), int(inp["quantization"][1])
    if activations == "int8" and (abs(scale / want_scale - 1) > 1e-5 or zp != want_zp):
        raise ModelError(f"the converter quantized the input as scale {scale:g}, zero point {zp} "
                         f"(the front end's frames need {want_scale:g}, {want_zp})")


def float_tflite(fm: FloatModel) -> bytes:
    """The float32 TFLite of the same model (reference for the diagnostics)."""
    return _convert(fm, None, "float")


def quantize_model(source, calibration, *, num_samples: int = 300, sampling: str = "random",
                   seed: int = 0, labels=None, activations: str = "int8",
                   input_range=None) -> QuantizeResult:
    """Full-integer post-training quantization (see module docs).

    Parameters
    ----------
    source : keras.Model or path
        The float model.
    calibration : numpy.ndarray, path, or "random" / "mfcc"
        Calibration examples ``(N, *input_shape)`` (or a .npy/.npz file), or
        the name of a synthetic generator (:func:`synthetic_calibration`).
    num_samples, sampling, seed, labels
        How many examples, and how they are drawn.
    activations : {"int8", "int16"}
        Activation type (int16 = 16x8 mode).  An int8 model then gets the
        int8 flatbuffer passes (:func:`edgekit.quantize.converter.apply_int8_passes`:
        the LIF unification of a spiking model), here and nowhere else.
    input_range : (float, float), optional
        The exact float range of the model input (int8 -128 and 127), when
        the input comes quantized from elsewhere (the fixed-point front end,
        :attr:`edgekit.frontend.FrontendFeatures.input_range`).  The first
        calibration example gets one element at each end, so the converter
        gives the input tensor exactly that quantization (checked: scale to
        1e-5, zero point exactly); the other examples are unchanged.

    Returns
    -------
    QuantizeResult
        The flatbuffer, the loaded float model, the calibration set used, a
        report (op list, input/output quantization, calibration details) and
        the names of the passes applied.

    Raises
    ------
    ConfigError
        If ``activations``, ``sampling`` or ``num_samples`` is invalid.
    DataError
        If the calibration data does not fit the model input.
    ModelError
        If the model cannot be loaded, traced or converted, or (16x8) if
        calibration left an activation at zero (:func:`check_int16_ranges`).
    """
    if activations not in ACTIVATIONS:
        raise ConfigError(f"activations must be 'int8' or 'int16' (got {activations!r})")
    if sampling not in SAMPLINGS:
        raise ConfigError(f"sampling must be one of {', '.join(SAMPLINGS)} (got {sampling!r})")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise ConfigError(f"num_samples must be > 0 (got {num_samples})")
    fm = load_float_model(source)
    if isinstance(calibration, str) and calibration in ("random", "mfcc"):
        kind = calibration
        calib = synthetic_calibration(fm.input_shape, num_samples, kind=kind, seed=seed)
    else:
        kind = "data"
        calib = check_calibration(calibration, fm.input_shape)
        calib = select_calibration(calib, num_samples, sampling, seed, labels)
    if input_range is not None:
        calib = _span_input_range(calib, input_range)
    tflite = _convert(fm, calib, activations)
    passes = []
    if activations == "int8":
        tflite, passes = apply_int8_passes(tflite, fm.keras_model)
    else:
        check_int16_ranges(tflite)
    from edgekit.quantize.evaluate import op_list
    from edgekit.reference import litert_interpreter

    interp = litert_interpreter(tflite)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    if input_range is not None:
        _check_input_range(inp, input_range, activations)
    report = {
        "source": fm.source, "source_kind": fm.kind, "mode": "16x8" if activations == "int16"
        else "int8", "weights": "int8 per-channel", "activations": f"{activations} per-tensor",
        "calibration": {"kind": kind, "samples": int(len(calib)),
                        "sampling": sampling if kind == "data" else "synthetic", "seed": seed},
        "input": {"shape": [int(d) for d in inp["shape"]], "dtype": np.dtype(inp["dtype"]).name,
                  "scale": float(inp["quantization"][0]), "zero_point": int(inp["quantization"][1])},
        "output": {"shape": [int(d) for d in out["shape"]], "dtype": np.dtype(out["dtype"]).name,
                   "scale": float(out["quantization"][0]),
                   "zero_point": int(out["quantization"][1])},
        "ops": op_list(tflite), "tflite_bytes": len(tflite),
    }
    return QuantizeResult(tflite=tflite, float_model=fm, calibration=calib, report=report,
                          passes=passes)


def compare_quantized(ours: bytes, reference: bytes) -> dict:
    """Compare two int8 models of the same network (e.g. ours vs a shipped one).

    Operators are matched in order after dropping ``RESHAPE`` (converters
    differ in whether they fold the reshape before ``FULLY_CONNECTED``);
    for each the ratio of our output scale to the reference's is given.
    """
    from edgekit.quantize.evaluate import input_quantization, op_list, output_quantization
    from edgekit.reference import litert_interpreter

    def outs(b):
        it = litert_interpreter(bytes(b))
        ops = [o for o in it._get_ops_details() if o["op_name"] != "RESHAPE"]
        det = {d["index"]: d for d in it.get_tensor_details()}
        return [(o["op_name"], float(det[int(o["outputs"][0])]["quantization"][0])) for o in ops]

    a, b = outs(ours), outs(reference)
    same = [x[0] for x in a] == [x[0] for x in b]
    ratios = [round(x[1] / y[1], 4) if y[1] else None for x, y in zip(a, b)] if same else []
    return {
        "ops": op_list(ours), "reference_ops": op_list(reference),
        "same_ops_except_reshape": same,
        "input_scale_ratio": round(input_quantization(ours)[0] / input_quantization(reference)[0],
                                   4),
        "output_quantization": list(output_quantization(ours)),
        "reference_output_quantization": list(output_quantization(reference)),
        "op_output_scale_ratios": [{"op": x[0], "ratio": r} for x, r in zip(a, ratios)],
    }
