"""Budget targets: a Cortex-M core or a real board, with its memory and clock.

A *core* (``cortex-m4`` ...) is one of :data:`edgekit.emulator.TARGETS`:
its compile flags and QEMU machine are used for the measurement, and its
memory is the QEMU board's (not a real part's).  A *board*
(``nrf52840``, ``stm32h743zi`` ...) comes from the package data file
``boards.json``: it maps to a core for the compile flags and QEMU machine
and gives the flash, RAM and clock that a model must fit.  Every board
figure carries its source (a datasheet); every core carries a rough
cycles-per-instruction figure used for the latency estimate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from edgekit.errors import ConfigError

__all__ = ["BudgetTarget", "resolve_target", "budget_target_names", "load_boards", "list_targets",
           "format_targets"]


@dataclass(frozen=True)
class BudgetTarget:
    """What a model is measured on and must fit into.

    Attributes
    ----------
    name : str
        The name given on the command line (normalised to lower case).
    kind : str
        ``"core"`` or ``"board"``.
    core : edgekit.emulator.Target
        Core whose compile flags and QEMU machine are used.
    title : str
        Human-readable name (board title or core name).
    flash_bytes, ram_bytes : int
        Capacity the model must fit into.
    clock_hz : int
        Clock used for the latency estimate.
    cpi : float
        Rough cycles per instruction of the core (an estimate).
    source : str
        Where the flash/RAM/clock figures come from.
    cpi_source : str
        Where the CPI figure comes from.
    """

    name: str
    kind: str
    core: object
    title: str
    flash_bytes: int
    ram_bytes: int
    clock_hz: int
    cpi: float
    source: str
    cpi_source: str

    def to_dict(self) -> dict:
        """Return a JSON-able description.

        Returns
        -------
        dict
            Name, kind, core name, QEMU machine, capacities, clock, CPI and sources.
        """
        return {"name": self.name, "kind": self.kind, "title": self.title,
                "core": self.core.name, "core_title": self.core.core,
                "qemu_machine": self.core.qemu_machine, "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes, "clock_hz": self.clock_hz, "cpi": self.cpi,
                "source": self.source, "cpi_source": self.cpi_source}


@lru_cache(maxsize=1)
def load_boards() -> dict:
    """Read ``boards.json`` (package data).

    Returns
    -------
    dict
        ``{"cores": {core: {...}}, "boards": {board: {...}}}``.
    """
    text = resources.files("edgekit.budget").joinpath("boards.json").read_text("utf-8")
    return json.loads(text)


def budget_target_names() -> list[str]:
    """Return every name ``--target`` accepts: cores, aliases, then boards.

    Returns
    -------
    list of str
    """
    from edgekit.emulator.targets import target_names  # noqa: PLC0415

    return target_names() + list(load_boards()["boards"])


def resolve_target(name: str, *, flash: int | None = None, ram: int | None = None,
                   clock_hz: int | None = None) -> BudgetTarget:
    """Resolve a core or board name into a :class:`BudgetTarget`.

    Parameters
    ----------
    name : str
        Core (``cortex-m4``, alias ``cortex-m``) or board name (``nrf52840``).
    flash, ram : int, optional
        Override the capacity (a custom part).
    clock_hz : int, optional
        Override the clock used for the latency estimate.

    Returns
    -------
    BudgetTarget

    Raises
    ------
    edgekit.errors.ConfigError
        If the name is unknown (the message lists the valid names) or an
        override is not positive.
    """
    from edgekit.emulator.targets import ALIASES, TARGETS  # noqa: PLC0415

    data = load_boards()
    key = str(name).strip().lower()
    for what, value in (("flash", flash), ("ram", ram), ("clock", clock_hz)):
        if value is not None and int(value) <= 0:
            raise ConfigError(f"--{what} must be a positive number of "
                              f"{'Hz' if what == 'clock' else 'bytes'} (got {value})")
    core_key = ALIASES.get(key, key)
    if core_key in TARGETS:
        core = TARGETS[core_key]
        info = data["cores"][core.name]
        t = BudgetTarget(
            name=core.name, kind="core", core=core, title=core.core, flash_bytes=core.flash_size,
            ram_bytes=core.ram_size, clock_hz=info["reference_clock_hz"], cpi=info["cpi"],
            source=(f"QEMU {core.qemu_machine} memory map (not a real part); clock: "
                    f"{info['reference_clock_source']}"),
            cpi_source=info["cpi_source"])
    elif key in data["boards"]:
        b = data["boards"][key]
        core = TARGETS[b["core"]]
        info = data["cores"][core.name]
        t = BudgetTarget(name=key, kind="board", core=core, title=b["title"],
                         flash_bytes=b["flash_bytes"], ram_bytes=b["ram_bytes"],
                         clock_hz=b["clock_hz"], cpi=info["cpi"], source=b["source"],
                         cpi_source=info["cpi_source"])
    else:
        raise ConfigError(f"unknown target {name!r}; valid targets: cores "
                          f"{', '.join(list(TARGETS) + list(ALIASES))}; boards "
                          f"{', '.join(data['boards'])} (see `edgekit targets`)")
    overrides = []
    if flash is not None:
        overrides.append(f"flash {int(flash)} B")
    if ram is not None:
        overrides.append(f"RAM {int(ram)} B")
    if clock_hz is not None:
        overrides.append(f"clock {int(clock_hz)} Hz")
    if overrides:
        t = BudgetTarget(name=t.name, kind=t.kind, core=t.core, title=t.title,
                         flash_bytes=int(flash) if flash is not None else t.flash_bytes,
                         ram_bytes=int(ram) if ram is not None else t.ram_bytes,
                         clock_hz=int(clock_hz) if clock_hz is not None else t.clock_hz,
                         cpi=t.cpi, source=f"{t.source}; overridden: {', '.join(overrides)}",
                         cpi_source=t.cpi_source)
    return t


def list_targets() -> dict:
    """Describe every core and board ``edgekit budget --target`` accepts.

    Returns
    -------
    dict
        ``{"cores": [...], "aliases": {...}, "boards": [...]}``; each core
        with its QEMU machine, whether QEMU runs it, the QEMU board's memory,
        CPI and reference clock; each board with flash, RAM, clock, core and
        source.
    """
    from edgekit.emulator.targets import ALIASES, TARGETS  # noqa: PLC0415

    data = load_boards()
    cores = []
    for t in TARGETS.values():
        info = data["cores"].get(t.name, {})
        cores.append({"name": t.name, "core": t.core, "qemu_machine": t.qemu_machine,
                      "qemu_runs": t.qemu_runs, "qemu_flash_bytes": t.flash_size,
                      "qemu_ram_bytes": t.ram_size, "cpi": info.get("cpi"),
                      "reference_clock_hz": info.get("reference_clock_hz"),
                      "cpi_source": info.get("cpi_source"), "note": t.note})
    boards = [{"name": k, **v} for k, v in data["boards"].items()]
    return {"cores": cores, "aliases": dict(ALIASES), "boards": boards}


def _kb(n: int) -> str:
    if n >= 1024 * 1024 and n % (512 * 1024) == 0:
        return f"{n / (1024 * 1024):g} MB"
    if n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} B"


def format_targets(info: dict | None = None) -> str:
    """Format :func:`list_targets` as two terminal tables.

    Parameters
    ----------
    info : dict, optional
        A :func:`list_targets` result (computed if omitted).

    Returns
    -------
    str
    """
    info = info or list_targets()
    aliases = {v: k for k, v in info["aliases"].items()}
    lines = ["Cores (compile flags + QEMU machine; memory is the QEMU board's, not a real part's):",
             f"  {'name':22} {'core':32} {'QEMU machine':13} {'runs':5} {'flash':>7} "
             f"{'RAM':>7} {'CPI~':>5} {'ref clock':>10}"]
    for c in info["cores"]:
        name = c["name"] + (f" ({aliases[c['name']]})" if c["name"] in aliases else "")
        clk = f"{c['reference_clock_hz'] / 1e6:g} MHz" if c["reference_clock_hz"] else "-"
        lines.append(f"  {name:22} {c['core']:32} {c['qemu_machine']:13} "
                     f"{'yes' if c['qemu_runs'] else 'no':5} {_kb(c['qemu_flash_bytes']):>7} "
                     f"{_kb(c['qemu_ram_bytes']):>7} {c['cpi'] or 0:>5} {clk:>10}")
    lines += ["", "Boards (real parts; --target BOARD uses its core's flags and QEMU machine):",
              f"  {'name':26} {'core':14} {'flash':>7} {'RAM':>8} {'clock':>8}  source"]
    for b in info["boards"]:
        lines.append(f"  {b['name']:26} {b['core']:14} {_kb(b['flash_bytes']):>7} "
                     f"{_kb(b['ram_bytes']):>8} {b['clock_hz'] / 1e6:>4g} MHz  {b['source']}")
    lines += ["", "CPI~ = rough cycles per instruction used for latency estimates (see "
              "edgekit/budget/boards.json for sources)."]
    return "\n".join(lines)
