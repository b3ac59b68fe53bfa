"""``edgekit budget``: will this model fit this part, and how fast will it run?

:func:`budget` generates edgekit's C for an int8 ``.tflite``, compiles it
for the target's core, runs one inference in QEMU on that core's machine and
reports:

* per layer: op, shapes, parameters, MACs, weight bytes, live arena bytes,
  guest instructions and an estimated latency;
* flash: ``text + data`` of the ELF, split into weights / op parameters /
  edgekit code / harness and runtime from the symbol table;
* RAM: ``.data + .bss`` (which holds the planned tensor arena) plus the
  stack high-water mark measured in QEMU, beside the plan's lower bound and
  TFLM's arena for the same model (host build, 64-bit pointers);
* time: instructions per inference and an *estimated* latency from a rough
  cycles-per-instruction figure of the core at the target's clock;
* fit: flash and RAM against the part's capacity minus a headroom margin.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.budget.elf import elf_breakdown
from edgekit.budget.layers import layer_rows, unique_const
from edgekit.budget.render import format_markdown, format_table, write_plot
from edgekit.budget.targets import BudgetTarget, resolve_target
from edgekit.errors import ConfigError, EdgekitError, ModelError, ToolchainError
from edgekit.log import Progress
from edgekit.outputs import atomic_file

__all__ = ["BudgetError", "BudgetReport", "budget", "parse_bytes", "DEFAULT_HEADROOM"]

DEFAULT_HEADROOM = 0.10
TARGET_NOTE_M0 = "the microbit machine is too small for this model"
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
          "mib": 1024 ** 2}


class BudgetError(EdgekitError):
    """The model does not fit the target's flash or RAM (``--fail-on-budget``).

    Attributes
    ----------
    report : BudgetReport or None
        The full report (its outputs were written before raising).
    """

    def __init__(self, message: str, report: "BudgetReport | None" = None):
        super().__init__(message)
        self.report = report


@dataclass
class BudgetReport:
    """Result of :func:`budget`.

    Attributes
    ----------
    data : dict
        The ``budget.json`` content.
    table : str
        The terminal table (per-layer rows plus flash/RAM/time/fit lines).
    out_dir : pathlib.Path or None
        Where ``budget.json``, ``budget.md`` and ``budget.png`` were written.
    """

    data: dict
    table: str
    out_dir: Path | None = None

    @property
    def fits(self) -> bool:
        """True if both flash and RAM fit with the headroom margin."""
        return bool(self.data["fits"])


def parse_bytes(value: int | str | None, what: str = "size") -> int | None:
    """Parse a byte count such as ``8000``, ``256K``, ``256KB`` or ``1M`` (binary units).

    Parameters
    ----------
    value : int, str or None
    what : str
        Name used in the error message.

    Returns
    -------
    int or None
        Bytes, or None when ``value`` is None.

    Raises
    ------
    edgekit.errors.ConfigError
        If the value is not a positive byte count.
    """
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        n = int(value)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
        if not m or m.group(2).lower() not in _UNITS:
            raise ConfigError(f"{what}: {value!r} is not a byte count (e.g. 8000, 256K, 1M)")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n <= 0:
        raise ConfigError(f"{what} must be a positive number of bytes (got {value!r})")
    return n


#: Classes of the zoo models quantized by :func:`budget` (FSDD digits).
ZOO_NUM_CLASSES = 10
_RANDOM_CALIBRATION = 64
_KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def _quantize_random(model, mean: float, std: float) -> bytes:
    """int8-quantize a Keras model with seeded random calibration data."""
    from edgekit.quantize.int8 import quantize_int8  # noqa: PLC0415

    shape = tuple(int(d) for d in model.input_shape[1:])
    calib = np.random.default_rng(0).normal(mean, std, (_RANDOM_CALIBRATION, *shape))
    return quantize_int8(model, calib.astype(np.float32), num_samples=_RANDOM_CALIBRATION)


def _load_model(model, progress: Progress) -> tuple[bytes, str, dict]:
    """The int8 flatbuffer, a display name and a description of where it came from.

    A ``.tflite`` is read as is.  A Keras file (``.keras``/``.h5``) or a zoo
    architecture name (``dscnn``) is quantized to int8 first with seeded
    random calibration data: sizes, MACs and instruction counts do not depend
    on the weight values, accuracy does (use ``edgekit build`` for that).
    """
    path = Path(str(model))
    suffix = path.suffix.lower()
    note = ("quantized with random calibration data: sizes, MACs and instruction counts are "
            "representative, accuracy is not")
    if suffix == ".tflite":
        try:
            return path.read_bytes(), path.name, {"source": "tflite"}
        except OSError as e:
            raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None
    if suffix in _KERAS_SUFFIXES:
        if not path.is_file():
            raise ModelError(f"cannot read model {path}: no such file")
        progress.stage("quantize", f"{path.name}: Keras -> int8 TFLite (random calibration)")
        try:
            import keras  # noqa: PLC0415

            from edgekit.models.registry import register_custom_layers  # noqa: PLC0415

            register_custom_layers()
            kmodel = keras.models.load_model(str(path), compile=False)
        except Exception as e:  # noqa: BLE001 - Keras raises anything on old files
            first = str(e).splitlines()[0] if str(e) else ""
            first = first if len(first) <= 200 else first[:200] + "..."
            raise ModelError(f"cannot load Keras model {path} with Keras "
                             f"{keras.__version__}: {type(e).__name__}: {first}") from None
        return _quantize_random(kmodel, 0.0, 1.0), path.name, {"source": "keras", "note": note}
    if not path.exists() and "/" not in str(model) and not suffix:
        try:
            from edgekit.models.registry import (ARCHITECTURES, DEFAULT_RECIPE,  # noqa: PLC0415
                                                 build_model)
        except ImportError:  # pragma: no cover - the model zoo is not installed
            ARCHITECTURES = {}
        if str(model) in ARCHITECTURES:
            from edgekit.frontend.features import default_frontend_features  # noqa: PLC0415

            arch = str(model)
            hp = DEFAULT_RECIPE["hparams"] if arch == DEFAULT_RECIPE["arch"] else {}
            shape = default_frontend_features("fsdd").shape   # what a default build trains on
            progress.stage("quantize", f"zoo {arch} {hp}, input {shape}: int8 TFLite "
                           "(random weights and calibration)")
            kmodel = build_model(arch, shape, ZOO_NUM_CLASSES, seed=0, **hp)
            # log-mel features: the same calibration range as benchmarks/run.py
            return (_quantize_random(kmodel, -5.0, 3.0), f"zoo:{arch}",
                    {"source": "zoo", "arch": arch, "hparams": hp, "note": note})
        zoo = ", ".join(sorted(ARCHITECTURES)) or "none installed"
        raise ConfigError(f"{model!r}: not a .tflite, a Keras file or a zoo architecture "
                          f"({zoo})")
    raise ConfigError(f"{model}: edgekit budget takes an int8 .tflite, a Keras model "
                      f"({', '.join(_KERAS_SUFFIXES)}) or a zoo architecture name")


def _measurement_core(core):
    """A copy of ``core`` on a QEMU machine with room for any model (same code)."""
    from edgekit.emulator.targets import TARGETS  # noqa: PLC0415

    if core.name != "cortex-m0plus":
        return None
    # ARMv6-M code also runs on the Cortex-M3 of mps2-an385 (ARMv7-M executes
    # every ARMv6-M instruction), which has 4 MB code + 4 MB data memory.
    big = TARGETS["cortex-m3"]
    return dataclasses.replace(
        core, qemu_machine=big.qemu_machine, qemu_cpu=big.qemu_cpu,
        flash_origin=big.flash_origin, flash_size=big.flash_size, ram_origin=big.ram_origin,
        ram_size=big.ram_size, stack_size=big.stack_size, systick_hz=big.systick_hz)


def _measure_in_qemu(src: Path, work: Path, core, x: np.ndarray, progress: Progress):
    """Build and run the generated C once on ``core``'s QEMU machine (or a bigger one).

    Returns the :class:`edgekit.verify.QemuCheck` and the machine's description.
    """
    from edgekit.verify import check_qemu  # noqa: PLC0415

    try:
        return check_qemu(src, work / "fw", core, x, timeout=600), core.qemu_machine
    except ToolchainError as e:
        big = _measurement_core(core)
        if big is None or not re.search(r"overflow|will not fit", str(e)):
            raise
        progress.info(f"model does not fit QEMU {core.qemu_machine}'s memory; measuring the same "
                      f"{core.name} code on QEMU {big.qemu_machine} instead")
        return (check_qemu(src, work / "fw-big", big, x, timeout=600),
                f"{big.qemu_machine} (ARMv6-M code; {TARGET_NOTE_M0})")


def _fit(used: int, capacity: int, headroom: float) -> dict:
    budget_bytes = int(capacity * (1.0 - headroom))
    return {"capacity_bytes": int(capacity), "budget_bytes": budget_bytes,
            "margin_bytes": budget_bytes - int(used), "fits": int(used) <= budget_bytes}


def _overflows(report: dict, tgt: BudgetTarget) -> list[str]:
    msgs = []
    for key, label in (("flash", "flash"), ("ram", "RAM")):
        part = report[key]
        if part["fits"]:
            continue
        over_cap = part["total_bytes"] - part["capacity_bytes"]
        msgs.append(
            f"{label} overflows by {-part['margin_bytes']:,} bytes: needs "
            f"{part['total_bytes']:,} B, {tgt.name} has {part['capacity_bytes']:,} B, "
            f"{part['budget_bytes']:,} B after {report['headroom'] * 100:g}% headroom"
            + (f" ({over_cap:,} bytes over even without headroom)" if over_cap > 0 else ""))
    return msgs


def _write_outputs(report: dict, out: Path) -> Path:
    """Write ``budget.json``, ``budget.md`` and ``budget.png`` into ``out``.

    All three are rendered first, then each replaces its file atomically;
    other files in ``out`` are left alone.
    """
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    png = io.BytesIO()
    write_plot(report, png)
    files = {"budget.json": json.dumps(report, indent=1) + "\n",
             "budget.md": format_markdown(report), "budget.png": png.getvalue()}
    for name, data in files.items():
        atomic_file(out / name, data)
    return out


def budget(model: str | Path, *, target: str = "cortex-m", out: str | Path | None = None,
           flash: int | str | None = None, ram: int | str | None = None,
           headroom: float = DEFAULT_HEADROOM, clock_hz: int | None = None,
           fail_on_budget: bool = False, progress: Progress | None = None) -> BudgetReport:
    """Measure a model's flash, RAM and time on a Cortex-M target and check the fit.

    Parameters
    ----------
    model : str or pathlib.Path
        An int8 ``.tflite`` file; or a Keras model file (``.keras``,
        ``.h5``) or a zoo architecture name (``dscnn``), quantized to int8
        first with seeded random calibration data (sizes, MACs and
        instructions are representative; accuracy is not).
    target : str
        A core (``cortex-m4``; ``cortex-m`` = ``cortex-m4``) or a board
        (``nrf52840``, ``stm32h743zi`` ...; see :func:`list_targets`).
    out : path, optional
        Directory to write ``budget.json``, ``budget.md`` and ``budget.png``
        into (all three written to a temporary directory first, then moved).
    flash, ram : int or str, optional
        Override the target's flash / RAM size in bytes (``"256K"`` and
        ``"1M"`` are accepted): a custom part.
    headroom : float
        Fraction of flash and RAM kept free (default 0.10).
    clock_hz : int, optional
        Override the clock used for the latency estimate.
    fail_on_budget : bool
        Raise :class:`BudgetError` when the model does not fit (after the
        outputs are written).
    progress : edgekit.log.Progress, optional
        Stage messages (stderr by default).

    Returns
    -------
    BudgetReport

    Raises
    ------
    BudgetError
        With ``fail_on_budget``, if flash or RAM overflows; the message names
        each overflow in bytes and ``.report`` holds the report.
    edgekit.errors.ConfigError
        Unknown target, bad sizes or headroom, a model that is neither a
        ``.tflite``, a Keras file nor a zoo name.
    edgekit.errors.ModelError
        Unreadable model or ops the code generator does not support.
    edgekit.errors.ToolchainError, edgekit.errors.EmulatorError
        Missing cross toolchain / QEMU, or the firmware failed to run.
    """
    from edgekit.emulator import check_toolchain  # noqa: PLC0415
    from edgekit.reference import tflm_arena  # noqa: PLC0415
    from edgekit.verify import export_c  # noqa: PLC0415

    progress = progress or Progress()
    try:
        headroom = float(headroom)
    except (TypeError, ValueError):
        raise ConfigError(f"headroom must be a number in [0, 1) (got {headroom!r})") from None
    if not 0.0 <= headroom < 1.0:
        raise ConfigError(f"headroom must be in [0, 1) (got {headroom})")
    tgt = resolve_target(target, flash=parse_bytes(flash, "--flash"),
                         ram=parse_bytes(ram, "--ram"), clock_hz=clock_hz)
    check_toolchain()
    progress.total = 4 if str(model).lower().endswith(".tflite") else 5
    tflite, name, origin = _load_model(model, progress)

    progress.stage("export", f"{name}: generated C and memory plan")
    with tempfile.TemporaryDirectory(prefix="edgekit-budget-") as tmpd:
        work = Path(tmpd)
        export = export_c(tflite, work / "src", source=name)
        graph, exp = export.graph, export.result
        x_t = graph.tensors[graph.inputs[0]]
        progress.stage("firmware", f"{tgt.core.name}: arm-none-eabi-gcc, QEMU "
                       f"{tgt.core.qemu_machine}")
        x = np.random.default_rng(0).integers(0, 256, (1, x_t.nbytes), dtype=np.uint8)
        check, machine = _measure_in_qemu(export.src_dir, work, tgt.core, x, progress)
        fw, run = check.firmware, check.run
        breakdown = elf_breakdown(fw.elf)
    progress.stage("tflm", "TFLM arena for the same model (host build)")
    try:
        tflm_total = int(tflm_arena(tflite)["total_bytes"])
    except EdgekitError as e:  # pragma: no cover - tflite_micro refused the model
        progress.warn(f"no TFLM arena figure: {e}")
        tflm_total = None

    progress.stage("report", "per-layer table, flash/RAM fit, latency estimate")
    rows = layer_rows(graph, exp.plan)
    per_op = {p["index"]: p for p in run.per_op}
    sec_per_instr = tgt.cpi / tgt.clock_hz
    for r in rows:
        p = per_op.get(r["index"])
        r["instructions"] = int(p["instructions"]) if p else None
        r["latency_ms"] = (r["instructions"] * sec_per_instr * 1e3
                           if r["instructions"] is not None else None)
    instructions = int(run.instructions[0])
    params, weight_bytes = unique_const(graph)

    flash_total = fw.text + fw.data
    flash_part = {
        "total_bytes": flash_total, "text_bytes": fw.text, "data_bytes": fw.data,
        "weights_bytes": breakdown["weights"], "op_params_bytes": breakdown["op_params"],
        "edgekit_code_bytes": breakdown["edgekit_code"],
        "code_bytes": flash_total - breakdown["weights"],
        "other_bytes": flash_total - breakdown["weights"] - breakdown["op_params"]
        - breakdown["edgekit_code"],
        "model_weight_bytes": weight_bytes,
        **_fit(flash_total, tgt.flash_bytes, headroom)}
    static = fw.data + fw.bss
    ram_total = static + int(run.stack_bytes)
    ram_part = {
        "total_bytes": ram_total, "static_bytes": static, "data_bytes": fw.data,
        "bss_bytes": fw.bss, "arena_bytes": exp.plan.arena_bytes,
        "lower_bound_bytes": exp.plan.lower_bound_bytes,
        "lower_bound_no_inplace_bytes": exp.plan.lower_bound_no_inplace_bytes,
        "tflm_arena_bytes": tflm_total,
        "tflm_arena_note": "TFLM MicroInterpreter arena for the same model, host build "
                           "(64-bit pointers: a Cortex-M build needs somewhat less)",
        "stack_bytes": int(run.stack_bytes), "stack_reserved_bytes": fw.stack_reserved,
        "live_bytes_per_step": [int(u) for u in exp.plan.usage],
        "planner_strategy": exp.plan.strategy,
        "op_order": exp.plan.order_strategy, "op_order_steps": list(exp.plan.order),
        "file_order_arena_bytes": exp.plan.file_order_arena_bytes,
        **_fit(ram_total, tgt.ram_bytes, headroom)}
    latency_ms = instructions * sec_per_instr * 1e3
    report = {
        "edgekit": __import__("edgekit").__version__,
        "model": {"name": name, "path": str(model), **origin, "ops": len(graph.operators),
                  "op_counts": graph.op_counts(), "input_shape": list(map(int, x_t.shape))},
        "target": {**tgt.to_dict(), "measured_on": machine},
        "headroom": headroom,
        "totals": {"params": params, "macs": sum(r["macs"] for r in rows),
                   "weight_bytes": weight_bytes, "instructions": instructions,
                   "latency_ms": latency_ms},
        "flash": flash_part,
        "ram": ram_part,
        "instructions": instructions,
        "latency": {"ms": latency_ms, "clock_hz": tgt.clock_hz, "cpi": tgt.cpi,
                    "cpi_source": tgt.cpi_source, "estimate": True,
                    "note": "instructions x CPI / clock: a rough estimate, not a measurement "
                            "(QEMU counts instructions, not cycles)"},
        "layers": rows,
    }
    report["fits"] = bool(flash_part["fits"] and ram_part["fits"])
    report["overflows"] = _overflows(report, tgt)
    result = BudgetReport(data=report, table=format_table(report))
    if out is not None:
        result.out_dir = _write_outputs(report, Path(out))
        progress.info(f"wrote {result.out_dir}/budget.json, budget.md, budget.png")
    if fail_on_budget and not report["fits"]:
        raise BudgetError(f"{name} does not fit {tgt.name}: " + "; ".join(report["overflows"]),
                          report=result)
    return result
