"""Per-layer quantization error: SQNR of every int8 tensor against float.

The float reference is a float32 TFLite converted from the *same* model
(same graph rewrites: batch norm folded, activations fused), so the two
graphs have the same operators in the same order.  Both are run with
LiteRT's ``experimental_preserve_all_tensors=True`` on the calibration
examples; every operator output of the quantized model is dequantized
(``scale * (q - zero_point)``) and compared with the float model's output
of the matching operator (matched by operator order, opcode checked; by
tensor name when the orders differ)::

    SQNR = 10 log10( sum f^2 / sum (f - dequant(q))^2 )   [dB]

The error is the accumulated one (everything before that tensor is
quantized too), which is what the deployed model sees.  Layers below
``threshold_db`` are flagged.
"""

from __future__ import annotations

import math
import re

import numpy as np

from edgekit.errors import DataError, ModelError
from edgekit.quantize.evaluate import quantize_input

__all__ = ["layer_sqnr", "DEFAULT_THRESHOLD_DB"]

#: SQNR below this (dB) is flagged as a warning.  An 8-bit tensor whose
#: range is well used gives 30-45 dB; the output of a typical int8 DS-CNN is
#: at 15-30 dB after accumulation over its layers.
DEFAULT_THRESHOLD_DB = 12.0

_SKIP = {"QUANTIZE", "DEQUANTIZE"}


def _interp(tflite: bytes):
    import warnings

    from edgekit.reference import litert_interpreter

    with warnings.catch_warnings():    # "preserve_all_tensors is for debugging"
        warnings.simplefilter("ignore")
        return litert_interpreter(tflite, preserve_all_tensors=True, reference_kernels=True)


def _ops(it) -> list[dict]:
    return [op for op in it._get_ops_details() if op["op_name"] not in _SKIP]


def _run_all(it, xs: np.ndarray, tensors: list[int], quantize: bool) -> dict:
    inp = it.get_input_details()[0]
    acc = {t: [] for t in tensors}
    for x in xs:
        x = x[None].astype(np.float32)
        if quantize:
            scale, zp = inp["quantization"]
            x = quantize_input(x, scale, zp, inp["dtype"])
        it.set_tensor(inp["index"], x)
        it.invoke()
        for t in tensors:
            acc[t].append(np.array(it.get_tensor(t)))
    return {t: np.stack(v) for t, v in acc.items()}


def _dequant(it, t: int, q: np.ndarray) -> np.ndarray:
    d = it._get_tensor_details(t, 0) if _takes_subgraph(it) else it._get_tensor_details(t)
    qp = d["quantization_parameters"]
    scales, zps = np.asarray(qp["scales"]), np.asarray(qp["zero_points"])
    if scales.size == 0:
        return q.astype(np.float64)
    if scales.size == 1:
        return scales[0] * (q.astype(np.float64) - zps[0])
    axis = int(qp["quantized_dimension"]) + 1    # + the stacked sample axis
    shape = [1] * q.ndim
    shape[axis] = scales.size
    return scales.reshape(shape) * (q.astype(np.float64) - zps.reshape(shape))


def _takes_subgraph(it) -> bool:
    import inspect

    try:
        return len(inspect.signature(it._get_tensor_details).parameters) >= 2
    except (TypeError, ValueError):
        return False


def _name(it, t: int) -> str:
    d = it._get_tensor_details(t, 0) if _takes_subgraph(it) else it._get_tensor_details(t)
    return d["name"]


def _short(name: str, exclude=(), known=()) -> tuple[str, list[str]]:
    """First of the ';'-joined names, and the Keras layer names found in all of them.

    A TFLite tensor name is ``model/layer/Op`` (several joined by ``;`` when
    ops were fused); the layer names are the path segments between the model
    name and the op, without TF op names (CamelCase) and without the model
    names in ``exclude``; when the Keras layer names are ``known``, only those.
    """
    parts = [p for p in name.split(";") if p]
    layers: list[str] = []
    for p in parts:
        for seg in p.split("/")[1:-1]:
            base = re.sub(r"_\d+$", "", seg)
            if seg not in known and base in known:     # Keras' "_1" on a re-called layer
                seg = base
            if not seg or seg[0].isupper() or seg in layers or seg in exclude or \
                    base in exclude or (known and seg not in known):
                continue
            layers.append(seg)
    return (parts[0] if parts else name)[:100], layers


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """``10 log10(sum ref^2 / sum (ref - test)^2)``; inf when equal."""
    ref = np.asarray(ref, np.float64)
    err = float(np.sum((ref - np.asarray(test, np.float64)) ** 2))
    sig = float(np.sum(ref ** 2))
    if err == 0.0:
        return math.inf
    if sig == 0.0:
        return -math.inf
    return 10.0 * math.log10(sig / err)


def layer_sqnr(float_tflite: bytes, quant_tflite: bytes, calibration, *,
               threshold_db: float = DEFAULT_THRESHOLD_DB, max_samples: int = 64,
               worst: int = 3, model_names=(), layer_names=()) -> dict:
    """SQNR per operator output of ``quant_tflite`` against ``float_tflite``.

    Parameters
    ----------
    float_tflite, quant_tflite : bytes
        Float32 and quantized TFLite of the same model.
    calibration : numpy.ndarray
        Float examples ``(N, *input_shape)`` (the first ``max_samples`` are used).
    threshold_db : float
        Layers whose output SQNR is lower are listed in ``warnings``.
    worst : int
        How many layers to name in ``worst``: those that *lose* the most,
        ranked by ``drop_db`` = (lowest SQNR of the op's inputs) - (SQNR of
        its output), so a bad layer is named rather than everything after it.
    model_names : iterable of str
        Keras model names to leave out of the layer names.
    layer_names : iterable of str
        The Keras layer names (to undo Keras' ``_1`` suffixes in tensor names).

    Returns
    -------
    dict
        ``{"layers": [{"index", "op", "tensor", "layers", "sqnr_db",
        "drop_db", "scale", "float_range", "warn"}], "worst": [...],
        "worst_sqnr_db", "output_sqnr_db", "input_sqnr_db", "warnings",
        "threshold_db", "samples", "matched_by"}``.
    """
    fl, qt = _interp(float_tflite), _interp(quant_tflite)
    x = np.asarray(calibration, np.float32)
    shape = tuple(int(d) for d in fl.get_input_details()[0]["shape"][1:])
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise DataError(f"calibration data must have shape (N, {', '.join(map(str, shape))}) "
                        f"(got {x.shape})")
    x = x[:max_samples]
    exclude, known = set(model_names), set(layer_names)
    fops, qops = _ops(fl), _ops(qt)
    pairs = []          # (op index, opcode, float tensor, quant tensor, quant op)
    if [o["op_name"] for o in fops] == [o["op_name"] for o in qops]:
        matched_by = "order"
        for i, (fo, qo) in enumerate(zip(fops, qops)):
            pairs.append((i, qo["op_name"], int(fo["outputs"][0]), int(qo["outputs"][0]), qo))
    else:
        matched_by = "name"
        fnames = {_name(fl, int(o["outputs"][0])): int(o["outputs"][0]) for o in fops}
        for i, qo in enumerate(qops):
            t = int(qo["outputs"][0])
            if _name(qt, t) in fnames:
                pairs.append((i, qo["op_name"], fnames[_name(qt, t)], t, qo))
    if not pairs:
        raise ModelError("no operator of the quantized model matches the float model")
    f_in = int(fl.get_input_details()[0]["index"])
    q_in = int(qt.get_input_details()[0]["index"])
    fvals = _run_all(fl, x, [f_in] + [p[2] for p in pairs], quantize=False)
    qvals = _run_all(qt, x, [q_in] + [p[3] for p in pairs], quantize=True)
    sq = {}             # quant tensor -> SQNR
    f0, q0 = fvals[f_in], qvals[q_in]
    if f0.shape == q0.shape:
        sq[q_in] = sqnr_db(f0, _dequant(qt, q_in, q0))
    layers, warnings = [], []
    for i, op, ft, qtn, qo in pairs:
        f, q = fvals[ft], qvals[qtn]
        if f.shape != q.shape:
            continue
        s = sqnr_db(f, _dequant(qt, qtn, q))
        sq[qtn] = s
        ins = [sq[int(t)] for t in qo["inputs"] if int(t) in sq]
        drop = (min(ins) - s) if ins else 0.0
        d = qt._get_tensor_details(qtn, 0) if _takes_subgraph(qt) else qt._get_tensor_details(qtn)
        sc = d["quantization_parameters"]["scales"]
        short, names = _short(_name(qt, qtn), exclude, known)
        row = {"index": i, "op": op, "tensor": short, "layers": names,
               "sqnr_db": _finite(s), "drop_db": _finite(drop),
               "scale": float(sc[0]) if len(sc) else None,
               "float_range": [round(float(f.min()), 5), round(float(f.max()), 5)],
               "warn": bool(s < threshold_db)}
        layers.append(row)
        if row["warn"]:
            warnings.append(f"op {i} {op} ({'/'.join(names) or short}): SQNR "
                            f"{row['sqnr_db']:.1f} dB < {threshold_db} dB")
    ranked = sorted(layers, key=lambda r: -r["drop_db"])
    return {"layers": layers,
            "worst": [f"{r['op']} {'/'.join(r['layers']) or r['tensor']}" for r in ranked[:worst]],
            "worst_sqnr_db": min(r["sqnr_db"] for r in layers) if layers else None,
            "output_sqnr_db": layers[-1]["sqnr_db"] if layers else None,
            "input_sqnr_db": _finite(sq[q_in]) if q_in in sq else None,
            "warnings": warnings, "threshold_db": threshold_db, "samples": int(len(x)),
            "matched_by": matched_by}


def _finite(v: float) -> float:
    return round(v, 2) if math.isfinite(v) else (999.0 if v > 0 else -999.0)
