"""The one Jinja2 set-up for C text: every generated C file, makefile and linker script.

Each stage that writes C keeps its templates as its own package data
(``firmware_export/templates``, ``emulator/firmware``,
``frontend/templates``) and renders them through :func:`c_environment`, so
they all follow the same rules.
"""

from __future__ import annotations

import functools

import jinja2

__all__ = ["c_environment"]


@functools.lru_cache(maxsize=None)
def c_environment(package: str, folder: str = "templates") -> jinja2.Environment:
    """The environment over the templates in ``folder`` of ``package``.

    Parameters
    ----------
    package : str
        The package holding the templates, e.g. ``"edgekit.frontend"``.
    folder : str
        Their folder inside it.

    Returns
    -------
    jinja2.Environment
        Undefined names raise (``StrictUndefined``); block tags take their
        line with them (``trim_blocks``, ``lstrip_blocks``); a template's
        final newline is kept; nothing is escaped (the output is C).
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, autoescape=False)
