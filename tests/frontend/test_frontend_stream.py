"""The host library: streaming invariance, reset, errors, cache."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import DataError, EdgekitError, ToolchainError
from edgekit.frontend import FrontendConfig, HostFrontend, build_library


def _clip(rate: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    tone = 8000 * np.sin(2 * np.pi * 440 * t) * (t > 0.3)
    x = tone + rng.standard_normal(t.size) * 300
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("preset", ["tflm_micro", "fsdd"])
def test_random_chunks_give_the_same_frames_as_one_call(preset):
    cfg = getattr(FrontendConfig, preset)()
    fe = HostFrontend(cfg)
    x = _clip(cfg.sample_rate, 2.0, 0)
    whole = fe.features(x)
    assert whole.shape == (cfg.frames_for(x.size), cfg.num_channels)
    assert whole.dtype == np.int8 and len(np.unique(whole)) > 20
    for seed in range(3):
        rng = np.random.default_rng(seed)
        fe.reset()
        parts, pos = [], 0
        while pos < x.size:
            n = int(rng.choice([0, 1, 7, cfg.stride - 1, cfg.stride, cfg.window_size + 3, 997]))
            parts.append(fe.push(x[pos:pos + n]))
            pos += n
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_buffer_and_reset():
    cfg = FrontendConfig.fsdd()
    fe = HostFrontend(cfg)
    x = _clip(8000, 0.5, 1)
    fe.reset()
    assert fe.push(x[:239]).shape == (0, 40) and fe.buffered == 239
    assert fe.push(x[239:240]).shape == (1, 40) and fe.buffered == 240 - 160
    a = fe.features(x)
    fe.push(x)                 # state moves on without a reset ...
    b = fe.features(x)         # ... and features() starts over
    np.testing.assert_array_equal(a, b)
    assert fe.state_bytes > 0 and fe.scratch_bytes > 0


def test_wrong_dtype_and_shape_are_refused():
    fe = HostFrontend(FrontendConfig.fsdd())
    with pytest.raises(DataError, match="pcm must be int16 samples \\(got dtype float32\\)"):
        fe.push(np.zeros(100, np.float32))
    with pytest.raises(DataError, match=r"pcm must be 1-D \(got shape \(2, 50\)\)"):
        fe.push(np.zeros((2, 50), np.int16))
    assert issubclass(DataError, EdgekitError)


def test_missing_gcc_is_a_toolchain_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))       # nothing on PATH
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(ToolchainError, match="host C compiler not found"):
        HostFrontend(FrontendConfig(num_channels=33))


def test_library_is_cached_per_config(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path))
    a = build_library(FrontendConfig.fsdd())
    assert a.is_file() and a.parent.parent == tmp_path / "frontend"
    assert (a.parent / "frontend.json").is_file() and (a.parent / "src" / "frontend.c").is_file()
    mtime = a.stat().st_mtime_ns
    assert build_library(FrontendConfig.fsdd()) == a and a.stat().st_mtime_ns == mtime
    b = build_library(FrontendConfig(num_channels=32))
    assert b != a
    # no temporary build directory is left behind
    assert sorted(p.name for p in (tmp_path / "frontend").iterdir()) == \
        sorted([a.parent.name, b.parent.name])
