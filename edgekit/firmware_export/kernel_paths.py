"""The paths of the optimized kernels that a model's layers take.

An optimized kernel (``kernels/optimized/ek_conv.c`` and the like) has
several paths -- im2col with six or two pixels, run-based loops, assembly
rows -- and picks one per call from the layer's shape.  The code generator
knows every shape, so it evaluates the same choice per layer here and
writes ``ek_paths.h`` (``templates/ek_paths.h.j2``) listing, per path,
whether a layer takes it; the kernels compile only those paths
(``EKOPT_USE``), so a model's firmware carries no path it does not run.
A path is listed for cores with the DSP extension and for cores without
where the two differ (``_DSP`` / ``_C`` suffixes).
"""

from __future__ import annotations

from edgekit.firmware_export.ops import add, conv, depthwise_conv, fully_connected

__all__ = ["KERNEL_PATHS", "kernel_paths"]

#: Kernel function -> (its path macros, ``Lowered -> frozenset`` of those taken).
KERNEL_PATHS = {
    "ek_conv2d_s8": (conv.CONV_PATHS, conv.conv_paths),
    "ek_depthwise_conv2d_s8": (depthwise_conv.DEPTHWISE_PATHS, depthwise_conv.depthwise_paths),
    "ek_fully_connected_s8": (fully_connected.FC_PATHS, fully_connected.fc_paths),
    "ek_add_s8": (add.ADD_PATHS, add.add_paths),
}


def kernel_paths(lowered: list) -> list[dict]:
    """Every path macro of the optimized kernels and whether a layer takes it.

    Parameters
    ----------
    lowered : list of Lowered
        The model's lowered ops, with their final ``params`` (after
        :func:`edgekit.firmware_export.codegen.fit_scratch`, which sets the
        convolutions' scratch sizes).

    Returns
    -------
    list of dict
        ``dict(name=macro, used=bool, kernel=function)`` for every macro of
        :data:`KERNEL_PATHS`, in a fixed order (the context of
        ``ek_paths.h.j2``).
    """
    used: set[str] = set()
    # The FC layers without bias take the asm unit loop in every layer or none
    # (ek_fully_connected_s8 reads EKOPT_FC_UNITS_NOBIAS).
    nobias = any(low.kernel == "ek_fully_connected_s8" and fully_connected.nobias_candidate(low)
                 for low in lowered)
    for low in lowered:
        entry = KERNEL_PATHS.get(low.kernel)
        if low.kernel == "ek_fully_connected_s8":
            used |= fully_connected.fc_paths(low, nobias)
        elif entry is not None:
            used |= entry[1](low)
    return [dict(name=name, used=name in used, kernel=kernel)
            for kernel, (names, _) in KERNEL_PATHS.items() for name in names]
