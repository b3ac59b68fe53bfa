"""Hostile but parsable .tflite files (issue 16, points 4 and 7).

Each model is a real converted file edited with the official flatbuffer
schema (tests/hostile.py): it parses, but its numbers are wrong.  edgekit
refuses it at generation time with an EdgekitError naming the problem,
never turning it into C that reads or writes outside its buffers.  And
what TFLM runs, edgekit runs (the 1-D bias with quantized_dimension 3).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ModelError, TFLiteFormatError, UnsupportedOpError
from edgekit.firmware_export import generate, read_tflite
from edgekit.reference import litert_interpreter, run_tflm
from tests.hostile import edit, find_op
from tests.kernel_harness import run_generated_host

AD = "ad01_int8.tflite"      # ten FULLY_CONNECTED ops: small and quick to read
KWS = "kws_ref_model.tflite"  # DS-CNN: CONV_2D, DEPTHWISE_CONV_2D, pooling, SOFTMAX


def _set_shape(i, shape):
    def fn(m, sg):
        sg.tensors[i].shape = list(shape)
    return fn


def _set_scale(i, s):
    def fn(m, sg):
        sg.tensors[i].quantization.scale = [s]
    return fn


def _op_inputs(op_index, inputs):
    def fn(m, sg):
        sg.operators[op_index].inputs = list(inputs)
    return fn


def _op_outputs(op_index, outputs):
    def fn(m, sg):
        sg.operators[op_index].outputs = list(outputs)
    return fn


def _opcode_index(op_index, value):
    def fn(m, sg):
        sg.operators[op_index].opcodeIndex = value
    return fn


def _buffer(i, value):
    def fn(m, sg):
        sg.tensors[i].buffer = value
    return fn


def _tensor_type(i, code):
    def fn(m, sg):
        sg.tensors[i].type = code
    return fn


def _zero_point(i, zp):
    def fn(m, sg):
        sg.tensors[i].quantization.zeroPoint = [zp]
    return fn


def _conv_option(name, value):
    def fn(m, sg):
        op, _ = find_op(m, "CONV_2D")
        setattr(op.builtinOptions, name, value)
    return fn


def _pool_option(name, value):
    def fn(m, sg):
        op, _ = find_op(m, "AVERAGE_POOL_2D")
        setattr(op.builtinOptions, name, value)
    return fn


def _softmax_beta(value):
    def fn(m, sg):
        op, _ = find_op(m, "SOFTMAX")
        op.builtinOptions.beta = value
    return fn


def _no_conv_options(m, sg):
    op, _ = find_op(m, "CONV_2D")
    op.builtinOptions, op.builtinOptionsType = None, 0


def _huge_activations(m, sg):
    for i in range(21, 30):           # nine activations of 2^28 bytes: over 2 GiB in all
        sg.tensors[i].shape = [1, 1 << 28]


# (seed model, edit, error class, words the message must hold)
CASES = {
    "buffer_size_vs_shape": (AD, _set_shape(11, [128, 641]), TFLiteFormatError,
                             r"buffer 12 holds 81920 bytes, but shape \[128, 641\]"),
    "tensor_index_out_of_range": (AD, _op_inputs(3, [23, 14, 4000]), TFLiteFormatError,
                                  r"refers to tensor 4000, but there are 31 tensors"),
    "negative_tensor_index": (AD, _op_inputs(3, [23, -7, 4]), TFLiteFormatError,
                              r"refers to tensor -7"),
    "buffer_index_out_of_range": (AD, _buffer(12, 500), TFLiteFormatError,
                                  r"uses buffer 500, but there are 33 buffers"),
    "opcode_index_out_of_range": (AD, _opcode_index(2, 7), TFLiteFormatError,
                                  r"operator 2 uses opcode index 7, but there are 1 opcodes"),
    "required_input_absent": (AD, _op_inputs(3, [23, -1, 4]), TFLiteFormatError,
                              r"op 3 \(FULLY_CONNECTED\): input 1 is absent \(-1\) but required"),
    "too_few_inputs": (AD, _op_inputs(3, [23]), TFLiteFormatError,
                       r"op 3 \(FULLY_CONNECTED\) has 1 inputs \(expected 2 to 3\)"),
    "two_outputs": (AD, _op_outputs(3, [24, 25]), TFLiteFormatError,
                    r"op 3 \(FULLY_CONNECTED\) has 2 outputs \(expected 1\)"),
    "input_is_a_constant": (AD, lambda m, sg: setattr(sg, "inputs", [11]), TFLiteFormatError,
                            r"model input tensor 11 is a constant"),
    "input_not_read": (AD, lambda m, sg: setattr(sg, "inputs", [30]), TFLiteFormatError,
                       r"model input tensor 30 is not read by any op"),
    "output_not_written": (AD, lambda m, sg: setattr(sg, "outputs", [0]), TFLiteFormatError,
                           r"model output tensor 0 is not written by any op"),
    "zero_scale": (AD, _set_scale(22, 0.0), TFLiteFormatError,
                   r"tensor 22 .*op 1 \(FULLY_CONNECTED\).* scale 0.0: .*positive and finite"),
    "negative_scale": (AD, _set_scale(12, -0.5), TFLiteFormatError, r"scale -0.5"),
    "nan_scale": (AD, _set_scale(0, float("nan")), TFLiteFormatError, r"scale nan"),
    "inf_scale": (AD, _set_scale(0, float("inf")), TFLiteFormatError, r"scale inf"),
    "zero_point_out_of_int8": (AD, _zero_point(21, 300), TFLiteFormatError,
                               r"zero point 300, outside the range of int8 \[-128, 127\]"),
    "negative_dimension": (AD, _set_shape(22, [1, -128]), TFLiteFormatError,
                           r"negative shape \[1, -128\]"),
    "dimensions_overflow_32_bits": (AD, _set_shape(22, [65536, 65536]), TFLiteFormatError,
                                    r"shape \[65536, 65536\]: more than 268435456 elements"),
    "huge_dimension_times_zero": (AD, _set_shape(22, [0, 1 << 30]), TFLiteFormatError,
                                  r"dimension 1073741824"),
    "bytes_overflow": (AD, _set_shape(1, [1 << 27]), TFLiteFormatError,
                       r"536870912 bytes"),
    "total_bytes_overflow_32_bits": (AD, _huge_activations, TFLiteFormatError,
                                     r"more than 32-bit offsets address"),
    "zero_size_activation": (AD, _set_shape(22, [1, 0]), TFLiteFormatError, r"no elements"),
    "uint64_named_with_its_op": (AD, _tensor_type(22, 12), TFLiteFormatError,
                                 r"tensor 22 .*used by op 1 \(FULLY_CONNECTED\)\) is UINT64"),
    "complex_named": (AD, _tensor_type(0, 8), TFLiteFormatError, r"is COMPLEX64"),
    "zero_stride": (KWS, _conv_option("strideH", 0), TFLiteFormatError,
                    r"op 0 \(CONV_2D\) has stride_h 0"),
    "missing_conv_options": (KWS, _no_conv_options, TFLiteFormatError,
                             r"op 0 \(CONV_2D\) has no options table, so its stride_h would be 0"),
    "huge_dilation": (KWS, _conv_option("dilationWFactor", 1 << 30), TFLiteFormatError,
                      r"dilation_w 1073741824"),
    "zero_pool_window": (KWS, _pool_option("filterHeight", 0), TFLiteFormatError,
                         r"AVERAGE_POOL_2D\) has filter_h 0"),
    "nan_softmax_beta": (KWS, _softmax_beta(float("nan")), TFLiteFormatError, r"beta nan"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_model_is_refused_naming_the_problem(mlperf_dir, case, tmp_path):
    seed, fn, error, words = CASES[case]
    data = edit(mlperf_dir / seed, fn)
    with pytest.raises(error, match=words):
        generate(read_tflite(data), tmp_path)


def test_shift_beyond_31_is_refused_at_generation(mlperf_dir, tmp_path):
    """An output scale 2^-60 times the input's: the requantization multiplier
    of op 1 would need a left shift of about 50 bits (``x << 50`` is undefined
    behaviour in C)."""
    data = edit(mlperf_dir / AD, _set_scale(22, 1e-18))
    graph = read_tflite(data)                    # parses: every scale is positive
    with pytest.raises(UnsupportedOpError, match=r"left shift of \d+ bits \(at most 31\)"):
        generate(graph, tmp_path)


def _bias_dimension_3(m, sg):
    """Every depthwise bias says quantized_dimension 3 (the filter's), as older
    converters wrote it."""
    for k in range(4):
        op, _ = find_op(m, "DEPTHWISE_CONV_2D", k)
        sg.tensors[op.inputs[2]].quantization.quantizedDimension = 3


def _tflm_leniencies(m, sg):
    """What TFLM runs that a converter does not write: a CONV_2D whose optional
    bias is absent (-1), a FULLY_CONNECTED without its options table (the
    schema's defaults: no activation)."""
    op, _ = find_op(m, "CONV_2D")
    op.inputs = [int(op.inputs[0]), int(op.inputs[1]), -1]
    op, _ = find_op(m, "FULLY_CONNECTED")
    assert op.builtinOptions.fusedActivationFunction == 0
    op.builtinOptions, op.builtinOptionsType = None, 0


def test_absent_bias_and_absent_options_run_bit_exact_like_tflm(mlperf_dir):
    data = edit(mlperf_dir / KWS, _tflm_leniencies)
    graph = read_tflite(data)
    assert graph.operators[0].inputs[2] == -1
    x = np.random.default_rng(4).integers(-128, 128, (3, 1, 49, 10, 1)).astype(np.int8)
    ref = run_tflm(data, x)
    got = run_generated_host(data, x)
    np.testing.assert_array_equal(got, ref.reshape(got.shape))
    assert not np.array_equal(ref, run_tflm((mlperf_dir / KWS).read_bytes(), x))  # it changed


def _one_zero_point(m, sg):
    """Every per-channel tensor (the weights and biases of the 9 convolutions) keeps its scales
    but stores a single zero point, the space saving TFLM's allocator accepts."""
    for t in sg.tensors:
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) > 1:
            q.zeroPoint = [int(q.zeroPoint[0])]


def _weights_format(value, nth=0):
    """The nth FULLY_CONNECTED says its weights are in format ``value``."""
    def fn(m, sg):
        op, _ = find_op(m, "FULLY_CONNECTED", nth)
        op.builtinOptions.weightsFormat = value
    return fn


def _filter_zero_points(m, sg):
    """The CONV_2D filter stores the single zero point 5, the second depthwise
    filter -3 for every channel (TFLM's kernels take both as symmetric)."""
    op, _ = find_op(m, "CONV_2D")
    sg.tensors[op.inputs[1]].quantization.zeroPoint = [5]
    op, _ = find_op(m, "DEPTHWISE_CONV_2D", 1)
    q = sg.tensors[op.inputs[1]].quantization
    q.zeroPoint = [-3] * len(q.scale)


def test_tflm_leniencies_run_bit_exact_like_tflm(mlperf_dir, tmp_path):
    """Four leniencies of TFLM in one model (one host build, through the build's own
    export and host check): the depthwise biases' quantized_dimension 3, per-channel
    scales with a single zero point, non-zero filter zero points of convolutions, and
    a FULLY_CONNECTED whose weights_format says SHUFFLED4x16INT8 (TFLM's kernels
    ignore the last two).  LiteRT refuses the file: its comparison is skipped."""
    from edgekit.verify import check_host, export_c  # noqa: PLC0415

    shuffled = _weights_format(1)
    for fn, words in ((_bias_dimension_3, "quantized_dimension"), (_one_zero_point, "zero_point"),
                      (shuffled, "FULLY_CONNECTED"), (_filter_zero_points, "zero_point")):
        with pytest.raises(ModelError, match=words):
            litert_interpreter(edit(mlperf_dir / KWS, fn)).allocate_tensors()  # LiteRT refuses

    def four(m, sg):
        _bias_dimension_3(m, sg)
        _one_zero_point(m, sg)
        shuffled(m, sg)
        _filter_zero_points(m, sg)

    data = edit(mlperf_dir / KWS, four)
    exp = export_c(data, tmp_path / "src")
    notes = exp.graph.normalizations                     # edgekit reads it, and says so
    dims = [n for n in notes if "quantized_dimension 3 read with dimension 0" in n]
    zps = [n for n in notes if "per-channel scales with one zero point" in n
           and "read with that zero point for every channel (as TFLM does)" in n]
    fmt = [n for n in notes if "weights_format SHUFFLED4x16INT8 ignored, the weights read in "
                               "the DEFAULT layout (as TFLM does" in n]
    sym = [n for n in notes if "read as 0 (TFLM's kernels take the filter as symmetric)" in n]
    assert len(dims) == 4 and all("DEPTHWISE_CONV_2D" in n for n in dims)
    assert len(zps) == 17 and sum("one zero point (5)" in n for n in zps) == 1  # dw 2: -3 x 64
    assert len(fmt) == 1 and fmt[0].startswith("op 11 (FULLY_CONNECTED)")
    assert len(sym) == 2 and "point(s) [5]" in sym[0] and "point(s) [-3]" in sym[1]
    assert len(notes) == 24
    assert {n.split("used by ")[1].split(")")[0].split(" (")[1] for n in zps} == {
        "CONV_2D", "DEPTHWISE_CONV_2D"}
    assert read_tflite(mlperf_dir / KWS).normalizations == []
    x = np.random.default_rng(16).integers(-128, 128, (3, 49 * 10)).astype(np.int8)
    ref = run_tflm(data, x.reshape(3, 1, 49, 10, 1))    # TFLM runs it
    chk = check_host(data, tmp_path / "src", tmp_path / "host", x)
    assert chk.bit_exact and chk.max_diff_litert is None
    np.testing.assert_array_equal(chk.outputs.view(np.int8).reshape(ref.shape), ref)


def test_other_zero_point_counts_are_refused(mlperf_dir, tmp_path):
    """Two zero points for 64 scales: TFLM would silently use the first; refused."""
    def two(m, sg):
        op, _ = find_op(m, "CONV_2D")
        q = sg.tensors[op.inputs[1]].quantization
        q.zeroPoint = [0, 0]

    with pytest.raises(TFLiteFormatError, match=r"has 64 scales but 2 zero points"):
        read_tflite(edit(mlperf_dir / KWS, two))


@pytest.mark.parametrize("value", [2, -1])
def test_unknown_fc_weights_format_is_refused_like_tflm(mlperf_dir, value):
    data = edit(mlperf_dir / AD, _weights_format(value, 3))
    with pytest.raises(ModelError):
        run_tflm(data, np.zeros((1, 640), np.int8))      # TFLM refuses it ...
    with pytest.raises(TFLiteFormatError,                # ... and so does edgekit, by name
                       match=rf"op 3 \(FULLY_CONNECTED\) has weights_format {value}: not a "
                             r"TFLite weights format \(DEFAULT = 0, SHUFFLED4x16INT8 = 1\)"):
        read_tflite(data)


def test_scales_without_zero_points_are_not_quantized_like_tflm(mlperf_dir, tmp_path):
    """TFLM reads a tensor with scales but no zero point as not quantized (its int8
    CONV_2D then refuses it); edgekit reads it the same way, says so, and refuses too."""
    def no_zp(m, sg):
        op, _ = find_op(m, "CONV_2D")
        sg.tensors[op.inputs[1]].quantization.zeroPoint = None

    data = edit(mlperf_dir / KWS, no_zp)
    with pytest.raises(ModelError):
        run_tflm(data, np.zeros((1, 1, 49, 10, 1), np.int8))
    graph = read_tflite(data)
    assert graph.normalizations == [
        "tensor 17 ('functional_1/conv2d/Conv2D', used by op 0 (CONV_2D)): 64 scale(s) but no "
        "zero point, read as not quantized (as TFLM does)"]
    with pytest.raises(UnsupportedOpError, match=r"op 0 \(CONV_2D\).*tensor 17 .* has no "
                                                 r"quantization parameters"):
        generate(graph, tmp_path)
