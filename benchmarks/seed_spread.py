#!/usr/bin/env python
"""Spread over training seeds of the accuracies the tests assert.

Training is deterministic on one machine (``enable_op_determinism``) but not
across machines of the same kind (different CPU kernels round differently),
so a test that asserts an accuracy after training must leave a margin below
what one machine happens to see.  This script trains what each such test
trains, with other seeds, and prints the asserted quantities per seed with
their min / mean / max; the tests' bounds and docstrings quote its output.

Groups (``--group``, several allowed; default: all cheap groups):

``fsdd``      the FSDD prune-distill recipe (``recipes/fsdd-prune-distill.toml``)
              with ``[train] seed`` = each seed (the prune, distill and
              calibration seeds follow it, as in the recipe).  Its ``train``
              row is the default build (``DEFAULT_RECIPE``: same DS-CNN, epochs,
              calibration), so it measures both
              ``tests/pipeline/test_build_fsdd.py::test_default_build_on_fsdd``
              (float, int8, float - int8) and
              ``tests/pipeline/test_recipe.py::test_fsdd_prune_distill_recipe_end_to_end``
              (teacher int8 - final int8).  About 4 min per seed on an idle
              2-core machine; over 45 min under ``nice`` on a loaded one.
``fsdd_short`` the same with the suite's short compression schedule (one
              pruning step, 1 + 1 fine-tuning epochs, 2 distillation epochs):
              what the suite's prune-distill test runs (same teacher).
``compress``  the synthetic task of ``tests/compress/test_compress.py``:
              teacher accuracy, gradual prune int8 drop, unstructured prune
              accuracy, distilled / baseline accuracy (under a minute per seed).
``quantize``  the synthetic task of ``tests/quantize/test_quantize_int8.py``.
``speech``    the Speech Commands fixture tree of
              ``tests/data/test_data_speech_commands.py`` (about a minute per seed).
``dscnn_subset``, ``lmu``, ``lmuformer``, ``spiking``, ``tiny_transformer``
              the trained fixtures of ``tests/models/`` (an FSDD subset, 5-12
              epochs; a minute or two per seed).

Usage::

    EDGEKIT_DATA=../shared/data .venv/bin/python benchmarks/seed_spread.py \
        --group fsdd --seeds 0 1 2 3 4 [--out spread.txt]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekit.startup import configure_tensorflow  # noqa: E402
from tests.synthetic import SHAPE, band_task  # noqa: E402  (the compress tests' task)

configure_tensorflow()   # before TensorFlow loads, as the CLI does


class _Stages:
    """A progress sink for the build plan (:func:`edgekit.plan.run`): its lines, timed, on stderr.

    The ``trained:`` line carries the default build's float / int8 accuracy,
    so a run cut short still shows them.
    """

    stream, quiet, total = None, True, None     # no Keras progress bars

    def __init__(self, seed: int):
        self.seed, self.t0 = seed, time.monotonic()

    def _line(self, kind: str, text: str) -> None:
        print(f"[seed {self.seed} {time.monotonic() - self.t0:6.0f} s] {kind} {text}",
              file=sys.stderr, flush=True)

    def stage(self, name: str, message: str = "") -> None:
        self._line(name, message)

    def info(self, message: str) -> None:
        self._line("   ", message)

    warn = info


#: The suite's short compression schedule of the prune-distill recipe
#: (tests/pipeline/test_recipe.py::test_fsdd_prune_distill_recipe_end_to_end).
SHORT_SCHEDULE = ({"steps": 1, "finetune_epochs": 1, "final_epochs": 1}, {"epochs": 2})


def fsdd(seed: int, data: str, short: bool = False) -> dict:
    """One run of the prune-distill recipe with ``[train] seed = seed`` (the train plan).

    ``short``: with the suite's shortened compression schedule (:data:`SHORT_SCHEDULE`).
    """
    from edgekit import plan
    from edgekit.recipe import apply_overrides, load_recipe

    r = apply_overrides(load_recipe(ROOT / "recipes" / "fsdd-prune-distill.toml"),
                        [f"train.seed={seed}"])
    if short:
        for step, change in zip(r["steps"], SHORT_SCHEDULE):
            step.update(change)
    with tempfile.TemporaryDirectory(prefix="ek_spread_") as tmp:
        art = plan.run(plan.BuildSpec(out=Path(tmp) / "out", recipe=r, data=data,
                                      deploy=False), _Stages(seed))
    parts = art.report.to_dict()
    steps = {s["step"]: s for s in parts["steps"]}
    t, f = steps["train"], steps["quantize"]
    d = steps["distill"]["distillation"]
    return {
        "float": t["float_accuracy"], "int8": t["int8_accuracy"],
        "float-int8": round(t["float_accuracy"] - t["int8_accuracy"], 4),
        "final_int8": f["int8_accuracy"],
        "teacher-final": round(t["int8_accuracy"] - f["int8_accuracy"], 4),
        "baseline_int8": d.get("baseline_int8_accuracy", float("nan")),
        "flash_ratio": parts["compression"]["weight_flash_ratio"],
    }




def compress(seed: int, data: str) -> dict:
    """The trained fixture and the three training tests of tests/compress, seed ``seed``.

    The test uses seed 0 for the model init and every fit; here every one of
    them is ``seed`` (the student init is ``seed + 1``, as the test's 1 is 0 + 1).
    """
    from edgekit.compress.distill import distill
    from edgekit.compress.fit import accuracy, fit
    from edgekit.compress.measure import measure
    from edgekit.compress.prune import prune, prune_unstructured
    from edgekit.models.registry import build_model

    x, y = band_task()
    xt, yt = band_task(200, seed=1)
    m = build_model("dscnn", SHAPE, 4, seed=seed, width=24, num_blocks=2, dropout=0.0,
                    first_kernel=(4, 4), first_stride=(2, 2))
    fit(m, x, y, epochs=6, learning_rate=3e-3, seed=seed)
    row = {"teacher": accuracy(m, xt, yt)}
    before = measure(m, x, xt, yt, num_samples=100, seed=seed)
    res = prune(m, x, y, ratio=0.5, steps=2, finetune_epochs=3, learning_rate=3e-3, x_val=xt,
                y_val=yt, seed=seed)
    after = measure(res.model, x, xt, yt, num_samples=100, seed=seed)
    row["prune_int8_drop"] = round(before["int8_accuracy"] - after["int8_accuracy"], 4)
    res = prune_unstructured(m, x, y, sparsity=0.6, steps=2, finetune_epochs=1, seed=seed)
    row["unstructured"] = accuracy(res.model, xt, yt)
    student = build_model("dscnn", SHAPE, 4, seed=seed + 1, width=12, num_blocks=1, dropout=0.0,
                          first_kernel=(4, 4), first_stride=(2, 2))
    d = distill(student, m, x, y, epochs=8, temperature=4.0, alpha=0.3, learning_rate=3e-3,
                x_test=xt, y_test=yt, seed=seed).report
    row["distilled"], row["baseline"] = d["distilled_accuracy"], d["baseline_accuracy"]
    return row


def _test_module(rel: str):
    """A test module (or tests/conftest.py) imported from its file, for its data helpers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def quantize(seed: int, data: str) -> dict:
    """The ``trained`` fixture of tests/quantize/test_quantize_int8.py with model / fit seed ``seed``."""
    from edgekit.models import build_model, evaluate_float, train
    from edgekit.quantize import quantize_int8, tflite_accuracy, tflite_predict

    t = _test_module("tests/quantize/test_quantize_int8.py")
    x, y = t.synthetic(400, seed=1)
    xt, yt = t.synthetic(100, seed=2)
    model = build_model("dscnn", t.SHAPE, t.NUM_CLASSES, seed=seed, width=12, num_blocks=2,
                        first_kernel=(6, 3), dropout=0.0)
    train(model, x, y, epochs=6, batch_size=32, learning_rate=1e-2, seed=seed, progress=False)
    tfl = quantize_int8(model, x, num_samples=100, seed=seed)
    f = evaluate_float(model, xt, yt)
    i8 = tflite_accuracy(tfl, xt, yt, runtime="litert")
    a = tflite_predict(tfl, xt[:60], runtime="litert")
    b = tflite_predict(tfl, xt[:60], runtime="tflm")
    return {"float": f, "int8_litert": i8, "float-int8": f - i8,
            "litert=tflm": float(np.mean(a.argmax(1) == b.argmax(1)))}


def speech(seed: int, data: str) -> dict:
    """``test_a_zoo_model_learns_the_fixture`` (tests/data/test_data_speech_commands.py), seed ``seed``."""
    from edgekit.data import load_speech_commands
    from edgekit.models import build_model
    from edgekit.models.train import evaluate_float, train

    t = _test_module("tests/data/test_data_speech_commands.py")
    wav = _test_module("tests/conftest.py").write_wav
    with tempfile.TemporaryDirectory(prefix="ek_spread_") as tmp:
        ds = load_speech_commands(t._train_tree(Path(tmp) / "sc", wav))
    model = build_model("dscnn", ds.input_shape, ds.num_classes, seed=seed, width=24,
                        num_blocks=2, dropout=0.0)
    res = train(model, ds.x_train, ds.y_train, epochs=25, batch_size=8, seed=seed,
                learning_rate=5e-3, validation=(ds.x_val, ds.y_val), progress=False)
    return {"test": evaluate_float(model, ds.x_test, ds.y_test), "val": res.float_accuracy}


_FSDD = {}


def _fsdd(data: str):
    if "ds" not in _FSDD:
        from edgekit.data import load_fsdd

        _FSDD["ds"] = load_fsdd(Path(data) / "fsdd" / "recordings")
    return _FSDD["ds"]


def dscnn_subset(seed: int, data: str) -> dict:
    """``trained_small`` of tests/models/test_models_train.py (80 / 20 clips per digit), seed ``seed``."""
    from edgekit.data import load_fsdd
    from edgekit.models import build_model
    from edgekit.models.train import train
    from edgekit.quantize import quantize_int8, tflite_accuracy

    root = Path(data) / "fsdd" / "recordings"
    if "small" not in _FSDD:
        _FSDD["small"] = load_fsdd(root, limit_per_class=80), load_fsdd(root, limit_per_class=20)
    tr, te = _FSDD["small"]
    model = build_model("dscnn", tr.x_train.shape[1:], 10, seed=seed, width=32, num_blocks=4,
                        dropout=0.1)
    r = train(model, tr.x_train, tr.y_train, epochs=12, batch_size=32, learning_rate=1e-2,
              seed=seed, validation=(te.x_test, te.y_test), progress=False)
    acc8 = tflite_accuracy(quantize_int8(model, tr.x_train, num_samples=200), te.x_test, te.y_test)
    return {"train": r.train_accuracy, "float": r.float_accuracy, "int8": acc8,
            "float-int8": r.float_accuracy - acc8,
            "loss_ratio": r.history["loss"][-1] / r.history["loss"][0]}


def _recurrent(arch: str, hp: dict, seed: int, data: str) -> dict:
    """The ``trained`` fixtures of tests/models/test_models_{lmu,lmuformer,spiking}.py."""
    from edgekit.models import build_model
    from edgekit.models.train import train
    from edgekit.quantize import quantize_int8
    from edgekit.quantize.evaluate import tflite_accuracy

    ds = _fsdd(data)
    idx = np.sort(np.random.default_rng(0).permutation(len(ds.x_train))[:900])
    model = build_model(arch, ds.input_shape, 10, seed=seed, **hp)
    r = train(model, ds.x_train[idx], ds.y_train[idx], epochs=5, batch_size=32,
              learning_rate=1e-2, seed=seed, validation=(ds.x_test, ds.y_test), progress=False)
    b = quantize_int8(model, ds.x_train[idx], num_samples=100)
    acc8 = tflite_accuracy(b, ds.x_test, ds.y_test, runtime="tflm")
    return {"float": r.float_accuracy, "int8": acc8, "float-int8": r.float_accuracy - acc8,
            "loss_ratio": r.history["loss"][-1] / r.history["loss"][0]}


def lmu(seed, data):
    return _recurrent("lmu", {"units": 32, "order": 8, "memory_d": 8}, seed, data)


def lmuformer(seed, data):
    return _recurrent("lmuformer", {"dim": 24, "order": 6, "memory_d": 8}, seed, data)


def spiking(seed, data):
    return _recurrent("spiking_lmuformer", {"dim": 24, "order": 6, "memory_d": 8,
                                            "patch_kernel": 8, "patch_stride": 4}, seed, data)


def tiny_transformer(seed: int, data: str) -> dict:
    """``trained`` of tests/models/test_models_tiny_transformer.py, seed ``seed``."""
    import keras

    from edgekit.models import build_model
    from edgekit.models.registry import RECIPES
    from edgekit.models.train import evaluate_float, train
    from edgekit.quantize.evaluate import tflite_accuracy
    from edgekit.quantize.int8 import quantize_int8

    ds = _fsdd(data)
    sub = np.sort(np.random.default_rng(0).permutation(len(ds.y_train))[:900])
    keras.utils.set_random_seed(seed)
    model = build_model("tiny_transformer", ds.input_shape, ds.num_classes, seed=seed,
                        **RECIPES["tiny_transformer"]["hparams"])
    train(model, ds.x_train[sub], ds.y_train[sub], epochs=10, batch_size=32, seed=seed,
          learning_rate=3e-3, progress=False)
    f = evaluate_float(model, ds.x_test, ds.y_test)
    tfl = quantize_int8(model, ds.x_train[sub], num_samples=100, seed=seed)
    i8 = tflite_accuracy(tfl, ds.x_test, ds.y_test, runtime="tflm")
    return {"float": f, "int8": i8, "float-int8": f - i8}


def fsdd_short(seed: int, data: str) -> dict:
    """:func:`fsdd` with the suite's short compression schedule."""
    return fsdd(seed, data, short=True)


GROUPS = {"fsdd": fsdd, "fsdd_short": fsdd_short, "compress": compress, "quantize": quantize, "speech": speech,
          "dscnn_subset": dscnn_subset, "lmu": lmu, "lmuformer": lmuformer, "spiking": spiking,
          "tiny_transformer": tiny_transformer}
CHEAP = ("compress", "quantize", "speech")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--group", action="append", choices=sorted(GROUPS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--data", default=os.environ.get("EDGEKIT_DATA",
                                                     str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, help="also append the table to this file")
    args = ap.parse_args(argv)
    out = open(args.out, "a") if args.out else None

    def emit(line: str) -> None:
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    for group in args.group or CHEAP:
        emit(f"\n## {group}  (seeds {' '.join(map(str, args.seeds))})")
        rows = []
        for seed in args.seeds:
            t0 = time.monotonic()
            row = GROUPS[group](seed, args.data)
            rows.append(row)
            if len(rows) == 1:
                emit(f"{'seed':>4}  " + "  ".join(f"{k:>13}" for k in row) + "  seconds")
            emit(f"{seed:>4}  " + "  ".join(f"{v:>13.4f}" for v in row.values())
                 + f"  {time.monotonic() - t0:7.0f}")
        for name, fn in (("min", np.min), ("mean", np.mean), ("max", np.max)):
            emit(f"{name:>4}  " + "  ".join(f"{fn([r[k] for r in rows]):>13.4f}"
                                            for k in rows[0]))
    if out:
        out.close()


if __name__ == "__main__":
    main()
