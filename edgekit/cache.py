"""The edgekit cache directory (datasets downloads, front-end libraries, compiled objects).

Standard library only, so every subpackage can use it without importing
another stage.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


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
