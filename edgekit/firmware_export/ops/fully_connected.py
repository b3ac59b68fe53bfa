"""FULLY_CONNECTED: int8 input, int8 weights [units, accum], int32 bias."""

from __future__ import annotations

from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.quant import activation_range, f32, quantize_multiplier


def lower(op, graph) -> Lowered:
    ins = graph.op_inputs(op)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = graph.op_outputs(op)[0]
    require_int8(op, x, w, y)
    if not w.is_const or len(w.shape) != 2:
        raise fail(op, "weights must be a constant 2-D tensor")
    if op.options.get("weights_format", 0) != 0:
        raise fail(op, "shuffled weight formats are not supported")
    if b is not None and (b.dtype != "int32" or not b.is_const):
        raise fail(op, f"bias must be a constant int32 tensor (got {b.dtype})")
    units, accum = (int(d) for d in w.shape)
    if accum <= 0 or x.num_elements % accum:
        raise fail(op, f"input of {x.num_elements} elements is not a multiple of {accum}")
    batches = x.num_elements // accum
    if y.num_elements != batches * units:
        raise fail(op, f"output has {y.num_elements} elements, expected {batches * units}")
    per_channel = len(w.scale) > 1
    if per_channel:
        mult, shift = [], []
        for s in w.scale:
            m, sh = quantize_multiplier(f32(x.s) * float(s) / f32(y.s))
            mult.append(m)
            shift.append(sh)
    else:
        # TFLite (GetQuantizedConvolutionMultipler): the product of the two
        # scales in double, divided by the output scale in double.
        m, sh = quantize_multiplier(f32(x.s) * f32(w.s) / f32(y.s))
        mult, shift = [m], [sh]
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), y.s, y.zp)
    rq = rq2_table(mult, shift, y.zp)
    if rq is not None and tiny_layer(accum, units, -w.zp, y.zp, act_min, act_max):
        bias = [int(v) for v in b.data.reshape(-1)] if b is not None else [0] * units
        rq = rq + tiny_table(w.data, bias, rq)
    params = dict(batches=batches, accum=accum, units=units, in_offset=-x.zp,
                  filter_offset=-w.zp, out_offset=y.zp, act_min=act_min, act_max=act_max,
                  per_channel=int(per_channel), mult=mult, shift=shift,
                  rq=rq if rq is not None else 0)
    return Lowered("ek_fully_connected_s8", "ek_fc_params", params,
                   [x.index, w.index, b.index if b is not None else None, y.index],
                   source="ek_fully_connected.c")


def rq2_table(mult: list[int], shift: list[int], zp: int) -> list[int] | None:
    """The optimized kernel's requantization constants, or None where they do not apply.

    Per multiplier (and shift), ``clo, chi, mult, rs1`` of ``ekopt_rq2_make``
    (kernels/optimized/ek_opt_requant.h) with the output offset ``zp``
    folded: ``ek_mbqm(acc, mult, shift) + zp`` as one 64-bit
    multiply-accumulate and a shift, for multipliers 0 or positive with right
    shifts 1..31 (up to 22 unless ``zp`` is 0).

    Parameters
    ----------
    mult, shift : list of int
        Quantized multipliers and shifts (one, or one per unit).
    zp : int
        Output zero point, in [-128, 127].

    Returns
    -------
    list of int or None
        Four int32 per multiplier, in order; None when one multiplier or
        shift is outside that range (the kernel then derives its constants).
    """
    out = []
    for m, sh in zip(mult, shift):
        if not (m == 0 or (m > 0 and -31 <= sh <= -1)) or not (sh >= -22 or zp == 0):
            return None
        rs1 = -sh - 1 if m else 0
        clo = (0x40000000 | (0x80000000 << rs1)) & 0xFFFFFFFF
        zf = zp if sh >= -22 else 0
        chi = (((1 + 2 * zf) << rs1) & 0xFFFFFFFF)
        chi = (chi - (1 << 32) if chi >= 1 << 31 else chi) >> 1
        out += [clo - (1 << 32) if clo >= 1 << 31 else clo, chi, m, rs1]
    return out


#: Row lengths (inputs) of ``ek_fc_tiny.h``'s path, one function each (``EKOPT_FC_TINY<A>``).
TINY_ACCUM = range(9, 16)
#: At most this many units take ``_TINY<A>`` (its table: <= 52 B per unit).
TINY_MAX_UNITS = 32


def tiny_layer(accum: int, units: int, filter_offset: int, out_offset: int, act_min: int,
               act_max: int) -> bool:
    """Whether a layer takes ``ek_fc_tiny.h``'s path (given a requantization table).

    Parameters
    ----------
    accum, units : int
        Inputs per row and outputs per row.
    filter_offset, out_offset : int
        Minus the weights' zero point; the output zero point.
    act_min, act_max : int
        The activation range.

    Returns
    -------
    bool
        ``accum`` in :data:`TINY_ACCUM`, 1 to :data:`TINY_MAX_UNITS` units,
        symmetric weights, an int8 output offset and the range all of int8.
    """
    return (accum in TINY_ACCUM and 1 <= units <= TINY_MAX_UNITS and filter_offset == 0
            and -128 <= out_offset <= 127 and (act_min, act_max) == (-128, 127))


def tiny_table(w, bias: list[int], rq: list[int]) -> list[int]:
    """The table ``ek_fc_tiny.h`` reads: per unit its bias, weights widened, requantization.

    Inputs are widened in SXTAB16's pairing, ``(x0, x2), (x1, x3)`` per four,
    so a unit's weights become int16 pairs in int32 words ``(w0, w2), (w1,
    w3), (w4, w6), ...`` (first of a pair in the low halfword); its last
    ``accum % 4`` weights ``(wa, 0)`` for one, ``(wa, 0), (wb, 0)`` for two,
    ``(wa, wc), (wb, 0)`` for three (``wa, wb, wc`` in order).  Then the unit's
    four :func:`rq2_table` constants.

    Parameters
    ----------
    w : numpy.ndarray
        int8 weights, ``[units, accum]``.
    bias : list of int
        One per unit (zeros for a layer without bias).
    rq : list of int
        :func:`rq2_table`'s constants: four, or four per unit.

    Returns
    -------
    list of int
        ``1 + pairs + 4`` signed int32 words per unit, unit after unit.
    """
    out = []
    units, accum = w.shape
    body = accum - accum % 4
    for u, row in enumerate(w.reshape(units, accum).astype(int).tolist()):
        pairs = []
        for j in range(0, body, 4):
            pairs += [(row[j], row[j + 2]), (row[j + 1], row[j + 3])]
        t = row[body:]
        if len(t) == 1:
            pairs.append((t[0], 0))
        elif len(t) == 2:
            pairs += [(t[0], 0), (t[1], 0)]
        elif len(t) == 3:
            pairs += [(t[0], t[2]), (t[1], 0)]
        out.append(bias[u])
        for lo, hi in pairs:
            v = (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)
            out.append(v - (1 << 32) if v >= 1 << 31 else v)
        k = 4 * u if len(rq) > 4 else 0
        out += rq[k:k + 4]
    return out


#: ``ek_paths.h`` macros of ``ek_fully_connected_s8``'s paths
#: (kernels/optimized/ek_fully_connected.c): the reference loop, the asm unit loop (and
#: its per-channel constants, ``_UNITS_PC``; its zeros for a layer without bias,
#: ``_UNITS_NOBIAS``)
#: and the C loop over the widened input row (DSP cores), the loop of a unit per pass
#: for fewer than 8 inputs (``_SMALL``, DSP cores), and the plain-C loop on
#: DSP cores (``_DSP``) and others (``_C``).
#: ``_TINY<A>``: the function for rows of A inputs (kernels/optimized/ek_fc_tiny.h, DSP
#: cores, A in :data:`TINY_ACCUM`, with the requantization table).
FC_PATHS = ("EKOPT_FC_REF", "EKOPT_FC_UNITS", "EKOPT_FC_UNITS_PC", "EKOPT_FC_UNITS_NOBIAS",
            "EKOPT_FC_LOOP", "EKOPT_FC_SMALL", "EKOPT_FC_PLAIN_DSP", "EKOPT_FC_PLAIN_C",
            *(f"EKOPT_FC_TINY{a}" for a in TINY_ACCUM))
#: A model lists ``EKOPT_FC_UNITS_NOBIAS`` (its layers without bias take the asm
#: unit loop, reading zeros for the bias) when one of them has this many outputs
#: (batches x units, e.g. the LMU's hidden layer); else they keep the C loop
#: (a classifier alone is not worth the asm loop's code).
NOBIAS_MIN_OUTPUTS = 64


def nobias_candidate(low: Lowered) -> bool:
    """Whether this FULLY_CONNECTED makes its model list ``EKOPT_FC_UNITS_NOBIAS``.

    Parameters
    ----------
    low : Lowered
        A FULLY_CONNECTED lowered by :func:`lower`.

    Returns
    -------
    bool
        No bias and at least :data:`NOBIAS_MIN_OUTPUTS` outputs.
    """
    p = low.params
    return low.args[2] is None and p["batches"] * p["units"] >= NOBIAS_MIN_OUTPUTS


def fc_paths(low: Lowered, nobias_units: bool | None = None) -> frozenset[str]:
    """The paths of ``ek_fully_connected_s8`` this layer takes, on cores with and without DSP.

    Parameters
    ----------
    low : Lowered
        A FULLY_CONNECTED lowered by :func:`lower`.
    nobias_units : bool, optional
        Whether the model lists ``EKOPT_FC_UNITS_NOBIAS`` (a layer of it is a
        :func:`nobias_candidate`; :func:`edgekit.firmware_export.kernel_paths.kernel_paths`
        passes it); None: as if this layer were the model's only one.

    Returns
    -------
    frozenset of str
        Names from :data:`FC_PATHS`: the conditions of ``ek_fully_connected_s8``,
        for weights as the generator places them (16-byte aligned).
    """
    p, has_bias = low.params, low.args[2] is not None
    n = p["units"] if p["per_channel"] else 1
    ms = list(zip(p["mult"][:n], p["shift"][:n]))
    if p["filter_offset"] != 0 or not all(m != -(1 << 31) and -31 <= s <= 31 for m, s in ms):
        return frozenset({"EKOPT_FC_REF"})
    A = p["accum"]
    if 1 <= A < 8 and -128 <= p["out_offset"] <= 127:
        return frozenset({"EKOPT_FC_SMALL", "EKOPT_FC_PLAIN_C"})
    if not (8 <= A <= 1024 and -128 <= p["out_offset"] <= 127):
        return frozenset({"EKOPT_FC_PLAIN_DSP", "EKOPT_FC_PLAIN_C"})
    if p.get("rq", 0) != 0 and tiny_layer(A, p["units"], p["filter_offset"], p["out_offset"],
                                         p["act_min"], p["act_max"]):
        return frozenset({f"EKOPT_FC_TINY{A}", "EKOPT_FC_PLAIN_C"})
    # The asm unit loop: the even units, when every unit's requantization
    # (one per tensor, or each channel's) folds the output offset (ekopt_rq2).
    fast = (A % 8 == 0 and (p["act_min"], p["act_max"]) == (-128, 127)
            and (has_bias or (nobias_candidate(low) if nobias_units is None else nobias_units))
            and p.get("rq", 0) != 0)
    even = p["units"] & ~1 if fast else 0
    paths = {"EKOPT_FC_PLAIN_C"}
    if even:
        paths.add("EKOPT_FC_UNITS")
        if not has_bias:
            paths.add("EKOPT_FC_UNITS_NOBIAS")  # its block of zeros for the bias
        if p["per_channel"]:
            paths.add("EKOPT_FC_UNITS_PC")      # its per-unit constants
    if even < p["units"]:
        paths.add("EKOPT_FC_LOOP")
    return frozenset(paths)
