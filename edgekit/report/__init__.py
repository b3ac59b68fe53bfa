"""Build reports: typed report objects (:mod:`edgekit.report.types`), ``report.md``
(:mod:`edgekit.report.markdown`) and the writer of a build's report files."""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.report.markdown import render_markdown
from edgekit.report.types import (METADATA_SCHEMA_VERSION, BuildReport, EmulatorInfo,
                                  MemoryInfo, Metadata, TargetInfo, TensorInfo)

__all__ = ["BuildReport", "EmulatorInfo", "MemoryInfo", "Metadata", "TargetInfo", "TensorInfo",
           "METADATA_SCHEMA_VERSION", "render_markdown", "write_report"]


def write_report(report: BuildReport, out_dir, metadata: Metadata | None = None) -> dict:
    """Write ``report.json``, ``report.md`` and (when given) ``metadata.json`` into ``out_dir``.

    Returns the report's dictionary form.
    """
    out_dir = Path(out_dir)
    data = report.to_dict()
    (out_dir / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    (out_dir / "report.md").write_text(render_markdown(data))
    if metadata is not None:
        (out_dir / "metadata.json").write_text(json.dumps(metadata.to_dict(), indent=2) + "\n")
    return data
