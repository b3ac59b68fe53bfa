"""Download the Free Spoken Digit Dataset into the edgekit cache.

The download is all-or-nothing: the archive is fetched and unpacked into a
temporary directory beside the destination, and only a complete
``recordings`` directory is renamed into place.  On any failure the temporary
directory is removed and the destination is left as it was.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from edgekit.data.paths import cache_dir, find_fsdd_recordings
from edgekit.errors import DataError

__all__ = ["fetch_fsdd", "DEFAULT_URL"]

logger = logging.getLogger("edgekit")

DEFAULT_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.zip"
)
_WAV_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+\.wav$")


def fetch_fsdd(
    dest: str | Path | None = None,
    url: str = DEFAULT_URL,
    *,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download FSDD and unpack its recordings to ``<dest>/fsdd/recordings/``.

    Parameters
    ----------
    dest : str or pathlib.Path, optional
        The data folder; defaults to :func:`edgekit.data.cache_dir`.  It is
        the folder that :func:`edgekit.data.resolve_data_root` searches.
    url : str, optional
        A zip archive of the FSDD repository (default: the GitHub archive of
        ``Jakobovski/free-spoken-digit-dataset``).  Only members named
        ``recordings/*.wav`` (at any depth, e.g. ``<repo>-master/recordings/``)
        are extracted.
    force : bool, optional
        Download again even if WAV files are already present; the old
        ``recordings`` directory is replaced only once the new one is complete.
    timeout : float, optional
        Socket timeout in seconds.

    Returns
    -------
    pathlib.Path
        The ``recordings`` directory.

    Raises
    ------
    edgekit.errors.DataError
        On a network or HTTP error, a truncated download, a corrupt zip, or
        a zip without ``recordings/*.wav`` members.  Nothing is left behind.
    """
    base = Path(dest).expanduser() if dest is not None else cache_dir()
    parent = base / "fsdd"
    target = parent / "recordings"
    if not force:
        existing = find_fsdd_recordings(parent)
        if existing == target:
            logger.info("FSDD already present in %s", target)
            return target

    created: list[Path] = []
    for directory in (base, parent):
        if not directory.exists():
            created.insert(0, directory)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {parent}: {exc}") from exc

    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=parent))
    try:
        archive = tmp / "archive.zip"
        _download(url, archive, timeout)
        staged = tmp / "recordings"
        count = _extract_recordings(archive, staged, url)
        _install(staged, target)
        logger.info("fetched %d FSDD recordings into %s", count, target)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp = None
        for directory in created:  # innermost first: only what we created, if empty
            try:
                directory.rmdir()
            except OSError:
                pass
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _download(url: str, out: Path, timeout: float) -> None:
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, out.open("wb") as fh:
            expected = response.headers.get("Content-Length")
            shutil.copyfileobj(response, fh, length=1 << 20)
            got = fh.tell()
    except urllib.error.HTTPError as exc:
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DataError(f"download of {url} failed: {exc.reason}") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # Timeouts, connection resets, malformed URLs, short reads.
        raise DataError(f"download of {url} failed: {exc}") from exc
    if expected is not None and expected.isdigit() and got != int(expected):
        raise DataError(
            f"download of {url} is truncated: got {got} bytes, server announced {expected}"
        )


def _extract_recordings(archive: Path, staged: Path, url: str) -> int:
    staged.mkdir()
    count = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                parts = PurePosixPath(info.filename).parts
                if len(parts) < 2 or parts[-2] != "recordings":
                    continue
                name = parts[-1]
                if not _WAV_NAME_RE.match(name) or name.startswith("."):
                    continue
                with zf.open(info) as src, (staged / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise DataError(f"archive downloaded from {url} is corrupt or unreadable: {exc}") from exc
    except OSError as exc:
        raise DataError(f"cannot unpack archive downloaded from {url}: {exc}") from exc
    if count == 0:
        raise DataError(f"archive downloaded from {url} contains no recordings/*.wav files")
    return count


def _install(staged: Path, target: Path) -> None:
    """Rename ``staged`` to ``target``, replacing an old ``target`` only at the end."""
    old = None
    if target.exists():
        old = target.with_name(f".recordings-old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError as exc:
        if old is not None:
            os.replace(old, target)
        raise DataError(f"cannot move recordings into {target}: {exc}") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
