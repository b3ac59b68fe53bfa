"""The Jinja2 environment that renders the generated C.

Every line of C that :func:`~edgekit.firmware_export.generate` and
:func:`~edgekit.firmware_export.write_c_array` write comes from a template
in ``templates/`` (package data): ``model.c.j2``, ``model.h.j2``, the op
parameter blocks of ``ops/params.c.j2``, the shared literals of ``c.j2``
and the ``model_data.*.j2`` of the C array.  Python passes values only
(numbers, names, shapes, lists of dicts).
"""

from __future__ import annotations

import jinja2

from edgekit.c_templates import c_environment


def environment() -> jinja2.Environment:
    """The environment over ``edgekit/firmware_export/templates`` (:func:`edgekit.c_templates.c_environment`).

    Returns
    -------
    jinja2.Environment
    """
    return c_environment("edgekit.firmware_export")


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
