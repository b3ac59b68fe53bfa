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
placement can beat: the largest total of bytes alive at one step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 16


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    """One region of the arena: a tensor and the tensors aliasing it."""

    tensors: list[int]
    size: int
    first: int          # op index of the first write (-1: a graph input)
    last: int           # op index of the last read (num_ops: a graph output)
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
        Largest sum of (aligned) buffer sizes alive at one op step.
    buffers : list of Buffer
    usage : list of int
        Live bytes at each op step (for plots).
    """

    offsets: dict[int, int]
    arena_bytes: int
    lower_bound_bytes: int
    buffers: list[Buffer] = field(default_factory=list)
    usage: list[int] = field(default_factory=list)
    strategy: str = ""

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "lower_bound_bytes": self.lower_bound_bytes,
                "strategy": self.strategy,
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


def _place(buffers: list[Buffer], key) -> int:
    placed: list[Buffer] = []
    arena = 0
    for b in sorted(buffers, key=key):
        clashes = sorted((p.offset, p.offset + p.size) for p in placed
                         if not (p.last < b.first or b.last < p.first))
        offset = 0
        for start, end in clashes:
            if offset + b.size <= start:
                break
            offset = max(offset, end)
        b.offset = offset
        placed.append(b)
        arena = max(arena, offset + b.size)
    return arena


def plan_memory(graph, aliases: dict[int, int] | None = None,
                inplace: dict[int, tuple[int, ...]] | None = None,
                external: set[int] | frozenset = frozenset()) -> MemoryPlan:
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
        last time by the op, has the output's size, and is not a graph
        input or output.
    """
    aliases = dict(aliases or {})
    n_ops = len(graph.operators)
    if inplace:
        last_read: dict[int, int] = {}
        for op in graph.operators:
            for t in op.inputs:
                if t >= 0:
                    last_read[t] = op.index

        def _root(t: int) -> int:
            while t in aliases:
                t = aliases[t]
            return t

        group_last: dict[int, int] = {}
        for t, i in last_read.items():
            r = _root(t)
            group_last[r] = max(group_last.get(r, -1), i)
        for t in graph.outputs:
            group_last[_root(t)] = n_ops
        for op_index, candidates in sorted(inplace.items()):
            out = graph.operators[op_index].outputs[0]
            for t in candidates:
                r = _root(t)
                tin, tout = graph.tensors[t], graph.tensors[out]
                if (tin.is_const or t in graph.inputs or r in graph.inputs or t in external
                        or group_last.get(r) != op_index or out in aliases
                        or _align(tin.nbytes) != _align(tout.nbytes)):
                    continue
                aliases[out] = t
                group_last[r] = max(group_last.get(r, -1), group_last.get(out, op_index))
                break
    n_ops = len(graph.operators)

    def root(t: int) -> int:
        seen = 0
        while t in aliases and seen <= len(aliases):
            t = aliases[t]
            seen += 1
        return t

    groups: dict[int, Buffer] = {}

    def touch(t: int, step: int) -> None:
        tensor = graph.tensors[t]
        if tensor.is_const or t in external:
            return
        r = root(t)
        b = groups.get(r)
        if b is None:
            b = groups[r] = Buffer([], _align(graph.tensors[r].nbytes), step, step)
        if t not in b.tensors:
            b.tensors.append(t)
        b.size = max(b.size, _align(tensor.nbytes))
        b.first = min(b.first, step)
        b.last = max(b.last, step)

    for t in graph.inputs:
        touch(t, -1)
    for op in graph.operators:
        for t in op.inputs:
            if t >= 0:
                touch(t, op.index)
        for t in op.outputs:
            touch(t, op.index)
    for t in graph.outputs:
        touch(t, n_ops)

    buffers = list(groups.values())
    best_name, best = None, None
    for name, key in STRATEGIES.items():
        size = _place(buffers, key)
        if best is None or size < best:
            best_name, best = name, size
    arena = _place(buffers, STRATEGIES[best_name])

    usage = []
    for step in range(-1, n_ops + 1):
        usage.append(sum(b.size for b in buffers if b.first <= step <= b.last))
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    return MemoryPlan(offsets=offsets, arena_bytes=arena, lower_bound_bytes=max(usage, default=0),
                      buffers=sorted(buffers, key=lambda b: b.tensors[0]), usage=usage,
                      strategy=best_name)
