"""edgekit's own model graph: what the code generator works on.

Nothing here imports TensorFlow.  A :class:`Graph` is made once from a
.tflite file by :mod:`edgekit.firmware_export.tflite_reader` and then only
read by the passes (memory planning, code generation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# TFLite TensorType enum -> (name, numpy dtype, bytes per element)
DTYPES = {
    0: ("float32", np.float32),
    1: ("float16", np.float16),
    2: ("int32", np.int32),
    3: ("uint8", np.uint8),
    4: ("int64", np.int64),
    6: ("bool", np.bool_),
    7: ("int16", np.int16),
    9: ("int8", np.int8),
    10: ("float64", np.float64),
    15: ("uint32", np.uint32),
    16: ("uint16", np.uint16),
}


@dataclass
class Tensor:
    """One tensor of the graph.

    Attributes
    ----------
    index : int
        Position in the subgraph's tensor list.
    name : str
    shape : tuple of int
    dtype : str
        ``"int8"``, ``"int32"``, ...
    data : numpy.ndarray or None
        The constant value (already reshaped), None for activations.
    scale, zero_point : numpy.ndarray
        Quantization parameters (empty when not quantized).
    quantized_dimension : int
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    is_variable: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def itemsize(self) -> int:
        return np.dtype(dict(DTYPES.values())[self.dtype]).itemsize

    @property
    def nbytes(self) -> int:
        return self.num_elements * self.itemsize

    @property
    def zp(self) -> int:
        """The per-tensor zero point (0 when not quantized)."""
        return int(self.zero_point[0]) if len(self.zero_point) else 0

    @property
    def s(self) -> float:
        """The per-tensor scale, as a float32 value."""
        if not len(self.scale):
            return 0.0
        return float(np.float32(self.scale[0]))


@dataclass
class Operator:
    """One op: its TFLite builtin name, tensor indices and decoded options."""

    index: int
    opcode: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)
    version: int = 1


@dataclass
class Graph:
    """A single-subgraph model in execution order."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    signature_inputs: dict[str, int] = field(default_factory=dict)
    signature_outputs: dict[str, int] = field(default_factory=dict)
    #: Set by graph passes that merge ops (:mod:`edgekit.firmware_export.passes`):
    #: op index of a merged op -> the TFLite op indices it computes.
    fused: dict[int, list[int]] = field(default_factory=dict)
    #: The TFLite opcodes of the file, by op index (empty: ``operators`` are the file's).
    source_opcodes: list[str] = field(default_factory=list)
    #: What the reader normalized to accept a file TFLM runs (one sentence each;
    #: see :mod:`edgekit.firmware_export.validate`).
    normalizations: list[str] = field(default_factory=list)

    def state_pairs(self) -> list[tuple[int, int]]:
        """Streaming state: (input tensor, output tensor) pairs.

        By edgekit's convention a streaming model's signature has inputs
        ``state_0``, ``state_1``, ... and outputs of the same names: the
        output is the state the next call reads.
        """
        pairs = []
        for name in sorted(self.signature_inputs):
            if name.startswith("state_") and name in self.signature_outputs:
                pairs.append((self.signature_inputs[name], self.signature_outputs[name]))
        return pairs

    def tensor(self, i: int) -> Tensor:
        return self.tensors[i]

    def op_inputs(self, op: Operator) -> list[Tensor | None]:
        return [self.tensors[i] if i >= 0 else None for i in op.inputs]

    def op_outputs(self, op: Operator) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs]

    def readers(self) -> dict[int, list[Operator]]:
        """Tensor index -> the ops reading it (each op once, in graph order)."""
        out: dict[int, list[Operator]] = {}
        for op in self.operators:
            for t in set(op.inputs):
                if t >= 0:
                    out.setdefault(t, []).append(op)
        return out

    def producers(self) -> dict[int, Operator]:
        """Tensor index -> the op writing it."""
        return {t: op for op in self.operators for t in op.outputs}

    def opcodes(self) -> list[str]:
        """The TFLite opcode of every op of the file, by op index (before any merge)."""
        return list(self.source_opcodes) or [op.opcode for op in self.operators]

    def op_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.operators:
            out[op.opcode] = out.get(op.opcode, 0) + 1
        return out
