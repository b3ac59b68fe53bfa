"""Atomic outputs: build into a temporary sibling, move into place on success.

Every command that writes a directory (``build``, ``train``, ``budget``,
``prune``, ``distill``, ``data fetch``) or a single file (``quantize``,
``convert``) goes through here, so a failed run leaves the old output (or
nothing) and never a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from edgekit.errors import ConfigError

__all__ = ["atomic_dir", "atomic_file", "replace_dir"]


def replace_dir(tmp: Path, out: Path) -> None:
    """Replace directory ``out`` by ``tmp`` (the old content is moved away, then removed)."""
    out = Path(out).resolve()
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(out, what: str = "--out"):
    """Yield an empty temporary directory beside ``out``; it becomes ``out`` on success.

    Parameters
    ----------
    out : path
        The directory to (re)create.  Its parent is created if needed.
    what : str
        How the user named ``out`` (for the error message).

    Raises
    ------
    ConfigError
        If ``out`` exists and is not a directory.

    Notes
    -----
    On an exception the temporary directory is removed and ``out`` is left
    as it was.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{what} {out} exists and is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, out)


def atomic_file(path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and ``os.replace``.

    Returns the resolved path.  The parent directory is created if needed.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else bytes(data))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
