"""Run a built firmware ELF once more under QEMU and tabulate its per-op counts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from edgekit.emulator.run import EmulatorRun, run_qemu
from edgekit.emulator.toolchain import check_toolchain
from edgekit.errors import ConfigError, EmulatorError


def _symbol_size(elf: Path, name: str) -> int:
    tools = check_toolchain(qemu=False)
    nm = str(Path(tools["arm-none-eabi-gcc"]).with_name("arm-none-eabi-nm"))
    try:
        out = subprocess.run([nm, "-S", "-t", "d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise EmulatorError(f"cannot read symbols of {elf}: {e}") from None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[1])
    raise EmulatorError(f"{elf} has no symbol {name}: not an edgekit firmware")


def emulate(elf: str | Path, target: str = "cortex-m4", inputs: str | Path | None = None,
            cases: int = 1, seed: int = 0) -> EmulatorRun:
    """Run ``elf`` (built by edgekit) under QEMU.

    Parameters
    ----------
    elf : path
    target : str
        The target it was built for.
    inputs : path, optional
        Raw input bytes (``.bin``, N x input size) or a ``.npy`` array; by
        default ``cases`` random int8 inputs (``numpy.random.default_rng(seed)``).
    """
    elf = Path(elf)
    if not elf.is_file():
        raise ConfigError(f"firmware {elf} does not exist")
    n_in = _symbol_size(elf, "edgekit_input")
    if inputs is None:
        if cases < 1:
            raise ConfigError(f"cases must be >= 1 (got {cases})")
        data = np.random.default_rng(seed).integers(-128, 128, (cases, n_in), dtype=np.int8)
    else:
        p = Path(inputs)
        try:
            arr = np.load(p) if p.suffix == ".npy" else np.fromfile(p, dtype=np.int8)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read inputs {p}: {e}") from None
        raw = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
        if raw.size == 0 or raw.size % n_in:
            raise ConfigError(f"inputs {p} hold {raw.size} bytes, not a multiple of the "
                              f"model's input size {n_in}")
        data = raw.reshape(-1, n_in).view(np.int8)
    return run_qemu(elf, data.view(np.uint8), target=target)


def format_per_op(run: EmulatorRun) -> str:
    total = sum(p["instructions"] for p in run.per_op) or 1
    lines = [f"{'#':>3}  {'op':22} {'instructions':>14} {'share':>6}"]
    for p in run.per_op:
        lines.append(f"{p['index']:>3}  {p['op']:22} {p['instructions']:>14,} "
                     f"{100 * p['instructions'] / total:>5.1f}%")
    lines.append(f"     {'per inference':22} {int(np.mean(run.instructions)):>14,}")
    lines.append(f"     stack high-water mark: {run.stack_bytes} bytes; counted with {run.clock}")
    return "\n".join(lines)
