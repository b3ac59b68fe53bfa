"""Fused LIF steps (passes/fuse_lif.py, kernels/ek_lif.c) and whole LIF layers
(passes/lif_layer.py, kernels/ek_lif_layer.c): golden tests against
tflite_micro running the unfused int8 chain of a small spiking model."""

import functools

import numpy as np
import pytest

from tests.kernel_harness import run_generated_host

STEPS, FEATURES, UNITS = 12, 5, 8


@functools.lru_cache(maxsize=None)     # the exact-kernel test reuses the first model
def _lif_model(seed, reset, decay, units=UNITS):
    """int8 model: Dense currents -> LIF over STEPS steps -> the spikes as output."""
    import keras

    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(seed)
    x = keras.Input((STEPS, FEATURES))
    cur = keras.layers.Dense(units)(x)
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


def _per_step(monkeypatch):
    """Generate the per-step EK_LIF calls (the layer pass off), as for a
    layer that pass does not take (e.g. a streaming model's one step)."""
    from edgekit.firmware_export import codegen

    monkeypatch.setattr(codegen, "lif_layers", lambda graph: graph)


@pytest.mark.parametrize("seed,decay", [(0, 0.5), (1, 0.9)])
def test_fused_lif_bit_exact_with_tflite_micro(seed, decay, tmp_path, monkeypatch):
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif

    _per_step(monkeypatch)

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

    _per_step(monkeypatch)
    monkeypatch.setattr(lif, "lif_fast_params", lambda p: dict(fast=0))
    tflite = _lif_model(0, "hard", 0.5)
    got, ref = _golden(tflite, 0, n=16, keep=str(tmp_path))
    model_c = (tmp_path / "model.c").read_text()
    assert "ek_lif_exact_s8(&" in model_c and "ek_lif_s8(&" not in model_c
    assert set(np.unique(ref)) == {-128, 127}
    np.testing.assert_array_equal(got, ref, err_msg="exact LIF kernel")


def _wide_only(monkeypatch):
    """Tables of int32 (the leak's exact rescalings, ek_lif_layer_s8), as for
    a layer without int16 tables."""
    from edgekit.firmware_export.ops import lif_layer

    monkeypatch.setattr(lif_layer, "int16_tables", lambda *a, **k: None)


@pytest.mark.parametrize("seed,decay,wide,units", [(0, 0.5, False, UNITS), (1, 0.9, False, UNITS),
                                                   (0, 0.5, True, UNITS), (2, 0.5, False, 7)])
def test_lif_layer_bit_exact_with_tflite_micro(seed, decay, wide, units, tmp_path, monkeypatch):
    """All steps of the layer in one call (tables, membrane in a register), its
    input clip folded in: int16 tables (ek_lif_layer16_s8: channels in pairs,
    an odd one alone) or int32 ones."""
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_layer import lif_layers

    if wide:
        _wide_only(monkeypatch)
    kernel = "ek_lif_layer_s8(&" if wide else "ek_lif_layer16_s8(&"

    tflite = _lif_model(seed, "hard", decay, units)
    graph = read_tflite(tflite)
    layered = lif_layers(fuse_lif(graph))
    assert layered.op_counts().get("EK_LIF_LAYER") == 1, layered.op_counts()
    # every op of the file is computed by the layer op or left over, once;
    # the steps' joins (CONCATENATION) and the clip's last ADD are folded in
    kept = [op.index for op in layered.operators if op.index not in layered.fused]
    merged = [i for m in layered.fused.values() for i in m]
    assert sorted(kept + merged) == [op.index for op in graph.operators]
    assert "CONCATENATION" not in layered.op_counts()
    (op,) = [o for o in layered.operators if o.opcode == "EK_LIF_LAYER"]
    assert len(op.options["pre"]) >= 1, "the test model's current clip is folded"
    got, ref = _golden(tflite, seed, keep=str(tmp_path))
    model_c = (tmp_path / "model.c").read_text()
    assert model_c.count(kernel) == 1 and "ek_lif_s8(&" not in model_c
    assert set(np.unique(ref)) == {-128, 127}, "the test needs both spike codes"
    np.testing.assert_array_equal(got, ref, err_msg=f"seed={seed} decay={decay} wide={wide} "
                                                    f"units={units}")


def test_int16_tables_solve_the_difference_constraints():
    """u = clip((a[i] + b[j]) >> 7): found for a code map that is a sum of two
    scaled inputs rounded down, none for a map no sum gives."""
    from edgekit.firmware_export.ops.lif_layer import int16_tables

    i, j = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    target = np.clip((6 * i + 11 * j - 400) // 20, 0, 255)
    a, b = int16_tables(target)
    np.testing.assert_array_equal(np.clip((a[:, None] + b[None, :]) >> 7, 0, 255), target)
    assert np.abs(a).max() < 1 << 15 and np.abs(b).max() < 1 << 15
    bad = target.copy()
    bad[:2, :2] = [[10, 11], [11, 10]]       # a0 + b0 < a0 + b1 but a1 + b0 > a1 + b1
    assert int16_tables(bad) is None


def test_lif_layer_check_keeps_a_differing_layer_per_step(monkeypatch):
    """A layer whose table form differs from the chain on some pair of codes
    (forced here by one wrong table entry) is left to the per-step kernels."""
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.ops import lif_layer
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_layer import lif_layers

    real = lif_layer.mbqm_array

    def off_by_one(x, multiplier, shift):
        out = real(x, multiplier, shift)
        out[len(out) // 3] += 1
        return out

    monkeypatch.setattr(lif_layer, "mbqm_array", off_by_one)
    fused = fuse_lif(read_tflite(_lif_model(0, "hard", 0.5)))
    assert "EK_LIF_LAYER" not in lif_layers(fused).op_counts()


@pytest.mark.parametrize("wide", [False, True])
def test_lif_layer_on_cortex_m4(wide, tmp_path, monkeypatch):
    """The layer kernels' DSP forms (USAT, SSAT; SMMLAR with int32 tables) under QEMU."""
    from edgekit.emulator import build_firmware, run_qemu
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import generate
    from edgekit.reference import run_tflm

    if wide:
        _wide_only(monkeypatch)

    tflite = _lif_model(1, "hard", 0.9)
    graph = read_tflite(tflite)
    shape = tuple(int(d) for d in graph.tensors[graph.inputs[0]].shape)
    xs = np.random.default_rng(5).integers(-128, 128, (16, *shape), dtype=np.int8)
    generate(graph, tmp_path / "src")
    kernel = "ek_lif_layer_s8(&" if wide else "ek_lif_layer16_s8(&"
    assert kernel in (tmp_path / "src" / "model.c").read_text()
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    run = run_qemu(fw.elf, xs.reshape(len(xs), -1).view(np.uint8), target="cortex-m4")
    got = np.asarray(run.outputs, dtype=np.uint8).reshape(len(xs), -1).view(np.int8)
    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    assert set(np.unique(ref)) == {-128, 127}
    np.testing.assert_array_equal(got, ref)
