"""The scratch allowance of :func:`edgekit.firmware_export.codegen.fit_scratch`.

A model with no in-place op has no bytes to pay a convolution's im2col buffer
from; without an allowance a one-op model (or a small model) then runs its
convolution on the slowest, buffer-less path.  The default rule lets an arena
grow by an eighth, never past 32 KiB; ``scratch_allowance=0`` keeps the strict
budget.
"""

from __future__ import annotations

import re

import pytest

from edgekit.firmware_export import generate, read_tflite
from edgekit.firmware_export.codegen import SMALL_ARENA_BYTES, fit_scratch, scratch_allowance
from tests.kernel_harness import single_op_model


def test_allowance_by_hand():
    assert SMALL_ARENA_BYTES == 32768
    assert scratch_allowance(8000) == 1000           # an eighth
    assert scratch_allowance(30000) == 2768          # up to 32 KiB only
    assert scratch_allowance(32768) == 0
    assert scratch_allowance(49152) == 0             # ResNet-8's arena: strict


def test_negative_allowance_is_refused():
    with pytest.raises(ValueError, match=r"scratch allowance must be >= 0 bytes \(got -1\)"):
        fit_scratch(None, [], {}, {}, set(), allowance=-1)


@pytest.fixture(scope="module")
def pointwise():
    import keras
    # 1x1 16 -> 32 on 20 x 20: in 6,400 B + out 12,800 B; the six-pixel
    # im2col buffer is 12 x 16 = 192 B.
    return single_op_model(lambda ins: keras.layers.Conv2D(32, 1)(ins[0]), [(20, 20, 16)], 3)


def _paths(src) -> set[str]:
    return set(re.findall(r"#define (EKOPT_CONV_\w+)\s+1\b", (src / "ek_paths.h").read_text()))


def test_one_op_model_gets_its_fast_path(pointwise, tmp_path):
    exp = generate(read_tflite(pointwise), tmp_path / "a")
    assert "EKOPT_CONV_SIX" in _paths(tmp_path / "a")
    assert exp.plan.arena_bytes == 6400 + 12800 + 192
    strict = generate(read_tflite(pointwise), tmp_path / "b", scratch_allowance=0)
    assert _paths(tmp_path / "b") == {"EKOPT_CONV_1X1_DSP", "EKOPT_CONV_1X1_C"}
    assert strict.plan.arena_bytes == 6400 + 12800
