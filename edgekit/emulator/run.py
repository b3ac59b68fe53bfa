"""Running firmware under QEMU (or the host build natively) and reading results.

The firmware harness (``firmware/edgekit_harness.c``) prints, over ARM
semihosting, one record per line::

    EDGEKIT 1 <clock> <hz>         clock is "systick" (hz = SysTick clock) or "dwt"
    IO <input_bytes> <output_bytes>   totals over the data inputs / outputs
    INPUTS <n> <bytes of each>     the data inputs (concatenated in each case)
    OUTPUTS <n> <bytes of each>    the data outputs (concatenated in each OUT)
    OPS <num_ops>
    OPNAME <i> <name>              for every op
    CASES <n>
    OUT <case> <hex bytes>         for every case: the output tensors
    INF <case> <instructions>      for every case: the whole edgekit_invoke()
    OP <case> <op> <instructions>  for every case and op
    STACK <bytes>                  stack high-water mark
    DONE
    ERR <message>                  (only on failure, then a non-zero exit)

With SysTick, "instructions" = ticks * 1e9 / hz: under ``-icount shift=0``
every guest instruction advances virtual time by 1 ns, so one 25 MHz tick is
40 instructions -- that is the resolution of every count, and each count
includes the ~20-instruction cost of the profiling hooks.  With the DWT clock
(real hardware only) the figures are CPU cycles.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit.emulator.cycles import (MODELED_TARGET, TRACE_FLAGS, CycleEstimate, TimingModel, disassemble,
                                     trace_cycles)
from edgekit.emulator.targets import Target, get_target
from edgekit.emulator.toolchain import QEMU, check_toolchain
from edgekit.errors import ConfigError, EmulatorError

__all__ = ["EmulatorRun", "run_qemu", "run_qemu_log", "run_host", "run_host_program",
           "parse_harness_output", "qemu_command"]

_SEMIHOST_FILE = "semihost.out"
_INPUTS_FILE = "inputs.bin"
_TAIL_LINES = 25


@dataclass
class EmulatorRun:
    """Result of :func:`run_qemu`.

    Attributes
    ----------
    outputs : numpy.ndarray
        ``uint8`` array of shape ``(N, OUTPUT_BYTES)``, one row per case.
    instructions : list of int
        Instructions of each whole ``edgekit_invoke()`` call, per case.
    per_op : list of dict
        One entry per op: ``{"index": int, "op": str, "instructions": int,
        "min": int, "max": int}``; ``instructions`` is the mean over cases
        (rounded), ``min``/``max`` the extremes.
    per_op_cases : numpy.ndarray
        ``int64`` array ``(N, NUM_OPS)``: every op's count in every case.
    op_names : list of str
        The op names as printed by the firmware (``EDGEKIT_OP_NAME(i)``).
    stack_bytes : int
        Stack high-water mark (bytes) over the whole run.
    clock : str
        ``"systick"`` or ``"dwt"``.
    clock_hz : int
        SysTick clock frequency (0 for DWT).
    target : str
        Target name.
    command : list of str
        The QEMU command line.
    log : str
        Raw semihosting output.
    wall_seconds : float
        Host wall-clock time of the QEMU run.
    cycles : CycleEstimate or None
        Estimated Cortex-M4 cycles per case and op (``run_qemu(..., cycles=True)``).
    input_sizes, output_sizes : list of int
        Bytes of each data input and output, in the model's order (the
        ``INPUTS``/``OUTPUTS`` records; one entry when the firmware prints none).
    """

    outputs: np.ndarray
    instructions: list[int]
    per_op: list[dict[str, Any]]
    per_op_cases: np.ndarray
    op_names: list[str]
    stack_bytes: int
    clock: str
    clock_hz: int
    target: str = ""
    command: list[str] = field(default_factory=list)
    log: str = ""
    wall_seconds: float = 0.0
    cycles: CycleEstimate | None = None
    input_sizes: list[int] = field(default_factory=list)
    output_sizes: list[int] = field(default_factory=list)


def _inputs_to_bytes(inputs: Any) -> tuple[bytes, int]:
    """Return (blob, number of cases) for an array or a list of byte strings."""
    if isinstance(inputs, np.ndarray):
        arr = inputs
        if arr.dtype not in (np.uint8, np.int8):
            raise ConfigError(f"inputs must be uint8 or int8, got {arr.dtype}")
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        elif arr.ndim > 2:
            arr = arr.reshape(arr.shape[0], -1)
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ConfigError("inputs must hold at least one non-empty case")
        return np.ascontiguousarray(arr).view(np.uint8).tobytes(), int(arr.shape[0])
    if isinstance(inputs, (bytes, bytearray, memoryview)):
        raise ConfigError("pass inputs as an (N, INPUT_BYTES) array or a list of byte strings")
    try:
        cases = [bytes(c) for c in inputs]
    except TypeError as exc:
        raise ConfigError(f"cannot interpret inputs of type {type(inputs).__name__}") from exc
    if not cases or not cases[0]:
        raise ConfigError("inputs must hold at least one non-empty case")
    if len({len(c) for c in cases}) != 1:
        raise ConfigError("all input cases must have the same length")
    return b"".join(cases), len(cases)


def _tail(text: str, n: int = _TAIL_LINES) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[-n:]) if lines else "(no output)"


def parse_harness_output(text: str, expected_cases: int | None = None) -> dict[str, Any]:
    """Parse the firmware harness's semihosting output.

    Parameters
    ----------
    text : str
        Everything the firmware printed.
    expected_cases : int, optional
        Number of cases written to ``inputs.bin``; checked against ``CASES``.

    Returns
    -------
    dict
        Keys ``outputs`` (uint8 array), ``instructions`` (list),
        ``per_op_cases`` (int64 array), ``op_names``, ``stack_bytes``,
        ``clock``, ``clock_hz``, ``input_bytes``, ``output_bytes``,
        ``input_sizes``, ``output_sizes`` (bytes of each data tensor).

    Raises
    ------
    edgekit.errors.EmulatorError
        On an ``ERR`` line, a missing ``DONE``, malformed or missing records.
    """
    clock, clock_hz = "systick", 0
    io: tuple[int, int] | None = None
    sizes: dict[str, list[int]] = {}
    num_ops: int | None = None
    names: dict[int, str] = {}
    cases: int | None = None
    outs: dict[int, bytes] = {}
    infs: dict[int, int] = {}
    ops: dict[tuple[int, int], int] = {}
    stack: int | None = None
    done = False
    errors: list[str] = []

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        tag = parts[0]
        try:
            if tag == "EDGEKIT":
                clock, clock_hz = parts[2], int(parts[3])
            elif tag == "IO":
                io = (int(parts[1]), int(parts[2]))
            elif tag in ("INPUTS", "OUTPUTS"):
                n = int(parts[1])
                sizes[tag] = [int(v) for v in parts[2:2 + n]]
                if len(sizes[tag]) != n:
                    raise ValueError(f"{tag} lists {len(sizes[tag])} sizes, not {n}")
            elif tag == "OPS":
                num_ops = int(parts[1])
            elif tag == "OPNAME":
                names[int(parts[1])] = parts[2] if len(parts) > 2 else ""
            elif tag == "CASES":
                cases = int(parts[1])
            elif tag == "OUT":
                outs[int(parts[1])] = bytes.fromhex(parts[2]) if len(parts) > 2 else b""
            elif tag == "INF":
                infs[int(parts[1])] = int(parts[2])
            elif tag == "OP":
                ops[(int(parts[1]), int(parts[2]))] = int(parts[3])
            elif tag == "STACK":
                stack = int(parts[1])
            elif tag == "DONE":
                done = True
            elif tag == "ERR":
                errors.append(line[4:])
            # Anything else (e.g. model debug prints) is ignored.
        except (IndexError, ValueError) as exc:
            raise EmulatorError(
                f"malformed harness line {lineno}: {line!r}\n--- output tail ---\n{_tail(text)}"
            ) from exc

    if errors:
        raise EmulatorError(
            "firmware reported an error: " + "; ".join(errors) + f"\n--- output tail ---\n{_tail(text)}"
        )
    if not done:
        raise EmulatorError(f"firmware did not print DONE\n--- output tail ---\n{_tail(text)}")
    if io is None or num_ops is None or cases is None or stack is None:
        raise EmulatorError(f"firmware output lacks IO/OPS/CASES/STACK\n{_tail(text)}")
    in_sizes, out_sizes = sizes.get("INPUTS", [io[0]]), sizes.get("OUTPUTS", [io[1]])
    if sum(in_sizes) != io[0] or sum(out_sizes) != io[1]:
        raise EmulatorError(f"firmware's tensor sizes (inputs {in_sizes}, outputs {out_sizes}) "
                            f"do not add up to its IO line ({io[0]} {io[1]})\n{_tail(text)}")
    if expected_cases is not None and cases != expected_cases:
        raise EmulatorError(
            f"firmware ran {cases} case(s) but {expected_cases} were given: "
            f"the model takes {io[0]} input bytes per case"
        )
    missing = [c for c in range(cases) if c not in outs or c not in infs]
    missing_ops = [(c, i) for c in range(cases) for i in range(num_ops) if (c, i) not in ops]
    bad_len = [c for c, b in outs.items() if len(b) != io[1]]
    if missing or missing_ops or bad_len or sorted(names) != list(range(num_ops)):
        raise EmulatorError(
            "incomplete firmware output "
            f"(cases without OUT/INF: {missing[:5]}, missing OP records: {missing_ops[:5]}, "
            f"wrong output length: {bad_len[:5]})\n{_tail(text)}"
        )
    outputs = np.frombuffer(b"".join(outs[c] for c in range(cases)), dtype=np.uint8)
    return {
        "outputs": outputs.reshape(cases, io[1]).copy(),
        "instructions": [infs[c] for c in range(cases)],
        "per_op_cases": np.array(
            [[ops[(c, i)] for i in range(num_ops)] for c in range(cases)], dtype=np.int64
        ).reshape(cases, num_ops),
        "op_names": [names[i] for i in range(num_ops)],
        "stack_bytes": stack,
        "clock": clock,
        "clock_hz": clock_hz,
        "input_bytes": io[0],
        "output_bytes": io[1],
        "input_sizes": in_sizes,
        "output_sizes": out_sizes,
    }


def qemu_command(elf: str | Path, target: str | Target = "cortex-m4") -> list[str]:
    """The ``qemu-system-arm`` command line used by :func:`run_qemu`.

    Semihosting output goes to the file ``semihost.out`` in the working
    directory (a QEMU ``file`` chardev), keeping it apart from QEMU's own
    messages; the guest UART is discarded and the monitor disabled.

    Parameters
    ----------
    elf : str or pathlib.Path
        Firmware image.
    target : str or Target, optional
        Target whose QEMU machine is used.

    Returns
    -------
    list of str
        The argument vector (program name first).
    """
    tgt = get_target(target)
    cmd = [QEMU, "-M", tgt.qemu_machine]
    if tgt.qemu_cpu:
        cmd += ["-cpu", tgt.qemu_cpu]
    cmd += [
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "null",
        "-no-reboot",
        "-chardev",
        f"file,id=edgekit_sh,path={_SEMIHOST_FILE}",
        "-semihosting-config",
        "enable=on,target=native,chardev=edgekit_sh",
        "-icount",
        "shift=0",
        "-kernel",
        str(Path(elf).resolve()),
    ]
    return cmd


def run_qemu(
    elf: str | Path,
    inputs: np.ndarray | Sequence[bytes],
    target: str | Target = "cortex-m4",
    timeout: float = 120.0,
    cycles: bool | TimingModel = False,
) -> EmulatorRun:
    """Run firmware built by :func:`build_firmware` under QEMU.

    Parameters
    ----------
    elf : str or pathlib.Path
        Firmware image.
    inputs : numpy.ndarray or sequence of bytes
        ``(N, INPUT_BYTES)`` ``uint8``/``int8`` array (a 1-D array is one
        case), or a list of equally long byte strings.
    target : str or Target, optional
        Target the ELF was built for (selects the QEMU machine).
    timeout : float, optional
        Seconds of host wall-clock time before QEMU is killed.
    cycles : bool or TimingModel, optional
        Also estimate Cortex-M4 cycles (``EmulatorRun.cycles``): QEMU logs the
        blocks it executes and :mod:`edgekit.emulator.cycles` applies the TRM
        timing model to them (a ``TimingModel`` sets its parameters).  The
        instruction counts are unchanged; the run is a few times slower.
        Cortex-M4 targets only.

    Returns
    -------
    EmulatorRun
        Outputs, instruction counts, per-op counts and stack use.

    Raises
    ------
    edgekit.errors.ToolchainError
        If ``qemu-system-arm`` is missing.
    edgekit.errors.ConfigError
        If the target cannot run under QEMU, the inputs are malformed, or
        ``cycles`` is asked of another core than the Cortex-M4.
    edgekit.errors.EmulatorError
        On time-out, a non-zero exit, an ``ERR`` line or incomplete output.
    """
    blob, n_cases = _inputs_to_bytes(inputs)
    tgt = get_target(target)
    if cycles is not False and tgt.name != MODELED_TARGET:
        raise ConfigError(f"the cycle estimate models the Cortex-M4 only (got target {tgt.name})")
    start = time.monotonic()
    estimate = None
    if cycles is False:
        log = run_qemu_log(elf, blob, tgt, timeout)
    else:
        model = cycles if isinstance(cycles, TimingModel) else TimingModel()
        with tempfile.TemporaryDirectory(prefix="edgekit-trace-") as tmp:
            trace = Path(tmp) / "trace.log"
            log = run_qemu_log(elf, blob, tgt, timeout, trace=trace)
            insns, symbols = disassemble(elf, model)
            names = parse_harness_output(log, expected_cases=n_cases)["op_names"]
            with trace.open(encoding="utf-8", errors="replace") as lines:
                estimate = trace_cycles(lines, insns, symbols, names, model)
    wall = time.monotonic() - start
    cmd = qemu_command(elf, tgt)
    cmd[0] = check_toolchain()[QEMU]
    parsed = parse_harness_output(log, expected_cases=n_cases)
    per_op_cases = parsed["per_op_cases"]
    per_op = [
        {
            "index": i,
            "op": name,
            "instructions": int(round(float(per_op_cases[:, i].mean()))),
            "min": int(per_op_cases[:, i].min()),
            "max": int(per_op_cases[:, i].max()),
        }
        for i, name in enumerate(parsed["op_names"])
    ]
    return EmulatorRun(
        outputs=parsed["outputs"],
        instructions=parsed["instructions"],
        per_op=per_op,
        per_op_cases=per_op_cases,
        op_names=parsed["op_names"],
        stack_bytes=parsed["stack_bytes"],
        clock=parsed["clock"],
        clock_hz=parsed["clock_hz"],
        target=tgt.name,
        command=cmd,
        log=log,
        wall_seconds=wall,
        cycles=estimate,
        input_sizes=parsed["input_sizes"],
        output_sizes=parsed["output_sizes"],
    )


def run_qemu_log(elf: str | Path, blob: bytes, target: str | Target = "cortex-m4",
                 timeout: float = 120.0, trace: str | Path | None = None) -> str:
    """Run firmware under QEMU with ``blob`` as its ``inputs.bin``; return its semihosting output.

    Parameters
    ----------
    elf : str or pathlib.Path
        Firmware image.
    blob : bytes
        The content of ``inputs.bin`` in the emulator's working directory.
    target : str or Target, optional
        Target whose QEMU machine is used.
    timeout : float, optional
        Seconds of host wall-clock time before QEMU is killed.
    trace : str or pathlib.Path, optional
        Write QEMU's log of executed blocks there (``-d exec,nochain,in_asm``),
        the input of :func:`edgekit.emulator.cycles.trace_cycles`.

    Returns
    -------
    str
        Everything the firmware printed.

    Raises
    ------
    edgekit.errors.ToolchainError
        If ``qemu-system-arm`` is missing.
    edgekit.errors.ConfigError
        If the target cannot run under QEMU or the ELF does not exist.
    edgekit.errors.EmulatorError
        On time-out or a non-zero exit (the firmware's ``ERR`` message first).
    """
    tgt = get_target(target)
    if not tgt.qemu_runs:
        raise ConfigError(f"target {tgt.name} cannot run under QEMU: {tgt.note}")
    elf = Path(elf)
    if not elf.is_file():
        raise ConfigError(f"firmware image {elf} does not exist")
    tools = check_toolchain()
    cmd = qemu_command(elf, tgt)
    cmd[0] = tools[QEMU]
    if trace is not None:
        cmd[1:1] = ["-d", TRACE_FLAGS, "-D", str(Path(trace).resolve())]
    with tempfile.TemporaryDirectory(prefix="edgekit-qemu-") as tmp:
        work = Path(tmp)
        (work / _INPUTS_FILE).write_bytes(blob)
        try:
            proc = subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            raise EmulatorError(f"cannot start {cmd[0]}: {exc}") from exc
        try:
            qemu_out, qemu_err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            qemu_out, qemu_err = proc.communicate()
            log = _read_log(work)
            raise EmulatorError(
                f"QEMU ({tgt.qemu_machine}) timed out after {timeout:g} s "
                f"(firmware hung or is too slow)\n--- output tail ---\n{_tail(log)}"
            ) from None
        log = _read_log(work)
    if proc.returncode != 0:
        errors = [ln.strip()[4:] for ln in log.splitlines() if ln.startswith("ERR ")]
        first = ("firmware reported an error: " + "; ".join(errors) + "; ") if errors else ""
        raise EmulatorError(
            f"{first}QEMU ({tgt.qemu_machine}) exited with status {proc.returncode}\n"
            f"--- output tail ---\n{_tail(log)}\n--- qemu ---\n{_tail(qemu_err + qemu_out, 10)}"
        )
    return log


def _read_log(work: Path) -> str:
    path = work / _SEMIHOST_FILE
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def run_host(
    exe: str | Path, inputs: np.ndarray | Sequence[bytes], timeout: float = 120.0
) -> np.ndarray:
    """Run a host build (:func:`build_host`) on some inputs.

    Parameters
    ----------
    exe : str or pathlib.Path
        The ``model_host`` executable.
    inputs : numpy.ndarray or sequence of bytes
        As for :func:`run_qemu`.
    timeout : float, optional
        Seconds before the process is killed.

    Returns
    -------
    numpy.ndarray
        ``uint8`` outputs of shape ``(N, OUTPUT_BYTES)``.

    Raises
    ------
    edgekit.errors.EmulatorError
        If the program fails, times out or writes a malformed output file.
    edgekit.errors.ConfigError
        If the inputs are malformed or the executable does not exist.
    """
    blob, n_cases = _inputs_to_bytes(inputs)
    proc, data = run_host_program(exe, blob, _INPUTS_FILE, "outputs.bin", timeout)
    if proc.returncode != 0:
        raise EmulatorError(
            f"{Path(exe).name} exited with status {proc.returncode}:\n{_tail(proc.stderr)}"
        )
    if not data or len(data) % n_cases:
        raise EmulatorError(
            f"{Path(exe).name} wrote {len(data)} output bytes for {n_cases} case(s)"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(n_cases, -1).copy()


def run_host_program(exe: str | Path, blob: bytes, input_name: str, output_name: str,
                     timeout: float = 120.0) -> tuple[subprocess.CompletedProcess, bytes]:
    """Run a host harness ``exe input_name output_name`` in a temporary directory.

    Parameters
    ----------
    exe : str or pathlib.Path
        A host build (:func:`edgekit.emulator.build_host`).
    blob : bytes
        The content of ``input_name``.
    input_name, output_name : str
        The file names the program reads and writes (its two arguments).
    timeout : float, optional
        Seconds before the process is killed.

    Returns
    -------
    subprocess.CompletedProcess
        The finished process (its return code is the caller's to judge).
    bytes
        What it wrote to ``output_name`` (empty if nothing).

    Raises
    ------
    edgekit.errors.ConfigError
        If the executable does not exist.
    edgekit.errors.EmulatorError
        If it cannot be started or times out.
    """
    exe = Path(exe).resolve()
    if not exe.is_file():
        raise ConfigError(f"host executable {exe} does not exist")
    with tempfile.TemporaryDirectory(prefix="edgekit-host-") as tmp:
        work = Path(tmp)
        (work / input_name).write_bytes(blob)
        try:
            proc = subprocess.run([str(exe), input_name, output_name], cwd=work,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise EmulatorError(f"{exe.name} timed out after {timeout:g} s") from exc
        except OSError as exc:
            raise EmulatorError(f"cannot run {exe}: {exc}") from exc
        out = work / output_name
        return proc, (out.read_bytes() if out.exists() else b"")
