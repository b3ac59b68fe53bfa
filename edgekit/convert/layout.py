"""The input/output layout onnx2tf chose, confirmed by running the float TF model once."""

from __future__ import annotations

import numpy as np

from edgekit.convert.onnx_check import LAYOUT_NAMES, OnnxInfo, fmt_shape
from edgekit.errors import ModelError

__all__ = ["layout_text", "pick_layout"]


def _candidate_perms(src: tuple, dst: tuple) -> list[tuple[int, ...]]:
    """Permutations mapping ONNX shape ``src`` to TF shape ``dst`` (identity first)."""
    n = len(src)
    cands = [tuple(range(n))]
    if n >= 3:
        cands.append((0, *range(2, n), 1))          # channels-first -> channels-last
        cands.append((0, n - 1, *range(1, n - 1)))  # the inverse, for completeness
    return [p for p in dict.fromkeys(cands)
            if len(dst) == n and tuple(src[i] for i in p) == tuple(dst)]


def pick_layout(info: OnnxInfo, cf, tf_in: tuple, tf_out: tuple, sample: np.ndarray,
                 onnx_out: np.ndarray):
    """Find the input/output permutations by running the float TF model once.

    Parameters
    ----------
    info : OnnxInfo
        The checked model.
    cf : tensorflow ConcreteFunction
        The float TF model.
    tf_in, tf_out : tuple of int
        The TF input and output shapes.
    sample : numpy.ndarray
        One input ``(1, ...)`` in the ONNX layout.
    onnx_out : numpy.ndarray
        onnxruntime's output for ``sample``.

    Returns
    -------
    tuple
        ``(input permutation, output permutation, max relative error)``: ONNX
        layout -> TF layout.

    Raises
    ------
    ModelError
        If no candidate permutation reproduces onnxruntime within 1e-2.
    """
    import tensorflow as tf  # noqa: PLC0415

    in_perms = _candidate_perms(info.input_shape, tf_in)
    out_perms = _candidate_perms(info.output_shape, tf_out)
    if not in_perms or not out_perms:
        raise ModelError(f"onnx2tf changed the shapes in an unexpected way: input "
                         f"{fmt_shape(info.input_shape)} -> {fmt_shape(tf_in)}, output "
                         f"{fmt_shape(info.output_shape)} -> {fmt_shape(tf_out)}")
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


def layout_text(perm, rank) -> str:
    """Describe a permutation: ``"unchanged"``, ``"NCHW -> NHWC (transposed ...)"``...

    Parameters
    ----------
    perm : sequence of int
        ONNX -> TF axis permutation.
    rank : int
        Its length.

    Returns
    -------
    str
    """
    if list(perm) == list(range(rank)):
        return "unchanged"
    names = LAYOUT_NAMES.get(rank)
    if names and tuple(perm) == (0, *range(2, rank), 1):
        return f"{names[0]} -> {names[1]} (transposed {tuple(perm)})"
    return f"transposed {tuple(perm)}"

