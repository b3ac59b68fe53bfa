"""How many cases the QEMU check runs, and for how long, from the model's MACs.

A fixed time limit (120 s) and every check input in QEMU suit keyword
spotters; a model of a few hundred million MACs times out.  The plan
estimates the guest instructions of one inference from its MACs
(:data:`INSTRUCTIONS_PER_MAC`, twice the optimized kernels' on the M4) and
QEMU's speed on a loaded host (:data:`GUEST_INSTRUCTIONS_PER_SECOND`); it
runs as many of the cases as fit in :data:`QEMU_SECONDS` (at least one) and
gives QEMU :data:`TIMEOUT_FACTOR` times the estimated time, so that a core
without DSP instructions or the reference kernels still finish.  The host
check still runs every case.  With the defaults, 50 cases of ResNet-8
(12.5 M MACs) all run; a model of 200 M MACs runs 3.

Measured here (2 shared cores, ``-icount shift=0``): 13 to 50 million
guest instructions per second; 1.3 to 1.4 instructions per MAC with the
optimized kernels on the Cortex-M4 (MLPerf Tiny KWS and ResNet-8).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from edgekit.errors import ConfigError

__all__ = ["GUEST_INSTRUCTIONS_PER_SECOND", "INSTRUCTIONS_PER_MAC", "QEMU_SECONDS", "QemuPlan",
           "plan_qemu"]

#: Guest instructions assumed per MAC (measured 1.3-1.4 on the M4, optimized kernels).
INSTRUCTIONS_PER_MAC = 3.0
#: Guest instructions assumed per case besides the MACs (harness, copies, small ops).
BASE_INSTRUCTIONS = 200_000
#: QEMU speed assumed (measured 13-50 million per second on a loaded host).
GUEST_INSTRUCTIONS_PER_SECOND = 20_000_000
#: Estimated seconds of guest execution the check aims at (the former fixed limit).
QEMU_SECONDS = 120.0
#: The time limit: this many times the estimate, plus :data:`STARTUP_SECONDS`.
TIMEOUT_FACTOR = 4.0
#: Seconds for QEMU to start and the firmware to print its header.
STARTUP_SECONDS = 60.0
#: Never less than the former fixed limit.
MIN_TIMEOUT = 120.0


@dataclass
class QemuPlan:
    """The QEMU check's size: result of :func:`plan_qemu`.

    Attributes
    ----------
    cases : int
        Cases to run in QEMU (the first ones of the check inputs).
    cases_given : int
        Check inputs available (all run on the host).
    timeout : float
        Seconds before QEMU is stopped.
    macs : int
        The model's multiply-accumulates per inference.
    estimated_seconds : float
        The pessimistic estimate of the run's guest time.
    """

    cases: int
    cases_given: int
    timeout: float
    macs: int
    estimated_seconds: float

    def to_dict(self) -> dict:
        """The plan as plain values (for ``report.json``)."""
        d = asdict(self)
        d["timeout"] = round(self.timeout, 1)
        d["estimated_seconds"] = round(self.estimated_seconds, 2)
        return d


def plan_qemu(macs: int, cases: int, *, seconds: float = QEMU_SECONDS) -> QemuPlan:
    """Cases and time limit of a QEMU check of a model of ``macs`` MACs.

    Parameters
    ----------
    macs : int
        Multiply-accumulates of one inference (e.g. the sum of
        :func:`edgekit.budget.layers.op_macs` over the ops).
    cases : int
        Check inputs available.
    seconds : float
        Estimated guest seconds the check may take (at least one case runs
        whatever its estimate).

    Returns
    -------
    QemuPlan

    Raises
    ------
    edgekit.errors.ConfigError
        If ``macs`` is negative, ``cases`` < 1 or ``seconds`` <= 0.
    """
    if macs < 0:
        raise ConfigError(f"macs must be >= 0 (got {macs})")
    if cases < 1:
        raise ConfigError(f"cases must be >= 1 (got {cases})")
    if not seconds > 0:
        raise ConfigError(f"seconds must be > 0 (got {seconds})")
    per_case = (BASE_INSTRUCTIONS + INSTRUCTIONS_PER_MAC * macs) / GUEST_INSTRUCTIONS_PER_SECOND
    k = max(1, min(cases, math.floor(seconds / per_case)))
    estimate = k * per_case
    timeout = max(MIN_TIMEOUT, STARTUP_SECONDS + TIMEOUT_FACTOR * estimate)
    return QemuPlan(cases=k, cases_given=int(cases), timeout=float(timeout), macs=int(macs),
                    estimated_seconds=float(estimate))
