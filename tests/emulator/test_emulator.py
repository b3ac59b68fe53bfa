"""Tests of edgekit.emulator on the hand-written toy model fixture.

The toy model (tests/fixtures/toy_model) maps 64 int8 values through
op0 ``y = sat8(x + 3)`` (applied EDGEKIT_TOY_OP0_REPEAT times) and
op1 ``z = sat8(-y)``; the expectation below is computed independently with
numpy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgekit.emulator import (
    TARGETS,
    build_firmware,
    build_host,
    check_toolchain,
    elf_size,
    get_target,
    parse_harness_output,
    run_host,
    run_qemu,
    target_names,
)
from edgekit.errors import ConfigError, EmulatorError, ToolchainError

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_model"
IN_BYTES = OUT_BYTES = 64

HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None
HAVE_QEMU = HAVE_ARM and shutil.which("qemu-system-arm") is not None
HAVE_GCC = shutil.which("gcc") is not None

# Outside CI a missing toolchain skips these tests; under $CI they run and fail
# loudly (scripts/setup.sh installs the toolchain).
IN_CI = bool(os.environ.get("CI"))
needs_arm = pytest.mark.skipif(not HAVE_ARM and not IN_CI, reason="arm-none-eabi-gcc not installed")
needs_qemu = pytest.mark.skipif(not HAVE_QEMU and not IN_CI,
                                reason="arm toolchain or qemu-system-arm missing")


def toy_expected(x: np.ndarray, repeat: int = 1) -> np.ndarray:
    """Numpy reference of the toy model, returned as uint8 bytes."""
    y = x.astype(np.int32)
    for _ in range(repeat):
        y = np.clip(y + 3, -128, 127)
    z = np.clip(-y, -128, 127)
    return z.astype(np.int8).view(np.uint8)


def random_cases(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(n, IN_BYTES), dtype=np.int8)
    x[0, :4] = [127, -128, 125, -1]  # saturation edges in case 0
    return x


@pytest.fixture(scope="module")
def m4_build(tmp_path_factory):
    if not HAVE_ARM and not IN_CI:
        pytest.skip("arm-none-eabi-gcc not installed")
    return build_firmware(TOY, tmp_path_factory.mktemp("fw_m4"), target="cortex-m4")


# ------------------------------------------------------------------ targets


def test_targets_table_and_alias():
    assert get_target("cortex-m") is TARGETS["cortex-m4"]
    assert get_target("Cortex-M4").qemu_machine == "mps2-an386"
    assert get_target("cortex-m3").qemu_machine == "mps2-an385"
    assert get_target("cortex-m7").qemu_machine == "mps2-an500"
    assert get_target("cortex-m33").qemu_machine == "mps2-an505"
    assert get_target("cortex-m55").qemu_machine == "mps3-an547"
    assert "-mfpu=fpv4-sp-d16" in get_target("cortex-m4").cpu_flags
    assert "cortex-m0plus" in target_names()
    with pytest.raises(ConfigError) as info:
        get_target("cortex-a53")
    assert "cortex-m4" in str(info.value) and "cortex-m55" in str(info.value)


# -------------------------------------------------------------------- host


@pytest.mark.skipif(not HAVE_GCC, reason="host gcc missing")
def test_host_build_matches_numpy(tmp_path):
    exe = build_host(TOY, tmp_path / "host")
    x = random_cases(50, seed=1)
    out = run_host(exe, x)
    assert out.dtype == np.uint8 and out.shape == (50, OUT_BYTES)
    np.testing.assert_array_equal(out, toy_expected(x))
    # list-of-bytes input gives the same answer
    np.testing.assert_array_equal(run_host(exe, [bytes(r.view(np.uint8)) for r in x]), out)


@pytest.mark.skipif(not HAVE_GCC, reason="host gcc missing")
def test_host_invoke_failure_is_emulator_error(tmp_path):
    exe = build_host(TOY, tmp_path / "host", defines={"EDGEKIT_TOY_FAIL": None})
    with pytest.raises(EmulatorError, match="edgekit_invoke returned 7"):
        run_host(exe, random_cases(2))


@pytest.mark.skipif(not HAVE_GCC, reason="host gcc missing")
def test_sanitized_host_build_catches_an_overrun(tmp_path):
    """The suite's host builds are sanitized (EDGEKIT_HOST_SANITIZE, set by
    conftest): an out-of-bounds write in a kernel fails the run, while the
    unsanitized build of the same bug runs to the end."""
    bug = {"EDGEKIT_TOY_OVERRUN": None}
    plain = build_host(TOY, tmp_path / "plain", defines=bug, sanitize=False)
    assert run_host(plain, random_cases(2)).shape == (2, OUT_BYTES)
    exe = build_host(TOY, tmp_path / "san", defines=bug)
    with pytest.raises(EmulatorError, match="(?i)address|overflow"):
        run_host(exe, random_cases(2))


# ----------------------------------------------------------------- builds


@needs_arm
def test_firmware_build_sizes_and_makefile(m4_build):
    fw = m4_build
    assert fw.elf.is_file() and fw.makefile.is_file() and fw.linker_script.is_file()
    sizes = elf_size(fw.elf)
    assert sizes["text"] == fw.text > 0
    assert fw.flash_bytes == fw.text + fw.data
    assert fw.ram_bytes == fw.data + fw.bss
    for flag in ("-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
                 "-fdata-sections", "-Wl,--gc-sections"):
        assert flag in fw.command
        assert flag in fw.makefile.read_text()
    assert "@" not in fw.linker_script.read_text().split("*/", 1)[1]


@needs_arm
@pytest.mark.skipif(shutil.which("make") is None, reason="make missing")
def test_generated_makefile_rebuilds(tmp_path):
    fw = build_firmware(TOY, tmp_path / "fw")
    before = elf_size(fw.elf)
    fw.elf.unlink()
    proc = subprocess.run(["make", "-C", str(fw.out_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert elf_size(fw.elf) == before


@needs_arm
def test_compile_error_is_toolchain_error_with_compiler_message(tmp_path):
    src = tmp_path / "broken"
    shutil.copytree(TOY, src)
    (src / "broken.c").write_text("int edgekit_broken(void) { return undeclared_thing_42; }\n")
    with pytest.raises(ToolchainError) as info:
        build_firmware(src, tmp_path / "fw")
    assert "undeclared_thing_42" in str(info.value)
    if HAVE_GCC:
        with pytest.raises(ToolchainError, match="undeclared_thing_42"):
            build_host(src, tmp_path / "host")


@needs_arm
def test_dwt_profile_compiles_and_is_refused_on_m0plus(tmp_path):
    fw = build_firmware(TOY, tmp_path / "dwt", profile="dwt")
    assert fw.defines.get("EDGEKIT_PROFILE_DWT") == "1"
    with pytest.raises(ConfigError):
        build_firmware(TOY, tmp_path / "m0", target="cortex-m0plus", profile="dwt")


def test_bad_arguments_are_config_errors(tmp_path):
    with pytest.raises(ConfigError):
        build_firmware(tmp_path / "nope", tmp_path / "fw")
    with pytest.raises(ConfigError):
        build_firmware(TOY, tmp_path / "fw", opt="-O9; rm -rf /")
    with pytest.raises(ConfigError):
        build_firmware(TOY, tmp_path / "fw", target="cortex-z9")


def test_missing_toolchain_is_toolchain_error(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolchainError) as info:
        check_toolchain()
    assert "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm" in str(
        info.value
    )
    with pytest.raises(ToolchainError, match="sudo apt-get install gcc"):
        check_toolchain(host=True)
    with pytest.raises(ToolchainError):
        build_firmware(TOY, tmp_path / "fw")
    with pytest.raises(ToolchainError):
        build_host(TOY, tmp_path / "host")


# ------------------------------------------------------------------- QEMU


@pytest.mark.qemu
@needs_qemu
def test_qemu_m4_matches_numpy_and_reports_counts(m4_build):
    x = random_cases(20, seed=2)
    run = run_qemu(m4_build.elf, x, target="cortex-m4", timeout=30)
    np.testing.assert_array_equal(run.outputs, toy_expected(x))
    assert run.op_names == ["ADD_CONST", "NEG"]
    assert [p["op"] for p in run.per_op] == ["ADD_CONST", "NEG"]
    assert [p["index"] for p in run.per_op] == [0, 1]
    assert len(run.instructions) == 20 and all(n > 0 for n in run.instructions)
    assert run.per_op_cases.shape == (20, 2) and (run.per_op_cases > 0).all()
    # resolution is one SysTick tick = 40 instructions on mps2-an386
    assert all(n % 40 == 0 for n in run.instructions)
    # the whole invoke covers both ops
    assert all(inf >= ops.sum() for inf, ops in zip(run.instructions, run.per_op_cases))
    assert 0 < run.stack_bytes < m4_build.stack_reserved


@pytest.mark.qemu
@needs_qemu
def test_heavier_op_costs_more_instructions(m4_build, tmp_path):
    x = random_cases(4, seed=3)
    base = run_qemu(m4_build.elf, x, timeout=30)
    heavy_fw = build_firmware(TOY, tmp_path / "heavy", defines={"EDGEKIT_TOY_OP0_REPEAT": 8})
    heavy = run_qemu(heavy_fw.elf, x, timeout=30)
    np.testing.assert_array_equal(heavy.outputs, toy_expected(x, repeat=8))
    b0, h0 = base.per_op[0]["instructions"], heavy.per_op[0]["instructions"]
    b1, h1 = base.per_op[1]["instructions"], heavy.per_op[1]["instructions"]
    assert h0 > 5 * b0  # op0 does 8x the work
    assert abs(h1 - b1) <= 80  # op1 unchanged (within two ticks)
    assert np.mean(heavy.instructions) > np.mean(base.instructions) + 4 * b0


@pytest.mark.qemu
@needs_qemu
def test_wrong_input_size_is_detected(m4_build):
    x = np.zeros((3, IN_BYTES // 2), dtype=np.uint8)  # 96 bytes: not 3 cases
    with pytest.raises(EmulatorError):
        run_qemu(m4_build.elf, x, timeout=30)


@pytest.mark.qemu
@needs_qemu
def test_invoke_failure_is_emulator_error(tmp_path):
    fw = build_firmware(TOY, tmp_path / "fail", defines={"EDGEKIT_TOY_FAIL": None})
    with pytest.raises(EmulatorError, match="edgekit_invoke returned 7"):
        run_qemu(fw.elf, random_cases(2), timeout=30)


@pytest.mark.qemu
@needs_qemu
def test_hanging_firmware_times_out(tmp_path):
    fw = build_firmware(TOY, tmp_path / "hang", defines={"EDGEKIT_TOY_HANG": None})
    with pytest.raises(EmulatorError, match="timed out") as info:
        run_qemu(fw.elf, random_cases(1), timeout=10)   # hangs forever: 10 s is only slack for a loaded machine
    assert "OPNAME 1 NEG" in str(info.value)  # tail of what it printed before hanging


def test_parse_requires_done():
    text = "EDGEKIT 1 systick 25000000\nIO 1 1\nOPS 1\nOPNAME 0 X\nCASES 1\nOUT 0 ff\nINF 0 40\n"
    with pytest.raises(EmulatorError, match="DONE"):
        parse_harness_output(text)
    full = text + "OP 0 0 40\nSTACK 100\nDONE\n"
    parsed = parse_harness_output(full, expected_cases=1)
    assert parsed["outputs"].tolist() == [[255]] and parsed["stack_bytes"] == 100
    with pytest.raises(EmulatorError, match="malformed"):
        parse_harness_output(full.replace("INF 0 40", "INF 0 forty"))
    with pytest.raises(EmulatorError, match="OP records"):
        parse_harness_output(full.replace("OP 0 0 40\n", ""))


def test_parse_reads_the_tensor_sizes_and_checks_them():
    text = ("EDGEKIT 1 systick 25000000\nIO 5 3\nINPUTS 2 4 1\nOUTPUTS 2 1 2\nOPS 1\n"
            "OPNAME 0 ADD\nCASES 1\nOUT 0 0a0b0c\nINF 0 40\nOP 0 0 40\nSTACK 8\nDONE\n")
    parsed = parse_harness_output(text, expected_cases=1)
    assert parsed["input_sizes"] == [4, 1] and parsed["output_sizes"] == [1, 2]
    assert parsed["outputs"].tolist() == [[10, 11, 12]]
    with pytest.raises(EmulatorError, match=r"do not add up to its IO line \(5 3\)"):
        parse_harness_output(text.replace("INPUTS 2 4 1", "INPUTS 2 4 2"))
    with pytest.raises(EmulatorError, match="malformed"):
        parse_harness_output(text.replace("OUTPUTS 2 1 2", "OUTPUTS 2 3"))
    # A firmware without the records (older model.h): one tensor of each.
    old = parse_harness_output(text.replace("INPUTS 2 4 1\nOUTPUTS 2 1 2\n", ""))
    assert old["input_sizes"] == [5] and old["output_sizes"] == [3]


OTHER_TARGETS = ["cortex-m3", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m0plus"]


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("name", OTHER_TARGETS)
def test_other_targets_boot_and_match(name, tmp_path):
    tgt = get_target(name)
    fw = build_firmware(TOY, tmp_path / name, target=name)
    x = random_cases(10, seed=4)
    run = run_qemu(fw.elf, x, target=name, timeout=30)
    np.testing.assert_array_equal(run.outputs, toy_expected(x))
    assert (run.per_op_cases > 0).all()
    assert 0 < run.stack_bytes < tgt.stack_size
    assert run.clock_hz == tgt.systick_hz


@pytest.mark.qemu
@needs_qemu
def test_systick_wraps_are_counted(tmp_path):
    """A tiny SysTick reload forces many counter wraps inside one op; the
    counts must agree with the normal build (the wrap handler adds a few
    instructions per wrap)."""
    x = random_cases(2, seed=5)
    defines = {"EDGEKIT_TOY_OP0_REPEAT": 64}
    normal = run_qemu(build_firmware(TOY, tmp_path / "n", defines=defines).elf, x, timeout=30)
    wrapping_fw = build_firmware(
        TOY, tmp_path / "w", defines={**defines, "EDGEKIT_SYSTICK_RELOAD": "0xFFu"}
    )
    wrapping = run_qemu(wrapping_fw.elf, x, timeout=30)
    np.testing.assert_array_equal(wrapping.outputs, toy_expected(x, repeat=64))
    n0, w0 = normal.per_op[0]["instructions"], wrapping.per_op[0]["instructions"]
    assert n0 > 2 * 256 * 40  # op0 spans at least two wraps of the small reload
    assert abs(w0 - n0) <= 0.03 * n0


@pytest.mark.qemu
@needs_qemu
def test_fault_exits_fast_with_emulator_error(tmp_path):
    fw = build_firmware(TOY, tmp_path / "fault", defines={"EDGEKIT_TOY_FAULT": None})
    with pytest.raises(EmulatorError, match="fault") as info:
        run_qemu(fw.elf, random_cases(1), timeout=20)
    assert "timed out" not in str(info.value)
