"""edgekit.verify: generated C against the reference, host and QEMU.

The toy model (tests/fixtures/toy_model, hand-written C) is checked against
its numpy expectation; an MLPerf Tiny model goes through :func:`verify`
against tflite_micro.  A wrong reference must be reported as a mismatch, so
the checks can fail.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgekit.errors import ConfigError, ModelError
from edgekit.firmware_export import read_tflite
from edgekit.reference import run_tflm
from edgekit.verify import (REFERENCE, check_host, check_inputs, check_qemu, export_c,
                            tflm_reference, verify)
from tests.shared_data import needs_arm_qemu

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_model"


def toy_expected(x: np.ndarray) -> np.ndarray:
    """The toy model by hand: z = sat8(-sat8(x + 3)), as bytes."""
    y = np.clip(x.astype(np.int32) + 3, -128, 127)
    return np.clip(-y, -128, 127).astype(np.int8).view(np.uint8)


def toy_inputs(n: int) -> np.ndarray:
    x = np.random.default_rng(3).integers(-128, 128, (n, 64), dtype=np.int8)
    x[0, :3] = [127, -128, 124]   # saturation at both ends
    return x


def corrupt(ref: np.ndarray, cases) -> np.ndarray:
    bad = np.array(ref, np.uint8, copy=True)
    for c in cases:
        bad[c, c % bad.shape[1]] ^= 0x01
    return bad


def test_toy_model_on_host_and_a_wrong_reference_is_caught(tmp_path):
    x = toy_inputs(12)
    ok = check_host(None, TOY, tmp_path / "host", x, reference=toy_expected(x), litert=False)
    assert ok.bit_exact and ok.mismatched_cases == 0 and ok.cases == 12
    np.testing.assert_array_equal(ok.outputs, toy_expected(x))
    assert ok.max_diff_litert is None
    bad = check_host(None, TOY, tmp_path / "host2", x,
                     reference=corrupt(toy_expected(x), [1, 4, 9]), litert=False)
    assert bad.bit_exact is False and bad.mismatched_cases == 3
    # A reference of another output size is a mismatch of every case, not a crash.
    short = check_host(None, TOY, tmp_path / "host3", x, reference=toy_expected(x)[:, :32],
                       litert=False)
    assert short.bit_exact is False and short.mismatched_cases == 12


@needs_arm_qemu
def test_toy_model_in_qemu_and_a_wrong_reference_is_caught(tmp_path):
    x = toy_inputs(5)
    ok = check_qemu(TOY, tmp_path / "m4", "cortex-m4", x, toy_expected(x))
    assert ok.bit_exact and ok.mismatched_cases == 0 and ok.cases == 5
    assert ok.firmware.elf.is_file() and ok.firmware.flash_bytes > 0
    assert ok.instructions_min <= ok.instructions <= ok.instructions_max
    assert ok.instructions == int(round(np.mean(ok.run.instructions))) > 0
    assert "bit-exact on 5 inputs" in ok.summary()
    bad = check_qemu(TOY, tmp_path / "m4b", "cortex-m4", x, corrupt(toy_expected(x), [0, 2]))
    assert bad.bit_exact is False and bad.mismatched_cases == 2
    assert "2 cases differ" in bad.summary()
    # Without a reference the run is only measured.
    measured = check_qemu(TOY, tmp_path / "m4c", "cortex-m4", x[:1])
    assert measured.bit_exact is None and measured.instructions > 0


def test_qemu_cases_and_time_limit_scale_with_macs(tmp_path):
    from edgekit.verify.qemu_plan import (BASE_INSTRUCTIONS, GUEST_INSTRUCTIONS_PER_SECOND,
                                          INSTRUCTIONS_PER_MAC, QEMU_SECONDS, plan_qemu)

    small = plan_qemu(20_000, 50)
    assert small.cases == 50 and small.timeout == 120.0
    # By hand: cases = floor(budget / seconds per case), limit 60 s + 4 x the estimate.
    macs = 200_000_000
    per_case = (BASE_INSTRUCTIONS + INSTRUCTIONS_PER_MAC * macs) / GUEST_INSTRUCTIONS_PER_SECOND
    big = plan_qemu(macs, 50)
    assert big.cases == int(QEMU_SECONDS // per_case) == 3 and big.cases_given == 50
    assert big.timeout == pytest.approx(60 + 4 * 3 * per_case)
    huge = plan_qemu(10**10, 50)            # one case, whatever it costs, under a longer limit
    assert huge.cases == 1 and huge.timeout > 1000
    with pytest.raises(ConfigError, match=r"cases must be >= 1 \(got 0\)"):
        plan_qemu(10, 0)
    # The check runs only the planned cases of a "large" model and says so.
    x = toy_inputs(5)
    q = check_qemu(TOY, tmp_path / "m4", "cortex-m4", x, toy_expected(x), macs=10**10)
    assert q.cases == 1 and q.bit_exact and q.plan.cases_given == 5 and q.timeout > 1000
    assert "bit-exact on 1 of 5 inputs" in q.summary()


def test_check_inputs_mixes_real_and_random_cases():
    def tensor(dtype, n):
        return SimpleNamespace(dtype=dtype, num_elements=n, is_const=False, name="t")

    graph = SimpleNamespace(inputs=[0], outputs=[1], state_pairs=lambda: [],
                            tensors=[tensor("int8", 6), tensor("int8", 2)])
    real = np.arange(60, dtype=np.int8).reshape(10, 6)
    x = check_inputs(graph, real, 10, seed=0)
    assert x.shape == (10, 6) and x.dtype == np.int8
    rows = [int(r[0]) // 6 for r in x[:8]]
    assert rows == sorted(rows) and len(set(rows)) == 8          # 8 real cases, in order
    assert all(any(np.array_equal(r, q) for q in real) for r in x[:8])
    np.testing.assert_array_equal(x, check_inputs(graph, real, 10, seed=0))
    assert check_inputs(graph, None, 4).shape == (4, 6)
    graph.tensors[0].dtype = "int32"
    with pytest.raises(ModelError, match=r"data input 0 \(tensor 0, 't'\) is INT32; the "
                                         "generated code takes FLOAT32, INT16, INT8, UINT8"):
        check_inputs(graph, real, 10)


@needs_arm_qemu
def test_verify_mlperf_model_is_bit_exact(mlperf_dir, tmp_path):
    tflite = (mlperf_dir / "ad01_int8.tflite").read_bytes()
    graph = read_tflite(tflite)
    x = check_inputs(graph, None, 4)
    v = verify(tflite, tmp_path / "fw", "cortex-m4", x)
    assert v.bit_exact is True and v.host.bit_exact and v.qemu.bit_exact
    # The reference is tflite_micro's output, computed independently here.
    ref = run_tflm(tflite, x).reshape(len(x), -1).view(np.uint8)
    np.testing.assert_array_equal(v.reference, ref)
    np.testing.assert_array_equal(v.qemu.run.outputs, ref)
    assert (tmp_path / "fw" / "src" / "model.c").is_file()
    assert (tmp_path / "fw" / "cortex-m4" / "model.elf").is_file()
    assert v.export.result.plan.arena_bytes > 0 and len(v.export.graph.operators) > 0
    d = v.to_dict(real_cases=0)
    assert list(d) == ["bit_exact", "host_bit_exact", "qemu_bit_exact", "cases", "real_cases",
                       "qemu_cases", "qemu_timeout", "qemu_plan", "mismatched_cases", "reference",
                       "max_diff_litert", "instructions", "instructions_min", "instructions_max",
                       "clock", "per_op"]
    assert d["qemu_cases"] == 4 and d["qemu_timeout"] == 120.0 and d["qemu_plan"] is None
    assert d["bit_exact"] and d["cases"] == 4 and d["mismatched_cases"] == 0
    assert d["reference"] == REFERENCE == "tflite_micro"
    assert isinstance(d["max_diff_litert"], int) and d["max_diff_litert"] >= 0
    assert d["clock"] == "systick" and len(d["per_op"]) == len(graph.operators)
    assert d["instructions"] == v.qemu.instructions > 0

    # The same generated C against a corrupted reference: both checks fail.
    bad_ref = corrupt(ref, [3])
    h = check_host(tflite, v.export.src_dir, tmp_path / "h2", x, reference=bad_ref)
    q = check_qemu(v.export.src_dir, tmp_path / "q2", "cortex-m4", x, bad_ref)
    assert (h.bit_exact, h.mismatched_cases) == (False, 1)
    assert (q.bit_exact, q.mismatched_cases) == (False, 1)


def test_export_and_host_only_with_reference_kernels(mlperf_dir, tmp_path):
    tflite = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    exp = export_c(tflite, tmp_path / "src", kernels="reference", source="kws.tflite")
    assert "kws.tflite" in (tmp_path / "src" / "model.c").read_text()
    x = check_inputs(exp.graph, None, 3, seed=1)
    v = verify(tflite, tmp_path / "w", "cortex-m4", x, kernels="reference", qemu=False,
               litert=False)
    assert v.qemu is None and v.host.bit_exact and v.bit_exact is True
    d = v.to_dict()
    assert "real_cases" not in d and d["instructions"] is None and d["max_diff_litert"] is None
    assert d["qemu_bit_exact"] is None and d["mismatched_cases"] == 0
    np.testing.assert_array_equal(tflm_reference(tflite, x), v.reference)
