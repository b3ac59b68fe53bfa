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


def _fc(batches, units, bias):
    from edgekit.firmware_export.ops.base import Lowered
    from edgekit.firmware_export.ops.fully_connected import rq2_table

    p = dict(batches=batches, accum=64, units=units, in_offset=0, filter_offset=0,
             out_offset=0, act_min=-128, act_max=127, per_channel=0,
             mult=[1 << 30], shift=[-5])
    p["rq"] = rq2_table(p["mult"], p["shift"], p["out_offset"])   # as lower() gives it
    return Lowered("ek_fully_connected_s8", "ek_fc_params", p, [0, 1, 2 if bias else None, 3])


def test_layers_without_bias_take_the_unit_loop_all_or_none():
    from edgekit.firmware_export.kernel_paths import kernel_paths

    def listed(*lows):
        return {d["name"] for d in kernel_paths(list(lows)) if d["used"]}

    small = _fc(1, 10, bias=False)                   # a classifier: 10 outputs
    assert listed(small) == {"EKOPT_FC_LOOP", "EKOPT_FC_PLAIN_C"}
    big = _fc(24, 48, bias=False)                    # 1,152 outputs: the asm loop, zeros
    assert {"EKOPT_FC_UNITS", "EKOPT_FC_UNITS_NOBIAS"} <= listed(big)
    # beside the large one the classifier takes the asm loop too (ek_fully_connected_s8
    # decides by EKOPT_FC_UNITS_NOBIAS alone): no C loop for its even units
    assert "EKOPT_FC_LOOP" not in listed(big, small)
    assert "EKOPT_FC_UNITS_NOBIAS" not in listed(_fc(1, 10, bias=True))
