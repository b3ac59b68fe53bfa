"""ADD with one input of a few codes (passes/code_add.py, ops/code_add.py,
kernels/ek_code_add.c): golden tests against tflite_micro running the
unfused int8 ops of small spiking models."""

import functools

import numpy as np
import pytest

from tests.kernel_harness import run_generated_host

STEPS, FEATURES, UNITS = 12, 5, 8


@functools.lru_cache(maxsize=None)
def _res_model(kind: str, seed: int = 0) -> bytes:
    """int8 model: a residual ADD of spikes and a dense tensor.

    ``kind``: ``spikes`` (one LIF layer's spikes + Dense), ``sum`` (the sum
    of two LIF layers' spikes, three codes, + Dense), ``swap`` (Dense +
    spikes: the few codes on the second input).
    """
    import keras

    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(seed)
    x = keras.Input((STEPS, FEATURES))
    s = LIF(threshold=1.0, decay=0.5, reset="hard")(keras.layers.Dense(UNITS)(x))
    if kind == "sum":
        s2 = LIF(threshold=1.0, decay=0.5, reset="hard")(keras.layers.Dense(UNITS)(x))
        s = keras.layers.Add()([s, s2])
    d = keras.layers.Dense(UNITS)(x)
    y = keras.layers.Add()([d, s] if kind == "swap" else [s, d])
    rng = np.random.default_rng(seed)
    rep = (rng.standard_normal((64, STEPS, FEATURES)) * 1.5).astype(np.float32)
    return quantize_int8(keras.Model(x, y), rep, num_samples=64)


KINDS = {"spikes": (2, 0), "sum": (3, 0), "swap": (2, 1)}    # codes, side


def _inputs(tflite, seed, n):
    from edgekit.firmware_export import read_tflite

    graph = read_tflite(tflite)
    shape = tuple(int(d) for d in graph.tensors[graph.inputs[0]].shape)
    return np.random.default_rng(seed).integers(-128, 128, (n, *shape), dtype=np.int8)


def _passes(tflite):
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.code_add import code_adds
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_layer import lif_layers
    from edgekit.firmware_export.passes.spike_sparse import sparse_spikes

    return code_adds(sparse_spikes(lif_layers(fuse_lif(read_tflite(tflite)))))


@pytest.mark.parametrize("kind,folded", [(k, True) for k in sorted(KINDS)] + [("sum", False)])
def test_code_add_bit_exact_with_tflite_micro(kind, folded, tmp_path, monkeypatch):
    """The constant folded into the few codes' table (ek_code_add_s8), or
    added per element (ek_code_addc_s8: forced here)."""
    from edgekit.firmware_export.ops import code_add
    from edgekit.reference import run_tflm

    if not folded:
        monkeypatch.setattr(code_add, "fold_add", lambda tf, add: (tf, add))
    kernel = "ek_code_add_s8(&" if folded else "ek_code_addc_s8(&"
    tflite = _res_model(kind)
    out = _passes(tflite)
    (op,) = [o for o in out.operators if o.opcode == "EK_CODE_ADD"]
    assert (len(op.options["codes"]), op.options["side"]) == KINDS[kind]
    xs = _inputs(tflite, 1, 48)
    got = run_generated_host(tflite, xs, keep=str(tmp_path))
    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    assert kernel in (tmp_path / "model.c").read_text()
    assert len(np.unique(ref)) > 20, "the test needs many output codes"
    np.testing.assert_array_equal(got, ref, err_msg=kind)


def test_code_add_check_keeps_a_differing_add(monkeypatch):
    """An ADD whose tables differ from TFLite's on one pair (forced here: one
    reference code off by one, beyond what any tables give) stays an ADD."""
    from edgekit.firmware_export.ops import code_add

    real = code_add.add_codes

    def off_by_one(p, x1, x2):
        out = real(p, x1, x2).copy()
        out[0, 10] = out[0, 11] + 1                 # not monotone: no sum gives it
        return out

    tflite = _res_model("spikes")
    assert "EK_CODE_ADD" in _passes(tflite).op_counts()
    monkeypatch.setattr(code_add, "add_codes", off_by_one)
    assert "EK_CODE_ADD" not in _passes(tflite).op_counts()


def test_code_add_on_cortex_m4(tmp_path):
    """The kernel (USAT) under QEMU, the three-code sum, vs TFLM."""
    from edgekit.emulator import build_firmware, run_qemu
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import generate
    from edgekit.reference import run_tflm

    tflite = _res_model("sum")
    xs = _inputs(tflite, 5, 16)
    generate(read_tflite(tflite), tmp_path / "src")
    assert "ek_code_add_s8(&" in (tmp_path / "src" / "model.c").read_text()
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    run = run_qemu(fw.elf, xs.reshape(len(xs), -1).view(np.uint8), target="cortex-m4")
    got = np.asarray(run.outputs, dtype=np.uint8).reshape(len(xs), -1).view(np.int8)
    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    np.testing.assert_array_equal(got, ref)
