"""Small ONNX models built with ``onnx.helper``: the kinds a PyTorch user exports.

They stand in for ``torch.onnx.export`` output in tests and demos (no
PyTorch needed): the same ops, layouts (NCL, NCHW) and opsets.  Weights are
seeded random numbers scaled so activations stay in a sensible range.

- :func:`kws_conv1d` -- 1D-conv keyword spotter, input ``(1, 10, 49)`` NCL.
- :func:`ds_cnn` -- depthwise-separable 2D CNN, input ``(1, 1, 49, 10)`` NCHW.
- :func:`transformer_encoder` -- one encoder block (2-head attention with
  MatMul/Softmax, LayerNormalization, Add, Relu) + classifier, input ``(1, 16, 32)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ds_cnn", "kws_conv1d", "save", "transformer_encoder", "calibration_data"]

OPSET = 17


class _Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.n = 0

    def const(self, name: str, value: np.ndarray):
        from onnx import numpy_helper  # noqa: PLC0415

        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, name: str, shape, fan_in: int):
        w = self.rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape).astype(np.float32)
        return self.const(name, w)

    def bias(self, name: str, n: int):
        return self.const(name, self.rng.normal(0.0, 0.1, size=n).astype(np.float32))

    def node(self, op: str, inputs, attrs=None, out: str | None = None) -> str:
        from onnx import helper  # noqa: PLC0415

        self.n += 1
        out = out or f"{op.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=f"{op}_{self.n}",
                                           **(attrs or {})))
        return out

    def model(self, name: str, in_shape, out_shape, doc: str):
        from onnx import TensorProto, checker, helper  # noqa: PLC0415

        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(in_shape))],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(out_shape))],
            initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="edgekit.convert.examples", doc_string=doc)
        m.ir_version = 8
        checker.check_model(m)
        return m


def kws_conv1d(num_classes: int = 12, channels: int = 10, frames: int = 49, seed: int = 0):
    """1D-conv keyword spotter (NCL): Conv1d+BN+ReLU x3, global average pool, Linear."""
    b = _Builder(seed)
    x = "input"
    cin = channels
    for i, (cout, k, s) in enumerate(((24, 3, 1), (32, 3, 2), (32, 3, 1))):
        x = b.node("Conv", [x, b.weight(f"conv{i}.w", (cout, cin, k), cin * k),
                            b.bias(f"conv{i}.b", cout)],
                   {"kernel_shape": [k], "strides": [s], "pads": [1, 1]})
        x = b.node("BatchNormalization", [
            x, b.const(f"bn{i}.scale", b.rng.uniform(0.8, 1.2, cout).astype(np.float32)),
            b.const(f"bn{i}.bias", b.rng.normal(0, 0.1, cout).astype(np.float32)),
            b.const(f"bn{i}.mean", b.rng.normal(0, 0.1, cout).astype(np.float32)),
            b.const(f"bn{i}.var", b.rng.uniform(0.5, 1.5, cout).astype(np.float32))])
        x = b.node("Relu", [x])
        cin = cout
    x = b.node("ReduceMean", [x], {"axes": [2], "keepdims": 0})
    x = b.node("Gemm", [x, b.weight("fc.w", (num_classes, cin), cin), b.bias("fc.b", num_classes)],
               {"transB": 1}, out="output")
    return b.model("kws_conv1d", (1, channels, frames), (1, num_classes),
                   "1D-conv keyword spotter, NCL input (batch, mfcc, frames)")


def ds_cnn(num_classes: int = 12, height: int = 49, width: int = 10, seed: int = 0):
    """DS-CNN (NCHW): Conv 10x4/2 + ReLU, two depthwise-separable blocks, GAP, Linear, Softmax."""
    b = _Builder(seed)
    c = 16
    x = b.node("Conv", ["input", b.weight("conv0.w", (c, 1, 10, 4), 40), b.bias("conv0.b", c)],
               {"kernel_shape": [10, 4], "strides": [2, 2], "pads": [4, 1, 5, 2]})
    x = b.node("Relu", [x])
    for i in range(2):
        x = b.node("Conv", [x, b.weight(f"dw{i}.w", (c, 1, 3, 3), 9), b.bias(f"dw{i}.b", c)],
                   {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "group": c})
        x = b.node("Relu", [x])
        x = b.node("Conv", [x, b.weight(f"pw{i}.w", (c, c, 1, 1), c), b.bias(f"pw{i}.b", c)],
                   {"kernel_shape": [1, 1]})
        x = b.node("Relu", [x])
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], {"axis": 1})
    x = b.node("Gemm", [x, b.weight("fc.w", (num_classes, c), c), b.bias("fc.b", num_classes)],
               {"transB": 1})
    b.node("Softmax", [x], {"axis": 1}, out="output")
    return b.model("ds_cnn", (1, 1, height, width), (1, num_classes),
                   "DS-CNN keyword spotter, NCHW input (batch, 1, frames, mfcc)")


def transformer_encoder(num_classes: int = 8, tokens: int = 16, dim: int = 32, heads: int = 2,
                        ffn: int = 64, seed: int = 0, decomposed_layernorm: bool = False):
    """One post-norm encoder block + mean pool + Linear, as torch exports it (opset 17).

    ``decomposed_layernorm`` writes LayerNorm as older opsets do (ReduceMean,
    Sub, Pow, Sqrt, Div, Mul, Add) instead of ``LayerNormalization``.
    """
    b = _Builder(seed)
    hd = dim // heads
    x = "input"

    def linear(name, x, din, dout):
        y = b.node("MatMul", [x, b.weight(f"{name}.w", (din, dout), din)])
        return b.node("Add", [y, b.bias(f"{name}.b", dout)])

    def split_heads(t):
        t = b.node("Reshape", [t, b.const(f"shape_{b.n}", np.array([1, tokens, heads, hd],
                                                                    np.int64))])
        return b.node("Transpose", [t], {"perm": [0, 2, 1, 3]})      # (1, h, T, hd)

    q = split_heads(linear("q", x, dim, dim))
    k = split_heads(linear("k", x, dim, dim))
    v = split_heads(linear("v", x, dim, dim))
    kt = b.node("Transpose", [k], {"perm": [0, 1, 3, 2]})              # (1, h, hd, T)
    s = b.node("MatMul", [q, kt])
    s = b.node("Mul", [s, b.const("scale", np.array(1.0 / np.sqrt(hd), np.float32))])
    a = b.node("Softmax", [s], {"axis": -1})
    o = b.node("MatMul", [a, v])                                        # (1, h, T, hd)
    o = b.node("Transpose", [o], {"perm": [0, 2, 1, 3]})
    o = b.node("Reshape", [o, b.const("merge", np.array([1, tokens, dim], np.int64))])
    o = linear("o", o, dim, dim)
    x = b.node("Add", [x, o])

    def layernorm(name, t):
        gamma = b.rng.uniform(0.8, 1.2, dim).astype(np.float32)
        beta = b.rng.normal(0, 0.1, dim).astype(np.float32)
        if decomposed_layernorm:
            mean = b.node("ReduceMean", [t], {"axes": [-1], "keepdims": 1})
            d = b.node("Sub", [t, mean])
            var = b.node("ReduceMean", [b.node("Pow", [d, b.const(f"{name}.two", np.array(
                2.0, np.float32))])], {"axes": [-1], "keepdims": 1})
            std = b.node("Sqrt", [b.node("Add", [var, b.const(f"{name}.eps", np.array(
                1e-5, np.float32))])])
            y = b.node("Mul", [b.node("Div", [d, std]), b.const(f"{name}.g", gamma)])
            return b.node("Add", [y, b.const(f"{name}.b", beta)])
        return b.node("LayerNormalization", [
            t, b.const(f"{name}.g", gamma), b.const(f"{name}.b", beta)],
            {"axis": -1, "epsilon": 1e-5})

    x = layernorm("ln1", x)
    h = b.node("Relu", [linear("ff1", x, dim, ffn)])
    h = linear("ff2", h, ffn, dim)
    x = layernorm("ln2", b.node("Add", [x, h]))
    x = b.node("ReduceMean", [x], {"axes": [1], "keepdims": 0})        # (1, dim)
    x = b.node("Gemm", [x, b.weight("head.w", (num_classes, dim), dim),
                        b.bias("head.b", num_classes)], {"transB": 1}, out="output")
    return b.model("transformer_encoder", (1, tokens, dim), (1, num_classes),
                   "Transformer encoder block, input (batch, tokens, dim)")


def calibration_data(model, n: int = 64, seed: int = 1) -> np.ndarray:
    """``n`` smooth random inputs in the model's own layout (float32)."""
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(n, *shape)).astype(np.float32)
    # a little structure along the last axis, as features have
    x += np.sin(np.linspace(0, 3.0, shape[-1], dtype=np.float32)) * rng.uniform(
        0.5, 1.5, size=(n,) + (1,) * len(shape)).astype(np.float32)
    return x


def save(model, path) -> str:
    """Write ``model`` (an ``onnx.ModelProto``) to ``path`` atomically; return the path.

    Parameters
    ----------
    model : onnx.ModelProto
        One of this module's models.
    path : str or Path
        The ``.onnx`` file to write.

    Returns
    -------
    str
        ``path``.
    """
    from edgekit.outputs import atomic_file  # noqa: PLC0415

    atomic_file(path, model.SerializeToString())
    return str(path)
