"""FrontendConfig: validation messages, JSON round trip, presets, generated C."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import shutil

import pytest

from edgekit.errors import ConfigError, EdgekitError
from edgekit.frontend import FORMAT, FrontendConfig, generate_c


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
                                             "frontend_tables.h"]
    text = (tmp_path / "frontend.c").read_text()
    assert "malloc" not in text and "free(" not in text
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c",
             str(tmp_path / "frontend.c")]
    compilers = [["gcc", *flags, "-o", str(tmp_path / "h.o")]]
    if shutil.which("arm-none-eabi-gcc"):
        compilers.append(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", *flags,
                          "-o", str(tmp_path / "m4.o")])
    for cmd in compilers:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
