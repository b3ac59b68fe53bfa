"""Read a .tflite file into edgekit's :class:`~edgekit.firmware_export.graph.Graph`.

This is the one place where the TFLite format is read; it does not import
TensorFlow.  It checks what it reads (bounds, indices, sizes, types) so that
a malformed file gives a :class:`~edgekit.errors.TFLiteFormatError` naming the
problem, never a crash.

References
----------
TFLite schema (tensorflow/lite/schema/schema.fbs), version 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.errors import EdgekitError, TFLiteFormatError
from edgekit.firmware_export.flatbuffer import Table, root_table
from edgekit.firmware_export.graph import DTYPES, Graph, Operator, Tensor
from edgekit.firmware_export.validate import (TYPE_NAMES, check_arity, check_io, check_options,
                                              check_quantization, check_shape, check_total_bytes,
                                              check_weights_format,
                                              normalize_filter_zero_points, type_name, who)
from edgekit.tflite_ops import BUILTIN_OPS


ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}

# A model for a microcontroller: generous bounds that still stop a corrupt
# file from making us allocate or loop without end (sizes: see validate.py).
MAX_RANK = 8


def _act(t: Table, i: int) -> str:
    v = t.scalar(i, "i8", 0)
    if v not in ACTIVATIONS:
        raise TFLiteFormatError(f"unknown fused activation code {v}")
    return ACTIVATIONS[v]


def _pad(t: Table, i: int) -> str:
    v = t.scalar(i, "i8", 0)
    if v not in PADDINGS:
        raise TFLiteFormatError(f"unknown padding code {v}")
    return PADDINGS[v]


def _options(opcode: str, t: Table | None) -> dict:
    """Decode the builtin options of the ops edgekit knows about."""
    if t is None:
        t_missing = True
    else:
        t_missing = False
    g = (lambda i, k, d=0: d) if t_missing else (lambda i, k, d=0: t.scalar(i, k, d))
    act = (lambda i: "NONE") if t_missing else (lambda i: _act(t, i))
    pad = (lambda i: "SAME") if t_missing else (lambda i: _pad(t, i))
    vec = (lambda i: None) if t_missing else (lambda i: t.vector(i, "i32"))
    if opcode == "CONV_2D":
        return dict(padding=pad(0), stride_w=g(1, "i32"), stride_h=g(2, "i32"),
                    activation=act(3), dilation_w=g(4, "i32", 1), dilation_h=g(5, "i32", 1))
    if opcode == "DEPTHWISE_CONV_2D":
        return dict(padding=pad(0), stride_w=g(1, "i32"), stride_h=g(2, "i32"),
                    depth_multiplier=g(3, "i32"), activation=act(4),
                    dilation_w=g(5, "i32", 1), dilation_h=g(6, "i32", 1))
    if opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        return dict(padding=pad(0), stride_w=g(1, "i32"), stride_h=g(2, "i32"),
                    filter_w=g(3, "i32"), filter_h=g(4, "i32"), activation=act(5))
    if opcode == "FULLY_CONNECTED":
        return dict(activation=act(0), weights_format=g(1, "i8"),
                    keep_num_dims=bool(g(2, "u8")))
    if opcode == "SOFTMAX":
        return dict(beta=float(g(0, "f32", 0.0)))
    if opcode in ("ADD", "SUB"):
        return dict(activation=act(0), pot_scale_int16=bool(g(1, "u8", 1)))
    if opcode in ("MUL", "DIV"):
        return dict(activation=act(0))
    if opcode == "CONCATENATION":
        return dict(axis=g(0, "i32"), activation=act(1))
    if opcode == "RESHAPE":
        ns = vec(0)
        return dict(new_shape=None if ns is None else [int(x) for x in ns])
    if opcode in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        return dict(keep_dims=bool(g(0, "u8")))
    if opcode == "SQUEEZE":
        sd = vec(0)
        return dict(squeeze_dims=[] if sd is None else [int(x) for x in sd])
    if opcode == "STRIDED_SLICE":
        return dict(begin_mask=g(0, "i32"), end_mask=g(1, "i32"), ellipsis_mask=g(2, "i32"),
                    new_axis_mask=g(3, "i32"), shrink_axis_mask=g(4, "i32"),
                    offset=bool(g(5, "u8")))
    if opcode == "TRANSPOSE_CONV":
        return dict(padding=pad(0), stride_w=g(1, "i32"), stride_h=g(2, "i32"),
                    activation=act(3))
    if opcode == "LEAKY_RELU":
        return dict(alpha=float(g(0, "f32", 0.0)))
    if opcode == "BATCH_MATMUL":
        return dict(adj_x=bool(g(0, "u8")), adj_y=bool(g(1, "u8")))
    if opcode == "GATHER":
        return dict(axis=g(0, "i32"), batch_dims=g(1, "i32"))
    if opcode in ("SPLIT", "SPLIT_V"):
        return dict(num_splits=g(0, "i32"))
    if opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return dict(activation=act(0), cell_clip=float(g(1, "f32", 0.0)),
                    proj_clip=float(g(2, "f32", 0.0)), time_major=bool(g(3, "u8")),
                    asymmetric_quantize_inputs=bool(g(4, "u8")),
                    diagonal_recurrent_tensors=bool(g(5, "u8")))
    if opcode in ("PACK", "UNPACK"):
        return dict(values_count=g(0, "i32"), axis=g(1, "i32"))
    return {}


def _opcode_name(t: Table, i: int) -> tuple[str, int]:
    dep = t.scalar(0, "i8", 0)
    code = t.scalar(3, "i32", 0)
    code = max(int(dep), int(code))  # schema: the larger of the two is the real code
    if code == 32:
        return "CUSTOM:" + t.string(1, "?"), t.scalar(2, "i32", 1)
    if 0 <= code < len(BUILTIN_OPS):
        return BUILTIN_OPS[code], t.scalar(2, "i32", 1)
    raise TFLiteFormatError(f"operator code {i} has unknown builtin code {code}")


def read_tflite(source: bytes | bytearray | str | Path) -> Graph:
    """Read a .tflite model (bytes or a path) into a :class:`Graph`.

    Raises
    ------
    edgekit.errors.TFLiteFormatError
        The file is truncated, not a TFLite flatbuffer, or inconsistent.
    edgekit.errors.ModelError
        The file cannot be read or has more than one subgraph.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            buf = path.read_bytes()
        except OSError as e:
            raise TFLiteFormatError(f"cannot read {path}: {e.strerror or e}") from None
        where = str(path)
    else:
        buf = bytes(source)
        where = "model"
    try:
        return _read(buf)
    except EdgekitError as e:
        raise type(e)(f"{where}: {e}") from None
    except (ValueError, OverflowError, MemoryError, UnicodeDecodeError, IndexError, KeyError,
            TypeError) as e:  # defensive: any slip in a check still names the file
        raise TFLiteFormatError(f"{where}: malformed TFLite file ({type(e).__name__}: {e})") from None


def _read(buf: bytes) -> Graph:
    model = root_table(buf, b"TFL3", "model")
    version = model.scalar(0, "u32", 0)
    if version != 3:
        raise TFLiteFormatError(f"unsupported TFLite schema version {version} (expected 3)")
    opcodes = [_opcode_name(t, i) for i, t in enumerate(model.tables(1, "operator_codes"))]
    subgraphs = model.tables(2, "subgraphs")
    if not subgraphs:
        raise TFLiteFormatError("model has no subgraph")
    buffers = model.tables(4, "buffers")
    sg = subgraphs[0]
    tensor_tables = sg.tables(0, "tensors")
    n = len(tensor_tables)

    def idx_list(vec, what, allow_optional=False):
        if vec is None:
            return []
        out = [int(x) for x in vec]
        for x in out:
            if not (0 <= x < n or (allow_optional and x == -1)):
                raise TFLiteFormatError(f"{what} refers to tensor {x}, but there are {n} tensors")
        return out

    inputs = idx_list(sg.vector(1, "i32"), "subgraph inputs")
    outputs = idx_list(sg.vector(2, "i32"), "subgraph outputs")
    ops = []
    notes: list[str] = []
    for i, ot in enumerate(sg.tables(3, "operators")):
        oi = ot.scalar(0, "u32", 0)
        if oi >= len(opcodes):
            raise TFLiteFormatError(
                f"operator {i} uses opcode index {oi}, but there are {len(opcodes)} opcodes")
        name, ver = opcodes[oi]
        opt_type = ot.scalar(3, "u8", 0)
        opt = ot.table(4, f"operator {i} options") if opt_type else None
        options = _options(name, opt)
        check_options(i, name, options, table_missing=opt is None)
        check_weights_format(i, name, options, notes)
        op_in = idx_list(ot.vector(1, "i32"), f"operator {i} ({name}) inputs", True)
        op_out = idx_list(ot.vector(2, "i32"), f"operator {i} ({name}) outputs")
        check_arity(i, name, op_in, op_out)
        ops.append(Operator(index=i, opcode=name, inputs=op_in, outputs=op_out,
                            options=options, version=int(ver)))
    if len(subgraphs) > 1 and any(op.opcode in ("CALL_ONCE", "IF", "WHILE") for op in ops):
        raise TFLiteFormatError("models with control flow (several subgraphs) are not supported")
    users: dict[int, str] = {}
    for op in ops:
        for t in [*op.inputs, *op.outputs]:
            users.setdefault(t, f"op {op.index} ({op.opcode})")
    for t in [*inputs, *outputs]:
        users.setdefault(t, "the model's inputs/outputs")
    tensors = [_tensor(buf, i, tt, buffers, users.get(i), notes)
               for i, tt in enumerate(tensor_tables)]
    normalize_filter_zero_points(ops, tensors, notes)
    check_total_bytes(sum(t.nbytes for t in tensors))
    check_io(inputs, outputs, ops, {t.index for t in tensors if t.is_const})
    sig_in, sig_out = _signature(model, n)
    return Graph(tensors=tensors, operators=ops, inputs=inputs, outputs=outputs,
                 description=model.string(3, ""), signature_inputs=sig_in,
                 signature_outputs=sig_out, normalizations=notes)


def _signature(model: Table, n: int) -> tuple[dict[str, int], dict[str, int]]:
    """Names of the first signature's inputs and outputs -> tensor indices."""
    sigs = model.tables(7, "signature_defs")
    if not sigs:
        return {}, {}
    out = []
    for field in (0, 1):
        names = {}
        for tm in sigs[0].tables(field, "signature tensor map"):
            idx = tm.scalar(1, "u32", 0)
            if idx >= n:
                raise TFLiteFormatError(f"signature refers to tensor {idx}, but there are {n} tensors")
            names[tm.string(0, f"tensor_{idx}")] = int(idx)
        out.append(names)
    return out[0], out[1]


def _tensor(buf: bytes, i: int, t: Table, buffers: list[Table], user: str | None,
            notes: list[str]) -> Tensor:
    name = t.string(3, f"tensor_{i}")
    shape_v = t.vector(0, "i32")
    shape = tuple(int(d) for d in shape_v) if shape_v is not None else ()
    if len(shape) > MAX_RANK:
        raise TFLiteFormatError(f"{who(i, name, user)} has rank {len(shape)} (at most {MAX_RANK})")
    tcode = t.scalar(1, "i8", 0)
    if tcode not in DTYPES:
        raise TFLiteFormatError(
            f"{who(i, name, user)} is {type_name(tcode)}: edgekit reads tensors of type "
            + ", ".join(TYPE_NAMES[c] for c in sorted(DTYPES)))
    dtype, np_dtype = DTYPES[tcode]
    itemsize = np.dtype(np_dtype).itemsize
    count = check_shape(i, name, shape, itemsize, user)
    bi = t.scalar(2, "u32", 0)
    if bi >= max(len(buffers), 1) and bi != 0:
        raise TFLiteFormatError(
            f"{who(i, name, user)} uses buffer {bi}, but there are {len(buffers)} buffers")
    data = None
    if bi and bi < len(buffers):
        b = buffers[bi]
        raw = b.bytes_(0)
        off = b.scalar(1, "u64", 0)
        size = b.scalar(2, "u64", 0)
        if (raw is None or len(raw) == 0) and off > 1:
            if off + size > len(buf):
                raise TFLiteFormatError(f"buffer {bi} lies beyond the end of the file")
            raw = buf[off:off + size]
        if raw:
            if len(raw) != count * itemsize:
                raise TFLiteFormatError(
                    f"{who(i, name, user)}: buffer {bi} holds {len(raw)} bytes, but shape "
                    f"{list(shape)} of {dtype} needs {count * itemsize}")
            data = np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<")).astype(
                np_dtype).reshape(shape)
    q = t.table(4, f"tensor {i} quantization")
    scale = np.zeros(0, np.float32)
    zp = np.zeros(0, np.int64)
    qdim = 0
    if q is not None:
        s = q.vector(2, "f32")
        z = q.vector(3, "i64")
        scale = s if s is not None else scale
        zp = z if z is not None else zp
        if len(scale) and not len(zp):     # TFLM reads such a tensor as not quantized
            notes.append(f"{who(i, name, user)}: {len(scale)} scale(s) but no zero point, "
                         "read as not quantized (as TFLM does)")
            scale = np.zeros(0, np.float32)
        qdim, zp = check_quantization(i, name, shape, dtype, scale, zp,
                                      int(q.scalar(6, "i32", 0)), user, notes)
    return Tensor(index=i, name=name, shape=shape, dtype=dtype, data=data, scale=scale,
                  zero_point=zp, quantized_dimension=qdim, is_variable=bool(t.scalar(5, "u8", 0)))
