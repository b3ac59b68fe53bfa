"""The front end on a Cortex-M under QEMU: firmware, instructions per stride, RAM.

:func:`build_frontend_firmware` puts the generated front end behind the
model API of edgekit's emulator harness (``c/harness_model.[ch]``: one
harness case = one stride of PCM, its output the frame that stride
completed) and builds it with :func:`edgekit.emulator.build_firmware`
(which compiles every ``.c`` of the source directory: all the front end's
:data:`~edgekit.frontend.codegen.C_UNITS`); :func:`measure_frontend` runs a stream through it with
:func:`edgekit.emulator.run_qemu` (``-icount shift=0``: SysTick counts guest
instructions) and reads the static state and scratch sizes from the ELF.

With ``profile=True`` the firmware is compiled with ``-DEK_FRONTEND_PROFILE``
and the hooks of ``frontend.c`` time each stage (:data:`STAGES`) as one op
of the harness (templates ``profile_model.[ch].j2``, ``frontend_profile.h.j2``);
the hooks cost a few dozen instructions each, so the totals of a profiling
run are a little higher than those of the plain firmware.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from edgekit.c_templates import c_environment
from edgekit.errors import DataError, ToolchainError
from edgekit.frontend.codegen import generate_c, source_text
from edgekit.frontend.config import FrontendConfig

__all__ = ["FrontendMeasurement", "build_frontend_firmware", "measure_frontend", "STAGES"]

#: The stages a profiling firmware times, in the order of ``EK_FRONTEND_STAGE_*`` (frontend.h).
STAGES = ("window", "fft", "energy", "filterbank", "sqrt", "spectral_subtraction", "pcan", "log",
          "output")


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
    stages : dict of str to float
        Profiling runs only (else empty): mean guest instructions of each
        stage of :data:`STAGES` over the strides that produced a frame
        (stages a config turns off read 0).
    """

    frames: np.ndarray
    instructions: np.ndarray
    state_bytes: int
    scratch_bytes: int
    stack_bytes: int
    flash_bytes: int
    stages: dict = field(default_factory=dict)


def _templates() -> jinja2.Environment:
    """Jinja2 over ``edgekit/frontend/templates`` (:func:`edgekit.c_templates.c_environment`)."""
    return c_environment("edgekit.frontend")


def build_frontend_firmware(config: FrontendConfig, out_dir, target: str = "cortex-m4",
                            opt: str = "-O2", profile: bool = False):
    """Generate the front end's C and build the measurement firmware.

    Parameters
    ----------
    config : FrontendConfig
        Front-end parameters.
    out_dir : path
        Build directory (``src/`` and ``build/`` below it).
    target : str
        Emulator target.
    opt : str
        Optimisation flag.
    profile : bool
        Time every stage of :data:`STAGES` (one harness op each).

    Returns
    -------
    edgekit.emulator.FirmwareBuild
    """
    from edgekit.emulator import build_firmware  # noqa: PLC0415 (toolchain only when used)

    out = Path(out_dir)
    src = out / "src"
    generate_c(config, src)
    if not profile:
        (src / "model.h").write_text(source_text("harness_model.h"))
        (src / "frontend_model.c").write_text(source_text("harness_model.c"))
        return build_firmware(src, out / "build", target=target, opt=opt)
    env = _templates()
    for name, template in (("model.h", "profile_model.h.j2"),
                           ("frontend_model.c", "profile_model.c.j2"),
                           ("frontend_profile.h", "frontend_profile.h.j2")):
        (src / name).write_text(env.get_template(template).render(stages=STAGES))
    return build_firmware(src, out / "build", target=target, opt=opt,
                          defines={"EK_FRONTEND_PROFILE": 1})


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
                     opt: str = "-O2", profile: bool = False) -> FrontendMeasurement:
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
    profile : bool
        Build the profiling firmware and fill ``stages``.

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
    fw = build_frontend_firmware(config, out_dir, target, opt, profile)
    cases = x[: strides * config.stride].reshape(strides, config.stride)
    run = run_qemu(fw.elf, cases.view(np.uint8).reshape(strides, -1), target=target)
    outputs = np.asarray(run.outputs).reshape(strides, -1).view(np.int8)
    produced = np.array([config.frames_for((i + 1) * config.stride)
                         - config.frames_for(i * config.stride) for i in range(strides)])
    if produced.max() > 1:
        raise DataError("the measurement firmware needs window_size - stride < stride")
    keep = produced == 1
    stages = {}
    if profile:
        per_op = np.asarray(run.per_op_cases)[keep]
        stages = {name: float(per_op[:, run.op_names.index(name)].mean()) for name in STAGES}
    return FrontendMeasurement(
        frames=outputs[keep].copy(),
        instructions=np.asarray(run.instructions)[keep],
        state_bytes=_symbol_size(fw.elf, "state"),
        scratch_bytes=_symbol_size(fw.elf, "scratch"),
        stack_bytes=int(run.stack_bytes),
        flash_bytes=int(fw.flash_bytes),
        stages=stages)
