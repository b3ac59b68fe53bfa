"""Reading one array from an untrusted ``.npy`` or ``.npz`` file (calibration data).

:func:`read_array_file` is the one reader of user array files of
``edgekit quantize`` and ``edgekit convert``.  Before any data is read it
parses the header and refuses, with a :class:`~edgekit.errors.DataError`
that names the file:

* a damaged header, or a file that is neither ``.npy`` nor a zip (``.npz``);
* arrays of Python objects (``dtype`` object, or a structured dtype holding
  objects): they are pickles, and a pickle is never loaded
  (``allow_pickle=False`` everywhere);
* a header that declares more data than the file (or the ``.npz`` member)
  holds, and a ``.npz`` member that declares more bytes than its compressed
  size can expand to, so that a header of a terabyte-sized shape never
  allocates memory.

Any other failure of the read (a truncated member, a zlib or CRC error) is
a ``DataError`` too, never another exception.  numpy only.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from edgekit.errors import DataError

__all__ = ["read_array_file"]

#: Deflate expands at most about 1032:1; a member declaring more is damaged.
DEFLATE_MAX_RATIO = 1100


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _read_npy(fp, size: int, label: str) -> np.ndarray:
    """The array of a seekable ``.npy`` stream of ``size`` bytes, its header checked first."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        header_end = fp.tell()
    except Exception as exc:  # ValueError, SyntaxError, EOF, zlib: a damaged header
        raise DataError(f"{label} is not a readable .npy array: {_first_line(exc)}") from None
    if dtype.hasobject:
        raise DataError(f"{label} holds Python objects (dtype {dtype}); edgekit does not load "
                        "pickled data: save a numeric array")
    need = math.prod(int(d) for d in shape) * dtype.itemsize
    have = max(size - header_end, 0)
    if need > have:
        raise DataError(f"{label} declares shape {tuple(shape)} {dtype} ({need} bytes) but "
                        f"holds only {have} bytes of data")
    try:
        fp.seek(0)
        return fmt.read_array(fp, allow_pickle=False)
    except Exception as exc:  # zlib/CRC errors of a damaged member, short reads
        raise DataError(f"{label} cannot be read: {_first_line(exc)}") from None


def _member(zf: zipfile.ZipFile, name: str, archive_bytes: int, label: str):
    """The ``ZipInfo`` of ``name``, its declared sizes checked against the archive."""
    info = zf.getinfo(name)
    c, n = info.compress_size, info.file_size
    if (c > archive_bytes or (info.compress_type == zipfile.ZIP_STORED and n != c)
            or (info.compress_type == zipfile.ZIP_DEFLATED and n > DEFLATE_MAX_RATIO * c + 64)):
        raise DataError(f"{label} is damaged: it declares {n} bytes stored in {c} compressed "
                        f"bytes of a {archive_bytes}-byte archive")
    return info


def read_array_file(path, choose: Callable[[list], str] | None = None) -> np.ndarray:
    """One array of a ``.npy`` file or of a ``.npz`` archive, read safely (see module docs).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    choose : callable, optional
        ``choose(names) -> name``: which member of a ``.npz`` holding the
        arrays ``names`` (member names without ``.npy``) to read; it raises
        a :class:`~edgekit.errors.DataError` when none fits.  Default: the
        only member, and a ``DataError`` when there are several.

    Returns
    -------
    numpy.ndarray
        The array, of the dtype and shape the file declares.

    Raises
    ------
    edgekit.errors.DataError
        If the file does not exist, is damaged, holds objects, declares more
        data than it holds, or (``.npz``) holds no array ``choose`` takes.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"calibration data {p} does not exist")
    size = p.stat().st_size
    with open(p, "rb") as fp:
        head = fp.read(6)
        fp.seek(0)
        if head == b"\x93NUMPY":
            return _read_npy(fp, size, f"calibration data {p}")
        if not head.startswith(b"PK"):
            raise DataError(f"calibration data {p} is not a .npy/.npz array (it starts "
                            f"with {head!r})")
        try:
            zf = zipfile.ZipFile(fp)
            members = {(n[:-4] if n.endswith(".npy") else n): n for n in zf.namelist()}
        except Exception as exc:  # BadZipFile, a damaged central directory
            raise DataError(f"calibration data {p} is not a readable .npz archive: "
                            f"{_first_line(exc)}") from None
        with zf:
            names = list(members)
            if not names:
                raise DataError(f"calibration data {p} is an empty .npz archive")
            if choose is not None:
                key = choose(names)
            elif len(names) == 1:
                key = names[0]
            else:
                raise DataError(f"calibration data {p}: a .npz must hold exactly one array "
                                f"(has {names})")
            label = f"calibration data {p}: array '{key}'"
            info = _member(zf, members[key], size, label)
            try:
                stream = zf.open(info)
            except Exception as exc:  # a damaged local header, encryption, unknown method
                raise DataError(f"{label} cannot be read: {_first_line(exc)}") from None
            with stream:
                return _read_npy(stream, info.file_size, label)
