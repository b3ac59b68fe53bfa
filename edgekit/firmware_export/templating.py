"""The Jinja2 environment that renders the generated C.

Every line of C that :func:`~edgekit.firmware_export.generate` and
:func:`~edgekit.firmware_export.write_c_array` write comes from a template
in ``templates/`` (package data): ``model.c.j2``, ``model.h.j2``, the op
parameter blocks of ``ops/params.c.j2``, the shared literals of ``c.j2``
and the ``model_data.*.j2`` of the C array.  Python passes values only
(numbers, names, shapes, lists of dicts).
"""

from __future__ import annotations

import functools

import jinja2


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The environment over ``edgekit/firmware_export/templates``.

    Returns
    -------
    jinja2.Environment
        Undefined names raise (``StrictUndefined``); block tags take their
        line with them (``trim_blocks``, ``lstrip_blocks``); a template's
        final newline is kept; nothing is escaped (the output is C).
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader("edgekit.firmware_export", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, autoescape=False)


def render(name: str, **context) -> str:
    """Render the template ``name`` (a path under ``templates/``) with ``context``.

    Parameters
    ----------
    name : str
        Template path, e.g. ``"model.c.j2"``.
    **context
        The template's variables.

    Returns
    -------
    str
        The rendered text.
    """
    return environment().get_template(name).render(**context)
