"""Budget-driven sizing: the widest model of an architecture that fits.

(Moved from ``edgekit.models.sizing``: it compiles firmware, which ``models/``
must not do.)

``edgekit train --arch NAME --max-params N`` (and ``--max-flash`` /
``--max-ram`` for a target) calls :func:`pick_width` before any training:
it builds candidate widths of the architecture, measures each one's budget
(parameters from the Keras model; flash and RAM from the int8 model's
generated C, compiled for the target), and keeps the largest width that
fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgekit.errors import ConfigError, EdgekitError

#: The hyper-parameter that sets each architecture's width.
WIDTH_PARAMS = {
    "dscnn": "width",
    "tiny_transformer": "embed_dim",
    "lmu": "units",
    "lmuformer": "dim",
    "spiking_lmuformer": "dim",
}


@dataclass
class SizeChoice:
    """The chosen width and how it was chosen."""

    arch: str
    param: str
    width: int
    hparams: dict
    params: int
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    tried: list[dict] = field(default_factory=list)

    def explain(self) -> str:
        """One line: the chosen width, its size and why each candidate was or was not kept."""
        limits = ", ".join(f"{r['width']}: {r['why']}" for r in self.tried)
        return (f"{self.arch}: {self.param}={self.width} is the widest that fits "
                f"({self.params:,} params"
                + (f", flash {self.flash_bytes:,} B" if self.flash_bytes is not None else "")
                + (f", RAM {self.ram_bytes:,} B" if self.ram_bytes is not None else "")
                + f"); candidates {limits}")


def _measure(arch, input_shape, num_classes, hparams, need_memory, target, seed):
    """Parameters of one candidate and, with ``need_memory``, its firmware's flash and RAM."""
    from edgekit.models.registry import build_model, count_params  # noqa: PLC0415

    model = build_model(arch, input_shape, num_classes, seed=seed, **hparams)
    out = {"params": count_params(model)}
    if need_memory:
        import tempfile  # noqa: PLC0415
        from pathlib import Path  # noqa: PLC0415

        from edgekit.quantize.int8 import quantize_int8  # noqa: PLC0415
        from edgekit.verify import build_c, export_c  # noqa: PLC0415

        calib = np.random.default_rng(seed).normal(-5, 3, (32, *input_shape)).astype(np.float32)
        tflite = quantize_int8(model, calib, num_samples=32, seed=seed)
        with tempfile.TemporaryDirectory() as tmp:
            exp = export_c(tflite, Path(tmp) / "src")
            try:
                fw = build_c(exp.src_dir, Path(tmp) / "fw", target)
            except EdgekitError as e:   # does not even link on the emulated board
                out.update(flash=None, ram=None, error=str(e).splitlines()[0])
                return out
            out.update(flash=fw.flash_bytes, ram=fw.ram_bytes)
    return out


def pick_width(arch: str, input_shape, num_classes: int, hparams: dict, *,
               max_params: int | None = None, max_flash: int | None = None,
               max_ram: int | None = None, target: str = "cortex-m4", seed: int = 0,
               candidates: list[int] | None = None) -> SizeChoice:
    """Pick the largest width of ``arch`` within the given budget.

    Parameters
    ----------
    arch : str
        A zoo architecture with an entry in :data:`WIDTH_PARAMS`.
    input_shape, num_classes
        The data the model is for.
    hparams : dict
        The recipe's hyper-parameters; only the width parameter is changed.
    max_params, max_flash, max_ram : int, optional
        Limits (parameters; bytes of flash = ELF text + data; bytes of static
        RAM = .data + .bss incl. the arena, without stack).
    target : str
        Core the flash/RAM figures are compiled for.
    candidates : list of int, optional
        Widths to consider (default: 4, 8, ... up to twice the recipe's).

    Raises
    ------
    ConfigError
        Unknown architecture, no limit given, or not even the smallest
        candidate fits.
    """
    if arch not in WIDTH_PARAMS:
        raise ConfigError(f"no width parameter known for {arch!r}; "
                          f"sizable: {', '.join(sorted(WIDTH_PARAMS))}")
    if max_params is None and max_flash is None and max_ram is None:
        raise ConfigError("give at least one of max_params, max_flash, max_ram")
    for name, v in (("max_params", max_params), ("max_flash", max_flash), ("max_ram", max_ram)):
        if v is not None and v <= 0:
            raise ConfigError(f"{name} must be > 0 (got {v})")
    param = WIDTH_PARAMS[arch]
    base = int(hparams.get(param, 32))
    step = int(hparams.get("num_heads", 1)) if arch == "tiny_transformer" else 4
    step = max(step, 2) if arch == "tiny_transformer" else step
    widths = sorted(set(candidates or range(step, 2 * base + 1, step)))
    need_memory = max_flash is not None or max_ram is not None
    tried: list[dict] = []

    def check(w: int) -> tuple[bool, dict]:
        hp = dict(hparams, **{param: w})
        try:
            m = _measure(arch, input_shape, num_classes, hp, need_memory, target, seed)
        except ConfigError as e:   # the architecture rejects this width
            tried.append({"width": w, "why": f"invalid ({e})"})
            return False, {}
        why = []
        if max_params is not None and m["params"] > max_params:
            why.append(f"{m['params']:,} params > {max_params:,}")
        if need_memory and m.get("error"):
            why.append(m["error"])
        if max_flash is not None and m.get("flash") is not None and m["flash"] > max_flash:
            why.append(f"flash {m['flash']:,} B > {max_flash:,}")
        if max_ram is not None and m.get("ram") is not None and m["ram"] > max_ram:
            why.append(f"RAM {m['ram']:,} B > {max_ram:,}")
        tried.append({"width": w, "params": m["params"], "flash": m.get("flash"),
                      "ram": m.get("ram"), "why": "; ".join(why) or "fits"})
        return not why, dict(m, hparams=hp)

    # Size grows with width, so bisect for the largest width that fits.
    lo, hi, best = 0, len(widths) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        ok, m = check(widths[mid])
        if ok:
            best, lo = (widths[mid], m), mid + 1
        else:
            hi = mid - 1
    if best is None:
        raise ConfigError(f"no width of {arch} fits the budget: "
                          + "; ".join(f"{param}={r['width']}: {r['why']}" for r in tried[-3:]))
    w, m = best
    return SizeChoice(arch, param, w, m["hparams"], m["params"], m.get("flash"), m.get("ram"),
                      sorted(tried, key=lambda r: r["width"]))
