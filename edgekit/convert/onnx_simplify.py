"""Rewrites that make ``torch.onnx.export`` graphs convertible, before they are checked.

PyTorch's exporters write shape arithmetic into the graph (``Shape``,
``ConstantOfShape``, ``Concat``, ``Transpose``, ``Cast`` feeding a ``Pad`` or
a ``Reshape``) and pick rows of a tensor with ``Gather`` (``q, k, v =
qkv[0], qkv[1], qkv[2]`` in ``nn.MultiheadAttention``, ``y[:, -1]`` after a
recurrent layer).  ONNX shape inference cannot see through some of that
arithmetic (the output shape stays unknown), and a ``Gather`` would become
TFLite's ``GATHER``, which has no int8 kernel here.  :func:`simplify_onnx`

1. folds every node whose inputs are constants (and ``Shape`` of a tensor
   whose shape is static once the input shape is fixed) into an initializer,
   evaluated with ONNX's reference implementation: only small tensors (at
   most :data:`FOLD_MAX_ELEMENTS` elements per output, shapes known before
   evaluating), so a hostile file cannot make it allocate much;
2. rewrites ``Gather`` with a constant scalar index into ``Slice`` +
   ``Squeeze`` (and with constant consecutive indices into ``Slice``), which
   is the same selection.

It never raises: a model it cannot read or rewrite comes back unchanged,
and :func:`edgekit.convert.onnx_check.check_onnx` then names the problem.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

__all__ = ["FOLD_MAX_ELEMENTS", "simplify_onnx"]

FOLD_MAX_ELEMENTS = 1 << 16
_MAX_FOLDS = 2000             # nodes evaluated per model, at most
_INT64_MAX = np.iinfo(np.int64).max
# never evaluated: random, control flow (sub-graphs), sequences, training ops
_NO_FOLD = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
            "Multinomial", "Bernoulli", "If", "Loop", "Scan", "SequenceConstruct",
            "SequenceEmpty", "SequenceInsert", "SequenceAt", "SplitToSequence",
            "ConcatFromSequence", "Dropout", "Identity"}


def simplify_onnx(model, input_shape=None):
    """Fold constant sub-graphs and turn constant-index ``Gather`` into ``Slice``.

    Parameters
    ----------
    model : onnx.ModelProto
        The model as loaded (not modified).
    input_shape : tuple of int, optional
        The static input shape the model will be converted with (replaces
        dynamic dims when ``Shape`` nodes are folded).

    Returns
    -------
    tuple
        ``(model, notes)``: a rewritten copy (or ``model`` itself when nothing
        changed or it cannot be read) and one line per kind of rewrite made,
        e.g. ``"folded 17 constant nodes (Concat x1, Shape x2, ...)"``.
    """
    import onnx  # noqa: PLC0415

    try:
        m = onnx.ModelProto.FromString(model.SerializeToString())
        onnx.checker.check_model(m)
        opset = {o.domain or "ai.onnx": o.version for o in m.opset_import}.get("ai.onnx", 0)
        if opset < 13 or len(m.graph.node) > 20000 or any(
                a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                for n in m.graph.node for a in n.attribute):      # If/Loop/Scan sub-graphs
            return model, []
        folded = _fold(m, input_shape)
        gathers = _gather_to_slice(m)
        if not folded and not gathers:
            return model, []
        onnx.checker.check_model(m)
    except Exception:  # noqa: BLE001  anything odd: leave the model to check_onnx
        return model, []
    notes = []
    if folded:
        notes.append(f"folded {sum(folded.values())} constant nodes ("
                     + ", ".join(f"{k} x{v}" for k, v in sorted(folded.items())) + ")")
    if gathers:
        notes.append(f"Gather with a constant index x{gathers} -> Slice (+ Squeeze)")
    return m, notes


def _static_shapes(m, input_shape) -> dict:
    """Inferred static shapes of every value (the input fixed to ``input_shape``)."""
    import onnx  # noqa: PLC0415

    t = onnx.ModelProto.FromString(m.SerializeToString())
    inits = {i.name for i in t.graph.initializer}
    inputs = [i for i in t.graph.input if i.name not in inits]
    if input_shape is not None and len(inputs) == 1:
        dims = inputs[0].type.tensor_type.shape.dim
        if len(dims) == len(input_shape):
            for d, v in zip(dims, input_shape):
                d.Clear()
                d.dim_value = int(v)
    del t.graph.value_info[:]
    t = onnx.shape_inference.infer_shapes(t, strict_mode=False, data_prop=True)
    shapes = {}
    for vi in [*t.graph.input, *t.graph.value_info, *t.graph.output]:
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") and d.dim_value >= 0
                                        for d in tt.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    return shapes


def _small(shape) -> bool:
    return shape is not None and int(np.prod(shape, dtype=np.float64)) <= FOLD_MAX_ELEMENTS


def _fold(m, input_shape) -> Counter:
    """Fold constant nodes of ``m`` in place (a few rounds); the ops folded, counted."""
    import onnx  # noqa: PLC0415
    from onnx import numpy_helper  # noqa: PLC0415
    from onnx.reference import ReferenceEvaluator  # noqa: PLC0415

    g = m.graph
    done = Counter()
    graph_outputs = {o.name for o in g.output}
    for _ in range(4):
        shapes = _static_shapes(m, input_shape)
        const = {i.name: numpy_helper.to_array(i) for i in g.initializer
                 if _small(tuple(i.dims))}
        folded, values = [], {}
        for n in g.node:
            if n.domain not in ("", "ai.onnx") or n.op_type in _NO_FOLD or not n.output:
                continue
            if any(o in graph_outputs for o in n.output):
                continue
            if n.op_type == "Shape":
                if not n.input or n.input[0] not in shapes:
                    continue
                ins = []
            else:
                if any(x and x not in const for x in n.input):
                    continue
                ins = [const[x] if x else None for x in n.input]
            if not all(_small(shapes.get(o)) for o in n.output if o) or \
                    not _value_sized_ok(n, ins) or sum(done.values()) + len(folded) >= _MAX_FOLDS:
                continue
            outs = _evaluate(onnx, ReferenceEvaluator, m, n, ins, shapes)
            if outs is None:
                continue
            for name, v in zip(n.output, outs):
                if name:
                    const[name] = values[name] = v
            folded.append(n)
        if not folded:
            break
        names = {id(n) for n in folded}
        keep = [n for n in g.node if id(n) not in names]
        used = {x for n in keep for x in n.input} | graph_outputs
        del g.node[:]
        g.node.extend(keep)
        existing = {i.name for i in g.initializer}
        for name, v in values.items():
            if name in used and name not in existing:
                g.initializer.append(numpy_helper.from_array(np.asarray(v), name))
        done.update(n.op_type for n in folded)
    if done:
        _drop_unused_initializers(g)
        del g.value_info[:]
    return done


def _value_sized_ok(n, ins) -> bool:
    """Ops whose output size is an input's value: that value is small (whatever was inferred)."""
    def prod(v):
        return float(np.prod(np.asarray(v, dtype=np.float64).reshape(-1)))

    try:
        if n.op_type in ("ConstantOfShape", "Expand"):
            v = ins[-1]
            return v is not None and v.size <= 8 and prod(np.maximum(v, 1)) <= FOLD_MAX_ELEMENTS
        if n.op_type == "Tile":
            return ins[0].size * prod(np.maximum(ins[1], 1)) <= FOLD_MAX_ELEMENTS
        if n.op_type == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in ins[:3])
            return delta != 0 and abs(limit - start) / abs(delta) <= FOLD_MAX_ELEMENTS
        if n.op_type in ("Pad", "Resize", "Upsample", "OneHot", "CenterCropPad", "Col2Im"):
            return all(v is None or v.size <= 64 for v in ins[1:]) and (
                n.op_type != "Pad" or ins[0].size + prod(np.abs(ins[1])) * 64
                <= FOLD_MAX_ELEMENTS) and n.op_type not in ("Resize", "Upsample", "OneHot")
    except Exception:  # noqa: BLE001  odd inputs: do not fold
        return False
    return True


def _evaluate(onnx, evaluator, m, n, ins, shapes):
    """Outputs of node ``n`` on constant inputs ``ins`` (``None`` if it cannot be evaluated)."""
    if n.op_type == "Shape":
        shape = np.array(shapes[n.input[0]], dtype=np.int64)
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        start, end = attrs.get("start", 0), attrs.get("end", len(shape))
        return [shape[start:end]]
    feeds, names = {}, []
    for i, v in enumerate(ins):
        if v is None:
            names.append("")
        else:
            names.append(f"in{i}")
            feeds[f"in{i}"] = v
    node = onnx.helper.make_node(n.op_type, names, [f"out{i}" for i in range(len(n.output))],
                                 domain=n.domain)
    node.attribute.extend(n.attribute)
    vis = [onnx.helper.make_tensor_value_info(k, onnx.helper.np_dtype_to_tensor_dtype(v.dtype),
                                              v.shape) for k, v in feeds.items()]
    outs = [onnx.helper.make_tensor_value_info(f"out{i}", onnx.TensorProto.UNDEFINED, None)
            for i in range(len(n.output))]
    graph = onnx.helper.make_graph([node], "fold", vis, outs)
    sub = onnx.helper.make_model(graph, opset_imports=list(m.opset_import),
                                 ir_version=m.ir_version)
    try:
        res = evaluator(sub).run(None, feeds)
    except Exception:  # noqa: BLE001  an op the reference cannot run: leave the node
        return None
    res = [np.asarray(r) for r in res]
    if any(r.dtype == object or not _small(r.shape) for r in res):
        return None
    return res


def _drop_unused_initializers(g) -> None:
    used = {x for n in g.node for x in n.input} | {o.name for o in g.output}
    dropped = {i.name for i in g.initializer if i.name not in used}
    if not dropped:
        return
    keep = [i for i in g.initializer if i.name not in dropped]
    del g.initializer[:]
    g.initializer.extend(keep)
    inputs = [i for i in g.input if i.name not in dropped]   # initializers listed as inputs
    del g.input[:]
    g.input.extend(inputs)


def _gather_to_slice(m) -> int:
    """``Gather(data, constant index)`` -> ``Slice`` (+ ``Squeeze``), in place; how many."""
    from onnx import helper, numpy_helper  # noqa: PLC0415

    g = m.graph
    inits = {i.name: i for i in g.initializer}
    nodes, count = [], 0
    for n in g.node:
        idx = None
        if (n.op_type == "Gather" and n.domain in ("", "ai.onnx") and len(n.input) == 2
                and n.input[1] in inits and n.input[0] not in inits):
            v = numpy_helper.to_array(inits[n.input[1]])
            if v.dtype in (np.int32, np.int64) and v.size and v.ndim <= 1 and v.size <= 4096:
                idx = v
        if idx is None:
            nodes.append(n)
            continue
        axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
        flat = idx.reshape(-1).astype(np.int64)
        lo, hi = int(flat[0]), int(flat[-1])
        if (flat.size > 1 and not np.array_equal(flat, np.arange(lo, lo + flat.size))) or \
                (lo < 0) != (hi < 0):
            nodes.append(n)
            continue
        end = _INT64_MAX if hi == -1 else hi + 1
        base = n.name or n.output[0]
        consts = {f"{base}/starts": [lo], f"{base}/ends": [end], f"{base}/axes": [axis]}
        for k, val in consts.items():
            g.initializer.append(numpy_helper.from_array(np.array(val, dtype=np.int64), k))
        out = n.output[0]
        sliced = out if idx.ndim == 1 else f"{base}/slice"
        nodes.append(helper.make_node("Slice", [n.input[0], *consts], [sliced],
                                      name=f"{base}/Slice"))
        if idx.ndim == 0:
            nodes.append(helper.make_node("Squeeze", [sliced, f"{base}/axes"], [out],
                                          name=f"{base}/Squeeze"))
        count += 1
    if count:
        del g.node[:]
        g.node.extend(nodes)
        _drop_unused_initializers(g)
        del g.value_info[:]
    return count
