"""The arena planner on hand-made graphs whose optimum is known."""

from __future__ import annotations

import numpy as np

from edgekit.firmware_export.graph import Graph, Operator, Tensor
from edgekit.firmware_export.planner import plan_memory


def _t(i, n):
    return Tensor(index=i, name=f"t{i}", shape=(1, n), dtype="int8",
                  scale=np.array([0.1], np.float32), zero_point=np.array([0]))


def _chain(sizes):
    """t0 -> op0 -> t1 -> op1 -> t2 ... (a plain chain)."""
    tensors = [_t(i, n) for i, n in enumerate(sizes)]
    ops = [Operator(index=i, opcode="RELU", inputs=[i], outputs=[i + 1]) for i in range(len(sizes) - 1)]
    return Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[len(sizes) - 1])


def test_chain_needs_two_neighbours_at_most():
    g = _chain([160, 320, 64, 640, 32])
    plan = plan_memory(g)
    # Live at once: only an op's input and output. By hand: max(160+320, 320+64, 64+640, 640+32).
    assert plan.lower_bound_bytes == 704
    assert plan.arena_bytes == 704


def test_alias_shares_one_buffer():
    g = _chain([160, 160, 160])
    plan = plan_memory(g, aliases={2: 1})
    assert plan.offsets[1] == plan.offsets[2]
    assert plan.arena_bytes == 320


def test_inplace_reuses_a_dying_input_but_not_the_graph_input():
    g = _chain([160, 160, 160, 160])
    plain = plan_memory(g)
    inplace = plan_memory(g, inplace={1: (1,), 2: (2,), 0: (0,)})
    assert plain.arena_bytes == 320
    # op0 may not overwrite the graph input; op1 and op2 run in place.
    assert inplace.offsets[0] != inplace.offsets[1]
    assert inplace.offsets[1] == inplace.offsets[2] == inplace.offsets[3]
    assert inplace.arena_bytes == 320


def test_inplace_refused_when_input_is_read_later():
    # t1 feeds op1 and op2: op1 must not overwrite it.
    tensors = [_t(0, 64), _t(1, 64), _t(2, 64), _t(3, 64)]
    ops = [Operator(0, "RELU", [0], [1]), Operator(1, "RELU", [1], [2]),
           Operator(2, "ADD", [1, 2], [3])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[3])
    plan = plan_memory(g, inplace={1: (1,)})
    assert plan.offsets[1] != plan.offsets[2]


def test_branching_graph_beats_plain_greedy_when_order_matters():
    # A long-lived small skip tensor and short big ones: placing by size alone
    # can fragment; the planner must reach the lower bound here.
    sizes = [16, 480, 32, 480, 16]
    tensors = [_t(i, n) for i, n in enumerate(sizes)]
    ops = [Operator(0, "CONV_2D", [0], [1]), Operator(1, "CONV_2D", [1], [2]),
           Operator(2, "CONV_2D", [2], [3]), Operator(3, "ADD", [3, 0], [4])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[4])
    plan = plan_memory(g)
    assert plan.arena_bytes == plan.lower_bound_bytes
    for a in plan.buffers:
        for b in plan.buffers:
            if a is b or a.last < b.first or b.last < a.first:
                continue
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
