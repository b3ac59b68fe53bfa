"""The front end's fast square root rounds exactly as its definition.

``frontend_math.c`` computes the filterbank's rounded square root of x
shifted left until its top 32 bits are >= 2^30: a table seed, two Newton
steps and a correction on those 32 bits, then (x >= 2^32) one more Newton
step on the whole and a correction.  ``sqrt_main.c`` checks it, through the test hook
``ek_frontend_test_sqrt`` (``-DEK_FRONTEND_TEST_HOOKS``), against the
definition computed by bisection: every x < 2^24, x around every square
below 2^32 (where the floor and the rounding change), around 10^6
pseudo-random squares up to 2^64, and the top of the range.  (Every
x < 2^32 was also checked once, 4.3e9 values, too slow for the suite.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edgekit.frontend import FrontendConfig, generate_c
from edgekit.frontend.codegen import C_UNITS
from tests.shared_data import missing

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_sqrt_matches_its_definition(tmp_path, opt):
    if shutil.which("gcc") is None:
        missing("gcc not found")
    generate_c(FrontendConfig.tflm_micro(), tmp_path / "src")
    exe = tmp_path / "sqrt_check"
    cmd = ["gcc", "-std=c99", opt, "-Wall", "-Wextra", "-Werror", "-DEK_FRONTEND_TEST_HOOKS",
           "-I", str(tmp_path / "src"), *(str(tmp_path / "src" / u) for u in C_UNITS),
           str(HERE / "sqrt_main.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe), str(1 << 24)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:]
    assert run.stdout.startswith("ok ")
    assert int(run.stdout.split()[1]) > (1 << 24) + 65536 * 10


def test_sqrt_seed_table_is_the_rounded_up_root(tmp_path):
    """ceil(sqrt(n * 2^28)) for n = 17..64, as the template emits it."""
    import math
    import re

    generate_c(FrontendConfig.fsdd(), tmp_path)
    text = (tmp_path / "frontend_tables.h").read_text()
    body = re.search(r"ek_fe_sqrt_lut\[48\] = \{(.*?)\};", text, re.S).group(1)
    got = [int(v.strip().rstrip("u")) for v in body.split(",") if v.strip()]
    want = [math.isqrt((n << 28) - 1) + 1 for n in range(17, 65)]
    assert got == want
