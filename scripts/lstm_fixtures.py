"""Regenerate tests/fixtures/keras_lstm*.tflite: Keras LSTMs converted by TF 2.21 to int8.

A ``tf_keras`` (Keras 2) ``LSTM`` converts to the fused
UNIDIRECTIONAL_SEQUENCE_LSTM (int8 input/output, int16 cell state, int8
weights per gate); Keras 3's ``LSTM`` traces to a WHILE loop instead, which
the int8 calibrator of TF 2.21 crashes on.  Run from the repository root:
``python scripts/lstm_fixtures.py`` (about a minute per model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def convert(hidden: int, return_sequences: bool, seed: int = 0) -> bytes:
    """Input (8, 4) -> LSTM(hidden) [-> Flatten] -> Dense(3), full-integer int8."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 4), batch_size=1)
    h = keras.layers.LSTM(hidden, return_sequences=return_sequences)(inp)
    if return_sequences:
        h = keras.layers.Flatten()(h)
    model = keras.Model(inp, keras.layers.Dense(3)(h))
    x = np.random.default_rng(seed).normal(size=(64, 8, 4)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return bytes(conv.convert())


if __name__ == "__main__":
    (OUT / "keras_lstm6_int8.tflite").write_bytes(convert(6, False))
    (OUT / "keras_lstm5_seq_int8.tflite").write_bytes(convert(5, True))
