"""Where datasets live: an explicit path, ``$EDGEKIT_DATA`` or the user cache.

Nothing here creates directories; :mod:`edgekit.data.fetch` does that when it
downloads.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekit.cache import cache_dir
from edgekit.errors import DataError

__all__ = [
    "cache_dir",
    "resolve_data_root",
    "find_fsdd_recordings",
    "find_speech_commands",
    "find_esc50",
    "KNOWN_DATASETS",
]

KNOWN_DATASETS = ("fsdd", "speech_commands", "esc50")

#: Folder names searched under a data folder, in order (the names the
#: official archives unpack to come first).
SPEECH_COMMANDS_DIRS = ("speech_commands_v0.02", "speech_commands")
ESC50_DIRS = ("ESC-50-master", "ESC-50", "esc50")


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


def _speech_commands_candidates(base: Path) -> list[Path]:
    return [base / d for d in SPEECH_COMMANDS_DIRS] + [base]


def _is_speech_commands(directory: Path) -> bool:
    return any((directory / n).is_file() for n in ("validation_list.txt", "testing_list.txt"))


def find_speech_commands(base: str | Path) -> Path | None:
    """Find a Speech Commands folder (word folders + split lists) under ``base``.

    Parameters
    ----------
    base : str or pathlib.Path
        The dataset folder itself, or a data folder containing
        ``speech_commands_v0.02/`` or ``speech_commands/``.

    Returns
    -------
    pathlib.Path or None
        The first of those that holds ``validation_list.txt`` or
        ``testing_list.txt``, or ``None``.
    """
    base = Path(base).expanduser()
    for candidate in _speech_commands_candidates(base):
        if _is_speech_commands(candidate):
            return candidate
    return None


def _esc50_candidates(base: Path) -> list[Path]:
    return [base / d for d in ESC50_DIRS] + [base]


def find_esc50(base: str | Path) -> Path | None:
    """Find an ESC-50 folder (``meta/esc50.csv`` + ``audio/``) under ``base``.

    Parameters
    ----------
    base : str or pathlib.Path
        The dataset folder itself, or a data folder containing
        ``ESC-50-master/`` (the GitHub archive), ``ESC-50/`` or ``esc50/``.

    Returns
    -------
    pathlib.Path or None
        The first of those that holds ``meta/esc50.csv``, or ``None``.
    """
    base = Path(base).expanduser()
    for candidate in _esc50_candidates(base):
        if (candidate / "meta" / "esc50.csv").is_file():
            return candidate
    return None


def _search_default_places(find, describe) -> tuple[Path | None, list[str]]:
    """Look with ``find`` under ``$EDGEKIT_DATA``, then the cache.

    Returns the first folder found (or None) and, for the error message,
    ``"<place>: <describe(base)>"`` for every place looked in.
    """
    bases: list[tuple[str, Path]] = []
    env = os.environ.get("EDGEKIT_DATA")
    if env:
        bases.append(("$EDGEKIT_DATA", Path(env).expanduser()))
    bases.append(("cache", cache_dir()))
    looked = []
    for label, base in bases:
        found = find(base)
        if found is not None:
            return found, looked
        looked.append(f"{label}: {describe(base)}")
    if not env:
        looked.append("$EDGEKIT_DATA: not set")
    return None, looked


def _resolve_other(dataset: str, data: str | Path | None) -> Path:
    """:func:`resolve_data_root` for the datasets edgekit cannot download."""
    find, candidates, what = {
        "speech_commands": (find_speech_commands, _speech_commands_candidates,
                            "validation_list.txt / testing_list.txt"),
        "esc50": (find_esc50, _esc50_candidates, "meta/esc50.csv"),
    }[dataset]
    hint = "download and unpack it yourself, then pass its folder"
    if data is not None:
        base = Path(data).expanduser()
        found = find(base)
        if found is not None:
            return found
        if base.is_dir():
            # The loader names what exactly is missing (a list file, the csv).
            return base
        raise DataError(f"the given {dataset} data path {base} does not exist")
    found, looked = _search_default_places(
        find, lambda base: ", ".join(str(p) for p in candidates(base)[:-1]))
    if found is not None:
        return found
    raise DataError(
        f"{dataset} dataset not found (looked for {what} in {'; '.join(looked)}); {hint}"
    )


def resolve_data_root(dataset: str, data: str | Path | None = None) -> Path:
    """Locate a dataset on disk.

    Parameters
    ----------
    dataset : str
        Dataset name: ``"fsdd"``, ``"speech_commands"`` or ``"esc50"``.
    data : str or pathlib.Path, optional
        An explicit location (see :func:`find_fsdd_recordings`,
        :func:`find_speech_commands` and :func:`find_esc50` for the accepted
        layouts).  If given, it is the only place searched: a wrong
        explicit path is an error rather than a silent fallback.  For Speech
        Commands and ESC-50 an existing folder that does not look like the
        dataset is returned as is, so that the loader can name the missing
        file.

    Returns
    -------
    pathlib.Path
        The directory holding the dataset's files (for FSDD, the
        ``recordings`` directory with the ``.wav`` files; for Speech
        Commands, the folder with the word folders and the split lists; for
        ESC-50, the folder with ``meta/`` and ``audio/``).

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
    if dataset != "fsdd":
        return _resolve_other(dataset, data)
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
    found, looked = _search_default_places(find_fsdd_recordings,
                                           lambda base: str(base / "fsdd" / "recordings"))
    if found is not None:
        return found
    raise DataError(
        f"{dataset} dataset not found (looked in {'; '.join(looked)}); "
        f"{hint}, set EDGEKIT_DATA to the folder that contains fsdd/recordings/, "
        "or pass the path explicitly"
    )
