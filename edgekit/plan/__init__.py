"""The build plan: every entry point of edgekit is one ordered list of stages.

:func:`make_plan` turns a :class:`BuildSpec` into a :class:`Plan`; which
stages it has depends on what was asked, never on which command asked:

====================  ===========================================================
training (recipe)     data, [size], train, [one stage per compression step], quantize
given model           model (.tflite) or model (ONNX: check, onnx2tf, quantize, verify)
``build``             + export, verify-host, firmware, [stream], report
``train``             + save
====================  ===========================================================

``--arch A`` is A's built-in recipe (:func:`edgekit.recipe.builtin_recipe`)
plus overrides, so ``--arch`` and ``--recipe`` of the same recipe run the
very same stages and give the same ``model.tflite``.  :func:`run` executes a
plan into a temporary directory and moves it into place when every stage
succeeded (:func:`edgekit.outputs.atomic_dir`).
"""

from __future__ import annotations

from edgekit.plan.core import Artifacts, Plan, Stage
from edgekit.plan.spec import BuildSpec, make_plan, resolve_recipe

__all__ = ["Artifacts", "BuildSpec", "Plan", "Stage", "make_plan", "resolve_recipe", "run"]


def run(spec: BuildSpec, progress=None, callbacks=()) -> Artifacts:
    """Check the toolchain, run the plan of ``spec`` and move its output into ``spec.out``.

    ``callbacks`` are Keras callbacks for the train stage's ``Model.fit``.

    Returns the artifacts (``artifacts.report`` is the
    :class:`edgekit.report.BuildReport`; its ``work`` directory is gone,
    moved to ``spec.out``).
    """
    import edgekit  # noqa: PLC0415
    from edgekit.log import Progress  # noqa: PLC0415
    from edgekit.outputs import atomic_dir  # noqa: PLC0415
    from edgekit.report import BuildReport  # noqa: PLC0415

    progress = progress or Progress()
    plan = make_plan(spec)
    target = None
    if spec.deploy:
        from edgekit.emulator import check_toolchain, get_target  # noqa: PLC0415

        target = get_target(spec.target)
        check_toolchain()                    # fail before any training
        check_toolchain(host=True)
    report = BuildReport(edgekit=edgekit.__version__)
    if spec.recipe is not None:
        r = spec.recipe
        report.recipe = {"name": r.get("name"), "path": r["_path"],
                         "steps": [s["kind"] for s in r["steps"]]}
    with atomic_dir(spec.out) as work:
        from edgekit.recipe import train_config  # noqa: PLC0415

        art = Artifacts(work=work, spec=spec, progress=progress, report=report, target=target,
                        train_cfg=train_config(spec.recipe) if spec.recipe is not None else None,
                        callbacks=list(callbacks))
        plan.run(art)
    art.work = spec.out
    return art
