"""A FULLY_CONNECTED without bias (as the LMU's hidden layer) takes the asm unit
loop of kernels/optimized/ek_fully_connected.c on Cortex-M4 (zeros for the bias,
EKFC_QBLK units at a time: 40 units, a block of 32 and one of 8): golden test
against tflite_micro in QEMU."""

import numpy as np

from tests.kernel_harness import random_inputs, run_generated_qemu, single_op_model


def test_fc_without_bias_on_the_unit_loop_is_bit_exact_in_qemu(tmp_path):
    import keras

    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.codegen import lower_graph
    from edgekit.firmware_export.ops.fully_connected import fc_paths
    from edgekit.reference import run_tflm

    def build(ins):
        return keras.layers.Dense(40, use_bias=False)(ins[0])

    tflite = single_op_model(build, [(3, 64)], seed=6)
    graph = read_tflite(tflite)
    (low,) = [lw for op, lw in zip(graph.operators, lower_graph(graph))
              if op.opcode == "FULLY_CONNECTED"]
    assert low.args[2] is None, "the test needs a layer without bias"
    assert "EKOPT_FC_UNITS" in fc_paths(low)
    xs = random_inputs(tflite, 4, 6)
    got = run_generated_qemu(tflite, xs, keep=str(tmp_path))
    ref = np.asarray(run_tflm(tflite, xs))
    assert len(np.unique(ref)) > 10
    np.testing.assert_array_equal(got, ref.reshape(got.shape))
