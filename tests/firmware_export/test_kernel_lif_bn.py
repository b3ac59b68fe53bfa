"""A LIF layer with the ADD and the per-channel batch-norm stages making its current
(passes/lif_bn.py, ops/lif_bn.py, kernels/ek_lif_bn.c): golden tests against
tflite_micro running the unfused int8 ops of a small spiking model."""

import functools

import numpy as np
import pytest

from tests.kernel_harness import run_generated_host

STEPS, FEATURES, UNITS = 12, 5, 8


@functools.lru_cache(maxsize=None)
def _bn_model(kind: str, seed: int = 0) -> bytes:
    """int8 model: Dense + Dense -> ADD -> (bias) -> BatchNormalization -> LIF.

    ``kind``: ``fresh`` (a batch norm at its initial weights: one MUL per
    channel), ``bn`` (random statistics: MUL and ADD, the ADD with the LIF's
    lower clip), ``bias_bn`` (and a per-channel bias ADD in front: three stages).
    """
    import keras

    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = keras.Input((STEPS, FEATURES))
    h = keras.layers.Add()([keras.layers.Dense(UNITS, use_bias=False)(x),
                            keras.layers.Dense(UNITS, use_bias=False)(x)])
    if kind == "bias_bn":
        bias = rng.normal(0, 0.7, UNITS).astype(np.float32)
        h = keras.layers.Lambda(lambda t: t + bias)(h)
    bn = keras.layers.BatchNormalization()
    h = bn(h)
    if kind != "fresh":
        bn.set_weights([rng.uniform(0.5, 2.0, UNITS), rng.normal(0, 0.5, UNITS),
                        rng.normal(0, 0.5, UNITS), rng.uniform(0.5, 2.0, UNITS)])
    s = LIF(threshold=1.0, decay=0.5, reset="hard")(h)
    rep = (rng.standard_normal((64, STEPS, FEATURES)) * 1.5).astype(np.float32)
    return quantize_int8(keras.Model(x, s), rep, num_samples=64)


STAGES = {"fresh": 1, "bn": 2, "bias_bn": 3}
#: The kernel each model takes: bias_bn's head ADD needs the general head form
#: (no int16 tables of shift 7 give its codes); the suffix marks the ADD stages
#: (bit k: stage k stores Q only): bn's MUL, ADD; bias_bn's ADD, MUL, ADD.
KERNEL = {"fresh": "ek_lif_bn1_0_s8(&", "bn": "ek_lif_bn2_2_s8(&",
          "bias_bn": "ek_lif_bn3h_5_s8(&"}


def _inputs(tflite, seed, n):
    from edgekit.firmware_export import read_tflite

    graph = read_tflite(tflite)
    shape = tuple(int(d) for d in graph.tensors[graph.inputs[0]].shape)
    return np.random.default_rng(seed).integers(-128, 128, (n, *shape), dtype=np.int8)


@pytest.mark.parametrize("kind", sorted(STAGES))
def test_lif_bn_bit_exact_with_tflite_micro(kind, tmp_path):
    """The fused op replaces the ADD, the stages and the layer; host C vs TFLM."""
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_bn import lif_bn
    from edgekit.firmware_export.passes.lif_layer import lif_layers
    from edgekit.reference import run_tflm

    tflite = _bn_model(kind)
    graph = read_tflite(tflite)
    out = lif_bn(lif_layers(fuse_lif(graph)))
    counts = out.op_counts()
    assert counts.get("EK_LIF_BN") == 1 and "ADD" not in counts and "MUL" not in counts, counts
    (op,) = [o for o in out.operators if o.opcode == "EK_LIF_BN"]
    assert len(op.options["stages"]) == STAGES[kind]
    # every op of the file is computed by the fused op or left over, once
    kept = [o.index for o in out.operators if o.index not in out.fused]
    merged = [i for m in out.fused.values() for i in m]
    assert sorted(kept + merged) == [o.index for o in graph.operators]
    xs = _inputs(tflite, 1, 48)
    got = run_generated_host(tflite, xs, keep=str(tmp_path))
    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    assert KERNEL[kind] in (tmp_path / "model.c").read_text()
    assert set(np.unique(ref)) == {-128, 127}, "the test needs both spike codes"
    np.testing.assert_array_equal(got, ref, err_msg=kind)


def test_lif_bn_check_keeps_the_ops_when_a_stage_differs(monkeypatch):
    """A stage whose kernel form differs from TFLite's on one code (forced
    here: one reference code off by one) is not fused."""
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.ops import lif_bn as lif_bn_op
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_bn import lif_bn
    from edgekit.firmware_export.passes.lif_layer import lif_layers

    real = lif_bn_op.stage_codes

    def off_by_one(op, graph, channels):
        out = real(op, graph, channels).copy()
        out[100, channels - 1] += 1
        return out

    layered = lif_layers(fuse_lif(read_tflite(_bn_model("bn"))))
    assert "EK_LIF_BN" in lif_bn(layered).op_counts()
    monkeypatch.setattr(lif_bn_op, "stage_codes", off_by_one)
    assert "EK_LIF_BN" not in lif_bn(layered).op_counts()


@pytest.mark.parametrize("kind", ["fresh", "bias_bn"])
def test_lif_bn_on_cortex_m4(kind, tmp_path):
    """The kernels' DSP forms (SMMLAR, USAT, SSAT) under QEMU, vs TFLM: the
    usual head with one stage, the general head with three."""
    from edgekit.emulator import build_firmware, run_qemu
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import generate
    from edgekit.reference import run_tflm

    tflite = _bn_model(kind)
    xs = _inputs(tflite, 5, 16)
    generate(read_tflite(tflite), tmp_path / "src")
    assert KERNEL[kind] in (tmp_path / "src" / "model.c").read_text()
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    run = run_qemu(fw.elf, xs.reshape(len(xs), -1).view(np.uint8), target="cortex-m4")
    got = np.asarray(run.outputs, dtype=np.uint8).reshape(len(xs), -1).view(np.int8)
    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    assert set(np.unique(ref)) == {-128, 127}
    np.testing.assert_array_equal(got, ref, err_msg=kind)


@pytest.mark.parametrize("kind", ["bn", "bias_bn"])
def test_lif_bn_head_without_tables_stays_an_add(kind, monkeypatch, tmp_path):
    """A head ADD with no int16 tables (forced here; a trained spiking_lmuformer's
    lmu_act head, seed 0, has none) stays its own ADD; its stages still join the
    layer, which reads the ADD's output through the identity head. Host C vs TFLM."""
    from edgekit.errors import UnsupportedOpError
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.ops import lif_bn as lif_bn_op
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_bn import lif_bn
    from edgekit.firmware_export.passes.lif_layer import lif_layers
    from edgekit.reference import run_tflm

    def no_tables(op, graph):
        raise UnsupportedOpError("no int16 tables (forced)")

    monkeypatch.setattr(lif_bn_op, "head_tables", no_tables)
    tflite = _bn_model(kind)
    out = lif_bn(lif_layers(fuse_lif(read_tflite(tflite))))
    counts = out.op_counts()
    assert counts.get("EK_LIF_BN") == 1 and counts.get("ADD") == 1 and "MUL" not in counts, counts
    (op,) = [o for o in out.operators if o.opcode == "EK_LIF_BN"]
    assert op.options["head"] is None and len(op.options["stages"]) == STAGES[kind]
    xs = _inputs(tflite, 2, 48)
    got = run_generated_host(tflite, xs, keep=str(tmp_path))
    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    assert f"ek_lif_bn{STAGES[kind]}_" in (tmp_path / "model.c").read_text()
    assert set(np.unique(ref)) == {-128, 127}, "the test needs both spike codes"
    np.testing.assert_array_equal(got, ref, err_msg=kind)
