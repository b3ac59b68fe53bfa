"""Int8 post-training quantisation, op inventory and LiteRT/TFLM agreement.

Uses a small DS-CNN trained for a few seconds on synthetic, clearly
separable "spectrograms" (see :func:`synthetic`), so these
tests need no dataset and the quantised model has confident outputs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from edgekit.errors import DataError, EdgekitError, ModelError, TFLiteFormatError
from edgekit.quantize import (
    input_quantization,
    op_list,
    output_quantization,
    quantize_input,
    quantize_int8,
    representative_subset,
    tflite_accuracy,
    tflite_predict,
)

ALLOWED_OPS = {
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "AVERAGE_POOL_2D",
    "MEAN",
    "RESHAPE",
    "FULLY_CONNECTED",
    "SOFTMAX",
}
SHAPE = (24, 20)
NUM_CLASSES = 4


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel-like noise around -10 with one bright stroke whose direction is the class.

    Class 0: horizontal (one mel bin over 10 frames), 1: vertical (one frame
    over 10 bins), 2: rising diagonal, 3: falling diagonal; random position.
    Local patterns suit a network that ends in global average pooling.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_CLASSES, size=n)
    x = rng.normal(-10.0, 1.0, size=(n, *SHAPE)).astype(np.float32)
    steps = np.arange(10)
    for i in range(n):
        t0, f0 = rng.integers(0, SHAPE[0] - 10), rng.integers(0, SHAPE[1] - 10)
        t, f = {
            0: (t0 + steps, f0 + 5 + 0 * steps),
            1: (t0 + 5 + 0 * steps, f0 + steps),
            2: (t0 + steps, f0 + steps),
            3: (t0 + steps, f0 + 9 - steps),
        }[int(y[i])]
        x[i, t, f] += 8.0
    return x, y


@pytest.fixture(scope="module")
def trained():
    from edgekit.models import build_model, evaluate_float, train

    x, y = synthetic(400, seed=1)
    xt, yt = synthetic(100, seed=2)
    model = build_model(
        "dscnn", SHAPE, NUM_CLASSES, seed=0, width=12, num_blocks=2, first_kernel=(6, 3), dropout=0.0
    )
    train(model, x, y, epochs=6, batch_size=32, learning_rate=1e-2, seed=0, progress=False)
    assert evaluate_float(model, xt, yt) > 0.9
    tfl = quantize_int8(model, x, num_samples=100, seed=0)
    return model, tfl, x, xt, yt


def test_op_list_is_subset_of_supported_int8_kernels(trained):
    _, tfl, *_ = trained
    ops = op_list(tfl)
    assert set(ops) <= ALLOWED_OPS, ops
    assert ops.count("DEPTHWISE_CONV_2D") == 2
    assert ops.count("CONV_2D") == 3
    assert ops[-1] == "SOFTMAX"
    assert "BATCH_NORMALIZATION" not in ops and "MUL" not in ops and "ADD" not in ops


def test_io_is_int8_with_batch_one_and_static_shapes(trained):
    from ai_edge_litert.interpreter import Interpreter

    _, tfl, *_ = trained
    interp = Interpreter(model_content=tfl)
    inp = interp.get_input_details()
    out = interp.get_output_details()
    assert len(inp) == 1 and len(out) == 1
    assert inp[0]["dtype"] == np.int8 and out[0]["dtype"] == np.int8
    assert tuple(inp[0]["shape"]) == (1, *SHAPE)
    assert tuple(out[0]["shape"]) == (1, NUM_CLASSES)
    assert list(inp[0]["shape_signature"]) == [1, *SHAPE]  # no dynamic (-1) dims
    for t in interp.get_tensor_details():
        assert -1 not in list(t["shape_signature"]), t["name"]
    assert input_quantization(tfl) == (
        pytest.approx(inp[0]["quantization"][0]),
        inp[0]["quantization"][1],
    )
    scale, zp = output_quantization(tfl)
    assert scale == pytest.approx(1 / 256) and zp == -128  # TFLite's int8 softmax output


def test_weights_are_per_channel(trained):
    from ai_edge_litert.interpreter import Interpreter

    _, tfl, *_ = trained
    interp = Interpreter(model_content=tfl)
    per_channel = [
        t
        for t in interp.get_tensor_details()
        if t["dtype"] == np.int8 and len(t["quantization_parameters"]["scales"]) > 1
    ]
    assert len(per_channel) >= 5  # the 5 convolution kernels


def test_input_quantization_covers_representative_range(trained):
    _, tfl, x, *_ = trained
    calib = representative_subset(x, 100, seed=0)  # what quantize_int8 drew
    scale, zp = input_quantization(tfl)
    lo, hi = scale * (-128 - zp), scale * (127 - zp)
    assert lo <= calib.min() + scale and hi >= calib.max() - scale
    assert (hi - lo) <= 1.2 * (calib.max() - min(calib.min(), 0.0))


def test_int8_accuracy_close_to_float(trained):
    from edgekit.models import evaluate_float

    model, tfl, _, xt, yt = trained
    acc_float = evaluate_float(model, xt, yt)
    acc_int8 = tflite_accuracy(tfl, xt, yt, runtime="litert")
    assert acc_int8 >= acc_float - 0.03


def test_litert_and_tflm_agree(trained):
    _, tfl, _, xt, yt = trained
    a = tflite_predict(tfl, xt[:60], runtime="litert")
    b = tflite_predict(tfl, xt[:60], runtime="tflm")
    assert a.dtype == np.int8 and b.dtype == np.int8 and a.shape == b.shape == (60, NUM_CLASSES)
    assert np.mean(np.argmax(a, 1) == np.argmax(b, 1)) >= 0.95
    # LiteRT (optimised kernels) and TFLM (reference kernels) may round
    # differently in a few places; outputs stay within a few LSB.
    assert np.max(np.abs(a.astype(int) - b.astype(int))) <= 4
    assert tflite_accuracy(tfl, xt[:60], yt[:60], runtime="tflm") == pytest.approx(
        np.mean(np.argmax(b, 1) == yt[:60])
    )


def test_quantize_input_rounds_and_saturates():
    q = quantize_input(np.array([-100.0, -1.0, 0.0, 0.26, 1.0, 100.0]), 0.5, 3)
    assert q.dtype == np.int8
    assert q.tolist() == [-128, 1, 3, 4, 5, 127]


def test_representative_subset_is_seeded_and_bounded():
    x = np.arange(50, dtype=np.float32).reshape(10, 5)
    a = representative_subset(x, 4, seed=1)
    assert a.shape == (4, 5)
    assert np.array_equal(a, representative_subset(x, 4, seed=1))
    assert representative_subset(x, 100).shape == (10, 5)


def test_wrong_representative_shape_is_clear_data_error(trained):
    model, *_ = trained
    with pytest.raises(DataError, match=r"representative data must have shape \(N, 24, 20\)"):
        quantize_int8(model, np.zeros((10, 20, 24), np.float32))
    with pytest.raises(DataError, match="shape"):
        quantize_int8(model, np.zeros((24, 20), np.float32))
    with pytest.raises(DataError, match="empty"):
        quantize_int8(model, np.zeros((0, *SHAPE), np.float32))
    with pytest.raises(DataError, match="NaN"):
        quantize_int8(model, np.full((3, *SHAPE), np.nan, np.float32))
    with pytest.raises(EdgekitError):
        quantize_int8(model, np.zeros((3, *SHAPE)), num_samples=0)


def test_non_model_is_model_error():
    with pytest.raises(ModelError):
        quantize_int8(object(), np.zeros((3, *SHAPE), np.float32))


def test_evaluation_rejects_bad_inputs(trained):
    _, tfl, *_ = trained
    with pytest.raises(DataError, match="shape"):
        tflite_predict(tfl, np.zeros((2, 20, 24), np.float32))
    with pytest.raises(EdgekitError, match="unknown runtime"):
        tflite_predict(tfl, np.zeros((2, *SHAPE), np.float32), runtime="onnx")
    with pytest.raises(TFLiteFormatError):
        op_list(b"not a flatbuffer at all")
    with pytest.raises(TFLiteFormatError):
        op_list(tfl[:64])
