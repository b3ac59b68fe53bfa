"""A depthwise layer whose filter is one plane row after the kernel's rotation
(13 x 1 taps over time: 7 tap pairs, past the unrolled 2-5 pair copies), as the
LMU memory filter: dw_plane_row1 of kernels/optimized/ek_depthwise_conv.c (DSP
cores only), golden test against tflite_micro in QEMU."""

import numpy as np

from tests.kernel_harness import random_inputs, run_generated_qemu, single_op_model


def test_one_row_depthwise_filter_is_bit_exact_in_qemu(tmp_path):
    import keras

    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import lower_graph
    from edgekit.firmware_export.ops.depthwise_conv import depthwise_paths
    from edgekit.reference import run_tflm

    def build(ins):
        return keras.layers.DepthwiseConv2D((13, 1), depth_multiplier=2, padding="same",
                                            bias_initializer="random_normal")(ins[0])

    tflite = single_op_model(build, [(20, 1, 3)], seed=4)
    graph = read_tflite(tflite)
    (low,) = [lw for op, lw in zip(graph.operators, lower_graph(graph))
              if op.opcode == "DEPTHWISE_CONV_2D"]
    paths = depthwise_paths(low)
    assert {"EKOPT_DW_GENERIC_DSP", "EKOPT_DW_ROW1"} <= paths, paths
    assert not any("_NP" in n for n in paths), paths
    xs = random_inputs(tflite, 4, 4)
    got = run_generated_qemu(tflite, xs, keep=str(tmp_path))
    ref = np.asarray(run_tflm(tflite, xs))
    assert len(np.unique(ref)) > 10
    np.testing.assert_array_equal(got, ref.reshape(got.shape))
