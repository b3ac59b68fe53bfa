"""Speaker-independent evaluation: leave one speaker out (``--eval loso``).

On FSDD's official split every zoo model scores 0.99-1.00, because every
test speaker was also heard in training.  :func:`loso` runs the same build
plan once per speaker with that speaker held out
(``dataset.holdout_speaker``), and reports the int8 (tflite_micro) test
accuracy of each speaker, their mean and the worst one.  Nothing here
chains stages: each run is :func:`edgekit.plan.run` of the recipe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgekit.errors import ConfigError

__all__ = ["EVAL_MODES", "LosoResult", "loso", "loso_speakers", "check_eval"]

#: ``--eval`` choices: the dataset's own split, or leave one speaker out.
EVAL_MODES = ("official", "loso")
#: What :func:`loso` deploys: no speaker's model, the first one's, or all.
DEPLOY_CHOICES = ("none", "first", "all")


def check_eval(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`EVAL_MODES`, else raise ConfigError naming it."""
    if mode not in EVAL_MODES:
        raise ConfigError(f"unknown evaluation {mode!r}; available: {', '.join(EVAL_MODES)}")
    return mode


@dataclass
class LosoResult:
    """The leave-one-speaker-out figures of one recipe.

    Attributes
    ----------
    out_dir : pathlib.Path
        Holds one build per speaker (``out_dir/SPEAKER``), ``loso.json`` and ``loso.md``.
    speakers : dict
        Held-out speaker -> int8 test accuracy (tflite_micro) on that speaker.
    mean, worst : float
        Mean and minimum over the speakers.
    worst_speaker : str
    reports : dict
        Held-out speaker -> that build's report (the dictionary of ``report.json``
        or ``train_report.json``).
    """

    out_dir: Path
    speakers: dict
    mean: float
    worst: float
    worst_speaker: str
    reports: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """The JSON form written to ``loso.json`` (without the per-build reports)."""
        return {"eval": "loso", "metric": "int8 test accuracy (tflite_micro) on the held-out "
                "speaker", "speakers": self.speakers, "mean": self.mean, "worst": self.worst,
                "worst_speaker": self.worst_speaker}


def loso_speakers(recipe: dict) -> tuple[str, ...]:
    """The speakers :func:`loso` holds out in turn (FSDD's six).

    Raises
    ------
    ConfigError
        For another dataset than FSDD, or a recipe that already holds a speaker out.
    """
    from edgekit.data import FSDD_SPEAKERS  # noqa: PLC0415

    name = recipe["dataset"].get("name", "fsdd")
    if name != "fsdd":
        raise ConfigError(f"--eval loso needs a dataset with speakers: fsdd (got {name})")
    held = recipe["dataset"].get("holdout_speaker")
    if held:
        raise ConfigError("--eval loso holds out each speaker in turn; it excludes "
                          f"holdout_speaker (got holdout_speaker = {held!r})")
    return tuple(FSDD_SPEAKERS)


def _markdown(res: LosoResult) -> str:
    lines = ["# Leave one speaker out", "",
             "int8 test accuracy (tflite_micro) of a model trained on the other five speakers.",
             "", "| held-out speaker | int8 accuracy |", "|---|---:|"]
    lines += [f"| {s} | {a:.4f} |" for s, a in res.speakers.items()]
    lines += ["", f"- mean: **{res.mean:.4f}**",
              f"- worst: **{res.worst:.4f}** ({res.worst_speaker})", ""]
    return "\n".join(lines)


def loso(recipe: dict, *, out, target: str = "cortex-m", data: str | None = None,
         deploy: str = "none", cases: int = 50, audio_clips: int = 20, progress=None,
         on_speaker: Callable[[str, float], None] | None = None,
         callbacks=()) -> LosoResult:
    """Build ``recipe`` once per held-out speaker and summarize the int8 accuracies.

    Parameters
    ----------
    recipe : dict
        A validated recipe (:func:`edgekit.plan.resolve_recipe`) on FSDD.
    out : path
        Output directory (replaced atomically at the end): ``SPEAKER/`` per
        run, ``loso.json``, ``loso.md``.
    target : str
        Cortex-M core of the deployed builds.
    data : str, optional
        Dataset location.
    deploy : {"none", "first", "all"}
        Which runs also generate, build and verify firmware (``edgekit build
        --eval loso`` deploys all; a sweep trial the first, for its figures;
        ``edgekit train`` none).
    cases, audio_clips : int
        As for :class:`edgekit.plan.BuildSpec`.
    progress : edgekit.log.Progress, optional
    on_speaker : callable, optional
        ``on_speaker(speaker, int8_accuracy)`` after each speaker.
    callbacks : sequence
        Keras callbacks for each run's training.

    Returns
    -------
    LosoResult

    Raises
    ------
    ConfigError
        See :func:`loso_speakers`; an unknown ``deploy``.
    """
    from edgekit import plan  # noqa: PLC0415
    from edgekit.log import Progress  # noqa: PLC0415
    from edgekit.outputs import atomic_dir  # noqa: PLC0415
    from edgekit.recipe import apply_overrides  # noqa: PLC0415

    if deploy not in DEPLOY_CHOICES:
        raise ConfigError(f"deploy must be one of {', '.join(DEPLOY_CHOICES)} (got {deploy!r})")
    speakers = loso_speakers(recipe)
    progress = progress or Progress()
    accs, reports = {}, {}
    with atomic_dir(out) as work:
        for i, spk in enumerate(speakers):
            r = apply_overrides(recipe, [{"dataset": {"holdout_speaker": spk}}])
            dep = deploy == "all" or (deploy == "first" and i == 0)
            spec = plan.BuildSpec(out=Path(work) / spk, target=target, recipe=r, data=data,
                                  cases=cases, audio_clips=audio_clips, deploy=dep)
            progress.info(f"leave one speaker out: {spk} ({i + 1}/{len(speakers)})")
            art = plan.run(spec, progress, callbacks=callbacks)
            accs[spk] = round(float(art.report.accuracy["int8"]), 4)
            reports[spk] = art.report.to_dict()
            progress.info(f"{spk}: int8 accuracy {accs[spk]:.4f}")
            if on_speaker is not None:
                on_speaker(spk, accs[spk])
        worst = min(accs, key=accs.get)
        res = LosoResult(out_dir=Path(out).resolve(), speakers=accs,
                         mean=round(sum(accs.values()) / len(accs), 4), worst=accs[worst],
                         worst_speaker=worst, reports=reports)
        (Path(work) / "loso.json").write_text(json.dumps(res.to_dict(), indent=1) + "\n")
        (Path(work) / "loso.md").write_text(_markdown(res))
    progress.info(f"leave one speaker out: mean {res.mean:.4f}, worst {res.worst:.4f} "
                  f"({res.worst_speaker})")
    return res
