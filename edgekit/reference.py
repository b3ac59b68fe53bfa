"""Reference runtimes: what a device computes (TFLM) and what LiteRT computes.

``tflite_micro``'s host interpreter runs the same kernels as TFLM on a
device, so it is the reference for bit-exactness.  LiteRT's optimized
kernels may differ by a few LSB; edgekit reports that difference and does
not gate on it.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager

import numpy as np

from edgekit.errors import ModelError
from edgekit.quiet import filtered_stderr


@contextmanager
def _capture_fd(fd: int):
    """Capture what C++ code writes to file descriptor ``fd``."""
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        box = {}
        try:
            yield box
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            box["text"] = tmp.read().decode("utf-8", errors="replace")


def tflm_interpreter(tflite: bytes):
    """A ``tflite_micro`` host interpreter of ``tflite`` (the bit-exactness reference).

    This module is the only place that constructs interpreters; every other
    module asks here.

    Raises
    ------
    ModelError
        If tflite_micro cannot load the model.
    """
    from tflite_micro.python.tflite_micro import runtime  # noqa: PLC0415

    try:
        return runtime.Interpreter.from_bytes(bytes(tflite))
    except Exception as e:  # the binding raises RuntimeError/ValueError
        raise ModelError(f"tflite_micro cannot load the model: {e}") from None


def run_tflm(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    """Run each of ``inputs`` (N, ...) through tflite_micro; outputs (N, ...).

    Each input runs from the reset state: the model's variable tensors (an
    LSTM's hidden and cell state) start from zero at every call, as in Keras
    (an LSTM without ``stateful=True``) and in edgekit's generated C;
    tflite_micro itself would carry them over from one invoke to the next.
    """
    ip = tflm_interpreter(tflite)
    det = ip.get_input_details(0)
    shape = tuple(int(d) for d in det["shape"])
    outs = []
    for x in inputs:
        ip.reset()
        ip.set_input(np.asarray(x, dtype=det["dtype"]).reshape(shape), 0)
        ip.invoke()
        outs.append(np.array(ip.get_output(0)).copy())
    return np.stack(outs)


def tflm_arena(tflite: bytes) -> dict:
    """TFLM's own arena report for the model (host build: 64-bit pointers).

    Returns ``{"total_bytes", "head_bytes", "tail_bytes"}``: head is the
    planned tensor area, tail the persistent allocations.
    """
    ip = tflm_interpreter(tflite)
    det = ip.get_input_details(0)
    ip.set_input(np.zeros(tuple(int(d) for d in det["shape"]), det["dtype"]), 0)
    ip.invoke()
    with _capture_fd(2) as box:
        ip.print_allocations()
    text = box["text"]
    out = {}
    for key, name in (("total_bytes", "total"), ("head_bytes", "head"), ("tail_bytes", "tail")):
        m = re.search(rf"Arena allocation {name} (\d+) bytes", text)
        if m:
            out[key] = int(m.group(1))
    if "total_bytes" not in out:
        raise ModelError("tflite_micro did not print its arena report")
    return out


def litert_interpreter(tflite: bytes, *, preserve_all_tensors: bool = False,
                       reference_kernels: bool = False):
    """A LiteRT interpreter of ``tflite``, tensors allocated.

    Parameters
    ----------
    tflite : bytes
        The flatbuffer.
    preserve_all_tensors : bool
        Keep every intermediate tensor readable after ``invoke`` (for
        per-layer diagnostics).
    reference_kernels : bool
        Use LiteRT's reference kernels (``BUILTIN_REF``) instead of the
        optimized ones.

    Raises
    ------
    ModelError
        If LiteRT cannot load the model.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: PLC0415

    kw = {}
    if preserve_all_tensors:
        kw["experimental_preserve_all_tensors"] = True
    if reference_kernels:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
    try:
        with filtered_stderr():      # "INFO: Created TensorFlow Lite XNNPACK delegate"
            ip = Interpreter(model_content=bytes(tflite), **kw)
            ip.allocate_tensors()
    except Exception as e:
        raise ModelError(f"LiteRT cannot load the model: {e}") from None
    return ip


def run_litert(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    """Run each of ``inputs`` through LiteRT's interpreter (default kernels)."""
    ip = litert_interpreter(tflite)
    inp = ip.get_input_details()[0]
    out = ip.get_output_details()[0]
    outs = []
    for x in inputs:
        ip.set_tensor(inp["index"], np.asarray(x, dtype=inp["dtype"]).reshape(inp["shape"]))
        ip.invoke()
        outs.append(ip.get_tensor(out["index"]).copy())
    return np.stack(outs)


def run_tflm_stream(tflite: bytes, graph, frames: np.ndarray,
                    resets: np.ndarray | None = None) -> np.ndarray:
    """Run a streaming model in tflite_micro, feeding its state outputs back.

    Parameters
    ----------
    tflite : bytes
        A streaming int8 model (signature ``frame``, ``state_i`` -> ``scores``,
        ``state_i``; see :mod:`edgekit.models.streaming`).
    graph : edgekit.firmware_export.graph.Graph
        The same model read by :func:`edgekit.firmware_export.read_tflite`
        (gives the signature's tensor indices and the state pairs).
    frames : numpy.ndarray
        int8 model inputs ``(N, ...)``, one per call, in stream order.
    resets : numpy.ndarray of bool, optional
        ``resets[i]`` zeroes the state before call ``i`` (call 0 always
        starts from zero), as ``edgekit_reset()`` does in the generated C:
        the ``state_i`` inputs and, with ``interpreter.reset()``, any
        variable tensors (an LSTM's state, kept between calls by C
        generated with ``lstm_state="keep"``).

    Returns
    -------
    numpy.ndarray
        The int8 ``scores`` of every call, ``(N, classes)``.

    Raises
    ------
    ModelError
        If the model has no state pairs or a state is requantised between
        its output and input (the generated C copies state bytes back).
    """
    pairs = graph.state_pairs()
    if not pairs or "frame" not in graph.signature_inputs or "scores" not in graph.signature_outputs:
        raise ModelError("not a streaming model: no frame/scores/state_i signature")
    for a, b in pairs:
        ta, tb = graph.tensors[a], graph.tensors[b]
        if (ta.s, ta.zp) != (tb.s, tb.zp):
            raise ModelError(f"state tensors {a} and {b} are quantised differently")
    ip = tflm_interpreter(tflite)
    pos_in = {t: i for i, t in enumerate(graph.inputs)}
    pos_out = {t: i for i, t in enumerate(graph.outputs)}
    fin, fout = graph.signature_inputs["frame"], graph.signature_outputs["scores"]
    shape = graph.tensors[fin].shape

    def zero():
        return {a: np.full(graph.tensors[a].shape, graph.tensors[a].zp, np.int8) for a, _ in pairs}

    state, out = zero(), []
    for i, f in enumerate(frames):
        if i == 0 or (resets is not None and resets[i]):
            state = zero()
            ip.reset()
        ip.set_input(np.asarray(f, np.int8).reshape(shape), pos_in[fin])
        for a, _ in pairs:
            ip.set_input(state[a], pos_in[a])
        ip.invoke()
        out.append(np.array(ip.get_output(pos_out[fout])).reshape(-1).copy())
        for a, b in pairs:
            state[a] = np.array(ip.get_output(pos_out[b])).reshape(graph.tensors[a].shape).astype(np.int8)
    return np.stack(out)
