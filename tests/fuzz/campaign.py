"""The fuzz campaign over every reader of untrusted input (issue 16, point 6).

    cd REPO && PYTHONPATH=. EDGEKIT_DATA=/work/shared/data \\
        python -m tests.fuzz.campaign --cases 10000 [--readers wav,tflite,...] [--sanitize 30]

Per reader it runs ``--cases`` cases (structure-aware
mutations of real files, see targets.py; a seeded PRNG makes the choices, or
hypothesis with ``--engine hypothesis``), each under a time limit, and prints
how many were accepted, refused with an EdgekitError, and failed (any other
exception, a hang, a sanitizer report).  ``--sanitize K`` builds K of the
fuzzed .tflite models that did generate C with ``-fsanitize=address,undefined``
and runs them on random inputs.  Exit status 1 when any case failed; failing
inputs are written to ``--keep`` (default ``fuzz_failures/``).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz import onnx_recipe as oxr
from tests.fuzz import targets as tg


class Reader:
    """One reader: ``make(draw) -> args`` and ``target(*args, tmp)``."""

    def __init__(self, name, make, target, limit=20.0):
        self.name, self.make, self.target, self.limit = name, make, target, limit


def readers(harness_exe=None, audio_exe=None) -> dict[str, Reader]:
    wav = tg.wav_seeds()
    recipes = oxr.recipe_seeds()
    out = {
        "wav": Reader("wav", lambda d: (tg.wav_input(d, wav),), lambda b, tmp: tg.wav_target(b)),
        "tflite": Reader("tflite", lambda d: (tg.tflite_input(d),), tg.tflite_target, 60.0),
        "onnx": Reader("onnx", lambda d: (oxr.onnx_input(d), oxr.onnx_shape(d)),
                       lambda raw, shape, tmp: oxr.onnx_target(raw, tmp, shape)),
        "recipe": Reader("recipe", lambda d: (oxr.recipe_input(d, recipes),),
                         oxr.recipe_target),
        "calibration": Reader("calibration", tg.calibration_input, tg.calibration_target),
        "calibration_quantize": Reader("calibration_quantize", tg.calibration_input,
                                       tg.calibration_quantize_target),
    }
    if harness_exe is not None:
        from tests.fuzz.harness import harness_input, harness_target  # noqa: PLC0415

        out["harness"] = Reader("harness", harness_input,
                                lambda blob, tmp: harness_target(harness_exe, blob), 60.0)
    if audio_exe is not None:
        from tests.fuzz.harness import audio_input, audio_target  # noqa: PLC0415

        out["audio_harness"] = Reader("audio_harness", audio_input,
                                      lambda blob, tmp: audio_target(audio_exe, blob), 60.0)
    return out


def drive(reader: Reader, cases: int, work: Path, keep: Path | None = None,
          generated: list | None = None, engine: str = "hypothesis",
          progress: int = 0, first: int = 0) -> tuple[Counter, list]:
    """Run ``cases`` cases of one reader; (counts by outcome, failures).

    ``engine``: ``"hypothesis"`` (choices from ``st.data()``) or ``"random"``
    (:class:`~tests.fuzz.targets.RandomDraw`, seeded by the case number: much
    less overhead per case, for the long campaign).  ``progress``: print the
    counts every that many cases.  ``first``: the random engine's first case
    number (to split one campaign over several processes).
    """
    counts: Counter = Counter()
    failures: list = []

    def one_case(draw):
        args = reader.make(draw)
        tmp = work / f"case{sum(counts.values())}"
        tmp.mkdir(parents=True, exist_ok=True)
        out = tg.run_case(reader.target, *args, tmp, limit=reader.limit)
        shutil.rmtree(tmp, ignore_errors=True)
        if out.kind == "ok" and generated is not None and reader.name == "tflite":
            generated.append(args[0])
        counts[out.kind] += 1
        if out.kind.startswith("FAIL"):
            failures.append((out, args))
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                blob = args[0] if isinstance(args[0], bytes) else repr(args).encode()
                h = hashlib.sha1(blob).hexdigest()[:12]
                (keep / f"{reader.name}_{h}.bin").write_bytes(blob)
                (keep / f"{reader.name}_{h}.txt").write_text(f"{out.kind}\n{out.detail}\n"
                                                             f"{args[1:]!r}\n")
        n = sum(counts.values())
        if progress and n % progress == 0:
            print(f"  {reader.name}: {n} cases  " + "  ".join(
                f"{k}: {v}" for k, v in sorted(counts.items())), flush=True)

    if engine == "random":
        for i in range(first, first + cases):
            one_case(tg.RandomDraw(i))
        return counts, failures

    @settings(max_examples=cases, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data):
        one_case(tg.Draw(data))

    one()
    return counts, failures


def sanitized_runs(models: list[bytes], k: int, work: Path) -> Counter:
    """Build up to ``k`` distinct generated models with ASan+UBSan and run them."""
    from edgekit.emulator.build import build_host  # noqa: PLC0415
    from edgekit.emulator.run import run_host_program  # noqa: PLC0415
    from edgekit.firmware_export import generate, read_tflite  # noqa: PLC0415

    counts: Counter = Counter()
    seen = set()
    for data in models:
        h = hashlib.sha1(data).hexdigest()
        if h in seen or len(seen) >= k:
            continue
        seen.add(h)
        d = work / f"san_{h[:10]}"
        try:
            generate(read_tflite(data), d / "src")
            exe = build_host(d / "src", d / "build", opt="-O1", sanitize=True)
            header = (d / "src" / "model.h").read_text()
            n_in = int(header.split("#define EDGEKIT_INPUT_BYTES", 1)[1].split()[0].strip("()u"))
            blob = np.random.default_rng(len(seen)).integers(0, 256, 3 * n_in, np.uint8)
            proc, _ = run_host_program(exe, blob.tobytes(), "inputs.bin", "outputs.bin", 300.0)
            text = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(
                errors="replace")
            if "Sanitizer" in text or "runtime error" in text:
                counts["FAIL sanitizer"] += 1
                print(f"  sanitizer report on model {h[:10]}:\n{text[-2000:]}", flush=True)
            elif proc.returncode != 0:
                counts["FAIL exit status"] += 1
                print(f"  model {h[:10]} exited {proc.returncode}:\n{text[-1000:]}", flush=True)
            else:
                counts["ran clean"] += 1
        except Exception as e:  # noqa: BLE001 - a build failure of generated C is a finding
            counts[f"FAIL {type(e).__name__}"] += 1
            print(f"  model {h[:10]}: {type(e).__name__}: {str(e)[:1500]}", flush=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--readers", default="wav,tflite,onnx,recipe,calibration,"
                                         "calibration_quantize,harness,audio_harness")
    ap.add_argument("--sanitize", type=int, default=30)
    ap.add_argument("--keep", default="fuzz_failures")
    ap.add_argument("--engine", choices=("random", "hypothesis"), default="random",
                    help="random: seeded PRNG, case i replays with seed i (fast); hypothesis: "
                         "st.data() choices, as the suite's short run")
    ap.add_argument("--progress", type=int, default=500)
    ap.add_argument("--first", type=int, default=0,
                    help="first case number of the random engine (split a run over processes)")
    args = ap.parse_args(argv)
    work = tg.tmpdir()
    names = args.readers.split(",")
    exe = None
    if "harness" in names:
        from tests.fuzz.harness import build_harness  # noqa: PLC0415

        exe = build_harness(work / "harness")
    audio_exe = None
    if "audio_harness" in names:
        from tests.fuzz.harness import build_audio_harness  # noqa: PLC0415

        audio_exe = build_audio_harness(work / "audio_harness")
    table = readers(exe, audio_exe)
    failed = 0
    generated: list = []
    for name in names:
        t = time.monotonic()
        counts, fails = drive(table[name], args.cases, work, Path(args.keep), generated,
                              engine=args.engine, progress=args.progress, first=args.first)
        total = sum(counts.values())
        failed += len(fails)
        print(f"{name:12} {total:6d} cases  " + "  ".join(f"{k}: {v}" for k, v in
                                                       sorted(counts.items()))
              + f"  ({time.monotonic() - t:.0f} s)", flush=True)
        for out, _ in fails[:5]:
            print(f"    {out.kind}: {out.detail[:600]}", flush=True)
    if "tflite" in names and args.sanitize:
        t = time.monotonic()
        san = sanitized_runs(generated, args.sanitize, work)
        failed += sum(v for k, v in san.items() if k.startswith("FAIL"))
        print(f"{'sanitized':12} {sum(san.values()):6d} models " + "  ".join(
            f"{k}: {v}" for k, v in sorted(san.items())) + f"  ({time.monotonic() - t:.0f} s)",
            flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
