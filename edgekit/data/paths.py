"""Where datasets live: an explicit path, ``$EDGEKIT_DATA`` or the user cache.

Nothing here creates directories; :mod:`edgekit.data.fetch` does that when it
downloads.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekit.errors import DataError

__all__ = ["cache_dir", "resolve_data_root", "find_fsdd_recordings", "KNOWN_DATASETS"]

KNOWN_DATASETS = ("fsdd",)


def cache_dir() -> Path:
    """The edgekit cache directory (not created).

    Returns
    -------
    pathlib.Path
        ``$EDGEKIT_CACHE`` if set, else ``$XDG_CACHE_HOME/edgekit`` if
        ``XDG_CACHE_HOME`` is set, else ``~/.cache/edgekit``.
    """
    explicit = os.environ.get("EDGEKIT_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "edgekit"
    return Path.home() / ".cache" / "edgekit"


def _has_wavs(directory: Path) -> bool:
    try:
        return directory.is_dir() and any(
            p.suffix.lower() == ".wav" and p.is_file() for p in directory.iterdir()
        )
    except OSError:
        return False


def _fsdd_candidates(base: Path) -> list[Path]:
    """Directories under ``base`` that may hold the FSDD WAV files, in order."""
    return [base / "fsdd" / "recordings", base / "recordings", base]


def find_fsdd_recordings(base: str | Path) -> Path | None:
    """Find the FSDD ``recordings`` directory under ``base``.

    Parameters
    ----------
    base : str or pathlib.Path
        A data folder containing ``fsdd/recordings/``, the ``fsdd`` folder
        (or a checkout of the FSDD repository) containing ``recordings/``, or
        the ``recordings`` folder itself.

    Returns
    -------
    pathlib.Path or None
        The first of ``base/fsdd/recordings``, ``base/recordings`` and
        ``base`` that contains at least one ``.wav`` file, or ``None``.
    """
    base = Path(base).expanduser()
    for candidate in _fsdd_candidates(base):
        if _has_wavs(candidate):
            return candidate
    return None


def resolve_data_root(dataset: str, data: str | Path | None = None) -> Path:
    """Locate a dataset on disk.

    Parameters
    ----------
    dataset : str
        Dataset name; only ``"fsdd"`` is known.
    data : str or pathlib.Path, optional
        An explicit location (see :func:`find_fsdd_recordings` for the
        accepted layouts).  If given, it is the only place searched: a wrong
        explicit path is an error rather than a silent fallback.

    Returns
    -------
    pathlib.Path
        The directory holding the dataset's files (for FSDD, the
        ``recordings`` directory with the ``.wav`` files).

    Raises
    ------
    edgekit.errors.DataError
        If the dataset name is unknown or the data is not found; the message
        lists every place searched and how to download the data.

    Notes
    -----
    Search order without ``data``: ``$EDGEKIT_DATA``, then :func:`cache_dir`.
    """
    if dataset not in KNOWN_DATASETS:
        raise DataError(f"unknown dataset {dataset!r} (known: {', '.join(KNOWN_DATASETS)})")
    hint = f"download it with `edgekit data fetch {dataset}`"
    if data is not None:
        base = Path(data).expanduser()
        found = find_fsdd_recordings(base)
        if found is not None:
            return found
        looked = ", ".join(str(p) for p in _fsdd_candidates(base))
        raise DataError(
            f"no {dataset} WAV files found at the given data path {base} "
            f"(looked in {looked}); {hint}, or pass the folder that contains fsdd/recordings/"
        )
    bases: list[tuple[str, Path]] = []
    env = os.environ.get("EDGEKIT_DATA")
    if env:
        bases.append(("$EDGEKIT_DATA", Path(env).expanduser()))
    bases.append(("cache", cache_dir()))
    looked = []
    for label, base in bases:
        found = find_fsdd_recordings(base)
        if found is not None:
            return found
        looked.append(f"{label}: {base / 'fsdd' / 'recordings'}")
    if not env:
        looked.append("$EDGEKIT_DATA: not set")
    raise DataError(
        f"{dataset} dataset not found (looked in {'; '.join(looked)}); "
        f"{hint}, set EDGEKIT_DATA to the folder that contains fsdd/recordings/, "
        "or pass the path explicitly"
    )
