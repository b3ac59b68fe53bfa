"""Op order search: only topological orders, the best arena, same results."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.errors import PlanError
from edgekit.firmware_export import schedule
from edgekit.firmware_export.graph import Graph, Operator, Tensor
from edgekit.firmware_export.planner import plan_memory
from edgekit.firmware_export.schedule import candidate_orders, plan_schedule, topological


def _t(i, n):
    return Tensor(index=i, name=f"t{i}", shape=(1, n), dtype="int8",
                  scale=np.array([0.1], np.float32), zero_point=np.array([0]))


def _two_branches():
    """x -> A1 (256 B) -> A2 (16 B) -+
       x -> B1 (256 B) -> B2 (16 B) -+-> ADD -> y, listed A1, B1, A2, B2, ADD."""
    sizes = {0: 16, 1: 256, 2: 256, 3: 16, 4: 16, 5: 16}   # x a1 b1 a2 b2 y
    tensors = [_t(i, n) for i, n in sorted(sizes.items())]
    ops = [Operator(0, "CONV_2D", [0], [1]), Operator(1, "CONV_2D", [0], [2]),
           Operator(2, "CONV_2D", [1], [3]), Operator(3, "CONV_2D", [2], [4]),
           Operator(4, "ADD", [3, 4], [5])]
    return Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[5])


def test_branches_run_one_after_the_other_when_that_saves_bytes():
    g = _two_branches()
    plan = plan_schedule(g)
    # File order A1 B1 A2 B2 ADD: while B1 runs, x (16) + a1 (256) + b1 (256)
    # are alive: 528 B, and the size-greedy placement reaches it.
    assert plan.orders["file"] == {"arena_bytes": 528, "lower_bound_bytes": 528}
    # A1 A2 B1 B2 ADD (or the mirror): at most x/a2 + one 256 B tensor + one
    # 16 B one alive: steps 272, 288, 288, 288, 48 -> 288 B, and a placement
    # exists (a1, b1 at 0; x at 256; a2 at 272; b2 over x; y at 0).
    assert plan.lower_bound_bytes == 288
    assert plan.arena_bytes == 288
    assert plan.order in ([0, 2, 1, 3, 4], [1, 3, 0, 2, 4])
    assert plan.order_strategy != "file"
    assert plan.to_dict()["order"] == plan.order_strategy
    assert plan.to_dict()["op_order"] == plan.order
    # Live bytes per step follow the chosen order: input only, the five ops, output only.
    assert plan.usage == [16, 272, 288, 288, 288, 48, 16]
    assert plan.live_bytes_at_op(2) == 288 and plan.step_of(2) == 1


def test_budget_rows_keep_tflite_numbering_with_steps():
    from edgekit.budget.layers import layer_rows

    g = _two_branches()
    plan = plan_memory(g, order=[0, 2, 1, 3, 4])
    rows = layer_rows(g, plan)
    # Rows stay in TFLite order (TFLM's per-op tables); step = where each op runs.
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["step"] for r in rows] == [0, 2, 1, 3, 4]
    # Live bytes while each op runs (by hand, see the test above): A1 272,
    # B1 (step 2) 288, A2 (step 1) 288, B2 288, ADD 48.
    assert [r["activation_bytes"] for r in rows] == [272, 288, 288, 288, 48]


def test_a_chain_is_left_in_file_order():
    tensors = [_t(i, n) for i, n in enumerate([32, 64, 16])]
    ops = [Operator(0, "RELU", [0], [1]), Operator(1, "RELU", [1], [2])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[2])
    assert [name for name, _, _ in candidate_orders(g)] == ["file"]
    plan = plan_schedule(g)
    assert plan.order == [0, 1] and plan.order_strategy == "file"
    assert plan.arena_bytes == 96 and plan.lower_bound_bytes == 96


def test_equal_arena_keeps_the_file_order():
    # Two 16 B branches: every order needs x + two 16 B tensors at most.
    tensors = [_t(i, 16) for i in range(4)]
    ops = [Operator(0, "RELU", [0], [1]), Operator(1, "RELU", [0], [2]),
           Operator(2, "ADD", [1, 2], [3])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[3])
    plan = plan_schedule(g)
    assert plan.order == [0, 1, 2] and plan.order_strategy == "file"
    assert plan.arena_bytes == 48


def test_inplace_follows_the_order():
    # x -> op0 -> a -> op1 (may write in place) -> b -+-> ADD -> y
    #                a -> op2 -> c -------------------+      (all 64 B)
    tensors = [_t(i, 64) for i in range(5)]                 # x a b c y
    ops = [Operator(0, "CONV_2D", [0], [1]), Operator(1, "RELU", [1], [2]),
           Operator(2, "CONV_2D", [1], [3]), Operator(3, "ADD", [2, 3], [4])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[4])
    # File order: op2 reads a after op1, so op1 may not overwrite a.
    # Steps -1..4: x; x+a; a+b; a+b+c; b+c+y; y.
    plan = plan_memory(g, inplace={1: (1,)})
    assert plan.offsets[1] != plan.offsets[2]
    assert plan.usage == [64, 128, 128, 192, 192, 64]
    # op0, op2, op1, ADD: op1 is now a's last reader and b takes a's bytes.
    # Steps: x; x+a; a+c; a/b+c; a/b+c+y; y.
    plan = plan_memory(g, inplace={1: (1,)}, order=[0, 2, 1, 3])
    assert plan.offsets[1] == plan.offsets[2]
    assert plan.usage == [64, 128, 128, 128, 192, 64]


def test_orders_that_break_dependencies_are_refused():
    g = _two_branches()
    with pytest.raises(PlanError):
        topological(g, [2, 0, 1, 3, 4])          # A2 before A1
    with pytest.raises(PlanError):
        topological(g, [0, 1, 2, 3])             # ADD missing
    with pytest.raises(PlanError):
        plan_memory(g, order=[0, 0, 1, 2, 3])
    assert topological(g, [1, 0, 3, 2, 4]) == [1, 0, 3, 2, 4]


def test_variable_tensors_keep_their_file_order():
    # Two ops touching a variable tensor (no data dependency between them).
    tensors = [_t(i, 16) for i in range(5)]
    tensors[4].is_variable = True
    ops = [Operator(0, "RELU", [0, 4], [1]), Operator(1, "RELU", [0, 4], [2]),
           Operator(2, "ADD", [1, 2], [3])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[3])
    deps = schedule.dependencies(g)
    assert deps == {0: set(), 1: {0}, 2: {0, 1}}


# --------------------------------------------------------------- random DAGs


@st.composite
def dags(draw):
    """Random single-output DAGs, with reshape aliases, in-place candidates
    (output as large as the input or smaller) and per-op scratch."""
    n_ops = draw(st.integers(1, 7))
    # Inputs are drawn mostly from recent tensors: chains with side branches.
    sizes = [draw(st.sampled_from([8, 16, 24, 48, 64, 100, 128]))]
    ops, aliases, inplace, scratch = [], {}, {}, {}
    for k in range(n_ops):
        avail = list(range(len(sizes)))
        ins = draw(st.lists(st.sampled_from(avail), min_size=1, max_size=2, unique=True))
        out = len(sizes)
        kind = draw(st.sampled_from(["plain", "plain", "alias", "inplace"]))
        if kind == "alias" and len(ins) == 1:
            sizes.append(sizes[ins[0]])
            aliases[out] = ins[0]
        elif kind == "inplace":
            sizes.append(draw(st.sampled_from([n for n in [8, 16, 24, 48, 64, 100, 128]
                                               if n <= sizes[ins[-1]]])))
            inplace[k] = tuple(ins)
        else:
            sizes.append(draw(st.sampled_from([8, 16, 24, 48, 64, 100, 128])))
        ops.append(Operator(k, "ADD", ins, [out]))
        if kind != "alias" and draw(st.booleans()):
            scratch[k] = draw(st.sampled_from([4, 16, 40]))
    tensors = [_t(i, n) for i, n in enumerate(sizes)]
    outputs = sorted({len(sizes) - 1} | set(draw(st.lists(
        st.integers(1, len(sizes) - 1), max_size=1))))
    return (Graph(tensors=tensors, operators=ops, inputs=[0], outputs=outputs), aliases, inplace,
            scratch)


def _producer_first(graph, order):
    producer = {t: op.index for op in graph.operators for t in op.outputs}
    step = {op: s for s, op in enumerate(order)}
    for op in graph.operators:
        for t in op.inputs:
            if t in producer:
                assert step[producer[t]] < step[op.index], (order, op.index, t)


def _in_place_pair(a, b):
    """b overwrites a in place: same start, alive together at b's first step only."""
    return (bool(a.tensors) and b.over == a.tensors[0] and a.last == b.first
            and a.offset == b.offset and b.size <= a.size)


def _no_overlap_and_lifetimes_covered(graph, plan):
    placed = plan.buffers + list(plan.scratch.values())
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            if _in_place_pair(a, b) or _in_place_pair(b, a):
                continue
            if not (a.last < b.first or b.last < a.first):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    for op_index, b in plan.scratch.items():
        assert b.first == b.last == plan.step_of(op_index) and not b.tensors
        assert b.offset + b.size <= plan.arena_bytes
    # Every use of a tensor (in the plan's own order) lies in its buffer's lifetime.
    owner = {t: b for b in plan.buffers for t in b.tensors}
    for s, op_index in enumerate(plan.order):
        op = graph.operators[op_index]
        for t in op.inputs + op.outputs:
            b = owner[t]
            assert b.first <= s <= b.last
            assert b.offset + b.size <= plan.arena_bytes
    for t in graph.inputs:
        assert owner[t].first == -1
    for t in graph.outputs:
        assert owner[t].last == len(graph.operators)


def _usage_by_hand(graph, plan):
    """Live bytes of each step recounted from the placement: the union of the
    byte ranges of the buffers alive at that step (in-place pairs share theirs)."""
    placed = plan.buffers + list(plan.scratch.values())
    for s in range(-1, len(graph.operators) + 1):
        used = set()
        for b in placed:
            if b.first <= s <= b.last:
                used.update(range(b.offset, b.offset + b.size))
        assert len(used) == plan.usage[s + 1], s


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_every_order_tried_is_topological_and_planned_soundly(case):
    graph, aliases, inplace, scratch = case
    cands = candidate_orders(graph, aliases, inplace, scratch=scratch)
    assert cands[0][0] == "file" and cands[0][1] == list(range(len(graph.operators)))
    for name, order, peak in cands:
        assert sorted(order) == list(range(len(graph.operators))), name
        _producer_first(graph, order)
        plan = plan_memory(graph, aliases, inplace, order=order, scratch=scratch)
        # The search's live-byte count is the planner's lower bound for that order.
        assert peak == plan.lower_bound_bytes, name
        assert plan.lower_bound_bytes <= plan.lower_bound_no_inplace_bytes + sum(
            b.size for b in plan.scratch.values())
        assert plan.lower_bound_no_inplace_bytes == plan_memory(
            graph, aliases, order=order).lower_bound_bytes
        _no_overlap_and_lifetimes_covered(graph, plan)
        _usage_by_hand(graph, plan)
    best = plan_schedule(graph, aliases, inplace, scratch=scratch)
    _producer_first(graph, best.order)
    _no_overlap_and_lifetimes_covered(graph, best)
    assert best.lower_bound_bytes <= best.arena_bytes <= best.orders["file"]["arena_bytes"]
    # Brute force over every permutation: the exhaustive search has the
    # smallest peak of all topological orders.
    found = {name: peak for name, _, peak in cands}
    if "exhaustive_search" in found:
        producer = {t: op.index for op in graph.operators for t in op.outputs}
        peaks = []
        for perm in itertools.permutations(range(len(graph.operators))):
            step = {op: s for s, op in enumerate(perm)}
            if all(step[producer[t]] < step[op.index] for op in graph.operators
                   for t in op.inputs if t in producer):
                peaks.append(plan_memory(graph, aliases, inplace, order=perm,
                                         scratch=scratch).lower_bound_bytes)
        assert found["exhaustive_search"] == min(peaks)


# ---------------------------------------------------- a reordered real model


@pytest.fixture(scope="module")
def lmu_int8():
    from edgekit.models.registry import build_model
    from edgekit.quantize.int8 import quantize_int8

    model = build_model("lmu", (64, 40), 10, seed=0)
    calib = np.random.default_rng(0).normal(-5, 3, (32, 64, 40)).astype(np.float32)
    return quantize_int8(model, calib, num_samples=32)


def test_reordered_lmu_is_bit_exact_and_profiled_by_tflite_index(lmu_int8, tmp_path):
    from tests.kernel_harness import run_generated_host

    from edgekit.firmware_export import generate, read_tflite
    from edgekit.reference import run_tflm

    graph = read_tflite(lmu_int8)
    exp = generate(graph, tmp_path / "src")
    plan = exp.plan
    # The LMU's branches (memory and hidden paths) run in another order, in less RAM.
    assert plan.order != [op.index for op in graph.operators]
    assert plan.arena_bytes < plan.orders["file"]["arena_bytes"]
    _producer_first(graph, plan.order)
    # The kernel calls follow the chosen order; hooks and names keep the TFLite index.
    model_c = (tmp_path / "src" / "model.c").read_text()
    begins = [int(i) for i in re.findall(r"^ +edgekit_profile_begin\((\d+)\);", model_c, re.M)]
    with_code = [i for i, low in zip(plan.order, [exp.lowered[i] for i in plan.order])
                 if low.kernel is not None]
    assert begins == with_code
    kinds = model_c.split("edgekit_op_kinds[")[1].split("{")[1].split("};")[0]
    kinds = [s.strip().strip('"') for s in kinds.split(",") if s.strip()]
    kind = model_c.split("edgekit_op_kind[EDGEKIT_NUM_OPS] = {")[1].split("};")[0]
    assert [kinds[int(k)] for k in kind.split(",") if k.strip()] == \
        [op.opcode for op in graph.operators]
    x = np.random.default_rng(3).integers(-128, 128, (16, 64, 40), dtype=np.int8)
    np.testing.assert_array_equal(run_generated_host(lmu_int8, x), run_tflm(lmu_int8, x))


@pytest.mark.qemu
@pytest.mark.parametrize("packed", [False, True])
def test_reordered_lmu_in_qemu_names_each_op_by_its_tflite_index(lmu_int8, packed, tmp_path,
                                                                  monkeypatch):
    """Op names from a byte per op, or four bits per op (what a model of more
    than codegen.PACK_OP_NAMES ops takes: forced here)."""
    import os
    import shutil

    from edgekit.emulator import build_firmware, run_qemu
    from edgekit.firmware_export import codegen, generate, read_tflite
    from edgekit.reference import run_tflm

    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")) \
            and not os.environ.get("CI"):
        pytest.skip("arm toolchain or qemu-system-arm missing")
    if packed:
        monkeypatch.setattr(codegen, "PACK_OP_NAMES", 0)
    graph = read_tflite(lmu_int8)
    exp = generate(graph, tmp_path / "src")
    assert ("edgekit_op_kind4[" in (tmp_path / "src" / "model.c").read_text()) == packed
    assert exp.plan.order_strategy != "file"
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    x = np.random.default_rng(4).integers(-128, 128, (4, 64, 40), dtype=np.int8)
    run = run_qemu(fw.elf, x.reshape(4, -1).view(np.uint8), target="cortex-m4")
    assert np.array_equal(run.outputs.view(np.int8), run_tflm(lmu_int8, x).reshape(4, -1))
    # Per-op rows are keyed by TFLite op index, whatever order the ops ran in.
    assert [p["index"] for p in run.per_op] == list(range(len(graph.operators)))
    assert [p["op"] for p in run.per_op] == [op.opcode for op in graph.operators]
    assert 0 < sum(p["instructions"] for p in run.per_op) <= run.instructions[0]


def test_a_tensor_read_before_it_is_written_keeps_that_order():
    # op0 reads t1 (say, a previous value) before op1 writes it: no data edge
    # from op1 to op0, but op1 must not run first.
    tensors = [_t(i, 16) for i in range(4)]
    ops = [Operator(0, "ADD", [0, 1], [2]), Operator(1, "RELU", [0], [1]),
           Operator(2, "ADD", [1, 2], [3])]
    g = Graph(tensors=tensors, operators=ops, inputs=[0], outputs=[3])
    assert schedule.dependencies(g) == {0: set(), 1: {0}, 2: {0, 1}}


@pytest.mark.parametrize("arch", ["lmuformer", "spiking_lmuformer"])
def test_reordered_streaming_model_keeps_its_state_frame_by_frame(arch, tmp_path):
    # The recurrent streaming form (state in static buffers, written back
    # after the last op) is reordered; the stream must still match
    # tflite_micro call by call with the state fed back.
    from edgekit.emulator import build_host, run_host
    from edgekit.firmware_export import generate, read_tflite
    from edgekit.models.registry import build_model, default_recipe
    from edgekit.quantize.streaming import quantize_streaming_int8
    from edgekit.reference import run_tflm_stream

    model = build_model(arch, (64, 40), 10, seed=1, **default_recipe(arch)["hparams"])
    clips = np.random.default_rng(0).normal(-6, 3, (24, 64, 40)).astype(np.float32)
    tflite, _ = quantize_streaming_int8(model, clips, num_samples=64, calib_clips=8,
                                        form="recurrent")
    graph = read_tflite(tflite)
    # Strict scratch budget: with the default allowance the 48 -> 96 1x1
    # conv takes its 192-byte im2col buffer and the file order is as good.
    exp = generate(graph, tmp_path / "src", scratch_allowance=0)
    assert graph.state_pairs()
    if arch == "spiking_lmuformer":
        # its LIF steps are fused (passes/fuse_lif.py): one op per step, and
        # the file order of the fused graph is then as good as any
        assert exp.plan.merged
    else:
        assert exp.plan.order_strategy != "file"
        assert exp.plan.arena_bytes < exp.plan.orders["file"]["arena_bytes"]
        _producer_first(graph, exp.plan.order)
    fin = graph.tensors[graph.signature_inputs["frame"]]
    frames = np.random.default_rng(2).integers(-128, 128, (40, fin.num_elements), dtype=np.int8)
    ref = run_tflm_stream(tflite, graph, frames).reshape(len(frames), -1)
    host = run_host(build_host(tmp_path / "src", tmp_path / "host"), frames.view(np.uint8))
    np.testing.assert_array_equal(host.view(np.int8), ref)
