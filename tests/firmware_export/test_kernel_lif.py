"""Fused LIF steps (passes/fuse_lif.py, kernels/ek_lif.c): golden tests against
tflite_micro running the unfused int8 chain of a small spiking model."""

import functools

import numpy as np
import pytest

from tests.kernel_harness import run_generated_host

STEPS, FEATURES, UNITS = 12, 5, 8


@functools.lru_cache(maxsize=None)     # the exact-kernel test reuses the first model
def _lif_model(seed, reset, decay):
    """int8 model: Dense currents -> LIF over STEPS steps -> the spikes as output."""
    import keras

    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(seed)
    x = keras.Input((STEPS, FEATURES))
    cur = keras.layers.Dense(UNITS)(x)
    s = LIF(threshold=1.0, decay=decay, reset=reset)(cur)
    model = keras.Model(x, s)
    rng = np.random.default_rng(seed)
    rep = (rng.standard_normal((64, STEPS, FEATURES)) * 1.5).astype(np.float32)
    return quantize_int8(model, rep, num_samples=64)


def _golden(tflite, seed, n=48, keep=None):
    from edgekit.firmware_export import read_tflite
    from edgekit.reference import run_tflm

    graph = read_tflite(tflite)
    shape = tuple(int(d) for d in graph.tensors[graph.inputs[0]].shape)
    xs = np.random.default_rng(seed).integers(-128, 128, (n, *shape), dtype=np.int8)
    ref = np.asarray(run_tflm(tflite, xs))
    got = run_generated_host(tflite, xs, keep=keep)
    return got, ref.reshape(got.shape)


@pytest.mark.parametrize("seed,decay", [(0, 0.5), (1, 0.9)])
def test_fused_lif_bit_exact_with_tflite_micro(seed, decay, tmp_path):
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif

    tflite = _lif_model(seed, "hard", decay)
    graph = read_tflite(tflite)
    fused = fuse_lif(graph)
    lif_ops = [op for op in fused.operators if op.opcode == "EK_LIF"]
    assert len(lif_ops) == STEPS, fused.op_counts()
    # the LIF ops and the ops left over are the file's ops, each once
    kept = [op.index for op in fused.operators if op.opcode != "EK_LIF"]
    merged = [i for m in fused.fused.values() for i in m]
    assert sorted(kept + merged) == [op.index for op in graph.operators]
    # with the STRIDED_SLICE of its current: the first step 10 ops (no
    # leak), then 11, the last 7 (no reset: the converter dropped it)
    assert sorted({len(m) for m in fused.fused.values()}) == [7, 10, 11]
    assert "STRIDED_SLICE" not in fused.op_counts()
    got, ref = _golden(tflite, seed, keep=str(tmp_path))
    # the steps between the first and the last share their parameters: loops
    model_c = (tmp_path / "model.c").read_text()
    assert model_c.count("for (unsigned k = 0;") >= 1
    assert model_c.count("ek_lif_s8(&") < STEPS
    assert set(np.unique(ref)) == {-128, 127}, "the test needs both spike codes"
    rate = float(np.mean(ref == 127))
    assert 0.05 < rate < 0.95, rate
    np.testing.assert_array_equal(got, ref, err_msg=f"seed={seed} decay={decay}")


def test_soft_reset_is_left_unfused_and_exact():
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif

    tflite = _lif_model(2, "soft", 0.5)
    fused = fuse_lif(read_tflite(tflite))
    # soft reset (v + s * -threshold) is not fused: the steps fuse their
    # spike stages only, the leak and reset ops stay
    assert "MUL" in fused.op_counts()
    got, ref = _golden(tflite, 2, n=16)
    np.testing.assert_array_equal(got, ref, err_msg="soft reset")


def test_exact_lif_kernel_when_the_fast_form_does_not_apply(monkeypatch, tmp_path):
    """ek_lif_exact_s8 (every stage with the ADD/MUL arithmetic) on the layers
    whose leak fails the fast form's check: forced here, bit-exact all the same."""
    from edgekit.firmware_export.ops import lif

    monkeypatch.setattr(lif, "lif_fast_params", lambda p: dict(fast=0))
    tflite = _lif_model(0, "hard", 0.5)
    got, ref = _golden(tflite, 0, n=16, keep=str(tmp_path))
    model_c = (tmp_path / "model.c").read_text()
    assert "ek_lif_exact_s8(&" in model_c and "ek_lif_s8(&" not in model_c
    assert set(np.unique(ref)) == {-128, 127}
    np.testing.assert_array_equal(got, ref, err_msg="exact LIF kernel")
