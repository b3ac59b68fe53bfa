"""Building generated model C into Cortex-M firmware or a host executable.

:func:`build_firmware` copies the firmware harness (startup, semihosting,
``main``) next to a linker script and a ``Makefile`` rendered from the
Jinja2 templates ``edgekit/emulator/firmware/Makefile.j2`` and
``link.ld.j2`` (:func:`firmware_files`), then compiles every ``*.c`` of
the generated source directory together with the harness in one
``arm-none-eabi-gcc`` invocation -- the same command the ``Makefile`` runs,
so ``make`` in the output directory rebuilds the ELF by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

import jinja2

from edgekit.c_templates import c_environment
from edgekit.emulator.compile import compile_and_link
from edgekit.emulator.targets import Target, get_target
from edgekit.emulator.toolchain import ARM_GCC, ARM_SIZE, HOST_CC, check_toolchain
from edgekit.errors import ConfigError, ToolchainError

__all__ = [
    "FirmwareBuild",
    "build_firmware",
    "build_host",
    "elf_size",
    "firmware_files",
    "COMMON_CFLAGS",
    "SANITIZE_CFLAGS",
    "SANITIZE_ENV",
    "sanitize_requested",
    "FIRMWARE_LDFLAGS",
]

#: Warning and section flags used for every firmware and host build.
COMMON_CFLAGS: tuple[str, ...] = (
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffunction-sections",
    "-fdata-sections",
)
#: Host flags of a sanitized build (see :func:`build_host`): any out-of-bounds
#: access, overflow of a signed int or misaligned load aborts the program.
SANITIZE_CFLAGS: tuple[str, ...] = (
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
)
#: Environment variable that turns sanitizers on for every host build whose
#: caller does not choose (the test suite sets it).
SANITIZE_ENV = "EDGEKIT_HOST_SANITIZE"
#: Firmware-only compile flags (debug info does not change the image size).
FIRMWARE_CFLAGS: tuple[str, ...] = COMMON_CFLAGS + ("-g",)
#: Linker script written next to the firmware (rendered from firmware/link.ld.j2).
LINKER_SCRIPT = "link.ld"
#: Firmware link flags; newlib-nano supplies memcpy/memset/libm only.
FIRMWARE_LDFLAGS: tuple[str, ...] = (
    "-T",
    LINKER_SCRIPT,
    "-nostartfiles",
    "--specs=nano.specs",
    "--specs=nosys.specs",
    "-Wl,--gc-sections",
    "-Wl,-Map=model.map",
)
FIRMWARE_LDLIBS: tuple[str, ...] = ("-lm",)

#: Harness sources copied next to the firmware build (package data).
HARNESS_FILES: tuple[str, ...] = (
    "edgekit_audio_harness.c",
    "edgekit_audio_harness.h",
    "edgekit_harness.c",
    "edgekit_harness.h",
    "edgekit_semihost.c",
    "edgekit_semihost.h",
    "edgekit_startup.c",
)
HOST_HARNESS_FILE = "host_main.c"
#: Harness sources a host build compiles besides host_main.c (the audio harness,
#: empty without -DEDGEKIT_AUDIO).
HOST_HARNESS_EXTRA: tuple[str, ...] = ("edgekit_audio_harness.c", "edgekit_audio_harness.h")

ELF_NAME = "model.elf"
MAP_NAME = "model.map"
HOST_EXE_NAME = "model_host"


@dataclass
class FirmwareBuild:
    """Result of :func:`build_firmware`.

    Attributes
    ----------
    elf : pathlib.Path
        The linked firmware image.
    out_dir : pathlib.Path
        Build directory (holds ``Makefile``, ``link.ld``, ``harness/``).
    makefile : pathlib.Path
        Generated ``Makefile``; ``make -C out_dir`` rebuilds ``elf``.
    linker_script : pathlib.Path
        Rendered linker script.
    map_file : pathlib.Path
        Linker map file.
    command : list of str
        The compiler command that was run (in ``out_dir``).
    target : Target
        Target the firmware was built for.
    opt : str
        Optimisation flag, e.g. ``"-O2"``.
    text, data, bss : int
        Section sizes from ``arm-none-eabi-size -B``.
    flash_bytes : int
        ``text + data`` (the load image of ``.data`` lives in flash).
    ram_bytes : int
        ``data + bss``; the stack is reserved separately (``stack_reserved``)
        and its measured use is reported by :func:`run_qemu`.
    stack_reserved : int
        Bytes reserved for the stack at the top of RAM by the linker script.
    """

    elf: Path
    out_dir: Path
    makefile: Path
    linker_script: Path
    map_file: Path
    command: list[str]
    target: Target
    opt: str
    text: int
    data: int
    bss: int
    flash_bytes: int
    ram_bytes: int
    stack_reserved: int
    defines: dict[str, str] = field(default_factory=dict)


def _harness_source(name: str) -> str:
    """A harness file of the package data (copied as it is)."""
    return resources.files("edgekit.emulator").joinpath("firmware", name).read_text("utf-8")


def _templates() -> jinja2.Environment:
    return c_environment("edgekit.emulator", "firmware")


def firmware_files(target: str | Target, src_dir: str | Path, opt: str = "-O2",
                   define_flags: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """The generated files of a firmware build directory, as text.

    Parameters
    ----------
    target : str or Target
        Target (its memory map goes into the linker script, its CPU flags
        into the ``Makefile``).
    src_dir : str or pathlib.Path
        Directory of the generated model C (written into the ``Makefile``).
    opt : str, optional
        Optimisation flag.
    define_flags : sequence of str, optional
        ``-D`` flags, as passed to the compiler.

    Returns
    -------
    dict of str to str
        ``{"link.ld": ..., "Makefile": ...}``, rendered from the templates
        ``firmware/link.ld.j2`` and ``firmware/Makefile.j2``.
    """
    tgt = get_target(target)
    env = _templates()
    linker = env.get_template("link.ld.j2").render(
        target=tgt.name, flash_origin=tgt.flash_origin, flash_size=tgt.flash_size,
        ram_origin=tgt.ram_origin, ram_size=tgt.ram_size, stack_size=tgt.stack_size)
    makefile = env.get_template("Makefile.j2").render(
        target=tgt.name, cc=ARM_GCC, size=ARM_SIZE, src_dir=str(src_dir),
        cpu_flags=list(tgt.cpu_flags), opt=opt, define_flags=list(define_flags),
        cflags=list(FIRMWARE_CFLAGS), ldflags=list(FIRMWARE_LDFLAGS),
        ldlibs=list(FIRMWARE_LDLIBS), elf=ELF_NAME, map=MAP_NAME, linker_script=LINKER_SCRIPT)
    return {LINKER_SCRIPT: linker, "Makefile": makefile}


def _check_opt(opt: str) -> str:
    if not re.fullmatch(r"-O(0|1|2|3|s|z|fast|g)?", opt):
        raise ConfigError(f"invalid optimisation flag {opt!r}; use e.g. -O2, -Os, -O3")
    return opt


def _define_flags(defines: Mapping[str, object] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (defines or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
            raise ConfigError(f"invalid preprocessor macro name {key!r}")
        out[str(key)] = "" if value is None else str(value)
    return out


def _define_args(defines: Mapping[str, str]) -> list[str]:
    return [f"-D{k}" if v == "" else f"-D{k}={v}" for k, v in defines.items()]


def _model_sources(src_dir: Path) -> list[Path]:
    if not src_dir.is_dir():
        raise ConfigError(f"source directory {src_dir} does not exist")
    if not (src_dir / "model.h").is_file():
        raise ConfigError(f"source directory {src_dir} has no model.h")
    sources = sorted(src_dir.glob("*.c"))
    clash = {p.name for p in sources} & set(HARNESS_FILES + (HOST_HARNESS_FILE,))
    if clash:
        raise ConfigError(f"{src_dir} contains harness file name(s) {sorted(clash)}")
    if not sources:
        raise ConfigError(f"source directory {src_dir} has no .c files")
    return sources


def elf_size(elf: str | Path) -> dict[str, int]:
    """Section sizes of a firmware ELF.

    Parameters
    ----------
    elf : str or pathlib.Path
        ELF file produced by :func:`build_firmware`.

    Returns
    -------
    dict of str to int
        ``text``, ``data``, ``bss`` (Berkeley format of
        ``arm-none-eabi-size -B``: ``text`` includes the vector table and
        read-only data), ``flash_bytes = text + data`` and
        ``ram_bytes = data + bss``.

    Raises
    ------
    edgekit.errors.ToolchainError
        If ``arm-none-eabi-size`` is missing or fails.
    """
    elf = Path(elf)
    tools = check_toolchain(qemu=False)
    try:
        proc = subprocess.run(
            [tools[ARM_SIZE], "-B", str(elf)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"cannot run {ARM_SIZE}: {exc}") from exc
    if proc.returncode != 0:
        raise ToolchainError(f"{ARM_SIZE} failed on {elf}:\n{proc.stderr.strip()}")
    lines = [ln.split() for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        header, row = lines[0], lines[1]
        values = dict(zip(header[:3], (int(v) for v in row[:3])))
        text, data, bss = values["text"], values["data"], values["bss"]
    except (IndexError, KeyError, ValueError) as exc:
        raise ToolchainError(f"cannot parse {ARM_SIZE} output:\n{proc.stdout}") from exc
    return {
        "text": text,
        "data": data,
        "bss": bss,
        "flash_bytes": text + data,
        "ram_bytes": data + bss,
    }


def build_firmware(
    src_dir: str | Path,
    out_dir: str | Path,
    target: str | Target = "cortex-m4",
    opt: str = "-O2",
    *,
    defines: Mapping[str, object] | None = None,
    profile: str = "systick",
) -> FirmwareBuild:
    """Compile generated model C plus the edgekit harness into a Cortex-M ELF.

    Parameters
    ----------
    src_dir : str or pathlib.Path
        Directory with ``model.h``, ``model.c`` and kernel sources; every
        ``*.c`` in it is compiled.
    out_dir : str or pathlib.Path
        Build directory (created if needed).  Receives ``Makefile``,
        ``link.ld``, ``harness/``, ``model.elf`` and ``model.map``.
    target : str or Target, optional
        Target name (default ``"cortex-m4"``), see
        :func:`edgekit.emulator.get_target`.
    opt : str, optional
        Optimisation flag, default ``"-O2"``.
    defines : mapping, optional
        Extra preprocessor macros, ``{"NAME": value}`` (``None`` for a bare
        ``-DNAME``).
    profile : {"systick", "dwt"}, optional
        Clock used for instruction counts.  ``"systick"`` (default) works
        under QEMU; ``"dwt"`` (``-DEDGEKIT_PROFILE_DWT``) reads the DWT cycle
        counter, which only real hardware implements.

    Returns
    -------
    FirmwareBuild
        Paths, command and section sizes.

    Raises
    ------
    edgekit.errors.ToolchainError
        If the cross toolchain is missing or compilation/linking fails (the
        message carries the compiler's stderr).
    edgekit.errors.ConfigError
        If the target, optimisation flag, profile or source directory is
        invalid.
    """
    tgt = get_target(target)
    opt = _check_opt(opt)
    src = Path(src_dir).resolve()
    out = Path(out_dir).resolve()
    sources = _model_sources(src)
    user_defines = _define_flags(defines)
    if profile not in ("systick", "dwt"):
        raise ConfigError(f"invalid profile clock {profile!r}; use 'systick' or 'dwt'")
    if profile == "dwt" and not tgt.has_dwt_cyccnt:
        raise ConfigError(f"target {tgt.name} has no DWT cycle counter; use profile='systick'")
    tools = check_toolchain(qemu=False)

    all_defines = {"EDGEKIT_SYSTICK_HZ": f"{tgt.systick_hz}u"}
    if profile == "dwt":
        all_defines["EDGEKIT_PROFILE_DWT"] = "1"
    all_defines.update(user_defines)

    out.mkdir(parents=True, exist_ok=True)
    harness = out / "harness"
    harness.mkdir(exist_ok=True)
    for name in HARNESS_FILES:
        (harness / name).write_text(_harness_source(name), encoding="utf-8")

    files = firmware_files(tgt, src, opt, _define_args(all_defines))
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    linker_script, makefile = out / LINKER_SCRIPT, out / "Makefile"

    harness_sources = sorted(p for p in harness.glob("*.c"))
    elf = out / ELF_NAME
    cmd, _ = compile_and_link(
        tools[ARM_GCC],
        [*tgt.cpu_flags, opt, *FIRMWARE_CFLAGS, *_define_args(all_defines)],
        [*sources, *harness_sources],
        [src, harness],
        [*FIRMWARE_LDFLAGS, *FIRMWARE_LDLIBS],
        elf,
        out / "obj",
        f"firmware build for {tgt.name}",
    )
    sizes = elf_size(elf)
    return FirmwareBuild(
        elf=elf,
        out_dir=out,
        makefile=makefile,
        linker_script=linker_script,
        map_file=out / MAP_NAME,
        command=cmd,
        target=tgt,
        opt=opt,
        text=sizes["text"],
        data=sizes["data"],
        bss=sizes["bss"],
        flash_bytes=sizes["flash_bytes"],
        ram_bytes=sizes["ram_bytes"],
        stack_reserved=tgt.stack_size,
        defines=all_defines,
    )


def sanitize_requested() -> bool:
    """Whether :data:`SANITIZE_ENV` asks for sanitized host builds.

    Returns
    -------
    bool
    """
    return os.environ.get(SANITIZE_ENV, "") not in ("", "0")


def build_host(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    opt: str = "-O2",
    defines: Mapping[str, object] | None = None,
    sanitize: bool | None = None,
) -> Path:
    """Compile generated model C with the host ``gcc`` into ``model_host``.

    The executable is run as ``model_host inputs.bin outputs.bin`` (see
    :func:`run_host`).

    Parameters
    ----------
    src_dir : str or pathlib.Path
        Directory with ``model.h``, ``model.c`` and kernel sources.
    out_dir : str or pathlib.Path
        Build directory (created if needed).
    opt : str, optional
        Optimisation flag, default ``"-O2"``.
    defines : mapping, optional
        Extra preprocessor macros, as for :func:`build_firmware`.
    sanitize : bool, optional
        Build with AddressSanitizer and UndefinedBehaviorSanitizer
        (:data:`SANITIZE_CFLAGS`).  Default: on when the environment
        variable :data:`SANITIZE_ENV` is set to a non-empty value other
        than ``0`` (the test suite does so for every host build).

    Returns
    -------
    pathlib.Path
        Path of the executable.

    Raises
    ------
    edgekit.errors.ToolchainError
        If ``gcc`` is missing or the build fails (message carries stderr).
    edgekit.errors.ConfigError
        If the source directory or an argument is invalid.
    """
    opt = _check_opt(opt)
    src = Path(src_dir).resolve()
    out = Path(out_dir).resolve()
    sources = _model_sources(src)
    all_defines = _define_flags(defines)
    tools = check_toolchain(host=True)
    out.mkdir(parents=True, exist_ok=True)
    harness = out / "host_harness"
    harness.mkdir(exist_ok=True)
    host_main = harness / HOST_HARNESS_FILE
    host_main.write_text(_harness_source(HOST_HARNESS_FILE), encoding="utf-8")
    for name in HOST_HARNESS_EXTRA:
        (harness / name).write_text(_harness_source(name), encoding="utf-8")
    exe = out / HOST_EXE_NAME
    if sanitize is None:
        sanitize = sanitize_requested()
    compile_and_link(
        tools[HOST_CC],
        [opt, *COMMON_CFLAGS, *(SANITIZE_CFLAGS if sanitize else ()), *_define_args(all_defines)],
        [*sources, host_main, *(harness / n for n in HOST_HARNESS_EXTRA if n.endswith(".c"))],
        [src, harness],
        ["-lm"],
        exe,
        out / "obj",
        "host build",
    )
    return exe
