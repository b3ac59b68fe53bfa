#!/usr/bin/env python
"""Instructions per MAC of every MAC-bearing op over the shapes real models use.

Each shape is a one-op model (a tiny Keras model, or a traced TensorFlow
function, with random weights, converted to full-int8 -- or 16x8 -- TFLite
with a random representative dataset: ``tests/kernel_harness.py``), exported
by edgekit, built for a Cortex-M target and run under QEMU (``-icount``,
SysTick-timed: 40 instructions per tick on the mps2 machines), its outputs
checked byte for byte against tflite_micro's.  The table gives the op's
instructions, instructions per multiply-accumulate and per output element
(MAC/out small: the per-output requantization dominates); the summary, per op,
the best instructions per MAC over its shapes and the worst/best ratio.  A
ratio above 2 is a *cliff* (issue 13, point 5: every MAC-bearing op must stay
within 2x of its best path over these shapes).

The criterion: each output costs a requantization, clamp and store (about 7-10
instructions) whatever the kernel, which is as much as ~16 MACs at the best
rates (0.5-1 instruction per MAC).  So a shape is charged for at least
MIN_MACS_PER_OUT = 16 MACs per output: its *rate* is
``instr / (outputs * max(MACs per output, 16))``, which is instructions per
MAC for shapes with >= 16 MACs per output and instructions per output / 16
below.  The op's best is its lowest instructions per MAC over all its shapes
(not charged: a shape with few MACs per output cannot lower it), and
``ratio = rate / best``: a ratio above 2 is a cliff.  Every shape stays in the sweep; the table prints
instructions per MAC, per output and the ratio.

The sweep: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, BATCH_MATMUL (int8)
and CONV_2D, FULLY_CONNECTED (int16 activations) over channel multipliers
1/2/8, one-channel inputs, odd channel counts (3, 5, 7, 13), stride 1/2,
dilation 2, filters 1x1, 3x3, 5x5, 10x4, 1x7 / 7x1, SAME / VALID, small and
large spatial sizes.

Usage::

    .venv/bin/python benchmarks/op_sweep.py [--quick] [--target cortex-m4]
                                            [--op DEPTHWISE_CONV_2D] [--check]

Exit status: 1 if an output differs from tflite_micro, or with ``--check``
if an op has a cliff; else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CLIFF_RATIO = 2.0
MIN_MACS_PER_OUT = 16   # a shape is charged at least this many MACs per output
# Input + output of a case stay under ~20 KB: the tflite_micro Python
# interpreter (edgekit.reference) gets an arena of 10x the model's size,
# about 26 KB for these small models.
N_CASES = 2          # inputs run per shape (all checked; instructions are their mean)


@dataclass(frozen=True)
class Case:
    """One shape of one op.

    ``inp`` is the input shape without the batch dimension; ``out`` the
    number of output channels (CONV_2D, FULLY_CONNECTED), the channel
    multiplier (DEPTHWISE_CONV_2D) or the column count (BATCH_MATMUL:
    ``inp = (t, d)``, Q K^T with ``out`` heads when > 1).
    """

    op: str
    label: str
    inp: tuple
    out: int
    kernel: tuple = (1, 1)
    stride: int = 1
    dilation: int = 1
    padding: str = "same"
    dtype: str = "int8"
    quick: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return self.op if self.dtype == "int8" else f"{self.op}/{self.dtype}"


def _conv(label, hwc, filters, k, s=1, d=1, pad="same", dtype="int8", quick=False):
    return Case("CONV_2D", label, hwc, filters, k, s, d, pad, dtype, quick)


def _dw(label, hwc, mult, k, s=1, d=1, pad="same", quick=False):
    return Case("DEPTHWISE_CONV_2D", label, hwc, mult, k, s, d, pad, quick=quick)


def _fc(label, shape, units, dtype="int8", quick=False):
    return Case("FULLY_CONNECTED", label, shape, units, dtype=dtype, quick=quick)


def _bmm(label, t, d, heads=1):
    return Case("BATCH_MATMUL", label, (t, d), heads)


CASES: tuple[Case, ...] = (
    # CONV_2D int8
    _conv("1x1 64->64 25x5 (KWS pointwise)", (25, 5, 64), 64, (1, 1), quick=True),
    _conv("1x1 16->32 20x20", (20, 20, 16), 32, (1, 1)),
    _conv("1x1 13->24 8x8 odd", (8, 8, 13), 24, (1, 1)),
    _conv("1x1 7->5 16x16 odd", (16, 16, 7), 5, (1, 1)),
    _conv("1x1 256->256 3x3 small", (3, 3, 256), 256, (1, 1)),
    _conv("10x4 s2 1->64 49x10 (KWS conv1)", (49, 10, 1), 64, (10, 4), 2),
    _conv("3x3 3->16 32x32 (ResNet in)", (32, 32, 3), 16, (3, 3)),
    _conv("3x3 s2 3->8 48x48 (VWW in)", (48, 48, 3), 8, (3, 3), 2),
    _conv("3x3 16->16 24x24", (24, 24, 16), 16, (3, 3)),
    _conv("3x3 s2 16->32 24x24", (24, 24, 16), 32, (3, 3), 2),
    _conv("3x3 32->32 8x8 VALID", (8, 8, 32), 32, (3, 3), pad="valid"),
    _conv("3x3 64->64 4x4 small", (4, 4, 64), 64, (3, 3)),
    _conv("3x3 d2 16->16 16x16", (16, 16, 16), 16, (3, 3), d=2),
    _conv("3x3 5->7 16x16 odd", (16, 16, 5), 7, (3, 3)),
    _conv("5x5 8->16 16x16", (16, 16, 8), 16, (5, 5)),
    _conv("1x7 16->16 16x16", (16, 16, 16), 16, (1, 7)),
    _conv("7x1 16->16 16x16", (16, 16, 16), 16, (7, 1)),
    _conv("3x3 1->8 49x10 one-channel", (49, 10, 1), 8, (3, 3)),
    # DEPTHWISE_CONV_2D int8
    _dw("3x3 64ch 25x5 (KWS)", (25, 5, 64), 1, (3, 3), quick=True),
    _dw("3x3 16ch 24x24", (24, 24, 16), 1, (3, 3)),
    _dw("3x3 s2 16ch 24x24", (24, 24, 16), 1, (3, 3), 2),
    _dw("3x3 256ch 3x3 small", (3, 3, 256), 1, (3, 3)),
    _dw("3x3 64ch 8x8 VALID", (8, 8, 64), 1, (3, 3), pad="valid"),
    _dw("3x3 d2 32ch 16x16", (16, 16, 32), 1, (3, 3), d=2),
    _dw("5x5 32ch 16x16", (16, 16, 32), 1, (5, 5)),
    _dw("10x4 s2 16ch 49x10", (49, 10, 16), 1, (10, 4), 2),
    _dw("1x7 32ch 16x16", (16, 16, 32), 1, (1, 7)),
    _dw("7x1 32ch 16x16", (16, 16, 32), 1, (7, 1)),
    _dw("3x3 3ch 32x32 odd", (32, 32, 3), 1, (3, 3)),
    _dw("3x3 5ch 32x32 odd", (32, 32, 5), 1, (3, 3)),
    _dw("3x3 7ch 32x32 odd", (32, 32, 7), 1, (3, 3)),
    _dw("3x3 13ch 24x24 odd", (24, 24, 13), 1, (3, 3)),
    _dw("3x3 x2 16ch 16x16", (16, 16, 16), 2, (3, 3)),
    _dw("3x3 x8 1ch 49x10 one-channel", (49, 10, 1), 8, (3, 3), quick=True),
    _dw("10x4 s2 x8 1ch 49x10 (KWS-style stem)", (49, 10, 1), 8, (10, 4), 2),
    _dw("3x3 x2 3ch 32x32", (32, 32, 3), 2, (3, 3)),
    # FULLY_CONNECTED int8
    _fc("64->12 (KWS head)", (64,), 12, quick=True),
    _fc("640->128 (AD01)", (640,), 128),
    _fc("128->128", (128,), 128),
    _fc("256->10", (256,), 10),
    _fc("13->7 odd", (13,), 7),
    _fc("1->16 one input", (1,), 16),
    _fc("1000->1", (1000,), 1),
    _fc("8x32->16 batched rows", (8, 32), 16),
    # BATCH_MATMUL int8 (both operands activations)
    _bmm("QK^T t=16 d=16", 16, 16),
    _bmm("QK^T t=32 d=8", 32, 8),
    _bmm("QK^T t=8 d=13 odd", 8, 13),
    _bmm("QK^T 4 heads t=16 d=8", 16, 8, 4),
    # int16 activations (16x8)
    _conv("1x1 32->32 12x12", (12, 12, 32), 32, (1, 1), dtype="int16"),
    _conv("3x3 8->16 16x16", (16, 16, 8), 16, (3, 3), dtype="int16"),
    _conv("3x3 s2 3->8 32x32", (32, 32, 3), 8, (3, 3), 2, dtype="int16"),
    _conv("10x4 s2 1->32 49x10", (49, 10, 1), 32, (10, 4), 2, dtype="int16"),
    _fc("64->32", (64,), 32, dtype="int16"),
    _fc("640->128", (640,), 128, dtype="int16"),
    _fc("13->7 odd", (13,), 7, dtype="int16"),
)


def macs(case: Case) -> int:
    """Multiply-accumulates of the op (SAME/VALID output size, dilation included)."""
    if case.op == "FULLY_CONNECTED":
        rows = int(np.prod(case.inp[:-1])) if len(case.inp) > 1 else 1
        return rows * case.inp[-1] * case.out
    if case.op == "BATCH_MATMUL":
        t, d = case.inp
        return case.out * t * t * d
    h, w, c = case.inp
    kh, kw = case.kernel
    if case.padding == "same":
        oh, ow = -(-h // case.stride), -(-w // case.stride)
    else:
        eh, ew = (kh - 1) * case.dilation + 1, (kw - 1) * case.dilation + 1
        oh, ow = (h - eh) // case.stride + 1, (w - ew) // case.stride + 1
    if case.op == "DEPTHWISE_CONV_2D":
        return oh * ow * c * case.out * kh * kw
    return oh * ow * case.out * kh * kw * c


def outputs(case: Case) -> int:
    """Output elements of the op (each needs one requantization)."""
    if case.op == "FULLY_CONNECTED":
        rows = int(np.prod(case.inp[:-1])) if len(case.inp) > 1 else 1
        return rows * case.out
    if case.op == "BATCH_MATMUL":
        t, _ = case.inp
        return case.out * t * t
    kh, kw = case.kernel
    per_out = kh * kw * (1 if case.op == "DEPTHWISE_CONV_2D" else case.inp[2])
    return macs(case) // per_out


def build_model(case: Case, seed: int = 0) -> bytes:
    """The case as a one-op .tflite (random weights and bias)."""
    from tests.kernel_harness import single_op_model, single_op_model_16x8  # noqa: PLC0415

    convert = single_op_model_16x8 if case.dtype == "int16" else single_op_model
    if case.op == "BATCH_MATMUL":
        import tensorflow as tf  # noqa: PLC0415
        t, d = case.inp
        h = case.out
        rng = np.random.default_rng(seed)

        def dense(x, n):
            w = rng.standard_normal((int(x.shape[-1]), n)).astype(np.float32) * 0.5
            return tf.matmul(x, tf.constant(w))

        def build_tf(ins):
            x = ins[0]
            if h == 1:
                return tf.matmul(dense(x, d), dense(x, d), transpose_b=True)
            qh = tf.transpose(tf.reshape(dense(x, d * h), (1, t, h, d)), (0, 2, 1, 3))
            kh = tf.transpose(tf.reshape(dense(x, d * h), (1, t, h, d)), (0, 2, 1, 3))
            return tf.matmul(qh, kh, transpose_b=True)

        return convert(build_tf, [case.inp], seed, keras=False)

    import keras  # noqa: PLC0415

    def build(ins):
        if case.op == "CONV_2D":
            layer = keras.layers.Conv2D(case.out, case.kernel, strides=case.stride,
                                        dilation_rate=case.dilation, padding=case.padding,
                                        bias_initializer="random_normal")
        elif case.op == "DEPTHWISE_CONV_2D":
            layer = keras.layers.DepthwiseConv2D(case.kernel, strides=case.stride,
                                                 depth_multiplier=case.out,
                                                 dilation_rate=case.dilation,
                                                 padding=case.padding,
                                                 bias_initializer="random_normal")
        else:
            layer = keras.layers.Dense(case.out, bias_initializer="random_normal")
        return layer(ins[0])

    return convert(build, [case.inp], seed)


def run_case(case: Case, target: str, work: Path, seed: int = 0, exact: bool = False) -> dict:
    """Build, export, run under QEMU and compare one case with tflite_micro.

    ``exact``: count the op's instructions from a QEMU execution trace of a
    second run (:mod:`edgekit.emulator.cycles`: exact, the profiling hooks'
    bodies left out) instead of the harness's 40-instruction SysTick ticks.

    Returns a dict: ``instr`` (the op's instructions, mean over the cases),
    ``macs``, ``per_mac``, ``exact`` (bool), ``ops`` (opcodes of the model).
    """
    from edgekit.firmware_export.codegen import data_io  # noqa: PLC0415
    from edgekit.quiet import filtered_stderr  # noqa: PLC0415
    from edgekit.verify import check_qemu, export_c, tflm_reference  # noqa: PLC0415

    with contextlib.redirect_stdout(io.StringIO()), filtered_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tfl = build_model(case, seed)
    export = export_c(tfl, work / "src")
    graph = export.graph
    xt = graph.tensors[data_io(graph)[0]]
    dt = np.int16 if case.dtype == "int16" else np.int8
    info = np.iinfo(dt)
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(info.min, info.max + 1, (N_CASES, *(int(d) for d in xt.shape))).astype(dt)
    ref = tflm_reference(tfl, x, graph=graph)
    check = check_qemu(export.src_dir, work / "fw", target, x.reshape(N_CASES, -1), ref,
                       timeout=600)
    ops = [p["op"] for p in check.run.per_op]
    instr = sum(p["instructions"] for p in check.run.per_op if p["op"] == case.op)
    if exact:
        from edgekit.emulator import run_qemu  # noqa: PLC0415
        traced = run_qemu(check.firmware.elf, x.reshape(N_CASES, -1).view(np.uint8)
                          .reshape(N_CASES, -1), target, timeout=600, cycles=True).cycles
        instr = sum(p["instructions"] for p in traced.per_op if p["op"] == case.op)
    if case.op not in ops:
        raise RuntimeError(f"{case.key} {case.label}: no {case.op} in the converted model {ops}")
    m = macs(case)
    return {"case": case, "instr": instr, "macs": m, "per_mac": instr / m,
            "per_out": instr / outputs(case),
            "exact": bool(check.bit_exact), "ops": ops}


def rate(row: dict) -> float:
    """Instructions per MAC, each output charged at least MIN_MACS_PER_OUT MACs."""
    c = row["case"]
    n = outputs(c)
    return row["instr"] / (n * max(row["macs"] / n, MIN_MACS_PER_OUT))


def summarize(rows: list[dict]) -> list[dict]:
    """Per op key: best instructions per MAC, worst :func:`rate`, ratio, cliff flag.

    The best is the lowest instructions per MAC over the op's shapes; each
    row gets its ``ratio`` (its rate / best) too.
    """
    out = []
    for key in dict.fromkeys(r["case"].key for r in rows):
        mine = [r for r in rows if r["case"].key == key and "error" not in r]
        if not mine:
            continue
        best = min(mine, key=lambda r: r["instr"] / r["macs"])
        for r in mine:
            r["ratio"] = rate(r) / (best["instr"] / best["macs"])
        worst = max(mine, key=rate)
        ratio = worst["ratio"]
        out.append({"op": key, "shapes": len(mine), "best": best, "worst": worst,
                    "ratio": ratio, "cliff": ratio > CLIFF_RATIO})
    return out


def format_table(rows: list[dict], target: str) -> str:
    summary = summarize(rows)       # sets each row's ratio
    lines = [f"instructions per MAC, {target} (QEMU), {N_CASES} inputs per shape, "
             "bit-exactness vs tflite_micro; ratio: instructions per MAC, each output charged "
             f">= {MIN_MACS_PER_OUT} MACs, over the op's best instructions per MAC "
             f"(cliff: > {CLIFF_RATIO:g})",
             f"{'op':24} {'shape':40} {'MACs':>10} {'MAC/out':>7} {'instr':>11} {'instr/MAC':>9} "
             f"{'instr/out':>9} {'ratio':>6} {'exact':>5}"]
    lines.append("-" * len(lines[-1]))
    for r in rows:
        c = r["case"]
        lines.append(f"{c.key:24} {c.label:40} {r['macs']:>10,} "
                     f"{r['macs'] // outputs(c):>7,} {r['instr']:>11,} "
                     f"{r['per_mac']:>9.2f} {r['per_out']:>9.1f} {r.get('ratio', float('nan')):>6.2f} "
                     f"{str(r['exact']):>5}"
                     + (f"  ERROR {r['error'][:80]}" if "error" in r else ""))
    lines.append("")
    lines.append(f"{'op':24} {'shapes':>6} {'best':>6} {'worst':>6} {'ratio':>6}  "
                 f"best shape / worst shape (best: instr/MAC; worst: rate, >= "
                 f"{MIN_MACS_PER_OUT} MACs/out)")
    for s in summary:
        flag = "  CLIFF" if s["cliff"] else ""
        lines.append(f"{s['op']:24} {s['shapes']:>6} {s['best']['instr'] / s['best']['macs']:>6.2f} "
                     f"{rate(s['worst']):>6.2f} {s['ratio']:>6.2f}  "
                     f"{s['best']['case'].label} / {s['worst']['case'].label}{flag}")
    return "\n".join(lines)


def sweep(cases, target: str = "cortex-m4", *, log=None, keep_going: bool = False,
          exact: bool = False) -> list[dict]:
    """Run every case; returns the rows of :func:`run_case` in order.

    ``exact``: instructions from an execution trace (:func:`run_case`).

    ``keep_going``: a case that fails (conversion, export, build, QEMU)
    becomes a row with its ``error`` and ``exact=False`` instead of raising.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="ek_op_sweep_") as tmp:
        for i, case in enumerate(cases):
            t0 = time.time()
            try:
                rows.append(run_case(case, target, Path(tmp) / f"c{i}", exact=exact))
            except Exception as e:  # noqa: BLE001 -- one failing shape is a row, not the end
                if not keep_going:
                    raise
                rows.append({"case": case, "instr": 0, "macs": macs(case),
                             "per_mac": float("nan"), "per_out": float("nan"), "exact": False,
                             "error": f"{type(e).__name__}: {e}"})
            if log:
                r = rows[-1]
                log(f"[{i + 1}/{len(cases)}] {case.key} {case.label}: {r['per_mac']:.2f} instr/MAC "
                    f"exact={r['exact']} {r.get('error', '')} ({time.time() - t0:.1f} s)")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cortex-m4",
                    help="Cortex-M target run under QEMU (edgekit.emulator.targets), "
                         "e.g. cortex-m4, cortex-m3 (no DSP: the plain-C kernels), cortex-m7")
    ap.add_argument("--quick", action="store_true", help="only the few shapes of the test")
    ap.add_argument("--op", action="append", help="only this op (repeatable), e.g. CONV_2D")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 if an op's worst/best instr/MAC ratio is above {CLIFF_RATIO}")
    ap.add_argument("--exact", action="store_true",
                    help="instructions from a QEMU execution trace (exact; a second, slower run "
                         "per shape) instead of 40-instruction SysTick ticks")
    args = ap.parse_args(argv)
    from edgekit.quiet import quiet_startup  # noqa: PLC0415
    quiet_startup()
    cases = [c for c in CASES if (not args.quick or c.quick)
             and (not args.op or c.op in args.op or c.key in args.op)]
    rows = sweep(cases, args.target, log=lambda s: print(s, file=sys.stderr, flush=True),
                 keep_going=True, exact=args.exact)
    print(format_table(rows, args.target))
    if not all(r["exact"] for r in rows):
        print("NOT BIT-EXACT (or failed):", ", ".join(f"{r['case'].key} {r['case'].label}"
                                          for r in rows if not r["exact"]))
        return 1
    if args.check and any(s["cliff"] for s in summarize(rows)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
