"""In-place variants of CONV_2D 1x1 and DEPTHWISE_CONV_2D (reference kernels).

:func:`inplace_variant` turns the :class:`Lowered` of a convolution into a
call of ``kernels/ek_inplace.c``, whose kernels give tflite_micro's results
when their output starts at their input's address: the planner may then let
the output overwrite the input (``inplace``), with a small ``scratch``
buffer.  They call the reference loops block by block, so they are slow; they
show what the planner and the generated code do with in-place ops, and give
the arena such kernels reach.  It is not wired into :data:`ops.LOWERINGS`.
"""

from __future__ import annotations

from dataclasses import replace

from edgekit.firmware_export.ops.base import Lowered


def inplace_scratch(params: dict, depthwise: bool) -> int:
    """Scratch bytes an in-place kernel of ``ek_inplace.c`` needs, or 0 if it cannot run in place.

    Parameters
    ----------
    params : dict
        The ``ek_conv_params`` fields of the op (``Lowered.params``).
    depthwise : bool
        DEPTHWISE_CONV_2D (else CONV_2D).

    Returns
    -------
    int
        1x1 CONV_2D, no padding, ``out_c <= in_c``: one output pixel
        (``out_c``).  DEPTHWISE_CONV_2D, multiplier 1, stride 1, output of
        the input's height and width: ``pad_h + 1`` output rows.  0 otherwise.
    """
    p = params
    if depthwise:
        if (p["depth_multiplier"] == 1 and p["stride_h"] == p["stride_w"] == 1
                and (p["out_h"], p["out_w"], p["out_c"]) == (p["in_h"], p["in_w"], p["in_c"])
                and p["pad_h"] >= 0):
            return (p["pad_h"] + 1) * p["out_w"] * p["out_c"]
        return 0
    if (p["f_h"] == p["f_w"] == 1 and p["pad_h"] == p["pad_w"] == 0
            and p["out_c"] <= p["in_c"]):
        return p["out_c"]
    return 0


def inplace_variant(low: Lowered, depthwise: bool) -> Lowered:
    """The in-place form of a CONV_2D / DEPTHWISE_CONV_2D lowering, when it has one.

    Parameters
    ----------
    low : Lowered
        What :func:`edgekit.firmware_export.ops.conv.conv_like` returned
        (int8; ``args`` = input, filter, bias, output).
    depthwise : bool
        DEPTHWISE_CONV_2D (else CONV_2D).

    Returns
    -------
    Lowered
        ``low`` itself when the shapes do not allow it (see
        :func:`inplace_scratch`), else a copy calling
        ``ek_conv2d_1x1_inplace_s8`` / ``ek_depthwise_conv2d_inplace_s8`` of
        ``ek_inplace.c`` with ``inplace`` = the input and its ``scratch``.
    """
    if low.params_type != "ek_conv_params" or low.kernel not in ("ek_conv2d_s8",
                                                                 "ek_depthwise_conv2d_s8"):
        return low
    scratch = inplace_scratch(low.params, depthwise)
    if not scratch:
        return low
    kernel = "ek_depthwise_conv2d_inplace_s8" if depthwise else "ek_conv2d_1x1_inplace_s8"
    return replace(low, kernel=kernel, source="ek_inplace.c", inplace=(low.args[0],),
                   scratch=scratch)
