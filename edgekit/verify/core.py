"""Generated C against tflite_micro: export, host build, QEMU run, comparison.

Every entry point that deploys a model (``edgekit build``, the streaming
form, ``edgekit budget``, width sizing, ``benchmarks/run.py``) goes through
these functions:

1. :func:`export_c`: read the int8 ``.tflite`` and generate its C;
2. :func:`check_host`: build the C for the host, run it on the check
   inputs and compare every output byte with tflite_micro (plus the
   largest difference between LiteRT and tflite_micro, reported only);
3. :func:`check_qemu`: build the C for a Cortex-M target, run it in QEMU,
   compare with the same reference and read the instruction counts;
4. :func:`verify`: all of the above in one working directory.

The reference is tflite_micro (:func:`tflm_reference`).  A streaming model
(``state_i`` input/output pairs, see :mod:`edgekit.models.streaming`) is
run call by call with its state outputs fed back, as the generated C does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.emulator import (EmulatorRun, FirmwareBuild, Target, build_firmware, build_host,
                              get_target, run_host, run_qemu)
from edgekit.errors import ConfigError, ModelError
from edgekit.firmware_export import Graph, read_tflite
from edgekit.firmware_export import Export as GeneratedC
from edgekit.firmware_export import generate
from edgekit.firmware_export.codegen import data_tensors
from edgekit.reference import run_tflm_stream
from edgekit.verify.qemu_plan import QemuPlan, plan_qemu
from edgekit.verify.io import check_cases, join_outputs, litert_max_diff, run_tflm_io

__all__ = ["Export", "HostCheck", "QemuCheck", "Verification", "build_c", "check_host",
           "check_inputs", "check_qemu", "export_c", "tflm_reference", "verify"]

#: What every comparison is made against (the ``reference`` field of reports).
REFERENCE = "tflite_micro"


@dataclass
class Export:
    """Result of :func:`export_c`.

    Attributes
    ----------
    graph : edgekit.firmware_export.Graph
        The model as read by :func:`edgekit.firmware_export.read_tflite`.
    result : edgekit.firmware_export.Export
        What :func:`edgekit.firmware_export.generate` returned (``plan``,
        ``weight_bytes``, ``state_bytes``, ``files``, ...).
    src_dir : pathlib.Path
        The directory holding the generated C.
    """

    graph: Graph
    result: GeneratedC
    src_dir: Path


@dataclass
class HostCheck:
    """Result of :func:`check_host`.

    Attributes
    ----------
    reference : numpy.ndarray
        tflite_micro's outputs, ``uint8`` ``(N, output_bytes)``.
    outputs : numpy.ndarray
        The host build's outputs, same shape.
    bit_exact : bool
        Every output byte of every case equals the reference.
    mismatched_cases : int
        Cases with at least one differing byte.
    max_diff_litert : int or None
        Largest absolute difference (LSB of each integer output) between
        LiteRT's default kernels and tflite_micro; None when not computed
        (streaming, or only float32 outputs).
    exe : pathlib.Path
        The host executable.
    """

    reference: np.ndarray
    outputs: np.ndarray
    bit_exact: bool
    mismatched_cases: int
    max_diff_litert: int | None
    exe: Path

    @property
    def cases(self) -> int:
        """Number of inputs checked."""
        return int(len(self.outputs))


@dataclass
class QemuCheck:
    """Result of :func:`check_qemu`.

    Attributes
    ----------
    firmware : edgekit.emulator.FirmwareBuild
        The Cortex-M build (``flash_bytes``, ``ram_bytes``, ``text``,
        ``data``, ``bss``, ``elf``, ...).
    run : edgekit.emulator.EmulatorRun
        The QEMU run (``instructions``, ``per_op``, ``clock``,
        ``stack_bytes``, ``outputs``, ...).
    bit_exact : bool or None
        Every output byte equals the reference (None without a reference).
    mismatched_cases : int or None
        Cases with at least one differing byte (None without a reference).
    instructions : int
        Mean instructions per inference (rounded).
    instructions_min, instructions_max : int
        Fewest and most instructions of one inference.
    plan : QemuPlan or None
        The cases and time limit scaled to the model's MACs (None when
        :func:`check_qemu` got no ``macs``: every input, the given limit).
    timeout : float
        The time limit QEMU ran under (seconds).
    """

    firmware: FirmwareBuild
    run: EmulatorRun
    bit_exact: bool | None
    mismatched_cases: int | None
    instructions: int
    instructions_min: int
    instructions_max: int
    plan: QemuPlan | None = None
    timeout: float = 120.0

    @property
    def cases(self) -> int:
        """Number of inputs run."""
        return int(len(self.run.outputs))

    def summary(self) -> str:
        """One line for the progress log: exactness and instructions per inference."""
        exact = ("bit-exact" if self.bit_exact else f"{self.mismatched_cases} cases differ"
                 if self.bit_exact is not None else "not compared")
        of = f" of {self.plan.cases_given}" if self.plan and self.plan.cases_given > self.cases \
            else ""
        return (f"QEMU: {exact} on {self.cases}{of} inputs, "
                f"{int(np.mean(self.run.instructions)):,} instructions per inference")


@dataclass
class Verification:
    """Result of :func:`verify`.

    Attributes
    ----------
    export : Export
        The generated C.
    host : HostCheck or None
        The host check (None if not run).
    qemu : QemuCheck or None
        The QEMU check (None if not run).
    reference : numpy.ndarray
        tflite_micro's outputs, ``uint8`` ``(N, output_bytes)``.
    """

    export: Export
    host: HostCheck | None
    qemu: QemuCheck | None
    reference: np.ndarray

    @property
    def bit_exact(self) -> bool | None:
        """True if every check that ran is bit-exact (None if none ran)."""
        ran = [c.bit_exact for c in (self.host, self.qemu) if c is not None]
        return bool(all(ran)) if ran else None

    def to_dict(self, real_cases: int | None = None) -> dict:
        """The ``emulator`` section of ``report.json``.

        Parameters
        ----------
        real_cases : int, optional
            How many of the inputs came from real data (the caller knows);
            inserted after ``cases`` when given.

        Returns
        -------
        dict
            ``bit_exact``, ``host_bit_exact``, ``qemu_bit_exact``, ``cases``,
            [``real_cases``], ``qemu_cases`` (how many ran in QEMU),
            ``qemu_timeout`` (its limit, seconds), ``qemu_plan`` (the plan
            scaled to the MACs, or None), ``mismatched_cases`` (QEMU's, else the host's),
            ``reference``, ``max_diff_litert``, ``instructions``,
            ``instructions_min``, ``instructions_max``, ``clock`` and
            ``per_op`` (``index``, ``op``, ``instructions``).  The fields of
            a check that did not run are None.
        """
        host, qemu = self.host, self.qemu
        d = {"bit_exact": self.bit_exact,
             "host_bit_exact": None if host is None else host.bit_exact,
             "qemu_bit_exact": None if qemu is None else qemu.bit_exact,
             "cases": int(len(self.reference))}
        if real_cases is not None:
            d["real_cases"] = int(real_cases)
        d["qemu_cases"] = None if qemu is None else qemu.cases
        d["qemu_timeout"] = None if qemu is None else qemu.timeout
        d["qemu_plan"] = None if qemu is None or qemu.plan is None else qemu.plan.to_dict()
        check = qemu if qemu is not None else host
        d.update({
            "mismatched_cases": None if check is None else check.mismatched_cases,
            "reference": REFERENCE,
            "max_diff_litert": None if host is None else host.max_diff_litert,
            "instructions": None if qemu is None else qemu.instructions,
            "instructions_min": None if qemu is None else qemu.instructions_min,
            "instructions_max": None if qemu is None else qemu.instructions_max,
            "clock": None if qemu is None else qemu.run.clock,
            "per_op": None if qemu is None else [
                {"index": p["index"], "op": p["op"], "instructions": p["instructions"]}
                for p in qemu.run.per_op],
        })
        return d


def check_inputs(graph: Graph, real: np.ndarray | None, n: int, seed: int = 0) -> np.ndarray:
    """The inputs a model is checked on: real cases first, then random ones.

    Parameters
    ----------
    graph : edgekit.firmware_export.Graph
        The model: any number of data inputs of type int8, int16, uint8 or
        float32.
    real : numpy.ndarray or None
        Quantized real inputs ``(M, ...)`` of a one-input model; up to
        ``n - n // 5`` of them are picked at random (kept in their
        original order).
    n : int
        Number of cases.
    seed : int
        Seed of the pick and of the random cases.

    Returns
    -------
    numpy.ndarray
        For one int8 input, ``int8`` ``(n, input_elements)``; otherwise
        ``uint8`` ``(n, input_bytes)``, each row every data input's raw
        bytes concatenated in the model's order (see
        :func:`edgekit.verify.io.check_cases`).

    Raises
    ------
    edgekit.errors.ModelError
        If a data input or output has a type the generated C does not take.
    """
    ins, _ = data_tensors(graph)
    x = graph.tensors[ins[0]]
    if len(ins) != 1 or x.dtype != "int8":
        return check_cases(graph, real, n, seed)
    rng = np.random.default_rng(seed)
    cases = []
    if real is not None and len(real):
        k = min(len(real), n - n // 5)
        pick = rng.choice(len(real), size=k, replace=False)
        cases.extend(np.asarray(real[i], np.int8).reshape(-1) for i in sorted(pick))
    while len(cases) < n:
        cases.append(rng.integers(-128, 128, x.num_elements, dtype=np.int8))
    return np.stack(cases)


def _bytes(a: np.ndarray) -> np.ndarray:
    """``(N, ...)`` int8/uint8 outputs as ``uint8`` ``(N, bytes)``."""
    a = np.ascontiguousarray(a)
    return a.reshape(len(a), -1).view(np.uint8)


def _is_stream(graph: Graph, stream: bool | None) -> bool:
    return bool(graph.state_pairs()) if stream is None else bool(stream)


def tflm_reference(tflite: bytes, inputs: np.ndarray, *, graph: Graph | None = None,
                   stream: bool | None = None, lstm_state: str = "reset") -> np.ndarray:
    """tflite_micro's outputs for ``inputs``: the reference of every check.

    Parameters
    ----------
    tflite : bytes
        The model.
    inputs : numpy.ndarray
        ``(N, ...)``, one case (or, streaming, one call) per row: every data
        input's bytes concatenated (e.g. ``int8`` ``(N, elements)`` for one
        int8 input; see :func:`check_inputs`).
    graph : edgekit.firmware_export.Graph, optional
        ``tflite`` already read (read here if not given).
    stream : bool, optional
        Run the inputs as one stream of calls, each call's state outputs
        fed back into the next (:func:`edgekit.reference.run_tflm_stream`;
        the state starts from zero, as after ``edgekit_reset()``).  Default:
        if the model has ``state_i`` pairs.
    lstm_state : {"reset", "keep"}
        As the C was generated (:func:`edgekit.firmware_export.generate`):
        ``"keep"`` runs the inputs as one stream of invokes, tflite_micro
        reset only before the first, its variable tensors (an LSTM's state)
        carried over, as the harnesses call ``edgekit_reset()`` once.

    Returns
    -------
    numpy.ndarray
        ``uint8`` ``(N, output_bytes)``: every data output's bytes, concatenated.
    """
    graph = graph if graph is not None else read_tflite(tflite)
    if stream is not False and _is_stream(graph, stream):
        return _bytes(run_tflm_stream(tflite, graph, inputs))
    resets = None
    if lstm_state == "keep":
        resets = np.zeros(len(inputs), bool)
    return join_outputs(run_tflm_io(tflite, graph, inputs, resets))


def _compare(outputs: np.ndarray, reference: np.ndarray) -> tuple[bool, int]:
    """(bit-exact, number of differing cases) of two ``uint8`` ``(N, bytes)`` arrays."""
    if outputs.shape != reference.shape:   # a different output size: every case differs
        return False, int(len(outputs))
    differ = int((outputs != reference).any(axis=1).sum())
    return differ == 0, differ


def export_c(tflite: bytes, src_dir, *, kernels: str = "optimized",
             source: str = "model.tflite", lstm_state: str = "reset") -> Export:
    """Read an int8 ``.tflite`` and write its generated C into ``src_dir``.

    Parameters
    ----------
    tflite : bytes
        The flatbuffer.
    src_dir : path
        Output directory of ``model.c``, ``model.h`` and the kernels.
    kernels : {"optimized", "reference"}
        Kernel set (see :func:`edgekit.firmware_export.generate`).
    source : str
        Model name written into the generated files' header.
    lstm_state : {"reset", "keep"}
        See :func:`edgekit.firmware_export.generate`.

    Returns
    -------
    Export

    Raises
    ------
    edgekit.errors.ModelError
        Unreadable model or unsupported ops.
    """
    graph = read_tflite(tflite)
    result = generate(graph, Path(src_dir), source=source, kernels=kernels,
                      lstm_state=lstm_state)
    return Export(graph=graph, result=result, src_dir=Path(src_dir))


def check_host(tflite: bytes | None, src_dir, build_dir, inputs: np.ndarray, *,
               reference: np.ndarray | None = None, litert: bool = True,
               stream: bool | None = None, lstm_state: str = "reset") -> HostCheck:
    """Build generated C for the host, run it and compare with tflite_micro.

    Parameters
    ----------
    tflite : bytes or None
        The model the C was generated from (may be None when ``reference``
        is given and ``litert`` is False).
    src_dir : path
        The generated C (:func:`export_c`).
    build_dir : path
        Host build directory.
    inputs : numpy.ndarray
        ``int8`` ``(N, input_elements)`` (:func:`check_inputs`).
    reference : numpy.ndarray, optional
        Expected outputs ``(N, output_bytes)`` (``uint8`` or ``int8``);
        computed with :func:`tflm_reference` if not given.
    litert : bool
        Also report the largest difference between LiteRT and the reference
        (not for streaming models: LiteRT is run without state).
    stream : bool, optional
        Passed to :func:`tflm_reference` (default: the model's state pairs decide).
    lstm_state : {"reset", "keep"}
        As the C was generated; passed to :func:`tflm_reference` (``"keep"``:
        no LiteRT comparison, the cases being one stream).

    Returns
    -------
    HostCheck

    Raises
    ------
    edgekit.errors.ToolchainError
        If the host build fails.
    edgekit.errors.EmulatorError
        If the program fails.
    """
    inputs = np.asarray(inputs)
    graph = None
    if reference is None or litert:
        if tflite is None:
            raise ConfigError("check_host needs the model (tflite) for its reference")
        graph = read_tflite(tflite)
    if reference is None:
        reference = tflm_reference(tflite, inputs, graph=graph, stream=stream,
                                   lstm_state=lstm_state)
    reference = _bytes(reference)
    exe = build_host(src_dir, build_dir)
    outputs = run_host(exe, _bytes(inputs))
    exact, differ = _compare(outputs, reference)
    max_diff = None
    if litert and not _is_stream(graph, stream) and lstm_state != "keep":
        max_diff = litert_max_diff(tflite, graph, inputs, reference)
    return HostCheck(reference=reference, outputs=outputs, bit_exact=exact,
                     mismatched_cases=differ, max_diff_litert=max_diff, exe=Path(exe))


def build_c(src_dir, build_dir, target: str | Target) -> FirmwareBuild:
    """Compile generated C for a Cortex-M target (no run).

    Parameters
    ----------
    src_dir : path
        The generated C (:func:`export_c`).
    build_dir : path
        Build directory.
    target : str or edgekit.emulator.Target

    Returns
    -------
    edgekit.emulator.FirmwareBuild

    Raises
    ------
    edgekit.errors.ToolchainError
        If compiling or linking fails (e.g. the model overflows the target).
    """
    return build_firmware(src_dir, build_dir, target=get_target(target))


def check_qemu(src_dir, build_dir, target: str | Target, inputs: np.ndarray,
               reference: np.ndarray | None = None, *, timeout: float | None = None,
               macs: int | None = None) -> QemuCheck:
    """Build generated C for a Cortex-M target, run it in QEMU and compare.

    Parameters
    ----------
    src_dir : path
        The generated C (:func:`export_c`).
    build_dir : path
        Firmware build directory.
    target : str or edgekit.emulator.Target
        Cortex-M target (its QEMU machine runs the firmware).
    inputs : numpy.ndarray
        ``(N, ...)``: each row every data input's bytes (:func:`check_inputs`).
    reference : numpy.ndarray, optional
        Expected outputs ``(N, output_bytes)``; without one the run is only
        measured (``bit_exact`` and ``mismatched_cases`` are None).
    timeout : float, optional
        Seconds before QEMU is stopped: by default the plan's (with
        ``macs``), else 120.
    macs : int, optional
        The model's MACs per inference: run only the first cases that fit
        the QEMU time budget, under a limit scaled to them
        (:func:`edgekit.verify.qemu_plan.plan_qemu`; ``QemuCheck.plan``).
        Without it every input runs.

    Returns
    -------
    QemuCheck

    Raises
    ------
    edgekit.errors.ToolchainError
        If the cross build fails (e.g. the model overflows the target).
    edgekit.errors.EmulatorError
        If the firmware fails in QEMU or times out.
    """
    tgt = get_target(target)
    inputs = np.asarray(inputs)
    plan = None
    if macs is not None:
        plan = plan_qemu(int(macs), len(inputs))
        inputs = inputs[:plan.cases]
        reference = None if reference is None else np.asarray(reference)[:plan.cases]
        timeout = plan.timeout if timeout is None else timeout
    timeout = 120.0 if timeout is None else float(timeout)
    fw = build_firmware(src_dir, build_dir, target=tgt)
    run = run_qemu(fw.elf, _bytes(inputs), target=tgt, timeout=timeout)
    exact = differ = None
    if reference is not None:
        exact, differ = _compare(run.outputs, _bytes(reference))
    ins = run.instructions
    return QemuCheck(firmware=fw, run=run, bit_exact=exact, mismatched_cases=differ,
                     instructions=int(round(float(np.mean(ins)))),
                     instructions_min=int(min(ins)), instructions_max=int(max(ins)),
                     plan=plan, timeout=timeout)


def verify(tflite: bytes, work, target: str | Target, inputs: np.ndarray, *,
           kernels: str = "optimized", host: bool = True, qemu: bool = True,
           litert: bool = True, source: str = "model.tflite",
           stream: bool | None = None, qemu_cases: int | None = None,
           macs: int | None = None, lstm_state: str = "reset") -> Verification:
    """Generate C for ``tflite`` and check it against tflite_micro on host and QEMU.

    Parameters
    ----------
    tflite : bytes
        The int8 model.
    work : path
        Working directory: ``work/src`` (generated C), ``work/host`` (host
        build), ``work/<target name>`` (firmware).
    target : str or edgekit.emulator.Target
        Cortex-M target of the QEMU check.
    inputs : numpy.ndarray
        ``int8`` ``(N, input_elements)`` (:func:`check_inputs`); for a
        streaming model, one call per row in stream order.
    kernels : {"optimized", "reference"}
        Kernel set of the generated C.
    host, qemu : bool
        Which checks to run.
    litert : bool
        Report LiteRT's largest difference from tflite_micro (host check).
    source : str
        Model name written into the generated C.
    stream : bool, optional
        Reference computed call by call with the state fed back (default:
        if the model has ``state_i`` pairs); see :func:`tflm_reference`.
    qemu_cases : int, optional
        Run only the first ``qemu_cases`` inputs in QEMU (default: all).
    macs : int, optional
        The model's MACs: QEMU runs as many of those inputs as its time
        budget allows, under a limit scaled to them (see :func:`check_qemu`).
    lstm_state : {"reset", "keep"}
        ``"keep"``: the LSTM state carried from one call to the next (see
        :func:`edgekit.firmware_export.generate`); the inputs are one stream.

    Returns
    -------
    Verification
    """
    work = Path(work)
    tgt = get_target(target)
    inputs = np.asarray(inputs)
    exp = export_c(tflite, work / "src", kernels=kernels, source=source, lstm_state=lstm_state)
    reference = tflm_reference(tflite, inputs, graph=exp.graph, stream=stream,
                               lstm_state=lstm_state)
    hc = qc = None
    if host:
        hc = check_host(tflite, exp.src_dir, work / "host", inputs, reference=reference,
                        litert=litert, stream=stream, lstm_state=lstm_state)
    if qemu:
        k = len(inputs) if qemu_cases is None else max(1, min(int(qemu_cases), len(inputs)))
        qc = check_qemu(exp.src_dir, work / tgt.name, tgt, inputs[:k], reference[:k], macs=macs)
    return Verification(export=exp, host=hc, qemu=qc, reference=reference)
