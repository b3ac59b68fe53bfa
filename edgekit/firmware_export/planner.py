"""Offline memory plan of the tensor arena from tensor lifetimes.

Every activation tensor gets a byte offset in one static arena.  Tensors
whose lifetimes (first write to last read over the op order) do not overlap
may share bytes.  Reshape-like ops make their output an alias of their
input, so both are one buffer.  Placement is greedy by size (largest first,
lowest offset that does not collide with a placed buffer alive at the same
time), the strategy of TFLM's GreedyMemoryPlanner, and also with other
placement orders (longest-lived first, earliest first, ...): the smallest
arena wins.

Ops whose kernels allow it write their output over an input that dies with
them (in place): the output starts at the input's address and may be
smaller than it.  The two buffers keep their own sizes and lifetimes; they
overlap only at that op's step and are placed together.  An op may also ask
for scratch bytes (a buffer alive at its own step only).

The plan also reports the lower bound no placement can beat for its op
order: the largest total of bytes alive at one step, where an in-place
output is not counted on top of the input it overwrites; and, beside it,
the same bound without in-place (every input and output of a step alive).

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

    ``over`` is the first tensor of the buffer this one overwrites in place
    (it starts at that buffer's offset; the two overlap at this buffer's
    ``first`` step only).  A scratch buffer has no tensors and names its op
    in ``scratch_of``.
    """

    tensors: list[int]
    size: int
    first: int          # step of the first write (-1: a graph input)
    last: int           # step of the last read (num_ops: a graph output)
    offset: int = -1
    over: int | None = None
    scratch_of: int | None = None


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
        plan's op order, scratch included, an in-place output counted once
        with the input it overwrites: no placement of these lifetimes needs
        less.
    lower_bound_no_inplace_bytes : int
        The bound of the same op order by the rule of kernels that do not
        work in place: every input and output of a step alive at once, no
        scratch.
    buffers : list of Buffer
        The tensors' buffers (scratch buffers are in ``scratch``).
    scratch : dict
        Op index -> its scratch :class:`Buffer` (ops that asked for one).
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
    merged : dict
        TFLite op index -> index of the op that computes it, for ops a graph
        pass merged (:mod:`edgekit.firmware_export.passes`); set by
        :func:`edgekit.firmware_export.codegen.generate`.
    hooks : dict
        Profiling hook (op index) -> the TFLite ops it measures, for hooks
        measuring more than their own op (a fused op, a loop of calls); the
        other ops of the list report 0.  Set by ``generate``.
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
    lower_bound_no_inplace_bytes: int = 0
    scratch: dict[int, Buffer] = field(default_factory=dict)
    merged: dict[int, int] = field(default_factory=dict)
    hooks: dict[int, list[int]] = field(default_factory=dict)

    @property
    def inplace(self) -> dict[int, int]:
        """Tensor -> the tensor whose start address it takes (in place)."""
        return {b.tensors[0]: b.over for b in self.buffers if b.over is not None}

    def step_of(self, op_index: int) -> int:
        """The step (position in the execution order) at which an op runs.

        Parameters
        ----------
        op_index : int
            The op's TFLite index.

        Returns
        -------
        int

        Notes
        -----
        A TFLite op merged into another by a graph pass (``merged``: TFLite
        op index -> index of the op computing it) runs at that op's step.
        """
        op_index = self.merged.get(op_index, op_index)
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
                "lower_bound_no_inplace_bytes": self.lower_bound_no_inplace_bytes,
                "strategy": self.strategy, "order": self.order_strategy,
                "op_order": list(self.order),
                "orders_tried": {k: dict(v) for k, v in self.orders.items()},
                "best_lower_bound_bytes": self.best_lower_bound_bytes,
                "buffers": [{"tensors": b.tensors, "bytes": b.size, "offset": b.offset,
                             "first_op": b.first, "last_op": b.last, "over": b.over}
                            for b in self.buffers],
                "scratch": [{"op": op, "bytes": b.size, "offset": b.offset, "step": b.first}
                            for op, b in sorted(self.scratch.items())],
                "live_bytes_per_op": self.usage,
                "fused_ops": {str(k): sorted(t for t, m in self.merged.items() if m == k)
                              for k in sorted(set(self.merged.values()))},
                "profile_hooks": {str(k): v for k, v in sorted(self.hooks.items())}}


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
    at least as large as the output (aligned sizes).  That ``t`` dies with
    the op depends on the op order and is checked by the caller.
    """
    tin, tout = graph.tensors[t], graph.tensors[out]
    return not (tin.is_const or t in graph.inputs or alias_root(aliases, t) in graph.inputs
                or t in external or align(tout.nbytes) > align(tin.nbytes))


#: Sort tag of a scratch buffer (after every tensor index).
_SCRATCH_TAG = 1 << 40


def _items(buffers: list[Buffer]) -> list[list[Buffer]]:
    """Buffers grouped into chains placed at one offset (in-place links)."""
    head = {b.tensors[0]: b for b in buffers if b.tensors}
    chains: dict[int, list[Buffer]] = {}
    for b in buffers:
        r = b
        seen = 0
        while r.over is not None and r.over in head and seen <= len(buffers):
            r = head[r.over]
            seen += 1
        chains.setdefault(id(r), []).append(b)
    return list(chains.values())


def _proxy(chain: list[Buffer]) -> Buffer:
    """One buffer standing for a chain in the placement order keys."""
    tags = [b.tensors[0] if b.tensors else _SCRATCH_TAG + (b.scratch_of or 0) for b in chain]
    return Buffer([min(tags)], max(b.size for b in chain), min(b.first for b in chain),
                  max(b.last for b in chain))


def _place(buffers: list[Buffer], key) -> tuple[int, list[int]]:
    """Place ``buffers`` in the order ``key`` gives; return (arena, offsets).

    Each buffer goes to the lowest offset where it does not overlap a placed
    buffer alive at the same time; buffers linked in place (``over``) go to
    one offset, the lowest where none of them overlaps a placed buffer.  The
    offsets are also written to the buffers.
    """
    n = len(buffers)
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    start = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    arena, k = 0, 0
    chains = _items(buffers)
    proxies = [_proxy(c) for c in chains]
    for j in sorted(range(len(chains)), key=lambda i: key(proxies[i])):
        chain = chains[j]
        clashes = [(last[:k] >= b.first) & (first[:k] <= b.last) for b in chain]
        offset = 0
        moved = True
        while moved:
            # Every placed buffer overlapping [offset, offset + size) at the
            # same time overlaps it for any offset below its end: skip past.
            moved = False
            for b, clash in zip(chain, clashes):
                hit = clash & (start[:k] < offset + b.size) & (end[:k] > offset)
                if hit.any():
                    offset = int(end[:k][hit].max())
                    moved = True
        for b in chain:
            b.offset = offset
            first[k], last[k], start[k], end[k] = b.first, b.last, offset, offset + b.size
            k += 1
            arena = max(arena, offset + b.size)
    return arena, [b.offset for b in buffers]


def _check_order(graph, order: Sequence[int]) -> list[int]:
    order = [int(i) for i in order]
    n = len(graph.operators)
    if sorted(order) != sorted(op.index for op in graph.operators):
        raise PlanError(f"op order must list each of the {n} op indices once (got {len(order)} "
                        "entries)")
    return order


def plan_memory(graph, aliases: dict[int, int] | None = None,
                inplace: dict[int, tuple[int, ...]] | None = None,
                external: set[int] | frozenset = frozenset(),
                order: Sequence[int] | None = None,
                scratch: dict[int, int] | None = None) -> MemoryPlan:
    """Plan the arena of ``graph``.

    Parameters
    ----------
    graph : edgekit.firmware_export.graph.Graph
    aliases : dict, optional
        Output tensor index -> input tensor index for ops whose output shares
        its input's memory (reshape-likes).
    inplace : dict, optional
        Op index -> input tensor indices whose memory the op's (single)
        output may overwrite: its kernel gives the right result when the
        output starts at that input's address.  Used (first candidate
        first) only where that input is read for the last time by the op (in
        ``order``), is at least as large as the output, and is not a graph
        input or output or external; the output then starts at the input's
        offset.
    external : set of int, optional
        Tensors that live outside the arena (streaming state inputs).
    order : sequence of int, optional
        Op indices in execution order (default: the file order).  It must
        be a permutation of the op indices; that it respects the data
        dependencies is the caller's business (see
        :func:`edgekit.firmware_export.schedule.topological`).
    scratch : dict, optional
        Op index -> bytes of scratch memory the op's kernel needs while it
        runs (alive at that op's step only; offsets in
        :attr:`MemoryPlan.scratch`).

    Returns
    -------
    MemoryPlan

    Raises
    ------
    edgekit.errors.PlanError
        If ``order`` is not a permutation of the op indices, or a scratch
        size is negative.
    """
    aliases = dict(aliases or {})
    n_ops = len(graph.operators)
    by_index = {op.index: op for op in graph.operators}
    file_order = [op.index for op in graph.operators]
    order = file_order if order is None else _check_order(graph, order)
    ops_in_order = [by_index[i] for i in order]

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

    # In place: the output starts at an input that dies at this op.
    overlap = [0] * (n_ops + 2)         # bytes counted twice at step s (usage[s + 1])
    for step, op in enumerate(ops_in_order):
        if not op.outputs or op.index not in (inplace or {}) or op.outputs[0] in aliases:
            continue
        out = op.outputs[0]
        bo = groups.get(out)
        if bo is None or bo.first != step or bo.over is not None:
            continue
        for t in inplace[op.index]:
            bt = groups.get(root(t)) if t >= 0 else None
            if (bt is None or bt is bo or bt.last != step
                    or not may_overwrite(graph, t, out, aliases, external)):
                continue
            bo.over = bt.tensors[0]
            overlap[step + 1] += min(bo.size, bt.size)
            break

    buffers = list(groups.values())
    scratch_buffers: dict[int, Buffer] = {}
    step_of = {op_index: s for s, op_index in enumerate(order)}
    for op_index, nbytes in sorted((scratch or {}).items()):
        if nbytes < 0:
            raise PlanError(f"scratch bytes of op {op_index} must be >= 0 (got {nbytes})")
        if nbytes and op_index in by_index:
            s = step_of[op_index]
            scratch_buffers[op_index] = Buffer([], align(nbytes), s, s, scratch_of=op_index)
    placed = buffers + list(scratch_buffers.values())
    best_name, best, best_offsets = None, None, None
    for name, key in STRATEGIES.items():
        size, offsets = _place(placed, key)
        if best is None or size < best:
            best_name, best, best_offsets = name, size, offsets
    for b, off in zip(placed, best_offsets or []):
        b.offset = off
    arena = best or 0

    # Live bytes per step: +size at a buffer's first step, -size after its last.
    delta = [0] * (n_ops + 3)
    for b in buffers:
        delta[b.first + 1] += b.size
        delta[b.last + 2] -= b.size
    plain, live = [], 0
    for step in range(n_ops + 2):
        live += delta[step]
        plain.append(live)
    usage = list(plain)
    for b in scratch_buffers.values():
        usage[b.first + 1] += b.size
    usage = [u - o for u, o in zip(usage, overlap)]
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    is_file = order == file_order
    plan = MemoryPlan(offsets=offsets, arena_bytes=arena, lower_bound_bytes=max(usage, default=0),
                      buffers=sorted(buffers, key=lambda b: b.tensors[0]), usage=usage,
                      strategy=best_name or "", order=list(order),
                      order_strategy="file" if is_file else "given",
                      lower_bound_no_inplace_bytes=max(plain, default=0),
                      scratch=scratch_buffers)
    return plan
