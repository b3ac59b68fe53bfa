"""``edgekit build`` and ``edgekit train``: the library functions behind the commands.

Both turn their arguments into a :class:`edgekit.plan.BuildSpec` and run
its plan (:mod:`edgekit.plan`); nothing here chains stages.  Everything is
written into a temporary directory beside ``out`` and moved into place at
the end, so a failed build leaves no half-written output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import ConfigError
from edgekit.log import Progress

__all__ = ["BuildResult", "NUM_CHECK_CASES", "build", "train"]

#: Inputs checked bit-exact against tflite_micro by default.
NUM_CHECK_CASES = 50


@dataclass
class BuildResult:
    """Where a build was written and its report (the dictionary form of ``report.json``)."""

    out_dir: Path
    report: dict


def build(*, target: str = "cortex-m", data: str | None = None, out: str | Path = "build",
          model: str | Path | None = None, arch: str | None = None, cases: int = NUM_CHECK_CASES,
          holdout_speaker: str | None = None, progress: Progress | None = None,
          calib: str | Path | None = None, recipe: str | Path | dict | None = None,
          streaming: bool = False, dataset: str | None = None,
          dataset_options: dict | None = None, stream_form: str = "window",
          overrides=(), frontend: str | None = None, frames: int | None = None,
          audio_clips: int = 20, evaluation: str = "official",
          stateful: bool = False) -> BuildResult:
    """Build, verify and report a model for a Cortex-M target (``edgekit build``).

    Parameters
    ----------
    target : str
        Cortex-M target name (``cortex-m`` = ``cortex-m4``).
    data : str, optional
        Dataset location (else the recipe's path, ``$EDGEKIT_DATA``, the cache).
    out : path
        Output directory (replaced atomically when the build succeeds).
    model : path, optional
        An int8 ``.tflite`` to deploy instead of training, or an ``.onnx``
        model (converted first by :func:`edgekit.convert.convert_onnx`).
    arch : str, optional
        Zoo architecture to train with its built-in recipe (default: dscnn).
    cases : int
        Inputs checked for bit-exactness against tflite_micro (host and QEMU).
    holdout_speaker : str, optional
        Evaluate on this FSDD speaker, trained on the others (speaker-independent).
    calib : path, optional
        Calibration samples (.npy/.npz, ONNX layout) for an ``.onnx`` model.
    recipe : path or dict, optional
        A build recipe (TOML, see :mod:`edgekit.recipe`) instead of ``arch``'s
        built-in one: dataset, training, compression steps, quantization.
    streaming : bool
        Also build the per-frame streaming form of a recurrent model (``lmu``,
        ``lmuformer``, ``spiking_lmuformer``, ``lstm``) into ``out/stream``.
    stream_form : {"window", "recurrent"}
        Which streaming form (:mod:`edgekit.models.streaming`).
    dataset, dataset_options : optional
        Dataset name and loader options laid over the recipe's ``[dataset]``.
    overrides : iterable of str
        ``section.key=value`` laid over the recipe (``train.epochs=4``).
    frontend : str, optional
        With ``model``: put the audio front end ahead of it (``tflm-micro``,
        ``fsdd`` or a ``.json`` config) and check it from raw audio.
    frames : int, optional
        Frames per model input with ``frontend`` (default: the model's).
    audio_clips : int
        Raw-audio test clips run in QEMU when the firmware has the front end.
    progress : Progress, optional
        The progress printer (default: stderr).
    evaluation : {"official", "loso"}
        ``loso``: one build per held-out FSDD speaker into ``out/SPEAKER``
        and ``out/loso.json`` / ``loso.md`` with each speaker's int8
        accuracy, the mean and the worst (:func:`edgekit.evaluation.loso`);
        the result's report is ``loso.json``'s content.
    stateful : bool
        With ``model``: keep its LSTM state from one ``edgekit_invoke`` to
        the next until ``edgekit_reset()`` (tflite_micro's semantics; the
        check runs its inputs as one stream); default: every call starts
        from zero, as a Keras LSTM without ``stateful=True``.

    Returns
    -------
    BuildResult
    """
    from edgekit import plan  # noqa: PLC0415
    from edgekit.evaluation import check_eval  # noqa: PLC0415

    if check_eval(evaluation) == "loso":
        if model is not None:
            raise ConfigError("--eval loso trains a model per speaker; it excludes --model "
                                   f"(got --model {model})")
        from edgekit.evaluation import loso  # noqa: PLC0415

        rcp = plan.resolve_recipe(arch=arch, recipe=recipe, holdout_speaker=holdout_speaker,
                                  dataset=dataset, dataset_options=dataset_options,
                                  overrides=overrides)
        res = loso(rcp, out=out, target=target, data=data, deploy="all", cases=cases,
                   audio_clips=audio_clips, progress=progress)
        return BuildResult(out_dir=res.out_dir, report=res.to_dict())

    trains = model is None or bool(arch or recipe is not None or holdout_speaker or dataset
                                   or dataset_options or overrides)
    rcp = (plan.resolve_recipe(arch=arch, recipe=recipe, holdout_speaker=holdout_speaker,
                               dataset=dataset, dataset_options=dataset_options,
                               overrides=overrides)
           if trains else None)            # with a model too: BuildSpec refuses the mix
    spec = plan.BuildSpec(out=Path(out), target=target, recipe=rcp,
                          model=None if model is None else Path(model),
                          calib=None if calib is None else Path(calib), data=data, cases=cases,
                          streaming=streaming, stream_form=stream_form, frontend=frontend,
                          frames=frames, audio_clips=audio_clips, stateful=stateful)
    art = plan.run(spec, progress)
    return BuildResult(out_dir=Path(out).resolve(), report=art.report.to_dict())


def train(*, arch: str | None = None, data: str | None = None, out: str | Path = "model",
          holdout_speaker: str | None = None, max_params: int | None = None,
          max_flash: int | None = None, max_ram: int | None = None, target: str = "cortex-m",
          progress: Progress | None = None, dataset: str | None = None,
          dataset_options: dict | None = None, recipe: str | Path | dict | None = None,
          overrides=(), evaluation: str = "official") -> BuildResult:
    """Train a model and quantize it (``edgekit train``): the build plan without deployment.

    Writes ``model.keras``, ``features.json``, ``model.tflite`` and
    ``train_report.json`` to ``out`` (atomically).  With ``max_params`` /
    ``max_flash`` / ``max_ram`` the largest width of the architecture that
    fits is chosen first (:func:`edgekit.budget.sizing.pick_width`).  The
    other arguments are those of :func:`build` (``evaluation="loso"``: one
    training per held-out speaker, see :func:`edgekit.evaluation.loso`).
    """
    from edgekit import plan  # noqa: PLC0415
    from edgekit.evaluation import check_eval  # noqa: PLC0415

    if check_eval(evaluation) == "loso":
        if max_params is not None or max_flash is not None or max_ram is not None:
            raise ConfigError("--eval loso trains the recipe's model as it is; it excludes "
                                   "--max-params/--max-flash/--max-ram")
        from edgekit.evaluation import loso  # noqa: PLC0415

        rcp = plan.resolve_recipe(arch=arch, recipe=recipe, holdout_speaker=holdout_speaker,
                                  dataset=dataset, dataset_options=dataset_options,
                                  overrides=overrides)
        res = loso(rcp, out=out, target=target, data=data, deploy="none", progress=progress)
        return BuildResult(out_dir=res.out_dir, report=res.to_dict())

    budget = None
    if max_params is not None or max_flash is not None or max_ram is not None:
        from edgekit.emulator import get_target  # noqa: PLC0415

        budget = {"max_params": max_params, "max_flash": max_flash, "max_ram": max_ram,
                  "target": get_target(target).name}
    rcp = plan.resolve_recipe(arch=arch, recipe=recipe, holdout_speaker=holdout_speaker,
                              dataset=dataset, dataset_options=dataset_options,
                              overrides=overrides)
    spec = plan.BuildSpec(out=Path(out), target=target, recipe=rcp, data=data, budget=budget,
                          deploy=False)
    art = plan.run(spec, progress)
    parts = art.report.to_dict()
    parts.pop("edgekit", None)
    return BuildResult(out_dir=Path(out).resolve(), report=parts)
