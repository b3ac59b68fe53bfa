"""Write a .tflite file as a C array with a header describing its I/O."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from edgekit import __version__
from edgekit.firmware_export.graph import Graph


def _hex_lines(data: bytes, per_line: int = 16) -> str:
    rows = []
    for i in range(0, len(data), per_line):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) + ",")
    return "\n".join(rows)


def write_c_array(tflite: bytes, graph: Graph, out_dir: str | Path,
                  symbol: str = "edgekit_model_tflite", source: str = "model.tflite") -> list[Path]:
    """Write ``<symbol>.h``/``.c``: the model bytes (const, 16-byte aligned,
    with a length symbol) and its input/output shapes and quantization."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", symbol):
        raise ValueError(f"symbol must be a C identifier (got {symbol!r})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = graph.tensors[graph.inputs[0]]
    y = graph.tensors[graph.outputs[0]]
    subs = dict(
        version=__version__, source=Path(source).name, symbol=symbol, upper=symbol.upper(),
        guard=symbol.upper() + "_H", header=f"{symbol}.h", length=len(tflite),
        data=_hex_lines(tflite),
        input_shape=list(x.shape), input_dtype=x.dtype, input_scale=repr(x.s), input_zp=x.zp,
        input_rank=len(x.shape), input_rank_c=max(len(x.shape), 1),
        input_shape_c=", ".join(str(d) for d in x.shape) or "0",
        output_shape=list(y.shape), output_dtype=y.dtype, output_scale=repr(y.s),
        output_zp=y.zp, output_rank=len(y.shape), output_rank_c=max(len(y.shape), 1),
        output_shape_c=", ".join(str(d) for d in y.shape) or "0")
    tmpl = resources.files("edgekit.firmware_export").joinpath("templates")
    paths = []
    for name, ext in (("model_data.h.tmpl", ".h"), ("model_data.c.tmpl", ".c")):
        p = out_dir / f"{symbol}{ext}"
        p.write_text(Template(tmpl.joinpath(name).read_text()).substitute(subs))
        paths.append(p)
    return paths
