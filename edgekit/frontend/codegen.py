"""Write the front end's C: the fixed sources plus two headers generated from the config.

The C files of :data:`C_SOURCES` are package data (``edgekit/frontend/c``):
``frontend.h`` (the API), ``frontend_internal.h`` and ``frontend_dsp.h``
(private) and the units of :data:`C_UNITS`, ``frontend.c`` (state, push,
frame chain), ``frontend_window.c`` (window, auto-scale), ``frontend_fft.c``
(FFT, energy) and ``frontend_math.c`` (square root, PCAN gain, log); ``frontend_config.h`` (public parameters) and
``frontend_tables.h`` (the tables of :mod:`edgekit.frontend.tables`, private
to the front end's C files) are rendered from the Jinja2 templates of ``edgekit/frontend/templates``.  C
text comes from templates only; Python passes numbers and lists.
"""

from __future__ import annotations

import hashlib
import math
from importlib import resources
from pathlib import Path

import jinja2

from edgekit.c_templates import c_environment
from edgekit.errors import ConfigError
from edgekit.frontend.config import FORMAT, FrontendConfig
from edgekit.frontend import tables

__all__ = ["generate_c", "C_SOURCES", "C_UNITS", "source_text", "sources_digest", "table_context"]

#: The C files to compile (one object each): the front end is all of them.
C_UNITS = ("frontend.c", "frontend_window.c", "frontend_fft.c", "frontend_math.c")
#: The fixed C files copied by :func:`generate_c`.
C_SOURCES = (*C_UNITS, "frontend.h", "frontend_internal.h", "frontend_dsp.h")
_TEMPLATES = {"frontend_config.h": "frontend_config.h.j2",
              "frontend_tables.h": "frontend_tables.h.j2"}


def _environment() -> jinja2.Environment:
    """Jinja2 over ``edgekit/frontend/templates`` (:func:`edgekit.c_templates.c_environment`)."""
    return c_environment("edgekit.frontend")


def source_text(name: str) -> str:
    """Text of a packaged C file (one of :data:`C_SOURCES`, ``harness_model.[ch]``) or template."""
    base = resources.files("edgekit.frontend")
    sub = "templates" if name.endswith(".j2") else "c"
    return (base / sub / name).read_text()


def sources_digest() -> str:
    """SHA-256 of the C sources and templates (part of the build cache key)."""
    h = hashlib.sha256()
    for name in (*C_SOURCES, *_TEMPLATES.values()):
        h.update(name.encode() + b"\0" + source_text(name).encode() + b"\0")
    return h.hexdigest()


#: The longest int8 output table (log scale only; else the C divides).
OUTPUT_LUT_MAX = 2048


def _output_lut(c: FrontendConfig) -> list[int]:
    """int8 output of each log value ``v`` up to the first that saturates at 127.

    The C maps larger values to the last entry; ``[]`` (the C divides) without
    log scale or when the table would exceed :data:`OUTPUT_LUT_MAX` entries.
    """
    if not c.log_scale:
        return []
    lut = []
    for v in range(OUTPUT_LUT_MAX):
        q = (v * c.output_multiplier + c.output_divisor // 2) // c.output_divisor
        lut.append(max(-128, min(127, q + c.output_zero_point)))
        if lut[-1] == 127:
            return lut
    return []


def table_context(config: FrontendConfig) -> dict:
    """The values the templates render for ``config`` (numbers and lists only).

    Raises
    ------
    ConfigError
        If the filterbank would read a bin the in-place FFT buffer does not
        hold (a band too close to Nyquist for the padding of its tables).
    """
    c = config
    plan = tables.fft_plan(c.fft_size)
    fb = tables.mel_filterbank(c.fft_size, c.sample_rate, c.num_channels, c.lower_band_hz,
                               c.upper_band_hz, c.filterbank_weight_bits,
                               c.filterbank_alignment, c.filterbank_block_size)
    last_bin = int((fb.freq_starts.astype(int) + fb.widths.astype(int)).max())
    if fb.end_bin > plan.half or last_bin > plan.half:
        raise ConfigError(f"upper_band_hz={c.upper_band_hz} reaches FFT bin {max(fb.end_bin, last_bin)}"
                          f" > fft_size / 2 = {plan.half}; lower it")
    even, even_om, odd, odd_om = c.smoothing_q
    pcan_lut = (tables.pcan_lut(c.pcan_strength, c.pcan_offset, c.pcan_gain_bits,
                                c.pcan_input_bits) if c.pcan else [])
    return dict(
        c=c, format=FORMAT, config_hash=c.hash(),
        window_ms=f"{c.window_ms:g}", stride_ms=f"{c.stride_ms:g}",
        window=tables.hann_window(c.window_size, c.window_bits).tolist(),
        stages=[list(s) for s in plan.stages], position=plan.position.tolist(),
        twiddles=plan.twiddles.tolist(), super_twiddles=plan.super_twiddles.tolist(),
        energy_start=fb.start_bin, energy_end=fb.end_bin, weight_bits=c.filterbank_weight_bits,
        fb_freq_starts=fb.freq_starts.tolist(), fb_weight_starts=fb.weight_starts.tolist(),
        fb_widths=fb.widths.tolist(), fb_weights=fb.weights.tolist(),
        fb_unweights=fb.unweights.tolist(),
        even_smoothing=even, even_one_minus=even_om, odd_smoothing=odd, odd_one_minus=odd_om,
        min_signal_remaining=c.min_signal_remaining_q,
        snr_shift=c.snr_shift if c.pcan else 0,
        pcan_lut=[int(v) for v in pcan_lut],
        correction_bits=c.correction_bits, log_scale=1 << c.log_scale_bits,
        ln2_q16=int(round(math.log(2.0) * 65536)),
        log_lut=tables.log_lut().tolist(),
        output_lut=_output_lut(c),
    )


def generate_c(config: FrontendConfig, out_dir) -> list[Path]:
    """Write the C files of :data:`C_SOURCES`, ``frontend_config.h`` and ``frontend_tables.h``.

    Parameters
    ----------
    config : FrontendConfig
        The front end's parameters.
    out_dir : path
        Directory (created if missing); existing files of these names are replaced.

    Returns
    -------
    list of pathlib.Path
        The files written (compile every ``.c``: :data:`C_UNITS`).

    Raises
    ------
    ConfigError
        If ``config`` is not a :class:`FrontendConfig` or cannot be laid out.
    """
    if not isinstance(config, FrontendConfig):
        raise ConfigError(f"config must be a FrontendConfig (got {type(config).__name__})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = table_context(config)
    written = []
    for name in C_SOURCES:
        (out / name).write_text(source_text(name))
        written.append(out / name)
    env = _environment()
    for name, template in _TEMPLATES.items():
        (out / name).write_text(env.get_template(template).render(**ctx))
        written.append(out / name)
    return written
