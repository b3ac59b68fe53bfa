"""Damaged calibration files are DataErrors naming the file (found by the
calibration fuzzing of tests/fuzz/), through both loaders: ``edgekit convert``'s
(:func:`edgekit.convert.onnx_check.load_calibration`) and ``edgekit quantize``'s
(:func:`edgekit.quantize.convert.check_calibration`), which share
:func:`edgekit.data.arrays.read_array_file`."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from edgekit.convert.onnx_check import OnnxInfo, load_calibration
from edgekit.errors import DataError
from edgekit.quantize.convert import check_calibration

INFO = OnnxInfo(model=None, opset=17, input_name="input", input_shape=(1, 10, 49),
                output_name="y", output_shape=(1, 12), ops={"Conv": 1})


def _npz_with(member: bytes) -> bytes:
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("x.npy", member)
    return z.getvalue()


def _npy(arr) -> bytes:
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


def _onnx(p):
    return load_calibration(p, INFO)


def _quantize(p):
    return check_calibration(p, (10, 49))


LOADERS = pytest.mark.parametrize("load", [_onnx, _quantize], ids=["convert", "quantize"])
GOOD = _npy(np.zeros((3, 10, 49), np.float32))


def _pickled(descr: bytes = b"'|O'", shape: bytes = b"(3, 10, 49)") -> bytes:
    """A .npy of Python objects: a header, then a pickle (never to be unpickled)."""
    header = b"{'descr': " + descr + b", 'fortran_order': False, 'shape': " + shape + b", }\n"
    return (b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
            + b"\x80\x04K\x01.")


PICKLE = _pickled()


@LOADERS
@pytest.mark.parametrize("case, member, words", [
    ("huge_shape", GOOD.replace(b"(3, 10, 49)", b"(1099511627776,)"),
     r"array 'x' declares shape \(1099511627776,\) float32 \(4398046511104 bytes\) but holds "
     r"only \d+ bytes"),
    ("bad_header", GOOD.replace(b"False", b"None "), "array 'x' is not a readable .npy array"),
    ("truncated", GOOD[:200], r"array 'x' declares shape \(3, 10, 49\)"),
    ("objects", PICKLE, r"array 'x' holds Python objects \(dtype object\); edgekit does not "
                        "load pickled data"),
    ("objects_in_record", _pickled(b"[('a', '<f4'), ('b', '|O')]", b"(3,)"),
     "array 'x' holds Python objects"),
], ids=lambda v: v if isinstance(v, str) and v.isidentifier() else "")
def test_damaged_npz_member(tmp_path, load, case, member, words):
    p = tmp_path / f"{case}.npz"
    p.write_bytes(_npz_with(member))
    with pytest.raises(DataError, match=words) as info:
        load(p)
    assert p.name in str(info.value)


@LOADERS
def test_objects_are_refused_without_unpickling(tmp_path, load, monkeypatch):
    import pickle  # noqa: PLC0415

    def boom(*a, **k):
        raise AssertionError("a calibration file was unpickled")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    record = _pickled(b"[('a', '<f4'), ('b', '|O')]", b"(3,)")
    for name, data in (("o.npy", PICKLE), ("r.npy", record),
                       ("o.npz", _npz_with(PICKLE))):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(DataError, match="holds Python objects"):
            load(p)


@LOADERS
@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_huge_declared_shape_allocates_nothing(tmp_path, load, suffix):
    """A header declaring 2,000,000 x 10 x 49 float32 (3.9 GB) over 5880 bytes of data
    is refused before numpy allocates the array (numpy reports its allocations to
    tracemalloc)."""
    import tracemalloc  # noqa: PLC0415

    lie = GOOD.replace(b"(3, 10, 49)", b"(2000000, 10, 49)")
    p = tmp_path / f"lie{suffix}"
    p.write_bytes(lie if suffix == ".npy" else _npz_with(lie))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"declares shape \(2000000, 10, 49\) float32 "
                                            r"\(3920000000 bytes\) but holds only \d+ bytes"):
            load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak


@LOADERS
def test_npz_member_declaring_more_than_it_can_hold(tmp_path, load):
    """A stored member whose central directory claims 4 GB: refused as damaged."""
    raw = bytearray(_npz_with(GOOD))
    cd = raw.rindex(b"PK\x01\x02")          # the central directory entry of x.npy
    raw[cd + 24:cd + 28] = (0xFFFF0000).to_bytes(4, "little")     # its uncompressed size
    p = tmp_path / "lie.npz"
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"array 'x' is damaged: it declares 4294901760 bytes"):
        load(p)


@LOADERS
def test_not_an_array_file(tmp_path, load):
    p = tmp_path / "c.npy"
    p.write_text("not numpy")
    with pytest.raises(DataError, match=r"c.npy is not a .npy/.npz array \(it starts with "
                                        r"b'not nu'\)"):
        load(p)
    p.write_bytes(b"PK\x03\x04" + bytes(30))
    with pytest.raises(DataError, match="is not a readable .npz archive"):
        load(p)


def test_good_npz_loads(tmp_path):
    p = tmp_path / "ok.npz"
    p.write_bytes(_npz_with(_npy(np.ones((3, 10, 49), np.float64))))
    x = load_calibration(p, INFO)
    assert x.dtype == np.float32 and x.shape == (3, 10, 49)
