"""Per-layer figures of an int8 graph: shapes, parameters, MACs, bytes.

MACs follow the usual convention (the one TFLM's benchmark tables use):

* ``CONV_2D``: output elements x kh x kw x input channels per group
  (the filter's last dimension);
* ``DEPTHWISE_CONV_2D``: output elements x kh x kw;
* ``FULLY_CONNECTED``: output elements x accumulation depth (the weight
  matrix's last dimension);
* ``TRANSPOSE_CONV``: input elements x kh x kw x output channels;
* every other op (pooling, elementwise, softmax, reshape ...): 0.

Parameters are the elements of an op's constant input tensors (weights,
biases, shape operands); weight bytes are their sizes in bytes.
"""

from __future__ import annotations

__all__ = ["layer_rows", "op_macs", "shape_str"]


def shape_str(shape) -> str:
    """Format a tensor shape as ``1x49x10x1`` (``scalar`` for rank 0).

    Parameters
    ----------
    shape : sequence of int

    Returns
    -------
    str
    """
    return "x".join(str(int(d)) for d in shape) if len(shape) else "scalar"


def _prod(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def op_macs(graph, op) -> int:
    """Multiply-accumulates of one op (0 for ops without a weight product).

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph
    op : edgekit.firmware_export.Operator

    Returns
    -------
    int
    """
    ins = graph.op_inputs(op)
    outs = graph.op_outputs(op)
    if op.opcode == "CONV_2D" and len(ins) > 1 and ins[1] is not None:
        w = ins[1].shape                       # (out_c, kh, kw, in_c / groups)
        return outs[0].num_elements * _prod(w[1:])
    if op.opcode == "DEPTHWISE_CONV_2D" and len(ins) > 1 and ins[1] is not None:
        w = ins[1].shape                       # (1, kh, kw, out_c)
        return outs[0].num_elements * int(w[1]) * int(w[2])
    if op.opcode == "FULLY_CONNECTED" and len(ins) > 1 and ins[1] is not None:
        return outs[0].num_elements * int(ins[1].shape[-1])
    if op.opcode == "BATCH_MATMUL" and len(ins) > 1 and ins[0] is not None:
        lhs = ins[0].shape                     # (..., M, K), or (..., K, M) with adj_x
        k = lhs[-2] if op.options.get("adj_x") else lhs[-1]
        return outs[0].num_elements * int(k)
    if op.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM" and len(ins) > 8 and ins[4] is not None:
        # per step and batch row: four gates, each an input FC (n_cell x n_in)
        # and a recurrent FC (n_cell x n_out); the element-wise gate arithmetic
        # is not counted
        n_cell, n_in = (int(d) for d in ins[4].shape)   # input-to-forget weights
        n_out = int(ins[8].shape[-1])                  # recurrent-to-output weights
        rows = outs[0].num_elements // max(n_out, 1)   # steps x batch
        return rows * 4 * n_cell * (n_in + n_out)
    if op.opcode == "TRANSPOSE_CONV" and len(ins) > 2 and ins[1] is not None:
        w = ins[1].shape                       # (out_c, kh, kw, in_c)
        return ins[2].num_elements * int(w[0]) * int(w[1]) * int(w[2])
    return 0


def layer_rows(graph, plan) -> list[dict]:
    """One row per op, in TFLite op order (as TFLM's per-op tables).

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph
    plan : edgekit.firmware_export.MemoryPlan
        The plan of the generated code; its op order may differ from the
        file's (``plan.order``), so each row also gives the op's ``step``.

    Returns
    -------
    list of dict
        ``index`` (TFLite op number), ``step`` (position in the generated
        code's execution order), ``op``, ``inputs`` (activation input shapes),
        ``const_inputs`` (constant input shapes), ``outputs`` (output
        shapes), ``params``, ``macs``, ``weight_bytes``,
        ``activation_bytes`` (live at that op in the plan) and
        ``io_bytes`` (bytes of this op's own activation inputs and outputs).
    """
    rows = []
    for op in graph.operators:
        ins = [t for t in graph.op_inputs(op) if t is not None]
        const = [t for t in ins if t.is_const]
        act = [t for t in ins if not t.is_const]
        outs = graph.op_outputs(op)
        rows.append({
            "index": op.index,
            "step": plan.step_of(op.index),
            "op": op.opcode,
            "inputs": [list(map(int, t.shape)) for t in act],
            "const_inputs": [list(map(int, t.shape)) for t in const],
            "outputs": [list(map(int, t.shape)) for t in outs],
            "params": sum(t.num_elements for t in const),
            "macs": op_macs(graph, op),
            "weight_bytes": sum(t.nbytes for t in const),
            "activation_bytes": int(plan.live_bytes_at_op(op.index)),
            "io_bytes": sum(t.nbytes for t in act) + sum(t.nbytes for t in outs),
        })
    return rows


def unique_const(graph) -> tuple[int, int]:
    """Elements and bytes of the graph's constant tensors used by ops, each counted once.

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph

    Returns
    -------
    tuple of int
        ``(elements, bytes)``.
    """
    seen: set[int] = set()
    elems = nbytes = 0
    for op in graph.operators:
        for i in op.inputs:
            if i >= 0 and i not in seen and graph.tensors[i].is_const:
                seen.add(i)
                elems += graph.tensors[i].num_elements
                nbytes += graph.tensors[i].nbytes
    return elems, nbytes
