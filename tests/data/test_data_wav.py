"""Tests for edgekit.data.wav: decoding every supported layout and rejecting bad files."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.data import parse_wav_bytes, read_wav
from edgekit.errors import DataError, EdgekitError


def chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def fmt_body(code=1, channels=1, rate=8000, bits=16, block_align=None) -> bytes:
    if block_align is None:
        block_align = channels * bits // 8
    return struct.pack("<HHIIHH", code, channels, rate, rate * block_align, block_align, bits)


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16(values) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


GOOD = riff(chunk(b"fmt ", fmt_body()), chunk(b"data", pcm16([0, 16384, -32768, 32767])))


# -- decoding -----------------------------------------------------------------


@pytest.mark.parametrize("sampwidth", [1, 2, 3, 4])
def test_integer_pcm_roundtrip(tmp_path, wav_writer, sampwidth):
    t = np.arange(400) / 8000
    x = 0.8 * np.sin(2 * np.pi * 440 * t)
    path = wav_writer(tmp_path / f"s{sampwidth}.wav", x, sampwidth=sampwidth)
    samples, rate = read_wav(path)
    assert rate == 8000
    assert samples.dtype == np.float32 and samples.shape == (400,)
    # Quantization error of the writer plus the 2**(bits-1) vs 2**(bits-1)-1 scale.
    tol = 1.0 / 2 ** (8 * sampwidth - 1) + 1e-6
    np.testing.assert_allclose(samples, x, atol=tol + 0.8 / 2 ** (8 * sampwidth - 1))


def test_int16_exact_scaling():
    samples, rate = parse_wav_bytes(GOOD)
    assert rate == 8000
    np.testing.assert_array_equal(samples, np.array([0, 0.5, -1.0, 32767 / 32768], np.float32))


def test_8bit_is_unsigned_and_centred():
    data = riff(chunk(b"fmt ", fmt_body(bits=8)), chunk(b"data", bytes([128, 0, 255, 192])))
    samples, _ = parse_wav_bytes(data)
    np.testing.assert_array_equal(samples, np.array([0, -1, 127 / 128, 0.5], np.float32))


def test_24bit_sign_extension():
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in (0, 1 << 22, -(1 << 23), -1))
    data = riff(chunk(b"fmt ", fmt_body(bits=24)), chunk(b"data", raw))
    samples, _ = parse_wav_bytes(data)
    np.testing.assert_array_equal(samples, np.array([0, 0.5, -1.0, -1 / (1 << 23)], np.float32))


def test_stereo_is_averaged_to_mono(tmp_path, wav_writer):
    left = np.full(100, 0.5)
    right = np.full(100, -0.25)
    path = wav_writer(tmp_path / "st.wav", np.stack([left, right], axis=1), channels=2)
    samples, _ = read_wav(path)
    assert samples.shape == (100,)
    np.testing.assert_allclose(samples, 0.125, atol=1e-4)


def test_float32_format_3_is_clipped():
    raw = np.array([0.25, -0.5, 1.5, -2.0], dtype="<f4").tobytes()
    data = riff(chunk(b"fmt ", fmt_body(code=3, bits=32)), chunk(b"data", raw))
    samples, _ = parse_wav_bytes(data)
    np.testing.assert_array_equal(samples, np.array([0.25, -0.5, 1.0, -1.0], np.float32))


def test_float_nan_rejected(tmp_path):
    raw = np.array([0.0, np.nan], dtype="<f4").tobytes()
    path = tmp_path / "nan.wav"
    path.write_bytes(riff(chunk(b"fmt ", fmt_body(code=3, bits=32)), chunk(b"data", raw)))
    with pytest.raises(DataError, match="nan.wav.*NaN"):
        read_wav(path)


def test_extensible_pcm_accepted():
    ext = fmt_body(code=0xFFFE, bits=16) + struct.pack("<HHI", 22, 16, 4)
    ext += struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    data = riff(chunk(b"fmt ", ext), chunk(b"data", pcm16([16384])))
    samples, _ = parse_wav_bytes(data)
    np.testing.assert_array_equal(samples, [0.5])


def test_extra_chunks_with_odd_size_and_padding_are_skipped():
    data = riff(
        chunk(b"fmt ", fmt_body()),
        chunk(b"LIST", b"abc"),  # odd length -> one pad byte
        chunk(b"data", pcm16([16384, -16384])),
    )
    samples, _ = parse_wav_bytes(data)
    np.testing.assert_array_equal(samples, [0.5, -0.5])


def test_wrong_riff_size_but_complete_chunks_is_read():
    data = bytearray(GOOD)
    data[4:8] = struct.pack("<I", 0)  # streaming writers leave 0 here
    samples, _ = parse_wav_bytes(bytes(data))
    assert samples.shape == (4,)


# -- rejection ------------------------------------------------------------------

BAD_FILES = {
    "empty": b"",
    "text": b"hello, this is not audio at all",
    "not_wave": b"RIFF" + struct.pack("<I", 4) + b"AVI ",
    "missing_fmt": riff(chunk(b"data", pcm16([1, 2]))),
    "missing_data": riff(chunk(b"fmt ", fmt_body())),
    "adpcm": riff(chunk(b"fmt ", fmt_body(code=2, bits=4, block_align=256)), chunk(b"data", b"\0" * 256)),
    "mulaw": riff(chunk(b"fmt ", fmt_body(code=7, bits=8)), chunk(b"data", b"\0" * 4)),
    "zero_channels": riff(chunk(b"fmt ", fmt_body(channels=0, block_align=0)), chunk(b"data", pcm16([1]))),
    "zero_rate": riff(chunk(b"fmt ", fmt_body(rate=0)), chunk(b"data", pcm16([1]))),
    "zero_length": riff(chunk(b"fmt ", fmt_body()), chunk(b"data", b"")),
    "short_fmt": riff(chunk(b"fmt ", b"\x01\x00\x01\x00"), chunk(b"data", pcm16([1]))),
    "bits_12": riff(chunk(b"fmt ", fmt_body(bits=12, block_align=2)), chunk(b"data", pcm16([1]))),
    "bad_block_align": riff(chunk(b"fmt ", fmt_body(block_align=4)), chunk(b"data", pcm16([1, 2]))),
    "partial_frame": riff(chunk(b"fmt ", fmt_body()), chunk(b"data", b"\x01\x02\x03")),
    "truncated_data": GOOD[:-3],
    "truncated_header": GOOD[:40],
    "truncated_in_fmt": GOOD[:30],
}

EXPECTED_WORDS = {
    "empty": "not a WAV",
    "text": "not a RIFF",
    "not_wave": "not a WAVE",
    "missing_fmt": "missing 'fmt '",
    "missing_data": "missing 'data'",
    "adpcm": "format code 0x0002",
    "mulaw": "format code 0x0007",
    "zero_channels": "zero channels",
    "zero_rate": "sample rate of 0",
    "zero_length": "empty",
    "short_fmt": "need at least 16",
    "bits_12": "12 bits",
    "bad_block_align": "block align",
    "partial_frame": "whole number",
    "truncated_data": "truncated",
    "truncated_header": "truncated",
    "truncated_in_fmt": "truncated",
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_data_error_naming_file(tmp_path, case):
    path = tmp_path / f"bad_{case}.wav"
    path.write_bytes(BAD_FILES[case])
    with pytest.raises(DataError) as info:
        read_wav(path)
    message = str(info.value)
    assert f"bad_{case}.wav" in message
    assert EXPECTED_WORDS[case] in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="nope.wav"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(DataError, match=str(tmp_path.name)):
        read_wav(tmp_path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(GOOD)),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=4),
)
def test_damaged_bytes_only_ever_raise_data_error(cut, flips):
    data = bytearray(GOOD)
    for pos, value in flips:
        data[pos] = value
    data = bytes(data[:cut])
    try:
        samples, rate = parse_wav_bytes(data, name="fuzz.wav")
    except EdgekitError as exc:
        assert isinstance(exc, DataError)
        assert "fuzz.wav" in str(exc)
    else:
        assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
        assert rate > 0
        assert np.all(np.abs(samples) <= 1.0)
