"""Where the tests find the shared data (``$EDGEKIT_DATA``, else ``../shared``), never copied.

A test that needs it and cannot find it is skipped, or fails under ``$CI``
(so CI cannot pass without it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_bases() -> list[Path]:
    """Candidate ``shared`` folders: beside ``$EDGEKIT_DATA``, then ``<project>/../shared``."""
    bases = []
    if os.environ.get("EDGEKIT_DATA"):
        bases.append(Path(os.environ["EDGEKIT_DATA"]).parent)
    bases.append(PROJECT_ROOT.parent / "shared")
    return bases


def missing(reason: str):
    """Skip the test (fail it when ``$CI`` is set): shared data or a tool it needs is absent.

    Under CI a missing toolchain is a missing install step, not a reason to pass.
    """
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def shared_dir(sub: str, files) -> Path:
    """The first ``<shared>/<sub>`` holding every name in ``files`` (else :func:`missing`)."""
    bases = shared_bases()
    for base in bases:
        d = base / sub
        if all((d / f).is_file() for f in files):
            return d
    missing(f"{', '.join(files)} not found under " + ", ".join(str(b / sub) for b in bases))


def arm_qemu_missing() -> str | None:
    """Why the Arm toolchain / QEMU tests cannot run here (``None`` when both are installed)."""
    absent = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
    if not absent:
        return None
    return f"{' and '.join(absent)} missing (scripts/setup.sh installs the Arm toolchain and QEMU)"



#: Mark for tests that build for the Arm target and run QEMU: skipped where the
#: toolchain is absent, but run under ``$CI``, where they then fail (a missing
#: install step must not pass as a skip).
needs_arm_qemu = pytest.mark.skipif(not os.environ.get("CI") and arm_qemu_missing() is not None,
                                    reason=str(arm_qemu_missing()))
