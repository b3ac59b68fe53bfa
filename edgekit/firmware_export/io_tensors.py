"""A model's data inputs and outputs as the generated C API carries them.

Streaming state pairs (:meth:`Graph.state_pairs`) are not data: they live in
static buffers of the generated code.  Every other graph input and output is
a data tensor; ``edgekit_invoke`` takes the inputs' raw bytes concatenated
in the file's order and writes the outputs' likewise (``edgekit_invoke_io``:
one buffer per tensor).
"""

from __future__ import annotations

from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export.graph import Graph
from edgekit.firmware_export.planner import MemoryPlan

__all__ = ["IO_DTYPES", "data_io", "data_tensors", "frames_per_call", "io_specs"]

#: Element types a data input or output may have (raw bytes cross the C API).
IO_DTYPES = frozenset({"int8", "int16", "uint8", "float32"})


def data_tensors(graph: Graph) -> tuple[list[int], list[int]]:
    """The data inputs and outputs (streaming state excluded), in the file's order.

    Parameters
    ----------
    graph : Graph

    Returns
    -------
    inputs, outputs : list of int
        Tensor indices; the generated ``edgekit_invoke`` takes the inputs'
        bytes concatenated in this order and writes the outputs' likewise.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the model has no data input or output, one of a type the C API
        does not carry (:data:`IO_DTYPES`), a constant output, or state
        tensors that differ in size or type.
    """
    states = graph.state_pairs()
    ins = [t for t in graph.inputs if t not in {a for a, _ in states}]
    outs = [t for t in graph.outputs if t not in {b for _, b in states}]
    if not ins or not outs:
        raise UnsupportedOpError(
            f"the model has {len(ins)} data inputs and {len(outs)} data outputs"
            + (f" (besides {len(states)} state pairs)" if states else "")
            + "; edgekit's generated code needs at least one of each")
    for kind, ts in (("input", ins), ("output", outs)):
        for k, t in enumerate(ts):
            ten = graph.tensors[t]
            if ten.dtype not in IO_DTYPES:
                raise UnsupportedOpError(
                    f"data {kind} {k} (tensor {t}, {ten.name!r}) is {ten.dtype.upper()}; the "
                    f"generated code takes {', '.join(sorted(d.upper() for d in IO_DTYPES))}")
            if ten.is_const:
                raise UnsupportedOpError(f"data {kind} {k} (tensor {t}, {ten.name!r}) is a "
                                         "constant: not supported")
    for a, b in states:
        ta, tb = graph.tensors[a], graph.tensors[b]
        if ta.nbytes != tb.nbytes or ta.dtype != tb.dtype:
            raise UnsupportedOpError(
                f"state tensors {a} and {b} differ in size or type ({list(ta.shape)} {ta.dtype} "
                f"vs {list(tb.shape)} {tb.dtype})")
    return ins, outs


def data_io(graph: Graph) -> tuple[int, int]:
    """The one data input and output tensor (streaming state excluded).

    For the paths that need exactly one of each (the audio front end, the
    streaming form); :func:`data_tensors` gives any number.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        If the model has not exactly one data input and one data output.
    """
    ins, outs = data_tensors(graph)
    if len(ins) != 1 or len(outs) != 1:
        raise UnsupportedOpError(
            f"the model has {len(ins)} data inputs and {len(outs)} data outputs; this path "
            "(audio front end, streaming) supports exactly one of each")
    return ins[0], outs[0]


def io_specs(graph: Graph, plan: MemoryPlan | None = None) -> tuple[list[dict], list[dict]]:
    """Each data input and output: index, name, shape, dtype, bytes, quantization, offsets.

    Parameters
    ----------
    graph : Graph
    plan : MemoryPlan, optional
        Adds ``arena_offset`` (the tensor's place in the arena).

    Returns
    -------
    inputs, outputs : list of dict
        ``k``, ``index``, ``name``, ``shape``, ``dtype``, ``nbytes``,
        ``scale``, ``zp`` and ``offset``: the tensor's first byte in the
        concatenated input (output) of ``edgekit_invoke``.
    """
    ins, outs = data_tensors(graph)

    def specs(ts: list[int]) -> list[dict]:
        out, offset = [], 0
        for k, t in enumerate(ts):
            ten = graph.tensors[t]
            d = dict(k=k, index=t, name=ten.name, shape=[int(v) for v in ten.shape],
                     dtype=ten.dtype, nbytes=ten.nbytes, scale=ten.s, zp=ten.zp, offset=offset)
            if plan is not None:
                d["arena_offset"] = plan.offsets[t]
            offset += ten.nbytes
            out.append(d)
        return out

    return specs(ins), specs(outs)


def frames_per_call(graph: Graph) -> int:
    """Feature frames in one call of a streaming model (its hop), else 1.

    A streaming model (state pairs, see :meth:`Graph.state_pairs`) whose one
    data input is ``(1, hop, features)`` takes ``hop`` frames per call; the
    generated ``edgekit_push_frame`` collects them one at a time.
    """
    ins, _ = data_tensors(graph)
    shape = graph.tensors[ins[0]].shape
    if (len(ins) == 1 and graph.state_pairs() and len(shape) == 3 and shape[0] == 1
            and shape[1] >= 1):
        return int(shape[1])
    return 1
