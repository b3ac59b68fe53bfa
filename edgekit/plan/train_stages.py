"""The stages that make an int8 model from a recipe: data, size, train, compression steps, quantize.

Each stage is a function of the :class:`~edgekit.plan.core.Artifacts`; see
:func:`edgekit.plan.make_plan` for which stages a plan has.
"""

from __future__ import annotations

import copy

from edgekit.errors import ConfigError
from edgekit.plan.core import Artifacts, Stage

__all__ = ["data_stage", "size_stage", "train_stage", "step_stage", "quantize_stage"]

#: Low-SQNR layers named on the console (a spiking model can have hundreds).
MAX_SQNR_WARNINGS = 5


def _measure_row(art: Artifacts, step: str, extra: dict | None = None, tflite=None,
                 model=None) -> dict:
    """One row of the compression table for ``model`` (default: the current one).

    Params, MACs, int8 weight bytes, float and int8 test accuracy; with
    ``device = true`` in any step of the recipe, also the firmware's flash,
    RAM and instructions per inference in QEMU (``device``, every row but
    the distillation baseline).
    """
    from edgekit.compress.measure import measure  # noqa: PLC0415
    from edgekit.recipe import quantize_config  # noqa: PLC0415

    q = quantize_config(art.spec.recipe)
    ds = art.dataset
    m = measure(art.model if model is None else model, ds.x_train, ds.x_test, ds.y_test,
                num_samples=q["num_samples"], seed=q["seed"], tflite=tflite,
                input_range=ds.feature_config.input_range)
    tflite = m.pop("_tflite")
    if step != "baseline" and any(s.get("device") for s in art.spec.recipe.get("steps", [])):
        from edgekit.compress.device import device_cost  # noqa: PLC0415

        tgt = art.target.name if art.target is not None else "cortex-m4"
        m["device"] = device_cost(tflite, tgt)
        art.progress.info(f"{step}: {m['device']['flash_bytes']:,} B flash, "
                          f"{m['device']['instructions']:,} instructions per inference "
                          f"({tgt}, QEMU)")
    return {"step": step, **m, **(extra or {})}


# -- data ---------------------------------------------------------------------------------------

def _data_message(art: Artifacts) -> str:
    from edgekit.data import describe_dataset  # noqa: PLC0415
    from edgekit.recipe import dataset_options  # noqa: PLC0415

    r = art.spec.recipe
    return (f"loading {describe_dataset(r['dataset']['name'], dataset_options(r))}, recipe "
            f"{r.get('name', r['_path'])}")


def _data_run(art: Artifacts) -> None:
    from edgekit.data import dataset_summary, load_dataset, resolve_data_root  # noqa: PLC0415
    from edgekit.frontend.features import make_features  # noqa: PLC0415
    from edgekit.recipe import dataset_options  # noqa: PLC0415

    r = art.spec.recipe
    name, opts = r["dataset"]["name"], dataset_options(r)
    root = resolve_data_root(name, art.spec.data if art.spec.data is not None
                             else r["dataset"].get("path"))
    try:
        fc = make_features(name, r["features"])
    except ConfigError as exc:
        raise ConfigError(f"recipe: bad [features]: {exc}") from None
    ds = load_dataset(name, root, fc, **opts)
    if ds.skipped:
        art.progress.warn(f"skipped {len(ds.skipped)} unreadable files, e.g. {ds.skipped[0][0]}")
    art.progress.info(f"{len(ds.y_train)} train / {len(ds.y_test)} test clips from {root}, "
                      f"features {ds.feature_config.shape}")
    art.dataset, art.data_root = ds, root
    art.report.dataset = dataset_summary(ds, root, opts)
    art.report.features = ds.feature_config.to_dict()


data_stage = Stage("data", _data_run, _data_message)


# -- size ---------------------------------------------------------------------------------------

def _size_message(art: Artifacts) -> str:
    return "largest width within " + ", ".join(
        f"{k}={v:,}" for k, v in art.spec.budget.items() if k != "target" and v is not None)


def _size_run(art: Artifacts) -> None:
    from edgekit.budget.sizing import pick_width  # noqa: PLC0415

    cfg, ds, budget = art.train_cfg, art.dataset, art.spec.budget
    choice = pick_width(cfg["arch"], ds.input_shape, ds.num_classes, cfg["hparams"],
                        seed=cfg["seed"], **budget)
    cfg["hparams"] = choice.hparams
    art.report.sizing = {"param": choice.param, "width": choice.width, "params": choice.params,
                         "flash_bytes": choice.flash_bytes, "ram_bytes": choice.ram_bytes,
                         "limits": budget, "candidates": choice.tried}
    art.progress.info(choice.explain())


size_stage = Stage("size", _size_run, _size_message)


# -- train --------------------------------------------------------------------------------------

def _train_message(art: Artifacts) -> str:
    c = art.train_cfg
    return f"{c['arch']} {c['hparams']}, {c['epochs']} epochs, seed {c['seed']}"


def _augment_copies(art: Artifacts, augment):
    """The features of the recipe's augmented waveform copies of the training clips, or None.

    The clips are read again from ``Dataset.files_train`` (resampled to the
    features' rate as the loader does) and go through the dataset's own
    feature computation (the front end's C for front-end features).
    """
    from edgekit.data.augment import augmented_copies, parse_augment  # noqa: PLC0415
    from edgekit.data.resample import resample  # noqa: PLC0415
    from edgekit.data.wav import read_wav  # noqa: PLC0415

    aug = parse_augment(augment)
    if not aug.waveform:
        return None
    ds = art.dataset
    if ds.name == "speech_commands" or len(ds.files_train) != len(ds.x_train):
        raise ConfigError(f"waveform augmentation (augment copies = {aug.copies}) needs one "
                          f"clip file per training example; dataset {ds.name} has generated "
                          "clips (use feature-level augmentation only)")
    rate = ds.feature_config.sample_rate
    clips = []
    for path in ds.files_train:
        samples, sr = read_wav(path)
        clips.append(samples if sr == rate else resample(samples, sr, rate))
    art.progress.info(f"augmenting: {aug.copies} waveform copies of {len(clips)} clips "
                      "through the front end")
    return augmented_copies(clips, ds.feature_config, aug, art.train_cfg["seed"])


def _train_run(art: Artifacts) -> None:
    from edgekit.models import registry  # noqa: PLC0415
    from edgekit.models.train import evaluate_float, save_model  # noqa: PLC0415
    from edgekit.models.train_cache import train_cached  # noqa: PLC0415

    cfg, ds, progress = art.train_cfg, art.dataset, art.progress
    val = (ds.x_val, ds.y_val) if ds.x_val is not None and len(ds.x_val) else None
    kwargs = dict(cfg["train_kwargs"])
    kwargs["augment_copies"] = _augment_copies(art, kwargs.get("augment"))
    if kwargs.get("augment") not in (None, False, True):
        from edgekit.data.augment import parse_augment  # noqa: PLC0415
        from edgekit.data.freq_warp import channel_centres_hz  # noqa: PLC0415

        if parse_augment(kwargs["augment"]).freq_warp:
            kwargs["channel_hz"] = channel_centres_hz(ds.feature_config)
    model, result, cached = train_cached(
        lambda: registry.build_model(cfg["arch"], ds.input_shape, ds.num_classes,
                                     seed=cfg["seed"], **cfg["hparams"]),
        ds.x_train, ds.y_train,
        description={"arch": cfg["arch"], "hparams": cfg["hparams"],
                     "input_shape": list(ds.input_shape), "classes": int(ds.num_classes)},
        epochs=cfg["epochs"], batch_size=cfg["batch_size"], seed=cfg["seed"],
        learning_rate=cfg["learning_rate"],
        progress=progress.stream is not None and not progress.quiet,
        validation=val, callbacks=art.callbacks, **kwargs)
    if cached:
        progress.info(f"trained weights reused from the training cache (key {cached[:12]}; "
                      "EDGEKIT_TRAIN_CACHE=0 retrains)")
    float_acc = evaluate_float(model, ds.x_test, ds.y_test)
    took = f"trained in {result.seconds:.0f} s" + (", reused" if cached else "")
    progress.info(f"float test accuracy {float_acc:.4f} ({took})")
    art.model = art.teacher = model
    save_model(model, ds.feature_config, art.work)
    rep = art.report
    rep.model = {"arch": cfg["arch"], "hparams": cfg["hparams"],
                 "params": registry.count_params(model), "macs": registry.count_macs(model)}
    rep.accuracy = {"float": float_acc, "split": ds.split, "test_cases": int(len(ds.y_test))}
    if val is not None:
        rep.accuracy["validation"] = result.float_accuracy
    rep.training = {"epochs": result.epochs, "seconds": round(result.seconds, 1),
                    "seed": cfg["seed"], "train_accuracy": result.train_accuracy,
                    "cached": cached is not None}
    if cfg["arch"].startswith("spiking"):
        from edgekit.models.spiking import spike_rates  # noqa: PLC0415

        rep.spikes = spike_rates(model, ds.x_test)
        progress.info(f"spike rate {rep.spikes['__all__']['rate']:.3f} (fraction of non-zero "
                      "activations over the test split)")
    if art.spec.recipe["steps"]:
        row = _measure_row(art, "train", {"arch": cfg["arch"], "hparams": cfg["hparams"],
                                          "epochs": cfg["epochs"],
                                          "seconds": round(result.seconds, 1)})
        art.steps.append(row)
        progress.info(f"trained: {row['params']:,} params, int8 {row['int8_accuracy']:.4f}")
        (art.work / "steps").mkdir(parents=True, exist_ok=True)
        model.save(art.work / "steps" / "0-train.keras")


train_stage = Stage("train", _train_run, _train_message)


# -- compression steps --------------------------------------------------------------------------

def _prune(art: Artifacts, s: dict) -> dict:
    from edgekit.compress.prune import prune  # noqa: PLC0415

    cfg, ds = art.train_cfg, art.dataset
    res = prune(art.model, ds.x_train, ds.y_train, max_params=s.get("max_params"),
                ratio=s.get("ratio"), criterion=s.get("criterion", "l2"),
                steps=int(s.get("steps", 3)), finetune_epochs=int(s.get("finetune_epochs", 2)),
                final_epochs=int(s.get("final_epochs", 0)),
                learning_rate=float(s.get("learning_rate", 1e-3)),
                batch_size=int(s.get("batch_size", cfg["batch_size"])),
                seed=int(s.get("seed", cfg["seed"])),
                kinds=tuple(s.get("kinds", ("heads", "order", "memory_d", "channels"))))
    art.model = res.model
    return _measure_row(art, "prune", {
        "params_before": res.params_before, "criterion": s.get("criterion", "l2"),
        "pruned": res.pruned,
        "target": {"ratio": s["ratio"]} if "ratio" in s else {"max_params": s["max_params"]},
        "channels": {k: list(v) for k, v in res.channels.items()},
        "schedule": res.schedule, "seconds": res.seconds})


def _prune_unstructured(art: Artifacts, s: dict) -> dict:
    from edgekit.compress.measure import measure, nonzero_per_tensor  # noqa: PLC0415
    from edgekit.compress.prune import prune_unstructured  # noqa: PLC0415
    from edgekit.recipe import quantize_config  # noqa: PLC0415

    cfg, ds = art.train_cfg, art.dataset
    res = prune_unstructured(art.model, ds.x_train, ds.y_train,
                             sparsity=float(s.get("sparsity", 0.5)), steps=int(s.get("steps", 3)),
                             finetune_epochs=int(s.get("finetune_epochs", 1)),
                             learning_rate=float(s.get("learning_rate", 1e-3)),
                             batch_size=int(s.get("batch_size", cfg["batch_size"])),
                             seed=int(s.get("seed", cfg["seed"])))
    art.model = res.model
    q = quantize_config(art.spec.recipe)
    m = measure(art.model, ds.x_train, ds.x_test, ds.y_test, num_samples=q["num_samples"],
                seed=q["seed"], input_range=ds.feature_config.input_range)
    tflite = m.pop("_tflite")
    return {"step": "prune_unstructured", **m, "sparsity": res.sparsity,
            "schedule": res.schedule, "nonzero_per_tensor": nonzero_per_tensor(tflite),
            "note": ("unstructured sparsity does not shrink a dense int8 model: the zeros are "
                     "stored, flash and MACs are unchanged")}


def _distill(art: Artifacts, s: dict) -> dict:
    from edgekit.compress.distill import DISTILL_EPOCHS, distill  # noqa: PLC0415
    from edgekit.models import registry  # noqa: PLC0415

    cfg, ds = art.train_cfg, art.dataset
    tsrc = s.get("teacher", "trained")
    if tsrc == "trained":
        teacher = art.teacher
    else:
        from edgekit.models.train import load_model  # noqa: PLC0415

        teacher = load_model(tsrc)
    student = art.model
    if "student" in s:
        st = s["student"]
        if not isinstance(st, dict) or "arch" not in st:
            raise ConfigError("recipe: distill student must be a table with arch (and hparams)")
        student = registry.build_model(st["arch"], ds.input_shape, ds.num_classes,
                                       seed=cfg["seed"], **st.get("hparams", {}))
    res = distill(student, teacher, ds.x_train, ds.y_train,
                  epochs=int(s.get("epochs", DISTILL_EPOCHS)),
                  temperature=float(s.get("temperature", 4.0)), alpha=float(s.get("alpha", 0.3)),
                  learning_rate=float(s.get("learning_rate", 1e-3)),
                  batch_size=int(s.get("batch_size", cfg["batch_size"])),
                  seed=int(s.get("seed", cfg["seed"])), baseline=bool(s.get("baseline", True)),
                  x_test=ds.x_test, y_test=ds.y_test)
    extra = {"distillation": res.report}
    if res.baseline is not None:
        extra["distillation"]["baseline_int8_accuracy"] = \
            _measure_row(art, "baseline", model=res.baseline)["int8_accuracy"]
    art.model = res.model
    row = _measure_row(art, "distill", extra)
    if res.baseline is not None:
        row["distillation"]["distilled_int8_accuracy"] = row["int8_accuracy"]
    return row


_STEPS = {"prune": _prune, "prune_unstructured": _prune_unstructured, "distill": _distill}


def step_stage(index: int, step: dict) -> Stage:
    """The stage of compression step ``index`` (1-based) of a recipe (``[[steps]]``)."""
    kind = step["kind"]
    params = {k: v for k, v in step.items() if k != "kind"}

    def run(art: Artifacts) -> None:
        row = _STEPS[kind](art, copy.deepcopy(params))
        art.steps.append(row)
        art.progress.info(f"{kind}: {row['params']:,} params, {row['weight_flash_bytes']:,} B "
                          f"weights, float {row['float_accuracy']:.4f}, int8 "
                          f"{row['int8_accuracy']:.4f}")
        art.model.save(art.work / "steps" / f"{index}-{kind}.keras")

    return Stage(kind, run, lambda art: ", ".join(f"{k}={v}" for k, v in params.items()))


# -- quantize -----------------------------------------------------------------------------------

def _quantize_message(art: Artifacts) -> str:
    from edgekit.recipe import quantize_config  # noqa: PLC0415

    q = quantize_config(art.spec.recipe)
    return (f"full int8, {q['num_samples']} {q['sampling']} calibration examples from the train "
            "split; per-layer SQNR")


def _quantize_run(art: Artifacts) -> None:
    from edgekit.compress.fit import accuracy  # noqa: PLC0415
    from edgekit.models import registry  # noqa: PLC0415
    from edgekit.models.train import save_model  # noqa: PLC0415
    from edgekit.quantize.convert import float_tflite, quantize_model  # noqa: PLC0415
    from edgekit.quantize.diagnostics import DEFAULT_THRESHOLD_DB, layer_sqnr  # noqa: PLC0415
    from edgekit.quantize.evaluate import (input_quantization, quantize_input,  # noqa: PLC0415
                                           tflite_accuracy)
    from edgekit.recipe import quantize_config  # noqa: PLC0415

    q = quantize_config(art.spec.recipe)
    ds, model, rep, progress = art.dataset, art.model, art.report, art.progress
    qres = quantize_model(model, ds.x_train, num_samples=q["num_samples"],
                          sampling=q["sampling"], seed=q["seed"], labels=ds.y_train,
                          activations=q["activations"],
                          input_range=ds.feature_config.input_range)
    art.tflite = qres.tflite
    int8_acc = tflite_accuracy(art.tflite, ds.x_test, ds.y_test, runtime="tflm")
    progress.info(f"{q['activations']} test accuracy {int8_acc:.4f} (tflite_micro)")
    thr = DEFAULT_THRESHOLD_DB if q["sqnr_threshold_db"] is None else float(q["sqnr_threshold_db"])
    diag = layer_sqnr(float_tflite(qres.float_model), art.tflite, qres.calibration,
                      threshold_db=thr, max_samples=q["sqnr_samples"], **qres.float_model.names())
    for w in diag["warnings"][:MAX_SQNR_WARNINGS]:
        progress.warn(f"low SQNR: {w}")
    if len(diag["warnings"]) > MAX_SQNR_WARNINGS:
        progress.warn(f"low SQNR in {len(diag['warnings']) - MAX_SQNR_WARNINGS} more layers "
                      "(all of them: report.json quantization.layers, report.md)")
    if model is not art.teacher:          # compressed: the deployed model's own figures
        rep.model.update(params=registry.count_params(model), macs=registry.count_macs(model))
        rep.accuracy["float"] = accuracy(model, ds.x_test, ds.y_test)
        save_model(model, ds.feature_config, art.work)
    rep.accuracy["int8"] = int8_acc
    rep.quantization = {**{k: qres.report[k] for k in ("mode", "weights", "activations",
                                                       "calibration", "input", "output")},
                        "float_accuracy": round(rep.accuracy["float"], 4),
                        "int8_accuracy": round(int8_acc, 4), **diag}
    if art.steps:
        final = _measure_row(art, "quantize", {"mode": qres.report["mode"]}, tflite=art.tflite)
        art.steps.append(final)
        first = art.steps[0]
        rep.steps = art.steps
        rep.compression = {
            "weight_flash_ratio": round(final["weight_flash_bytes"] / first["weight_flash_bytes"],
                                        4),
            "params_ratio": round(final["params"] / first["params"], 4),
            "macs_ratio": round(final["macs"] / max(first["macs"], 1), 4),
            "int8_accuracy_drop_points": round(100 * (first["int8_accuracy"]
                                                      - final["int8_accuracy"]), 2)}
        progress.info(f"deployable: {final['weight_flash_bytes']:,} B weights "
                      f"({rep.compression['weight_flash_ratio']:.2f}x of the trained model), "
                      f"{rep.compression['int8_accuracy_drop_points']:+.2f} points below it")
    scale, zp = input_quantization(art.tflite)
    art.real_inputs = quantize_input(ds.x_test, scale, zp)


quantize_stage = Stage("quantize", _quantize_run, _quantize_message)
