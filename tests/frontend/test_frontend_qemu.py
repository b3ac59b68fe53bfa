"""The same C on a Cortex-M4 in QEMU: frames equal the host's and TFLM's; cost figures.

Instructions per stride are measured (``-icount shift=0``, SysTick), and
state + scratch (``sizeof`` of the static structs, from the ELF) must stay
<= 4 KB.  The issue's target of <= 30,000 instructions per stride is not met
yet (about 70k in TFLM mode): the test records the figure and bounds it
loosely so that a regression shows.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgekit.frontend import FrontendConfig, HostFrontend, measure_frontend

pytestmark = pytest.mark.qemu


@pytest.fixture(autouse=True)
def _tools():
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")


def test_tflm_mode_on_cortex_m4_equals_tflm(tmp_path, tflm_preprocessor, golden_stream,
                                            run_tflm_stream, record_property):
    """The whole >= 2,000-frame golden stream, byte for byte."""
    stream = golden_stream[: golden_stream.size // 320 * 320]    # whole strides
    want = run_tflm_stream(tflm_preprocessor, stream)
    assert len(want) >= 2000
    m = measure_frontend(FrontendConfig.tflm_micro(), stream, tmp_path)
    assert m.frames.shape == want.shape
    np.testing.assert_array_equal(m.frames, want)
    record_property("instructions_per_stride_mean", int(m.instructions.mean()))
    record_property("state_bytes", m.state_bytes)
    record_property("scratch_bytes", m.scratch_bytes)
    assert m.state_bytes + m.scratch_bytes <= 4096
    assert m.instructions.max() < 100_000


def test_fsdd_config_on_cortex_m4_equals_host(tmp_path, synthetic):
    cfg = FrontendConfig.fsdd()
    parts = synthetic(8000, seconds=0.5, seed=2)
    x = np.concatenate([parts["noise"], parts["clipping"], parts["silence"], parts["dc_neg"]])
    m = measure_frontend(cfg, x, tmp_path)
    np.testing.assert_array_equal(m.frames, HostFrontend(cfg).features(x))
    assert m.state_bytes + m.scratch_bytes <= 4096
