"""FrontendConfig: validation messages, JSON round trip, presets, generated C."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import shutil

import pytest

from edgekit.errors import ConfigError, EdgekitError
from edgekit.frontend import FORMAT, FrontendConfig, generate_c
from edgekit.frontend.codegen import C_UNITS
from tests.shared_data import missing

#: The tables of frontend_tables.h (tflm_micro: PCAN and log on).
_TABLES = ("ek_fe_window", "ek_fe_position", "ek_fe_twiddles", "ek_fe_super_twiddles",
           "ek_fe_fb_first_bin", "ek_fe_fb_counts", "ek_fe_fb_weights",
           "ek_fe_fb_unweights", "ek_fe_sqrt_lut", "ek_fe_pcan_lut", "ek_fe_log_lut",
           "ek_fe_output_lut")


@pytest.mark.parametrize("changes, message", [
    (dict(fft_size=500), "fft_size must be a power of two in 8..4096 (got 500)"),
    (dict(fft_size=256, window_size=480), "window_size must be in 2..fft_size=256 (got 480)"),
    (dict(stride=0), "stride must be in 1..window_size=480 (got 0)"),
    (dict(stride=481), "stride must be in 1..window_size=480 (got 481)"),
    (dict(sample_rate=0), "sample_rate must be > 0 (got 0)"),
    (dict(num_channels=0), "num_channels must be in 1..256 (got 0)"),
    (dict(upper_band_hz=9000.0), "upper_band_hz must be <= sample_rate / 2 = 8000.0 (got 9000.0)"),
    (dict(lower_band_hz=8000.0, upper_band_hz=7000.0),
     "upper_band_hz must be > lower_band_hz=8000.0 (got 7000.0)"),
    (dict(even_smoothing=1.5), "even_smoothing must be in [0, 1] (got 1.5)"),
    (dict(noise_reduction=False), "pcan needs noise_reduction"),
    (dict(pcan_gain_bits=12), "pcan_gain_bits must be >= 16 for this FFT size (got 12)"),
    (dict(output_zero_point=200), "output_zero_point must be in -128..127 (got 200)"),
    (dict(sample_rate=16000.0), "sample_rate must be an integer (got 16000.0)"),
    (dict(pcan="yes"), "pcan must be true or false (got 'yes')"),
    (dict(lower_band_hz=float("nan")), "lower_band_hz must be a finite number (got nan)"),
])
def test_bad_values_are_refused_with_the_value(changes, message):
    with pytest.raises(ConfigError) as e:
        FrontendConfig(**changes)
    assert message in str(e.value)
    assert isinstance(e.value, EdgekitError)


def test_presets():
    t = FrontendConfig.tflm_micro()
    assert (t.sample_rate, t.window_size, t.stride, t.fft_size, t.num_channels) == \
        (16000, 480, 320, 512, 40)
    assert (t.lower_band_hz, t.upper_band_hz, t.window_ms, t.stride_ms) == (125.0, 7500.0, 30, 20)
    assert t.noise_reduction and t.pcan and t.log_scale
    assert (t.correction_bits, t.snr_shift, t.pcan_input_bits) == (3, 6, 7)
    f = FrontendConfig.fsdd()
    assert (f.sample_rate, f.window_size, f.stride, f.fft_size) == (8000, 240, 160, 256)
    assert (f.window_ms, f.stride_ms, f.upper_band_hz) == (30, 20, 3800.0)
    assert f.frames_for(8000) == 49 and f.frames_for(239) == 0 and f.frames_for(240) == 1


def test_json_round_trip(tmp_path):
    c = dataclasses.replace(FrontendConfig.fsdd(), num_channels=32, pcan_strength=0.9,
                            clamping=True)
    path = c.save(tmp_path / "frontend.json")
    d = json.loads(path.read_text())
    assert d["format"] == FORMAT == "edgekit.frontend/1"
    assert FrontendConfig.load(path) == c
    assert FrontendConfig.load(path).hash() == c.hash() != FrontendConfig.fsdd().hash()


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        FrontendConfig.load(tmp_path / "none.json")
    (tmp_path / "a.json").write_text("{nope")
    with pytest.raises(ConfigError, match="is not JSON"):
        FrontendConfig.load(tmp_path / "a.json")
    d = FrontendConfig().to_dict()
    (tmp_path / "b.json").write_text(json.dumps({**d, "format": "edgekit.frontend/9"}))
    with pytest.raises(ConfigError, match="format must be 'edgekit.frontend/1' "
                                          r"\(got 'edgekit.frontend/9'\)"):
        FrontendConfig.load(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({**d, "hop": 3}))
    with pytest.raises(ConfigError, match=r"unknown front-end config keys \['hop'\]"):
        FrontendConfig.load(tmp_path / "c.json")
    (tmp_path / "d.json").write_text(json.dumps({**d, "fft_size": 500}))
    with pytest.raises(ConfigError, match=r"\(got 500\)"):
        FrontendConfig.load(tmp_path / "d.json")


def test_generate_c_refuses_non_config(tmp_path):
    with pytest.raises(ConfigError, match="must be a FrontendConfig"):
        generate_c({"fft_size": 512}, tmp_path)


@pytest.mark.parametrize("preset", ["tflm_micro", "fsdd"])
def test_generated_c_is_warning_free_for_host_and_cortex_m4(tmp_path, preset):
    """``-std=c99 -Wall -Wextra -Werror`` with gcc, and with arm-none-eabi-gcc for the M4."""
    files = generate_c(getattr(FrontendConfig, preset)(), tmp_path)
    assert sorted(p.name for p in files) == ["frontend.c", "frontend.h", "frontend_config.h",
                                             "frontend_dsp.h", "frontend_fft.c",
                                             "frontend_internal.h", "frontend_math.c",
                                             "frontend_tables.h", "frontend_window.c"]
    units = sorted(p.name for p in files if p.suffix == ".c")
    assert units == sorted(C_UNITS)
    for name in units:
        text = (tmp_path / name).read_text()
        assert "malloc" not in text and "free(" not in text
    compilers = [["gcc"]]
    if shutil.which("arm-none-eabi-gcc"):
        compilers.append(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb"])
    for cc in compilers:
        for name in units:
            cmd = [*cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c",
                   str(tmp_path / name), "-o", str(tmp_path / (name + ".o"))]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, (cmd, proc.stderr)


def test_generated_c_has_each_table_once_and_hides_internal_functions(tmp_path):
    """Every table is defined in exactly one unit (even at -O0, where unused static
    consts are kept), and the host library exports the API of frontend.h only."""
    if shutil.which("gcc") is None or shutil.which("nm") is None:
        missing("gcc/nm not found")
    generate_c(FrontendConfig.tflm_micro(), tmp_path)
    owners = {}
    for name in C_UNITS:
        obj = tmp_path / (name + ".o")
        subprocess.run(["gcc", "-std=c99", "-O0", "-c", str(tmp_path / name), "-o", str(obj)],
                       check=True)
        syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True,
                              check=True).stdout.split()
        for sym in syms:
            if sym in _TABLES:
                owners.setdefault(sym, []).append(name)
    assert set(owners) == set(_TABLES)
    assert all(len(v) == 1 for v in owners.values()), owners
    lib = tmp_path / "libfe.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-fPIC", "-shared", "-o", str(lib),
                    *(str(tmp_path / u) for u in C_UNITS)], check=True)
    dyn = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True,
                         text=True, check=True).stdout
    exported = sorted(line.split()[-1] for line in dyn.splitlines() if " T " in line)
    assert exported == ["ek_frontend_buffered", "ek_frontend_push", "ek_frontend_reset",
                        "ek_frontend_scratch_bytes", "ek_frontend_state_bytes"]
