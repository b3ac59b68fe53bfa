"""The same generated C on every Cortex-M core QEMU models: bit-exact everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.emulator import build_firmware, get_target, run_qemu
from edgekit.firmware_export import generate, read_tflite
from edgekit.reference import run_tflm

RUNNABLE = ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]


@pytest.fixture(scope="module")
def kws_src(mlperf_dir, tmp_path_factory):
    tflite = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    src = tmp_path_factory.mktemp("kws") / "src"
    generate(read_tflite(tflite), src)
    x = np.random.default_rng(7).integers(-128, 128, (4, 490), dtype=np.int8)
    return tflite, src, x, run_tflm(tflite, x).reshape(4, -1)


@pytest.mark.qemu
@pytest.mark.parametrize("target", RUNNABLE)
def test_kws_bit_exact_on_core(kws_src, tmp_path, target):
    tflite, src, x, ref = kws_src
    fw = build_firmware(src, tmp_path / target, target=target)
    run = run_qemu(fw.elf, x.view(np.uint8), target=target, timeout=300)
    assert np.array_equal(run.outputs.view(np.int8), ref), target
    assert min(run.instructions) > 1_000_000
    assert run.stack_bytes > 0


@pytest.mark.qemu
def test_cortex_m0plus_runs_a_model_that_fits(mlperf_dir, tmp_path):
    # QEMU has no Cortex-M0+ board; its micro:bit is a Cortex-M0 (same ARMv6-M
    # instruction set) with 256 KB flash and 16 KB RAM.  The streaming wake-word
    # model (arena 6,656 B) fits.
    tflite = (mlperf_dir / "str_ww_ref_model.tflite").read_bytes()
    generate(read_tflite(tflite), tmp_path / "src")
    fw = build_firmware(tmp_path / "src", tmp_path / "m0", target="cortex-m0plus")
    x = np.random.default_rng(3).integers(-128, 128, (2, 1200), dtype=np.int8)
    run = run_qemu(fw.elf, x.view(np.uint8), target="cortex-m0plus", timeout=300)
    assert np.array_equal(run.outputs.view(np.int8), run_tflm(tflite, x).reshape(2, -1))


def test_model_too_big_for_the_part_is_a_clear_link_error(mlperf_dir, tmp_path):
    from edgekit.errors import ToolchainError

    # ResNet-8's arena (49,152 B) cannot fit the micro:bit's 16 KB of RAM (kws now can:
    # 8,976 B with its convolutions in place).
    tflite = (mlperf_dir / "pretrainedResnet_quant.tflite").read_bytes()
    generate(read_tflite(tflite), tmp_path / "src")
    assert get_target("cortex-m0plus").ram_size == 16 * 1024
    with pytest.raises(ToolchainError, match="RAM"):
        build_firmware(tmp_path / "src", tmp_path / "m0", target="cortex-m0plus")
