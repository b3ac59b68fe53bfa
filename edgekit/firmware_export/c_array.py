"""Write a .tflite file as a C array with a header describing its I/O."""

from __future__ import annotations

import re
from pathlib import Path

from edgekit import __version__
from edgekit.firmware_export.graph import Graph
from edgekit.firmware_export.templating import render


def write_c_array(tflite: bytes, graph: Graph, out_dir: str | Path,
                  symbol: str = "edgekit_model_tflite", source: str = "model.tflite") -> list[Path]:
    """Write ``<symbol>.h``/``.c``: the model bytes (const, 16-byte aligned,
    with a length symbol) and its input/output shapes and quantization.

    Parameters
    ----------
    tflite : bytes
        The .tflite file.
    graph : Graph
        Its graph (for the input and output tensors).
    out_dir : str or pathlib.Path
        Directory to write to (created if needed).
    symbol : str, optional
        C identifier of the array; also names the files and the macros.
    source : str, optional
        Name of the model file, recorded in the generated comments.

    Returns
    -------
    list of pathlib.Path
        The header and the source written (templates ``model_data.h.j2``
        and ``model_data.c.j2``).

    Raises
    ------
    ValueError
        If ``symbol`` is not a C identifier.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", symbol):
        raise ValueError(f"symbol must be a C identifier (got {symbol!r})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = graph.tensors[graph.inputs[0]]
    y = graph.tensors[graph.outputs[0]]
    context = dict(
        version=__version__, source=Path(source).name, symbol=symbol, data=bytes(tflite),
        input_shape=[int(d) for d in x.shape], input_dtype=x.dtype, input_scale=x.s,
        input_zp=x.zp,
        output_shape=[int(d) for d in y.shape], output_dtype=y.dtype, output_scale=y.s,
        output_zp=y.zp)
    paths = []
    for name, ext in (("model_data.h.j2", ".h"), ("model_data.c.j2", ".c")):
        p = out_dir / f"{symbol}{ext}"
        p.write_text(render(name, **context))
        paths.append(p)
    return paths
