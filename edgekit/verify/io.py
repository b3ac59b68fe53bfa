"""A model's data inputs and outputs as the generated C sees them: raw bytes.

``edgekit_invoke`` takes every data input's bytes concatenated in the
model's order and writes the outputs likewise (see
:func:`edgekit.firmware_export.codegen.io_specs`).  The checks keep one case
per row of a ``uint8`` ``(N, input_bytes)`` array; this module splits such
rows into the tensors tflite_micro and LiteRT take, runs them and joins
their outputs back, for any number of inputs and outputs of type int8,
int16, uint8 or float32.
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError, ModelError
from edgekit.firmware_export import Graph
from edgekit.firmware_export.codegen import io_specs
from edgekit.reference import litert_interpreter, tflm_interpreter

__all__ = ["as_bytes", "check_cases", "join_outputs", "litert_max_diff", "real_case_count",
           "run_tflm_io", "split_inputs"]

#: numpy type of each IO element type.
NUMPY_DTYPES = {"int8": np.int8, "int16": np.int16, "uint8": np.uint8, "float32": np.float32}


def as_bytes(a: np.ndarray) -> np.ndarray:
    """Cases ``(N, ...)`` of any element type as ``uint8`` ``(N, bytes)`` (their raw bytes)."""
    a = np.ascontiguousarray(a)
    return a.reshape(len(a), -1).view(np.uint8)


def split_inputs(graph: Graph, inputs: np.ndarray) -> list[np.ndarray]:
    """Split cases into the model's data inputs.

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph
    inputs : numpy.ndarray
        ``(N, ...)``: each row the concatenated bytes of every data input
        (any element type; e.g. an int8 ``(N, elements)`` array of a model
        with one int8 input).

    Returns
    -------
    list of numpy.ndarray
        Per data input, ``(N, *shape)`` of its element type.

    Raises
    ------
    edgekit.errors.ModelError
        If a row is not as long as the inputs' bytes.
    """
    raw = as_bytes(inputs)
    specs, _ = io_specs(graph)
    total = sum(s["nbytes"] for s in specs)
    if raw.shape[1] != total:
        raise ModelError(f"each case must hold {total} bytes (the model's "
                         f"{len(specs)} data input(s)), got {raw.shape[1]}")
    return [np.ascontiguousarray(raw[:, s["offset"]:s["offset"] + s["nbytes"]])
            .view(NUMPY_DTYPES[s["dtype"]]).reshape(len(raw), *s["shape"]) for s in specs]


def join_outputs(outputs: list[np.ndarray]) -> np.ndarray:
    """Per-output arrays ``(N, ...)`` as ``uint8`` ``(N, output_bytes)``, concatenated."""
    return np.concatenate([as_bytes(o) for o in outputs], axis=1)


def run_tflm_io(tflite: bytes, graph: Graph, inputs: np.ndarray,
                resets: np.ndarray | None = None) -> list[np.ndarray]:
    """Run every case through tflite_micro, by default each from the reset state.

    Variable tensors (an LSTM's state) are zeroed before every case, as the
    generated ``edgekit_invoke`` does (a Keras LSTM without ``stateful``);
    with ``resets``, only before the cases it marks, and they carry over
    from one invoke to the next otherwise (tflite_micro's own semantics, as
    the C generated with ``lstm_state="keep"``).  No state outputs are fed
    back (see :func:`edgekit.reference.run_tflm_stream` for those).

    Parameters
    ----------
    tflite : bytes
    graph : edgekit.firmware_export.Graph
        ``tflite`` as read by :func:`edgekit.firmware_export.read_tflite`.
    inputs : numpy.ndarray
        Cases as for :func:`split_inputs`.
    resets : numpy.ndarray of bool, optional
        ``resets[c]``: call ``interpreter.reset()`` before case ``c`` (case
        0 always starts from the reset state), as ``edgekit_reset()`` in the
        generated C.  Default: before every case.

    Returns
    -------
    list of numpy.ndarray
        Per data output, ``(N, *shape)`` of its element type.
    """
    xs = split_inputs(graph, inputs)
    specs_in, specs_out = io_specs(graph)
    pos_in = {t: i for i, t in enumerate(graph.inputs)}
    pos_out = {t: i for i, t in enumerate(graph.outputs)}
    ip = tflm_interpreter(tflite)
    outs: list[list[np.ndarray]] = [[] for _ in specs_out]
    n = len(xs[0]) if xs else 0
    if resets is not None and len(resets) != n:
        raise ConfigError(f"resets must have one flag per case ({n}) (got {len(resets)})")
    for c in range(n):
        if resets is None or c == 0 or resets[c]:
            ip.reset()
        for s, x in zip(specs_in, xs):
            ip.set_input(x[c], pos_in[s["index"]])
        ip.invoke()
        for k, s in enumerate(specs_out):
            y = np.array(ip.get_output(pos_out[s["index"]]))
            outs[k].append(y.astype(NUMPY_DTYPES[s["dtype"]], copy=False).reshape(s["shape"]))
    return [np.stack(o) for o in outs]


def litert_max_diff(tflite: bytes, graph: Graph, inputs: np.ndarray,
                    reference: np.ndarray) -> int | None:
    """Largest difference (in LSB of each integer output) between LiteRT and ``reference``.

    Parameters
    ----------
    tflite : bytes
    graph : edgekit.firmware_export.Graph
    inputs : numpy.ndarray
        Cases as for :func:`split_inputs`.
    reference : numpy.ndarray
        ``uint8`` ``(N, output_bytes)``: tflite_micro's outputs, concatenated.

    Returns
    -------
    int or None
        The largest difference over the integer outputs; None when every
        output is float32 (not compared in LSB), or when LiteRT refuses a
        file that TFLM runs (LiteRT is stricter: e.g. a depthwise bias with
        quantized_dimension 3, per-channel scales with one zero point; see
        the graph's ``normalizations``).
    """
    xs = split_inputs(graph, inputs)
    specs_in, specs_out = io_specs(graph)
    try:
        ip = litert_interpreter(tflite)
    except ModelError:
        if graph.normalizations:
            return None
        raise
    det_in = {d["index"]: d for d in ip.get_input_details()}
    det_out = {d["index"]: d for d in ip.get_output_details()}
    ref = as_bytes(reference)
    worst = None
    for c in range(len(ref)):
        for s, x in zip(specs_in, xs):
            d = det_in[s["index"]]
            ip.set_tensor(d["index"], x[c].astype(d["dtype"]).reshape(d["shape"]))
        ip.invoke()
        for s in specs_out:
            if s["dtype"] == "float32":
                continue
            lite = ip.get_tensor(det_out[s["index"]]["index"]).reshape(-1).astype(np.int64)
            mine = (ref[c, s["offset"]:s["offset"] + s["nbytes"]].copy()
                    .view(NUMPY_DTYPES[s["dtype"]]).astype(np.int64))
            d = int(np.abs(lite - mine).max()) if len(mine) else 0
            worst = d if worst is None else max(worst, d)
    return worst


def _random_tensor(graph: Graph, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """One random case of a data input (its whole range; float32: its QUANTIZE's range)."""
    dtype, count = spec["dtype"], int(np.prod(spec["shape"], dtype=np.int64))
    if dtype != "float32":
        info = np.iinfo(NUMPY_DTYPES[dtype])
        return rng.integers(info.min, int(info.max) + 1, count, dtype=NUMPY_DTYPES[dtype])
    for op in graph.operators:
        if op.opcode == "QUANTIZE" and op.inputs and op.inputs[0] == spec["index"]:
            q = graph.tensors[op.outputs[0]]
            info = np.iinfo(NUMPY_DTYPES.get(q.dtype, np.int8))
            level = rng.integers(info.min, int(info.max) + 1, count)
            return ((level - q.zp) * q.s).astype(np.float32)
    return rng.standard_normal(count).astype(np.float32)


def real_case_count(graph: Graph, real: np.ndarray | None, n: int) -> int:
    """How many of :func:`check_cases`' (and ``check_inputs``') ``n`` cases are real.

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph
    real : numpy.ndarray or None
        The real inputs offered.
    n : int
        Number of cases.

    Returns
    -------
    int
        ``min(len(real), n - n // 5)`` when the real inputs are used (one
        data input; int8, or their element type is the input's), else 0.
    """
    specs, _ = io_specs(graph)
    if real is None or not len(real) or len(specs) != 1:
        return 0
    if specs[0]["dtype"] != "int8" and np.asarray(real).dtype != NUMPY_DTYPES[specs[0]["dtype"]]:
        return 0
    return int(min(len(real), n - n // 5))


def check_cases(graph: Graph, real: np.ndarray | None, n: int, seed: int = 0) -> np.ndarray:
    """Check inputs of a model with any data inputs: real cases first, then random ones.

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph
    real : numpy.ndarray or None
        Real inputs ``(M, ...)`` of a model with one data input, used when
        their element type is the input's (up to ``n - n // 5``, picked at
        random, kept in order); ignored for several inputs.
    n : int
        Number of cases.
    seed : int
        Seed of the pick and of the random cases.

    Returns
    -------
    numpy.ndarray
        ``uint8`` ``(n, input_bytes)``: each row every data input's bytes,
        concatenated in the model's order.
    """
    specs, _ = io_specs(graph)
    rng = np.random.default_rng(seed)
    rows = []
    if (real is not None and len(real) and len(specs) == 1
            and np.asarray(real).dtype == NUMPY_DTYPES[specs[0]["dtype"]]):
        k = min(len(real), n - n // 5)
        pick = rng.choice(len(real), size=k, replace=False)
        rows.extend(np.ascontiguousarray(real[i]).reshape(-1).view(np.uint8)
                    for i in sorted(pick))
    while len(rows) < n:
        rows.append(np.concatenate([_random_tensor(graph, s, rng).view(np.uint8)
                                    for s in specs]))
    return np.stack(rows)
