"""Front-end features as model input: clip framing, int8 <-> float, features.json, recipes.

Golden values are hand computations (PCM scaling, clip length, the int8
mapping's step) and the converter's own output for the input range.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import ConfigError, DataError
from edgekit.frontend import FrontendConfig, HostFrontend
from edgekit.data.wav import to_pcm
from edgekit.frontend.features import FrontendFeatures, load_features, make_features


def test_to_pcm_scales_rounds_and_clips():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 3 / 32768, -1.5], dtype=np.float32)
    assert to_pcm(x).tolist() == [0, 16384, -16384, 32767, -32768, 3, -32768]
    i = np.array([1, -2], dtype=np.int16)
    assert to_pcm(i) is i
    with pytest.raises(DataError, match="1-D"):
        to_pcm(np.zeros((2, 2)))
    with pytest.raises(DataError, match="int16 or float"):
        to_pcm(np.zeros(3, dtype=np.int32))


def test_clip_length_and_frames():
    f = FrontendFeatures(FrontendConfig.fsdd(), 49)
    assert f.clip_samples == 240 + 48 * 160 == 7920          # 0.99 s at 8 kHz
    assert f.shape == (49, 40)
    short = f.clip_pcm(np.full(100, 0.25, dtype=np.float32))
    assert short.size == 7920 and short[:100].tolist() == [8192] * 100 and not short[100:].any()
    long = f.clip_pcm(np.arange(9000, dtype=np.int16))
    assert long.tolist() == list(range(7920))                  # cut at the end
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal(6000) * 3000).astype(np.int16)
    q = f.compute_int8(clip)
    assert q.dtype == np.int8 and q.shape == (49, 40)
    padded = np.concatenate([clip, np.zeros(1920, np.int16)])
    np.testing.assert_array_equal(q, HostFrontend(f.frontend).features(padded))


def test_centre_align_pads_both_ends():
    f = FrontendFeatures(FrontendConfig.fsdd(), 49, "centre")           # 7920 samples
    short = f.clip_pcm(np.full(101, 0.25, dtype=np.float32))
    # (7920 - 101) // 2 = 3909 zeros, the clip, 7920 - 3909 - 101 = 3910 zeros
    assert short.size == 7920 and not short[:3909].any() and not short[4010:].any()
    assert short[3909:4010].tolist() == [8192] * 101
    long = f.clip_pcm(np.arange(9000, dtype=np.int16))
    assert long.tolist() == list(range(7920))                  # a longer clip: cut at the end
    assert f.place(np.ones(7920, np.float32)).tolist() == [1.0] * 7920
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal(6000) * 3000).astype(np.int16)
    padded = np.concatenate([np.zeros(960, np.int16), clip, np.zeros(960, np.int16)])
    np.testing.assert_array_equal(f.compute_int8(clip), HostFrontend(f.frontend).features(padded))
    assert FrontendFeatures(FrontendConfig.fsdd(), 49).lead(6000) == 0
    with pytest.raises(ConfigError, match="align must be one of start, centre \\(got 'middle'\\)"):
        FrontendFeatures(FrontendConfig.fsdd(), 49, "middle")


def test_int8_mapping_step_and_range():
    f = FrontendFeatures(FrontendConfig.tflm_micro(), 49)
    # int8 = (log * 256 + 333) // 666 - 128 with log in Q6: one int8 step is 666 / (256 * 64)
    assert f.input_scale == pytest.approx(666 / 16384, rel=1e-7)
    assert f.input_zero_point == -128
    lo, hi = f.input_range
    assert lo == 0.0 and hi == pytest.approx(255 * 666 / 16384, rel=1e-6)
    q = np.arange(-128, 128, dtype=np.int8)
    x = f.dequantize(q)
    back = np.rint(x / f.input_scale) + f.input_zero_point
    assert back.astype(int).tolist() == q.astype(int).tolist()


def test_features_json_round_trip_and_errors(tmp_path):
    f = FrontendFeatures(FrontendConfig.fsdd(), 32)
    p = f.save(tmp_path / "features.json")
    assert load_features(p) == f
    d = json.loads(p.read_text())
    assert d["kind"] == "frontend" and d["format"] == "edgekit.features/2"
    d["input_scale"] = 0.5
    p.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="input_scale 0.5 does not match"):
        load_features(p)
    with pytest.raises(ConfigError, match="num_frames must be > 0 \\(got 0\\)"):
        FrontendFeatures(FrontendConfig.fsdd(), 0)
    with pytest.raises(ConfigError, match="not found"):
        load_features(tmp_path / "missing.json")
    assert "align" not in json.loads(f.save(tmp_path / "start.json").read_text())
    c = FrontendFeatures(FrontendConfig.fsdd(), 32, "centre")
    p = c.save(tmp_path / "centre.json")
    assert json.loads(p.read_text())["align"] == "centre" and load_features(p) == c


def test_recipe_features_kinds():
    assert make_features("fsdd") == FrontendFeatures(FrontendConfig.fsdd(), 48)
    f = make_features("fsdd", {"num_frames": 30, "num_channels": 32})
    assert f.shape == (30, 32) and f.frontend.sample_rate == 8000 and f.align == "start"
    assert make_features("fsdd", {"align": "centre"}).align == "centre"
    logmel = make_features("fsdd", {"kind": "logmel-float", "n_mels": 20})
    assert logmel.kind == "logmel-float" and logmel.shape == (64, 20) and logmel.input_range is None
    assert make_features("speech_commands").frontend == FrontendConfig.tflm_micro()
    with pytest.raises(ConfigError, match="kind must be one of frontend, logmel-float \\(got 'mfcc'\\)"):
        make_features("fsdd", {"kind": "mfcc"})
    with pytest.raises(ConfigError, match="bad front-end feature setting"):
        make_features("fsdd", {"n_mels": 20})


def test_converter_gets_the_front_end_input_quantization():
    """With ``input_range`` the int8 input has exactly the front end's scale and zero point,
    though the calibration data covers only part of the range; without it, it does not."""
    import keras

    from edgekit.quantize.convert import quantize_model
    from edgekit.quantize.evaluate import input_quantization

    f = FrontendFeatures(FrontendConfig.fsdd(), 8)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(f.shape), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    rng = np.random.default_rng(0)
    calib = f.dequantize(rng.integers(-128, 60, size=(20, *f.shape)))
    q = quantize_model(model, calib, num_samples=20, input_range=f.input_range)
    scale, zp = input_quantization(q.tflite)
    assert zp == -128 and scale == pytest.approx(f.input_scale, rel=1e-6)
    plain = quantize_model(model, calib, num_samples=20)
    assert input_quantization(plain.tflite)[0] < 0.8 * f.input_scale
    with pytest.raises(DataError, match="outside the model input's fixed range"):
        quantize_model(model, calib + 20, num_samples=20, input_range=f.input_range)
