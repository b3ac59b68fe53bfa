"""ekopt_rq2 (kernels/optimized/ek_opt_requant.h), the fused requantization of
the optimized CONV_2D and FULLY_CONNECTED kernels, against TFLite's
MultiplyByQuantizedMultiplier computed here by hand in Python integers
(SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT, as in
tensorflow/lite/kernels/internal/common.h), plus the output offset.

The header's plain-C form (the host build) is the same arithmetic as its
SMLAL form on DSP cores; the QEMU tests (tests/emulator/test_kernels_qemu.py)
run the latter through whole models.  The cases include every right shift
1..31 and exact rounding ties of both signs, which random accumulators
almost never hit."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

from tests.shared_data import missing

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul (C++ division truncates)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) >> 31
    return q if ab + nudge >= 0 else -q


def _rdbpot(x: int, e: int) -> int:
    """gemmlowp RoundingDivideByPOT (ties away from zero)."""
    mask = (1 << e) - 1
    rem = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > threshold else 0)


def _tflm(acc: int, mult: int, shift: int, zp: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    x = ((acc << left) + (1 << 31)) % (1 << 32) - (1 << 31)
    return _rdbpot(_srdhm(x, mult), right) + zp


HARNESS = r"""
#include <stdio.h>
#include "ek_opt_requant.h"
int main(void) {
    long acc, mult, shift, zp;
    while (scanf("%ld %ld %ld %ld", &acc, &mult, &shift, &zp) == 4) {
        if (!ekopt_rq2_ok((int32_t)mult, (int32_t)shift)) { printf("skip\n"); continue; }
        const int32_t zf = ekopt_rq2_zp((int32_t)shift, (int32_t)zp);
        const ekopt_rq2 q = ekopt_rq2_make((int32_t)mult, (int32_t)shift, zf);
        printf("%ld\n", (long)ekopt_rq2_apply((int32_t)acc, &q) + (zp - zf));
    }
    return 0;
}
"""


def _cases() -> list[tuple[int, int, int, int]]:
    rng = np.random.default_rng(1313)
    cases = []
    mults = [1 << 30, (1 << 30) + 1, INT32_MAX, 3 << 29, 1, 0]
    mults += [int(m) for m in rng.integers(1 << 30, 1 << 31, 6)]
    for r in range(1, 32):
        for m in mults:
            zp = int(rng.integers(-128, 128))
            # Exact ties of RoundingDivideByPOT: h = SRDHM(x, 2^30) = x/2
            # rounded, so x = 2 * (k * 2^r + 2^(r-1)) hits h = ±(k + 1/2) 2^r.
            for k in (-3, -1, 0, 2):
                t = 2 * (k * (1 << r) + (1 << (r - 1)))
                for x in (t - 1, t, t + 1, -t - 1, -t, -t + 1):
                    if INT32_MIN <= x <= INT32_MAX:
                        cases.append((x, m, -r, zp))
            for x in (0, 1, -1, INT32_MIN, INT32_MAX, INT32_MIN + 1, 1 << 30, -(1 << 30)):
                cases.append((x, m, -r, zp))
            for x in rng.integers(INT32_MIN, INT32_MAX, 8, endpoint=True):
                cases.append((int(x), m, -r, zp))
            for x in rng.integers(-70000, 70000, 8):
                cases.append((int(x), m, -r, zp))
    # A zero multiplier (a channel of zero weights) with any shift.
    cases += [(x, 0, s, zp) for x in (-7, 0, 9, INT32_MIN) for s in (0, 3, -1, -30)
              for zp in (-128, 5)]
    # Outside ekopt_rq2's range (the kernels use ekopt_rq there).
    cases += [(5, -3, -3, 0), (5, 1 << 30, 0, 0), (5, 1 << 30, 2, 0), (5, 1 << 30, -32, 0)]
    return cases


def test_rq2_matches_tflite_requantization(tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        missing("gcc missing")
    kdir = resources.files("edgekit.firmware_export").joinpath("kernels")
    with resources.as_file(kdir) as kpath:
        src = tmp_path / "rq2.c"
        src.write_text(HARNESS)
        exe = tmp_path / "rq2"
        subprocess.run([gcc, "-O1", "-std=c99", "-Wall", "-Wextra", "-Werror",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        "-I", str(kpath / "optimized"), "-I", str(kpath), "-o", str(exe),
                        str(src)], check=True, capture_output=True, text=True)
    cases = _cases()
    stdin = "".join(f"{a} {m} {s} {z}\n" for a, m, s, z in cases)
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True,
                         check=True).stdout.split()
    assert len(out) == len(cases)
    skipped = 0
    for (acc, m, s, zp), got in zip(cases, out):
        if got == "skip":
            skipped += 1
            assert m < 0 or (m > 0 and (s >= 0 or s < -31)), (acc, m, s, zp)
            continue
        assert int(got) == _tflm(acc, m, s, zp), f"acc={acc} mult={m} shift={s} zp={zp}"
    assert skipped == 4     # the four cases outside the range


def _smlal_form(acc: int, clo: int, chi: int, mult: int, rs1: int) -> int:
    """The DSP form of ekopt_rq2_apply on a table row: AND, ADDS, ADC, SMLAL
    (64-bit hi:lo = chi:clo + (acc & 2^31) + (acc >> 31) * 2^32 + acc * mult),
    then the high word shifted right by rs1."""
    s = chi * (1 << 32) + (clo % (1 << 32)) + (acc & 0x80000000) + (acc >> 31) * (1 << 32)
    s += acc * mult
    hi = ((s >> 32) + (1 << 31)) % (1 << 32) - (1 << 31)     # the high register
    return hi >> rs1


def test_fc_rq2_table_matches_tflite_requantization():
    """ops/fully_connected.rq2_table: the generator's constants, applied as the
    kernel applies them, give TFLite's requantization plus the output offset;
    None where a multiplier is outside their range."""
    from edgekit.firmware_export.ops.fully_connected import rq2_table
    n = 0
    for acc, m, s, zp in _cases():
        t = rq2_table([m], [s], zp)
        fits = (m == 0 or (m > 0 and -31 <= s <= -1)) and (s >= -22 or zp == 0)
        if not fits:
            assert t is None, (m, s, zp)
            continue
        assert len(t) == 4 and all(INT32_MIN <= v <= INT32_MAX for v in t)
        assert _smlal_form(acc, *t) == _tflm(acc, m, s, zp), f"acc={acc} mult={m} shift={s} zp={zp}"
        n += 1
    assert n > 10000
    # One multiplier outside the range: no table for the layer.
    assert rq2_table([1 << 30, 1 << 30], [-3, 1], 0) is None
