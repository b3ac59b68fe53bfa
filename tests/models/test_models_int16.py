"""Every zoo architecture in TFLite's 16x8 mode (``edgekit quantize --int16``):
untrained tiny configurations, converted with int16 activations, int16 input
and output; edgekit's generated C (host build, sanitizers with
EDGEKIT_HOST_SANITIZE=1) is bit-exact with tflite_micro over inputs spanning
the int16 range, and three of them also on QEMU (Cortex-M4)."""

import functools
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.kernel_harness import (assert_same, kernel_sets, run_generated_host,  # noqa: E402
                                  run_generated_qemu)

SHAPE = (16, 10)
TINY = {
    "dscnn": dict(width=8, num_blocks=1),
    "tiny_transformer": dict(embed_dim=8, num_heads=2, ffn_dim=8, frame_pool=4),
    "lmu": dict(units=8, order=4, memory_d=4),
    "lmuformer": dict(dim=8, order=4, memory_d=4),
    # without the memory and mixer-input neurons (the preset's): untrained, they do
    # not fire on the calibration data, and a zero-range tensor cannot be quantised
    # to 16x8
    "spiking_lmuformer": dict(dim=8, order=4, memory_d=4, spiking_memory_output=False,
                              spiking_mixer_input=False),
}
#: The op types each tiny model's 16x8 form must have (what the test covers).
EXPECT_OPS = {
    "dscnn": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "tiny_transformer": {"BATCH_MATMUL", "TRANSPOSE", "MUL", "MEAN", "AVERAGE_POOL_2D", "ADD"},
    "lmu": {"PAD", "DEPTHWISE_CONV_2D", "MEAN", "ADD"},
    "lmuformer": {"PAD", "DEPTHWISE_CONV_2D", "MUL", "MEAN", "CONV_2D"},
    "spiking_lmuformer": {"MUL", "ADD", "STRIDED_SLICE", "CONCATENATION", "QUANTIZE"},
}


@functools.lru_cache(maxsize=None)
def _int16_model(arch: str) -> bytes:
    from edgekit.models import build_model
    from edgekit.quantize.convert import quantize_model

    model = build_model(arch, SHAPE, 4, seed=0, **TINY[arch])
    # Calibration of amplitude 4: the untrained spiking model's LIF layers
    # then spike (with unit-variance data some never do, their products get
    # a zero range, and LiteRT refuses the model).
    calib = 4.0 * np.random.default_rng(0).normal(size=(16, *SHAPE)).astype(np.float32)
    res = quantize_model(model, calib, num_samples=16, activations="int16")
    assert res.report["mode"] == "16x8"
    assert res.report["input"]["dtype"] == "int16" and res.report["output"]["dtype"] == "int16"
    return res.tflite


def _inputs(tflite: bytes, n: int, seed: int) -> np.ndarray:
    from edgekit.firmware_export.tflite_reader import read_tflite

    g = read_tflite(tflite)
    shape = tuple(int(d) for d in g.tensors[g.inputs[0]].shape)
    r = np.random.default_rng(seed)
    # Half the cases over the whole int16 range, half on the calibrated scale.
    wide = r.integers(-32768, 32768, (n // 2, *shape))
    x = g.tensors[g.inputs[0]]
    narrow = np.clip(np.round(4.0 * r.normal(size=(n - n // 2, *shape)) / x.s), -32768, 32767)
    return np.concatenate([wide, narrow]).astype(np.int16)


def _check_host(arch: str, b: bytes, seed: int) -> None:
    from edgekit.quantize.evaluate import op_list
    from edgekit.reference import run_tflm

    ops_ = set(op_list(b))
    assert EXPECT_OPS[arch] <= ops_, f"{arch}: missing {EXPECT_OPS[arch] - ops_} in {ops_}"
    xs = _inputs(b, 6, seed)
    ref = np.asarray(run_tflm(b, xs))
    assert len(np.unique(ref)) > 1, f"{arch}: tflite_micro's outputs are constant"
    for kernels in kernel_sets(b):
        got = run_generated_host(b, xs, kernels=kernels)
        assert got.dtype == np.int16
        assert_same(got, ref.reshape(got.shape), f"{arch} 16x8 kernels={kernels}")


@pytest.mark.parametrize("arch", sorted(set(TINY) - {"dscnn"}))
def test_zoo_int16_bit_exact_host(arch):
    """The zoo model's 16x8 form is bit-exact on host (dscnn: in the command-line test)."""
    _check_host(arch, _int16_model(arch), 1)


@pytest.mark.parametrize("arch", sorted(TINY))
def test_zoo_int16_bit_exact_qemu(arch):
    """Built for the Cortex-M4 with int16 input and output (the host test's
    model, converted once): dscnn's CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D,
    lmu's and lmuformer's PAD, DEPTHWISE_CONV_2D, MUL, MEAN,
    the spiking model's STRIDED_SLICE, CONCATENATION, QUANTIZE, the
    transformer's BATCH_MATMUL, TRANSPOSE, AVERAGE_POOL_2D in int16."""
    from edgekit.reference import run_tflm

    b = _int16_model(arch)
    xs = _inputs(b, 4, 2)
    ref = np.asarray(run_tflm(b, xs))
    got = run_generated_qemu(b, xs, target="cortex-m4")
    assert got.dtype == np.int16
    assert_same(got, ref.reshape(got.shape), f"{arch} 16x8 on QEMU cortex-m4")


def test_cli_quantize_int16_dscnn_bit_exact_host(tmp_path):
    """``edgekit quantize --int16`` on a saved DS-CNN writes a 16x8 .tflite
    that the code generator takes, bit-exact with tflite_micro."""
    from click.testing import CliRunner

    from edgekit.cli import main
    from edgekit.models import build_model

    model = build_model("dscnn", SHAPE, 4, seed=0, **TINY["dscnn"])
    model.save(tmp_path / "m.keras")
    calib = 4.0 * np.random.default_rng(0).normal(size=(16, *SHAPE)).astype(np.float32)
    np.save(tmp_path / "calib.npy", calib)
    out = tmp_path / "m16.tflite"
    res = CliRunner().invoke(main, ["quantize", str(tmp_path / "m.keras"), "--out", str(out),
                                    "--calib", str(tmp_path / "calib.npy"), "--num-samples",
                                    "16", "--int16"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    _check_host("dscnn", out.read_bytes(), 3)


def test_zero_calibration_range_is_named():
    """With unit-variance calibration the untrained spiking model's LIF
    layers never fire: the 16x8 converter gives their products a scale near
    1e-43 (LiteRT then fails in MUL's Prepare); quantize_model names the
    tensor instead."""
    from edgekit.errors import ModelError
    from edgekit.models import build_model
    from edgekit.quantize.convert import quantize_model

    model = build_model("spiking_lmuformer", SHAPE, 4, seed=0, **TINY["spiking_lmuformer"])
    calib = np.random.default_rng(0).normal(size=(8, *SHAPE)).astype(np.float32)
    with pytest.raises(ModelError, match=r"16x8 calibration gave int16 tensor \d+ \('.*'\) "
                                         r"the scale .*values were 0 on every calibration"):
        quantize_model(model, calib, num_samples=8, activations="int16")


def test_zoo_lstm_int16_is_refused_naming_the_op():
    """TF 2.21's converter has no 16x8 LSTM: the zoo lstm in 16x8 mode is an
    edgekit error naming UNIDIRECTIONAL_SEQUENCE_LSTM (int8 is supported)."""
    from edgekit.errors import EdgekitError
    from edgekit.models import build_model
    from edgekit.quantize.convert import quantize_model

    model = build_model("lstm", SHAPE, 4, seed=0, units=4)
    calib = np.random.default_rng(0).normal(size=(8, *SHAPE)).astype(np.float32)
    with pytest.raises(EdgekitError, match="UNIDIRECTIONAL_SEQUENCE_LSTM"):
        quantize_model(model, calib, num_samples=8, activations="int16")
