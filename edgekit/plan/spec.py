"""What a build is asked to do (:class:`BuildSpec`) and the plan that does it (:func:`make_plan`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import ConfigError
from edgekit.plan.core import Plan

__all__ = ["BuildSpec", "make_plan", "resolve_recipe"]


@dataclass
class BuildSpec:
    """A checked build request.

    Attributes
    ----------
    out : pathlib.Path
        Output directory (replaced atomically at the end).
    target : str
        Cortex-M target name.
    recipe : dict or None
        The recipe to train (:mod:`edgekit.recipe`); None to deploy ``model``.
    model : pathlib.Path or None
        An int8 ``.tflite`` or an ``.onnx`` model to deploy.
    calib : pathlib.Path or None
        Calibration samples of an ONNX model.
    data : str or None
        Dataset location (else the recipe's path, ``$EDGEKIT_DATA``, the cache).
    cases : int
        Inputs checked bit-exact against tflite_micro.
    streaming : bool
        Also build the streaming form (recurrent zoo architectures).
    stream_form : str
        ``"window"`` or ``"recurrent"``.
    budget : dict or None
        ``max_params`` / ``max_flash`` / ``max_ram`` / ``target``: pick the
        widest model within them first (``edgekit train``).
    deploy : bool
        Generate, build and verify firmware (``build``); False stops after
        quantization and saves the model (``train``).
    frontend : str or None
        With ``model``: the audio front end to put ahead of it
        (``tflm-micro``, ``fsdd`` or a ``.json`` config; see
        :func:`edgekit.firmware_export.audio.frontend_features`).
    frames : int or None
        Frames per model input with ``frontend`` (default: the model's).
    audio_clips : int
        Clips of raw audio run in QEMU by the ``audio`` stage (all of them
        on the host build).
    stateful : bool
        With ``model``: its LSTM state (variable tensors) is kept from one
        ``edgekit_invoke`` to the next until ``edgekit_reset()``, as in
        tflite_micro (``lstm_state="keep"`` of
        :func:`edgekit.firmware_export.generate`); default: every call
        starts from zero.
    """

    out: Path
    target: str = "cortex-m"
    recipe: dict | None = None
    model: Path | None = None
    calib: Path | None = None
    data: str | None = None
    cases: int = 50
    streaming: bool = False
    stream_form: str = "window"
    budget: dict | None = None
    deploy: bool = True
    frontend: str | None = None
    frames: int | None = None
    audio_clips: int = 20
    stateful: bool = False

    @property
    def lstm_state(self) -> str:
        """``"keep"`` (``stateful``) or ``"reset"``: see :func:`edgekit.firmware_export.generate`."""
        return "keep" if self.stateful else "reset"

    @property
    def audio(self) -> bool:
        """Whether the firmware gets the front end (``edgekit_push_audio``) and the audio stage."""
        if self.frontend is not None:
            return True
        if self.recipe is None:
            return False
        return (self.recipe.get("features") or {}).get("kind", "frontend") == "frontend"

    @property
    def onnx(self) -> bool:
        """Whether ``model`` is an ONNX model."""
        return self.model is not None and str(self.model).lower().endswith(".onnx")


def resolve_recipe(*, arch: str | None = None, recipe=None, holdout_speaker: str | None = None,
                   dataset: str | None = None, dataset_options: dict | None = None,
                   overrides=()) -> dict:
    """The recipe a training build runs: ``recipe`` (a file or dict) or ``arch``'s built-in one.

    ``--arch A`` is the built-in recipe of ``A`` (:func:`edgekit.recipe.builtin_recipe`);
    ``holdout_speaker``, ``dataset``, ``dataset_options`` and ``overrides``
    (``section.key=value``) are laid over either.

    Raises
    ------
    ConfigError
        For a recipe and an architecture given together, or a bad override.
    """
    from edgekit.models.registry import DEFAULT_RECIPE  # noqa: PLC0415
    from edgekit.recipe import apply_overrides, builtin_recipe, load_recipe  # noqa: PLC0415

    if recipe is not None and arch:
        raise ConfigError("--recipe names the architecture; it excludes --arch (use --set "
                          f"model.arch=NAME to change it; got --arch {arch})")
    r = load_recipe(recipe) if recipe is not None else builtin_recipe(arch or DEFAULT_RECIPE["arch"])
    extra: dict = {}
    if dataset:
        if dataset != r["dataset"]["name"]:      # another dataset: the recipe's options go
            r["dataset"] = {"name": dataset}
        extra["name"] = dataset
    extra.update(dataset_options or {})
    if holdout_speaker:
        extra["holdout_speaker"] = holdout_speaker
    items = ([{"dataset": extra}] if extra else []) + list(overrides)
    return apply_overrides(r, items) if items else r


def check_spec(spec: BuildSpec) -> None:
    """Reject combinations that make no sense, before anything runs."""
    if spec.cases < 1:
        raise ConfigError(f"cases must be >= 1 (got {spec.cases})")
    if spec.onnx != (spec.calib is not None):
        raise ConfigError("--calib is needed with an .onnx --model" if spec.onnx else
                          "--calib goes with an .onnx --model")
    if spec.frontend is not None and (spec.model is None or spec.recipe is not None):
        raise ConfigError("--frontend goes with --model (a trained model's front end comes from "
                          f"its features; got --frontend {spec.frontend} without --model)")
    if spec.frames is not None and spec.frontend is None:
        raise ConfigError(f"--frames goes with --frontend (got --frames {spec.frames})")
    if spec.audio_clips < 0:
        raise ConfigError(f"audio clips must be >= 0 (got {spec.audio_clips})")
    if spec.model is not None and spec.recipe is not None:
        raise ConfigError("--model deploys a given model; --arch, --recipe, --set, "
                          "--holdout-speaker and --dataset/--data-option need training")
    if spec.stateful and (spec.model is None or spec.frontend is not None):
        raise ConfigError("--stateful goes with --model (a .tflite or .onnx with an LSTM), "
                          "without --frontend (got "
                          + (f"--frontend {spec.frontend})" if spec.model is not None
                             else "no --model)"))
    if spec.streaming:
        from edgekit.models.registry import RECURRENT  # noqa: PLC0415
        from edgekit.models.streaming import FORMS  # noqa: PLC0415

        if spec.stream_form not in FORMS:
            raise ConfigError(f"unknown streaming form {spec.stream_form!r}; available: "
                              f"{', '.join(FORMS)}")
        arch = spec.recipe["model"]["arch"] if spec.recipe is not None else None
        if arch not in (*RECURRENT, "lstm"):
            raise ConfigError("--streaming needs --arch " + "|".join(sorted((*RECURRENT, "lstm")))
                              + " or a recipe of one"
                              + (f" (got {arch})" if arch else " (not --model)"))
        if arch == "lstm" and spec.stream_form != "window":
            raise ConfigError("the lstm streams in one form, its window model's (LSTM state "
                              f"kept between calls): --stream-form window (got {spec.stream_form})")
    if spec.recipe is not None and spec.deploy:
        from edgekit.emulator import get_target  # noqa: PLC0415

        if spec.recipe["quantize"].get("activations", "int8") != "int8":
            raise ConfigError("edgekit build deploys int8 models; 16x8 (activations = 'int16') "
                              "is available from `edgekit quantize`")

        named = spec.recipe["target"].get("name")
        if named and get_target(named).name != get_target(spec.target).name:
            raise ConfigError(f"the recipe targets {named} but --target is {spec.target}")


def make_plan(spec: BuildSpec) -> Plan:
    """The stages of a build, in order (see :mod:`edgekit.plan`)."""
    from edgekit.plan import deploy_stages as d  # noqa: PLC0415
    from edgekit.plan import train_stages as t  # noqa: PLC0415

    check_spec(spec)
    stages = []
    if spec.recipe is not None:
        stages.append(t.data_stage)
        if spec.budget:
            stages.append(t.size_stage)
        stages.append(t.train_stage)
        stages += [t.step_stage(i, s) for i, s in enumerate(spec.recipe["steps"], start=1)]
        stages.append(t.quantize_stage)
    else:
        stages.append(d.convert_stage if spec.onnx else d.model_stage)
    if not spec.deploy:
        return Plan(stages + [d.save_stage])
    stages += [d.export_stage, d.verify_host_stage, d.firmware_stage]
    if spec.audio:
        stages.append(d.audio_stage)
    if spec.streaming:
        stages.append(d.stream_stage)
    return Plan(stages + [d.report_stage])
