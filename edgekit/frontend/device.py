"""The front end on a Cortex-M under QEMU: firmware, instructions per stride, RAM.

:func:`build_frontend_firmware` puts the generated front end behind the
model API of edgekit's emulator harness (``c/harness_model.[ch]``: one
harness case = one stride of PCM, its output the frame that stride
completed) and builds it with :func:`edgekit.emulator.build_firmware`;
:func:`measure_frontend` runs a stream through it with
:func:`edgekit.emulator.run_qemu` (``-icount shift=0``: SysTick counts guest
instructions) and reads the static state and scratch sizes from the ELF.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import DataError, ToolchainError
from edgekit.frontend.codegen import generate_c, source_text
from edgekit.frontend.config import FrontendConfig

__all__ = ["FrontendMeasurement", "build_frontend_firmware", "measure_frontend"]


@dataclass(frozen=True)
class FrontendMeasurement:
    """What :func:`measure_frontend` measured.

    Attributes
    ----------
    frames : numpy.ndarray
        int8 ``(frames, num_channels)`` computed on the device.
    instructions : numpy.ndarray
        Guest instructions of each stride that produced a frame.
    state_bytes, scratch_bytes : int
        ``sizeof`` the front end's static state and scratch on the target.
    stack_bytes : int
        Stack high-water mark of the whole firmware run.
    flash_bytes : int
        text + data of the firmware ELF (harness included).
    """

    frames: np.ndarray
    instructions: np.ndarray
    state_bytes: int
    scratch_bytes: int
    stack_bytes: int
    flash_bytes: int


def build_frontend_firmware(config: FrontendConfig, out_dir, target: str = "cortex-m4",
                            opt: str = "-O2"):
    """Generate the front end's C and build the measurement firmware.

    Returns
    -------
    edgekit.emulator.FirmwareBuild
    """
    from edgekit.emulator import build_firmware  # noqa: PLC0415 (toolchain only when used)

    out = Path(out_dir)
    src = out / "src"
    generate_c(config, src)
    (src / "model.h").write_text(source_text("harness_model.h"))
    (src / "frontend_model.c").write_text(source_text("harness_model.c"))
    return build_firmware(src, out / "build", target=target, opt=opt)


def _symbol_size(elf: Path, symbol: str) -> int:
    nm = "arm-none-eabi-nm"
    try:
        proc = subprocess.run([nm, "-S", str(elf)], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ToolchainError(f"{nm} failed on {elf}: {e}") from None
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == symbol:
            return int(parts[1], 16)
    raise ToolchainError(f"symbol {symbol} not found in {elf}")


def measure_frontend(config: FrontendConfig, pcm, out_dir, target: str = "cortex-m4",
                     opt: str = "-O2") -> FrontendMeasurement:
    """Run ``pcm`` through the front end in QEMU, stride after stride.

    Parameters
    ----------
    config : FrontendConfig
        Front-end parameters.
    pcm : array_like of int16
        The stream; it is cut to a whole number of strides.
    out_dir : path
        Build directory.
    target : str
        Emulator target (default ``"cortex-m4"``: mps2-an386).
    opt : str
        Optimisation flag.

    Returns
    -------
    FrontendMeasurement
    """
    from edgekit.emulator import run_qemu  # noqa: PLC0415

    x = np.asarray(pcm)
    if x.dtype != np.int16 or x.ndim != 1:
        raise DataError(f"pcm must be 1-D int16 (got {x.dtype}, shape {x.shape})")
    strides = x.size // config.stride
    if config.frames_for(strides * config.stride) < 1:
        raise DataError(f"pcm too short for one frame (got {x.size} samples)")
    fw = build_frontend_firmware(config, out_dir, target, opt)
    cases = x[: strides * config.stride].reshape(strides, config.stride)
    run = run_qemu(fw.elf, cases.view(np.uint8).reshape(strides, -1), target=target)
    outputs = np.asarray(run.outputs).reshape(strides, -1).view(np.int8)
    produced = np.array([config.frames_for((i + 1) * config.stride)
                         - config.frames_for(i * config.stride) for i in range(strides)])
    if produced.max() > 1:
        raise DataError("the measurement firmware needs window_size - stride < stride")
    keep = produced == 1
    return FrontendMeasurement(
        frames=outputs[keep].copy(),
        instructions=np.asarray(run.instructions)[keep],
        state_bytes=_symbol_size(fw.elf, "state"),
        scratch_bytes=_symbol_size(fw.elf, "scratch"),
        stack_bytes=int(run.stack_bytes),
        flash_bytes=int(fw.flash_bytes))
