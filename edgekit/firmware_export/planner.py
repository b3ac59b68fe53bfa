"""Offline memory plan of the tensor arena from tensor lifetimes.

Every activation tensor gets a byte offset in one static arena.  Tensors
whose lifetimes (first write to last read over the op order) do not overlap
may share bytes.  Reshape-like ops make their output an alias of their
input, so both are one buffer.  Placement is greedy by size (largest first,
lowest offset that does not collide with a placed buffer alive at the same
time), the strategy of TFLM's GreedyMemoryPlanner, and also with other
placement orders (longest-lived first, earliest first, ...): the smallest
arena wins.  Ops whose kernels allow it write their output over an input
that dies with them (in place).  The plan also reports the lower bound no
placement can beat for its op order: the largest total of bytes alive at
one step.

Lifetimes are measured in *steps*: positions in the execution order.  By
default that is the file order (step ``i`` runs op ``i``);
:mod:`edgekit.firmware_export.schedule` tries other topological orders and
passes the best one as ``order``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgekit.errors import PlanError

ALIGN = 16


def align(n: int) -> int:
    """``n`` bytes rounded up to the arena alignment (:data:`ALIGN`).

    Parameters
    ----------
    n : int
        A size in bytes.

    Returns
    -------
    int
        The smallest multiple of ``ALIGN`` that is at least ``n``.
    """
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    """One region of the arena: a tensor and the tensors aliasing it.

    ``first`` and ``last`` are steps in the plan's execution order (the
    position of an op in :attr:`MemoryPlan.order`, not its TFLite index).
    """

    tensors: list[int]
    size: int
    first: int          # step of the first write (-1: a graph input)
    last: int           # step of the last read (num_ops: a graph output)
    offset: int = -1


@dataclass
class MemoryPlan:
    """Where every activation tensor lives.

    Attributes
    ----------
    offsets : dict
        Tensor index -> byte offset in the arena.
    arena_bytes : int
        Size of the arena (peak of the placement).
    lower_bound_bytes : int
        Largest sum of (aligned) buffer sizes alive at one step of this
        plan's op order: no placement of these lifetimes needs less.
    buffers : list of Buffer
    usage : list of int
        Live bytes at each step ``-1 .. num_ops`` (``usage[s + 1]``; step -1
        holds the graph inputs only, step ``num_ops`` the outputs only).
    strategy : str
        The buffer placement order that gave the smallest arena.
    order : list of int
        Op indices (TFLite op numbers) in execution order; empty means the
        file order.
    order_strategy : str
        How ``order`` was found (``"file"`` for the file order).
    orders : dict
        Every op order tried (see :mod:`edgekit.firmware_export.schedule`):
        name -> ``{"arena_bytes", "lower_bound_bytes"}`` (``arena_bytes`` is
        None where the order was not placed because its lower bound could
        not beat an arena already found).
    """

    offsets: dict[int, int]
    arena_bytes: int
    lower_bound_bytes: int
    buffers: list[Buffer] = field(default_factory=list)
    usage: list[int] = field(default_factory=list)
    strategy: str = ""
    order: list[int] = field(default_factory=list)
    order_strategy: str = "file"
    orders: dict[str, dict] = field(default_factory=dict)

    def step_of(self, op_index: int) -> int:
        """The step (position in the execution order) at which an op runs.

        Parameters
        ----------
        op_index : int
            The op's TFLite index.

        Returns
        -------
        int
        """
        if not self.order:
            return op_index
        if not hasattr(self, "_steps"):
            self._steps = {op: s for s, op in enumerate(self.order)}
        return self._steps[op_index]

    def live_bytes_at_op(self, op_index: int) -> int:
        """Arena bytes alive while an op runs.

        Parameters
        ----------
        op_index : int
            The op's TFLite index.

        Returns
        -------
        int
        """
        step = self.step_of(op_index)
        return self.usage[step + 1] if 0 <= step + 1 < len(self.usage) else 0

    @property
    def file_order_arena_bytes(self) -> int | None:
        """Arena of the file order, when it was tried (None otherwise)."""
        return self.orders.get("file", {}).get("arena_bytes")

    @property
    def best_lower_bound_bytes(self) -> int:
        """The smallest lower bound over the op orders tried (this plan's own if none)."""
        return min([o["lower_bound_bytes"] for o in self.orders.values()]
                   + [self.lower_bound_bytes])

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "lower_bound_bytes": self.lower_bound_bytes,
                "lower_bound": "largest sum of buffer bytes alive at one step of op_order",
                "strategy": self.strategy, "order": self.order_strategy,
                "op_order": list(self.order),
                "orders_tried": {k: dict(v) for k, v in self.orders.items()},
                "best_lower_bound_bytes": self.best_lower_bound_bytes,
                "buffers": [{"tensors": b.tensors, "bytes": b.size, "offset": b.offset,
                             "first_op": b.first, "last_op": b.last} for b in self.buffers],
                "live_bytes_per_op": self.usage}


# Orders in which buffers are placed; the plan keeps the best result.
STRATEGIES = {
    "size": lambda b: (-b.size, b.first, b.tensors[0]),
    "size_x_lifetime": lambda b: (-b.size * (b.last - b.first + 1), -b.size, b.tensors[0]),
    "first_use": lambda b: (b.first, -b.size, b.tensors[0]),
    "lifetime": lambda b: (-(b.last - b.first), -b.size, b.tensors[0]),
}


def alias_root(aliases: dict[int, int], t: int) -> int:
    """The tensor whose buffer ``t`` shares (follows ``aliases``; a cycle stops it)."""
    seen = 0
    while t in aliases and seen <= len(aliases):
        t = aliases[t]
        seen += 1
    return t


def may_overwrite(graph, t: int, out: int, aliases: dict[int, int], external) -> bool:
    """Whether an in-place op's output ``out`` may take the memory of its input ``t``.

    Only the order-free conditions: ``t`` is an activation in the arena (not
    a constant, not a graph input or an alias of one, not external state)
    of the output's aligned size.  That ``t`` dies with the op depends on
    the op order and is checked by the caller.
    """
    tin, tout = graph.tensors[t], graph.tensors[out]
    return not (tin.is_const or t in graph.inputs or alias_root(aliases, t) in graph.inputs
                or t in external or align(tin.nbytes) != align(tout.nbytes))


def _place(buffers: list[Buffer], key) -> tuple[int, list[int]]:
    """Place ``buffers`` in the order ``key`` gives; return (arena, offsets).

    Each buffer goes to the lowest offset where it does not overlap a placed
    buffer alive at the same time.  The offsets are also written to the
    buffers.
    """
    n = len(buffers)
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    start = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    arena = 0
    for k, b in enumerate(sorted(buffers, key=key)):
        clash = (last[:k] >= b.first) & (first[:k] <= b.last)
        offset = 0
        if clash.any():
            s, e = start[:k][clash], end[:k][clash]
            for j in np.lexsort((e, s)):
                if offset + b.size <= s[j]:
                    break
                offset = max(offset, int(e[j]))
        b.offset = offset
        first[k], last[k], start[k], end[k] = b.first, b.last, offset, offset + b.size
        arena = max(arena, offset + b.size)
    return arena, [b.offset for b in buffers]


def _check_order(graph, order: Sequence[int]) -> list[int]:
    order = [int(i) for i in order]
    n = len(graph.operators)
    if sorted(order) != list(range(n)):
        raise PlanError(f"op order must list each of the {n} op indices once (got {len(order)} "
                        "entries)")
    return order


def plan_memory(graph, aliases: dict[int, int] | None = None,
                inplace: dict[int, tuple[int, ...]] | None = None,
                external: set[int] | frozenset = frozenset(),
                order: Sequence[int] | None = None) -> MemoryPlan:
    """Plan the arena of ``graph``.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph
    aliases : dict, optional
        Output tensor index -> input tensor index for ops whose output shares
        its input's memory (reshape-likes).
    inplace : dict, optional
        Op index -> input tensor indices whose memory the op's (single)
        output may reuse, because its kernel reads each element before it
        writes the same element.  Used only where that input is read for the
        last time by the op (in ``order``), has the output's size, and is not
        a graph input or output.
    external : set of int, optional
        Tensors that live outside the arena (streaming state inputs).
    order : sequence of int, optional
        Op indices in execution order (default: the file order).  It must
        be a permutation of the op indices; that it respects the data
        dependencies is the caller's business (see
        :func:`edgekit.firmware_export.schedule.topological`).

    Returns
    -------
    MemoryPlan

    Raises
    ------
    edgekit.errors.PlanError
        If ``order`` is not a permutation of the op indices.
    """
    aliases = dict(aliases or {})
    n_ops = len(graph.operators)
    by_index = {op.index: op for op in graph.operators}
    file_order = [op.index for op in graph.operators]
    order = file_order if order is None else _check_order(graph, order)
    step_of = {op_index: s for s, op_index in enumerate(order)}
    ops_in_order = [by_index[i] for i in order]
    if inplace:
        last_read: dict[int, int] = {}
        for op in ops_in_order:
            for t in op.inputs:
                if t >= 0:
                    last_read[t] = step_of[op.index]

        group_last: dict[int, int] = {}
        for t, i in last_read.items():
            r = alias_root(aliases, t)
            group_last[r] = max(group_last.get(r, -1), i)
        for t in graph.outputs:
            group_last[alias_root(aliases, t)] = n_ops
        for op_index, candidates in sorted(inplace.items(), key=lambda kv: step_of[kv[0]]):
            step = step_of[op_index]
            out = by_index[op_index].outputs[0]
            for t in candidates:
                r = alias_root(aliases, t)
                if (not may_overwrite(graph, t, out, aliases, external)
                        or group_last.get(r) != step or out in aliases):
                    continue
                aliases[out] = t
                group_last[r] = max(group_last.get(r, -1), group_last.get(out, step))
                break

    def root(t: int) -> int:
        return alias_root(aliases, t)

    groups: dict[int, Buffer] = {}

    def touch(t: int, step: int) -> None:
        tensor = graph.tensors[t]
        if tensor.is_const or t in external:
            return
        r = root(t)
        b = groups.get(r)
        if b is None:
            b = groups[r] = Buffer([], align(graph.tensors[r].nbytes), step, step)
        if t not in b.tensors:
            b.tensors.append(t)
        b.size = max(b.size, align(tensor.nbytes))
        b.first = min(b.first, step)
        b.last = max(b.last, step)

    for t in graph.inputs:
        touch(t, -1)
    for step, op in enumerate(ops_in_order):
        for t in op.inputs:
            if t >= 0:
                touch(t, step)
        for t in op.outputs:
            touch(t, step)
    for t in graph.outputs:
        touch(t, n_ops)

    buffers = list(groups.values())
    best_name, best, best_offsets = None, None, None
    for name, key in STRATEGIES.items():
        size, offsets = _place(buffers, key)
        if best is None or size < best:
            best_name, best, best_offsets = name, size, offsets
    for b, off in zip(buffers, best_offsets or []):
        b.offset = off
    arena = best or 0

    # Live bytes per step: +size at a buffer's first step, -size after its last.
    delta = [0] * (n_ops + 3)
    for b in buffers:
        delta[b.first + 1] += b.size
        delta[b.last + 2] -= b.size
    usage, live = [], 0
    for step in range(n_ops + 2):
        live += delta[step]
        usage.append(live)
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    is_file = order == file_order
    plan = MemoryPlan(offsets=offsets, arena_bytes=arena, lower_bound_bytes=max(usage, default=0),
                      buffers=sorted(buffers, key=lambda b: b.tensors[0]), usage=usage,
                      strategy=best_name or "", order=list(order),
                      order_strategy="file" if is_file else "given")
    return plan
