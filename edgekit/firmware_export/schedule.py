"""Op execution order: try topological orders, keep the one with the smallest arena.

A .tflite file lists its ops in one valid execution order, but a branching
graph (a ResNet skip connection, attention heads, residual LMU blocks) has
others: any order in which every op runs after the ops producing its
inputs.  The tensors alive at one time, and so the arena, depend on that
order.  This pass proposes a few orders and lets the planner judge them:

``file``
    The order of the .tflite file (what TFLM runs).
``greedy_live_bytes``
    A list scheduler: at each step, of the ops whose inputs are ready, run
    the one that leaves the fewest bytes alive after it (frees the most,
    allocates the least), then the one that keeps the peak lowest; ties go
    to the lower op index.
``min_peak_search_w<work>`` (or ``exhaustive_search``)
    A breadth-first search over the sets of ops already run (each such set
    fixes which tensors are alive), keeping for each set the order that
    reaches it with the lowest peak.  Each level keeps at most ``beam``
    sets, and fewer on large graphs, so that the whole search examines
    about ``max_expansions`` (set, ready op) pairs: its time is bounded
    whatever the graph.  When no level had to drop a set, the result is
    the order with the smallest peak of live bytes over *all* topological
    orders (``exhaustive_search``); otherwise it is a beam search
    (``min_peak_search_w<work>``).  Orders with the same peak can need
    different arenas (the placement fragments differently), so the search
    runs with ``max_expansions / 16``, ``/ 4`` and the whole budget, and
    each distinct order is planned.

Live bytes are counted exactly as :func:`plan_memory` counts them (aligned
buffer sizes, reshape aliases as one buffer, an op writing in place over an
input that dies with it not counting the bytes its output shares with that
input, an op's scratch alive at its step), so the peak of an order is the
planner's lower bound for it.  Each order is then placed by
:func:`plan_memory`; the smallest arena wins, ties going to the order found
first (the file order first), so a model is only reordered when that saves
bytes.

Semantics are kept: only topological orders are produced, and ops that
touch variable tensors or have side effects keep their file order among
themselves.  Streaming state is written back after the last op, whatever
the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edgekit.errors import PlanError
from edgekit.firmware_export.planner import (MemoryPlan, alias_root, align,
                                              may_overwrite, plan_memory)

# Ops whose effects are not carried by their output tensors alone.
SIDE_EFFECT_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE",
                             "CALL", "IF", "WHILE", "CUSTOM"})

#: Most sets of run ops the search keeps per level (before the work bound cuts it).
DEFAULT_BEAM = 256
#: Bound on (set, ready op) pairs the search examines, whatever the graph size.
DEFAULT_MAX_EXPANSIONS = 60_000


def dependencies(graph) -> dict[int, set[int]]:
    """The ops each op must run after.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph

    Returns
    -------
    dict
        Op index -> indices of the ops producing its inputs, plus, for ops
        that touch a variable tensor or have side effects
        (:data:`SIDE_EFFECT_OPS`), the previous such op in the file.  An op
        writing a tensor also runs after the ops that wrote or read it
        before it in the file.
    """
    producer: dict[int, int] = {}
    deps: dict[int, set[int]] = {op.index: set() for op in graph.operators}
    readers: dict[int, list[int]] = {}
    previous_effect = None
    for op in graph.operators:
        for t in op.inputs:
            if t < 0:
                continue
            if t in producer:
                deps[op.index].add(producer[t])
            readers.setdefault(t, []).append(op.index)
        for t in op.outputs:
            # A tensor read before this write (by the file order), or written
            # before: those ops stay before this one.
            deps[op.index].update(readers.get(t, []))
            if t in producer:
                deps[op.index].add(producer[t])
            producer[t] = op.index
        touched = [t for t in list(op.inputs) + list(op.outputs) if t >= 0]
        if op.opcode in SIDE_EFFECT_OPS or any(graph.tensors[t].is_variable for t in touched):
            if previous_effect is not None:
                deps[op.index].add(previous_effect)
            previous_effect = op.index
    for i in deps:
        deps[i].discard(i)
    return deps


def is_topological(order: Sequence[int], deps: dict[int, set[int]]) -> bool:
    """Whether ``order`` lists every op once, each after all its dependencies.

    Parameters
    ----------
    order : sequence of int
        Op indices in execution order.
    deps : dict
        As returned by :func:`dependencies`.

    Returns
    -------
    bool
    """
    if sorted(order) != sorted(deps):
        return False
    seen: set[int] = set()
    for i in order:
        if not deps[i] <= seen:
            return False
        seen.add(i)
    return True


def topological(graph, order: Sequence[int]) -> list[int]:
    """Check that ``order`` is a valid execution order of ``graph`` and return it.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph
    order : sequence of int
        Op indices in execution order.

    Returns
    -------
    list of int

    Raises
    ------
    edgekit.errors.PlanError
        If an op comes before one it depends on, or ops are missing or repeated.
    """
    order = [int(i) for i in order]
    deps = dependencies(graph)
    if not is_topological(order, deps):
        raise PlanError("op order is not a topological order of the graph (an op would run "
                        "before the op producing one of its inputs, or ops are missing)")
    return order


@dataclass
class _Live:
    """Liveness model of a graph, in the planner's terms, for any order."""

    ops: list[int]                      # op indices (file order)
    pred_mask: dict[int, int]           # op -> bit mask of the ops it depends on
    succ: dict[int, list[int]]
    bit: dict[int, int]                 # op -> its bit
    size: list[int]                     # buffer group -> aligned bytes
    touch_mask: list[int]               # group -> ops reading or writing it
    pinned_start: list[bool]            # graph input: alive from step -1
    pinned_end: list[bool]              # graph output: alive to the end
    op_groups: dict[int, list[int]]     # op -> groups it touches
    op_inplace: dict[int, list[tuple[int, int]]]  # op -> (input group, output group) it may merge
    scratch: dict[int, int]             # op -> aligned scratch bytes

    @property
    def start_bytes(self) -> int:
        return sum(s for s, p in zip(self.size, self.pinned_start) if p)

    @property
    def end_bytes(self) -> int:
        return sum(s for s, p in zip(self.size, self.pinned_end) if p)

    def step(self, done: int, live: int, op: int) -> tuple[int, int]:
        """Bytes alive while ``op`` runs after the ops in ``done``, and after it."""
        born = died = 0
        after = done | self.bit[op]
        for g in self.op_groups[op]:
            m = self.touch_mask[g]
            if not (self.pinned_start[g] or m & done):
                born += self.size[g]
            if not (self.pinned_end[g] or m & ~after):
                died += self.size[g]
        during = live + born + self.scratch.get(op, 0)
        for gin, gout in self.op_inplace.get(op, ()):
            if self.pinned_start[gout] or self.touch_mask[gout] & done:
                break           # the output was written before: not in place
            if not (self.pinned_end[gin] or self.touch_mask[gin] & ~after):
                during -= min(self.size[gin], self.size[gout])
                break
        return during, live + born - died


def _live_model(graph, aliases, inplace, external, deps, scratch=None) -> _Live:
    aliases = dict(aliases or {})
    inplace = inplace or {}

    def root(t: int) -> int:
        return alias_root(aliases, t)

    ops = [op.index for op in graph.operators]
    bit = {i: 1 << k for k, i in enumerate(ops)}
    gid: dict[int, int] = {}
    size: list[int] = []
    touch_mask: list[int] = []
    pinned_start: list[bool] = []
    pinned_end: list[bool] = []
    op_groups: dict[int, list[int]] = {i: [] for i in ops}

    def group(t: int) -> int | None:
        tensor = graph.tensors[t]
        if tensor.is_const or t in external:
            return None
        r = root(t)
        g = gid.get(r)
        if g is None:
            g = gid[r] = len(size)
            size.append(align(graph.tensors[r].nbytes))
            touch_mask.append(0)
            pinned_start.append(False)
            pinned_end.append(False)
        size[g] = max(size[g], align(tensor.nbytes))
        return g

    for t in graph.inputs:
        g = group(t)
        if g is not None:
            pinned_start[g] = True
    for op in graph.operators:
        for t in list(op.inputs) + list(op.outputs):
            if t < 0:
                continue
            g = group(t)
            if g is not None:
                touch_mask[g] |= bit[op.index]
                if g not in op_groups[op.index]:
                    op_groups[op.index].append(g)
    for t in graph.outputs:
        g = group(t)
        if g is not None:
            pinned_end[g] = True
    op_inplace: dict[int, list[tuple[int, int]]] = {}
    by_index = {op.index: op for op in graph.operators}
    for op_index, candidates in inplace.items():
        out = by_index[op_index].outputs[0]
        if out in aliases or graph.tensors[out].is_const or out in external:
            continue
        for t in candidates:
            if (t < 0 or not may_overwrite(graph, t, out, aliases, external)
                    or gid[root(t)] == gid[out]):
                continue
            op_inplace.setdefault(op_index, []).append((gid[root(t)], gid[out]))
    pred_mask = {i: sum(bit[d] for d in deps[i]) for i in ops}
    succ: dict[int, list[int]] = {i: [] for i in ops}
    for i in ops:
        for d in deps[i]:
            succ[d].append(i)
    return _Live(ops, pred_mask, succ, bit, size, touch_mask, pinned_start, pinned_end,
                 op_groups, op_inplace,
                 {i: align(n) for i, n in (scratch or {}).items() if n > 0 and i in bit})


def _peak_bytes(model: _Live, order: Sequence[int]) -> int:
    """Largest live bytes over the steps of ``order`` (the planner's lower bound)."""
    done, live = 0, model.start_bytes
    peak = live
    for op in order:
        during, live = model.step(done, live, op)
        peak = max(peak, during)
        done |= model.bit[op]
    return max(peak, model.end_bytes)


def _greedy(model: _Live) -> tuple[list[int], int]:
    """List scheduling by live bytes; returns (order, peak)."""
    rank = {op: k for k, op in enumerate(model.ops)}
    done, live = 0, model.start_bytes
    peak = live
    order: list[int] = []
    ready = [i for i in model.ops if not model.pred_mask[i]]
    while ready:
        best = None
        for op in ready:
            during, after = model.step(done, live, op)
            key = (after, max(peak, during), rank[op])
            if best is None or key < best[0]:
                best = (key, op, during, after)
        _, op, during, live = best
        peak = max(peak, during)
        done |= model.bit[op]
        order.append(op)
        ready.remove(op)
        ready += [s for s in model.succ[op] if not model.pred_mask[s] & ~done]
    if len(order) != len(model.ops):
        raise PlanError("the graph's op dependencies have a cycle")
    return order, max(peak, model.end_bytes)


def _search(model: _Live, beam: int, max_expansions: int) -> tuple[list[int], int, bool]:
    """Level-by-level search over sets of run ops; returns (order, peak, exhaustive).

    Each level keeps its best sets (lowest peak so far, then fewest live
    bytes) while there are at most ``beam`` of them and their ready ops --
    the (set, op) pairs the next level examines -- number at most
    ``max_expansions / len(ops)`` (the best set is always kept).
    """
    n = len(model.ops)
    rank = {op: k for k, op in enumerate(model.ops)}
    per_level = max(1, max_expansions // max(n, 1))
    start = model.start_bytes
    ready0 = tuple(i for i in model.ops if not model.pred_mask[i])
    # A state is [peak, live, done mask, parent state, op, ready ops]; the
    # ready ops are only worked out for the states a level keeps.
    level = [[start, start, 0, None, None, ready0]]
    exhaustive = True
    for _ in range(n):
        best: dict[int, list] = {}
        for state in level:
            peak, live, done, _, _, ready = state
            for op in ready:
                during, after = model.step(done, live, op)
                new_done = done | model.bit[op]
                new_peak = max(peak, during)
                old = best.get(new_done)
                if old is not None and (old[0], old[1]) <= (new_peak, after):
                    continue
                best[new_done] = [new_peak, after, new_done, state, op, None]
        if not best:
            raise PlanError("the graph's op dependencies have a cycle")
        level, work = [], 0
        for state in sorted(best.values(), key=lambda s: (s[0], s[1])):
            parent, last, done = state[3], state[4], state[2]
            ready = [r for r in parent[5] if r != last]
            ready += [s for s in model.succ[last] if not model.pred_mask[s] & ~done]
            if level and (len(level) >= beam or work + len(ready) > per_level):
                exhaustive = False
                break
            state[5] = tuple(sorted(ready, key=rank.__getitem__))
            level.append(state)
            work += len(ready)
    state = level[0]
    peak = max(state[0], model.end_bytes)
    order = []
    while state[3] is not None:
        order.append(state[4])
        state = state[3]
    return order[::-1], peak, exhaustive


def candidate_orders(graph, aliases: dict[int, int] | None = None,
                     inplace: dict[int, tuple[int, ...]] | None = None,
                     external: set[int] | frozenset = frozenset(),
                     beam: int = DEFAULT_BEAM,
                     max_expansions: int = DEFAULT_MAX_EXPANSIONS,
                     scratch: dict[int, int] | None = None
                     ) -> list[tuple[str, list[int], int]]:
    """Topological op orders worth planning, best-guess first after the file order.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph
    aliases, inplace, external, scratch
        As for :func:`plan_memory`.
    beam : int, optional
        Most sets of run ops the search keeps per level.
    max_expansions : int, optional
        Bound on the search's work, in (set, ready op) pairs examined: each
        level gets ``max_expansions / number of ops`` of them (0 disables
        the search).

    Returns
    -------
    list of (str, list of int, int)
        ``(name, order, peak)``: the strategy name, op indices in execution
        order and the peak of live bytes of that order.  The file order
        comes first; an order equal to one already listed is left out.

    Raises
    ------
    edgekit.errors.PlanError
        If the graph's dependencies have a cycle (the file order itself is
        then not executable).
    """
    deps = dependencies(graph)
    file_order = [op.index for op in graph.operators]
    if not is_topological(file_order, deps):
        raise PlanError("the model's op order runs an op before the op producing its input")
    model = _live_model(graph, aliases, inplace, external, deps, scratch)
    out = [("file", file_order, _peak_bytes(model, file_order))]
    # A chain (each op depends on the one before it) has no other order.
    if all(a in deps[b] for a, b in zip(file_order, file_order[1:])):
        return out
    greedy, greedy_peak = _greedy(model)
    found = [("greedy_live_bytes", greedy, greedy_peak)]
    # Orders of equal peak can place differently (fragmentation): search with
    # a narrow, a middle and the full beam, and let the planner judge them.
    for work in sorted({max_expansions // 16, max_expansions // 4, max_expansions}):
        if beam < 1 or work <= 0:
            continue
        order, peak, exhaustive = _search(model, beam, work)
        found.append(("exhaustive_search" if exhaustive else f"min_peak_search_w{work}",
                      order, peak))
    for name, order, peak in found:
        if all(order != o for _, o, _ in out):
            out.append((name, order, peak))
    return out


def plan_schedule(graph, aliases: dict[int, int] | None = None,
                  inplace: dict[int, tuple[int, ...]] | None = None,
                  external: set[int] | frozenset = frozenset(),
                  beam: int = DEFAULT_BEAM,
                  max_expansions: int = DEFAULT_MAX_EXPANSIONS,
                  scratch: dict[int, int] | None = None) -> MemoryPlan:
    """Plan the arena over the best of several topological op orders.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph
    aliases, inplace, external, scratch
        As for :func:`plan_memory`.
    beam, max_expansions : int, optional
        Bounds of the order search (see :func:`candidate_orders`).

    Returns
    -------
    MemoryPlan
        The plan with the smallest arena; ``order`` is its execution order
        (op indices), ``order_strategy`` the name of the order,
        ``lower_bound_bytes`` the peak of live bytes of that order and
        ``orders`` the arena and lower bound of every order tried (an order
        whose lower bound is not below the best arena found before it is not
        placed: its ``arena_bytes`` is None).
    """
    best: MemoryPlan | None = None
    tried: dict[str, dict] = {}
    for name, order, peak in candidate_orders(graph, aliases, inplace, external, beam,
                                              max_expansions, scratch):
        if best is not None and peak >= best.arena_bytes:
            tried[name] = {"arena_bytes": None, "lower_bound_bytes": peak}
            continue
        plan = plan_memory(graph, aliases, inplace, external, order=order, scratch=scratch)
        plan.order_strategy = name
        tried[name] = {"arena_bytes": plan.arena_bytes, "lower_bound_bytes": plan.lower_bound_bytes}
        if best is None or plan.arena_bytes < best.arena_bytes:
            best = plan
    assert best is not None
    best.orders = tried
    return best
