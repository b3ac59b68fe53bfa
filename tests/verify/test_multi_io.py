"""Models with several data inputs and outputs, int8 and 16x8, through verify().

Tiny Keras models (two inputs: a features input and a side input; two
output heads; an ADD of two inputs) converted by the TFLite converter are
generated, built and compared with tflite_micro on the host and in QEMU.
The reference of each test is also computed here, input by input, from the
interpreter (not from edgekit's own splitting of the bytes).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.firmware_export import read_tflite  # noqa: E402
from edgekit.reference import tflm_interpreter  # noqa: E402
from edgekit.verify import check_host, check_inputs, verify  # noqa: E402
from edgekit.verify.io import real_case_count  # noqa: E402

NP = {"int8": np.int8, "int16": np.int16, "float32": np.float32}


def convert(build, shapes, seed: int, int16: bool = False, io: str = "") -> bytes:
    """A Keras model with named inputs ``in_k``, full-integer (int8 or 16x8) TFLite;
    ``io="float32"``: int8 inside, float32 inputs and outputs (QUANTIZE/DEQUANTIZE)."""
    import keras as K  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    K.utils.set_random_seed(seed)
    ins = [K.Input(batch_shape=(1, *s), name=f"in_{k}") for k, s in enumerate(shapes)]
    conv = tf.lite.TFLiteConverter.from_keras_model(K.Model(ins, build(K, ins)))
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(16):
            yield {f"in_{k}": rng.uniform(-1, 1, (1, *s)).astype(np.float32)
                   for k, s in enumerate(shapes)}

    ops = tf.lite.OpsSet
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [
        ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 if int16
        else ops.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = (
        tf.float32 if io == "float32" else tf.int16 if int16 else tf.int8)
    return bytes(conv.convert())


def features_and_side_two_heads(K, ins):
    a, b = ins
    h = K.layers.Dense(8, activation="relu")(a)
    y = K.layers.Add()([h, K.layers.Dense(8)(b)])
    return [K.layers.Dense(3)(y), K.layers.Dense(2)(h)]


def add_of_two_inputs_two_heads(K, ins):
    a, b = ins
    return [K.layers.Add()([a, b]), K.layers.Dense(4)(a)]


@pytest.fixture(scope="module")
def models():
    return {"int8": convert(features_and_side_two_heads, [(16,), (4,)], 1),
            "float32": convert(features_and_side_two_heads, [(16,), (4,)], 3, io="float32"),
            "int16": convert(add_of_two_inputs_two_heads, [(8,), (8,)], 2, int16=True)}


def tflm_by_hand(tflite: bytes, graph, x: np.ndarray) -> np.ndarray:
    """tflite_micro's outputs, each input set from its slice of the case bytes."""
    ip = tflm_interpreter(tflite)
    rows = []
    for case in x:
        at = 0
        for k, t in enumerate(graph.inputs):
            ten = graph.tensors[t]
            part = case[at:at + ten.nbytes].copy().view(NP[ten.dtype]).reshape(ten.shape)
            ip.set_input(part, k)
            at += ten.nbytes
        ip.invoke()
        rows.append(np.concatenate([np.array(ip.get_output(k)).reshape(-1).view(np.uint8)
                                    for k in range(len(graph.outputs))]))
    return np.stack(rows)


@pytest.mark.parametrize("kind", ["int8", "int16", "float32"])
def test_two_inputs_two_outputs_bit_exact_on_host_and_qemu(models, kind, tmp_path):
    tflite = models[kind]
    graph = read_tflite(tflite)
    assert len(graph.inputs) == 2 and len(graph.outputs) == 2
    assert {graph.tensors[t].dtype for t in graph.inputs + graph.outputs} == {kind}
    assert "ADD" in graph.op_counts()
    x = check_inputs(graph, None, 6, seed=4)
    in_bytes = [graph.tensors[t].nbytes for t in graph.inputs]
    out_bytes = [graph.tensors[t].nbytes for t in graph.outputs]
    assert x.dtype == np.uint8 and x.shape == (6, sum(in_bytes))
    # Real inputs of one tensor do not fit a two-input model: not used, none counted.
    real = np.zeros((10, sum(in_bytes)), np.uint8)
    np.testing.assert_array_equal(check_inputs(graph, real, 6, seed=4), x)
    assert real_case_count(graph, real, 6) == 0
    v = verify(tflite, tmp_path, "cortex-m4", x)
    ref = tflm_by_hand(tflite, graph, x)
    np.testing.assert_array_equal(v.reference, ref)
    assert v.host.bit_exact and v.qemu.bit_exact and v.bit_exact
    np.testing.assert_array_equal(v.qemu.run.outputs, ref)
    assert v.qemu.run.input_sizes == in_bytes and v.qemu.run.output_sizes == out_bytes
    if kind == "float32":       # float outputs are compared bit for bit, not in LSB
        assert v.host.max_diff_litert is None
        assert {"QUANTIZE", "DEQUANTIZE"} <= set(graph.op_counts())
    else:
        assert v.host.max_diff_litert is not None and v.host.max_diff_litert <= 1
    h = (tmp_path / "src" / "model.h").read_text()
    assert "#define EDGEKIT_NUM_INPUTS    2" in h and "#define EDGEKIT_NUM_OUTPUTS   2" in h
    # A wrong byte in the second output of one case is caught.
    bad = ref.copy()
    bad[3, out_bytes[0]] ^= 1
    chk = check_host(None, tmp_path / "src", tmp_path / "host2", x, reference=bad, litert=False)
    assert chk.bit_exact is False and chk.mismatched_cases == 1


IO_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "model.h"
/* Every case through edgekit_invoke_io (one buffer per tensor) and
 * edgekit_invoke (concatenated): prints 1 if all outputs agree. */
int main(void) {
    static uint8_t in[EDGEKIT_INPUT_BYTES], cat[EDGEKIT_OUTPUT_BYTES], each[EDGEKIT_OUTPUT_BYTES];
    const void *ins[EDGEKIT_NUM_INPUTS] = {in + EDGEKIT_INPUT0_OFFSET, in + EDGEKIT_INPUT1_OFFSET};
    void *outs[EDGEKIT_NUM_OUTPUTS] = {each + EDGEKIT_OUTPUT0_OFFSET, each + EDGEKIT_OUTPUT1_OFFSET};
    int same = 1;
    for (int c = 0; c < 20; ++c) {
        for (int i = 0; i < EDGEKIT_INPUT_BYTES; ++i) in[i] = (uint8_t)(i * 37 + c * 101);
        edgekit_invoke(in, cat);
        edgekit_invoke_io(ins, outs);
        same &= memcmp(cat, each, EDGEKIT_OUTPUT_BYTES) == 0;
    }
    printf("%d %d %d\n", same, edgekit_input_sizes[1], edgekit_output_sizes[1]);
    return 0;
}
"""


def test_invoke_io_takes_one_buffer_per_tensor(models, tmp_path):
    import subprocess  # noqa: PLC0415

    from edgekit.firmware_export import generate  # noqa: PLC0415

    graph = read_tflite(models["int8"])
    generate(graph, tmp_path)
    (tmp_path / "io_main.c").write_text(IO_MAIN)
    exe = tmp_path / "io"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-I", str(tmp_path), "-o", str(exe),
                    *map(str, sorted(tmp_path.glob("*.c"))), "-lm"], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", str(graph.tensors[graph.inputs[1]].nbytes),
                   str(graph.tensors[graph.outputs[1]].nbytes)]


def test_edgekit_build_takes_a_16x8_model_with_two_inputs_and_outputs(models, tmp_path):
    import json  # noqa: PLC0415

    from click.testing import CliRunner  # noqa: PLC0415

    from edgekit.cli import main  # noqa: PLC0415

    path, out = tmp_path / "m16.tflite", tmp_path / "out"
    path.write_bytes(models["int16"])
    r = CliRunner().invoke(main, ["build", "--model", str(path), "--out", str(out),
                                  "--cases", "5"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    emu = json.loads((out / "report.json").read_text())["emulator"]
    assert emu["bit_exact"] and emu["cases"] == 5 and emu["qemu_cases"] == 5
    meta = json.loads((out / "metadata.json").read_text())
    assert [t["dtype"] for t in meta["inputs"] + meta["outputs"]] == ["int16"] * 4
    assert [t["bytes"] for t in meta["inputs"]] == [16, 16]
