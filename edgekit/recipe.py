"""Build recipes: a small TOML file naming what ``edgekit build`` should make.

A recipe names the dataset, the features, the architecture and its
training, the compression steps and the quantization::

    name = "fsdd-prune-distill"

    [dataset]
    name = "fsdd"                 # or "speech_commands", "esc50"
    # holdout_speaker = "jackson" # fsdd
    # path = "../data/speech_commands_v0.02"   # relative to this file; --data wins
    # words = "kws12"             # speech_commands: or ["yes", "no"]; silence_fraction,
    #                             #   unknown_fraction, resample, seed
    # test_fold = 5               # esc50: val_fold, esc10 = true, resample
    # limit_per_class = 20        # any dataset

    [features]                    # optional FeatureConfig overrides
    # n_mels = 40

    [model]
    arch = "dscnn"
    hparams = { width = 64, num_blocks = 4, dropout = 0.2 }

    [train]                       # defaults: the architecture's registry recipe
    epochs = 16
    seed = 0

    [[steps]]                     # run in order on the current model
    kind = "prune"                # structured channel pruning
    ratio = 0.5                   # or max_params = 12000
    steps = 3
    finetune_epochs = 2

    [[steps]]
    kind = "distill"
    teacher = "trained"           # the model of [train]; or a .keras path
    epochs = 8

    [quantize]
    num_samples = 300
    sampling = "random"

    [target]
    name = "cortex-m"

:func:`load_recipe` parses and validates (unknown keys are errors);
:func:`run_recipe` trains, runs the steps, quantizes and measures every
step (params, MACs, int8 weight flash bytes, float and int8 accuracy).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tomllib
from pathlib import Path

from edgekit.errors import ConfigError

__all__ = ["load_recipe", "run_recipe", "STEP_KINDS"]

STEP_KINDS = ("prune", "prune_unstructured", "distill")

_TOP = {"name", "description", "dataset", "features", "model", "train", "steps", "quantize",
        "target"}
_KEYS = {
    "dataset": {"name", "path", "holdout_speaker", "limit_per_class", "words",
                "silence_fraction", "unknown_fraction", "resample", "seed", "test_fold",
                "val_fold", "esc10"},
    "model": {"arch", "hparams"},
    "train": {"epochs", "batch_size", "learning_rate", "seed", "augment", "warmup_epochs"},
    "quantize": {"activations", "num_samples", "sampling", "seed", "sqnr_threshold_db",
                 "sqnr_samples"},
    "target": {"name"},
    "prune": {"kind", "ratio", "max_params", "criterion", "steps", "finetune_epochs",
              "final_epochs", "learning_rate", "batch_size", "seed"},
    "prune_unstructured": {"kind", "sparsity", "steps", "finetune_epochs", "learning_rate",
                           "batch_size", "seed"},
    "distill": {"kind", "teacher", "student", "epochs", "temperature", "alpha",
                "learning_rate", "batch_size", "seed", "baseline"},
}


def _check_keys(where: str, table, allowed: set) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"recipe: [{where}] must be a table")
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"recipe: unknown key(s) {', '.join(extra)} in [{where}]; "
                          f"allowed: {', '.join(sorted(allowed))}")


def load_recipe(path) -> dict:
    """Read and validate a recipe TOML file (or a dict); returns a plain dict (see module docs)."""
    if isinstance(path, dict):
        r, p = copy.deepcopy(path), "<dict>"
        r.pop("_path", None)
    else:
        p = Path(os.fspath(path))
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read recipe {p}: {exc.strerror or exc}") from None
        try:
            r = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"recipe {p} is not valid TOML: {exc}") from None
    _check_keys("recipe", r, _TOP)
    for key in ("dataset", "model", "train", "quantize", "target"):
        _check_keys(key, r.setdefault(key, {}), _KEYS[key])
    if not isinstance(r.setdefault("features", {}), dict):
        raise ConfigError("recipe: [features] must be a table")
    from edgekit.data.datasets import check_dataset

    dset = r["dataset"]
    dset.setdefault("name", "fsdd")
    try:
        check_dataset(dset["name"], _dataset_options(r))
    except ConfigError as exc:
        raise ConfigError(f"recipe: [dataset] {exc}") from None
    if "path" in dset:
        if not isinstance(dset["path"], str) or not dset["path"]:
            raise ConfigError(f"recipe: [dataset] path must be a non-empty string "
                              f"(got {dset['path']!r})")
        if p != "<dict>":   # relative to the recipe file
            dset["path"] = str(p.parent / Path(dset["path"]).expanduser())
    from edgekit.models import registry

    arch = r["model"].setdefault("arch", "dscnn")
    if arch not in registry.ARCHITECTURES:
        raise ConfigError(f"recipe: unknown architecture {arch!r}; available: "
                          f"{', '.join(sorted(registry.ARCHITECTURES))}")
    steps = r.setdefault("steps", [])
    if not isinstance(steps, list):
        raise ConfigError("recipe: steps must be an array of tables ([[steps]])")
    for i, s in enumerate(steps):
        if not isinstance(s, dict) or s.get("kind") not in STEP_KINDS:
            raise ConfigError(f"recipe: steps[{i}] needs kind = one of {', '.join(STEP_KINDS)}")
        _check_keys(f"steps[{i}] ({s['kind']})", s, _KEYS[s["kind"]])
        if s["kind"] == "prune" and ("ratio" in s) == ("max_params" in s):
            raise ConfigError(f"recipe: steps[{i}] (prune) needs exactly one of ratio, "
                              "max_params")
    q = r["quantize"]
    if q.get("activations", "int8") not in ("int8", "int16"):
        raise ConfigError("recipe: [quantize] activations must be 'int8' or 'int16'")
    r["_path"] = str(p)
    return r


def _dataset_options(r: dict) -> dict:
    """The [dataset] loader options (everything but name and path)."""
    return {k: v for k, v in r["dataset"].items() if k not in ("name", "path")}


def _train_cfg(r: dict) -> dict:
    from edgekit.models import registry

    arch = r["model"]["arch"]
    base = registry.default_recipe(arch) if arch in registry.RECIPES else {
        "arch": arch, "hparams": {}, "epochs": 16, "batch_size": 64, "learning_rate": 3e-3,
        "seed": 0, "train_kwargs": {}, "num_samples": 300}
    if "hparams" in r["model"]:
        base["hparams"] = dict(r["model"]["hparams"])
    t = r["train"]
    for k in ("epochs", "batch_size", "learning_rate", "seed"):
        if k in t:
            base[k] = t[k]
    kw = dict(base.get("train_kwargs", {}))
    for k in ("augment", "warmup_epochs"):
        if k in t:
            kw[k] = t[k]
    base["train_kwargs"] = kw
    return base


def _row(step: str, model, ds, qcfg: dict, extra: dict | None = None, tflite=None) -> dict:
    from edgekit.compress.measure import measure

    m = measure(model, ds.x_train, ds.x_test, ds.y_test, num_samples=qcfg["num_samples"],
                seed=qcfg["seed"], tflite=tflite)
    m.pop("_tflite")
    return {"step": step, **m, **(extra or {})}


def run_recipe(r: dict, data: str | None, work: Path, progress) -> tuple:
    """Train, compress, quantize; returns ``(tflite, report parts, real int8 inputs)``.

    ``report parts`` holds ``model``, ``accuracy``, ``training``, ``dataset``,
    ``features``, ``recipe``, ``steps`` (one row per step, the trained model
    first and the quantized deployable last) and ``quantization`` (mode,
    calibration and the per-layer SQNR of :func:`edgekit.quantize.diagnostics.layer_sqnr`).
    """
    from edgekit.compress.distill import distill
    from edgekit.compress.fit import accuracy
    from edgekit.compress.prune import prune, prune_unstructured
    from edgekit.compress.measure import nonzero_per_tensor
    from edgekit.data import (dataset_summary, default_feature_config, describe_dataset,
                              load_dataset, resolve_data_root)
    from edgekit.models import registry
    from edgekit.models.train import save_model, train
    from edgekit.quantize.convert import float_tflite, quantize_model
    from edgekit.quantize.diagnostics import DEFAULT_THRESHOLD_DB, layer_sqnr
    from edgekit.quantize.evaluate import input_quantization, quantize_input, tflite_accuracy

    if r["quantize"].get("activations", "int8") != "int8":
        raise ConfigError("edgekit build deploys int8 models; 16x8 (activations = 'int16') "
                          "is available from `edgekit quantize`")
    cfg = _train_cfg(r)
    q = r["quantize"]
    qcfg = {"num_samples": int(q.get("num_samples", cfg.get("num_samples", 300))),
            "seed": int(q.get("seed", cfg["seed"])), "sampling": q.get("sampling", "random")}
    dname, opts = r["dataset"]["name"], _dataset_options(r)
    progress.stage("data", f"loading {describe_dataset(dname, opts)}, recipe "
                   f"{r.get('name', r['_path'])}")
    root = resolve_data_root(dname, data if data is not None else r["dataset"].get("path"))
    try:
        fc = (dataclasses.replace(default_feature_config(dname), **r["features"])
              if r["features"] else None)
    except TypeError as exc:
        raise ConfigError(f"recipe: bad [features]: {exc}") from None
    ds = load_dataset(dname, root, fc, **opts)
    if ds.skipped:
        progress.warn(f"skipped {len(ds.skipped)} unreadable files, e.g. {ds.skipped[0][0]}")
    progress.info(f"{len(ds.y_train)} train / {len(ds.y_test)} test clips, features "
                  f"{ds.feature_config.shape}")

    arch = cfg["arch"] = r["model"]["arch"]
    progress.stage("train", f"{arch} {cfg['hparams']}, {cfg['epochs']} epochs, seed {cfg['seed']}")
    model = registry.build_model(arch, ds.input_shape, ds.num_classes, seed=cfg["seed"],
                                 **cfg["hparams"])
    tr = train(model, ds.x_train, ds.y_train, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
               seed=cfg["seed"], learning_rate=cfg["learning_rate"], progress=False,
               **cfg["train_kwargs"])
    teacher = model
    steps = [_row("train", model, ds, qcfg, {"arch": arch, "hparams": cfg["hparams"],
                                             "epochs": cfg["epochs"],
                                             "seconds": round(tr.seconds, 1)})]
    progress.info(f"trained: {steps[0]['params']:,} params, float {steps[0]['float_accuracy']:.4f}"
                  f", int8 {steps[0]['int8_accuracy']:.4f} ({tr.seconds:.0f} s)")
    (work / "steps").mkdir(parents=True, exist_ok=True)
    teacher.save(work / "steps" / "0-train.keras")

    for i, s in enumerate(r["steps"], start=1):
        s = copy.deepcopy(s)
        kind = s.pop("kind")
        progress.stage(kind, ", ".join(f"{k}={v}" for k, v in s.items()))
        if kind == "prune":
            res = prune(model, ds.x_train, ds.y_train, max_params=s.get("max_params"),
                        ratio=s.get("ratio"), criterion=s.get("criterion", "l2"),
                        steps=int(s.get("steps", 3)),
                        finetune_epochs=int(s.get("finetune_epochs", 2)),
                        final_epochs=int(s.get("final_epochs", 0)),
                        learning_rate=float(s.get("learning_rate", 1e-3)),
                        batch_size=int(s.get("batch_size", cfg["batch_size"])),
                        seed=int(s.get("seed", cfg["seed"])))
            model = res.model
            extra = {"params_before": res.params_before, "criterion": s.get("criterion", "l2"),
                     "target": ({"ratio": s["ratio"]} if "ratio" in s
                                else {"max_params": s["max_params"]}),
                     "channels": {k: list(v) for k, v in res.channels.items()},
                     "schedule": res.schedule, "seconds": res.seconds}
            row = _row("prune", model, ds, qcfg, extra)
        elif kind == "prune_unstructured":
            res = prune_unstructured(model, ds.x_train, ds.y_train,
                                     sparsity=float(s.get("sparsity", 0.5)),
                                     steps=int(s.get("steps", 3)),
                                     finetune_epochs=int(s.get("finetune_epochs", 1)),
                                     learning_rate=float(s.get("learning_rate", 1e-3)),
                                     batch_size=int(s.get("batch_size", cfg["batch_size"])),
                                     seed=int(s.get("seed", cfg["seed"])))
            model = res.model
            row = _row("prune_unstructured", model, ds, qcfg,
                       {"sparsity": res.sparsity, "schedule": res.schedule})
            from edgekit.quantize.int8 import quantize_int8

            tfl = quantize_int8(model, ds.x_train, num_samples=qcfg["num_samples"],
                                seed=qcfg["seed"])
            row["nonzero_per_tensor"] = nonzero_per_tensor(tfl)
            row["note"] = ("unstructured sparsity does not shrink a dense int8 model: the "
                           "zeros are stored, flash and MACs are unchanged")
        else:  # distill
            tsrc = s.get("teacher", "trained")
            if tsrc == "trained":
                tmodel = teacher
            else:
                from edgekit.models.train import load_model

                tmodel = load_model(tsrc)
            student = model
            if "student" in s:
                st = s["student"]
                if not isinstance(st, dict) or "arch" not in st:
                    raise ConfigError("recipe: distill student must be a table with arch "
                                      "(and hparams)")
                student = registry.build_model(st["arch"], ds.input_shape, ds.num_classes,
                                               seed=cfg["seed"], **st.get("hparams", {}))
            res = distill(student, tmodel, ds.x_train, ds.y_train,
                          epochs=int(s.get("epochs", 8)),
                          temperature=float(s.get("temperature", 4.0)),
                          alpha=float(s.get("alpha", 0.3)),
                          learning_rate=float(s.get("learning_rate", 1e-3)),
                          batch_size=int(s.get("batch_size", cfg["batch_size"])),
                          seed=int(s.get("seed", cfg["seed"])),
                          baseline=bool(s.get("baseline", True)),
                          x_test=ds.x_test, y_test=ds.y_test)
            model = res.model
            extra = {"distillation": res.report}
            if res.baseline is not None:
                b = _row("baseline", res.baseline, ds, qcfg)
                extra["distillation"]["baseline_int8_accuracy"] = b["int8_accuracy"]
            row = _row("distill", model, ds, qcfg, extra)
            if res.baseline is not None:
                row["distillation"]["distilled_int8_accuracy"] = row["int8_accuracy"]
        steps.append(row)
        progress.info(f"{kind}: {row['params']:,} params, {row['weight_flash_bytes']:,} B weights"
                      f", float {row['float_accuracy']:.4f}, int8 {row['int8_accuracy']:.4f}")
        model.save(work / "steps" / f"{i}-{kind}.keras")

    progress.stage("quantize", f"int8, {qcfg['num_samples']} {qcfg['sampling']} calibration "
                   "examples from the train split; per-layer SQNR")
    qres = quantize_model(model, ds.x_train, num_samples=qcfg["num_samples"],
                          sampling=qcfg["sampling"], seed=qcfg["seed"], labels=ds.y_train)
    tflite = qres.tflite
    int8_acc = tflite_accuracy(tflite, ds.x_test, ds.y_test, runtime="tflm")
    float_acc = accuracy(model, ds.x_test, ds.y_test)
    thr = float(q.get("sqnr_threshold_db", DEFAULT_THRESHOLD_DB))
    diag = layer_sqnr(float_tflite(qres.float_model), tflite, qres.calibration,
                      threshold_db=thr, max_samples=int(q.get("sqnr_samples", 32)),
                      **qres.float_model.names())
    for w in diag["warnings"]:
        progress.warn(f"low SQNR: {w}")
    final = _row("quantize", model, ds, qcfg, {"mode": qres.report["mode"]}, tflite=tflite)
    steps.append(final)
    first = steps[0]
    compression = {
        "weight_flash_ratio": round(final["weight_flash_bytes"] / first["weight_flash_bytes"], 4),
        "params_ratio": round(final["params"] / first["params"], 4),
        "macs_ratio": round(final["macs"] / max(first["macs"], 1), 4),
        "int8_accuracy_drop_points": round(100 * (first["int8_accuracy"]
                                                  - final["int8_accuracy"]), 2),
    }
    progress.info(f"deployable: {final['weight_flash_bytes']:,} B weights "
                  f"({compression['weight_flash_ratio']:.2f}x of the trained model), int8 "
                  f"accuracy {int8_acc:.4f} ({compression['int8_accuracy_drop_points']:+.2f} "
                  "points below it)")
    save_model(model, ds.feature_config, work)
    scale, zp = input_quantization(tflite)
    real = quantize_input(ds.x_test, scale, zp)
    split = ds.split
    parts = {
        "recipe": {"name": r.get("name"), "path": r["_path"],
                   "steps": [s["kind"] for s in r["steps"]]},
        "model": {"arch": arch, "hparams": cfg["hparams"], "params": final["params"],
                  "macs": final["macs"]},
        "accuracy": {"float": float_acc, "int8": int8_acc, "split": split,
                     "test_cases": int(len(ds.y_test))},
        "training": {"epochs": cfg["epochs"], "seconds": round(tr.seconds, 1), "seed": cfg["seed"],
                     "train_accuracy": tr.train_accuracy},
        "dataset": dataset_summary(ds, root, opts),
        "features": ds.feature_config.to_dict(),
        "steps": steps,
        "compression": compression,
        "quantization": {**{k: qres.report[k] for k in ("mode", "weights", "activations",
                                                        "calibration", "input", "output")},
                         "float_accuracy": round(float_acc, 4), "int8_accuracy": round(int8_acc, 4),
                         **diag},
    }
    return tflite, parts, real
