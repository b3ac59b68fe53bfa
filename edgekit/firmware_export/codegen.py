"""Generate C99 inference code for a :class:`Graph`.

This module computes values only: the memory plan, each constant's numbers,
each op's parameters, the order of the kernel calls and their tensor
arguments, the streaming state and how it is written back.  The C text is
in Jinja2 templates (``templates/model.c.j2``, ``model.h.j2``,
``ops/params.c.j2``, ``c.j2``; see :mod:`.templating`).  Kernels are real
``.c`` files under ``kernels/``, copied next to the generated model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from edgekit import __version__
from edgekit.errors import ConfigError, UnsupportedOpError
from edgekit.firmware_export import ops
from edgekit.firmware_export.graph import Graph
# The data inputs and outputs (re-exported: callers import them from here).
from edgekit.firmware_export.io_tensors import (IO_DTYPES, data_io, data_tensors,  # noqa: F401
                                                frames_per_call, io_specs)
from edgekit.firmware_export.kernel_paths import kernel_paths
from edgekit.firmware_export.ops.lstm import variable_tensors
from edgekit.firmware_export.passes.code_add import code_adds
from edgekit.firmware_export.passes.fuse_lif import OPCODE as LIF_STEP_OPCODE
from edgekit.firmware_export.passes.fuse_lif import fuse_lif
from edgekit.firmware_export.passes.lif_bn import OPCODE as LIF_BN_OPCODE
from edgekit.firmware_export.passes.lif_bn import lif_bn
from edgekit.firmware_export.passes.lif_layer import OPCODE as LIF_LAYER_OPCODE
from edgekit.firmware_export.passes.lif_layer import STEP_OPCODE as LIF_STREAM_OPCODE
from edgekit.firmware_export.passes.lif_layer import lif_layers
from edgekit.firmware_export.passes.spike_pad import fold_spike_pads
from edgekit.firmware_export.passes.spike_sparse import sparse_spikes
from edgekit.firmware_export.planner import MemoryPlan, plan_memory
from edgekit.firmware_export.quant import f32, quantize_multiplier
from edgekit.firmware_export.schedule import plan_schedule
from edgekit.firmware_export.templating import render

#: Types a constant tensor may have (their C types are in templates/c.j2).
CONST_DTYPES = frozenset({"int8", "int16", "int32", "uint8", "float32", "int64"})
COMMON_KERNEL_FILES = ("ek_kernels.h", "ek_fixedpoint.h", "ek_fixedpoint_exp.h",
                       "ek_broadcast.h")


@dataclass
class Export:
    """What :func:`generate` wrote."""

    out_dir: Path
    plan: MemoryPlan
    lowered: list
    files: list[str] = field(default_factory=list)
    weight_bytes: int = 0
    state_bytes: int = 0


#: Op names are packed four bits per op above this many ops (and 16 names).
PACK_OP_NAMES = 256
#: Ops of the graph passes that compute LIF layers or steps (named ``LIF``).
LIF_OPCODES = (LIF_STEP_OPCODE, LIF_LAYER_OPCODE, LIF_STREAM_OPCODE, LIF_BN_OPCODE)


def _ints(values) -> list[int]:
    """The values of an array, flattened, as Python ints (floats truncated)."""
    a = np.asarray(values).reshape(-1)
    if a.dtype.kind in "biu":
        return a.astype(np.int64).tolist()
    return [int(v) for v in a]


def _param_fields(params: dict) -> list[dict]:
    """An op's parameters for ``ops/params.c.j2``: name, kind and value of each.

    ``kind`` is ``"array"`` for a list (a const int32 array beside the
    struct), ``"tuple"`` for a fixed-size array field, ``"scalar"`` else.
    """
    fields = []
    for name, value in params.items():
        if isinstance(value, list):
            fields.append(dict(name=name, kind="array", value=_ints(value)))
        elif isinstance(value, tuple):
            fields.append(dict(name=name, kind="tuple", value=[int(v) for v in value]))
        else:
            fields.append(dict(name=name, kind="scalar", value=int(value)))
    return fields


def check_graph(graph: Graph) -> None:
    """Raise if the graph has no data input or output, or no operator."""
    data_tensors(graph)
    if not graph.operators:
        raise UnsupportedOpError("the model has no operators")


def lower_graph(graph: Graph) -> list[ops.Lowered]:
    """Lower every op (raises UnsupportedOpError at the first unsupported one)."""
    check_graph(graph)
    return [ops.lower(op, graph) for op in graph.operators]


def loop_calls(calls: list[dict], op_params: list[dict]) -> tuple[list[dict], list[dict]]:
    """Consecutive calls of one kernel with equal parameters, as one loop.

    Ops repeated per step of an unrolled recurrence (e.g. the fused LIF
    steps of :mod:`edgekit.firmware_export.passes.fuse_lif`) run with the
    same parameter block on other tensors: one loop over the steps, with
    an array of arena offsets for each argument that changes, replaces
    their calls and parameter blocks.

    Parameters
    ----------
    calls : list of dict
        The calls of :func:`model_context`, in execution order.
    op_params : list of dict
        Their parameter blocks (``index``, ``type``, ``fields``).

    Returns
    -------
    calls, op_params : list of dict
        The first call of a loop gets ``loop``: ``members`` (op indices),
        ``tflite`` (every TFLite op they compute) and ``arrays`` (``name``,
        ``arg`` position, per-step ``offsets``); its changing arguments
        become ``{"kind": "loop", "value": array name}``.  The other
        members' calls and parameter blocks are dropped.
    """
    fields = {p["index"]: p["fields"] for p in op_params}

    def joins(group: list[dict], c: dict) -> bool:
        a = group[0]
        if (c["kernel"] is None or c["kernel"] != a["kernel"] or a["index"] not in fields
                or fields.get(c["index"]) != fields[a["index"]]
                or len(c["args"]) != len(a["args"])):
            return False
        return all(x["kind"] == y["kind"] and (x["kind"] == "arena" or x == y)
                   for x, y in zip(a["args"], c["args"]))

    groups: list[list[dict]] = []
    for c in calls:
        if groups and groups[-1][0]["kernel"] is not None and joins(groups[-1], c):
            groups[-1].append(c)
        else:
            groups.append([c])
    out, dropped = [], set()
    for group in groups:
        first = group[0]
        out.append(first)
        if len(group) < 2:
            continue
        arrays = []
        for j, a in enumerate(first["args"]):
            values = [c["args"][j]["value"] for c in group]
            if len(set(values)) > 1:
                name = f"ek_loop{first['index']}_a{j}"
                arrays.append(dict(name=name, arg=j, offsets=values))
                first["args"][j] = dict(kind="loop", value=name)
        first["loop"] = dict(members=[c["index"] for c in group], arrays=arrays,
                             tflite=sorted(i for c in group for i in (c["fused"] or [c["index"]])))
        dropped.update(c["index"] for c in group[1:])
    return out, [p for p in op_params if p["index"] not in dropped]


def share_arrays(op_params: list[dict]) -> None:
    """One const array for equal array fields of the parameter blocks.

    Sets ``symbol`` (the C name) and ``emit`` (whether this block defines
    it) on every ``"array"`` field: the first block with given values
    defines ``ek_op<index>_<field>``, later blocks with the same values
    (e.g. a LIF layer's first step and its loop, or two layers' biases)
    point at it instead of repeating it in flash.

    Parameters
    ----------
    op_params : list of dict
        The parameter blocks (``index``, ``fields``), in emission order;
        changed in place.
    """
    first: dict[tuple, str] = {}
    for p in op_params:
        for f in p["fields"]:
            if f["kind"] != "array":
                continue
            name = f"ek_op{p['index']}_{f['name']}"
            f["symbol"] = first.setdefault(tuple(f["value"]), name)
            f["emit"] = f["symbol"] == name


def model_context(graph: Graph, plan: MemoryPlan, lowered: list[ops.Lowered],
                  source: str = "model.tflite",
                  lstm_state: str = "reset") -> tuple[dict, int, set[str]]:
    """The values ``model.c.j2`` and ``model.h.j2`` render.

    Parameters
    ----------
    graph : Graph
    plan : MemoryPlan
        The arena plan; ``plan.order`` is the order of the kernel calls.
    lowered : list of Lowered
        One per op of ``graph`` (file order), from :func:`lower_graph`.
    source : str
        Name of the model file, recorded in the generated comments.
    lstm_state : {"reset", "keep"}
        What ``edgekit_invoke`` does with the variable tensors (an LSTM's
        hidden and cell state): see :func:`generate`.

    Returns
    -------
    context : dict
        Header values (sizes, input/output quantization and arena offsets),
        ``op_kinds`` (the distinct op names) and ``op_kind`` (per op, the
        position of its name in ``op_kinds``; ``op_kind4`` the same four bits
        each, two to a byte, when there are at most 16 names and more than
        :data:`PACK_OP_NAMES` ops, else None),
        ``constants`` (in the order the calls first use them),
        ``op_params_list`` and ``calls`` (in ``plan.order``; a call's
        ``params`` is the op index of its parameter block, one block for
        calls with equal parameters), ``states``
        (with their write-back: ``"copy"``, ``"requantize"`` or
        ``"inplace"``), ``lstm_state`` and
        ``order`` (the strategy of the op order and its arena).
    weight_bytes : int
        Bytes of the constant tensors the calls use.
    extra_sources : set of str
        Kernel files the state write-back needs.

    Raises
    ------
    edgekit.errors.UnsupportedOpError
        For a constant of a type with no C type, or a state tensor that is
        not int8/int16 or whose int16 output is quantized differently.
    """
    # Streaming state pairs, then the variable tensors (LSTM states) the
    # kernels update in place: both live in static buffers outside the arena
    # (the variable tensors are zeroed at the start of every call).
    states = graph.state_pairs() + [(t, t) for t in variable_tensors(graph)]
    state_index = {a: k for k, (a, _) in enumerate(states)}
    by_index = {op.index: (op, low) for op, low in zip(graph.operators, lowered)}
    constants: dict[int, dict] = {}

    def ref(t: int | tuple | None) -> dict:
        if t is None:
            return dict(kind="null", value=0)
        if isinstance(t, tuple):          # (arena tensor, byte offset into it)
            t, extra = t
            if graph.tensors[t].is_const or t in state_index:
                raise UnsupportedOpError(f"an offset into tensor {t} must be in the arena")
            return dict(kind="arena", value=plan.offsets[t] + extra)
        if t in state_index:
            return dict(kind="state", value=state_index[t])
        tensor = graph.tensors[t]
        if tensor.is_const:
            if t not in constants:
                if tensor.dtype not in CONST_DTYPES:
                    raise UnsupportedOpError(f"constant tensor {t} has type {tensor.dtype}")
                constants[t] = dict(index=t, name=tensor.name, shape=list(tensor.shape),
                                    dtype=tensor.dtype, length=max(tensor.num_elements, 1),
                                    data=_ints(tensor.data), nbytes=tensor.nbytes)
            return dict(kind="const", value=t)
        return dict(kind="arena", value=plan.offsets[t])

    calls, op_params = [], []
    for op, low in (by_index[i] for i in plan.order):
        call = dict(index=op.index, opcode=op.opcode, kernel=low.kernel, alias_of=low.alias_of,
                    args=[], fused=graph.fused.get(op.index, []), loop=None)
        calls.append(call)
        if low.kernel is None:
            continue
        op_params.append(dict(index=op.index, type=low.params_type,
                              fields=_param_fields(low.params)))
        call["args"] = [ref(t) for t in low.args]
        if low.scratch > 0:
            call["args"].append(dict(kind="arena", value=plan.scratch[op.index].offset))
        elif low.scratch_options:
            call["args"].append(ref(None))

    calls, op_params = loop_calls(calls, op_params)
    # Calls with equal parameters (e.g. the loops of one LIF layer's steps on
    # either side of a concatenation) share one parameter block.
    first: dict = {}
    for p in op_params:
        p["shared"] = first.setdefault(repr((p["type"], p["fields"])), p["index"])
    shared = {p["index"]: p["shared"] for p in op_params}
    op_params = [p for p in op_params if p["shared"] == p["index"]]
    for c in calls:
        c["params"] = shared.get(c["index"], c["index"])
    share_arrays(op_params)
    state_list, extra_sources = [], set()
    for k, (a, b) in enumerate(states):
        ta, tb = graph.tensors[a], graph.tensors[b]
        if ta.dtype not in ("int8", "int16"):
            raise UnsupportedOpError(f"state tensor {a} has type {ta.dtype}")
        state = dict(k=k, a=a, b=b, shape=list(ta.shape), dtype=ta.dtype, zp=ta.zp,
                     nbytes=ta.nbytes, num_elements=ta.num_elements, new_zp=tb.zp,
                     new_offset=plan.offsets.get(b, 0), writeback="copy")
        if a == b:                # a variable tensor: its kernel updates it in place
            state["writeback"] = "inplace"
        elif (tb.s, tb.zp) != (ta.s, ta.zp):
            if ta.dtype != "int8":
                raise UnsupportedOpError(f"state tensors {a} and {b} are {ta.dtype} with "
                                         "different quantization: not supported")
            # The new state was quantized on its own scale: bring it back to
            # the state input's scale (TFLite's int8 requantization).
            state["mult"], state["shift"] = quantize_multiplier(f32(tb.s) / f32(ta.s))
            state["writeback"] = "requantize"
            extra_sources.add("ek_quantize.c")
        state_list.append(state)

    inputs, outputs = io_specs(graph, plan)
    x, y = inputs[0], outputs[0]
    # a merged LIF op is named LIF; another merged op (a PAD folded into the
    # depthwise layer after it) keeps its file's name
    lif = {op.index for op in graph.operators if op.opcode in LIF_OPCODES}
    names = [("LIF" if i in graph.fused and i in lif else name)
             for i, name in enumerate(graph.opcodes())]
    kinds = sorted(set(names))
    kind = [kinds.index(n) for n in names]
    # up to 16 names and many ops: two ops per byte (an unrolled spiking
    # model has thousands of ops, most of them fused away; with a few ops
    # the unpacking would cost more code than it saves)
    op_kind4 = ([kind[i] | (kind[i + 1] << 4 if i + 1 < len(kind) else 0)
                 for i in range(0, len(kind), 2)]
                if len(kinds) <= 16 and len(kind) > PACK_OP_NAMES else None)
    context = dict(
        version=__version__, source=Path(str(source)).name, num_ops=len(graph.opcodes()),
        arena_bytes=max(plan.arena_bytes, 16), lower_bound_bytes=plan.lower_bound_bytes,
        lower_bound_no_inplace_bytes=plan.lower_bound_no_inplace_bytes,
        inputs=inputs, outputs=outputs,
        input_bytes=sum(t["nbytes"] for t in inputs), input_scale=x["scale"], input_zp=x["zp"],
        output_bytes=sum(t["nbytes"] for t in outputs), output_scale=y["scale"],
        output_zp=y["zp"],
        frames_per_call=frames_per_call(graph),
        num_states=len(states), state_bytes=sum(graph.tensors[a].nbytes for a, _ in states),
        op_kinds=kinds, op_kind=kind, op_kind4=op_kind4,
        constants=list(constants.values()), op_params_list=op_params, calls=calls,
        states=state_list, lstm_state=lstm_state,
        stateful=any(s["writeback"] != "inplace" or lstm_state == "keep" for s in state_list),
        order=dict(strategy=plan.order_strategy, arena_bytes=plan.arena_bytes,
                   file_order_arena_bytes=plan.file_order_arena_bytes))
    weight_bytes = sum(c["nbytes"] for c in constants.values())
    return context, weight_bytes, extra_sources


KERNEL_SETS = ("optimized", "reference")
#: What ``edgekit_invoke`` does with a model's variable tensors (an LSTM's
#: state): ``"reset"`` zeroes them at every call (Keras' LSTM without
#: ``stateful=True``); ``"keep"`` carries them over until ``edgekit_reset()``
#: (tflite_micro's own semantics: variable tensors persist between invokes).
LSTM_STATE_MODES = ("reset", "keep")
#: The optimized kernels' list of paths to compile (kernel_paths.py).
PATHS_HEADER = "ek_paths.h"


def optimized_kernel_files() -> frozenset[str]:
    """Kernel files that have an optimized version (``kernels/optimized/*.c``).

    Returns
    -------
    frozenset of str
        File names, e.g. ``"ek_conv.c"``: for a graph using none of them the
        two kernel sets of :func:`generate` write the same kernel sources.
    """
    opt = resources.files("edgekit.firmware_export").joinpath("kernels", "optimized")
    return frozenset(f.name for f in opt.iterdir() if f.name.endswith(".c"))


#: Arenas up to this size may grow for the fast paths' scratch (:func:`scratch_allowance`).
SMALL_ARENA_BYTES = 32 * 1024


def scratch_allowance(budget: int) -> int:
    """Bytes the fast paths' scratch may add to :func:`fit_scratch`'s budget (default rule).

    A small model (a one-op model, a keyword spotter's few layers) would
    otherwise run a convolution on its slowest path to save a few hundred
    bytes: with no in-place op to pay for it, its budget leaves no room for
    any im2col buffer.  The rule: an arena may grow by up to an eighth of
    the budget, but never past :data:`SMALL_ARENA_BYTES`; larger models
    (ResNet-8, VWW: 49 KB, 55 KB) keep the strict budget, where each byte
    of RAM counts.

    Parameters
    ----------
    budget : int
        The arena bytes with every op at its smallest scratch and no op in
        place (or with in-place ops, the larger of the two).

    Returns
    -------
    int
        ``max(0, min(budget // 8, SMALL_ARENA_BYTES - budget))``.
    """
    return max(0, min(budget // 8, SMALL_ARENA_BYTES - budget))


def fit_scratch(graph: Graph, lowered: list, aliases: dict, inplace: dict,
                external: set, allowance: int | None = None) -> MemoryPlan:
    """Plan the arena, giving each op with ``scratch_options`` the largest
    scratch (its fastest path) that keeps the arena within budget.

    The budget is the arena with every such op at its smallest option and
    no op in place, plus ``allowance``: the working memory of the fast
    paths is paid from the bytes in-place ops save, and beyond them from
    the allowance only (by default :func:`scratch_allowance`: a small
    arena may grow by an eighth).  When the fastest sizes exceed it, every op starts from its
    smallest size and is raised, largest first, to the largest size whose
    plan (in the op order found for the smallest sizes) fits.  The chosen
    size is written back into each op's ``scratch`` and
    ``params[scratch_param]``.

    Parameters
    ----------
    graph : Graph
    lowered : list of Lowered
        One per operator, in file order; updated in place.
    aliases, inplace, external
        As for :func:`edgekit.firmware_export.planner.plan_memory`.
    allowance : int, optional
        Bytes the scratch may add to the budget; None: the default rule,
        :func:`scratch_allowance`; 0: the arena never exceeds the one with
        every op at its smallest scratch (or with in-place ops, the larger).

    Returns
    -------
    MemoryPlan

    Raises
    ------
    ValueError
        If ``allowance`` is negative.
    """
    if allowance is not None and allowance < 0:
        raise ValueError(f"scratch allowance must be >= 0 bytes (got {allowance})")
    ops = [(op.index, low) for op, low in zip(graph.operators, lowered) if low.kernel is not None]
    sizes = {i: low.scratch for i, low in ops}
    choices = {i: (low.scratch, *low.scratch_options) for i, low in ops if low.scratch_options}

    def live(s: dict) -> dict:
        return {i: n for i, n in s.items() if n > 0}

    plan = plan_schedule(graph, aliases, inplace, external, scratch=live(sizes))
    if choices:
        small = {**sizes, **{i: c[-1] for i, c in choices.items()}}
        base = plan_schedule(graph, aliases, inplace, external, scratch=live(small))
        budget = max(base.arena_bytes,
                     plan_schedule(graph, aliases, {}, external, scratch=live(small)).arena_bytes)
        budget += scratch_allowance(budget) if allowance is None else allowance
        if plan.arena_bytes > budget:
            sizes = small
            for i in sorted(choices, key=lambda i: -choices[i][0]):
                for n in choices[i][:-1]:
                    trial = plan_memory(graph, aliases, inplace, external, order=base.order,
                                        scratch=live({**sizes, i: n}))
                    if trial.arena_bytes <= budget:
                        sizes[i] = n
                        break
            plan = plan_schedule(graph, aliases, inplace, external, scratch=live(sizes))
            if plan.arena_bytes > budget:     # the search found no order as good as base's
                plan = plan_memory(graph, aliases, inplace, external, order=base.order,
                                   scratch=live(sizes))
                plan.order_strategy, plan.orders = base.order_strategy, base.orders
    for i, low in ops:
        if i in choices:
            low.scratch = sizes[i]
            low.params[low.scratch_param] = sizes[i]
    return plan


def generate(graph: Graph, out_dir: str | Path, source: str = "model.tflite",
             kernels: str = "optimized", scratch_allowance: int | None = None,
             lstm_state: str = "reset") -> Export:
    """Write ``model.c``, ``model.h`` and the kernels ``graph`` needs to ``out_dir``.

    Parameters
    ----------
    graph : Graph
    out_dir : path
    source : str
        Name of the model file, recorded in the generated comments.
    kernels : {"optimized", "reference"}
        Kernel set: ``reference`` is the plain C of ``kernels/``;
        ``optimized`` takes ``kernels/optimized/<same name>`` where it
        exists (same results, bit for bit; faster on Cortex-M) and the
        reference file otherwise.
    scratch_allowance : int, optional
        Bytes the kernels' scratch buffers (their fast paths) may add to the
        arena (see :func:`fit_scratch`); None: the default rule of
        :func:`scratch_allowance`; 0: never more than with every
        convolution on its smallest-scratch path.
    lstm_state : {"reset", "keep"}
        The variable tensors (an LSTM's hidden and cell state, kept in the
        static state buffers): ``"reset"`` (default) zeroes them at the
        start of every ``edgekit_invoke``, as a Keras LSTM without
        ``stateful=True``; ``"keep"`` carries them from one call to the next
        until ``edgekit_reset()``, as tflite_micro does between invokes
        until ``reset()`` (a stateful, streaming LSTM).  No effect on a
        model without variable tensors.
    """
    if kernels not in KERNEL_SETS:
        raise UnsupportedOpError(f"kernels must be one of {KERNEL_SETS} (got {kernels!r})")
    if lstm_state not in LSTM_STATE_MODES:
        raise ConfigError(f"lstm_state must be one of {LSTM_STATE_MODES} (got {lstm_state!r})")
    # Graph passes: each int8 LIF step as one op (Graph.fused maps it back),
    # the steps of a whole LIF layer as one op (with the ADD and per-channel
    # stages making its current), then the layers reading its spikes
    # event-driven (a causal PAD in front folded in) and the ADDs of
    # few-code tensors by tables.
    graph = code_adds(fold_spike_pads(sparse_spikes(lif_bn(lif_layers(fuse_lif(graph))))))
    lowered = lower_graph(graph)
    aliases = {low.args[1]: low.alias_of for low in lowered if low.alias_of is not None}
    inplace = {op.index: tuple(low.inplace) for op, low in zip(graph.operators, lowered)
               if low.inplace}
    # The op order with the smallest arena (the file order unless another
    # topological order saves bytes); ops keep their TFLite index in the
    # profiling hooks and EDGEKIT_OP_NAME whatever the order.  State
    # tensors live outside the arena.
    plan = fit_scratch(graph, lowered, aliases, inplace,
                       external={a for a, _ in graph.state_pairs()} | set(variable_tensors(graph)),
                       allowance=scratch_allowance)
    plan.merged = {t: k for k, members in graph.fused.items() for t in members}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    context, weight_bytes, extra_sources = model_context(graph, plan, lowered, source,
                                                              lstm_state)
    plan.hooks = {c["index"]: c["loop"]["tflite"] if c["loop"] else c["fused"]
                  for c in context["calls"] if c["loop"] or c["fused"]}
    files = ["model.h", "model.c"]
    (out_dir / "model.h").write_text(render("model.h.j2", **context))
    (out_dir / "model.c").write_text(render("model.c.j2", **context))
    state_bytes = context["state_bytes"]

    kdir = resources.files("edgekit.firmware_export").joinpath("kernels")
    needed = list(COMMON_KERNEL_FILES) + sorted({low.source for low in lowered if low.source}
                                                | extra_sources)
    # A kernel's reference loop lives in ek_<op>_ref.h (shared with its
    # optimized version); the optimized kernels share kernels/optimized/*.h.
    needed += [n[:-2] + "_ref.h" for n in needed
               if n.endswith(".c") and kdir.joinpath(n[:-2] + "_ref.h").is_file()]
    if kernels == "optimized":
        # ek_paths.h is written below (the paths the layers take), not copied.
        needed += sorted(f.name for f in kdir.joinpath("optimized").iterdir()
                         if f.name.endswith(".h") and f.name != PATHS_HEADER)
        (out_dir / PATHS_HEADER).write_text(
            render("ek_paths.h.j2", version=__version__, source=Path(str(source)).name,
                   paths=kernel_paths(lowered)))
        files.append(PATHS_HEADER)

    def source_of(name: str):
        if kernels == "optimized" and kdir.joinpath("optimized", name).is_file():
            return kdir.joinpath("optimized", name)
        return kdir.joinpath(name)

    for name in needed:
        with resources.as_file(source_of(name)) as path:
            shutil.copyfile(path, out_dir / name)
        files.append(name)
    return Export(out_dir=out_dir, plan=plan, lowered=lowered, files=files,
                  weight_bytes=weight_bytes, state_bytes=state_bytes)
