"""CONV_2D: int8 activations, per-channel (or per-tensor) int8 filters."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import (Lowered, compute_padding, expected_out, fail, nhwc,
                                              require_activation, require_int8)
from edgekit.firmware_export.quant import activation_range, per_channel_multipliers


def conv_like(op, graph, depthwise: bool) -> Lowered:
    ins = graph.op_inputs(op)
    if len(ins) < 2 or ins[0] is None or ins[1] is None:
        raise fail(op, "needs input and filter tensors")
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int8(op, x, w, y)
    require_activation(op, x)
    if not w.is_const:
        raise fail(op, "filter must be a constant tensor")
    if b is not None and (b.dtype != "int32" or not b.is_const):
        raise fail(op, f"bias must be a constant int32 tensor (got {b.dtype})")
    if any(int(z) != 0 for z in w.zero_point):
        raise fail(op, "filter zero points must be 0 (symmetric int8 weights)")
    o = op.options
    n, ih, iw, ic = nhwc(op, x)
    _, oh, ow, oc = nhwc(op, y)
    wn, fh, fw, fc = nhwc(op, w)
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    if min(sh, sw, dh, dw) < 1:
        raise fail(op, f"strides/dilations must be >= 1 (got {sh},{sw},{dh},{dw})")
    if depthwise:
        if wn != 1 or fc != oc:
            raise fail(op, f"depthwise filter shape {list(w.shape)} does not match output {oc}")
        dm = oc // ic if ic else 0
        if dm * ic != oc:
            raise fail(op, f"output channels {oc} are not a multiple of input channels {ic}")
        f_in_c = 1
    else:
        if wn != oc or fc <= 0 or ic % fc:
            raise fail(op, f"filter shape {list(w.shape)} does not match input {ic} / output {oc}")
        dm = 1
        f_in_c = fc
    for name, got, exp in (("height", oh, expected_out(o["padding"], ih, fh, sh, dh)),
                           ("width", ow, expected_out(o["padding"], iw, fw, sw, dw))):
        if got != exp:
            raise fail(op, f"output {name} {got} does not match padding {o['padding']} ({exp})")
    if b is not None and b.num_elements != oc:
        raise fail(op, f"bias has {b.num_elements} entries for {oc} output channels")
    mult, shift = per_channel_multipliers(x.s, w.scale, y.s, oc)
    act_min, act_max = activation_range(o.get("activation", "NONE"), y.s, y.zp)
    params = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  f_h=fh, f_w=fw, f_in_c=f_in_c, stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw,
                  pad_h=compute_padding(o["padding"], ih, fh, sh, dh, oh),
                  pad_w=compute_padding(o["padding"], iw, fw, sw, dw, ow),
                  depth_multiplier=dm, in_offset=-x.zp, out_offset=y.zp,
                  act_min=act_min, act_max=act_max, mult=mult, shift=shift)
    kernel = "ek_depthwise_conv2d_s8" if depthwise else "ek_conv2d_s8"
    source = "ek_depthwise_conv.c" if depthwise else "ek_conv.c"
    return Lowered(kernel, "ek_conv_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source=source)


def conv_inplace_ok(params: dict) -> bool:
    """Whether ``ek_conv2d_s8`` may write its output over its input.

    Parameters
    ----------
    params : dict
        The ``ek_conv_params`` fields of a CONV_2D (``Lowered.params``).

    Returns
    -------
    bool
        True for a 1x1 convolution without groups or padding, stride 1 and
        ``out_c <= in_c``: output pixel i then lies over input pixels <= i,
        which every path of the kernels has read when it writes pixel i.
    """
    p = params
    return (p["f_h"] == p["f_w"] == 1 and p["pad_h"] == p["pad_w"] == 0
            and p["stride_h"] == p["stride_w"] == 1 and p["f_in_c"] == p["in_c"]
            and p["out_c"] <= p["in_c"] and (p["out_h"], p["out_w"]) == (p["in_h"], p["in_w"]))


#: The column path of the six-pixel im2col (kernels/optimized/ek_conv_cols.h):
#: the largest window (K rounded up to 4), filter copy (out_c * k4 bytes, on
#: the stack) and output channels (their constants on the stack) it takes
#: (``EKOPT_COLS_K``, ``EKOPT_COLS_W``, ``EKOPT_COLS_C`` in ek_conv.c).
COLS_K = 64
COLS_W = 512
COLS_C = 32
#: Layers with room in scratch for neither the column path's buffer nor the
#: six-pixel one run the column path with its buffer on the stack when it is
#: at most this many bytes (``EKOPT_CONV_COLS_STACK``; instead of
#: ``EKOPT_CONV_SIX_STACK``).
COLS_STACK = 1280
#: A layer (not 1x1) with room in scratch for no im2col buffer runs the
#: two-pixel path with its buffer (``4 * k4`` bytes, plus ``k4`` for a gathered
#: window) on the stack when it is at most this many bytes
#: (``EKOPT_CONV_TWO_STACK``), instead of the run-based loop.
TWO_STACK = 1280


def cols_ok(params: dict, has_bias: bool) -> bool:
    """Whether the CONV_2D may take the six-pixel column path (``EKOPT_CONV_SIX_COLS``).

    ``ekopt_cols_ok`` of kernels/optimized/ek_conv.c: a bias, no dilation,
    filter rows (f_w * in_c bytes) not whole 4-byte chunks, not 1x1 (their
    gather, ``EKOPT_CONV_SIX_1X1``, reads each window once), a window of at
    most :data:`COLS_K` bytes (rounded up to 4), out_c <= :data:`COLS_C`, out_c * k4
    <= :data:`COLS_W`, output rows of >= 6 pixels, the output offset within int8
    and every channel's multiplier positive (or 0) with a right shift of
    1..22 (the six-pixel asm channel loop).  Its buffer: :func:`cols_bytes`.
    """
    p = params
    k4 = (p["f_h"] * p["f_w"] * p["in_c"] + 3) & ~3
    return (has_bias and p["f_in_c"] == p["in_c"] and not dilated(p)
            and (p["f_w"] * p["in_c"]) % 4 != 0 and p["f_h"] * p["f_w"] > 1 and k4 <= COLS_K
            and p["out_c"] <= COLS_C and p["out_c"] * k4 <= COLS_W
            and p["out_w"] >= 6
            and -128 <= p["out_offset"] <= 127
            and all((m == 0 or m > 0) and -22 <= s <= -1 for m, s in zip(p["mult"], p["shift"])))


def cols_bytes(params: dict) -> int:
    """Scratch bytes of the column path (``ekopt_cols_bytes``): the six-pixel
    buffer (12 * k4), then two output rows' input columns ((out_w - 1) *
    stride_w + f_w of them, f_h * in_c bytes each; each rounded up to 4),
    plus 4."""
    p = params
    k4 = (p["f_h"] * p["f_w"] * p["in_c"] + 3) & ~3
    ncol = (p["out_w"] - 1) * p["stride_w"] + p["f_w"]
    return 12 * k4 + 2 * ((ncol * p["f_h"] * p["in_c"] + 3) & ~3) + 4


def conv_scratch_options(params: dict, inplace: bool, has_bias: bool = True) -> list[int]:
    """Scratch sizes ``ek_conv2d_s8`` can run with, fastest path first.

    Parameters
    ----------
    params : dict
        The ``ek_conv_params`` fields of a CONV_2D (``Lowered.params``).
    inplace : bool
        The output may lie over the input (:func:`conv_inplace_ok`).

    Returns
    -------
    list of int
        Strictly decreasing byte counts: :func:`conv_scratch`'s, then those
        of the slower paths the layer may fall back to (two-pixel im2col,
        then none: run-based loops).  The kernel takes the fastest path
        whose buffer fits in ``params["scratch_bytes"]``, so a generator
        that must not grow the arena may give a layer a later option
        (``Lowered.scratch`` and ``params["scratch_bytes"]`` both).
    """
    p = params
    k4 = (p["f_h"] * p["f_w"] * p["in_c"] + 3) & ~3
    win = window_bytes(p)
    floor = 2 * p["out_c"] if inplace else 0     # 0: the call passes NULL
    opts = [conv_scratch(p, inplace, has_bias)]
    # the column path's fallback: the six-pixel buffer (with its byte window)
    six = (12 * k4 + win,) if cols_ok(p, has_bias) else ()
    for n in (*six, (4 * k4 + win) if k4 <= 576 else 0, floor):
        if floor <= n < opts[-1]:
            opts.append(n)
    return opts


def dilated(params: dict) -> bool:
    """Whether the CONV_2D has a dilation other than 1."""
    return params["dil_h"] != 1 or params["dil_w"] != 1


def window_bytes(params: dict) -> int:
    """Bytes of the im2col paths' byte window (after their int16 buffer).

    The window K = f_h * f_w * in_c rounded up to 4 when a filter row
    (f_w * in_c bytes) is not whole 4-byte chunks, or the convolution is
    dilated (its taps gathered one by one, ``ekopt_col_dilated``); else 0.
    """
    p = params
    k4 = (p["f_h"] * p["f_w"] * p["in_c"] + 3) & ~3
    return k4 if (p["f_w"] * p["in_c"]) % 4 or dilated(p) else 0


def conv_scratch(params: dict, inplace: bool, has_bias: bool = True) -> int:
    """Scratch bytes ``ek_conv2d_s8`` needs for the path this layer takes.

    Parameters
    ----------
    params : dict
        The ``ek_conv_params`` fields of a CONV_2D (``Lowered.params``).
    inplace : bool
        The output may lie over the input (:func:`conv_inplace_ok`).

    Returns
    -------
    int
        The largest need of the two kernel sets, at least 4 (the kernel
        always takes the argument): on cores with the DSP extension, the
        im2col buffer of six int16 pixels (12 bytes per window byte, the
        window K = f_h * f_w * in_c rounded up to 4) when the six-pixel
        path applies (>= 6 output pixels, K <= 288, output offset within
        int8, every channel's right shift within 1..31 or a zero multiplier;
        any activation range: a narrower one is clamped after the path),
        else of two pixels (4 bytes per window byte) up to K = 576, plus K
        (rounded up) when a filter row f_w * in_c is not a multiple of 4 or
        the convolution is dilated (:func:`window_bytes`); in place
        also two output pixels for the plain-C 1x1 path (2 * out_c) and one
        for the reference loop (out_c).  The conditions are those of
        kernels/optimized/ek_conv.c.  Layers that may take the column path
        (:func:`cols_ok`; ``has_bias``: the layer has a bias) need the
        larger of the six-pixel buffer and :func:`cols_bytes`.
    """
    p = params
    k4 = (p["f_h"] * p["f_w"] * p["in_c"] + 3) & ~3
    npix = p["batches"] * p["out_h"] * p["out_w"]
    ms = list(zip(p["mult"], p["shift"]))
    fast = (p["f_in_c"] == p["in_c"]
            and all(m != -(1 << 31) and -31 <= s <= 31 for m, s in ms))
    need = p["out_c"] if inplace else 0
    if fast:
        six = (npix >= 6 and k4 <= 288 and -128 <= p["out_offset"] <= 127
               and all(m == 0 or (m > 0 and -31 <= s <= -1) for m, s in ms))
        # Rows of the window that are not whole 4-byte chunks, and dilated
        # windows, are gathered in a K-byte (rounded up to 4) buffer after
        # the im2col buffer.
        win = window_bytes(p)
        if six and cols_ok(p, has_bias):
            need = max(need, 12 * k4 + win, cols_bytes(p))
        elif six:
            need = max(need, 12 * k4 + win)
        elif k4 <= 576:
            need = max(need, 4 * k4 + win)
        if inplace:
            need = max(need, 2 * p["out_c"])
    return max(need, 4)


#: ``ek_paths.h`` macros of ``ek_conv2d_s8``'s paths (kernels/optimized/ek_conv.c):
#: the reference loop, the six- and two-pixel im2col paths (DSP cores; the six-pixel
#: asm channel loop ``ekopt_dsp6_channels``: ``EKOPT_CONV_SIX_CH``, for windows
#: K % 4 != 0 ``EKOPT_CONV_SIX_TAIL`` too; its clamp of an activation range
#: narrower than int8: ``EKOPT_CONV_SIX_CLAMP``; its gather of 1x1 windows over odd
#: channel counts: ``EKOPT_CONV_SIX_1X1``; its column path ``EKOPT_CONV_SIX_COLS``,
#: with its buffer on the stack ``EKOPT_CONV_COLS_STACK``; the two-pixel path's
#: buffer on the stack ``EKOPT_CONV_TWO_STACK``) and their
#: gather of dilated windows (``EKOPT_CONV_DIL``), and the 1x1 and run-based
#: loops as DSP cores (``_DSP``) and other cores (``_C``) take them; the six-pixel
#: path's channel-pair loop for a window of K bytes (``EKOPT_CONV_PAIR<K>``,
#: kernels/optimized/ek_conv_pair.h: K a multiple of 32 up to 288, or 40: a 10x4
#: filter on one channel, KWS's stem).
PAIR_WINDOWS = (40, *range(32, 289, 32))
#: Windows (not 1x1) of at most this many bytes (K rounded up to 4) run the six-pixel path with
#: its buffer (``12 * k4`` bytes, plus ``k4`` for a gathered window: <= 624) on the
#: stack when the arena gives no room for it (``EKOPT_CONV_SIX_STACK``; the
#: emulator's stack high-water mark counts it, not the arena).
SIX_STACK_K = 48
CONV_PATHS = ("EKOPT_CONV_REF", "EKOPT_CONV_SIX", "EKOPT_CONV_SIX_CH", "EKOPT_CONV_SIX_TAIL",
              "EKOPT_CONV_SIX_CLAMP", "EKOPT_CONV_SIX_1X1", "EKOPT_CONV_SIX_ROWS",
              "EKOPT_CONV_SIX_STACK", "EKOPT_CONV_SIX_COLS", "EKOPT_CONV_COLS_STACK",
              "EKOPT_CONV_TWO", "EKOPT_CONV_TWO_STACK",
              "EKOPT_CONV_DIL",
              "EKOPT_CONV_1X1_DSP", "EKOPT_CONV_RUN_DSP", "EKOPT_CONV_1X1_C", "EKOPT_CONV_RUN_C",
              *(f"EKOPT_CONV_PAIR{k}" for k in PAIR_WINDOWS))


def conv_paths(low: Lowered) -> frozenset[str]:
    """The paths of ``ek_conv2d_s8`` this layer takes, on cores with and without DSP.

    Parameters
    ----------
    low : Lowered
        A CONV_2D lowered by :func:`lower`, ``params["scratch_bytes"]`` final
        (after :func:`edgekit.firmware_export.codegen.fit_scratch`).

    Returns
    -------
    frozenset of str
        Names from :data:`CONV_PATHS`: the conditions of ``ek_conv2d_s8``
        in kernels/optimized/ek_conv.c, evaluated here so that the generated
        ``ek_paths.h`` compiles only the paths a model's layers take.
    """
    p = low.params
    ms = list(zip(p["mult"], p["shift"]))
    if (p["f_in_c"] != p["in_c"]
            or not all(m != -(1 << 31) and -31 <= s <= 31 for m, s in ms)):
        return frozenset({"EKOPT_CONV_REF"})
    # Dilated: the im2col paths on DSP cores, else the reference loop.
    plain = ("EKOPT_CONV_REF" if dilated(p)
             else "EKOPT_CONV_1X1" if p["f_h"] == p["f_w"] == 1 and p["pad_h"] == p["pad_w"] == 0
             else "EKOPT_CONV_RUN")
    c_path = plain if dilated(p) else plain + "_C"
    K = p["f_h"] * p["f_w"] * p["in_c"]
    k4 = (K + 3) & ~3
    win = window_bytes(p)
    npix = p["batches"] * p["out_h"] * p["out_w"]
    six_ok = (-128 <= p["out_offset"] <= 127
              and all(m == 0 or (m > 0 and -31 <= s <= -1) for m, s in ms))
    six_room = 12 * k4 + win <= p["scratch_bytes"]
    if cols_ok(p, low.args[2] is not None) and (
            cols_bytes(p) <= p["scratch_bytes"] or (not six_room and cols_bytes(p) <= COLS_STACK)):
        # the column path (ek_conv_cols.h), its buffer in scratch or else on
        # the stack, its asm channel loop, a narrower activation clamped after it
        dsp = {"EKOPT_CONV_SIX", "EKOPT_CONV_SIX_COLS", "EKOPT_CONV_SIX_CH"}
        if cols_bytes(p) > p["scratch_bytes"]:
            dsp.add("EKOPT_CONV_COLS_STACK")
        if (p["act_min"], p["act_max"]) != (-128, 127):
            dsp.add("EKOPT_CONV_SIX_CLAMP")
        return frozenset(dsp | {c_path})
    # small windows with no room in scratch: the six-pixel buffer on the stack
    # (not 1x1 windows: their buffer-less loops are as fast)
    six_stack = not six_room and k4 <= SIX_STACK_K and p["f_h"] * p["f_w"] > 1
    if npix >= 6 and 3 * k4 <= 864 and (six_room or six_stack) and six_ok:
        dsp = {"EKOPT_CONV_SIX"}
        if six_stack:
            dsp.add("EKOPT_CONV_SIX_STACK")
        # a fused activation narrower than int8, clamped after the path (ekopt_clamp_s8)
        if (p["act_min"], p["act_max"]) != (-128, 127):
            dsp.add("EKOPT_CONV_SIX_CLAMP")
        # ekopt_conv_dsp6's asm channel loops (its `fast`): the channel-pair
        # loop (ek_conv_pair.h) for an even out_c, a pair window and right
        # shifts of at least 2, else ekopt_dsp6_channels (over a window of
        # K % 4 != 0: with its tail)
        fast = (low.args[2] is not None and p["out_c"] >= (2 if K % 4 else 1)
                and all(-22 <= s <= -1 for s in p["shift"]))
        if (fast and K in PAIR_WINDOWS and p["out_c"] % 2 == 0
                and all(s <= -2 for s in p["shift"])):
            dsp.add(f"EKOPT_CONV_PAIR{K}")
        elif fast:
            dsp.add("EKOPT_CONV_SIX_CH")
            if K % 4:
                dsp.add("EKOPT_CONV_SIX_TAIL")
        # ekopt_conv_dsp6's gather of 1x1 windows at stride 1 over odd
        # channel counts (more than one group of six pixels).
        one1 = (p["f_h"] == p["f_w"] == 1 and p["stride_h"] == p["stride_w"] == 1
                and p["pad_h"] == p["pad_w"] == 0 and not dilated(p))
        if one1 and p["in_c"] % 4 and npix > 6:
            dsp.add("EKOPT_CONV_SIX_1X1")
        # windows of K <= 60 bytes whose rows are not whole chunks, through tmp
        if (p["f_w"] * p["in_c"]) % 4 and not dilated(p) and K <= 60:
            dsp.add("EKOPT_CONV_SIX_ROWS")
    elif K <= 576 and 4 * k4 + win <= p["scratch_bytes"]:
        dsp = {"EKOPT_CONV_TWO"}
    elif K <= 576 and 4 * k4 + win <= TWO_STACK and p["f_h"] * p["f_w"] > 1:
        # no room in scratch: a small two-pixel buffer on the stack
        dsp = {"EKOPT_CONV_TWO", "EKOPT_CONV_TWO_STACK"}
    else:
        dsp = {c_path if dilated(p) else plain + "_DSP"}
    if dilated(p) and dsp & {"EKOPT_CONV_SIX", "EKOPT_CONV_TWO"}:
        dsp.add("EKOPT_CONV_DIL")
    return frozenset(dsp | {c_path})


def lower(op, graph) -> Lowered:
    low = conv_like(op, graph, depthwise=False)
    inplace = conv_inplace_ok(low.params)
    opts = conv_scratch_options(low.params, inplace, low.args[2] is not None)
    low.scratch, low.scratch_options = opts[0], tuple(opts[1:])
    low.scratch_param = "scratch_bytes"
    low.params["scratch_bytes"] = low.scratch
    if inplace:
        low.inplace = (low.args[0],)
    return low
