"""``edgekit build``: dataset -> model -> int8 TFLite -> C -> firmware -> QEMU -> report.

:func:`build` is the library function behind ``edgekit build``.  Each stage
is a call into its own subpackage; this module only chains them, checks
bit-exactness and writes the report.  Everything is written into a
temporary directory beside ``out`` and moved into place at the end, so a
failed build leaves no half-written output.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError, ModelError
from edgekit.log import Progress

NUM_CHECK_CASES = 50


@dataclass
class BuildResult:
    out_dir: Path
    report: dict


def _prepare_out(out: Path) -> Path:
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))


def _commit(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` (old content moved away first, then removed)."""
    out = Path(out).resolve()
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _load_tflite(path: Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None
    return data


def _train_default(data: str | None, work: Path, progress: Progress, recipe: dict,
                   arch: str | None, holdout_speaker: str | None = None,
                   budget: dict | None = None, stream_target=None,
                   dataset: str | None = None, dataset_options: dict | None = None,
                   stream_form: str = "window") -> tuple[bytes, dict, np.ndarray]:
    """Train + quantize the default recipe; returns (tflite, report parts, real inputs).

    With ``stream_target`` (a recurrent architecture) the streaming form
    ``stream_form`` is also built and checked into ``work/stream``
    (:mod:`edgekit.stream_build`).
    ``dataset`` / ``dataset_options``: see :func:`edgekit.data.load_dataset`.
    """
    from edgekit.data import (check_dataset, dataset_summary, describe_dataset,  # noqa: PLC0415
                              load_dataset, resolve_data_root)
    from edgekit.models import registry  # noqa: PLC0415
    from edgekit.models.train import evaluate_float, save_model, train  # noqa: PLC0415
    from edgekit.quantize.evaluate import (input_quantization, quantize_input,  # noqa: PLC0415
                                           tflite_accuracy)
    from edgekit.quantize.int8 import quantize_int8  # noqa: PLC0415

    dataset = dataset or "fsdd"
    opts = dict(dataset_options or {})
    if holdout_speaker:
        opts["holdout_speaker"] = holdout_speaker
    check_dataset(dataset, opts)
    progress.stage("data", f"loading {describe_dataset(dataset, opts)}")
    root = resolve_data_root(dataset, data)
    ds = load_dataset(dataset, root, **opts)
    if ds.skipped:
        progress.warn(f"skipped {len(ds.skipped)} unreadable files, e.g. {ds.skipped[0][0]}")
    progress.info(f"{len(ds.y_train)} train / {len(ds.y_test)} test clips from {root}, "
                  f"features {ds.feature_config.shape}")

    if arch and arch != recipe["arch"]:
        recipe = registry.default_recipe(arch)
    arch = recipe["arch"]
    hparams = recipe["hparams"]
    sizing = None
    if budget:
        from edgekit.budget.sizing import pick_width  # noqa: PLC0415

        progress.stage("size", "largest width within " + ", ".join(
            f"{k}={v:,}" for k, v in budget.items() if k != "target" and v is not None))
        choice = pick_width(arch, ds.input_shape, ds.num_classes, hparams, seed=recipe["seed"],
                            **budget)
        hparams = choice.hparams
        sizing = {"param": choice.param, "width": choice.width, "params": choice.params,
                  "flash_bytes": choice.flash_bytes, "ram_bytes": choice.ram_bytes,
                  "limits": budget, "candidates": choice.tried}
        progress.info(choice.explain())
    progress.stage("train", f"{arch} {hparams}, {recipe['epochs']} epochs, seed {recipe['seed']}")
    model = registry.build_model(arch, ds.input_shape, ds.num_classes, seed=recipe["seed"],
                                 **hparams)
    val = (ds.x_val, ds.y_val) if ds.x_val is not None and len(ds.x_val) else None
    result = train(model, ds.x_train, ds.y_train, epochs=recipe["epochs"],
                   batch_size=recipe["batch_size"], seed=recipe["seed"],
                   learning_rate=recipe["learning_rate"], progress=progress.stream is not None
                   and not progress.quiet, validation=val, **recipe.get("train_kwargs", {}))
    float_acc = evaluate_float(model, ds.x_test, ds.y_test)
    save_model(model, ds.feature_config, work)
    progress.info(f"float test accuracy {float_acc:.4f} ({result.seconds:.0f} s)")
    spikes = None
    if arch.startswith("spiking"):
        from edgekit.models.spiking import spike_rates  # noqa: PLC0415

        spikes = spike_rates(model, ds.x_test)
        progress.info(f"spike rate {spikes['__all__']['rate']:.3f} (fraction of non-zero "
                      "activations over the test split)")

    progress.stage("quantize", "full int8 with a representative set from the train split")
    tflite = quantize_int8(model, ds.x_train, num_samples=recipe.get("num_samples", 300),
                           seed=recipe["seed"])
    int8_acc = tflite_accuracy(tflite, ds.x_test, ds.y_test, runtime="tflm")
    progress.info(f"int8 test accuracy {int8_acc:.4f} (tflite_micro)")
    scale, zp = input_quantization(tflite)
    real = quantize_input(ds.x_test, scale, zp)
    parts = {
        "model": {"arch": arch, "hparams": hparams, "params": registry.count_params(model),
                  "macs": registry.count_macs(model)},
        "accuracy": {"float": float_acc, "int8": int8_acc, "split": ds.split,
                     "test_cases": int(len(ds.y_test))},
        "training": {"epochs": result.epochs, "seconds": round(result.seconds, 1),
                     "seed": recipe["seed"], "train_accuracy": result.train_accuracy},
        "dataset": dataset_summary(ds, root, opts),
        "features": ds.feature_config.to_dict(),
    }
    if val is not None:
        parts["accuracy"]["validation"] = result.float_accuracy
    if sizing:
        parts["sizing"] = sizing
    if spikes:
        parts["spikes"] = spikes
    if stream_target is not None:
        from edgekit.stream_build import build_streaming  # noqa: PLC0415

        progress.stage("stream", "per-frame streaming form: int8, generated C, "
                       f"{stream_target.name} in QEMU")
        parts["streaming"] = build_streaming(model, ds.x_train, ds.x_test, ds.y_test, tflite,
                                             work / "stream", stream_target, progress,
                                             form=stream_form)
    return tflite, parts, real


def _graph_macs(graph) -> int:
    """MACs of an int8 graph (for a model given as .tflite): the budget's per-op count."""
    from edgekit.budget.layers import op_macs  # noqa: PLC0415

    return sum(op_macs(graph, op) for op in graph.operators)


def _graph_params(graph) -> int:
    seen = set()
    total = 0
    for op in graph.operators:
        for t in op.inputs:
            if t >= 0 and t not in seen and graph.tensors[t].is_const and \
                    graph.tensors[t].dtype in ("int8", "int32", "int16"):
                seen.add(t)
                total += graph.tensors[t].num_elements
    return total


def _check_inputs(graph, real: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    x = graph.tensors[graph.inputs[0]]
    if x.dtype != "int8":
        raise ModelError(f"model input is {x.dtype}; edgekit build needs an int8 input")
    rng = np.random.default_rng(seed)
    cases = []
    if real is not None and len(real):
        k = min(len(real), n - n // 5)
        pick = rng.choice(len(real), size=k, replace=False)
        cases.extend(np.asarray(real[i], np.int8).reshape(-1) for i in sorted(pick))
    while len(cases) < n:
        cases.append(rng.integers(-128, 128, x.num_elements, dtype=np.int8))
    return np.stack(cases)


def train(*, arch: str | None = None, data: str | None = None, out: str | Path = "model",
          holdout_speaker: str | None = None, max_params: int | None = None,
          max_flash: int | None = None, max_ram: int | None = None, target: str = "cortex-m",
          progress: Progress | None = None, dataset: str | None = None,
          dataset_options: dict | None = None) -> BuildResult:
    """Train a zoo architecture on a dataset and quantize it (``edgekit train``).

    Writes ``model.keras``, ``features.json``, ``model.tflite`` and
    ``train_report.json`` to ``out`` (atomically).  With ``max_params`` /
    ``max_flash`` / ``max_ram`` the largest width of the architecture that
    fits is chosen first (:func:`edgekit.models.sizing.pick_width`).
    ``dataset`` is ``"fsdd"`` (default), ``"speech_commands"`` or
    ``"esc50"`` and ``dataset_options`` its loader options (see
    :func:`edgekit.data.load_dataset`); every dataset is trained with the
    architecture's FSDD recipe.
    """
    from edgekit.models.registry import DEFAULT_RECIPE  # noqa: PLC0415

    progress = progress or Progress()
    budget = None
    if max_params is not None or max_flash is not None or max_ram is not None:
        from edgekit.emulator import get_target  # noqa: PLC0415

        budget = {"max_params": max_params, "max_flash": max_flash, "max_ram": max_ram,
                  "target": get_target(target).name}
    progress.total = 4 if budget else 3
    out = Path(out)
    tmp = _prepare_out(out)
    try:
        tflite, parts, _ = _train_default(data, tmp, progress, DEFAULT_RECIPE, arch,
                                          holdout_speaker, budget, dataset=dataset,
                                          dataset_options=dataset_options)
        (tmp / "model.tflite").write_bytes(tflite)
        parts["model"]["tflite_bytes"] = len(tflite)
        (tmp / "train_report.json").write_text(json.dumps(parts, indent=2) + "\n")
        _commit(tmp, out)
        tmp = None
        return BuildResult(out_dir=out.resolve(), report=parts)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def build(*, target: str = "cortex-m", data: str | None = None, out: str | Path = "build",
          model: str | Path | None = None, arch: str | None = None, cases: int = NUM_CHECK_CASES,
          holdout_speaker: str | None = None, progress: Progress | None = None,
          calib: str | Path | None = None, recipe: str | Path | dict | None = None,
          streaming: bool = False, dataset: str | None = None,
          dataset_options: dict | None = None, stream_form: str = "window") -> BuildResult:
    """Run the whole pipeline and write ``out``.

    Parameters
    ----------
    target : str
        Cortex-M target name (``cortex-m`` = ``cortex-m4``).
    data : str, optional
        Dataset location (else ``$EDGEKIT_DATA``, else the cache).
    out : path
        Output directory (replaced atomically when the build succeeds).
    model : path, optional
        An int8 ``.tflite`` to deploy instead of training the default recipe, or an
        ``.onnx`` model (converted first by :func:`edgekit.convert.convert_onnx`).
    arch : str, optional
        Zoo architecture to train (default: the recipe's).
    cases : int
        Inputs checked for bit-exactness against tflite_micro (host and QEMU).
    holdout_speaker : str, optional
        Evaluate on this FSDD speaker, trained on the others (speaker-independent).
    calib : path, optional
        Calibration samples (.npy/.npz, ONNX layout) for an ``.onnx`` model.
    recipe : path or dict, optional
        A build recipe (TOML, see :mod:`edgekit.recipe`): train, compression
        steps (prune, distill), quantize; adds ``steps``, ``compression`` and
        ``quantization`` (per-layer SQNR) to the report.
    streaming : bool
        Also build the per-frame streaming form of a recurrent zoo model
        (``lmu``, ``lmuformer``, ``spiking_lmuformer``) into ``out/stream``
        and check it (``streaming`` in the report).
    stream_form : {"window", "recurrent"}
        Which streaming form (:mod:`edgekit.models.streaming`): ``window``
        reproduces the window model's int8 scores, ``recurrent`` keeps the
        LMU memory itself as state (least RAM, approximate).
    dataset : str, optional
        ``"fsdd"`` (default), ``"speech_commands"`` or ``"esc50"``.
    dataset_options : dict, optional
        The dataset loader's options (:func:`edgekit.data.load_dataset`).
    """
    from edgekit.emulator import (build_firmware, build_host, check_toolchain,  # noqa: PLC0415
                                  get_target, run_host, run_qemu)
    from edgekit.firmware_export import generate, read_tflite, write_c_array  # noqa: PLC0415
    from edgekit.models.registry import DEFAULT_RECIPE  # noqa: PLC0415
    from edgekit.reference import run_litert, run_tflm, tflm_arena  # noqa: PLC0415

    progress = progress or Progress()
    onnx = model is not None and str(model).lower().endswith(".onnx")
    progress.total = (7 + bool(streaming)) if model is None else (9 if onnx else 5)
    if onnx != (calib is not None):
        raise ConfigError("--calib is needed with an .onnx --model" if onnx else
                          "--calib goes with an .onnx --model")
    rcp = None
    if recipe is not None:
        if model is not None or arch or holdout_speaker or dataset or dataset_options:
            raise ConfigError("--recipe names the model to train; it excludes --model, --arch, "
                              "--holdout-speaker, --dataset and --data-option (set them in the "
                              "recipe)")
        from edgekit.recipe import load_recipe  # noqa: PLC0415

        rcp = load_recipe(recipe)
        if rcp["target"].get("name") and \
                get_target(rcp["target"]["name"]).name != get_target(target).name:
            raise ConfigError(f"the recipe targets {rcp['target']['name']} but --target is "
                              f"{target}")
        progress.total = 7 + len(rcp["steps"])
    if model is not None and (arch or holdout_speaker or dataset or dataset_options):
        raise ConfigError("--model deploys a given .tflite; --arch/--holdout-speaker/--dataset/"
                          "--data-option need training")
    if cases < 1:
        raise ConfigError(f"cases must be >= 1 (got {cases})")
    if streaming:
        from edgekit.models.registry import RECURRENT  # noqa: PLC0415
        from edgekit.models.streaming import FORMS  # noqa: PLC0415

        if stream_form not in FORMS:
            raise ConfigError(f"unknown streaming form {stream_form!r}; available: "
                              f"{', '.join(FORMS)}")

        chosen = arch or DEFAULT_RECIPE["arch"]
        if model is not None or rcp is not None or chosen not in RECURRENT:
            raise ConfigError("--streaming needs --arch " + "|".join(sorted(RECURRENT))
                              + (f" (got {chosen})" if model is None and rcp is None
                                 else " (not --model or --recipe)"))
    tgt = get_target(target)
    check_toolchain()                    # fail before any training
    check_toolchain(host=True)
    out = Path(out)
    tmp = _prepare_out(out)
    try:
        report: dict = {"edgekit": __import__("edgekit").__version__}
        if rcp is not None:
            from edgekit.recipe import run_recipe  # noqa: PLC0415

            tflite, parts, real = run_recipe(rcp, data, tmp, progress)
            report.update(parts)
        elif model is None:
            tflite, parts, real = _train_default(data, tmp, progress, DEFAULT_RECIPE, arch,
                                                 holdout_speaker,
                                                 stream_target=tgt if streaming else None,
                                                 stream_form=stream_form,
                                                 dataset=dataset, dataset_options=dataset_options)
            report.update(parts)
        else:
            progress.stage("model", f"deploying {model}")
            real = None
            if onnx:
                from edgekit.convert import convert_onnx  # noqa: PLC0415
                conv = convert_onnx(model, calib, out=tmp / "conversion", progress=progress)
                tflite, real, report["conversion"] = conv.tflite, conv.inputs_int8, conv.report
            else:
                tflite = _load_tflite(Path(model))
        (tmp / "model.tflite").write_bytes(tflite)

        progress.stage("export", "generated C (no interpreter, static arena)")
        graph = read_tflite(tflite)
        src = tmp / "firmware" / "src"
        exp = generate(graph, src, source=str(model or "model.tflite"))
        write_c_array(tflite, graph, tmp / "firmware" / "tflite_array")
        tflm_mem = tflm_arena(tflite)
        progress.info(f"{len(graph.operators)} ops, arena {exp.plan.arena_bytes} B "
                      f"(lower bound {exp.plan.lower_bound_bytes} B, "
                      f"TFLM host arena {tflm_mem['total_bytes']} B"
                      + (f"; ops reordered ({exp.plan.order_strategy}), file order "
                         f"{exp.plan.file_order_arena_bytes} B" if exp.plan.order_strategy != "file"
                         else "") + ")")
        if model is not None:
            report["model"] = {"source": str(model), "params": _graph_params(graph),
                               "macs": _graph_macs(graph)}
        report["model"]["ops"] = graph.op_counts()

        progress.stage("verify-host", f"host build vs tflite_micro on {cases} inputs")
        inputs = _check_inputs(graph, real, cases, seed=0)
        ref = run_tflm(tflite, inputs).reshape(len(inputs), -1).view(np.uint8)
        host_exe = build_host(src, tmp / "firmware" / "host")
        host_out = run_host(host_exe, inputs.view(np.uint8))
        host_exact = bool(np.array_equal(host_out, ref))
        lite = run_litert(tflite, inputs).reshape(len(inputs), -1)
        max_diff_litert = int(np.abs(lite.astype(np.int32) - ref.view(np.int8).astype(np.int32)).max())

        progress.stage("firmware", f"{tgt.name}: arm-none-eabi-gcc, QEMU {tgt.qemu_machine}")
        fw = build_firmware(src, tmp / "firmware" / tgt.name, target=tgt)
        run = run_qemu(fw.elf, inputs.view(np.uint8), target=tgt)
        qemu_exact = bool(np.array_equal(run.outputs, ref))
        mismatches = int((run.outputs != ref).any(axis=1).sum())
        progress.info(f"QEMU: {'bit-exact' if qemu_exact else f'{mismatches} cases differ'} "
                      f"on {len(inputs)} inputs, {int(np.mean(run.instructions)):,} instructions "
                      f"per inference")

        report["target"] = {"name": tgt.name, "core": tgt.core, "machine": tgt.qemu_machine,
                            "cpu_flags": list(tgt.cpu_flags)}
        report["memory"] = {
            "flash_bytes": fw.flash_bytes, "ram_bytes": fw.ram_bytes,
            "text_bytes": fw.text, "data_bytes": fw.data, "bss_bytes": fw.bss,
            "weights_bytes": exp.weight_bytes,
            "state_bytes": exp.state_bytes,
            "arena_bytes": exp.plan.arena_bytes,
            "arena_lower_bound_bytes": exp.plan.lower_bound_bytes,
            "tflm_arena_host_bytes": tflm_mem["total_bytes"],
            "tflm_tensor_arena_host_bytes": tflm_mem.get("head_bytes"),
            "arena_vs_tflm": round(exp.plan.arena_bytes / tflm_mem["total_bytes"], 4),
            "arena_vs_lower_bound": round(exp.plan.arena_bytes / max(exp.plan.lower_bound_bytes, 1), 4),
            # The op order of the generated code (see firmware_export.schedule)
            # and the arena the file order would need.
            "arena_op_order": exp.plan.order_strategy,
            "arena_file_order_bytes": exp.plan.file_order_arena_bytes,
            "stack_bytes": run.stack_bytes,
        }
        report["emulator"] = {
            "bit_exact": bool(host_exact and qemu_exact), "host_bit_exact": host_exact,
            "qemu_bit_exact": qemu_exact, "cases": int(len(inputs)),
            "real_cases": int(0 if real is None else min(len(real), cases - cases // 5)),
            "mismatched_cases": mismatches, "reference": "tflite_micro",
            "max_diff_litert": max_diff_litert,
            "instructions": int(round(float(np.mean(run.instructions)))),
            "instructions_min": int(min(run.instructions)),
            "instructions_max": int(max(run.instructions)),
            "clock": run.clock, "per_op": [{"index": p["index"], "op": p["op"],
                                             "instructions": p["instructions"]}
                                            for p in run.per_op],
        }
        (tmp / "memory_plan.json").write_text(json.dumps(exp.plan.to_dict(), indent=1))

        from edgekit.report import write_report  # noqa: PLC0415
        progress.stage("report", f"{out}/report.json, report.md")
        write_report(report, tmp)
        _commit(tmp, out)
        tmp = None
        return BuildResult(out_dir=Path(out).resolve(), report=report)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
