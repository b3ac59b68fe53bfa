"""Generate C99 inference code for a :class:`Graph`.

The C is not built by concatenating statements: ``templates/model.c.tmpl``
and ``templates/model.h.tmpl`` hold the code, and this module fills in only
the glue (constant arrays, per-op parameter blocks, the sequence of kernel
calls with their profiling hooks).  Kernels are real ``.c`` files under
``kernels/``, copied next to the generated model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from edgekit import __version__
from edgekit.errors import UnsupportedOpError
from edgekit.firmware_export import ops
from edgekit.firmware_export.graph import Graph
from edgekit.firmware_export.planner import MemoryPlan
from edgekit.firmware_export.quant import f32, quantize_multiplier
from edgekit.firmware_export.schedule import plan_schedule

C_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "uint8": "uint8_t",
           "float32": "float", "int64": "int64_t"}
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


def _template(name: str) -> Template:
    return Template(resources.files("edgekit.firmware_export").joinpath(
        "templates", name).read_text())


def _c_array(values, per_line: int = 16) -> str:
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return "    " + ",\n    ".join(lines)


def _c_int(v: int) -> str:
    v = int(v)
    if v == -(1 << 31):
        return "INT32_MIN"
    return str(v)


def data_io(graph: Graph) -> tuple[int, int]:
    """The one data input and output tensor (streaming state excluded)."""
    states = graph.state_pairs()
    ins = [t for t in graph.inputs if t not in {a for a, _ in states}]
    outs = [t for t in graph.outputs if t not in {b for _, b in states}]
    if len(ins) != 1 or len(outs) != 1:
        raise UnsupportedOpError(
            f"the model has {len(ins)} data inputs and {len(outs)} data outputs"
            + (f" (besides {len(states)} state pairs)" if states else "")
            + "; edgekit's generated code supports exactly one of each (streaming state: "
            "signature inputs/outputs named state_0, state_1, ...)")
    for a, b in states:
        ta, tb = graph.tensors[a], graph.tensors[b]
        if ta.nbytes != tb.nbytes or ta.dtype != tb.dtype:
            raise UnsupportedOpError(
                f"state tensors {a} and {b} differ in size or type ({list(ta.shape)} {ta.dtype} "
                f"vs {list(tb.shape)} {tb.dtype})")
    return ins[0], outs[0]


def frames_per_call(graph: Graph) -> int:
    """Feature frames in one call of a streaming model (its hop), else 1.

    A streaming model (state pairs, see :meth:`Graph.state_pairs`) whose data
    input is ``(1, hop, features)`` takes ``hop`` frames per call; the
    generated ``edgekit_push_frame`` collects them one at a time.
    """
    xi, _ = data_io(graph)
    shape = graph.tensors[xi].shape
    if graph.state_pairs() and len(shape) == 3 and shape[0] == 1 and shape[1] >= 1:
        return int(shape[1])
    return 1


def check_graph(graph: Graph) -> None:
    """Raise if the graph is not one data input, one data output (+ state)."""
    data_io(graph)
    if not graph.operators:
        raise UnsupportedOpError("the model has no operators")


def lower_graph(graph: Graph) -> list[ops.Lowered]:
    """Lower every op (raises UnsupportedOpError at the first unsupported one)."""
    check_graph(graph)
    return [ops.lower(op, graph) for op in graph.operators]


KERNEL_SETS = ("optimized", "reference")


def generate(graph: Graph, out_dir: str | Path, source: str = "model.tflite",
             kernels: str = "optimized") -> Export:
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
    """
    if kernels not in KERNEL_SETS:
        raise UnsupportedOpError(f"kernels must be one of {KERNEL_SETS} (got {kernels!r})")
    lowered = lower_graph(graph)
    aliases = {low.args[1]: low.alias_of for low in lowered if low.alias_of is not None}
    inplace = {op.index: tuple(low.inplace) for op, low in zip(graph.operators, lowered)
               if low.inplace}
    states = graph.state_pairs()
    state_index = {a: k for k, (a, _) in enumerate(states)}
    # The op order with the smallest arena (the file order unless another
    # topological order saves bytes); ops keep their TFLite index in the
    # profiling hooks and edgekit_op_names whatever the order.
    plan = plan_schedule(graph, aliases, inplace, external=set(state_index))
    by_index = {op.index: (op, low) for op, low in zip(graph.operators, lowered)}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    const_lines, param_lines, call_lines = [], [], []
    emitted_consts: set[int] = set()
    weight_bytes = 0

    def ref(t: int | None) -> str:
        nonlocal weight_bytes
        if t is None:
            return "NULL"
        tensor = graph.tensors[t]
        if tensor.is_const:
            if t not in emitted_consts:
                emitted_consts.add(t)
                ctype = C_TYPES.get(tensor.dtype)
                if ctype is None:
                    raise UnsupportedOpError(f"constant tensor {t} has type {tensor.dtype}")
                const_lines.append(
                    f"/* tensor {t}: {tensor.name[:60]} {list(tensor.shape)} */\n"
                    f"static const {ctype} ek_c{t}[{max(tensor.num_elements, 1)}] "
                    f"__attribute__((aligned(16))) = {{\n{_c_array(tensor.data)}\n}};")
                weight_bytes += tensor.nbytes
            return f"ek_c{t}"
        if t in state_index:
            return f"(void *)ek_state{state_index[t]}"
        return f"EK_T({plan.offsets[t]})"

    if plan.order_strategy != "file":
        call_lines.append(f"    /* ops in the order '{plan.order_strategy}': arena "
                          f"{plan.arena_bytes} B (file order "
                          f"{plan.file_order_arena_bytes} B) */")
    for op, low in (by_index[i] for i in plan.order):
        if low.kernel is None:
            call_lines.append(f"    /* op {op.index}: {op.opcode} (no code: output aliases "
                              f"tensor {low.alias_of}) */")
            continue
        fields = []
        for name, value in low.params.items():
            if isinstance(value, list):
                arr = f"ek_op{op.index}_{name}"
                param_lines.append(f"static const int32_t {arr}[{len(value)}] = {{\n"
                                   f"{_c_array(value, 8)}\n}};")
                fields.append(f".{name} = {arr}")
            elif isinstance(value, tuple):
                fields.append(f".{name} = {{{', '.join(_c_int(v) for v in value)}}}")
            else:
                fields.append(f".{name} = {_c_int(value)}")
        param_lines.append(f"static const {low.params_type} ek_op{op.index} = {{\n    "
                           + ",\n    ".join(fields) + "\n};")
        args = ", ".join(ref(t) for t in low.args)
        call_lines.append(f"    edgekit_profile_begin({op.index});\n"
                          f"    {low.kernel}(&ek_op{op.index}, {args});\n"
                          f"    edgekit_profile_end({op.index});")

    xi, yi = data_io(graph)
    x, y = graph.tensors[xi], graph.tensors[yi]
    state_decls, reset, writeback = [], [], []
    extra_sources: set[str] = set()
    for k, (a, b) in enumerate(states):
        ta = graph.tensors[a]
        state_decls.append(f"/* state {k}: tensor {a} -> {b}, {list(ta.shape)} {ta.dtype}, "
                           f"zero point {ta.zp} */\n"
                           f"static int8_t ek_state{k}[{ta.nbytes}] __attribute__((aligned(16)));")
        if ta.dtype == "int8":
            reset.append(f"    memset(ek_state{k}, {ta.zp}, sizeof ek_state{k});")
        elif ta.dtype == "int16":
            reset.append(f"    for (unsigned i = 0; i < {ta.num_elements}u; ++i) "
                         f"((int16_t *)(void *)ek_state{k})[i] = {ta.zp};")
        else:
            raise UnsupportedOpError(f"state tensor {a} has type {ta.dtype}")
        tb = graph.tensors[b]
        if (tb.s, tb.zp) == (ta.s, ta.zp):
            writeback.append(f"    memcpy(ek_state{k}, EK_T({plan.offsets[b]}), sizeof ek_state{k});")
        elif ta.dtype == "int8":
            # The new state was quantized on its own scale: bring it back to
            # the state input's scale (TFLite's int8 requantization).
            m, sh = quantize_multiplier(f32(tb.s) / f32(ta.s))
            param_lines.append(
                f"static const ek_requantize_params ek_state{k}_rq = {{\n    .size = {ta.num_elements}, "
                f".in_zp = {tb.zp}, .out_zp = {ta.zp}, .mult = {m}, .shift = {sh}\n}};")
            writeback.append(f"    ek_requantize_s8(&ek_state{k}_rq, EK_T({plan.offsets[b]}), "
                             f"ek_state{k});")
            extra_sources.add("ek_quantize.c")
        else:
            raise UnsupportedOpError(f"state tensors {a} and {b} are {ta.dtype} with different "
                                     "quantization: not supported")
    state_bytes = sum(graph.tensors[a].nbytes for a, _ in states)
    subs = dict(
        version=__version__, source=Path(str(source)).name, num_ops=len(graph.operators),
        arena_bytes=max(plan.arena_bytes, 16), lower_bound_bytes=plan.lower_bound_bytes,
        input_shape=list(x.shape), input_dtype=x.dtype, input_bytes=x.nbytes,
        input_scale=f"{x.s!r}f", input_zp=x.zp,
        output_shape=list(y.shape), output_dtype=y.dtype, output_bytes=y.nbytes,
        output_scale=f"{y.s!r}f", output_zp=y.zp, frames_per_call=frames_per_call(graph),
        op_names=",\n".join(f'    "{op.opcode}"' for op in graph.operators),
        constants="\n\n".join(const_lines), op_params="\n\n".join(param_lines),
        input_offset=plan.offsets[x.index], output_offset=plan.offsets[y.index],
        op_calls="\n".join(call_lines), num_states=len(states), state_bytes=state_bytes,
        state_decls="\n".join(state_decls) or "/* (stateless model) */",
        reset_body="\n".join(reset) or "    /* stateless model: nothing to reset */",
        state_writeback="\n".join(writeback))
    files = ["model.h", "model.c"]
    (out_dir / "model.h").write_text(_template("model.h.tmpl").substitute(subs))
    (out_dir / "model.c").write_text(_template("model.c.tmpl").substitute(subs))

    kdir = resources.files("edgekit.firmware_export").joinpath("kernels")
    needed = list(COMMON_KERNEL_FILES) + sorted({low.source for low in lowered if low.source}
                                                | extra_sources)
    # A kernel's reference loop lives in ek_<op>_ref.h (shared with its
    # optimized version); the optimized kernels share kernels/optimized/*.h.
    needed += [n[:-2] + "_ref.h" for n in needed
               if n.endswith(".c") and kdir.joinpath(n[:-2] + "_ref.h").is_file()]
    if kernels == "optimized":
        needed += sorted(f.name for f in kdir.joinpath("optimized").iterdir()
                         if f.name.endswith(".h"))
    for name in needed:
        src = kdir.joinpath(name)
        if kernels == "optimized" and kdir.joinpath("optimized", name).is_file():
            src = kdir.joinpath("optimized", name)
        with resources.as_file(src) as path:
            shutil.copyfile(path, out_dir / name)
        files.append(name)
    return Export(out_dir=out_dir, plan=plan, lowered=lowered, files=files,
                  weight_bytes=weight_bytes, state_bytes=state_bytes)
