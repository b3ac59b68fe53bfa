"""A build is a plan: an ordered list of stages over typed artifacts.

Every entry point of edgekit (``build --arch``, ``--recipe``, ``--model``,
an ONNX model, ``--streaming``, ``train``) is the same :class:`Plan` with
stages present or absent (:func:`edgekit.plan.make_plan`).  A stage reads
the artifacts earlier stages left in the :class:`Artifacts` and adds its
own; none calls another.  :meth:`Plan.run` prints one progress line per
stage, so the progress total is the number of stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.log import Progress

__all__ = ["Artifacts", "Plan", "Stage"]


@dataclass
class Artifacts:
    """What the stages of one build hand to each other.

    Attributes
    ----------
    work : pathlib.Path
        The build's temporary output directory (moved into place at the end).
    spec : BuildSpec
        What was asked for (:class:`edgekit.plan.spec.BuildSpec`).
    progress : Progress
        The one progress object.
    dataset, data_root
        The loaded :class:`edgekit.data.Dataset` and where it was found.
    train_cfg : dict
        The recipe's training settings (:func:`edgekit.recipe.train_config`).
    model
        The current Keras model (trained, then each compression step's).
    teacher
        The trained model before compression (a distillation teacher).
    steps : list of dict
        One measurement row per model-changing stage (recipes with steps).
    tflite : bytes
        The int8 model.
    real_inputs : numpy.ndarray or None
        Real int8 test inputs (quantized test split, or ONNX calibration).
    graph, export
        The graph read from ``tflite`` and :func:`edgekit.firmware_export.generate`'s result.
    host, qemu
        The verification results (:mod:`edgekit.verify`).
    report : edgekit.report.BuildReport
        The report being filled.
    audio_clips : tuple or None
        ``(clips, labels, source)`` of the raw-audio checks, read once for
        the window firmware and the streaming one.
    callbacks : list
        Keras callbacks the train stage passes to ``Model.fit`` (a sweep
        trial's per-epoch report to Ray Tune).
    """

    work: Path
    spec: Any
    progress: Progress
    report: Any
    target: Any = None
    dataset: Any = None
    data_root: Path | None = None
    train_cfg: dict | None = None
    model: Any = None
    teacher: Any = None
    steps: list = field(default_factory=list)
    tflite: bytes | None = None
    real_inputs: np.ndarray | None = None
    inputs: np.ndarray | None = None
    graph: Any = None
    export: Any = None
    host: Any = None
    qemu: Any = None
    tflm_arena: dict | None = None
    audio_clips: tuple | None = None
    callbacks: list = field(default_factory=list)


@dataclass
class Stage:
    """One stage of a plan.

    Attributes
    ----------
    name : str
        Short name shown in the progress line (``train``, ``quantize``, ...).
    run : callable
        ``run(artifacts)``; reads and adds artifacts.
    message : callable
        ``message(artifacts) -> str``, the progress line's text, computed
        when the stage starts.
    substages : int
        Progress lines the stage prints itself (an ONNX conversion does).
    """

    name: str
    run: Callable[[Artifacts], None]
    message: Callable[[Artifacts], str] = lambda a: ""
    substages: int = 0


@dataclass
class Plan:
    """An ordered list of stages (see module docs)."""

    stages: list[Stage]

    @property
    def names(self) -> list[str]:
        """The stage names, in order."""
        return [s.name for s in self.stages]

    @property
    def total(self) -> int:
        """Progress lines the plan prints: one per stage and its own sub-stages."""
        return sum(1 + s.substages for s in self.stages)

    def run(self, art: Artifacts) -> Artifacts:
        """Run every stage in order on ``art``; returns it."""
        art.progress.begin(self.total)
        for stage in self.stages:
            art.progress.stage(stage.name, stage.message(art))
            stage.run(art)
        return art
