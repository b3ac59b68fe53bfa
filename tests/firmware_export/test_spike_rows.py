"""ek_spike_fc_s8 (kernels/ek_spike_fc.c) finds the active inputs of a row from
words of four codes for any pair of spike codes (one bit where they differ),
compiled for the host and checked against the sum its header defines, computed
here by hand: acc[u] = bias[u] + delta * (sum of wt[d][u] over the inputs d at
the on code), requantized by an exact x1 (multiplier 2^30, shift 1) plus the
output offset."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

from tests.shared_data import missing

HARNESS = r"""
#include <stdio.h>
#include "ek_spike_fc.c"

int main(void) {
    int b, a, u, on, delta;
    if (scanf("%d %d %d %d %d", &b, &a, &u, &on, &delta) != 5) return 1;
    static int32_t bias[64], mult[64], shift[64], scratch[256];
    static int8_t wt[4096], x[4096], y[4096];
    for (int i = 0; i < u; ++i) { int v; if (scanf("%d", &v) != 1) return 1; bias[i] = v; }
    for (int i = 0; i < a * u; ++i) { int v; if (scanf("%d", &v) != 1) return 1; wt[i] = (int8_t)v; }
    for (int i = 0; i < b * a; ++i) { int v; if (scanf("%d", &v) != 1) return 1; x[i] = (int8_t)v; }
    mult[0] = 1 << 30;
    shift[0] = 1;
    const ek_spike_fc_params p = {.batches = b, .accum = a, .units = u, .on_code = on,
                                  .delta = delta, .out_offset = 3, .act_min = -128,
                                  .act_max = 127, .per_channel = 0, .fast_rq = 0,
                                  .bias = bias, .mult = mult, .shift = shift, .rq_add = 0};
    ek_spike_fc_s8(&p, x, wt, y, (int8_t *)scratch);
    for (int i = 0; i < b * u; ++i) printf("%d\n", y[i]);
    return 0;
}
"""


@pytest.mark.parametrize("on,off", [(127, -128), (-128, 127), (5, -3)])
def test_active_inputs_from_words_for_any_two_codes(on, off, tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        missing("gcc missing")
    kdir = resources.files("edgekit.firmware_export").joinpath("kernels")
    with resources.as_file(kdir) as kpath:
        (tmp_path / "h.c").write_text(HARNESS)
        subprocess.run([gcc, "-O1", "-std=c99", "-Wall", "-Wextra", "-Werror",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        "-I", str(kpath), "-o", str(tmp_path / "h"), str(tmp_path / "h.c")],
                       check=True, capture_output=True, text=True)
    rng = np.random.default_rng(on & 0xFF)
    b, a, u, delta = 5, 11, 9, on - off       # 11 inputs: two words and a tail of three
    bias = rng.integers(-20, 21, u)
    wt = rng.integers(-3, 4, (a, u))
    active = rng.random((b, a)) < 0.4
    active[0] = False                          # a row with no spike, and one all spikes
    active[1] = True
    x = np.where(active, on, off)
    stdin = " ".join(map(str, [b, a, u, on, delta, *bias, *wt.ravel(), *x.ravel()]))
    out = subprocess.run([str(tmp_path / "h")], input=stdin, capture_output=True, text=True,
                         check=True).stdout.split()
    want = np.clip(bias + delta * (active.astype(int) @ wt) + 3, -128, 127)
    np.testing.assert_array_equal(np.array(out, dtype=int).reshape(b, u), want)
