"""In-place CONV_2D 1x1 and DEPTHWISE_CONV_2D end to end.

The depthwise kernels (multiplier 1, output no larger than the input) and
the 1x1 convolutions (stride 1, no padding, out_c <= in_c) declare their
input in ``Lowered.inplace``; the planner then gives the output the input's
address when the input dies there, and both kernel sets must still match
tflite_micro bit for bit with ``out == in``.  Convolutions get the largest
scratch (fastest path) that keeps the arena within the budget of
:func:`edgekit.firmware_export.codegen.fit_scratch`.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.firmware_export import generate, read_tflite
from edgekit.reference import run_tflm
from tests.kernel_harness import KERNEL_SETS, run_generated_host, single_op_model


@pytest.fixture(scope="module")
def chain_model():
    """conv 1x1 3 -> 8 -> dw 5x5 SAME -> dw 3x3 dilation 2 SAME -> conv 1x1 8 -> 6
    -> conv 1x1 stride 2 -> dw 3x3 VALID."""
    import keras

    def build(ins):
        x = keras.layers.Conv2D(8, 1, activation="relu")(ins[0])
        x = keras.layers.DepthwiseConv2D(5, padding="same")(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same", dilation_rate=2,
                                         activation="relu6")(x)
        x = keras.layers.Conv2D(6, 1)(x)
        x = keras.layers.Conv2D(6, 1, strides=2)(x)
        return keras.layers.DepthwiseConv2D(3, padding="valid")(x)

    return single_op_model(build, [(9, 7, 3)], seed=5)


@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_inplace_chain_is_bit_exact_with_tflm(chain_model, kernels, tmp_path):
    graph = read_tflite(chain_model)
    assert [op.opcode for op in graph.operators] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "CONV_2D",
        "DEPTHWISE_CONV_2D"]
    exp = generate(graph, tmp_path / "src", kernels=kernels)
    offs = exp.plan.offsets
    over = [offs[op.outputs[0]] == offs[op.inputs[0]] for op in graph.operators]
    # 3 -> 8 widens; the stride-2 1x1 is not an in-place shape; the rest run in place
    # (the last dw: VALID, its output is smaller than its input).
    assert over == [False, True, True, True, False, True]
    for op, low in zip(graph.operators, exp.lowered):
        assert bool(low.inplace) == (op.index not in (0, 4))
    assert exp.plan.lower_bound_bytes < exp.plan.lower_bound_no_inplace_bytes
    x = np.random.default_rng(11).integers(-128, 128, (64, 9, 7, 3), dtype=np.int8)
    ours = run_generated_host(chain_model, x, kernels=kernels)
    ref = np.stack([run_tflm(chain_model, xi[None]) for xi in x]).reshape(ours.shape)
    np.testing.assert_array_equal(ours, ref)


def _kws(mlperf_dir, tmp_path, kernels="optimized"):
    tflite = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    graph = read_tflite(tflite)
    return tflite, graph, generate(graph, tmp_path / "src", kernels=kernels)


def test_kws_runs_its_dw_and_pw_convs_in_place(mlperf_dir, tmp_path):
    from edgekit.emulator import build_host, run_host

    tflite, graph, exp = _kws(mlperf_dir, tmp_path)
    plan = exp.plan
    inplace = [op.index for op in graph.operators
               if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")
               and plan.offsets[op.outputs[0]] == plan.offsets[op.inputs[0]]]
    assert inplace == list(range(1, 9))            # every dw and pw; not conv1 (1 -> 64)
    # By hand: conv1 holds its input (49 x 10 -> 496 B), its 25 x 5 x 64 output
    # (8,000 B) and its im2col scratch (six pixels of 40 int16: 480 B): 8,976 B.
    # Every dw/pw step holds one 8,000 B tensor and less scratch.  Without in-place
    # every dw/pw step holds two 8,000 B tensors.
    assert exp.lowered[0].scratch == 480
    assert plan.lower_bound_bytes == plan.arena_bytes == 8976
    assert plan.lower_bound_no_inplace_bytes == 16000
    x = np.random.default_rng(7).integers(-128, 128, (100, 490), dtype=np.int8)
    ours = run_host(build_host(tmp_path / "src", tmp_path / "host"), x.view(np.uint8))
    np.testing.assert_array_equal(ours.view(np.int8), run_tflm(tflite, x).reshape(100, -1))


@pytest.mark.qemu
def test_kws_in_place_in_qemu_is_bit_exact(mlperf_dir, tmp_path):
    from edgekit.emulator import build_firmware, run_qemu

    tflite, graph, exp = _kws(mlperf_dir, tmp_path)
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    x = np.random.default_rng(8).integers(-128, 128, (3, 490), dtype=np.int8)
    run = run_qemu(fw.elf, x.view(np.uint8), target="cortex-m4")
    assert np.array_equal(run.outputs.view(np.int8), run_tflm(tflite, x).reshape(3, -1))
    assert exp.plan.arena_bytes == 8976
