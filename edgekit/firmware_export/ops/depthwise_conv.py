"""DEPTHWISE_CONV_2D: int8, per-channel filters 1 x H x W x (C * multiplier).

The kernels (kernels/ek_depthwise_conv.c and its optimized version) take a
scratch buffer: one input channel as a padded plane (optimized) or as a copy
(reference).  With it the output may overwrite the input when the depth
multiplier is 1 and the output has no more pixels than the input.
"""

from __future__ import annotations

from edgekit.firmware_export.ops.conv import conv_like


def _rotated(p: dict) -> tuple:
    """``dw_geometry``'s filter rows / columns, strides, dilations and output
    rows / columns: the plane's rows run along the filter side that needs
    fewer tap pairs (on a tie: the longer output side is the inner loop)."""
    cost_n = p["f_h"] * ((p["f_w"] + 1) // 2)
    cost_t = p["f_w"] * ((p["f_h"] + 1) // 2)
    if cost_t < cost_n or (cost_t == cost_n and p["out_h"] > p["out_w"]):
        return (p["f_w"], p["f_h"], p["stride_w"], p["stride_h"], p["dil_w"], p["dil_h"],
                p["out_w"], p["out_h"])
    return (p["f_h"], p["f_w"], p["stride_h"], p["stride_w"], p["dil_h"], p["dil_w"],
            p["out_h"], p["out_w"])


def _group_bytes(p: dict) -> int:
    """The group path's plane: 8 bytes per padded pixel."""
    return 8 * ((p["out_h"] - 1) * p["stride_h"] + (p["f_h"] - 1) * p["dil_h"] + 1) \
        * ((p["out_w"] - 1) * p["stride_w"] + (p["f_w"] - 1) * p["dil_w"] + 1)


def _uses_group(p: dict) -> bool:
    """``dw_use_group``: depth multiplier 1, at least 4 channels, at most 64
    taps, the group plane at most half the input, and no 3-row fast loop over
    rows of 8 outputs or more."""
    fr, fc, _, sc, _, dc, _, ocn = _rotated(p)
    return (p["depth_multiplier"] == 1 and p["in_c"] >= 4 and p["f_h"] * p["f_w"] <= 64
            and 2 * _group_bytes(p) <= p["in_h"] * p["in_w"] * p["in_c"]
            and not (fr == 3 and fc <= 3 and dc == 1 and sc in (1, 2) and ocn >= 8))


def depthwise_scratch_bytes(params: dict) -> int:
    """Scratch bytes of ``ek_depthwise_conv2d_s8`` for these conv parameters.

    The larger of the reference kernel's channel copy (``in_h * in_w``
    bytes) and the optimized kernel's int16 plane (``dw_geometry`` in
    kernels/optimized/ek_depthwise_conv.c: rows x columns covering every
    output's window, each dilation phase of the columns stored contiguously,
    rows of an even number of elements, plus 4 bytes read past the end).
    """
    p = params
    fr, fc, sr, sc, dr, dc, orn, ocn = _rotated(p)
    rows = (orn - 1) * sr + (fr - 1) * dr + 1
    cols = (ocn - 1) * sc + (fc - 1) * dc + 1
    row_len = (dc * -(-cols // dc) + 1) & ~1
    plane = 2 * rows * row_len + 4
    # Groups of 4 channels (dw_use_group): the plane then serves only the
    # channels left over (in_c % 4).
    need = p["in_h"] * p["in_w"]
    if _uses_group(p):
        need = max(need, _group_bytes(p))
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


#: ``ek_paths.h`` macros of ``ek_depthwise_conv2d_s8``'s paths
#: (kernels/optimized/ek_depthwise_conv.c): the reference loop, groups of four
#: channels, the 3-row assembly rows at column stride 1 and 2 (DSP cores), and the
#: generic plane loop on DSP cores (``_DSP``) and others (``_C``), and the generic
#: DSP loop's copies unrolled for 2 to 5 tap pairs per plane row (``EKOPT_DW_NP<n>``;
#: other counts, or a copy not listed, take its rolled loop) and its loop for a
#: one-row filter of other pair counts (``EKOPT_DW_ROW1``).
DEPTHWISE_PATHS = ("EKOPT_DW_REF", "EKOPT_DW_GROUP", "EKOPT_DW_THREE_S1", "EKOPT_DW_THREE_S2",
                   "EKOPT_DW_GENERIC_DSP", "EKOPT_DW_GENERIC_C",
                   "EKOPT_DW_NP2", "EKOPT_DW_NP3", "EKOPT_DW_NP4", "EKOPT_DW_NP5",
                   "EKOPT_DW_ROW1")


def depthwise_paths(low) -> frozenset[str]:
    """The paths of ``ek_depthwise_conv2d_s8`` this layer takes, on cores with and without DSP.

    Parameters
    ----------
    low : Lowered
        A DEPTHWISE_CONV_2D lowered by :func:`lower`.

    Returns
    -------
    frozenset of str
        Names from :data:`DEPTHWISE_PATHS`: the conditions of
        ``ek_depthwise_conv2d_s8`` (the generator always passes scratch),
        per output channel for the requantization of the 3-row rows.
    """
    p = low.params
    fr, fc, _, sc, _, dc, _, ocn = _rotated(p)
    if fr * ((fc + 1) // 2 + 1) > 128:      # EKDW_MAXPAIRS
        return frozenset({"EKOPT_DW_REF"})
    paths = set()
    first = 0
    if _uses_group(p):
        paths.add("EKOPT_DW_GROUP")
        first = p["in_c"] & ~3
    if first == p["in_c"]:
        return frozenset(paths)
    paths.add("EKOPT_DW_GENERIC_C")
    full = p["act_min"] <= -128 and p["act_max"] >= 127
    three = fr == 3 and fc <= 3 and dc == 1 and sc in (1, 2) and ocn >= 4
    m = p["depth_multiplier"]
    for oc in range(first * m, p["out_c"]):
        mult, rr = p["mult"][oc], -p["shift"][oc]
        if three and full and mult > 0 and 2 <= rr <= 22:
            paths.add("EKOPT_DW_THREE_S1" if sc == 1 else "EKOPT_DW_THREE_S2")
        else:
            paths.add("EKOPT_DW_GENERIC_DSP")
            if 2 <= (fc + 1) // 2 <= 5:
                paths.add(f"EKOPT_DW_NP{(fc + 1) // 2}")
            elif fr == 1 and dc == 1:               # dw_plane_row1
                paths.add("EKOPT_DW_ROW1")
    return frozenset(paths)
