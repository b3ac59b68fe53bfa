"""Fixtures of the front-end tests: the TFLM golden model and the golden stream.

``tflm_preprocessor`` is ``shared/models/tflm/audio_preprocessor_int8.tflite``
(TFLM's micro_speech front end as a model of signal ops: 480 int16 samples
in, 40 int8 features out per call), found beside ``$EDGEKIT_DATA`` or in
``../shared``; missing, it skips the test, or fails it under ``$CI``.

``golden_stream`` is >= 2,000 frames (20 ms stride at 16 kHz) of FSDD
recordings resampled 8 -> 16 kHz and concatenated, followed by silence, DC,
full-scale clipping (square wave at +32767/-32768) and white noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.shared_data import shared_dir

TFLM_WINDOW, TFLM_STRIDE, TFLM_CHANNELS = 480, 320, 40


@pytest.fixture(scope="session")
def tflm_preprocessor() -> bytes:
    """Bytes of ``audio_preprocessor_int8.tflite``."""
    name = "audio_preprocessor_int8.tflite"
    return (shared_dir("models/tflm", [name]) / name).read_bytes()


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 (round, saturate)."""
    return np.clip(np.round(np.asarray(x, np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def synthetic_stretches(rate: int, seconds: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Silence, DC (+ and -), full-scale clipping and white noise, ``seconds`` each, int16."""
    n = int(rate * seconds)
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    square = np.where((t // max(1, rate // 200)) % 2 == 0, 32767, -32768).astype(np.int16)
    return {
        "silence": np.zeros(n, np.int16),
        "dc_pos": np.full(n, 12000, np.int16),
        "dc_neg": np.full(n, -32768, np.int16),
        "clipping": square,
        "noise": np.clip(np.round(rng.standard_normal(n) * 6000), -32768, 32767).astype(np.int16),
        "noise_full": np.clip(np.round(rng.standard_normal(n) * 40000), -32768,
                              32767).astype(np.int16),
    }


@pytest.fixture(scope="session")
def synthetic():
    """The :func:`synthetic_stretches` function."""
    return synthetic_stretches


@pytest.fixture(scope="session")
def golden_stream(fsdd_root) -> np.ndarray:
    """int16 stream at 16 kHz giving >= 2,000 frames of 480 / stride 320."""
    from edgekit.data.resample import resample
    from edgekit.data.wav import read_wav

    files = sorted(Path(fsdd_root).glob("*.wav"))[::37]
    parts, total = [], 0
    need = TFLM_WINDOW + TFLM_STRIDE * 2000 - 6 * 16000   # the stretches add 6 s
    for f in files:
        x, rate = read_wav(f)
        y = to_int16(resample(x, rate, 16000))
        parts.append(y)
        total += y.size
        if total >= need:
            break
    parts.extend(synthetic_stretches(16000).values())
    stream = np.concatenate(parts)
    assert (stream.size - TFLM_WINDOW) // TFLM_STRIDE + 1 >= 2000
    return stream


@pytest.fixture(scope="session")
def run_tflm_stream():
    """``f(tflite, stream) -> (frames, 40) int8``: TFLM fed window after window.

    One interpreter for the whole stream, never reset: its spectral
    subtraction keeps the noise estimate in a persistent buffer between
    ``invoke`` calls (PCAN reads it), as on a device.
    """
    from edgekit.reference import tflm_interpreter

    def run(tflite: bytes, stream: np.ndarray) -> np.ndarray:
        ip = tflm_interpreter(tflite)
        n = (stream.size - TFLM_WINDOW) // TFLM_STRIDE + 1
        out = np.empty((n, TFLM_CHANNELS), np.int8)
        for f in range(n):
            window = stream[f * TFLM_STRIDE: f * TFLM_STRIDE + TFLM_WINDOW]
            ip.set_input(window.reshape(1, TFLM_WINDOW), 0)
            ip.invoke()
            out[f] = np.asarray(ip.get_output(0)).reshape(-1)
        return out

    return run
