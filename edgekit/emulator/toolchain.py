"""Finding the cross toolchain, the host compiler and QEMU."""

from __future__ import annotations

import os
import shutil
import subprocess

from edgekit.errors import ToolchainError

__all__ = [
    "ARM_INSTALL_COMMAND",
    "HOST_INSTALL_COMMAND",
    "check_toolchain",
]

ARM_INSTALL_COMMAND = (
    "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
)
HOST_INSTALL_COMMAND = "sudo apt-get install gcc"

ARM_GCC = "arm-none-eabi-gcc"
ARM_SIZE = "arm-none-eabi-size"
QEMU = "qemu-system-arm"
HOST_CC = "gcc"


def _which(tool: str) -> str | None:
    # Read PATH at call time so tests (and users) can change it.
    return shutil.which(tool, path=os.environ.get("PATH", os.defpath))


def _newlib_present(gcc: str) -> bool:
    """Return True if arm-none-eabi-gcc can find newlib-nano's libc."""
    try:
        proc = subprocess.run(
            [gcc, "-print-file-name=libc_nano.a"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    path = proc.stdout.strip()
    return proc.returncode == 0 and os.path.isabs(path) and os.path.exists(path)


def check_toolchain(host: bool = False, *, qemu: bool = True) -> dict[str, str]:
    """Check that the tools needed to build and run firmware are installed.

    Parameters
    ----------
    host : bool, optional
        If True, check only the host C compiler (``gcc``) used by
        :func:`edgekit.emulator.build_host`.  If False (default), check the
        Cortex-M cross toolchain (``arm-none-eabi-gcc``, ``arm-none-eabi-size``
        and newlib) and, unless ``qemu`` is False, ``qemu-system-arm``.
    qemu : bool, optional
        Whether ``qemu-system-arm`` is required (ignored when ``host``).

    Returns
    -------
    dict of str to str
        Tool name -> absolute path of every tool checked.

    Raises
    ------
    edgekit.errors.ToolchainError
        If a tool is missing; the message contains the install command.
    """
    if host:
        path = _which(HOST_CC)
        if path is None:
            raise ToolchainError(
                f"host C compiler '{HOST_CC}' not found on PATH; install it with:\n"
                f"  {HOST_INSTALL_COMMAND}"
            )
        return {HOST_CC: path}

    needed = [ARM_GCC, ARM_SIZE] + ([QEMU] if qemu else [])
    found: dict[str, str] = {}
    missing: list[str] = []
    for tool in needed:
        path = _which(tool)
        if path is None:
            missing.append(tool)
        else:
            found[tool] = path
    if missing:
        raise ToolchainError(
            f"missing tool(s) on PATH: {', '.join(missing)}; install them with:\n"
            f"  {ARM_INSTALL_COMMAND}"
        )
    if not _newlib_present(found[ARM_GCC]):
        raise ToolchainError(
            "arm-none-eabi-gcc cannot find newlib (libc_nano.a); install it with:\n"
            f"  {ARM_INSTALL_COMMAND}"
        )
    return found
