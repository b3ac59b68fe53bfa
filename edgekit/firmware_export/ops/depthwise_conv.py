"""DEPTHWISE_CONV_2D: int8, per-channel filters 1 x H x W x (C * multiplier).

The kernels (kernels/ek_depthwise_conv.c and its optimized version) take a
scratch buffer: one input channel as a padded plane (optimized) or as a copy
(reference).  With it the output may overwrite the input when the depth
multiplier is 1 and the output has no more pixels than the input.
"""

from __future__ import annotations

from edgekit.firmware_export.ops.conv import conv_like


def depthwise_scratch_bytes(params: dict) -> int:
    """Scratch bytes of ``ek_depthwise_conv2d_s8`` for these conv parameters.

    The larger of the reference kernel's channel copy (``in_h * in_w``
    bytes) and the optimized kernel's int16 plane (``dw_geometry`` in
    kernels/optimized/ek_depthwise_conv.c: rows x columns covering every
    output's window, each dilation phase of the columns stored contiguously,
    rows of an even number of elements, plus 4 bytes read past the end).
    """
    p = params
    # The plane's rows run along the filter side that needs fewer tap pairs
    # (on a tie: the longer output side is the inner loop).
    cost_n = p["f_h"] * ((p["f_w"] + 1) // 2)
    cost_t = p["f_w"] * ((p["f_h"] + 1) // 2)
    if cost_t < cost_n or (cost_t == cost_n and p["out_h"] > p["out_w"]):
        fr, fc, sr, sc, dr, dc = p["f_w"], p["f_h"], p["stride_w"], p["stride_h"], p["dil_w"], p["dil_h"]
        orn, ocn = p["out_w"], p["out_h"]
    else:
        fr, fc, sr, sc, dr, dc = p["f_h"], p["f_w"], p["stride_h"], p["stride_w"], p["dil_h"], p["dil_w"]
        orn, ocn = p["out_h"], p["out_w"]
    rows = (orn - 1) * sr + (fr - 1) * dr + 1
    cols = (ocn - 1) * sc + (fc - 1) * dc + 1
    row_len = (dc * -(-cols // dc) + 1) & ~1
    plane = 2 * rows * row_len + 4
    # Groups of 4 channels (dw_use_group): 8 bytes per padded pixel, when
    # that is at most half the input and the plane has no 3-row fast loop
    # over rows of 8 outputs or more; the plane then serves only the
    # channels left over (in_c % 4).
    group = 8 * ((p["out_h"] - 1) * p["stride_h"] + (p["f_h"] - 1) * p["dil_h"] + 1) \
        * ((p["out_w"] - 1) * p["stride_w"] + (p["f_w"] - 1) * p["dil_w"] + 1)
    need = p["in_h"] * p["in_w"]
    if (p["depth_multiplier"] == 1 and p["in_c"] >= 4 and p["f_h"] * p["f_w"] <= 64
            and 2 * group <= p["in_h"] * p["in_w"] * p["in_c"]
            and not (fr == 3 and fc <= 3 and dc == 1 and sc in (1, 2) and ocn >= 8)):
        need = max(need, group)
        if p["in_c"] % 4:
            need = max(need, plane)
    else:
        need = max(need, plane)
    return -(-need // 4) * 4


def lower(op, graph):
    low = conv_like(op, graph, depthwise=True)
    p = low.params
    low.scratch = depthwise_scratch_bytes(p)
    if p["depth_multiplier"] == 1 and p["out_h"] * p["out_w"] <= p["in_h"] * p["in_w"]:
        low.inplace = (low.args[0],)
    return low
