"""The arena planner on hand-made graphs whose optimum is known."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import PlanError
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


def test_inplace_output_smaller_than_its_input_takes_its_start():
    # x (32) -> op0 -> a (320) -> op1 (in place) -> b (160) -> op2 -> y (160).
    g = _chain([32, 320, 160, 160])
    plan = plan_memory(g, inplace={1: (1,)})
    assert plan.offsets[2] == plan.offsets[1]
    # By hand, steps -1..3: x 32; x+a 352; a alone (b inside a) 320; b+y 320; y 160.
    assert plan.usage == [32, 352, 320, 320, 160]
    assert plan.lower_bound_bytes == 352 == plan.arena_bytes
    # Without in-place op1 holds a+b = 480 B.
    assert plan.lower_bound_no_inplace_bytes == 480
    assert plan_memory(g).lower_bound_bytes == 480
    # b keeps its own 160 B after op1: y takes the rest of a's bytes.
    b, y = plan.buffers[2], plan.buffers[3]
    assert b.over == 1 and b.size == 160 and (b.first, b.last) == (1, 2)
    assert y.offset >= b.offset + 160 or y.offset + 160 <= b.offset
    assert plan.inplace == {2: 1}
    assert plan.to_dict()["lower_bound_no_inplace_bytes"] == 480


def test_inplace_refused_when_the_output_is_larger():
    g = _chain([32, 160, 320])
    plan = plan_memory(g, inplace={1: (1,)})
    assert plan.offsets[1] != plan.offsets[2] and plan.inplace == {}
    assert plan.lower_bound_bytes == plan.lower_bound_no_inplace_bytes == 480


def test_scratch_lives_at_its_op_only():
    # x (64) -> op0 -> a (256) -> op1 -> b (64) -> op2 (+100 B scratch) -> y (64).
    g = _chain([64, 256, 64, 64])
    plan = plan_memory(g, scratch={2: 100})
    s = plan.scratch[2]
    assert (s.first, s.last, s.size, s.scratch_of) == (2, 2, 112, 2)
    # By hand: x 64; x+a 320; a+b 320; b+y+scratch 64+64+112 = 240; y 64.
    assert plan.usage == [64, 320, 320, 240, 64]
    # The scratch reuses a's bytes (a is dead at op2): the arena stays 320.
    assert plan.arena_bytes == 320
    for t in (2, 3):
        o = plan.offsets[t]
        assert o + 64 <= s.offset or s.offset + s.size <= o
    assert s.offset % 16 == 0
    assert plan.to_dict()["scratch"] == [{"op": 2, "bytes": 112, "offset": s.offset, "step": 2}]


def test_scratch_counts_in_the_lower_bound():
    g = _chain([64, 256, 64, 64])
    plan = plan_memory(g, scratch={0: 40})
    # op0: x + a + 48 B of scratch.
    assert plan.usage[1] == 64 + 256 + 48
    assert plan.lower_bound_bytes == plan.arena_bytes == 368
    # Without in-place kernels there is no scratch either: 64 + 256.
    assert plan.lower_bound_no_inplace_bytes == 320


def test_inplace_with_scratch_keeps_the_scratch_apart():
    # A depthwise-like op over a dying input through a 2-row scratch.
    g = _chain([32, 320, 320, 32])
    plan = plan_memory(g, inplace={1: (1,)}, scratch={1: 40})
    assert plan.offsets[1] == plan.offsets[2]
    s = plan.scratch[1]
    assert s.offset >= plan.offsets[1] + 320 or s.offset + s.size <= plan.offsets[1]
    # Steps: x 32; x+a 352; a/b + 48 = 368; b+y 352; y 32.
    assert plan.usage == [32, 352, 368, 352, 32]
    assert plan.lower_bound_no_inplace_bytes == 320 + 320
    assert plan.arena_bytes == 368


def test_negative_scratch_is_refused():
    with pytest.raises(PlanError, match=r"got -4"):
        plan_memory(_chain([16, 16]), scratch={0: -4})
