"""The same C on a Cortex-M4 in QEMU: frames equal the host's and TFLM's; cost figures.

Instructions per stride are measured (``-icount shift=0``, SysTick: they are
deterministic, not wall-clock), and state + scratch (``sizeof`` of the
static structs, from the ELF) must stay <= 4 KB.  TFLM mode meets the
issue's target of <= 30,000 instructions per 20 ms stride on every stride
of the golden stream (about 25.9k median, 26.8k at most), including the
windows whose windowed samples reach -32768 (DC at -32768, full-scale
clipping and saturated noise), where the reference's auto-scale peak wraps
and is replayed.
The profiling build times every stage; its stages add up to the stride.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgekit.frontend import FrontendConfig, HostFrontend, measure_frontend, tables
from edgekit.frontend.device import STAGES
from tests.shared_data import missing

pytestmark = pytest.mark.qemu


@pytest.fixture(autouse=True)
def _tools():
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            missing(f"{tool} not found")


def test_tflm_mode_on_cortex_m4_equals_tflm(tmp_path, tflm_preprocessor, golden_stream,
                                            run_tflm_stream, record_property):
    """The whole >= 2,000-frame golden stream, byte for byte."""
    stream = golden_stream[: golden_stream.size // 320 * 320]    # whole strides
    want = run_tflm_stream(tflm_preprocessor, stream)
    assert len(want) >= 2000
    m = measure_frontend(FrontendConfig.tflm_micro(), stream, tmp_path)
    assert m.frames.shape == want.shape
    np.testing.assert_array_equal(m.frames, want)
    record_property("instructions_per_stride_median", int(np.median(m.instructions)))
    record_property("instructions_per_stride_max", int(m.instructions.max()))
    record_property("state_bytes", m.state_bytes)
    record_property("scratch_bytes", m.scratch_bytes)
    assert m.state_bytes + m.scratch_bytes <= 4096
    # the measured strides include windows whose windowed samples reach -32768
    # (a -32768 sample under a full weight), where the auto-scale peak wraps
    full = np.nonzero(tables.hann_window(480, 12) >= 4096)[0]
    starts = np.arange(len(want)) * 320
    assert (stream[starts[:, None] + full[None, :]] == -32768).any(axis=1).sum() >= 50
    assert m.instructions.max() <= 30_000


@pytest.mark.parametrize("preset", ["tflm_micro", "fsdd"])
def test_profiling_build_times_every_stage(tmp_path, preset, synthetic):
    """Same frames as the host; the stages account for the stride (the hooks
    themselves cost a few dozen instructions each: the rest is ek_frontend_push)."""
    cfg = getattr(FrontendConfig, preset)()
    parts = synthetic(cfg.sample_rate, seconds=0.5, seed=4)
    x = np.concatenate([parts["noise"], parts["silence"], parts["clipping"]])
    m = measure_frontend(cfg, x, tmp_path, profile=True)
    np.testing.assert_array_equal(m.frames, HostFrontend(cfg).features(x))
    assert list(m.stages) == list(STAGES)
    off = {"pcan"} if not cfg.pcan else set()          # the FSDD preset has no PCAN
    assert all((v > 0) == (k not in off) for k, v in m.stages.items()), m.stages
    total = float(m.instructions.mean())
    assert 0.9 * total <= sum(m.stages.values()) <= total
    assert m.stages["fft"] == max(m.stages.values())


def test_fsdd_config_on_cortex_m4_equals_host(tmp_path, synthetic):
    cfg = FrontendConfig.fsdd()
    parts = synthetic(8000, seconds=0.5, seed=2)
    x = np.concatenate([parts["noise"], parts["clipping"], parts["silence"], parts["dc_neg"]])
    m = measure_frontend(cfg, x, tmp_path)
    np.testing.assert_array_equal(m.frames, HostFrontend(cfg).features(x))
    assert m.state_bytes + m.scratch_bytes <= 4096
