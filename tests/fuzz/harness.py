"""Fuzzing the host harnesses' input reading (edgekit/emulator/firmware/).

The model harness (``host_main.c``): one small model is generated and built
once with AddressSanitizer and UndefinedBehaviorSanitizer; each case hands
the harness an inputs file of a fuzzed length and content.  A whole number
of cases must run and write one output per case; any other length must be
refused with an ``error:`` line and a non-zero status; nothing may trip a
sanitizer.

The audio harness (``edgekit_audio_harness.c``, the streaming build from raw
audio: front end + model): a streaming step model
(``tests/fixtures/lmuformer_step_int8.tflite``, a random-weight lmuformer,
``dim=8, order=2, memory_d=4, patch_kernel=2, patch_stride=2``, on the FSDD
front end's 48 frames, made by ``quantize_streaming_int8`` with TF 2.21:
the fixture spares the suite TensorFlow) with ``generate_audio``'s C, built
with ``-DEDGEKIT_AUDIO`` and both sanitizers.  Each case is a clips file
(per clip: uint32 rate, uint32 samples, int16 samples) of fuzzed clips:
lengths around one model input, full-scale and random samples, other rates,
sample counts that lie, cuts and trailing bytes.  :func:`audio_expect` reads
the same format in Python: a valid file must run every clip (its frames equal
to the host front end's), an invalid one must end in the ``ERR`` line that
names the problem (counted as refused); nothing may trip a sanitizer.
"""

from __future__ import annotations

from pathlib import Path

import struct

import numpy as np

from tests.fuzz.targets import MLPERF, REPO, Draw

SEED_MODEL = "kws_ref_model"
_SIZES: dict = {}


def build_harness(work: Path) -> Path:
    from edgekit.emulator.build import build_host  # noqa: PLC0415
    from edgekit.firmware_export import generate, read_tflite  # noqa: PLC0415

    src = work / "src"
    generate(read_tflite(MLPERF / f"{SEED_MODEL}.tflite"), src)
    header = (src / "model.h").read_text()
    for key in ("EDGEKIT_INPUT_BYTES", "EDGEKIT_OUTPUT_BYTES"):
        _SIZES[key] = int(header.split(f"#define {key}", 1)[1].split()[0].strip("()u"))
    return build_host(src, work / "build", opt="-O1", sanitize=True)


def harness_input(d: Draw) -> tuple[bytes]:
    n_in = _SIZES["EDGEKIT_INPUT_BYTES"]
    k = d.int(0, 3)
    if k == 0:
        length = n_in * d.int(0, 4)
    elif k == 1:
        length = n_in * d.int(1, 3) + d.choice((-1, 1, -n_in + 1, 7))
    else:
        length = d.int(0, 4 * n_in + 3)
    fill = d.int(0, 255)
    return (bytes([fill]) * length if d.bool() else d.bytes(length),)


def sanitized_run(exe: Path, blob: bytes, in_name: str, out_name: str):
    """Run a sanitized host program on ``blob``: (process, output bytes, stderr text).

    A hang (the 60 s limit) or a sanitizer report is a finding: AssertionError.
    """
    from edgekit.emulator.run import run_host_program  # noqa: PLC0415
    from edgekit.errors import EmulatorError  # noqa: PLC0415

    try:
        proc, out = run_host_program(exe, blob, in_name, out_name, 60.0)
    except EmulatorError as e:            # a hang is a finding, not a refusal
        raise AssertionError(str(e)) from None
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err[-2000:]
    return proc, out, err


def harness_target(exe: Path, blob: bytes, tmp: Path | None = None) -> None:
    n_in, n_out = _SIZES["EDGEKIT_INPUT_BYTES"], _SIZES["EDGEKIT_OUTPUT_BYTES"]
    proc, out, err = sanitized_run(exe, blob, "inputs.bin", "outputs.bin")
    if len(blob) % n_in == 0:
        assert proc.returncode == 0, err
        assert len(out) == len(blob) // n_in * n_out
    else:
        assert proc.returncode != 0 and "error:" in err, (proc.returncode, err)


# -- the audio harness (edgekit_audio_harness.c) ----------------------------------------------

AUDIO_MODEL = REPO / "tests" / "fixtures" / "lmuformer_step_int8.tflite"
_AUDIO: dict = {}


def build_audio_harness(work: Path) -> Path:
    """Generate the fixture's streaming audio firmware and build it for the host (ASan+UBSan)."""
    from edgekit.emulator import AUDIO_DEFINES, build_host  # noqa: PLC0415
    from edgekit.firmware_export import generate, read_tflite  # noqa: PLC0415
    from edgekit.firmware_export.audio import generate_audio  # noqa: PLC0415
    from edgekit.frontend import FrontendConfig  # noqa: PLC0415
    from edgekit.frontend.features import FrontendFeatures  # noqa: PLC0415

    features = FrontendFeatures(FrontendConfig.fsdd(), 48)
    src = work / "src"
    graph = read_tflite(AUDIO_MODEL.read_bytes())
    generate(graph, src)
    aud = generate_audio(features, graph, src)
    assert aud.streaming
    _AUDIO.update(features=features, rate=features.frontend.sample_rate,
                  span=features.clip_samples)
    return build_host(src, work / "build", opt="-O1", defines=AUDIO_DEFINES, sanitize=True)


def _pcm(d: Draw, n: int) -> bytes:
    kind = d.int(0, 4)
    if kind == 0:
        x = np.zeros(n, "<i2")
    elif kind == 1:                                   # full scale, alternating
        x = np.resize(np.array([-32768, 32767], "<i2"), n)
    elif kind == 2:                                   # a constant extreme (DC)
        x = np.full(n, d.choice((-32768, 32767, -1, 1)), "<i2")
    elif kind == 3:                                   # a full-scale square wave
        period = d.int(2, 400)
        x = np.where((np.arange(n) // max(period // 2, 1)) % 2 == 0, 32767, -32768).astype("<i2")
    else:
        return d.bytes(2 * n)
    return x.tobytes()


def audio_input(d: Draw) -> tuple[bytes]:
    """A clips file: up to three fuzzed clips, then maybe cut or followed by junk."""
    rate, span = _AUDIO["rate"], _AUDIO["span"]
    if d.int(0, 7) == 0:
        return (d.bytes(d.int(0, 40)),)
    parts = []
    for _ in range(d.int(0, 3)):
        n = d.choice((0, 1, 2, 159, 160, span - 1, span, span + 1, d.int(0, 2 * span)))
        r = rate if d.int(0, 5) else d.interesting(0, 0xFFFFFFFF)
        declared = n if d.int(0, 4) else d.choice((n + 1, n - 1, 2 * n + 3, 0x7FFFFFFF,
                                                   0x80000000, 0xFFFFFFFF,
                                                   d.interesting(0, 0xFFFFFFFF)))
        parts.append(struct.pack("<II", r, declared & 0xFFFFFFFF) + _pcm(d, n))
    blob = b"".join(parts)
    k = d.int(0, 5)
    if k == 0 and blob:
        blob = blob[:d.int(0, len(blob) - 1)]
    elif k == 1:
        blob += d.bytes(d.int(1, 9))
    return (blob,)


def audio_expect(blob: bytes, rate: int) -> tuple[list, str]:
    """The harness's reading of ``blob`` in Python: (clips, "") or (clips so far, error words)."""
    pos, clips = 0, []
    while pos < len(blob):
        if len(blob) - pos < 8:
            return clips, "truncated clip header in the input"
        r, n = struct.unpack_from("<II", blob, pos)
        pos += 8
        if r != rate:
            return clips, f"clip sample rate {r} Hz, the front end takes {rate} Hz"
        if n > (len(blob) - pos) // 2:
            return clips, "clip longer than the input"
        clips.append(np.frombuffer(blob, "<i2", n, pos).astype(np.int16))
        pos += 2 * n
    return clips, ""


def audio_target(exe: Path, blob: bytes, tmp: Path | None = None) -> None:
    """Run one clips file; a correct refusal is re-raised as the EmulatorError it is."""
    from edgekit.emulator import parse_audio_output  # noqa: PLC0415
    from edgekit.errors import EmulatorError  # noqa: PLC0415

    features, span = _AUDIO["features"], _AUDIO["span"]
    clips, error = audio_expect(blob, _AUDIO["rate"])
    proc, out, err = sanitized_run(exe, blob, "clips.bin", "records.txt")
    log = out.decode(errors="replace")
    if error:
        assert proc.returncode != 0 and f"ERR {error}" in log, (proc.returncode, error, log[-500:])
        raise EmulatorError(f"the audio harness refused the input: {error}")
    assert proc.returncode == 0, (proc.returncode, err[-1000:], log[-500:])
    run = parse_audio_output(log, expected_clips=len(clips))
    for clip, got in zip(clips, run.clips):
        assert got.samples == len(clip) and got.padded == max(span - len(clip), 0)
        assert got.runs, "a clip made no model run"
        first = np.concatenate([clip, np.zeros(max(span - len(clip), 0), np.int16)])[:span]
        np.testing.assert_array_equal(got.window, features.compute_int8(first))
