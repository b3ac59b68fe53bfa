"""Firmware flash, RAM and instructions of an int8 model, for compression reports.

:func:`device_cost` generates edgekit's C for an int8 TFLite model, builds
the Cortex-M firmware and runs it in QEMU on a few random int8 inputs (the
instruction count of the generated kernels does not depend on the values,
except for the few data-dependent ones, hence the mean), so that a
compression step can be compared before and after on the device figures,
not only on parameter counts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["device_cost"]


def device_cost(tflite: bytes, target: str = "cortex-m4", *, cases: int = 2,
                seed: int = 0) -> dict:
    """Flash bytes, RAM bytes and instructions per inference of ``tflite`` on ``target``.

    Parameters
    ----------
    tflite : bytes
        Int8 TFLite flatbuffer.
    target : str
        Cortex-M target name (:func:`edgekit.emulator.get_target`).
    cases : int
        Random int8 inputs run in QEMU (the mean is reported).
    seed : int
        Seed of the inputs.

    Returns
    -------
    dict
        ``{"flash_bytes", "ram_bytes", "instructions", "target"}``.

    Raises
    ------
    edgekit.errors.ToolchainError
        If the cross build fails.
    edgekit.errors.EmulatorError
        If QEMU fails.
    """
    from edgekit.firmware_export import generate, read_tflite
    from edgekit.verify import check_inputs, check_qemu

    graph = read_tflite(bytes(tflite))
    with tempfile.TemporaryDirectory(prefix="ek_device_") as tmp:
        src = Path(tmp) / "src"
        generate(graph, src)
        q = check_qemu(src, Path(tmp) / "fw", target, check_inputs(graph, None, cases, seed))
    return {"flash_bytes": int(q.firmware.flash_bytes), "ram_bytes": int(q.firmware.ram_bytes),
            "instructions": int(q.instructions), "target": str(target)}
