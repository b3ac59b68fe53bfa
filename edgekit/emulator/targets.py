"""Cortex-M targets: compiler flags, QEMU machine and memory map.

Each :class:`Target` says how to compile for one core
(``arm-none-eabi-gcc`` flags), where its code and data live (the values
substituted into the linker-script template ``firmware/link.ld.j2``) and
which ``qemu-system-arm`` machine can run it.

The memory maps were read from ``qemu-system-arm -M <machine> -monitor stdio``
(``info mtree``) and checked by booting the toy model:

* ``mps2-an385/an386/an500`` (M3/M4/M7): ZBT SSRAM1 at 0x00000000 (4 MB; the
  vector table is fetched from 0) and SSRAM2/3 at 0x20000000 (4 MB).
* ``mps2-an505`` (M33, TrustZone): the CPU boots Secure with VTOR at
  0x10000000, the Secure alias of SSRAM1 (4 MB); data in the Secure alias of
  SSRAM2+3 at 0x38000000 (4 MB).  The MPCs reset to "all Secure", so no
  TrustZone set-up is needed.
* ``mps3-an547`` (M55): boots from the ITCM (512 KB, Secure alias
  0x10000000); data in the DTCM (512 KB, Secure alias 0x30000000).
* ``microbit`` (nRF51, a Cortex-M0): 256 KB flash at 0, 16 KB RAM at
  0x20000000.

``systick_hz`` is the SysTick processor-clock frequency of the QEMU machine
(measured: 25 MHz on mps2-an385/386/500, 20 MHz on mps2-an505, 32 MHz on
mps3-an547, 16 MHz on microbit).  Under ``-icount shift=0`` one guest
instruction takes 1 ns, so instructions = ticks * 1e9 / systick_hz.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.errors import ConfigError

__all__ = ["Target", "TARGETS", "ALIASES", "get_target", "target_names"]


@dataclass(frozen=True)
class Target:
    """One Cortex-M core and the QEMU machine that emulates it.

    Attributes
    ----------
    name : str
        Target name used on the command line, e.g. ``"cortex-m4"``.
    core : str
        Core name, e.g. ``"Cortex-M4F"``.
    cpu_flags : tuple of str
        ``arm-none-eabi-gcc`` code-generation flags (``-mcpu`` ...).
    qemu_machine : str
        ``qemu-system-arm -M`` machine name.
    qemu_cpu : str or None
        ``-cpu`` value, or None to use the machine's default core.
    flash_origin, flash_size : int
        Region holding the vector table, code, constants and the load image
        of ``.data``.  The vector table is placed at ``flash_origin``, which
        must be the machine's reset vector-table address.
    ram_origin, ram_size : int
        Region holding ``.data``, ``.bss`` and, at its top, the stack.
    stack_size : int
        Bytes reserved for the stack at the top of RAM.
    systick_hz : int
        SysTick processor-clock frequency on the QEMU machine.
    qemu_runs : bool
        True if :func:`edgekit.emulator.run_qemu` can run this target.
    has_fpu : bool
        True if the flags select a hardware FPU (and the startup enables it).
    has_dwt_cyccnt : bool
        True if the core has DWT->CYCCNT (``EDGEKIT_PROFILE_DWT`` allowed).
    note : str
        Human-readable remarks (limits, what was verified).
    """

    name: str
    core: str
    cpu_flags: tuple[str, ...]
    qemu_machine: str
    qemu_cpu: str | None
    flash_origin: int
    flash_size: int
    ram_origin: int
    ram_size: int
    stack_size: int
    systick_hz: int
    qemu_runs: bool
    has_fpu: bool
    has_dwt_cyccnt: bool
    note: str

    @property
    def instructions_per_tick(self) -> float:
        """Guest instructions per SysTick tick under ``-icount shift=0``."""
        return 1e9 / self.systick_hz


_MB = 1024 * 1024
_KB = 1024

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="cortex-m4",
            core="Cortex-M4F",
            cpu_flags=("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
            qemu_machine="mps2-an386",
            qemu_cpu=None,
            flash_origin=0x00000000,
            flash_size=4 * _MB,
            ram_origin=0x20000000,
            ram_size=4 * _MB,
            stack_size=64 * _KB,
            systick_hz=25_000_000,
            qemu_runs=True,
            has_fpu=True,
            has_dwt_cyccnt=True,
            note="Default target. Runs under QEMU mps2-an386; SysTick 25 MHz, "
            "1 tick = 40 instructions.",
        ),
        Target(
            name="cortex-m3",
            core="Cortex-M3",
            cpu_flags=("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),
            qemu_machine="mps2-an385",
            qemu_cpu=None,
            flash_origin=0x00000000,
            flash_size=4 * _MB,
            ram_origin=0x20000000,
            ram_size=4 * _MB,
            stack_size=64 * _KB,
            systick_hz=25_000_000,
            qemu_runs=True,
            has_fpu=False,
            has_dwt_cyccnt=True,
            note="No FPU, no DSP (SIMD) instructions. Runs under QEMU mps2-an385; "
            "1 tick = 40 instructions.",
        ),
        Target(
            name="cortex-m7",
            core="Cortex-M7 (double-precision FPU)",
            cpu_flags=("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
            qemu_machine="mps2-an500",
            qemu_cpu=None,
            flash_origin=0x00000000,
            flash_size=4 * _MB,
            ram_origin=0x20000000,
            ram_size=4 * _MB,
            stack_size=64 * _KB,
            systick_hz=25_000_000,
            qemu_runs=True,
            has_fpu=True,
            has_dwt_cyccnt=True,
            note="Runs under QEMU mps2-an500 (caches and dual issue are not modelled: "
            "counts are instructions, not M7 cycles); 1 tick = 40 instructions.",
        ),
        Target(
            name="cortex-m33",
            core="Cortex-M33 (FPU, DSP)",
            cpu_flags=("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
            qemu_machine="mps2-an505",
            qemu_cpu=None,
            flash_origin=0x10000000,
            flash_size=4 * _MB,
            ram_origin=0x38000000,
            ram_size=4 * _MB,
            stack_size=64 * _KB,
            systick_hz=20_000_000,
            qemu_runs=True,
            has_fpu=True,
            has_dwt_cyccnt=True,
            note="Runs Secure-only under QEMU mps2-an505 (code in the Secure alias "
            "0x10000000 of SSRAM1, data at 0x38000000); SysTick 20 MHz, "
            "1 tick = 50 instructions.",
        ),
        Target(
            name="cortex-m55",
            core="Cortex-M55 (FPU, MVE/Helium)",
            cpu_flags=("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
            qemu_machine="mps3-an547",
            qemu_cpu=None,
            flash_origin=0x10000000,
            flash_size=512 * _KB,
            ram_origin=0x30000000,
            ram_size=512 * _KB,
            stack_size=64 * _KB,
            systick_hz=32_000_000,
            qemu_runs=True,
            has_fpu=True,
            has_dwt_cyccnt=True,
            note="Runs Secure-only under QEMU mps3-an547: code in ITCM (512 KB at "
            "0x10000000), data in DTCM (512 KB at 0x30000000); SysTick 32 MHz, "
            "1 tick = 31.25 instructions.",
        ),
        Target(
            name="cortex-m0plus",
            core="Cortex-M0+",
            cpu_flags=("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
            qemu_machine="microbit",
            qemu_cpu=None,
            flash_origin=0x00000000,
            flash_size=256 * _KB,
            ram_origin=0x20000000,
            ram_size=16 * _KB,
            stack_size=4 * _KB,
            systick_hz=16_000_000,
            qemu_runs=True,
            has_fpu=False,
            has_dwt_cyccnt=False,
            note="ARMv6-M code. QEMU has no Cortex-M0+ board; it runs on the "
            "microbit machine (nRF51, a Cortex-M0 executing the same ARMv6-M "
            "instruction set) with only 256 KB flash and 16 KB RAM, so only very "
            "small models fit. SysTick 16 MHz, 1 tick = 62.5 instructions.",
        ),
    )
}

ALIASES: dict[str, str] = {"cortex-m": "cortex-m4"}


def target_names() -> list[str]:
    """Return every accepted target name, aliases included.

    Returns
    -------
    list of str
        Target names followed by aliases.
    """
    return list(TARGETS) + list(ALIASES)


def get_target(name: str | Target) -> Target:
    """Look up a target by name (or alias).

    Parameters
    ----------
    name : str or Target
        Target name such as ``"cortex-m4"`` or the alias ``"cortex-m"``.
        A :class:`Target` is returned unchanged.

    Returns
    -------
    Target
        The target description.

    Raises
    ------
    edgekit.errors.ConfigError
        If the name is unknown; the message lists the valid names.
    """
    if isinstance(name, Target):
        return name
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    try:
        return TARGETS[key]
    except KeyError:
        raise ConfigError(
            f"unknown target {name!r}; valid targets: {', '.join(target_names())}"
        ) from None
