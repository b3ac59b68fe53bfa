"""A search space: a recipe whose values may be ranges or choices (``SPACE.toml``).

::

    [sweep]                       # optional; the values shown are the defaults
    trials = 12                   # configurations drawn (--trials wins)
    seed = 0                      # the draw is reproducible
    eval = "official"             # or "loso": leave one speaker out, per trial
    metric = "int8_accuracy"      # official; loso: "loso_mean" or "loso_worst"
    headroom = 0.10               # flash/RAM kept free on the target
    cases = 10                    # inputs checked bit-exact per trial
    audio_clips = 2               # raw-audio clips run in QEMU per trial
    grace_period = 1              # ASHA: epochs before a trial can be stopped

    [dataset]
    name = "fsdd"

    [model]
    arch = { choice = ["dscnn", "lmu"] }

    [model.hparams.dscnn]         # per architecture when arch is a choice
    width = { choice = [16, 32, 48] }
    [model.hparams.lmu]
    units = { range = [16, 64] }  # integers lo..hi inclusive

    [train]
    epochs = 8
    learning_rate = { loguniform = [1e-3, 1e-2] }

    [[steps]]
    kind = "prune"
    ratio = { uniform = [0.3, 0.8] }

A value is either a plain recipe value or a table with exactly one of
``choice`` (a non-empty list), ``range`` (integers ``[lo, hi]``),
``uniform`` or ``loguniform`` (floats ``[lo, hi]``).  :func:`load_space`
checks the distributions and :meth:`Space.sample` draws configurations and
validates each as a recipe (:func:`edgekit.recipe.load_recipe`), so an
unknown key fails before any trial starts.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError

__all__ = ["DISTRIBUTIONS", "METRICS", "SWEEP_DEFAULTS", "Space", "load_space"]

DISTRIBUTIONS = ("choice", "range", "uniform", "loguniform")
#: Objective of a sweep per evaluation.
METRICS = {"official": ("int8_accuracy",), "loso": ("loso_mean", "loso_worst")}
SWEEP_DEFAULTS = {"trials": 12, "seed": 0, "eval": "official", "metric": None,
                  "headroom": 0.10, "cases": 10, "audio_clips": 2, "grace_period": 1}
_SECTIONS = ("dataset", "features", "model", "train", "quantize", "target")


@dataclass
class Space:
    """A checked search space.

    Attributes
    ----------
    base : dict
        The recipe with distributions in place of values (``[sweep]`` removed).
    params : dict
        Dotted key (``model.hparams.width``, ``steps[0].ratio``) -> distribution table.
    settings : dict
        ``[sweep]`` with defaults (:data:`SWEEP_DEFAULTS`).
    path : str
    """

    base: dict
    params: dict
    settings: dict
    path: str = "<dict>"
    archs: list = field(default_factory=list)

    def sample(self, n: int | None = None) -> list[dict]:
        """Draw up to ``n`` distinct configurations (default ``settings["trials"]``).

        Returns a list of ``{"params": {dotted key: value}, "recipe": dict}``;
        fewer than ``n`` when a discrete space has fewer distinct points.

        Raises
        ------
        ConfigError
            When a drawn configuration is not a valid recipe (the message
            names the space and the recipe's complaint).
        """
        from edgekit.recipe import load_recipe  # noqa: PLC0415

        n = int(self.settings["trials"] if n is None else n)
        if n < 1:
            raise ConfigError(f"trials must be >= 1 (got {n})")
        rng = np.random.default_rng(int(self.settings["seed"]))
        seen, out = set(), []
        for _ in range(max(50, 20 * n)):
            if len(out) == n:
                break
            recipe = copy.deepcopy(self.base)
            params = {}
            arch = _draw(rng, self.params["model.arch"]) if "model.arch" in self.params \
                else recipe["model"].get("arch", "dscnn")
            if "model.arch" in self.params:
                params["model.arch"] = arch
                recipe["model"]["arch"] = arch
            for key, dist in self.params.items():
                if key == "model.arch":
                    continue
                if key.startswith("model.hparams.") and self.archs:
                    a, hp = key.split(".")[2], key.split(".", 3)[3]
                    if a != arch:
                        continue
                    params[f"model.hparams.{hp}"] = v = _draw(rng, dist)
                    recipe["model"]["hparams"][hp] = v
                    continue
                params[key] = v = _draw(rng, dist)
                _set(recipe, key, v)
            if self.archs:
                recipe["model"]["hparams"] = {k: v for k, v in
                                              recipe["model"]["hparams"].items()
                                              if not isinstance(v, dict)}
                fixed = self.base["model"]["hparams"].get(arch, {})
                for k, v in fixed.items():
                    if not _is_dist(v):
                        recipe["model"]["hparams"].setdefault(k, v)
            key = repr(sorted(params.items()))
            if key in seen:
                continue
            seen.add(key)
            recipe.setdefault("name", f"sweep-{len(out)}")
            try:
                checked = load_recipe(recipe)
            except ConfigError as exc:
                raise ConfigError(f"space {self.path}: {exc}") from None
            checked["_path"] = f"<trial {len(out)} of {self.path}>"
            out.append({"params": params, "recipe": checked})
        return out


def _is_dist(v) -> bool:
    return isinstance(v, dict) and len(v) >= 1 and set(v) <= set(DISTRIBUTIONS)


def _draw(rng, dist: dict):
    (kind, arg), = dist.items()
    if kind == "choice":
        v = arg[int(rng.integers(len(arg)))]
        return v.item() if hasattr(v, "item") else v
    lo, hi = arg
    if kind == "range":
        return int(rng.integers(int(lo), int(hi) + 1))
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _set(recipe: dict, dotted: str, value) -> None:
    node = recipe
    parts = dotted.split(".")
    for p in parts[:-1]:
        if p.startswith("steps[") and p.endswith("]"):
            node = node["steps"][int(p[6:-1])]
        else:
            node = node[p]
    node[parts[-1]] = value


def _check_dist(key: str, v) -> dict:
    if not isinstance(v, dict) or len(v) != 1 or not set(v) <= set(DISTRIBUTIONS):
        raise ConfigError(f"{key}: a range or choice is a table with exactly one of "
                          f"{', '.join(DISTRIBUTIONS)} (got {v!r})")
    (kind, arg), = v.items()
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise ConfigError(f"{key}: choice needs a non-empty list (got {arg!r})")
        return v
    if (not isinstance(arg, list) or len(arg) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in arg)):
        raise ConfigError(f"{key}: {kind} needs [lo, hi] numbers (got {arg!r})")
    lo, hi = arg
    if kind == "range":
        if not all(isinstance(x, int) for x in arg):
            raise ConfigError(f"{key}: range takes integers [lo, hi] (got {arg!r}); "
                              "use uniform for floats")
        if lo > hi:
            raise ConfigError(f"{key}: empty range [{lo}, {hi}] (lo > hi)")
    elif lo >= hi:
        raise ConfigError(f"{key}: empty {kind} range [{lo}, {hi}] (needs lo < hi)")
    if kind == "loguniform" and lo <= 0:
        raise ConfigError(f"{key}: loguniform needs 0 < lo (got [{lo}, {hi}])")
    return v


def _collect(key: str, table: dict, params: dict) -> None:
    """Record the distributions of a recipe table; any other table value is an error."""
    for k, v in table.items():
        if isinstance(v, dict):
            params[f"{key}.{k}"] = _check_dist(f"{key}.{k}", v)


def load_space(path) -> Space:
    """Read and check a search space (a TOML file or a dict); see the module docs.

    Raises
    ------
    ConfigError
        Unreadable or invalid TOML, an unknown top-level section or
        ``[sweep]`` key, a malformed or empty range or choice, per-architecture
        hyper-parameters for an architecture the space does not choose.
    """
    from edgekit.models.registry import ARCHITECTURES  # noqa: PLC0415

    if isinstance(path, dict):
        raw, where = copy.deepcopy(path), "<dict>"
    else:
        p = Path(os.fspath(path))
        where = str(p)
        try:
            raw = tomllib.loads(p.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read space {p}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"space {p} is not valid TOML: {exc}") from None
    allowed = {"name", "description", "steps", "sweep", *_SECTIONS}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ConfigError(f"space {where}: unknown section(s) {', '.join(extra)}; allowed: "
                          f"{', '.join(sorted(allowed))}")
    settings = dict(SWEEP_DEFAULTS)
    sw = raw.pop("sweep", {})
    if not isinstance(sw, dict):
        raise ConfigError(f"space {where}: [sweep] must be a table")
    bad = sorted(set(sw) - set(SWEEP_DEFAULTS))
    if bad:
        raise ConfigError(f"space {where}: unknown key(s) {', '.join(bad)} in [sweep]; allowed: "
                          f"{', '.join(SWEEP_DEFAULTS)}")
    settings.update(sw)
    from edgekit.evaluation import check_eval  # noqa: PLC0415

    try:
        check_eval(settings["eval"])
    except ConfigError as exc:
        raise ConfigError(f"space {where}: [sweep] eval: {exc}") from None
    metrics = METRICS[settings["eval"]]
    settings["metric"] = settings["metric"] or metrics[0]
    if settings["metric"] not in metrics:
        raise ConfigError(f"space {where}: [sweep] metric {settings['metric']!r} does not go with "
                          f"eval = {settings['eval']!r}; choose {', '.join(metrics)}")
    for k in ("trials", "cases", "grace_period"):
        if isinstance(settings[k], bool) or not isinstance(settings[k], int) or settings[k] < 1:
            raise ConfigError(f"space {where}: [sweep] {k} must be an integer >= 1 "
                              f"(got {settings[k]!r})")
    if not 0 <= float(settings["headroom"]) < 1:
        raise ConfigError(f"space {where}: [sweep] headroom must be in [0, 1) "
                          f"(got {settings['headroom']!r})")

    params: dict = {}
    for section in _SECTIONS:
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"space {where}: [{section}] must be a table")
        for k, v in table.items():
            if section == "model" and k == "hparams" or section == "features":
                continue
            if isinstance(v, dict):
                try:
                    params[f"{section}.{k}"] = _check_dist(f"{section}.{k}", v)
                except ConfigError as exc:
                    raise ConfigError(f"space {where}: {exc}") from None
    try:
        _collect("features", raw["features"], params)
    except ConfigError as exc:
        raise ConfigError(f"space {where}: {exc}") from None
    arch = raw["model"].get("arch", "dscnn")
    archs = list(arch["choice"]) if _is_dist(arch) and "choice" in arch else []
    if _is_dist(arch) and not archs:
        raise ConfigError(f"space {where}: model.arch takes a choice (got {arch!r})")
    for a in archs or [arch]:
        if a not in ARCHITECTURES:
            raise ConfigError(f"space {where}: unknown architecture {a!r} in model.arch; "
                              f"available: {', '.join(sorted(ARCHITECTURES))}")
    hp = raw["model"].setdefault("hparams", {})
    if not isinstance(hp, dict):
        raise ConfigError(f"space {where}: model.hparams must be a table")
    try:
        if archs:
            for k, v in hp.items():
                if not isinstance(v, dict) or _is_dist(v):
                    raise ConfigError(f"model.hparams.{k}: with arch a choice, hyper-parameters "
                                      "go per architecture ([model.hparams.ARCH]) (got "
                                      f"{k} = {v!r})")
                if k not in archs:
                    raise ConfigError(f"[model.hparams.{k}]: {k} is not one of the space's "
                                      f"architectures ({', '.join(archs)})")
                _collect(f"model.hparams.{k}", v, params)
        else:
            _collect("model.hparams", hp, params)
    except ConfigError as exc:
        raise ConfigError(f"space {where}: {exc}") from None
    steps = raw.get("steps", [])
    if not isinstance(steps, list):
        raise ConfigError(f"space {where}: steps must be an array of tables ([[steps]])")
    for i, s in enumerate(steps):
        if isinstance(s, dict):
            try:
                _collect(f"steps[{i}]", {k: v for k, v in s.items() if k != "kind"}, params)
            except ConfigError as exc:
                raise ConfigError(f"space {where}: {exc}") from None
    if "target.name" in params:
        raise ConfigError(f"space {where}: target.name cannot vary (the sweep's --target names it)")
    return Space(base=raw, params=params, settings=settings, path=where, archs=archs)
