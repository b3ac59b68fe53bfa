"""EK_SPIKE_ADD: an int8 ADD of two spike tensors, by a table of its four results.

:func:`edgekit.firmware_export.passes.spike_sparse.sparse_spikes` proves that
each input holds one of two codes (``off``, ``on``), so the ADD's output is
one of four values, which this module computes at export time with the int8
ADD's arithmetic (:func:`.lif.add_one`, TFLite's): the kernel
(``kernels/ek_spike_add.c``) picks one per element by the two inputs' spike
bits.  In the spiking LMUFormer it is the residual ``x0 + h`` of two LIF
layers' spikes.
"""

from __future__ import annotations

from edgekit.firmware_export.ops import add as add_op
from edgekit.firmware_export.ops.base import Lowered, fail, require_int8
from edgekit.firmware_export.ops.lif import add_one
from edgekit.firmware_export.quant import wrap32

__all__ = ["OPCODE", "lower", "spike_add_params"]

#: Opcode of a rewritten ADD (no TFLite op has it).
OPCODE = "EK_SPIKE_ADD"


def spike_add_params(op, graph, codes: tuple) -> dict:
    """The ``ek_spike_add_params`` of an ADD whose inputs are spike tensors.

    Parameters
    ----------
    op : Operator
        The file's ADD: two activation inputs and the output, with equal
        element counts (no broadcast).
    graph : Graph
    codes : ((int, int), (int, int))
        Each input's ``(off, on)`` codes.

    Returns
    -------
    dict
        The fields of ``ek_spike_add_params`` (``kernels/ek_kernels.h``):
        per input the bit where its codes differ (``b``, in every byte;
        ``sh`` its position) and the complemented on code (``non``, every
        byte); the four results as words (``y00`` both off, ``d1``, ``d2``,
        ``d3`` the changes by input 1 on, input 2 on, and both).

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the ADD broadcasts, is not int8, or its size is not a multiple of 4.
    """
    a, b = graph.op_inputs(op)[:2]
    y = graph.op_outputs(op)[0]
    require_int8(op, a, b, y)
    if a.is_const or b.is_const or not a.num_elements == b.num_elements == y.num_elements:
        raise fail(op, "a spike ADD needs two activation inputs of the output's size")
    if y.num_elements % 4:
        raise fail(op, "a spike ADD runs four elements per word")
    p = add_op.add_params(op, graph)
    (off1, on1), (off2, on2) = codes
    lut = [add_one(p, on1 if k & 1 else off1, on2 if k & 2 else off2) & 0xFF for k in range(4)]
    words = [0x01010101 * v for v in lut]
    out = dict(size=y.num_elements)
    for k, (off, on) in ((1, codes[0]), (2, codes[1])):
        diff = (on ^ off) & 0xFF
        bit = diff & -diff                  # a bit where the two codes differ
        out.update({f"sh{k}": bit.bit_length() - 1, f"non{k}": ~(0x01010101 * (on & 0xFF)),
                    f"b{k}": 0x01010101 * bit})
    out.update(y00=words[0], d1=words[0] ^ words[1], d2=words[0] ^ words[2],
               d3=words[0] ^ words[1] ^ words[2] ^ words[3])
    return {k: wrap32(v) for k, v in out.items()}       # the words as int32 fields


def lower(op, graph) -> Lowered:
    """Lower an ``EK_SPIKE_ADD`` op (inputs and output those of the file's ADD,
    ``options["codes"]`` the inputs' codes)."""
    params = spike_add_params(op.options["layer"], graph, op.options["codes"])
    # element i of each input is read before element i of the output is written
    return Lowered("ek_spike_add_s8", "ek_spike_add_params", params,
                   [op.inputs[0], op.inputs[1], op.outputs[0]], source="ek_spike_add.c",
                   inplace=(op.inputs[0], op.inputs[1]))
