#!/usr/bin/env python
"""Measure edgekit's generated code on the emulated Cortex-M4, beside TFLM.

For each MLPerf Tiny int8 model (and each zoo architecture, quantized with
random calibration data: instruction counts do not depend on weight values)
this prints guest instructions per inference and per op (QEMU mps2-an386,
``-icount shift=0``, SysTick: 40 instructions per tick), the planned arena,
code and weight bytes read from the ELF's symbol table, and TFLM's figures
for the same model on the same emulated core from ``../shared/benchmarks``.

Then the audio front end (``edgekit.frontend``), for micro_speech's
configuration (16 kHz, TFLM mode) and the FSDD one (8 kHz): instructions per
stride (median and maximum over the strides of real FSDD speech, resampled,
followed by white noise and full-scale clipping), its static state and scratch,
stack and flash.

Usage: ``.venv/bin/python benchmarks/run.py [--shared ../shared] [--per-op] [--no-zoo]
[--no-frontend] [--target cortex-m3 ...] [--model kws_ref_model ...]``

``--target`` (repeatable) runs the models on other QEMU cores as well:
``cortex-m3`` builds the plain-C kernel paths (no DSP extension), ``cortex-m7``,
``cortex-m33``, ``cortex-m55``; a model that does not fit a target is listed as
not run.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekit.budget.elf import elf_breakdown  # noqa: E402
from edgekit.emulator import run_qemu  # noqa: E402
from edgekit.emulator.cycles import MODELED_TARGET  # noqa: E402
from edgekit.firmware_export.codegen import data_io  # noqa: E402
from edgekit.reference import tflm_arena  # noqa: E402
from edgekit.verify import check_qemu, export_c, tflm_reference  # noqa: E402
from edgekit.verify.spikes import spike_rates  # noqa: E402

MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant", "vww_96_int8",
          "str_ww_ref_model")


def tflm_summary(shared: Path) -> dict:
    rows = {}
    p = shared / "benchmarks" / "tflm-cortex-m4-summary.md"
    if not p.exists():
        return rows
    for line in p.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 8 and cells[1] in ("ref", "cmsis_nn"):
            rows[(cells[0], cells[1])] = {"instr": int(cells[3].replace(",", "")),
                                          "arena": int(cells[5]), "code": int(cells[9])}
    return rows


def tflm_per_op(shared: Path) -> dict:
    rows = {}
    p = shared / "benchmarks" / "tflm-cortex-m4-per-op.csv"
    if p.exists():
        with p.open() as f:
            for r in csv.DictReader(f):
                rows[(r["model"], r["kernels"], int(r["layer"]))] = int(r["instr"])
    return rows


def measure(tflite: bytes, name: str, work: Path, target: str = "cortex-m4") -> dict:
    """Export ``tflite``, run it under QEMU on ``target`` and check it against tflite_micro."""
    export = export_c(tflite, work / name / "src")
    graph, exp = export.graph, export.result
    shape = tuple(graph.tensors[data_io(graph)[0]].shape)   # the data input, not a state
    x = np.random.default_rng(0).integers(-128, 128, shape, dtype=np.int8).reshape(1, -1)
    # A streaming model (state_i pairs) runs one call from the reset state.
    ref = tflm_reference(tflite, x, graph=graph)
    check = check_qemu(export.src_dir, work / name / target, target, x, ref, timeout=600)
    fw, run = check.firmware, check.run
    cyc = (run_qemu(fw.elf, x, target, timeout=900, cycles=True).cycles
           if target == MODELED_TARGET else None)       # the timing model is the M4's
    for i, p in enumerate(run.per_op):
        p["cycles"] = cyc.per_op[i]["cycles"] if cyc else None
    lstm = {op.index: lstm_shape(graph, op) for op in graph.operators
            if op.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM"}
    # layers run event-driven (spike input): spike rate on this input (host, LiteRT reference)
    rates = spike_rates(tflite, graph, x)
    for p in run.per_op:
        if p["index"] in rates:
            p["spike_rate"] = rates[p["index"]]["spike_rate"]
    return {"name": name, "target": target, "instr": run.instructions[0], "per_op": run.per_op,
            "lstm": lstm,
            "cycles": cyc.cycles[0] if cyc else None,
            "arena": exp.plan.arena_bytes, "lower_bound": exp.plan.lower_bound_bytes,
            "arena_file_order": exp.plan.file_order_arena_bytes, "order": exp.plan.order_strategy,
            "tflm_host_arena": tflm_arena(tflite)["total_bytes"], "text": fw.text,
            "data": fw.data, "bss": fw.bss, "bit_exact": check.bit_exact,
            **elf_breakdown(fw.elf)}


def lstm_shape(graph, op) -> dict:
    """Steps (x batches), inputs, units and MACs per step of an LSTM op."""
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    d0, d1, n_in = (int(d) for d in x.shape)
    n_cell = int(w.shape[0])
    return {"steps": d0 * d1, "n_in": n_in, "n_cell": n_cell,
            "macs_per_step": 4 * n_cell * (n_in + n_cell)}


def zoo_models() -> list[tuple[str, bytes]]:
    from edgekit.frontend.features import default_frontend_features  # noqa: PLC0415
    from edgekit.models.registry import (ARCHITECTURES, DEFAULT_RECIPE,  # noqa: PLC0415
                                         RECURRENT, build_model)
    from edgekit.quantize.streaming import quantize_streaming_int8  # noqa: PLC0415
    from edgekit.quantize.int8 import quantize_int8  # noqa: PLC0415

    features = default_frontend_features("fsdd")       # what a default build trains on
    shape = features.shape
    rng = np.random.default_rng(0)
    calib = features.dequantize(rng.integers(-128, 128, (64, *shape)))
    out = []
    for arch in ARCHITECTURES:
        hp = DEFAULT_RECIPE["hparams"] if arch == DEFAULT_RECIPE["arch"] else {}
        model = build_model(arch, shape, 10, seed=0, **hp)
        out.append((f"zoo:{arch}", quantize_int8(model, calib, num_samples=64)))
        if arch in RECURRENT:   # the streaming form: one call per hop
            stream, _ = quantize_streaming_int8(model, calib, num_samples=64, calib_clips=8)
            out.append((f"zoo:{arch}:stream", stream))
    return out


def frontend_rows(shared: Path) -> list[dict]:
    """The front end on Cortex-M4: instructions per stride, RAM and flash, both presets."""
    from edgekit.data.resample import resample  # noqa: PLC0415
    from edgekit.data.wav import read_wav  # noqa: PLC0415
    from edgekit.frontend import FrontendConfig, measure_frontend  # noqa: PLC0415

    wavs = sorted((shared / "data" / "fsdd" / "recordings").glob("*.wav"))[::150]
    rows = []
    for name in ("tflm_micro", "fsdd"):
        cfg = getattr(FrontendConfig, name)()
        speech = np.concatenate([resample(*read_wav(p), cfg.sample_rate) for p in wavs])
        rng = np.random.default_rng(0)
        noise = rng.standard_normal(cfg.sample_rate // 2) * 0.1
        clip = np.where(np.arange(cfg.sample_rate // 2) % 40 < 20, 1.0, -1.0)
        x = np.clip(np.rint(np.concatenate([speech, noise, clip]) * 32768), -32768, 32767)
        with tempfile.TemporaryDirectory() as tmp:
            m = measure_frontend(cfg, x.astype(np.int16), tmp)
        rows.append({"name": name, "rate": cfg.sample_rate, "stride": cfg.stride,
                     "strides": int(m.instructions.size),
                     "median": int(np.median(m.instructions)),
                     "max": int(m.instructions.max()), "state": m.state_bytes,
                     "scratch": m.scratch_bytes, "stack": m.stack_bytes,
                     "flash": m.flash_bytes})
    return rows


def main() -> int:
    from edgekit.errors import EdgekitError  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--per-op", action="store_true", help="print the per-op table too")
    ap.add_argument("--no-zoo", action="store_true")
    ap.add_argument("--no-frontend", action="store_true")
    ap.add_argument("--target", action="append",
                    help="QEMU target (repeatable; default cortex-m4), e.g. cortex-m3 "
                         "(no DSP: the plain-C kernels), cortex-m7, cortex-m33, cortex-m55")
    ap.add_argument("--model", action="append", help="only this model (repeatable)")
    args = ap.parse_args()
    targets = args.target or ["cortex-m4"]
    summary, per_op = tflm_summary(args.shared), tflm_per_op(args.shared)
    models = [(m, (args.shared / "models" / "mlperf-tiny" / f"{m}.tflite").read_bytes())
              for m in MODELS if not args.model or m in args.model]
    if not args.no_zoo:
        models += zoo_models()
    results, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            for name, tfl in models:
                try:
                    results.append(measure(tfl, name.replace(":", "_"), Path(tmp), target))
                except EdgekitError as e:   # e.g. the model does not fit the target
                    first = str(e).splitlines()[0] if str(e) else ""
                    failed.append((target, name, f"{type(e).__name__}: {first}"))
                    continue
                results[-1]["name"] = name
    hdr = (f"{'model':24} {'target':11} {'edgekit instr':>14} {'est cycles':>11} {'TFLM ref':>12} "
           f"{'TFLM cmsis':>12} {'x cmsis':>7} "
           f"{'arena':>7} {'file ord':>8} {'lower':>7} {'TFLM M4':>8} {'weights':>8} "
           f"{'ek code':>8} "
           f"{'TFLM code':>9} {'text':>7} {'exact':>5}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        ref = summary.get((r["name"], "ref"), {})
        cm = summary.get((r["name"], "cmsis_nn"), {})
        ratio = f"{r['instr'] / cm['instr']:.2f}" if cm.get("instr") else "-"
        cycles = f"{r['cycles']:,}" if r["cycles"] else "-"
        print(f"{r['name']:24} {r['target']:11} {r['instr']:>14,} {cycles:>11} "
              f"{ref.get('instr', 0):>12,} {cm.get('instr', 0):>12,} {ratio:>7} "
              f"{r['arena']:>7,} {r['arena_file_order']:>8,} {r['lower_bound']:>7,} "
              f"{ref.get('arena', 0):>8,} "
              f"{r['weights']:>8,} {r['edgekit_code'] + r['op_params']:>8,} "
              f"{ref.get('code', 0):>9,} {r['text']:>7,} {str(r['bit_exact']):>5}")
    for target, name, err in failed:
        print(f"{name:24} {target:11} not run: {err[:120]}")
    lstm_rows = [(r, p) for r in results for p in r["per_op"] if p["index"] in r["lstm"]]
    if lstm_rows:
        print(f"\n{'LSTM op':24} {'target':11} {'steps':>5} {'in':>4} {'units':>5} "
              f"{'MACs/step':>9} {'instr/step':>10} {'instr/MAC':>9}")
        for r, p in lstm_rows:
            sh = r["lstm"][p["index"]]
            per_step = p["instructions"] / sh["steps"]
            print(f"{r['name']:24} {r['target']:11} {sh['steps']:>5} {sh['n_in']:>4} "
                  f"{sh['n_cell']:>5} {sh['macs_per_step']:>9,} {per_step:>10,.0f} "
                  f"{per_step / sh['macs_per_step']:>9.2f}")
    spiking = [r for r in results if any("spike_rate" in p for p in r["per_op"])]
    if spiking:
        print(f"\n{'spiking model':24} {'target':11} {'instr':>11} {'layer':>5} {'op':16} "
              f"{'spike rate':>10} {'sparse instr':>12}")
        for r in spiking:
            for p in (p for p in r["per_op"] if "spike_rate" in p):
                print(f"{r['name']:24} {r['target']:11} {r['instr']:>11,} {p['index']:>5} "
                      f"{p['op']:16} {p['spike_rate']:>10.3f} {p['instructions']:>12,}")
        print("spiking rows: the layers whose input is a spike tensor (two int8 codes, "
              "proven by firmware_export/passes/spike_sparse.py) run event-driven "
              "(kernels/ek_spike_fc.c); spike rate: fraction of that input at the spike "
              "code on the benchmark input (random weights and calibration: not a trained "
              "model's rate).")
    if args.per_op:
        for r in results:
            print(f"\n{r['name']} ({r['target']}): per op (instructions, estimated cycles)")
            print(f"  {'#':>3} {'op':20} {'edgekit':>12} {'est cycles':>11} {'TFLM ref':>12} "
                  f"{'TFLM cmsis':>12}")
            for p in r["per_op"]:
                a = per_op.get((r["name"], "ref", p["index"]), 0)
                b = per_op.get((r["name"], "cmsis_nn", p["index"]), 0)
                cyc = f"{p['cycles']:,}" if p["cycles"] is not None else "-"
                rate = f" spikes {p['spike_rate']:.3f}" if "spike_rate" in p else ""
                print(f"  {p['index']:>3} {p['op']:20} {p['instructions']:>12,} {cyc:>11} "
                      f"{a:>12,} {b:>12,}{rate}")
    print("\nTFLM figures: ../shared/benchmarks (TFLM 90b983c, -O2 app / kernels -O2, same QEMU "
          "machine; Cortex-M4 figures, so 'x cmsis' = edgekit / TFLM+CMSIS-NN "
          "instructions compares like with like on cortex-m4 only). edgekit: -O2. "
          "'TFLM M4' = arena_used_bytes on Cortex-M4; 'ek code' = edgekit kernels + "
          "generated glue + op parameters; "
          "':stream' rows: one call of the streaming form (one hop of frames; state "
          "outside the arena). 'est cycles': Cortex-M4 TRM timing model over the executed "
          "instructions (edgekit.emulator.cycles; zero wait states, taken branch +2).")
    if not args.no_frontend:
        print(f"\n{'front end':12} {'rate':>6} {'stride':>6} {'strides':>7} {'instr median':>12} "
              f"{'instr max':>9} {'state':>6} {'scratch':>7} {'stack':>6} {'flash':>6}")
        for f in frontend_rows(args.shared):
            print(f"{f['name']:12} {f['rate']:>6} {f['stride']:>6} {f['strides']:>7} "
                  f"{f['median']:>12,} {f['max']:>9,} {f['state']:>6,} {f['scratch']:>7,} "
                  f"{f['stack']:>6,} {f['flash']:>6,}")
        print("front end: Cortex-M4 (QEMU mps2-an386, -O2), instructions per stride (20 ms) "
              "over FSDD speech, noise and full-scale clipping; 'flash' includes the "
              "measurement harness. TFLM mode is bit-exact with audio_preprocessor_int8.tflite.")
    return 0 if all(r["bit_exact"] for r in results) and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
