"""simplify_onnx on hand-built graphs: Gather -> Slice keeps onnxruntime's numbers;
hostile constant sub-graphs are left alone (no huge allocation, no exception)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.convert.onnx_simplify import simplify_onnx


def _model(nodes, inits, out_shape, in_shape=(1, 3, 5, 4)):
    g = helper.make_graph(nodes, "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                          initializer=[numpy_helper.from_array(np.asarray(v), k)
                                       for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _run(m, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("index,axis", [(np.int64(1), 1), (np.int64(-1), 2), (np.int64(0), 3),
                                        (np.array([1, 2], np.int64), 2),
                                        (np.array([-2, -1], np.int64), 3)])
def test_gather_with_a_constant_index_becomes_slice(index, axis):
    x = np.random.default_rng(0).normal(size=(1, 3, 5, 4)).astype(np.float32)
    want_shape = list(np.take(x, index, axis=axis).shape)
    m = _model([helper.make_node("Relu", ["x"], ["r"]),
                helper.make_node("Gather", ["r", "i"], ["y"], axis=axis)], {"i": index},
               want_shape)
    got, notes = simplify_onnx(m)
    assert notes == ["Gather with a constant index x1 -> Slice (+ Squeeze)"]
    assert "Gather" not in {n.op_type for n in got.graph.node}
    onnx.checker.check_model(got)
    np.testing.assert_array_equal(_run(got, x), _run(m, x))
    np.testing.assert_array_equal(_run(got, x), np.take(np.maximum(x, 0), index, axis=axis))


def test_gather_with_scattered_indices_is_kept():
    m = _model([helper.make_node("Gather", ["x", "i"], ["y"], axis=2)],
               {"i": np.array([0, 2], np.int64)}, [1, 3, 2, 4])
    got, notes = simplify_onnx(m)
    assert notes == [] and got is m


@pytest.mark.parametrize("op", ["ConstantOfShape", "Range", "Tile"])
def test_huge_constant_subgraphs_are_not_evaluated(op):
    if op == "ConstantOfShape":
        nodes = [helper.make_node("ConstantOfShape", ["s"], ["c"],
                                  value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0]))]
        inits = {"s": np.array([1 << 20, 1 << 20], np.int64)}
    elif op == "Range":
        nodes = [helper.make_node("Range", ["a", "b", "d"], ["c0"]),
                 helper.make_node("Cast", ["c0"], ["c"], to=TensorProto.FLOAT)]
        inits = {"a": np.array(0, np.int64), "b": np.array(1 << 40, np.int64),
                 "d": np.array(1, np.int64)}
    else:
        nodes = [helper.make_node("Tile", ["t", "r"], ["c"])]
        inits = {"t": np.ones((4, 4), np.float32), "r": np.array([1 << 30, 1 << 30], np.int64)}
    nodes.append(helper.make_node("Add", ["x", "c"], ["y"]))
    m = _model(nodes, inits, None)
    got, notes = simplify_onnx(m)                    # (evaluating it would not fit in memory)
    assert op not in "".join(notes)
    assert op in {n.op_type for n in got.graph.node}


def test_unreadable_models_come_back_unchanged():
    m = onnx.ModelProto()                            # no graph at all
    assert simplify_onnx(m) == (m, [])
    m = _model([helper.make_node("NoSuchOp", ["x"], ["y"])], {}, [1, 3, 5, 4])
    assert simplify_onnx(m) == (m, [])
