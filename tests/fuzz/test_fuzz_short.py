"""The suite's short fuzz run: a few seconds per reader of untrusted input.

The same targets and mutators as the long campaign (tests/fuzz/campaign.py,
>= 10,000 cases per reader); here each reader gets a few dozen cases.  Every
case must end in success or an EdgekitError with a message: any other
exception, a hang (time limit per case) or a sanitizer report fails.
"""

from __future__ import annotations

import pytest

from tests.fuzz import campaign
from tests.fuzz import onnx_recipe as oxr
from tests.fuzz import targets as tg

CASES = {"wav": 100, "onnx": 50, "recipe": 80, "calibration": 50, "calibration_quantize": 50}


def _check(name: str, counts, failures) -> None:
    assert not failures, "\n\n".join(f"{o.kind}: {o.detail}" for o, _ in failures[:3])
    assert sum(counts.values()) >= CASES.get(name, 25) // 2
    assert counts["refused"] > 0          # the mutations do reach the checks


@pytest.mark.parametrize("name", sorted(CASES))
def test_reader_gives_success_or_edgekit_error(name, tmp_path, mlperf_dir, fsdd_root):
    reader = campaign.readers()[name]
    counts, failures = campaign.drive(reader, CASES[name], tmp_path)
    _check(name, counts, failures)


def test_tflite_reader_and_codegen_then_sanitized_run(tmp_path, mlperf_dir):
    """Fuzzed .tflite files through the reader and code generator; one that
    generated C is built with ASan + UBSan and runs clean."""
    generated: list = []
    counts, failures = campaign.drive(campaign.readers()["tflite"], 25, tmp_path,
                                      generated=generated)
    _check("tflite", counts, failures)
    assert generated, "no fuzzed model generated C in 25 cases"
    san = campaign.sanitized_runs(generated, 1, tmp_path)
    assert san == {"ran clean": 1}, san


def test_harness_input_reading_under_sanitizers(tmp_path, mlperf_dir):
    from tests.fuzz.harness import build_harness  # noqa: PLC0415

    exe = build_harness(tmp_path / "harness")
    counts, failures = campaign.drive(campaign.readers(exe)["harness"], 25, tmp_path)
    assert not failures, "\n\n".join(f"{o.kind}: {o.detail}" for o, _ in failures[:3])
    assert counts["ok"] >= 12


def test_audio_harness_input_reading_under_sanitizers(tmp_path):
    """Fuzzed clips files through the streaming audio firmware's harness (front end +
    model, ASan + UBSan): valid files run every clip, the others end in their ERR line."""
    from tests.fuzz.harness import build_audio_harness  # noqa: PLC0415

    exe = build_audio_harness(tmp_path / "audio")
    counts, failures = campaign.drive(campaign.readers(audio_exe=exe)["audio_harness"], 30,
                                      tmp_path)
    assert not failures, "\n\n".join(f"{o.kind}: {o.detail}" for o, _ in failures[:3])
    assert counts["ok"] >= 5 and counts["refused"] >= 5, counts


def test_the_mutators_are_structure_aware(mlperf_dir):
    """A schema-level edit keeps the file a parsable flatbuffer (reaching the
    checks behind the parser), and the WAV mutator keeps the RIFF framing."""
    from hypothesis import given, settings  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    seen = {"tflite_parsed": 0, "riff": 0}
    wavs = tg.wav_seeds()

    @settings(max_examples=25, database=None, deadline=None)
    @given(st.data())
    def one(data):
        d = tg.Draw(data)
        raw = tg.tflite_input(d)
        seen["tflite_parsed"] += raw[4:8] == b"TFL3"
        seen["riff"] += tg.wav_input(d, wavs).startswith(b"RIFF")

    one()
    assert seen["tflite_parsed"] >= 8 and seen["riff"] >= 8
    assert oxr.recipe_seeds()
