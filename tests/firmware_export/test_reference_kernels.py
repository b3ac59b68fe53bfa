"""The reference kernel set (``generate(kernels="reference")``), tested like
the optimized one: the golden tests of tests/kernel_harness.py run both sets
whenever a model uses a kernel with an optimized version; here, the two sets
differ in exactly those kernels, and MLPerf Tiny models built with the
reference kernels are bit-exact with tflite_micro on the host."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from edgekit.firmware_export import generate, read_tflite
from edgekit.firmware_export.codegen import optimized_kernel_files

CASES = 100


def _kernel_source(*parts: str) -> bytes:
    return resources.files("edgekit.firmware_export").joinpath("kernels", *parts).read_bytes()


def test_kernel_sets_differ_only_in_the_optimized_kernels(mlperf_dir, tmp_path):
    graph = read_tflite((mlperf_dir / "kws_ref_model.tflite").read_bytes())
    opt = generate(graph, tmp_path / "opt", kernels="optimized")
    ref = generate(graph, tmp_path / "ref", kernels="reference")
    optimized = optimized_kernel_files()
    used = {low.source for low in ref.lowered} & optimized
    assert used, "kws_ref_model should use kernels that have an optimized version"
    # The reference set leaves out only the optimized kernels' shared headers.
    extra = set(opt.files) - set(ref.files)
    assert extra and all(n.endswith(".h") for n in extra), extra
    assert set(ref.files) <= set(opt.files)
    for name in ref.files:
        a = (tmp_path / "ref" / name).read_bytes()
        b = (tmp_path / "opt" / name).read_bytes()
        if name in optimized:
            assert a == _kernel_source(name) and b == _kernel_source("optimized", name)
            assert a != b, name
        else:   # model.c, model.h and every kernel without an optimized version
            assert a == b, name


@pytest.mark.parametrize("name", ["kws_ref_model", "ad01_int8"])
def test_mlperf_reference_kernels_bit_exact_with_tflm_on_host(mlperf_dir, tmp_path, name):
    from edgekit.verify import check_host, export_c

    tflite = (mlperf_dir / f"{name}.tflite").read_bytes()
    graph = export_c(tflite, tmp_path / "src", kernels="reference").graph
    assert not (tmp_path / "src" / "ek_opt_requant.h").exists()
    n = graph.tensors[graph.inputs[0]].num_elements
    rng = np.random.default_rng(4321)
    x = rng.integers(-128, 128, (CASES, n), dtype=np.int8)
    host = check_host(tflite, tmp_path / "src", tmp_path / "host", x, litert=False)
    assert host.bit_exact, (f"{name}: {host.mismatched_cases} of {CASES} cases differ "
                            "(seed 4321)")
    assert len({r.tobytes() for r in host.reference}) > 1   # outputs vary over inputs
