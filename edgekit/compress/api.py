"""File-level entry points behind ``edgekit prune`` and ``edgekit distill``.

Each loads a model, runs one compression on FSDD (the training split for
training, the test split for the reported accuracy), measures before and
after (params, MACs, int8 weight flash bytes, float and int8 accuracy) and
writes ``model.keras``, ``features.json``, ``<what>.json`` and
``<what>.md`` into ``out``.  Outputs are written into a temporary directory
moved into place at the end: a failure writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import ConfigError, ModelError
from edgekit.outputs import atomic_dir

__all__ = ["CompressResult", "prune_file", "distill_file", "format_table"]

_COLS = (("params", "params"), ("macs", "MACs"), ("weight_flash_bytes", "int8 weight flash B"),
         ("float_accuracy", "float acc"), ("int8_accuracy", "int8 acc"))


@dataclass
class CompressResult:
    out_dir: Path
    report: dict
    table: str


def format_table(rows: list[dict]) -> str:
    """Markdown before/after table of measured rows (``step`` + the measure keys)."""
    head = "| step | " + " | ".join(c for _, c in _COLS) + " |"
    lines = [head, "|" + "---|" * (len(_COLS) + 1)]
    for r in rows:
        cells = []
        for k, _ in _COLS:
            v = r.get(k)
            cells.append("n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else f"{v:,}")
        lines.append(f"| {r.get('step')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _load_keras(path):
    from edgekit.models.train import load_model

    m = load_model(path)           # ModelError for anything that is not a Keras model
    if not hasattr(m, "input_shape"):
        raise ModelError(f"{path}: the file holds no Keras model")
    return m


def _fsdd(data, holdout_speaker=None):
    from edgekit.data import load_fsdd, resolve_data_root

    return load_fsdd(resolve_data_root("fsdd", data), holdout_speaker=holdout_speaker)


def _check_fits(model, ds):
    if tuple(model.input_shape[1:]) != tuple(ds.input_shape) or \
            int(model.output_shape[-1]) != ds.num_classes:
        raise ModelError(f"model input {model.input_shape} / output {model.output_shape} does "
                         f"not match FSDD features {ds.input_shape} and {ds.num_classes} classes")


def _write(out, model, ds, name: str, report: dict, table: str) -> Path:
    from edgekit.models.train import save_model

    with atomic_dir(out) as tmp:
        save_model(model, ds.feature_config, tmp)
        (tmp / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / f"{name}.md").write_text(f"# edgekit {name}\n\n{table}\n")
    return Path(out).resolve()


def prune_file(model, *, out, data=None, max_params: int | None = None,
               ratio: float | None = None, criterion: str = "l2", steps: int = 3,
               finetune_epochs: int = 2, final_epochs: int = 0, unstructured: bool = False,
               sparsity: float = 0.5, learning_rate: float = 1e-3, seed: int = 0,
               kinds=("heads", "order", "memory_d", "channels")) -> CompressResult:
    """Prune a trained Keras model on FSDD; see the module docs and :mod:`edgekit.compress.prune`."""
    from edgekit.compress.measure import measure, nonzero_per_tensor
    from edgekit.compress.prune import prune, prune_unstructured

    if not unstructured and (max_params is None) == (ratio is None):
        raise ConfigError("give exactly one of --max-params and --ratio")
    m0 = _load_keras(model)
    ds = _fsdd(data)
    _check_fits(m0, ds)
    before = measure(m0, ds.x_train, ds.x_test, ds.y_test)
    before.pop("_tflite")
    if unstructured:
        res = prune_unstructured(m0, ds.x_train, ds.y_train, sparsity=sparsity, steps=steps,
                                 finetune_epochs=finetune_epochs, learning_rate=learning_rate,
                                 seed=seed)
        after = measure(res.model, ds.x_train, ds.x_test, ds.y_test)
        nz = nonzero_per_tensor(after.pop("_tflite"))
        extra = {"kind": "unstructured", "sparsity": res.sparsity, "schedule": res.schedule,
                 "nonzero_per_tensor": nz,
                 "note": "unstructured sparsity does not shrink a dense int8 model: the zeros "
                         "are stored, so flash bytes and MACs are unchanged"}
    else:
        res = prune(m0, ds.x_train, ds.y_train, max_params=max_params, ratio=ratio,
                    criterion=criterion, steps=steps, finetune_epochs=finetune_epochs,
                    final_epochs=final_epochs, learning_rate=learning_rate, seed=seed,
                    kinds=kinds)
        after = measure(res.model, ds.x_train, ds.x_test, ds.y_test)
        after.pop("_tflite")
        extra = {"kind": "structured", "criterion": criterion, "pruned": res.pruned,
                 "channels": {k: list(v) for k, v in res.channels.items()},
                 "schedule": res.schedule, "seconds": res.seconds}
    rows = [{"step": "before", **before}, {"step": "after", **after}]
    table = format_table(rows)
    if unstructured:
        table += "\n\n" + extra["note"] + "\n\n| tensor | nonzero / elements |\n|---|---|\n" + \
            "\n".join(f"| {t['tensor'][:60]} | {t['nonzero']:,} / {t['elements']:,} |"
                      for t in extra["nonzero_per_tensor"])
    report = {"source": str(model), "before": before, "after": after, **extra}
    out_dir = _write(out, res.model, ds, "prune", report, table)
    return CompressResult(out_dir=out_dir, report=report, table=table)


def distill_file(*, teacher, student, out, data=None, student_hparams: dict | None = None,
                 epochs: int | None = None, temperature: float = 4.0, alpha: float = 0.3,
                 learning_rate: float | None = None, seed: int = 0, baseline: bool = True
                 ) -> CompressResult:
    """Distill ``teacher`` (Keras file) into ``student`` (Keras file or zoo name) on FSDD.

    ``learning_rate`` defaults to 3e-3 for a fresh zoo student (training from
    scratch) and 1e-3 for a given (trained or pruned) student (fine-tuning).
    """
    from edgekit.compress.distill import DISTILL_EPOCHS, distill
    from edgekit.compress.measure import measure
    from edgekit.models import registry

    epochs = DISTILL_EPOCHS if epochs is None else epochs
    t = _load_keras(teacher)
    ds = _fsdd(data)
    _check_fits(t, ds)
    if str(student) in registry.ARCHITECTURES:
        s = registry.build_model(str(student), ds.input_shape, ds.num_classes, seed=seed,
                                 **(student_hparams or {}))
        lr = 3e-3 if learning_rate is None else learning_rate
    else:
        if student_hparams:
            raise ConfigError("--hparam applies to a zoo student name, not a Keras file")
        s = _load_keras(student)
        lr = 1e-3 if learning_rate is None else learning_rate
    _check_fits(s, ds)
    res = distill(s, t, ds.x_train, ds.y_train, epochs=epochs, temperature=temperature,
                  alpha=alpha, learning_rate=lr, seed=seed, baseline=baseline,
                  x_test=ds.x_test, y_test=ds.y_test)
    rows = []
    for name, m in (("teacher", t), ("distilled", res.model), ("baseline", res.baseline)):
        if m is not None:
            r = measure(m, ds.x_train, ds.x_test, ds.y_test)
            r.pop("_tflite")
            rows.append({"step": name, **r})
    table = format_table(rows)
    rep = res.report
    if "verdict" in rep:
        table += (f"\n\nWith distillation {rep['distilled_accuracy']:.4f}, without "
                  f"{rep['baseline_accuracy']:.4f} (same seed {seed}, {epochs} epochs): "
                  f"{rep['verdict']} ({rep['only_distilled_right']} test examples right only "
                  f"with, {rep['only_baseline_right']} only without; McNemar p = "
                  f"{rep['p_value']}).")
    report = {"teacher": str(teacher), "student": str(student), **rep, "rows": rows}
    out_dir = _write(out, res.model, ds, "distill", report, table)
    return CompressResult(out_dir=out_dir, report=report, table=table)
