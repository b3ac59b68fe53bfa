"""EK_CODE_ADD: an int8 ADD one of whose inputs holds one of a few codes, by two int16 tables.

Made by :func:`edgekit.firmware_export.passes.code_add.code_adds` for an ADD
of two activation tensors of one size where one input is proven to hold one
of at most :data:`MAX_CODES` codes (a spike tensor, or the sum of two spike
tensors: in the spiking LMUFormer, the residual ``x1 + mix2(...)`` with
``x1 = x0 + spikes``).  Per element, ``f`` the few-code input and ``d`` the
other::

    out = ssat8((f_lut[(f & 255) >> fsh] + d_lut[d & 255] + add) >> sh)

the tables (int16) a solution of the difference constraints of every pair
(few code, any code) (:func:`edgekit.firmware_export.ops.lif_bn.sum_tables16`),
checked against TFLite's int8 ADD on every such pair (``add`` holds ``-128
<< sh``, in the few codes' entries where they stay int16: ``add`` 0, kernel
``ek_code_add_s8``, else ``ek_code_addc_s8``); ``fsh`` is the largest shift
that keeps the few codes' low bytes apart (the spike codes -128 / 127: 7, a
two-entry table).  With all 65,536 pairs the
constraints often have no int16 solution; with a few rows they do.
"""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.ops import add as add_op
from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.ops.lif_bn import CODES, add_codes, sum_tables16
from edgekit.firmware_export.ops.lif_layer import pack_int16

__all__ = ["MAX_CODES", "OPCODE", "code_add_params", "fold_add", "lower"]

#: Opcode of a rewritten ADD (no TFLite op has it).
OPCODE = "EK_CODE_ADD"
#: Codes the few-code input may take.
MAX_CODES = 4
#: ``ek_code_add_params`` fields, in struct order.
FIELDS = ("size", "sh", "add", "fsh", "f_lut", "d_lut")


def fold_add(tf: np.ndarray, add: int) -> tuple[np.ndarray, int]:
    """``(tf + add, 0)`` when the few codes' entries stay int16 with the
    constant, else ``(tf, add)`` (the kernel adds it: ``ek_code_addc_s8``)."""
    if np.abs(tf + add).max() < 1 << 15:
        return tf + add, 0
    return tf, add


def code_add_params(op, graph, codes: tuple, side: int) -> dict:
    """The ``ek_code_add_params`` of an ADD whose input ``side`` (0 or 1)
    holds one of ``codes``.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the ADD broadcasts or is not int8, there are too many codes, or
        no int16 tables give its results.
    """
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int8(op, a, b, y)
    if a.is_const or b.is_const or not a.num_elements == b.num_elements == y.num_elements:
        raise fail(op, "a code ADD needs two activation inputs of the output's size")
    codes = sorted({int(c) for c in codes})
    if not 1 <= len(codes) <= MAX_CODES:
        raise fail(op, f"a code ADD's input holds at most {MAX_CODES} codes")
    p = add_op.add_params(op, graph)
    few = np.asarray(codes, np.int64)[:, None]
    target = (add_codes(p, few, CODES[None, :]) if side == 0
              else add_codes(p, CODES[None, :], few)) + 128
    found = sum_tables16(target)
    if found is None:
        raise fail(op, "no int16 tables give this ADD's codes")
    sh, add, tf, td = found
    # the output code itself: ssat8(... - 128 << sh), the constant into the few
    # codes' entries where they stay int16 (ek_code_add_s8: no constant)
    tf, add = fold_add(tf, add - (128 << sh))
    # the few codes' table by their low byte >> fsh: the largest shift keeping them apart
    low = np.asarray(codes, np.int64) & 0xFF
    fsh = next(k for k in range(7, -1, -1) if len(set((low >> k).tolist())) == len(codes))
    f_lut = np.zeros(256 >> fsh, np.int64)
    f_lut[low >> fsh] = tf
    got = np.clip((tf[:, None] + td[None, :] + add) >> sh, -128, 127) + 128
    if not np.array_equal(got, target):
        raise fail(op, "the code ADD's tables differ from TFLite's on some pair")
    return dict(size=y.num_elements, sh=sh, add=add, fsh=fsh, f_lut=pack_int16(f_lut),
                d_lut=pack_int16(np.roll(td, -128)))


def lower(op, graph) -> Lowered:
    """Lower an ``EK_CODE_ADD`` op (inputs and output those of the file's
    ADD; ``options["codes"]`` the few codes, ``options["side"]`` their input)."""
    p = code_add_params(op.options["layer"], graph, op.options["codes"], op.options["side"])
    few, dense = op.inputs if op.options["side"] == 0 else op.inputs[::-1]
    # element i of each input is read before element i of the output is written
    kernel = "ek_code_add_s8" if p["add"] == 0 else "ek_code_addc_s8"
    return Lowered(kernel, "ek_code_add_params", {k: p[k] for k in FIELDS},
                   [few, dense, op.outputs[0]], source="ek_code_add.c", inplace=(few, dense))
