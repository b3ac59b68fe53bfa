"""Fuzzing the host harness's input reading (edgekit/emulator/firmware/host_main.c).

One small model is generated and built once with AddressSanitizer and
UndefinedBehaviorSanitizer; each case hands the harness an inputs file of a
fuzzed length and content.  A whole number of cases must run and write one
output per case; any other length must be refused with an ``error:`` line
and a non-zero status; nothing may trip a sanitizer.
"""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.targets import MLPERF, Draw

SEED_MODEL = "kws_ref_model"
_SIZES: dict = {}


def build_harness(work: Path) -> Path:
    from edgekit.emulator.build import build_host  # noqa: PLC0415
    from edgekit.firmware_export import generate, read_tflite  # noqa: PLC0415

    src = work / "src"
    generate(read_tflite(MLPERF / f"{SEED_MODEL}.tflite"), src)
    header = (src / "model.h").read_text()
    for key in ("EDGEKIT_INPUT_BYTES", "EDGEKIT_OUTPUT_BYTES"):
        _SIZES[key] = int(header.split(f"#define {key}", 1)[1].split()[0].strip("()u"))
    return build_host(src, work / "build", opt="-O1", sanitize=True)


def harness_input(d: Draw) -> tuple[bytes]:
    n_in = _SIZES["EDGEKIT_INPUT_BYTES"]
    k = d.int(0, 3)
    if k == 0:
        length = n_in * d.int(0, 4)
    elif k == 1:
        length = n_in * d.int(1, 3) + d.choice((-1, 1, -n_in + 1, 7))
    else:
        length = d.int(0, 4 * n_in + 3)
    fill = d.int(0, 255)
    return (bytes([fill]) * length if d.bool() else d.bytes(length),)


def harness_target(exe: Path, blob: bytes, tmp: Path | None = None) -> None:
    from edgekit.emulator.run import run_host_program  # noqa: PLC0415

    n_in, n_out = _SIZES["EDGEKIT_INPUT_BYTES"], _SIZES["EDGEKIT_OUTPUT_BYTES"]
    from edgekit.errors import EmulatorError  # noqa: PLC0415

    try:
        proc, out = run_host_program(exe, blob, "inputs.bin", "outputs.bin", 60.0)
    except EmulatorError as e:            # a hang is a finding, not a refusal
        raise AssertionError(str(e)) from None
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err[-2000:]
    if len(blob) % n_in == 0:
        assert proc.returncode == 0, err
        assert len(out) == len(blob) // n_in * n_out
    else:
        assert proc.returncode != 0 and "error:" in err, (proc.returncode, err)
