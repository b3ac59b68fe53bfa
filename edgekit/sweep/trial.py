"""One trial of a sweep: a function of a configuration, as a Ray Tune trial is.

A trial is the build plan run with a recipe (:func:`edgekit.plan.run`, or
:func:`edgekit.evaluation.loso` for ``eval = "loso"``); nothing here chains
stages.  :func:`estimate` is the check before training: the budget of the
untrained model (random weights and calibration: sizes do not depend on
the weights) on the target.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from edgekit.errors import ConfigError

__all__ = ["estimate", "run_trial", "trainable", "figures", "EPOCH_METRIC"]

#: What a trial reports to Ray Tune after every epoch (ASHA's metric).
EPOCH_METRIC = "epoch_accuracy"
#: Classes of the estimated model when the dataset's count is not known without loading it.
_NUM_CLASSES = {"fsdd": 10, "esc50": 50}


def estimate(recipe: dict, target: str, headroom: float, cache: dict | None = None) -> dict:
    """The budget estimate of ``recipe``'s model on ``target``, before any training.

    The untrained model of the recipe's architecture and hyper-parameters
    (on the recipe's features) is quantized with random calibration data,
    compiled and run once in QEMU (:func:`edgekit.budget.budget`).

    Returns
    -------
    dict
        ``fits``, ``flash_bytes``, ``ram_bytes`` (static + stack),
        ``params``, ``overflows`` (one line each), ``pruned`` (the recipe
        prunes: the estimate is of the model before pruning, an upper bound).

    Raises
    ------
    ConfigError
        Bad hyper-parameters of the architecture (named by the message).
    """
    from edgekit.budget import budget  # noqa: PLC0415
    from edgekit.frontend.features import make_features  # noqa: PLC0415
    from edgekit.log import Progress  # noqa: PLC0415
    from edgekit.models.registry import build_model  # noqa: PLC0415
    from edgekit.recipe import train_config  # noqa: PLC0415

    cfg = train_config(recipe)
    name = recipe["dataset"]["name"]
    key = repr((cfg["arch"], sorted(cfg["hparams"].items()), name,
                sorted(recipe["features"].items()), target, headroom))
    if cache is not None and key in cache:
        return cache[key]
    try:
        shape = make_features(name, recipe["features"]).shape
    except ConfigError as exc:
        raise ConfigError(f"bad [features]: {exc}") from None
    if name == "speech_commands":
        words = recipe["dataset"].get("words", "kws12")
        classes = 12 if words == "kws12" else len(words) + 2
    else:
        classes = _NUM_CLASSES.get(name, 10)
    model = build_model(cfg["arch"], shape, classes, seed=cfg["seed"], **cfg["hparams"])
    with tempfile.TemporaryDirectory(prefix="edgekit-estimate-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        rep = budget(path, target=target, headroom=headroom, progress=Progress(quiet=True))
    d = rep.data
    out = {"fits": bool(d["fits"]), "flash_bytes": int(d["flash"]["total_bytes"]),
           "ram_bytes": int(d["ram"]["total_bytes"]), "params": int(d["totals"]["params"]),
           "overflows": list(d["overflows"]),
           "pruned": any(s["kind"] == "prune" for s in recipe["steps"])}
    if cache is not None:
        cache[key] = out
    return out


def figures(report: dict) -> dict:
    """The measured figures of one deployed build's report (``report.json``'s dictionary).

    ``ram_bytes`` is the model's working RAM: arena + state + stack (QEMU's
    measured stack); ``static_ram_bytes`` the firmware's .data + .bss.
    """
    mem, emu = report["memory"], report["emulator"]
    cyc = emu.get("cycles_estimate") or {}
    return {"int8_accuracy": float(report["accuracy"]["int8"]),
            "float_accuracy": float(report["accuracy"]["float"]),
            "flash_bytes": int(mem["flash_bytes"]),
            "ram_bytes": int(mem["arena_bytes"]) + int(mem.get("state_bytes") or 0)
            + int(mem["stack_bytes"]),
            "static_ram_bytes": int(mem["ram_bytes"]),
            "stack_bytes": int(mem["stack_bytes"]),
            "instructions": int(emu["instructions"]),
            "cycles_estimate": int(cyc["cycles"]) if cyc else None,
            "params": int(report["model"]["params"]),
            "bit_exact": bool(emu["bit_exact"])}


def _epoch_callback(report: Callable[[dict], None]):
    import keras  # noqa: PLC0415

    class EpochReport(keras.callbacks.Callback):
        """Report each epoch's validation accuracy (training accuracy without validation)."""

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            acc = logs.get("val_accuracy", logs.get("accuracy"))
            report({EPOCH_METRIC: float(acc), "epoch": epoch + 1,
                    "epoch_metric_source": "val_accuracy" if "val_accuracy" in logs
                    else "accuracy"})

    return EpochReport()


def run_trial(config: dict, report: Callable[[dict], None] | None = None) -> dict:
    """Run one trial: the build plan of ``config["recipe"]``; returns its figures.

    Parameters
    ----------
    config : dict
        ``recipe`` (a validated recipe), ``out`` (the trial's build directory),
        ``target`` (core), ``data``, ``eval`` (``official`` or ``loso``),
        ``cases``, ``audio_clips``.
    report : callable, optional
        ``report(metrics)``: called after every epoch with
        :data:`EPOCH_METRIC` (official) or after every held-out speaker with
        the running mean (loso), and once at the end with the figures.

    Returns
    -------
    dict
        :func:`figures` of the deployed build, plus ``loso_mean``,
        ``loso_worst``, ``loso_worst_speaker`` and ``loso`` (per speaker) with loso.
    """
    from edgekit import plan  # noqa: PLC0415
    from edgekit.log import Progress  # noqa: PLC0415

    report = report or (lambda m: None)
    progress = Progress(quiet=True)
    common = {"target": config["target"], "data": config.get("data"),
              "cases": int(config.get("cases", 10)),
              "audio_clips": int(config.get("audio_clips", 2))}
    if config.get("eval", "official") == "loso":
        from edgekit.evaluation import loso  # noqa: PLC0415

        done: list = []

        def on_speaker(spk, acc):
            done.append(acc)
            report({EPOCH_METRIC: sum(done) / len(done), "speaker": spk,
                    "epoch_metric_source": "running loso mean"})

        res = loso(config["recipe"], out=config["out"], deploy="first", progress=progress,
                   on_speaker=on_speaker, **common)
        out = figures(next(iter(res.reports.values())))
        out.update(loso_mean=res.mean, loso_worst=res.worst,
                   loso_worst_speaker=res.worst_speaker, loso=res.speakers)
        out[EPOCH_METRIC] = res.mean
    else:
        spec = plan.BuildSpec(out=Path(config["out"]), recipe=config["recipe"], **common)
        art = plan.run(spec, progress, callbacks=[_epoch_callback(report)])
        out = figures(art.report.to_dict())
        out[EPOCH_METRIC] = out["int8_accuracy"]
    out["measured"] = True
    report(dict(out))
    return out


def trainable(config: dict) -> None:
    """The Ray Tune function trainable: :func:`run_trial` reporting through ``ray.tune.report``."""
    from ray import tune  # noqa: PLC0415

    from edgekit.quiet import quiet_startup  # noqa: PLC0415
    from edgekit.startup import configure_tensorflow  # noqa: PLC0415

    configure_tensorflow()
    quiet_startup()
    run_trial(config["trial"], report=tune.report)
