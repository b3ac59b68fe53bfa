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

    [features]                    # optional; default: the fixed-point front end
    # kind = "frontend"           # or "logmel-float" (float log-mel, host only)
    # num_frames = 49             # frontend: frames per input, and FrontendConfig fields
    # align = "centre"            #   a short clip in the middle of the window (default "start")
    # num_channels = 32           #   (logmel-float: FeatureConfig fields, e.g. n_mels)

    [model]
    arch = "dscnn"
    hparams = { width = 64, num_blocks = 4, dropout = 0.2 }

    [train]                       # defaults: the architecture's registry recipe
    epochs = 16
    seed = 0
    # augment = { copies = 4, speed = 0.15, noise = ["white", "mix"] }   # or true / false;
    #                             #   keys: edgekit.data.augment.AugmentConfig
    # head_epochs = 3             # first train only the last layer (then `epochs` of all)
    # label_smoothing = 0.1       # soft targets: (1 - s) one-hot + s / classes

    [[steps]]                     # run in order on the current model
    kind = "prune"                # structured pruning: channels, attention heads, LMU order
    # kinds = ["heads", "order", "memory_d", "channels"]   # what may shrink (default: all)
    # device = true               # every row: firmware flash / RAM / QEMU instructions
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

:func:`load_recipe` parses and validates (unknown keys are errors).
Every value a recipe leaves out comes from the architecture's preset in
:data:`edgekit.models.registry.RECIPES` (defined there once):
:func:`builtin_recipe` is the recipe ``edgekit build --arch NAME`` runs, and
:func:`recipe_toml` writes it out in full (``edgekit recipe NAME``), so a
recipe file and ``--arch`` give the same build.  :func:`apply_overrides`
applies ``--set section.key=value``.  The build plan
(:mod:`edgekit.plan`) runs a recipe: it reads it with :func:`train_config`,
:func:`quantize_config` and :func:`dataset_options`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import tomllib
from pathlib import Path

from edgekit.errors import ConfigError

__all__ = ["load_recipe", "builtin_recipe", "apply_overrides", "recipe_toml", "train_config",
           "quantize_config", "dataset_options", "STEP_KINDS"]

STEP_KINDS = ("prune", "prune_unstructured", "distill")

_TOP = {"name", "description", "dataset", "features", "model", "train", "steps", "quantize",
        "target"}
_KEYS = {
    "dataset": {"name", "path", "holdout_speaker", "limit_per_class", "words",
                "silence_fraction", "unknown_fraction", "resample", "seed", "test_fold",
                "val_fold", "esc10"},
    "model": {"arch", "hparams"},
    "train": {"epochs", "batch_size", "learning_rate", "seed", "augment", "warmup_epochs",
              "head_epochs", "label_smoothing"},
    "quantize": {"activations", "num_samples", "sampling", "seed", "sqnr_threshold_db",
                 "sqnr_samples"},
    "target": {"name"},
    "prune": {"kind", "ratio", "max_params", "criterion", "steps", "finetune_epochs",
              "final_epochs", "learning_rate", "batch_size", "seed", "kinds", "device"},
    "prune_unstructured": {"kind", "sparsity", "steps", "finetune_epochs", "learning_rate",
                           "batch_size", "seed", "device"},
    "distill": {"kind", "teacher", "student", "epochs", "temperature", "alpha",
                "learning_rate", "batch_size", "seed", "baseline", "device"},
}


def _check_keys(where: str, table, allowed: set) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"recipe: [{where}] must be a table")
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"recipe: unknown key(s) {', '.join(extra)} in [{where}]; "
                          f"allowed: {', '.join(sorted(allowed))}")


def _int(lo=None):
    def ok(v):
        return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo)
    return ok, "an integer" + (f" >= {lo}" if lo is not None else "")


def _num(lo=None, hi=None, open_lo=False):
    def ok(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return ((lo is None or (v > lo if open_lo else v >= lo)) and (hi is None or v <= hi))
    where = (f" > {lo}" if open_lo else f" >= {lo}") if lo is not None else ""
    return ok, "a finite number" + where + (f" and <= {hi}" if hi is not None else "")


_STR = (lambda v: isinstance(v, str), "a string")
_BOOL = (lambda v: isinstance(v, bool), "true or false")
_TABLE = (lambda v: isinstance(v, dict), "a table")
_WORDS = (lambda v: isinstance(v, str) or (isinstance(v, list) and bool(v)
                                           and all(isinstance(w, str) for w in v)),
          "a string or a non-empty array of strings")
_FRACTION = _num(0.0, 1.0)
_COMMON_STEP = {"kind": _STR, "steps": _int(1), "finetune_epochs": _int(0),
                "final_epochs": _int(0), "learning_rate": _num(0.0, open_lo=True),
                "batch_size": _int(1), "seed": _int()}
#: The type (and range) of every value a recipe may give, by table.
_VALUES = {
    "recipe": {"name": _STR, "description": _STR},
    "dataset": {"name": _STR, "path": _STR, "holdout_speaker": _STR,
                "limit_per_class": _int(1), "words": _WORDS, "silence_fraction": _FRACTION,
                "unknown_fraction": _FRACTION, "resample": _BOOL, "seed": _int(),
                "test_fold": _int(1), "val_fold": _int(1), "esc10": _BOOL},
    "model": {"arch": _STR, "hparams": _TABLE},
    "train": {"epochs": _int(1), "batch_size": _int(1), "learning_rate": _num(0.0, open_lo=True),
              "seed": _int(), "warmup_epochs": _int(0), "head_epochs": _int(0),
              "label_smoothing": _num(0.0, 1.0)},
    "quantize": {"activations": _STR, "num_samples": _int(1), "sampling": _STR, "seed": _int(),
                 "sqnr_threshold_db": _num(), "sqnr_samples": _int(1)},
    "target": {"name": _STR},
    "prune": {**_COMMON_STEP, "ratio": _num(0.0, 1.0, open_lo=True), "max_params": _int(1),
              "criterion": _STR},
    "prune_unstructured": {**_COMMON_STEP, "sparsity": _num(0.0, 1.0)},
    "distill": {**_COMMON_STEP, "teacher": _STR, "student": _STR, "epochs": _int(1),
                "temperature": _num(0.0, open_lo=True), "alpha": _FRACTION, "baseline": _BOOL},
}


def _check_values(where: str, table: dict, spec: dict) -> None:
    """Raise ConfigError for a value of the wrong type or out of range, repeating it."""
    for key, (ok, what) in spec.items():
        if key in table and not ok(table[key]):
            raise ConfigError(f"recipe: {key} in [{where}] must be {what} "
                              f"(got {table[key]!r})")


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
    _check_values("recipe", r, _VALUES["recipe"])
    for key in ("dataset", "model", "train", "quantize", "target"):
        _check_keys(key, r.setdefault(key, {}), _KEYS[key])
        _check_values(key, r[key], _VALUES[key])
    if not isinstance(r.setdefault("features", {}), dict):
        raise ConfigError("recipe: [features] must be a table")
    from edgekit.data.datasets import check_dataset

    dset = r["dataset"]
    dset.setdefault("name", "fsdd")
    try:
        check_dataset(dset["name"], dataset_options(r))
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
        _check_values(f"steps[{i}] ({s['kind']})", s, _VALUES[s["kind"]])
        if s["kind"] == "prune" and ("ratio" in s) == ("max_params" in s):
            raise ConfigError(f"recipe: steps[{i}] (prune) needs exactly one of ratio, "
                              "max_params")
        if s["kind"] == "prune" and "kinds" in s:
            from edgekit.compress.layer_prune import KINDS  # noqa: PLC0415

            kinds = s["kinds"]
            if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
                raise ConfigError(f"recipe: steps[{i}] (prune) kinds must be a non-empty list "
                                  f"of {', '.join(KINDS)} (got {kinds!r})")
    if "augment" in r["train"]:
        from edgekit.data.augment import parse_augment  # noqa: PLC0415

        try:
            parse_augment(r["train"]["augment"])
        except ConfigError as exc:
            raise ConfigError(f"recipe: [train] {exc}") from None
    q = r["quantize"]
    if q.get("activations", "int8") not in ("int8", "int16"):
        raise ConfigError("recipe: [quantize] activations must be 'int8' or 'int16'")
    r["_path"] = str(p)
    return r


def dataset_options(r: dict) -> dict:
    """The [dataset] loader options of a recipe (everything but name and path)."""
    return {k: v for k, v in r["dataset"].items() if k not in ("name", "path")}


def builtin_recipe(arch: str) -> dict:
    """The built-in recipe of a zoo architecture: what ``edgekit build --arch ARCH`` runs.

    Parameters
    ----------
    arch : str
        A zoo architecture (:data:`edgekit.models.registry.ARCHITECTURES`).

    Returns
    -------
    dict
        A validated recipe (FSDD, the architecture's preset, no compression
        steps); its training values come from the registry preset.

    Raises
    ------
    ConfigError
        If ``arch`` is not a zoo architecture.
    """
    r = load_recipe({"name": f"builtin-{arch}", "model": {"arch": arch}})
    r["_path"] = f"<built-in recipe of {arch}>"
    return r


def _parse_value(text: str):
    """A ``--set`` value as TOML (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(r: dict, items) -> dict:
    """Apply ``section.key=value`` overrides to a recipe and validate the result.

    Parameters
    ----------
    r : dict
        A recipe (from :func:`load_recipe` or :func:`builtin_recipe`).
    items : iterable of str or dict
        ``"train.epochs=2"``, ``"model.hparams.width=32"``,
        ``"dataset.holdout_speaker=theo"``; or a nested dict merged in.

    Returns
    -------
    dict
        A new validated recipe (``r`` is not changed).

    Raises
    ------
    ConfigError
        For an item without ``=`` or a dotted key, or a key the recipe
        format does not have (the usual :func:`load_recipe` errors).
    """
    out = copy.deepcopy(r)
    path = out.pop("_path", "<dict>")
    for item in items:
        if isinstance(item, dict):
            _merge(out, item)
            continue
        key, sep, value = str(item).partition("=")
        parts = [k.strip() for k in key.split(".")]
        if not sep or len(parts) < 2 or not all(parts):
            raise ConfigError(f"--set takes SECTION.KEY=VALUE, e.g. train.epochs=4 (got {item!r})")
        _merge(out, _nest(parts, _parse_value(value.strip())))
    res = load_recipe(out)
    res["_path"] = path
    return res


def _nest(parts: list, value) -> dict:
    d = value
    for k in reversed(parts):
        d = {k: d}
    return d


def _merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def train_config(r: dict) -> dict:
    """The training settings of a recipe, the architecture's preset filling the gaps.

    The recipe's ``[model] hparams`` are laid over the preset's (a recipe
    names only what it changes).  Returns a dict with the keys of
    :data:`edgekit.models.registry.DEFAULT_RECIPE`
    (``arch``, ``hparams``, ``epochs``, ``batch_size``, ``learning_rate``,
    ``seed``, ``train_kwargs``, ``num_samples``).
    """
    from edgekit.models import registry

    arch = r["model"]["arch"]
    base = registry.default_recipe(arch)
    base["hparams"].update(r["model"].get("hparams", {}))   # the recipe's over the preset's
    t = r["train"]
    for k in ("epochs", "batch_size", "learning_rate", "seed"):
        if k in t:
            base[k] = t[k]
    kw = dict(base.get("train_kwargs", {}))
    for k in ("augment", "warmup_epochs", "head_epochs", "label_smoothing"):
        if k in t:
            kw[k] = t[k]
    base["train_kwargs"] = kw
    return base


def quantize_config(r: dict) -> dict:
    """The quantize settings of a recipe: ``num_samples``, ``seed``, ``sampling``, ``activations``,
    ``sqnr_threshold_db`` (None: the diagnostics' default) and ``sqnr_samples``."""
    cfg = train_config(r)
    q = r["quantize"]
    return {"num_samples": int(q.get("num_samples", cfg["num_samples"])),
            "seed": int(q.get("seed", cfg["seed"])), "sampling": q.get("sampling", "random"),
            "activations": q.get("activations", "int8"),
            "sqnr_threshold_db": q.get("sqnr_threshold_db"),
            "sqnr_samples": int(q.get("sqnr_samples", 32))}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise ConfigError(f"cannot write {type(v).__name__} value {v!r} to TOML")


def recipe_toml(r: dict) -> str:
    """A recipe as TOML text, with the preset's values written out in full.

    ``load_recipe`` of the text gives the same training, steps and
    quantization as ``r`` (``edgekit recipe ARCH`` prints the built-in one).
    """
    cfg = train_config(r)
    q = quantize_config(r)
    full = copy.deepcopy({k: v for k, v in r.items() if not k.startswith("_")})
    full["model"]["hparams"] = cfg["hparams"]
    for k in ("epochs", "batch_size", "learning_rate", "seed"):
        full["train"][k] = cfg[k]
    full["train"].update(cfg["train_kwargs"])
    full["quantize"].setdefault("num_samples", q["num_samples"])
    full["quantize"].setdefault("sampling", q["sampling"])
    lines = []
    for k in ("name", "description"):
        if k in full:
            lines.append(f"{k} = {_toml_value(full[k])}")
    for section in ("dataset", "features", "model", "train"):
        if full.get(section) or section != "features":
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}"
                                             for k, v in full.get(section, {}).items()]
    for step in full.get("steps", []):
        lines += ["", "[[steps]]"] + [f"{k} = {_toml_value(v)}" for k, v in step.items()]
    for section in ("quantize", "target"):
        if full.get(section) or section == "quantize":
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}"
                                             for k, v in full[section].items()]
    return "\n".join(lines) + "\n"
