"""Damaged calibration files are DataErrors naming the file (found by the
calibration fuzzing of tests/fuzz/)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from edgekit.convert.onnx_check import OnnxInfo, load_calibration
from edgekit.errors import DataError

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


@pytest.mark.parametrize("case, member, words", [
    ("huge_shape", _npy(np.zeros((3, 10, 49), np.float32)).replace(b"(3, 10, 49)",
                                                                     b"(1099511627776,)"),
     "array 'x' cannot be read"),
    ("bad_header", _npy(np.zeros((3, 10, 49), np.float32)).replace(b"False", b"None "),
     "array 'x' cannot be read"),
    ("truncated", _npy(np.zeros((3, 10, 49), np.float32))[:200], "array 'x' cannot be read"),
])
def test_damaged_npz_member(tmp_path, case, member, words):
    p = tmp_path / f"{case}.npz"
    p.write_bytes(_npz_with(member))
    with pytest.raises(DataError, match=words) as info:
        load_calibration(p, INFO)
    assert p.name in str(info.value)


def test_good_npz_loads(tmp_path):
    p = tmp_path / "ok.npz"
    p.write_bytes(_npz_with(_npy(np.ones((3, 10, 49), np.float64))))
    x = load_calibration(p, INFO)
    assert x.dtype == np.float32 and x.shape == (3, 10, 49)
