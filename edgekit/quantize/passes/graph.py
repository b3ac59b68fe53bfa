"""Graph access shared by the int8 flatbuffer passes.

The passes (:mod:`edgekit.quantize.passes.unify_lif_quantization`,
:mod:`~edgekit.quantize.passes.align_to_window`,
:mod:`~edgekit.quantize.passes.fix_state_quantization`) edit quantisation
parameters of an unpacked TFLite ``ModelT`` (the object API of LiteRT's
generated schema).  This module unpacks and packs flatbuffers, names ops
with the one opcode table (:mod:`edgekit.tflite_ops`), reads constant
buffers and requantises biases.

An output's quantisation may be changed only where the producing op's int8
kernel requantises from the tensors' own scales (:data:`REQUANTIZING`).
"""

from __future__ import annotations

import numpy as np

from edgekit.tflite_ops import builtin_op_name

__all__ = ["BIASED", "REQUANTIZING", "SAME_QUANT", "Graph", "buffer_bytes", "consumers_of",
           "copy_quant", "load_model", "op_name", "pack_model", "requantize_bias", "text",
           "tflite_ops"]

#: Ops whose int8 kernels requantise their output from the tensors' own
#: scales, so an output's quantisation may be changed in the flatbuffer.
REQUANTIZING = {"ADD", "SUB", "MUL", "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D",
                "BATCH_MATMUL", "QUANTIZE", "MEAN", "SQUARED_DIFFERENCE"}

#: Ops whose int8 output must have the quantisation of their (first) input.
SAME_QUANT = {"RESHAPE", "STRIDED_SLICE", "CONCATENATION", "PAD", "SQUEEZE", "EXPAND_DIMS"}

#: Ops whose third input is an int32 bias quantised with input x weight scale.
BIASED = {"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"}


def load_model(flatbuffer: bytes):
    """Unpack a ``.tflite`` flatbuffer into LiteRT's object API (``schema.ModelT``).

    Parameters
    ----------
    flatbuffer : bytes
        The ``.tflite`` bytes.

    Returns
    -------
    ai_edge_litert.schema_py_generated.ModelT
        The mutable model.
    """
    from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

    return schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)


def pack_model(model, size_hint: int = 0) -> bytes:
    """Pack a ``ModelT`` back into ``.tflite`` bytes (file identifier ``TFL3``).

    Parameters
    ----------
    model : ai_edge_litert.schema_py_generated.ModelT
        The (edited) model.
    size_hint : int
        Expected size in bytes (the builder's initial buffer; it grows as needed).

    Returns
    -------
    bytes
        The flatbuffer.
    """
    import flatbuffers  # noqa: PLC0415

    builder = flatbuffers.Builder(int(size_hint) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def op_name(model, op) -> str:
    """The builtin name of ``op`` (an ``OperatorT`` of ``model``), e.g. ``"CONV_2D"``."""
    oc = model.operatorCodes[op.opcodeIndex]
    return builtin_op_name(max(oc.builtinCode, oc.deprecatedBuiltinCode))


def tflite_ops(model, graph) -> list:
    """``[(name, op)]`` of every operator of ``graph``, in execution order."""
    return [(op_name(model, op), op) for op in graph.operators]


def buffer_bytes(model, tensor) -> bytes | None:
    """The constant data of ``tensor`` as bytes, or None for a tensor without data."""
    buf = model.buffers[tensor.buffer].data if 0 <= tensor.buffer < len(model.buffers) else None
    return None if buf is None or len(buf) == 0 else np.asarray(buf, np.uint8).tobytes()


def consumers_of(graph, tensor: int) -> list:
    """Ops of ``graph`` reading ``tensor``."""
    return [op for op in graph.operators if tensor in [int(i) for i in op.inputs]]


def text(name) -> str:
    """A flatbuffer string (bytes or str) as str."""
    return name.decode() if isinstance(name, bytes) else str(name)


def copy_quant(dst, src) -> None:
    """Give tensor ``dst`` the scale(s) and zero point(s) of tensor ``src``."""
    dst.quantization.scale = np.array(src.quantization.scale, np.float32)
    dst.quantization.zeroPoint = np.array(src.quantization.zeroPoint, np.int64)


def requantize_bias(model, graph, op) -> None:
    """Requantise the int32 bias of ``op`` to ``input scale x weight scale``.

    Called where the input's scale was changed by a pass.

    Parameters
    ----------
    model : ModelT
        The model holding the bias buffer.
    graph : SubGraphT
        The subgraph of ``op``.
    op : OperatorT
        A ``FULLY_CONNECTED`` / convolution (inputs: data, weights, bias).
    """
    x, w, b = (graph.tensors[int(i)] for i in op.inputs[:3])
    new = np.float64(x.quantization.scale[0]) * np.asarray(w.quantization.scale, np.float64)
    old = np.asarray(b.quantization.scale, np.float64)
    q = np.frombuffer(buffer_bytes(model, b), np.int32).astype(np.float64)
    q = np.clip(np.round(q * old / new), -2 ** 31, 2 ** 31 - 1).astype("<i4")
    model.buffers[b.buffer].data = np.frombuffer(q.tobytes(), np.uint8).copy()
    b.quantization.scale = new.astype(np.float32)
    b.quantization.zeroPoint = np.zeros(len(new), np.int64)


class Graph:
    """Producers, consumers and constants of one subgraph of a ``ModelT``.

    Parameters
    ----------
    model : ModelT
        The unpacked flatbuffer.
    graph : SubGraphT
        One of its subgraphs.

    Attributes
    ----------
    names : list of str
        Op name per op index.
    producer : dict
        Tensor -> index of the op writing it.
    consumers : dict
        Tensor -> indices of the ops reading it.
    inputs : set of int
        The subgraph's input tensors.
    """

    def __init__(self, model, graph):
        self.model, self.graph = model, graph
        self.names, self.producer, self.consumers = [], {}, {}
        for k, op in enumerate(graph.operators):
            self.names.append(op_name(model, op))
            for o in op.outputs:
                self.producer[int(o)] = k
            for i in op.inputs:
                if i >= 0:
                    self.consumers.setdefault(int(i), []).append(k)
        self.inputs = {int(i) for i in graph.inputs}

    def const(self, t) -> bool:
        """Whether tensor ``t`` holds constant data."""
        tensor = self.graph.tensors[t]
        bufs = self.model.buffers
        return (0 <= tensor.buffer < len(bufs) and bufs[tensor.buffer].data is not None
                and len(bufs[tensor.buffer].data) > 0)

    def fused(self, k):
        """The fused activation of op ``k`` (None if it has none)."""
        return getattr(self.graph.operators[k].builtinOptions, "fusedActivationFunction", None)

    def split(self, k):
        """``(data inputs, constant inputs)`` of op ``k``."""
        ins = [int(i) for i in self.graph.operators[k].inputs if i >= 0]
        return [i for i in ins if not self.const(i)], [i for i in ins if self.const(i)]

    def out(self, k) -> int:
        """The first output tensor of op ``k``."""
        return int(self.graph.operators[k].outputs[0])

    def made_by(self, t, name, *, consts=1, data=1, fused=None):
        """Op ``k`` producing ``t`` if it is ``name`` with that many data / constant inputs."""
        k = self.producer.get(t)
        if k is None or self.names[k] != name:
            return None
        d, c = self.split(k)
        if len(d) != data or len(c) != consts:
            return None
        if fused is not None and self.fused(k) != fused:
            return None
        return k

    def views(self, t) -> list[int]:
        """``t`` and the ``RESHAPE`` outputs of it (the converter inserts some)."""
        out, todo = [t], [t]
        while todo:
            for k in self.consumers.get(todo.pop(), []):
                if self.names[k] == "RESHAPE":
                    out.append(self.out(k))
                    todo.append(self.out(k))
        return out

    def uses(self, t, name, *, consts=1, data=1, fused=None):
        """Ops reading ``t`` (or a view of it) that are ``name`` with these inputs."""
        ks = sorted({k for x in self.views(t) for k in self.consumers.get(x, [])})
        return [k for k in ks
                if self.made_by(self.out(k), name, consts=consts, data=data, fused=fused) == k]

    def reads(self, k, t) -> bool:
        """Whether op ``k`` reads ``t`` (or a view of it)."""
        return bool(set(self.views(t)) & set(self.split(k)[0]))

    def quant(self, t):
        """``(scale, zero point)`` of tensor ``t`` (first channel), or None if not quantised."""
        q = self.graph.tensors[t].quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        return float(q.scale[0]), int(q.zeroPoint[0])
