"""A small, strict RIFF/WAVE reader.

Only uncompressed audio is accepted: integer PCM with 8, 16, 24 or 32 bits
per sample (format code 1, or WAVE_FORMAT_EXTENSIBLE with a PCM sub-format)
and IEEE float with 32 or 64 bits (format code 3, or extensible with a float
sub-format).  Anything else, and any structural damage (bad magic, truncated
chunk, missing ``fmt `` or ``data`` chunk, inconsistent header fields), raises
:class:`edgekit.errors.DataError` with a message that names the file.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from edgekit.errors import DataError

__all__ = ["read_wav", "parse_wav_bytes", "to_pcm"]

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_PCM_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)
# Names for the format codes a user is most likely to meet, for error messages.
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0055: "MPEG layer 3",
}


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV file as mono float32 samples.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.wav`` file to read.

    Returns
    -------
    samples : numpy.ndarray
        1-D float32 array in ``[-1, 1]``.  Integer PCM is scaled by
        ``2**(bits-1)`` (8-bit PCM is unsigned and is centred first); float
        data is clipped to ``[-1, 1]``.  Multi-channel audio is averaged to
        mono.
    sample_rate : int
        Samples per second, as stored in the ``fmt `` chunk.

    Raises
    ------
    edgekit.errors.DataError
        If the file cannot be read, is not a RIFF/WAVE file, is truncated or
        inconsistent, uses a compressed format, or holds no audio.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read WAV file {path}: {exc.strerror or exc}") from exc
    return parse_wav_bytes(data, name=str(path))


def parse_wav_bytes(data: bytes, name: str = "<bytes>") -> tuple[np.ndarray, int]:
    """Decode an in-memory WAV file; see :func:`read_wav`.

    Parameters
    ----------
    data : bytes
        The whole file content.
    name : str, optional
        How to name the source in error messages.

    Returns
    -------
    samples : numpy.ndarray
        1-D float32 mono samples in ``[-1, 1]``.
    sample_rate : int
        Samples per second.

    Raises
    ------
    edgekit.errors.DataError
        On any malformed or unsupported content.
    """

    def fail(msg: str) -> DataError:
        return DataError(f"{name}: {msg}")

    if len(data) < 12:
        raise fail(f"not a WAV file: only {len(data)} bytes, a RIFF/WAVE header needs 12")
    if data[0:4] != b"RIFF":
        raise fail(f"not a RIFF file (magic {data[0:4]!r}, expected b'RIFF')")
    if data[8:12] != b"WAVE":
        raise fail(f"not a WAVE file (RIFF form type {data[8:12]!r}, expected b'WAVE')")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    # Chunks are read up to the end of the RIFF form, so trailing junk after
    # it (e.g. an appended tag) is ignored.  Streaming writers leave the size
    # at 0 or 0xFFFFFFFF, and a truncated file declares more than it has: in
    # those cases read to the end of the file (chunk sizes are still checked).
    end = 8 + riff_size if 4 <= riff_size and 8 + riff_size <= len(data) else len(data)

    fmt: bytes | None = None
    audio: bytes | None = None
    pos = 12
    while pos < end:
        if end - pos < 8:
            raise fail(f"truncated chunk header at byte {pos} ({end - pos} bytes left, need 8)")
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if body + size > len(data):
            raise fail(
                f"truncated {chunk_id!r} chunk at byte {pos}: declares {size} bytes, "
                f"only {len(data) - body} present"
            )
        if chunk_id == b"fmt ":
            if fmt is not None:
                raise fail("more than one 'fmt ' chunk")
            fmt = data[body : body + size]
        elif chunk_id == b"data":
            if audio is None:
                audio = data[body : body + size]
        pos = body + size + (size & 1)  # chunks are padded to even length
    if fmt is None:
        raise fail("missing 'fmt ' chunk")
    if audio is None:
        raise fail("missing 'data' chunk")

    fmt_code, channels, rate, bits, block_align = _parse_fmt(fmt, fail)
    if len(audio) == 0:
        raise fail("'data' chunk is empty (zero-length audio)")
    if len(audio) % block_align:
        raise fail(
            f"'data' chunk has {len(audio)} bytes, not a whole number of "
            f"{block_align}-byte frames (file truncated?)"
        )
    samples = _decode(audio, fmt_code, bits, channels)
    if fmt_code == _FORMAT_FLOAT:
        if not np.all(np.isfinite(samples)):
            raise fail("float audio contains NaN or infinite samples")
        np.clip(samples, -1.0, 1.0, out=samples)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float64).astype(np.float32)
    return samples, rate


def _parse_fmt(fmt: bytes, fail) -> tuple[int, int, int, int, int]:
    """Check a ``fmt `` chunk; return (code, channels, rate, bits, block_align)."""
    if len(fmt) < 16:
        raise fail(f"'fmt ' chunk is {len(fmt)} bytes, need at least 16")
    code, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if code == _FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise fail(f"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {len(fmt)} bytes, need 40")
        # The sub-format GUID starts with the ordinary 16-bit format code.
        (code,) = struct.unpack_from("<H", fmt, 24)
    if code == _FORMAT_PCM:
        if bits not in _PCM_BITS:
            raise fail(f"unsupported PCM sample size {bits} bits (supported: 8, 16, 24, 32)")
    elif code == _FORMAT_FLOAT:
        if bits not in _FLOAT_BITS:
            raise fail(f"unsupported float sample size {bits} bits (supported: 32, 64)")
    else:
        label = _FORMAT_NAMES.get(code, "unknown")
        raise fail(
            f"compressed or unsupported audio format code {code:#06x} ({label}); "
            "only uncompressed PCM (1) and IEEE float (3) are supported"
        )
    if channels == 0:
        raise fail("'fmt ' chunk declares zero channels")
    if rate == 0:
        raise fail("'fmt ' chunk declares a sample rate of 0 Hz")
    expected_align = channels * bits // 8
    if block_align != expected_align:
        raise fail(
            f"inconsistent 'fmt ' chunk: block align is {block_align}, expected "
            f"{expected_align} for {channels} channel(s) of {bits} bits"
        )
    return code, channels, rate, bits, block_align


def _decode(audio: bytes, code: int, bits: int, channels: int) -> np.ndarray:
    """Turn raw little-endian sample bytes into interleaved float32 in [-1, 1]."""
    if code == _FORMAT_FLOAT:
        dtype = "<f4" if bits == 32 else "<f8"
        with np.errstate(over="ignore", invalid="ignore"):   # out of range: inf, refused later
            return np.frombuffer(audio, dtype=dtype).astype(np.float32)
    if bits == 8:
        raw = np.frombuffer(audio, dtype=np.uint8).astype(np.float32)
        return (raw - 128.0) / 128.0
    if bits == 16:
        return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
    if bits == 24:
        b = np.frombuffer(audio, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return (value.astype(np.float64) / float(1 << 23)).astype(np.float32)
    # 32-bit integer PCM: divide in float64 so full-scale values stay exact.
    raw32 = np.frombuffer(audio, dtype="<i4").astype(np.float64)
    return (raw32 / float(1 << 31)).astype(np.float32)


def to_pcm(samples) -> np.ndarray:
    """int16 PCM from samples: int16 as is, floats in [-1, 1) scaled by 32768 and rounded.

    A 16-bit WAV read as ``int16 / 32768`` comes back exactly; values beyond
    full scale are clipped to [-32768, 32767].

    Parameters
    ----------
    samples : array_like
        1-D int16 or floating-point samples.

    Returns
    -------
    numpy.ndarray
        1-D int16.

    Raises
    ------
    DataError
        If the samples are not 1-D, or are neither int16 nor floating point.
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise DataError(f"audio must be 1-D samples (got shape {x.shape})")
    if x.dtype == np.int16:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"audio must be int16 or float samples (got dtype {x.dtype})")
    return np.clip(np.rint(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
