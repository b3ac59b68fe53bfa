"""A CONV_2D whose fused activation is narrower than int8 (a RELU6 on a tensor
quantized over [-3, 6], as in a spiking model's clipped currents) takes the
six-pixel path on Cortex-M4 (kernels/optimized/ek_conv.c: SSAT, then
ekopt_clamp_s8): golden test against tflite_micro in QEMU."""

import numpy as np

from tests.kernel_harness import run_generated_qemu

STEPS, FEATURES, UNITS = 12, 5, 8


def _model():
    """int8: Conv1D(8, 3) currents -> LIF (its current clip relu6(x + 3) - 3 fuses
    into the convolution as RELU6 over the clip's range) -> spikes."""
    import keras

    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(3)
    x = keras.Input((STEPS, FEATURES))
    cur = keras.layers.Conv1D(UNITS, 3, padding="same")(x)
    s = LIF(threshold=1.0, decay=0.5, reset="hard")(cur)
    rep = (np.random.default_rng(3).standard_normal((64, STEPS, FEATURES)) * 1.5)
    return quantize_int8(keras.Model(x, s), rep.astype(np.float32), num_samples=64)


def test_relu_conv_on_the_six_pixel_path_is_bit_exact_in_qemu(tmp_path):
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import lower_graph
    from edgekit.firmware_export.ops.conv import conv_paths
    from edgekit.reference import run_tflm

    tflite = _model()
    graph = read_tflite(tflite)
    convs = [low for op, low in zip(graph.operators, lower_graph(graph))
             if op.opcode == "CONV_2D"]
    assert len(convs) == 1
    p = convs[0].params
    assert p["act_min"] > -128, "the test needs an activation range narrower than int8"
    p["scratch_bytes"] = convs[0].scratch         # its first (fastest) choice
    assert "EKOPT_CONV_SIX" in conv_paths(convs[0])
    xs = np.random.default_rng(3).integers(-128, 128, (8, *graph.tensors[graph.inputs[0]].shape),
                                           dtype=np.int8)
    ref = np.asarray(run_tflm(tflite, xs))
    got = run_generated_qemu(tflite, xs, keep=str(tmp_path), scratch_allowance=4096)
    paths = (tmp_path / "src" / "ek_paths.h").read_text()
    assert "#define EKOPT_CONV_SIX           1" in paths, "the firmware took another path"
    assert len(np.unique(ref)) > 1
    np.testing.assert_array_equal(got, ref.reshape(got.shape))
