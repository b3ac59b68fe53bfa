"""The ``edgekit`` command line: a thin layer over the library.

Each command parses its arguments and calls one library function.  Errors
of the :class:`~edgekit.errors.EdgekitError` family are turned into a
one-line message and exit code 2 here, and only here.
"""

from __future__ import annotations

import json
import sys

import click

from edgekit.compress.distill import DISTILL_EPOCHS
from edgekit.errors import EdgekitError
from edgekit.pipeline import NUM_CHECK_CASES
from edgekit.quiet import quiet_startup
from edgekit.startup import configure_tensorflow


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgekitError as e:
            click.echo(f"edgekit: error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="edgekit")
def main() -> None:
    """edgekit: tiny audio models from training to a Cortex-M microcontroller."""
    configure_tensorflow()   # before any command can import TensorFlow
    quiet_startup()


_SET_HELP = ("Recipe override SECTION.KEY=VALUE, repeatable: train.epochs=4, "
             "model.hparams.width=32, dataset.limit_per_class=20 (see `edgekit recipe ARCH`).")
_EVAL_HELP = ("official: the dataset's test split; loso: leave one FSDD speaker out, each in "
              "turn (6 runs into OUT/SPEAKER), int8 accuracy per speaker, mean and worst.")
_DATASET_HELP = "Dataset to train on: fsdd (default), speech_commands or esc50."
_DATA_OPTION_HELP = ("Dataset option KEY=VALUE, repeatable: words=kws12 or words=yes,no, "
                     "silence_fraction=0.1, unknown_fraction=0.1 (speech_commands); "
                     "test_fold=1, val_fold=4, esc10=true (esc50); limit_per_class=N.")


@main.command()
@click.option("--target", default="cortex-m", show_default=True,
              help="Cortex-M core (cortex-m = cortex-m4).")
@click.option("--data", "--data-dir", "data", type=click.Path(), default=None,
              help="Dataset location (else $EDGEKIT_DATA, else the cache).")
@click.option("--out", type=click.Path(), default="build", show_default=True)
@click.option("--model", type=click.Path(), default=None,
              help="Deploy this int8 .tflite instead of training.")
@click.option("--arch", default=None, help="Zoo architecture to train (default: dscnn).")
@click.option("--cases", type=int, default=NUM_CHECK_CASES, show_default=True,
              help="Inputs checked bit-exact against tflite_micro.")
@click.option("--holdout-speaker", default=None,
              help="FSDD speaker to test on (trained on the others).")
@click.option("--calib", type=click.Path(), default=None,
              help="Calibration samples (.npy/.npz, ONNX layout) for an .onnx --model.")
@click.option("--recipe", type=click.Path(), default=None,
              help="Build recipe (TOML): train -> prune -> distill -> quantize (see recipes/; "
                   "`edgekit recipe ARCH` prints a built-in one).")
@click.option("--streaming", is_flag=True, default=False,
              help="Also build the per-frame streaming form of --arch lmu|lmuformer|"
                   "spiking_lmuformer|lstm into OUT/stream.")
@click.option("--stream-form", type=click.Choice(["window", "recurrent"]), default="window",
              show_default=True,
              help="window: the window model's int8 scores exactly (input/feature histories "
                   "as state); recurrent: the LMU memory as state (least RAM, approximate).")
@click.option("--dataset", default=None, help=_DATASET_HELP)
@click.option("--data-option", "data_options", multiple=True, help=_DATA_OPTION_HELP)
@click.option("--set", "overrides", multiple=True, help=_SET_HELP)
@click.option("--frontend", default=None,
              help="With --model: put the audio front end ahead of it (tflm-micro, fsdd or a "
                   ".json front-end config); the model's input must be [1,N,C] or [1,N,C,1] "
                   "int8 frames.")
@click.option("--frames", type=int, default=None,
              help="Frames per model input with --frontend (default: the model's N).")
@click.option("--audio-clips", type=int, default=20, show_default=True,
              help="Raw-audio test clips run in QEMU through edgekit_push_audio (all of them "
                   "on the host build).")
@click.option("--eval", "evaluation", type=click.Choice(["official", "loso"]), default="official",
              show_default=True, help=_EVAL_HELP)
@click.option("--stateful", is_flag=True, default=False,
              help="With --model: keep the LSTM state between edgekit_invoke calls until "
                   "edgekit_reset() (tflite_micro's semantics); default: reset at every call.")
def build(target, data, out, model, arch, cases, holdout_speaker, calib, recipe,
          streaming, stream_form, dataset, data_options, overrides, frontend, frames,
          audio_clips, evaluation, stateful) -> None:
    """Train (or take --model), quantize, generate C, run in QEMU, report."""
    from edgekit.pipeline import build as run_build  # noqa: PLC0415

    result = run_build(target=target, data=data, out=out, model=model, arch=arch, cases=cases,
                       holdout_speaker=holdout_speaker, calib=calib, recipe=recipe,
                       streaming=streaming, stream_form=stream_form, dataset=dataset,
                       dataset_options=_hparams(data_options, "--data-option"),
                       overrides=overrides, frontend=frontend, frames=frames,
                       audio_clips=audio_clips, evaluation=evaluation, stateful=stateful)
    r = result.report
    if evaluation == "loso":
        click.echo(json.dumps(r, indent=1))
        click.echo(f"wrote {result.out_dir}/loso.json, loso.md, one build per speaker")
        return
    summary = {k: r.get(k) for k in ("accuracy",)} if "accuracy" in r else {}
    summary["memory"] = {k: r["memory"][k] for k in ("flash_bytes", "ram_bytes", "arena_bytes")}
    summary["emulator"] = {k: r["emulator"][k] for k in ("bit_exact", "cases", "instructions")}
    if "conversion" in r:
        summary["conversion"] = {k: r["conversion"][k] for k in ("cosine", "top1_agreement")}
    if "compression" in r:
        summary["compression"] = r["compression"]
    if "streaming" in r:
        summary["streaming"] = {k: r["streaming"][k] for k in (
            "form", "bit_exact", "instructions_per_hop", "state_bytes",
            "decisions_equal_window")}
    if "audio" in r:
        summary["audio"] = {k: r["audio"].get(k) for k in (
            "accuracy_raw_audio_device", "device", "bit_exact",
            "frontend_instructions_per_stride")}
        if "ram" in r["audio"]:
            summary["audio"]["ram_total_bytes"] = r["audio"]["ram"]["total_bytes"]
    click.echo(json.dumps(summary, indent=1))
    click.echo(f"wrote {result.out_dir}/report.json, report.md, metadata.json, model.tflite, "
               "firmware/")


@main.command()
@click.argument("elf", type=click.Path())
@click.option("--target", default="cortex-m4", show_default=True)
@click.option("--inputs", type=click.Path(), default=None,
              help="Raw int8 input bytes (.bin) or .npy; default: random inputs.")
@click.option("--cases", type=int, default=1, show_default=True)
@click.option("--wav", type=click.Path(), default=None,
              help="Push this WAV (at the front end's rate) through a firmware from sound "
                   "(firmware/<target>-audio/model.elf) and print every model run as JSON.")
def emulate(elf, target, inputs, cases, wav) -> None:
    """Run a firmware ELF in QEMU and print its per-op instruction table (or, --wav, its scores)."""
    if wav is not None:
        from edgekit.emulator.emulate import emulate_wav  # noqa: PLC0415

        if inputs is not None:
            raise click.UsageError("--wav and --inputs exclude each other")
        click.echo(json.dumps(emulate_wav(elf, wav, target=target), indent=1))
        return
    from edgekit.emulator.emulate import emulate as run, format_per_op  # noqa: PLC0415

    click.echo(format_per_op(run(elf, target=target, inputs=inputs, cases=cases)))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the lists as JSON.")
def targets(as_json) -> None:
    """List Cortex-M cores (QEMU machine) and boards (flash, RAM, clock) for --target."""
    from edgekit.budget import format_targets, list_targets  # noqa: PLC0415

    click.echo(json.dumps(list_targets(), indent=1) if as_json else format_targets())


@main.command()
@click.argument("model", type=click.Path())
@click.option("--target", default="cortex-m", show_default=True,
              help="Core (cortex-m4 ...) or board (nrf52840 ...); see `edgekit targets`.")
@click.option("--out", type=click.Path(), default=None,
              help="Write budget.json, budget.md and budget.png into this directory.")
@click.option("--flash", default=None, help="Flash size in bytes (256K, 1M ok): a custom part.")
@click.option("--ram", default=None, help="RAM size in bytes (8000, 64K ok): a custom part.")
@click.option("--headroom", type=float, default=0.10, show_default=True,
              help="Fraction of flash and RAM kept free.")
@click.option("--fail-on-budget", is_flag=True,
              help="Exit with status 2 if the model does not fit.")
def budget(model, target, out, flash, ram, headroom, fail_on_budget) -> None:
    """Per-layer params/MACs, flash, RAM and time of MODEL on a target; does it fit?

    MODEL is an int8 .tflite, or a Keras file / zoo architecture name (dscnn)
    quantized first with random calibration data.
    """
    from edgekit.budget import BudgetError, budget as run_budget  # noqa: PLC0415

    try:
        rep = run_budget(model, target=target, out=out, flash=flash, ram=ram, headroom=headroom,
                         fail_on_budget=fail_on_budget)
    except BudgetError as e:
        if e.report is not None:
            click.echo(e.report.table)
        raise
    click.echo(rep.table)
    if rep.out_dir is not None:
        click.echo(f"wrote {rep.out_dir}/budget.json, budget.md, budget.png")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--calib", type=click.Path(), required=True,
              help="Calibration samples (.npy/.npz) in the ONNX model's own layout (NCHW, NCL).")
@click.option("--out", type=click.Path(), default="model.tflite", show_default=True,
              help="Output .tflite (report.json/report.md beside it) or a directory.")
@click.option("--input-shape", default=None, help="Static input shape, e.g. 1,10,49.")
@click.option("--min-cosine", type=float, default=None,
              help="Fail unless int8 vs ONNX cosine similarity reaches this.")
def convert(model, calib, out, input_shape, min_cosine) -> None:
    """Convert an ONNX MODEL to a fully int8 TFLite and verify it against onnxruntime."""
    from edgekit.convert import convert_onnx  # noqa: PLC0415

    res = convert_onnx(model, calib, out=out, input_shape=input_shape, min_cosine=min_cosine)
    c = res.report
    click.echo(json.dumps({k: c[k] for k in ("cosine", "cosine_min", "max_abs_error",
                                             "top1_agreement")} | {"layout": c["layout"]["input"]},
                          indent=1))
    click.echo("wrote " + ", ".join(str(p) for p in res.files))


def _hparams(items, hint: str = "--hparam") -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE (got {item!r})", param_hint=hint)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@main.command()
@click.argument("model", type=click.Path())
@click.option("--out", type=click.Path(), default="pruned", show_default=True,
              help="Output directory (model.keras, prune.json, prune.md).")
@click.option("--data", type=click.Path(), default=None, help="FSDD location.")
@click.option("--max-params", type=int, default=None, help="Parameter budget of the result.")
@click.option("--ratio", type=float, default=None, help="Or: fraction of parameters to keep.")
@click.option("--criterion", type=click.Choice(["l1", "l2"]), default="l2", show_default=True)
@click.option("--steps", type=int, default=3, show_default=True, help="Pruning rounds.")
@click.option("--finetune-epochs", type=int, default=2, show_default=True)
@click.option("--final-epochs", type=int, default=0, show_default=True)
@click.option("--unstructured", is_flag=True,
              help="Magnitude pruning of single weights (does not shrink int8 flash).")
@click.option("--sparsity", type=float, default=0.5, show_default=True)
@click.option("--kinds", multiple=True,
              type=click.Choice(["heads", "order", "memory_d", "channels"]),
              help="What may shrink (repeatable; default: all): attention heads, LMU order, "
                   "LMU memory channels, channels/units.")
@click.option("--seed", type=int, default=0, show_default=True)
def prune(model, out, data, max_params, ratio, criterion, steps, finetune_epochs, final_epochs,
          unstructured, sparsity, kinds, seed) -> None:
    """Structured pruning of a trained Keras MODEL on FSDD; before/after table."""
    from edgekit.compress.api import prune_file  # noqa: PLC0415

    res = prune_file(model, out=out, data=data, max_params=max_params, ratio=ratio,
                     criterion=criterion, steps=steps, finetune_epochs=finetune_epochs,
                     final_epochs=final_epochs, unstructured=unstructured, sparsity=sparsity,
                     seed=seed, kinds=kinds or ("heads", "order", "memory_d", "channels"))
    click.echo(res.table)
    click.echo(f"wrote {res.out_dir}/model.keras, prune.json, prune.md")


@main.command()
@click.option("--teacher", type=click.Path(), required=True, help="Teacher Keras model.")
@click.option("--student", required=True,
              help="Student: a zoo architecture name (dscnn) or a Keras file (e.g. pruned).")
@click.option("--hparam", multiple=True, help="Zoo student hyper-parameter KEY=VALUE.")
@click.option("--out", type=click.Path(), default="distilled", show_default=True)
@click.option("--data", type=click.Path(), default=None, help="FSDD location.")
@click.option("--epochs", type=int, default=DISTILL_EPOCHS, show_default=True)
@click.option("--temperature", type=float, default=4.0, show_default=True)
@click.option("--alpha", type=float, default=0.3, show_default=True,
              help="Weight of the hard-label loss.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-baseline", is_flag=True, help="Skip the hard-label baseline run.")
def distill(teacher, student, hparam, out, data, epochs, temperature, alpha, seed,
            no_baseline) -> None:
    """Distill TEACHER into STUDENT on FSDD; accuracy with vs without distillation."""
    from edgekit.compress.api import distill_file  # noqa: PLC0415

    res = distill_file(teacher=teacher, student=student, student_hparams=_hparams(hparam),
                       out=out, data=data, epochs=epochs, temperature=temperature, alpha=alpha,
                       seed=seed, baseline=not no_baseline)
    click.echo(res.table)
    click.echo(f"wrote {res.out_dir}/model.keras, distill.json, distill.md")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--out", type=click.Path(), default="model.tflite", show_default=True,
              help="Output .tflite (quantize.json/.md beside it) or a directory.")
@click.option("--calib", default="fsdd", show_default=True,
              help="fsdd (train split), random, mfcc (synthetic) or a .npy/.npz file.")
@click.option("--data", type=click.Path(), default=None, help="FSDD location (--calib fsdd).")
@click.option("--num-samples", type=int, default=300, show_default=True)
@click.option("--sampling", type=click.Choice(["random", "first", "stratified"]),
              default="random", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--int16", "int16", is_flag=True, help="16x8 mode: int16 activations.")
@click.option("--sqnr-threshold", type=float, default=None,
              help="Warn for layers below this SQNR (dB).")
@click.option("--compare", type=click.Path(), default=None,
              help="Reference int8 .tflite of the same network: compare ops and scales.")
def quantize(model, out, calib, data, num_samples, sampling, seed, int16, sqnr_threshold,
             compare) -> None:
    """Post-training quantization of a Keras file / SavedModel / edgekit model dir."""
    from edgekit.quantize.api import quantize_file  # noqa: PLC0415

    res = quantize_file(model, out=out, calib=calib, data=data, num_samples=num_samples,
                        sampling=sampling, seed=seed,
                        activations="int16" if int16 else "int8",
                        sqnr_threshold_db=sqnr_threshold, compare=compare)
    click.echo(res.text)
    click.echo(f"wrote {res.tflite_path}, quantize.json, quantize.md")


@main.command("train")
@click.option("--arch", default=None, help="Zoo architecture (default: dscnn).")
@click.option("--data", "--data-dir", "data", type=click.Path(), default=None,
              help="Dataset location (else $EDGEKIT_DATA, else the cache).")
@click.option("--dataset", default=None, help=_DATASET_HELP)
@click.option("--data-option", "data_options", multiple=True, help=_DATA_OPTION_HELP)
@click.option("--out", type=click.Path(), default="model", show_default=True)
@click.option("--holdout-speaker", default=None)
@click.option("--max-params", type=int, default=None, help="Pick the widest model within N params.")
@click.option("--max-flash", type=int, default=None, help="... within this many flash bytes.")
@click.option("--max-ram", type=int, default=None, help="... within this many RAM bytes.")
@click.option("--target", default="cortex-m", show_default=True,
              help="Core the flash/RAM limits are measured on.")
@click.option("--recipe", type=click.Path(), default=None,
              help="Recipe (TOML) instead of the architecture's built-in one.")
@click.option("--set", "overrides", multiple=True, help=_SET_HELP)
@click.option("--eval", "evaluation", type=click.Choice(["official", "loso"]), default="official",
              show_default=True, help=_EVAL_HELP)
def train_cmd(arch, data, dataset, data_options, out, holdout_speaker, max_params, max_flash,
              max_ram, target, recipe, overrides, evaluation) -> None:
    """Train a zoo model on a dataset (FSDD by default) and quantize it to int8."""
    from edgekit.pipeline import train  # noqa: PLC0415

    r = train(arch=arch, data=data, out=out, holdout_speaker=holdout_speaker,
              max_params=max_params, max_flash=max_flash, max_ram=max_ram, target=target,
              dataset=dataset, dataset_options=_hparams(data_options, "--data-option"),
              recipe=recipe, overrides=overrides, evaluation=evaluation)
    if evaluation == "loso":
        click.echo(json.dumps(r.report, indent=1))
        click.echo(f"wrote {r.out_dir}/loso.json, loso.md, one model per speaker")
        return
    click.echo(json.dumps({k: r.report[k] for k in ("model", "accuracy")}, indent=1))
    click.echo(f"wrote {r.out_dir}/model.keras, features.json, model.tflite, train_report.json")


@main.command("sweep")
@click.argument("space", type=click.Path())
@click.option("--target", default="cortex-m", show_default=True,
              help="Core (cortex-m4 ...) or board (nrf52840 ...) whose flash and RAM bound the "
                   "trials; see `edgekit targets`.")
@click.option("--trials", type=int, default=None,
              help="Configurations to draw (default: the space's [sweep] trials).")
@click.option("--address", default=None,
              help="Join an existing Ray cluster: auto or ray://HOST:PORT (default: start a "
                   "local Ray with this machine's cores).")
@click.option("--out", type=click.Path(), default="sweep", show_default=True)
@click.option("--data", "--data-dir", "data", type=click.Path(), default=None,
              help="Dataset location (else $EDGEKIT_DATA, else the cache); the same path on "
                   "every Ray node.")
@click.option("--eval", "evaluation", type=click.Choice(["official", "loso"]), default=None,
              help="Override the space's [sweep] eval: the official split or leave one speaker "
                   "out (objective loso_mean unless the space names loso_worst).")
def sweep_cmd(space, target, trials, address, out, data, evaluation) -> None:
    """Search SPACE (a recipe with ranges or choices) on Ray Tune; measured figures per trial."""
    from edgekit.sweep import sweep  # noqa: PLC0415

    res = sweep(space, target=target, trials=trials, address=address, out=out, data=data,
                evaluation=evaluation)
    b = res.best
    click.echo(json.dumps({"trials": len(res.trials),
                           "completed": sum(r["status"] == "completed" for r in res.trials),
                           "best": None if b is None else {
                               k: b[k] for k in ("index", "config", "int8_accuracy",
                                                 "loso_mean", "loso_worst", "flash_bytes",
                                                 "ram_bytes", "instructions")}},
                          indent=1, default=str))
    click.echo(f"wrote {res.out_dir}/" + ", ".join(res.files))


@main.command("recipe")
@click.argument("arch")
@click.option("--set", "overrides", multiple=True, help=_SET_HELP)
def recipe_cmd(arch, overrides) -> None:
    """Print ARCH's built-in recipe as TOML (what `edgekit build --arch ARCH` runs)."""
    from edgekit.recipe import apply_overrides, builtin_recipe, recipe_toml  # noqa: PLC0415

    click.echo(recipe_toml(apply_overrides(builtin_recipe(arch), overrides)), nl=False)


@main.group()
def data() -> None:
    """Datasets."""


@data.command("fetch")
@click.argument("name", type=click.Choice(["fsdd"]))
@click.option("--dest", type=click.Path(), default=None, help="Cache directory.")
@click.option("--url", default=None, help="Archive URL (default: the public FSDD zip).")
def data_fetch(name, dest, url) -> None:
    """Download a public dataset into the cache."""
    from edgekit.data import fetch_fsdd  # noqa: PLC0415

    kwargs = {"url": url} if url else {}
    path = fetch_fsdd(dest, **kwargs)
    click.echo(f"{name}: {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
