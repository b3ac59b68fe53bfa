"""Fuzz targets for the ONNX pre-checks and recipe TOML loading (see targets.py)."""

from __future__ import annotations

import math
from pathlib import Path

from tests.fuzz.targets import REPO, Draw, mutate_bytes

# -- ONNX pre-checks --------------------------------------------------------------------------

_ONNX_SEEDS: list = []
OPS = ("Conv", "Relu", "Gemm", "MatMul", "Add", "LSTM", "Resize", "Foo", "Loop", "If", "Softmax",
       "GlobalAveragePool", "Reshape", "Transpose", "Cast", "NonMaxSuppression", "")


def onnx_seeds() -> list:
    from edgekit.convert import examples  # noqa: PLC0415

    if not _ONNX_SEEDS:
        _ONNX_SEEDS.extend([examples.kws_conv1d(), examples.ds_cnn(),
                            examples.transformer_encoder()])
    return _ONNX_SEEDS


def onnx_input(d: Draw) -> bytes:
    import onnx  # noqa: PLC0415

    seed = d.choice(onnx_seeds())
    if d.int(0, 3) == 0:
        return mutate_bytes(d, seed.SerializeToString())
    m = onnx.ModelProto()
    m.CopyFrom(seed)
    g = m.graph
    for _ in range(d.int(1, 3)):
        what = d.choice(("in_dim", "dim_param", "op_type", "attr", "drop_node", "drop_init",
                         "opset", "ir", "elem_type", "init_dims", "rename_input", "no_input",
                         "extra_input", "domain"))
        if what in ("in_dim", "dim_param") and g.input:
            dims = g.input[0].type.tensor_type.shape.dim
            if dims:
                dim = dims[d.int(0, len(dims) - 1)]
                if what == "in_dim":
                    dim.dim_value = d.interesting(-(1 << 40), 1 << 40)
                else:
                    dim.dim_param = d.choice(("N", "", "batch"))
        elif what == "op_type" and g.node:
            g.node[d.int(0, len(g.node) - 1)].op_type = d.choice(OPS)
        elif what == "attr" and g.node:
            n = g.node[d.int(0, len(g.node) - 1)]
            if n.attribute:
                a = n.attribute[d.int(0, len(n.attribute) - 1)]
                if a.ints:
                    a.ints[d.int(0, len(a.ints) - 1)] = d.interesting()
                elif a.type == onnx.AttributeProto.INT:
                    a.i = d.interesting()
                elif a.type == onnx.AttributeProto.FLOAT:
                    a.f = d.float()
        elif what == "drop_node" and g.node:
            del g.node[d.int(0, len(g.node) - 1)]
        elif what == "drop_init" and g.initializer:
            del g.initializer[d.int(0, len(g.initializer) - 1)]
        elif what == "opset" and m.opset_import:
            m.opset_import[0].version = d.interesting(-5, 40)
        elif what == "ir":
            m.ir_version = d.interesting(-2, 20)
        elif what == "elem_type" and g.input:
            g.input[0].type.tensor_type.elem_type = d.int(0, 25)
        elif what == "init_dims" and g.initializer:
            t = g.initializer[d.int(0, len(g.initializer) - 1)]
            if t.dims:
                t.dims[d.int(0, len(t.dims) - 1)] = d.interesting(-(1 << 40), 1 << 40)
        elif what == "rename_input" and g.input:
            g.input[0].name = d.choice(("", "x y", g.output[0].name if g.output else "o"))
        elif what == "no_input":
            del g.input[:]
        elif what == "extra_input" and g.input:
            g.input.append(g.input[0])
        elif what == "domain" and g.node:
            g.node[d.int(0, len(g.node) - 1)].domain = d.choice(("com.microsoft", "x", ""))
    return m.SerializeToString()


def onnx_target(raw: bytes, tmp: Path, input_shape) -> None:
    from edgekit.convert.onnx_check import check_onnx, load_onnx  # noqa: PLC0415

    p = tmp / "model.onnx"
    p.write_bytes(raw)
    info = check_onnx(load_onnx(p), input_shape=input_shape, source=str(p))
    assert all(isinstance(v, int) and v > 0 for v in info.input_shape)


def onnx_shape(d: Draw):
    return d.choice((None, None, "1,10,49", "1x1x49x10", (1, 10, 49), "0,1", "a,b", "",
                     (1, -3), "1,,2", (1.5, 2)))


# -- recipe TOML ---------------------------------------------------------------------------

def recipe_seeds() -> list[str]:
    from edgekit.recipe import builtin_recipe, recipe_toml  # noqa: PLC0415

    seeds = [p.read_text() for p in sorted((REPO / "recipes").glob("*.toml"))]
    seeds += [recipe_toml(builtin_recipe(a)) for a in ("dscnn", "lmu")]
    return seeds


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return "{ " + ", ".join(f'"{k}" = {_toml(x)}' for k, x in v.items()) + " }"


def _value(d: Draw):
    k = d.int(0, 7)
    if k == 0:
        return d.interesting(-(1 << 62), 1 << 62)
    if k == 1:
        return d.float()
    if k == 2:
        return d.bool()
    if k == 3:
        return d.choice(("", "fsdd", "dscnn", "int8", "random", "x" * 300, "../../etc",
                         "speech_commands", "prune", "trained", "lmu", "esc50"))
    if k == 4:
        return [d.interesting(-5, 5) for _ in range(d.int(0, 3))]
    if k == 5:
        return {"width": d.interesting(-5, 100), "copies": d.interesting(-2, 9)}
    if k == 6:
        return {}
    return [{"kind": d.choice(("prune", "distill", "x"))}]


def _flat_paths(r: dict, prefix=()) -> list[tuple]:
    out = []
    for k, v in r.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out.extend(_flat_paths(v, prefix + (k,)))
    return out


def recipe_input(d: Draw, seeds: list[str]) -> bytes:
    import tomllib  # noqa: PLC0415

    text = d.choice(seeds)
    if d.int(0, 3) == 0:
        lines = text.splitlines()
        for _ in range(d.int(1, 3)):
            if lines:
                i = d.int(0, len(lines) - 1)
                if d.bool():
                    del lines[i]
                else:
                    lines.insert(i, lines[d.int(0, len(lines) - 1)])
        return mutate_bytes(d, "\n".join(lines).encode(), 3) if d.bool() else \
            "\n".join(lines).encode()
    r = tomllib.loads(text)
    for _ in range(d.int(1, 3)):
        paths = _flat_paths(r)
        what = d.choice(("set", "set", "delete", "unknown", "steps"))
        path = d.choice(paths) if paths else ("name",)
        parent = r
        for k in path[:-1]:
            parent = parent[k]
        if what == "set":
            parent[path[-1]] = _value(d)
        elif what == "delete":
            parent.pop(path[-1], None)
        elif what == "unknown":
            parent[d.choice(("bogus", "epochs", "arch", "name", "kind"))] = _value(d)
        else:
            r["steps"] = [{"kind": d.choice(("prune", "prune_unstructured", "distill")),
                           d.choice(("ratio", "max_params", "sparsity", "epochs", "alpha")):
                           _value(d)}]
    lines = []
    for k, v in r.items():
        if not isinstance(v, dict) and k != "steps":
            lines.append(f'"{k}" = {_toml(v)}')
    for k, v in r.items():
        if isinstance(v, dict):
            lines.append(f'["{k}"]')
            lines.extend(f'"{kk}" = {_toml(vv)}' for kk, vv in v.items())
    if "steps" in r:
        lines.append(f'"steps" = {_toml(r["steps"])}')
    return "\n".join(lines).encode()


def recipe_target(raw: bytes, tmp: Path) -> None:
    from edgekit.recipe import (dataset_options, load_recipe, quantize_config,  # noqa: PLC0415
                                train_config)

    p = tmp / "recipe.toml"
    p.write_bytes(raw)
    r = load_recipe(p)
    train_config(r)
    quantize_config(r)
    dataset_options(r)
