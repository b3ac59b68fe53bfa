"""Flash bytes of a firmware ELF split into weights, op parameters and code.

The split sums symbol sizes from ``arm-none-eabi-nm -S``: edgekit's
generated code names every constant tensor ``ek_c<N>`` (the weights), every
op's parameter block ``ek_op*``, and its kernels and glue ``ek_*`` /
``edgekit_*``.  Everything else in flash (harness, startup, libc) is
``other_flash``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from edgekit.errors import ToolchainError

__all__ = ["ARM_NM", "elf_breakdown"]

ARM_NM = "arm-none-eabi-nm"
_WEIGHT = re.compile(r"ek_c\d+")
_EDGEKIT_CODE = ("ek_", "edgekit_invoke", "edgekit_reset", "edgekit_op_kind")


def _nm() -> str:
    found = shutil.which(ARM_NM)
    if found:
        return found
    size = shutil.which("arm-none-eabi-size")
    if size:
        cand = Path(size).with_name(ARM_NM)
        if cand.is_file():
            return str(cand)
    raise ToolchainError(f"{ARM_NM} not found on PATH (it comes with arm-none-eabi-gcc's binutils)")


def elf_breakdown(elf: str | Path) -> dict[str, int]:
    """Bytes of weights, op parameters, edgekit code and everything else.

    Parameters
    ----------
    elf : str or pathlib.Path
        A firmware ELF built from edgekit's generated C.

    Returns
    -------
    dict of str to int
        ``weights`` (``ek_c<N>`` symbols), ``op_params`` (``ek_op*``),
        ``edgekit_code`` (other ``ek_*`` symbols, ``edgekit_invoke``,
        ``edgekit_reset``, ``edgekit_op_kind(s)``) and ``other_flash`` (every
        other sized symbol outside ``.bss``).

    Raises
    ------
    edgekit.errors.ToolchainError
        If ``arm-none-eabi-nm`` is missing or fails.
    """
    try:
        proc = subprocess.run([_nm(), "-S", "-t", "d", str(elf)], capture_output=True,
                              text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"cannot run {ARM_NM}: {exc}") from exc
    if proc.returncode != 0:
        raise ToolchainError(f"{ARM_NM} failed on {elf}:\n{proc.stderr.strip()}")
    cats = {"weights": 0, "op_params": 0, "edgekit_code": 0, "other_flash": 0}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        _, size, kind, name = parts
        if kind.lower() == "b":
            continue
        size = int(size)
        if _WEIGHT.fullmatch(name):
            cats["weights"] += size
        elif name.startswith("ek_op"):
            cats["op_params"] += size
        elif name.startswith(_EDGEKIT_CODE):
            cats["edgekit_code"] += size
        else:
            cats["other_flash"] += size
    return cats
