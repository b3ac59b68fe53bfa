"""Streaming (per-hop, explicit state) form of lmu / lmuformer / spiking_lmuformer."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.errors import ModelError  # noqa: E402
from edgekit.models import build_model  # noqa: E402
from edgekit.models.streaming import (  # noqa: E402
    StreamingRunner,
    build_streaming_model,
    quantize_streaming_int8,
    streaming_float,
)

from test_models_lmu import SUPPORTED_INT8  # noqa: E402

SMALL = {
    "lmu": dict(units=16, order=4, memory_d=4),
    "lmuformer": dict(dim=16, order=4, memory_d=4, patch_kernel=4, patch_stride=2),
    "spiking_lmuformer": dict(dim=16, order=4, memory_d=4, patch_kernel=6, patch_stride=2,
                              threshold=0.5),
}


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_float_streaming_equals_window(arch):
    model = build_model(arch, (32, 12), 5, seed=0, **SMALL[arch])
    x = np.random.default_rng(0).normal(size=(6, 32, 12)).astype(np.float32) * 2
    window = model.predict(x, verbose=0)
    stream = streaming_float(model, x)
    np.testing.assert_allclose(stream, window, atol=1e-5)
    smodel, spec = build_streaming_model(model)
    assert spec.steps * spec.hop == 32
    assert set(smodel.output) == {"scores"} | {f"state_{i}" for i in range(len(spec.state_shapes))}


def test_not_an_lmu_model():
    model = build_model("dscnn", (16, 8), 4, width=4, num_blocks=1, first_kernel=(4, 2))
    with pytest.raises(ModelError, match="no LMU layer"):
        build_streaming_model(model)


@pytest.fixture(scope="module")
def trained(fsdd_dataset):
    from edgekit.models.train import train

    ds = fsdd_dataset
    idx = np.sort(np.random.default_rng(0).permutation(len(ds.x_train))[:900])
    model = build_model("lmuformer", ds.input_shape, 10, seed=0, dim=24, order=6, memory_d=8)
    train(model, ds.x_train[idx], ds.y_train[idx], epochs=5, batch_size=32,
          learning_rate=1e-2, seed=0, progress=False)
    return model, ds, idx


def test_int8_streaming_signature_state_quantization_and_decisions(trained):
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.firmware_export import lower_graph
    from edgekit.firmware_export.tflite_reader import read_tflite
    from edgekit.models.streaming import _fix_state_quantization
    from edgekit.quantize import quantize_int8
    from edgekit.quantize.evaluate import op_list, tflite_predict

    model, ds, idx = trained
    sb, spec = quantize_streaming_int8(model, ds.x_train[idx])
    n = len(spec.state_shapes)
    assert spec.state_names == ["patch_history", "lmu_memory", "feature_sum"]
    sigs = Interpreter(model_content=sb).get_signature_list()
    names = [f"state_{i}" for i in range(n)]
    assert sorted(sigs["serving_default"]["inputs"]) == sorted(["frame", *names])
    assert sorted(sigs["serving_default"]["outputs"]) == sorted(["scores", *names])
    _, report = _fix_state_quantization(sb)
    assert all(r["in"] == r["out"] for r in report)  # state bytes are fed back unchanged
    assert set(op_list(sb)) <= SUPPORTED_INT8
    lower_graph(read_tflite(sb))
    # the int8 streaming model over every hop of each test clip vs the int8 window model
    wb = quantize_int8(model, ds.x_train[idx], num_samples=100)
    window = tflite_predict(wb, ds.x_test, runtime="tflm").astype(int)
    runner = StreamingRunner(sb, "tflm")
    final = np.stack([runner.run_clip(c, spec.hop) for c in ds.x_test]).astype(int)
    same = np.mean(final.argmax(1) == window.argmax(1))
    print(f"int8 streaming vs window: decisions equal {same:.4f}, "
          f"max |diff| {np.abs(final - window).max()} (of 255)")
    assert same >= 0.97
    assert np.mean(final.argmax(1) == ds.y_test) >= np.mean(window.argmax(1) == ds.y_test) - 0.03
