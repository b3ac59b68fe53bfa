"""A small, bounds-checked reader for the FlatBuffers binary format.

Only what a TFLite file needs: tables (through their vtables), scalars,
strings, vectors of scalars, vectors of tables and raw byte vectors.  Every
read is checked against the buffer size, so a malformed file raises
:class:`~edgekit.errors.TFLiteFormatError` instead of an ``IndexError`` or a
``struct.error``.

References
----------
FlatBuffers internals, "Binary format":
https://flatbuffers.dev/internals/
"""

from __future__ import annotations

import struct

import numpy as np

from edgekit.errors import TFLiteFormatError

_SCALAR = {
    "u8": struct.Struct("<B"),
    "i8": struct.Struct("<b"),
    "u16": struct.Struct("<H"),
    "i16": struct.Struct("<h"),
    "u32": struct.Struct("<I"),
    "i32": struct.Struct("<i"),
    "u64": struct.Struct("<Q"),
    "i64": struct.Struct("<q"),
    "f32": struct.Struct("<f"),
}
_NP = {"u8": "<u1", "i8": "<i1", "i32": "<i4", "i64": "<i8", "f32": "<f4", "u32": "<u4"}

# A vector longer than this cannot be real in a model for a microcontroller;
# the bound keeps a corrupt length from allocating gigabytes.
MAX_VECTOR_LENGTH = 1 << 28


class Table:
    """A FlatBuffers table at byte position ``pos`` of ``buf``."""

    __slots__ = ("buf", "pos", "_vt", "_vt_len", "what")

    def __init__(self, buf: bytes, pos: int, what: str = "table"):
        self.buf = buf
        self.pos = pos
        self.what = what
        soff = read_scalar(buf, pos, "i32", what)
        vt = pos - soff
        vt_len = read_scalar(buf, vt, "u16", what + " vtable")
        if vt_len < 4 or vt_len % 2:
            raise TFLiteFormatError(f"{what}: bad vtable size {vt_len} at byte {vt}")
        _check(buf, vt, vt_len, what + " vtable")
        self._vt = vt
        self._vt_len = vt_len

    def _field(self, index: int) -> int:
        """Absolute position of field ``index``, or 0 when absent."""
        slot = 4 + 2 * index
        if slot >= self._vt_len:
            return 0
        off = read_scalar(self.buf, self._vt + slot, "u16", self.what)
        return self.pos + off if off else 0

    def has(self, index: int) -> bool:
        return self._field(index) != 0

    def scalar(self, index: int, kind: str, default=0):
        p = self._field(index)
        return read_scalar(self.buf, p, kind, self.what) if p else default

    def _deref(self, index: int) -> int:
        p = self._field(index)
        if not p:
            return 0
        return p + read_scalar(self.buf, p, "u32", self.what)

    def table(self, index: int, what: str) -> Table | None:
        p = self._deref(index)
        return Table(self.buf, p, what) if p else None

    def string(self, index: int, default: str = "") -> str:
        p = self._deref(index)
        if not p:
            return default
        n = _vec_len(self.buf, p, self.what)
        _check(self.buf, p + 4, n, self.what + " string")
        return self.buf[p + 4:p + 4 + n].decode("utf-8", errors="replace")

    def vector(self, index: int, kind: str) -> np.ndarray | None:
        """A vector of scalars as a numpy array (a copy), or None when absent."""
        p = self._deref(index)
        if not p:
            return None
        n = _vec_len(self.buf, p, self.what)
        size = _SCALAR[kind].size
        _check(self.buf, p + 4, n * size, self.what + " vector")
        return np.frombuffer(self.buf, dtype=_NP[kind], count=n, offset=p + 4).copy()

    def bytes_(self, index: int) -> bytes | None:
        p = self._deref(index)
        if not p:
            return None
        n = _vec_len(self.buf, p, self.what)
        _check(self.buf, p + 4, n, self.what + " bytes")
        return bytes(self.buf[p + 4:p + 4 + n])

    def tables(self, index: int, what: str) -> list[Table]:
        p = self._deref(index)
        if not p:
            return []
        n = _vec_len(self.buf, p, self.what)
        _check(self.buf, p + 4, 4 * n, what + " vector")
        out = []
        for i in range(n):
            e = p + 4 + 4 * i
            out.append(Table(self.buf, e + read_scalar(self.buf, e, "u32", what), f"{what}[{i}]"))
        return out


def _check(buf: bytes, pos: int, n: int, what: str) -> None:
    if pos < 0 or n < 0 or pos + n > len(buf):
        raise TFLiteFormatError(
            f"{what}: reads bytes {pos}..{pos + n} beyond the end of the file "
            f"({len(buf)} bytes); the file is truncated or corrupt")


def _vec_len(buf: bytes, pos: int, what: str) -> int:
    n = read_scalar(buf, pos, "u32", what)
    if n > MAX_VECTOR_LENGTH:
        raise TFLiteFormatError(f"{what}: vector length {n} at byte {pos} is implausible")
    return n


def read_scalar(buf: bytes, pos: int, kind: str, what: str = "value"):
    s = _SCALAR[kind]
    _check(buf, pos, s.size, what)
    return s.unpack_from(buf, pos)[0]


def root_table(buf: bytes, identifier: bytes | None = None, what: str = "root") -> Table:
    """The root table of a FlatBuffer, checking the file identifier if given."""
    if len(buf) < 8:
        raise TFLiteFormatError(f"file is {len(buf)} bytes long: too short to be a FlatBuffer")
    if identifier is not None and buf[4:8] != identifier:
        raise TFLiteFormatError(
            f"wrong file identifier {bytes(buf[4:8])!r} (expected {identifier!r}): "
            "not a TFLite flatbuffer")
    return Table(buf, read_scalar(buf, 0, "u32", what), what)
