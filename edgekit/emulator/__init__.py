"""edgekit.emulator: build generated model C for Cortex-M or the host and run it.

Typical use::

    from edgekit.emulator import build_firmware, run_qemu
    fw = build_firmware("gen/", "build/fw", target="cortex-m4")
    run = run_qemu(fw.elf, inputs, target="cortex-m4")
    run.outputs, run.instructions, run.per_op, run.stack_bytes
    run_qemu(fw.elf, inputs, cycles=True).cycles   # Cortex-M4 cycle estimate

Importing this package has no side effects; tools are looked up when used.
"""

from edgekit.emulator.audio import (
    AUDIO_DEFINES,
    AudioRun,
    ClipRuns,
    pack_clips,
    parse_audio_output,
    run_audio_host,
    run_audio_qemu,
)
from edgekit.emulator.build import (
    FirmwareBuild,
    build_firmware,
    build_host,
    elf_size,
)
from edgekit.emulator.cycles import CycleEstimate, TimingModel
from edgekit.emulator.run import (
    EmulatorRun,
    parse_harness_output,
    qemu_command,
    run_host,
    run_qemu,
    run_qemu_log,
)
from edgekit.emulator.targets import TARGETS, Target, get_target, target_names
from edgekit.emulator.toolchain import check_toolchain

__all__ = [
    "AUDIO_DEFINES",
    "AudioRun",
    "ClipRuns",
    "pack_clips",
    "parse_audio_output",
    "run_audio_host",
    "run_audio_qemu",
    "run_qemu_log",
    "EmulatorRun",
    "CycleEstimate",
    "TimingModel",
    "FirmwareBuild",
    "TARGETS",
    "Target",
    "build_firmware",
    "build_host",
    "check_toolchain",
    "elf_size",
    "get_target",
    "parse_harness_output",
    "qemu_command",
    "run_host",
    "run_qemu",
    "target_names",
]
