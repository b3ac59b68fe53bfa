"""Fuzz targets for every reader of untrusted files (issue 16, point 6).

Each reader has seeds (real files: the MLPerf Tiny models, FSDD WAVs,
edgekit's ONNX examples, the repository's recipes, calibration arrays) and a
structure-aware mutator driven by a :class:`Draw` (hypothesis' ``st.data()``
makes the choices, so a failing case shrinks and replays).  :func:`run_case`
runs one case under a time limit and classifies it:

``ok``           the reader accepted the input (its result passed the checks);
``refused``      it raised an :class:`~edgekit.errors.EdgekitError` with a message;
``FAIL ...``     anything else: another exception, an empty message, a hang, a
                 sanitizer report or a crash of host-built C.

Used by ``tests/fuzz/test_fuzz_short.py`` (the suite: a few seconds per reader)
and ``tests/fuzz/campaign.py`` (the long campaign, >= 10,000 cases per reader).
"""

from __future__ import annotations

import copy
import io
import os
import signal
import struct
import tempfile
import traceback
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from edgekit.errors import EdgekitError

MLPERF = Path(os.environ.get("EDGEKIT_MODELS", "/work/shared/models")) / "mlperf-tiny"
TFLITE_SEEDS = ("kws_ref_model", "str_ww_ref_model", "ad01_int8")
FSDD = Path(os.environ.get("EDGEKIT_DATA", "/work/shared/data")) / "fsdd" / "recordings"
REPO = Path(__file__).resolve().parents[2]

#: Values that tend to sit on a boundary of some check.
INTERESTING = (0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, 1023,
               1024, 32767, 32768, 65535, 65536, (1 << 24), (1 << 28), (1 << 31) - 1, -(1 << 31),
               (1 << 32) - 1, -(1 << 15))


class Draw:
    """The random choices of one case (from hypothesis' ``st.data()``)."""

    def __init__(self, data):
        self.data = data

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def choice(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def bool(self) -> bool:
        return self.data.draw(st.booleans())

    def interesting(self, lo: int = -(1 << 31), hi: int = (1 << 31) - 1) -> int:
        if self.bool():
            return min(max(self.choice(INTERESTING), lo), hi)
        return self.int(lo, hi)

    def float(self) -> float:
        return self.data.draw(st.one_of(
            st.sampled_from([0.0, -0.0, -1.0, 1.0, float("nan"), float("inf"), -float("inf"),
                             1e-45, 1e-30, 1e30, 3.4e38]),
            st.floats(width=32, allow_nan=True, allow_infinity=True)))

    def bytes(self, n: int) -> bytes:
        return self.data.draw(st.binary(min_size=n, max_size=n))


class RandomDraw(Draw):
    """The same choices from a seeded PRNG: the long campaign's engine (no
    hypothesis overhead per draw; case ``i`` of a run replays with seed ``i``)."""

    _SPECIAL = (0.0, -0.0, -1.0, 1.0, float("nan"), float("inf"), -float("inf"), 1e-45,
                1e-30, 1e30, 3.4e38)

    def __init__(self, seed: int):
        import random  # noqa: PLC0415

        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def bool(self) -> bool:
        return self.rng.random() < 0.5

    def float(self) -> float:
        if self.bool():
            return self.choice(self._SPECIAL)
        return struct.unpack("<f", self.rng.randbytes(4))[0]

    def bytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)


def mutate_bytes(d: Draw, buf: bytes, max_mut: int = 6) -> bytes:
    """Byte-level damage: flipped bytes, overwritten words, cuts, inserts."""
    b = bytearray(buf) or bytearray(b"\0")
    for _ in range(d.int(1, max_mut)):
        kind = d.choice(("byte", "word", "cut", "insert", "zero"))
        pos = d.int(0, max(len(b) - 1, 0))
        if kind == "byte" and b:
            b[pos] = d.int(0, 255)
        elif kind == "word" and pos + 4 <= len(b):
            b[pos:pos + 4] = (d.interesting() & 0xFFFFFFFF).to_bytes(4, "little")
        elif kind == "cut":
            del b[pos:]
        elif kind == "insert":
            b[pos:pos] = d.bytes(d.int(1, 8))
        elif kind == "zero":
            b[pos:pos + d.int(1, 64)] = bytes(len(b[pos:pos + d.int(1, 64)]))
    return bytes(b)


# -- outcome of one case ------------------------------------------------------------------------

class CaseTimeout(BaseException):
    """A case ran past its time limit (a hang)."""


@contextmanager
def time_limit(seconds: float):
    def _raise(signum, frame):
        raise CaseTimeout(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    kind: str          # "ok", "refused" or "FAIL <what>"
    detail: str = ""


def run_case(fn, *args, limit: float = 20.0) -> Outcome:
    """Run ``fn(*args)``: ok, refused (EdgekitError with a message) or FAIL."""
    try:
        with time_limit(limit):
            fn(*args)
    except CaseTimeout as e:
        return Outcome("FAIL hang", str(e))
    except EdgekitError as e:
        if not str(e).strip():
            return Outcome("FAIL empty message", type(e).__name__)
        return Outcome("refused", f"{type(e).__name__}: {str(e)[:200]}")
    except Exception as e:  # noqa: BLE001 - the point: anything else is a finding
        tb = traceback.format_exc(limit=-3)
        return Outcome(f"FAIL {type(e).__name__}", f"{e}\n{tb}"[:1500])
    return Outcome("ok")


# -- .tflite: reader + code generator -------------------------------------------------------

_TFLITE_CACHE: dict = {}


def _unpacked(name: str):
    from tests.hostile import unpack  # noqa: PLC0415

    if name not in _TFLITE_CACHE:
        data = (MLPERF / f"{name}.tflite").read_bytes()
        _TFLITE_CACHE[name] = (data, unpack(data))
    return _TFLITE_CACHE[name]


def _mutate_model(d: Draw, m) -> None:
    sg = m.subgraphs[0]
    what = d.choice(("shape", "type", "buffer", "scale", "zero_point", "qdim", "no_quant",
                     "op_inputs", "op_outputs", "opcode_index", "option", "no_options",
                     "buffer_data", "builtin_code", "io", "scale_count", "one_zero_point",
                     "no_zero_point"))
    t = d.choice(sg.tensors)
    op = d.choice(sg.operators)
    q = t.quantization
    if what == "shape":
        shape = [int(x) for x in (t.shape if t.shape is not None else [])]
        k = d.int(0, 2)
        if k == 0 and shape:
            shape[d.int(0, len(shape) - 1)] = d.interesting()
        elif k == 1 and shape:
            del shape[d.int(0, len(shape) - 1)]
        else:
            shape.insert(d.int(0, len(shape)), d.interesting())
        t.shape = shape
    elif what == "type":
        t.type = d.int(0, 20)
    elif what == "buffer":
        t.buffer = d.interesting(0, (1 << 32) - 1)
    elif what in ("one_zero_point", "no_zero_point") and q is not None:
        if q.zeroPoint is not None and len(q.zeroPoint):   # TFLM's leniencies (validate.py)
            q.zeroPoint = [int(q.zeroPoint[0]) + d.choice((0, 0, 1, -3))] \
                if what == "one_zero_point" else None
    elif what in ("scale", "zero_point", "qdim", "scale_count") and q is not None:
        if what == "scale" and q.scale is not None and len(q.scale):
            s = [float(x) for x in q.scale]
            s[d.int(0, len(s) - 1)] = d.float()
            q.scale = s
        elif what == "zero_point" and q.zeroPoint is not None and len(q.zeroPoint):
            z = [int(x) for x in q.zeroPoint]
            z[d.int(0, len(z) - 1)] = d.interesting(-(1 << 40), 1 << 40)
            q.zeroPoint = z
        elif what == "qdim":
            q.quantizedDimension = d.interesting()
        elif what == "scale_count" and q.scale is not None:
            n = d.int(0, 70)
            q.scale = [1e-3] * n
            q.zeroPoint = [0] * (n if d.bool() else max(n - 1, 0))
    elif what == "no_quant":
        t.quantization = None
    elif what in ("op_inputs", "op_outputs"):
        attr = "inputs" if what == "op_inputs" else "outputs"
        v = [int(x) for x in (getattr(op, attr) if getattr(op, attr) is not None else [])]
        k = d.int(0, 2)
        if k == 0 and v:
            v[d.int(0, len(v) - 1)] = d.choice((-1, -2, len(sg.tensors), d.interesting(),
                                                d.int(0, len(sg.tensors) - 1)))
        elif k == 1 and v:
            del v[d.int(0, len(v) - 1)]
        else:
            v.append(d.int(-1, len(sg.tensors) - 1))
        setattr(op, attr, v)
    elif what == "opcode_index":
        op.opcodeIndex = d.interesting(0, (1 << 32) - 1)
    elif what == "option" and op.builtinOptions is not None:
        fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, (int, float))]
        if fields:
            k = d.choice(sorted(fields))
            old = getattr(op.builtinOptions, k)
            new = d.float() if isinstance(old, float) else (
                d.bool() if isinstance(old, bool) else d.interesting(-128, 127)
                if d.bool() else d.interesting())
            setattr(op.builtinOptions, k, new)
    elif what == "no_options":
        op.builtinOptions, op.builtinOptionsType = None, 0
    elif what == "buffer_data":
        b = d.choice(m.buffers)
        if b.data is not None and len(b.data):
            n = len(b.data)
            b.data = np.frombuffer(d.bytes(min(n, 64)), np.uint8).tolist() * (n // 64) \
                if d.bool() else list(b.data)[:d.int(0, n)]
    elif what == "builtin_code":
        c = d.choice(m.operatorCodes)
        c.builtinCode = d.int(0, 220)
        c.deprecatedBuiltinCode = min(c.builtinCode, 127)
    elif what == "io":
        sg.inputs = [d.int(-2, len(sg.tensors))]


def tflite_input(d: Draw) -> bytes:
    """A mutated real model: edited through the schema, or damaged bytes."""
    from tests.hostile import pack  # noqa: PLC0415

    data, model = _unpacked(d.choice(TFLITE_SEEDS))
    if d.int(0, 3) == 0:
        return mutate_bytes(d, data)
    m = copy.deepcopy(model)
    for _ in range(d.int(1, 3)):
        _mutate_model(d, m)
    try:
        return pack(m)
    except Exception:  # noqa: BLE001 - a value the schema cannot hold: damage bytes instead
        return mutate_bytes(d, data)


def tflite_target(data: bytes, out_dir: Path) -> None:
    from edgekit.firmware_export import generate, read_tflite  # noqa: PLC0415

    generate(read_tflite(data), out_dir)


# -- WAV ------------------------------------------------------------------------------------

def _wav(rate: int, channels: int, bits: int, code: int, audio: bytes, extensible=False) -> bytes:
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else code, channels, rate, rate * align,
                      align, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", code) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(audio)) + audio + (b"\0" if len(audio) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(FSDD.glob("*.wav"))[:3]] if FSDD.is_dir() else []
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 64)
    seeds += [
        _wav(8000, 2, 16, 1, (x * 30000).astype("<i2").tobytes()),
        _wav(16000, 1, 8, 1, ((x + 1) * 127).astype(np.uint8).tobytes()),
        _wav(8000, 1, 24, 1, b"".join(int(v * 8e6).to_bytes(3, "little", signed=True)
                                      for v in x)),
        _wav(8000, 1, 32, 3, x.astype("<f4").tobytes()),
        _wav(44100, 2, 32, 1, (x * 2e9).astype("<i4").tobytes(), extensible=True),
        _wav(8000, 1, 64, 3, x.astype("<f8").tobytes(), extensible=True),
    ]
    return seeds


def _chunks(data: bytes) -> list[list]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        out.append([cid, size, data[pos + 8:pos + 8 + size]])
        pos += 8 + size + (size & 1)
    return out


def wav_input(d: Draw, seeds: list[bytes]) -> bytes:
    data = d.choice(seeds)
    if d.int(0, 3) == 0:
        return mutate_bytes(d, data)
    chunks = _chunks(data)
    riff_size = None
    for _ in range(d.int(1, 3)):
        what = d.choice(("fmt_field", "size_lie", "drop", "dup", "junk", "swap", "cut_audio",
                         "riff_size", "fmt_len"))
        c = d.choice(chunks) if chunks else None
        fmts = [k for k in chunks if k[0] == b"fmt " and len(k[2]) >= 16]
        if what == "fmt_field" and fmts:
            f = fmts[0]
            fields = list(struct.unpack_from("<HHIIHH", f[2], 0))
            i = d.int(0, 5)
            fields[i] = d.interesting(0, 0xFFFF if i in (0, 1, 4, 5) else 0xFFFFFFFF)
            if d.bool():   # keep the header consistent, to reach the decoder
                fields[4] = (fields[1] * fields[5] // 8) & 0xFFFF
            f[2] = struct.pack("<HHIIHH", *fields) + f[2][16:]
            f[1] = len(f[2])
        elif what == "size_lie" and c is not None:
            c[1] = d.interesting(0, 0xFFFFFFFF)
        elif what == "drop" and c is not None:
            chunks.remove(c)
        elif what == "dup" and c is not None:
            chunks.insert(d.int(0, len(chunks)), list(c))
        elif what == "junk":
            body = d.bytes(d.int(0, 9))
            chunks.insert(d.int(0, len(chunks)), [d.choice((b"LIST", b"fact", b"\0\0\0\0")),
                                                 len(body), body])
        elif what == "swap" and len(chunks) > 1:
            chunks.reverse()
        elif what == "cut_audio" and c is not None:
            c[2] = c[2][:d.int(0, len(c[2]))]
            c[1] = len(c[2]) if d.bool() else c[1]
        elif what == "riff_size":
            riff_size = d.interesting(0, 0xFFFFFFFF)
        elif what == "fmt_len" and fmts:
            fmts[0][2] = fmts[0][2][:d.int(0, 40)] + d.bytes(d.int(0, 30))
            fmts[0][1] = len(fmts[0][2])
    body = b"WAVE" + b"".join(cid + struct.pack("<I", size) + payload
                              + (b"\0" if len(payload) & 1 else b"")
                              for cid, size, payload in chunks)
    size = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size) + body


def wav_target(data: bytes) -> None:
    from edgekit.data.wav import parse_wav_bytes  # noqa: PLC0415

    samples, rate = parse_wav_bytes(data, name="fuzz.wav")
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
    assert rate > 0 and np.all(np.isfinite(samples)) and np.all(np.abs(samples) <= 1.0)


# -- calibration arrays (.npy / .npz) ---------------------------------------------------------

def calibration_input(d: Draw) -> tuple[str, bytes]:
    """A mutated .npy or .npz file for a model input of shape (1, 10, 49)."""
    shape = d.choice(((3, 10, 49), (3, 1, 10, 49), (10, 49), (0, 10, 49), (2, 49, 10), (4,)))
    dtype = d.choice(("<f4", "<f8", "<i2", "|u1", "<c8", "|b1", "<U3", ">f4", "|O",
                      "[('a', '<f4')]", "<f2"))
    if dtype == "|O":
        arr = np.empty(shape, object)
    elif dtype.startswith("["):
        arr = np.zeros(shape, dtype=[("a", "<f4")])
    else:
        arr = np.zeros(shape, dtype=dtype)
    if arr.dtype.kind == "f" and arr.size and d.bool():
        arr.reshape(-1)[d.int(0, arr.size - 1)] = d.choice((np.nan, np.inf, 1e30))
    buf = io.BytesIO()
    if arr.dtype.kind == "O":
        header = b"{'descr': '|O', 'fortran_order': False, 'shape': (3, 10, 49), }"
        raw = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header) + 1) + header + b"\n"
        raw += b"\x80\x04K\x01."           # a pickle: must never be unpickled
    else:
        np.save(buf, arr, allow_pickle=False)
        raw = buf.getvalue()
    if d.bool():   # damage the header text: shape, descr, order
        text = raw[10:].split(b"\n", 1)[0]
        new = text.replace(str(shape).encode(), d.choice((b"(-1, 10, 49)", b"(1099511627776,)",
                                                          b"(3, 10, 49, 0)", b"()", b"(3,",
                                                          b"(2000000, 10, 49)", b"(3, 10, 50)")))
        if d.int(0, 3) == 0:   # another descr: objects inside a record, big endian, bytes
            new = new.replace(f"'descr': '{arr.dtype.str}'".encode(), d.choice((
                b"'descr': [('a', '|O')]", b"'descr': '>f8'", b"'descr': '|S4'",
                b"'descr': '<m8[s]'", b"'descr': 'float32'")))
        new = new.replace(b"False", d.choice((b"False", b"True", b"None")))
        raw = raw[:10] + new + raw[10 + len(text):]
    if d.int(0, 2) == 0:
        raw = mutate_bytes(d, raw, 3)
    if d.bool():
        z = io.BytesIO()
        method = zipfile.ZIP_DEFLATED if d.bool() else zipfile.ZIP_STORED
        with warnings.catch_warnings(), zipfile.ZipFile(z, "w", method) as zf:
            warnings.simplefilter("ignore")      # duplicate member names, on purpose
            for k in range(d.int(0, 2)):
                zf.writestr(d.choice(("x.npy", "input.npy", f"a{k}.npy", "x")), raw)
        zraw = z.getvalue()
        return "calib.npz", (mutate_bytes(d, zraw, 2) if d.int(0, 3) == 0 else zraw)
    return "calib.npy", raw


def calibration_target(name: str, raw: bytes, tmp: Path) -> None:
    from edgekit.convert.onnx_check import OnnxInfo, load_calibration  # noqa: PLC0415

    p = tmp / name
    p.write_bytes(raw)
    info = OnnxInfo(model=None, opset=17, input_name="input", input_shape=(1, 10, 49),
                    output_name="y", output_shape=(1, 12), ops={"Conv": 1})
    x = load_calibration(p, info)
    assert x.dtype == np.float32 and x.shape[1:] == (10, 49) and len(x) > 0
    assert np.all(np.isfinite(x))


def calibration_quantize_target(name: str, raw: bytes, tmp: Path) -> None:
    """The same files through ``edgekit quantize``'s loader (edgekit.quantize.convert)."""
    from edgekit.quantize.convert import check_calibration  # noqa: PLC0415

    p = tmp / name
    p.write_bytes(raw)
    x = check_calibration(p, (10, 49))
    assert x.dtype == np.float32 and x.shape[1:] == (10, 49) and len(x) > 0
    assert np.all(np.isfinite(x))


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ek_fuzz_"))
