"""In-place CONV_2D 1x1 and DEPTHWISE_CONV_2D end to end (kernels/ek_inplace.c).

The lowerings are swapped for their in-place forms
(:func:`edgekit.firmware_export.ops.inplace.inplace_variant`) in these tests
only: the planner then gives each such op's output its input's address, with
a scratch buffer, and the generated code must still match tflite_micro bit
for bit.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgekit.firmware_export import generate, ops, read_tflite
from edgekit.firmware_export.ops.inplace import inplace_scratch, inplace_variant
from edgekit.reference import run_tflm
from tests.kernel_harness import KERNEL_SETS, run_generated_host, single_op_model


@pytest.fixture
def inplace_convs(monkeypatch):
    conv, dw = ops.LOWERINGS["CONV_2D"], ops.LOWERINGS["DEPTHWISE_CONV_2D"]
    monkeypatch.setitem(ops.LOWERINGS, "CONV_2D",
                        lambda op, g: inplace_variant(conv(op, g), depthwise=False))
    monkeypatch.setitem(ops.LOWERINGS, "DEPTHWISE_CONV_2D",
                        lambda op, g: inplace_variant(dw(op, g), depthwise=True))


def _in_place_calls(model_c: str) -> list[tuple[str, str, str, str]]:
    """(kernel, input, output, scratch) of every call of an ek_inplace.c kernel."""
    pat = (r"(ek_\w+_inplace_s8)\(&ek_op\d+, (EK_T\(\d+\)), ek_c\d+, (?:ek_c\d+|NULL), "
           r"(EK_T\(\d+\)), (EK_T\(\d+\))\);")
    return re.findall(pat, model_c)


def test_scratch_sizes_by_hand():
    dw = dict(depth_multiplier=1, stride_h=1, stride_w=1, in_h=25, in_w=5, in_c=64,
              out_h=25, out_w=5, out_c=64, pad_h=1)
    assert inplace_scratch(dw, depthwise=True) == 2 * 5 * 64        # 2 rows
    assert inplace_scratch({**dw, "stride_h": 2, "out_h": 13}, depthwise=True) == 0
    assert inplace_scratch({**dw, "depth_multiplier": 2, "out_c": 128}, depthwise=True) == 0
    pw = dict(f_h=1, f_w=1, pad_h=0, pad_w=0, in_c=64, out_c=64)
    assert inplace_scratch(pw, depthwise=False) == 64                # 1 pixel
    assert inplace_scratch({**pw, "out_c": 65}, depthwise=False) == 0
    assert inplace_scratch({**pw, "f_h": 3}, depthwise=False) == 0


@pytest.fixture(scope="module")
def chain_model():
    """conv 1x1 -> dw 5x5 SAME -> dw 3x3 dilation 2 SAME -> conv 1x1 stride 2 (8 -> 6
    channels) -> dw 3x3 VALID: the middle three may run in place, the last not."""
    import keras

    def build(ins):
        x = keras.layers.Conv2D(8, 1, activation="relu")(ins[0])
        x = keras.layers.DepthwiseConv2D(5, padding="same")(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same", dilation_rate=2,
                                         activation="relu6")(x)
        x = keras.layers.Conv2D(6, 1, strides=2)(x)
        return keras.layers.DepthwiseConv2D(3, padding="valid")(x)

    return single_op_model(build, [(9, 7, 3)], seed=5)


@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_inplace_chain_is_bit_exact_with_tflm(chain_model, inplace_convs, kernels, tmp_path):
    graph = read_tflite(chain_model)
    assert [op.opcode for op in graph.operators] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D"]
    exp = generate(graph, tmp_path / "src", kernels=kernels)
    calls = _in_place_calls((tmp_path / "src" / "model.c").read_text())
    # The first conv widens 3 -> 8 channels and the last dw is VALID: no in-place form.
    assert [k for k, _, _, _ in calls] == ["ek_depthwise_conv2d_inplace_s8",
                                           "ek_depthwise_conv2d_inplace_s8",
                                           "ek_conv2d_1x1_inplace_s8"]
    for k, x, y, s in calls:
        assert x == y != s, k                          # output over the input
    # Scratch: 3 rows of 7 x 8 (pad 2), 3 rows (dilation 2: pad 2), one 6 B pixel;
    # rounded up to 16 B.
    # (CONV_2D ops 0 and 4 keep their own kernel's scratch: its im2col buffer.)
    inp = {op for op, low in enumerate(exp.lowered) if "inplace" in (low.kernel or "")}
    assert {op: low.scratch for op, low in enumerate(exp.lowered) if op in inp} == {
        1: 3 * 7 * 8, 2: 3 * 7 * 8, 3: 6}
    assert {op: b.size for op, b in exp.plan.scratch.items() if op in inp} == {
        1: 176, 2: 176, 3: 16}
    assert exp.plan.lower_bound_bytes < exp.plan.lower_bound_no_inplace_bytes
    x = np.random.default_rng(11).integers(-128, 128, (64, 1, 9, 7, 3), dtype=np.int8)
    ours = run_generated_host(chain_model, x.reshape(64, 9, 7, 3), kernels=kernels)
    ref = np.stack([run_tflm(chain_model, xi) for xi in x]).reshape(ours.shape)
    np.testing.assert_array_equal(ours, ref)


def _kws_in_place(mlperf_dir, tmp_path, kernels="optimized"):
    tflite = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    graph = read_tflite(tflite)
    exp = generate(graph, tmp_path / "src", kernels=kernels)
    return tflite, graph, exp


def test_kws_runs_its_dw_and_pw_convs_in_place(mlperf_dir, inplace_convs, tmp_path):
    from edgekit.emulator import build_host, run_host

    tflite, graph, exp = _kws_in_place(mlperf_dir, tmp_path)
    plan = exp.plan
    kinds = [low.kernel for low in exp.lowered]
    assert kinds.count("ek_depthwise_conv2d_inplace_s8") == 4
    assert kinds.count("ek_conv2d_1x1_inplace_s8") == 4
    for op, low in zip(graph.operators, exp.lowered):
        if "inplace" in (low.kernel or ""):
            assert plan.offsets[op.outputs[0]] == plan.offsets[op.inputs[0]]
    # By hand: conv1 holds the input (49 x 10 -> 496 B), its 25 x 5 x 64 output
    # (8,000 B) and its im2col scratch (six pixels of 40 int16: 480 B): 8,976 B; each DW holds one 8,000 B tensor and two rows of 5 x 64
    # (640 B): 8,640 B; each PW 8,000 + one pixel (64 B).  Without in-place every
    # DW/PW step holds two 8,000 B tensors.
    assert plan.lower_bound_bytes == plan.arena_bytes == 8976
    assert plan.lower_bound_no_inplace_bytes == 16000
    x = np.random.default_rng(7).integers(-128, 128, (100, 490), dtype=np.int8)
    ours = run_host(build_host(tmp_path / "src", tmp_path / "host"), x.view(np.uint8))
    np.testing.assert_array_equal(ours.view(np.int8), run_tflm(tflite, x).reshape(100, -1))


@pytest.mark.qemu
def test_kws_in_place_in_qemu_is_bit_exact(mlperf_dir, inplace_convs, tmp_path):
    from edgekit.emulator import build_firmware, run_qemu

    tflite, graph, exp = _kws_in_place(mlperf_dir, tmp_path)
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    x = np.random.default_rng(8).integers(-128, 128, (3, 490), dtype=np.int8)
    run = run_qemu(fw.elf, x.view(np.uint8), target="cortex-m4")
    assert np.array_equal(run.outputs.view(np.int8), run_tflm(tflite, x).reshape(3, -1))
    assert exp.plan.arena_bytes == 8976
