"""Crafting .tflite files for the hostile-model and fuzz tests.

A real converted model is unpacked with the official flatbuffer schema (the
object API of the ``tflite_micro`` package's ``schema_fb``), edited as plain
Python objects and packed again: the result parses, but says what the test
wants it to say.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers


def schema():
    """The TFLite flatbuffer schema module (object API)."""
    from tflite_micro.python.tflite_micro import runtime  # noqa: PLC0415

    return runtime.schema_fb


def unpack(data: bytes):
    """A .tflite file as a mutable ``ModelT``."""
    sf = schema()
    return sf.ModelT.InitFromObj(sf.Model.GetRootAsModel(bytes(data), 0))


def pack(model) -> bytes:
    """A ``ModelT`` as .tflite bytes."""
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def edit(path: str | Path, fn) -> bytes:
    """The model at ``path`` after ``fn(model, subgraph)`` changed it."""
    m = unpack(Path(path).read_bytes())
    fn(m, m.subgraphs[0])
    return pack(m)


def op_name(model, op) -> str:
    """The builtin name of an ``OperatorT``."""
    sf = schema()
    names = {v: k for k, v in vars(sf.BuiltinOperator).items() if not k.startswith("_")}
    code = model.operatorCodes[op.opcodeIndex]
    return names[max(code.builtinCode, code.deprecatedBuiltinCode)]


def find_op(model, name: str, nth: int = 0):
    """The ``nth`` op named ``name`` of the first subgraph, and its index."""
    hits = [(i, op) for i, op in enumerate(model.subgraphs[0].operators)
            if op_name(model, op) == name]
    return hits[nth][1], hits[nth][0]
