"""DEPTHWISE_CONV_2D kernels called directly on the host, golden from tflite_micro.

Both kernel sets (kernels/ek_depthwise_conv.c and kernels/optimized/, whose
plain-C path the host build takes) run under AddressSanitizer and UBSan with
the scratch buffer of exactly ``depthwise_scratch_bytes`` bytes, and with the
output written over the input (out == in) whenever the lowering declares the
input in ``Lowered.inplace``.  The shapes cover every path of the optimized
kernel: the 4-channel group plane, the int16 plane with its 3-row stride-1 /
stride-2 loops and its generic loop, transposed planes (fh x 1 filters),
column dilation, depth multipliers, 1-channel and odd channel counts.
"""

import struct
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from edgekit.firmware_export.codegen import lower_graph
from edgekit.firmware_export.ops.depthwise_conv import depthwise_scratch_bytes
from edgekit.firmware_export.tflite_reader import read_tflite
from edgekit.reference import run_tflm
from tests.kernel_harness import random_inputs, single_op_model

MAIN = Path(__file__).resolve().parents[1] / "fixtures" / "dw_kernel_main.c"
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
FIELDS = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "f_h", "f_w", "f_in_c",
          "stride_h", "stride_w", "dil_h", "dil_w", "pad_h", "pad_w", "depth_multiplier",
          "in_offset", "out_offset", "act_min", "act_max")

# (h, w, c, multiplier, kernel, stride, dilation, padding, activation)
CASES = [
    (25, 5, 64, 1, (3, 3), (1, 1), (1, 1), "same", "relu"),      # KWS: plane, 3-row s1 loop
    (12, 12, 8, 1, (3, 3), (2, 2), (1, 1), "valid", "relu6"),    # plane, 3-row s2 loop
    (11, 9, 12, 1, (3, 3), (2, 2), (1, 1), "same", "linear"),    # odd sizes, s2 SAME
    (6, 6, 16, 1, (3, 3), (1, 1), (1, 1), "same", "relu"),       # plane, rows of 6
    (3, 3, 8, 1, (3, 3), (1, 1), (1, 1), "same", "linear"),      # plane, rows of 3
    (30, 1, 12, 1, (3, 1), (1, 1), (1, 1), "valid", "linear"),   # 1-D over time, plane
    (15, 1, 8, 1, (15, 1), (1, 1), (1, 1), "valid", "relu"),     # 1 output, 15 taps, plane
    (3, 3, 64, 1, (3, 3), (1, 1), (1, 1), "same", "relu"),       # group plane, 3x3 taps
    (6, 6, 64, 1, (3, 3), (2, 2), (1, 1), "same", "linear"),     # group plane, stride 2
    (30, 1, 40, 1, (3, 1), (1, 1), (1, 1), "valid", "linear"),   # group, 1-D (str_ww)
    (15, 1, 32, 1, (15, 1), (1, 1), (1, 1), "valid", "relu"),    # group, 1 output, 15 taps
    (10, 10, 38, 1, (3, 3), (1, 1), (2, 2), "same", "linear"),   # group dilated + 2 plane channels
    (20, 7, 5, 1, (5, 1), (1, 1), (1, 1), "same", "linear"),     # odd channels: plane only
    (9, 10, 6, 1, (3, 3), (1, 1), (1, 1), "same", "relu"),       # 4 + 2 leftover channels
    (14, 9, 1, 8, (3, 3), (1, 1), (1, 1), "same", "relu"),       # 1 -> 8 channels
    (12, 10, 3, 2, (3, 3), (2, 2), (1, 1), "same", "linear"),    # multiplier 2, stride 2
    (16, 12, 4, 1, (3, 3), (1, 1), (2, 2), "same", "linear"),    # dilation 2 (group)
    (16, 12, 2, 1, (3, 3), (1, 1), (2, 3), "valid", "relu"),     # dilation, plane phases
    (10, 16, 4, 1, (1, 5), (1, 1), (1, 1), "same", "linear"),    # wide 1x5
    (12, 9, 4, 3, (10, 4), (2, 1), (1, 1), "same", "relu"),      # 10x4, multiplier 3
    (8, 8, 4, 1, (2, 2), (1, 1), (1, 1), "same", "linear"),      # even filter, SAME
    (13, 11, 7, 1, (3, 3), (1, 1), (1, 1), "valid", "relu6"),    # odd channels, VALID
]


def _cases():
    for i, c in enumerate(CASES):
        yield pytest.param(i, *c, id=f"{c[0]}x{c[1]}x{c[2]}m{c[3]}k{c[4][0]}x{c[4][1]}"
                                       f"s{c[5][0]}d{c[6][0]}{c[6][1]}{c[7]}")


def _build(out_dir: Path, kernels: str) -> Path:
    kdir = resources.files("edgekit.firmware_export").joinpath("kernels")
    with resources.as_file(kdir) as k:
        src = k / "optimized" / "ek_depthwise_conv.c" if kernels == "optimized" \
            else k / "ek_depthwise_conv.c"
        inc = ["-I", str(k)] + (["-I", str(k / "optimized")] if kernels == "optimized" else [])
        exe = out_dir / f"dw_{kernels}"
        cc = subprocess.run(["gcc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", *SAN, *inc,
                             "-o", str(exe), str(src), str(MAIN)], capture_output=True, text=True)
    if cc.returncode:
        raise AssertionError(f"kernel does not compile:\n{cc.stderr}")
    return exe


@pytest.fixture(scope="module")
def exes(tmp_path_factory):
    d = tmp_path_factory.mktemp("dw")
    return {k: _build(d, k) for k in ("reference", "optimized")}


@pytest.mark.parametrize("i,h,w,c,mult,kernel,stride,dil,padding,act", list(_cases()))
def test_depthwise_kernel_in_place_bit_exact(exes, tmp_path, i, h, w, c, mult, kernel, stride, dil,
                                             padding, act):
    import keras

    def build(ins):
        return keras.layers.DepthwiseConv2D(kernel, strides=stride, depth_multiplier=mult,
                                            dilation_rate=dil, padding=padding, activation=act,
                                            bias_initializer="random_normal")(ins[0])

    seed = 500 + i
    model = single_op_model(build, [(h, w, c)], seed, low=-2.0, high=3.0)
    graph = read_tflite(model)
    low = [x for x in lower_graph(graph) if x.kernel == "ek_depthwise_conv2d_s8"]
    assert len(low) == 1
    low = low[0]
    p = low.params
    scratch = depthwise_scratch_bytes(p)
    assert low.scratch == scratch
    inplace = low.args[0] in low.inplace
    assert inplace == (mult == 1 and p["out_h"] * p["out_w"] <= h * w)
    xs = random_inputs(model, 3, seed)
    ref = run_tflm(model, xs)
    wt = graph.tensors[low.args[1]]
    bt = graph.tensors[low.args[2]] if low.args[2] is not None else None
    head = struct.pack("<24i", *(int(p[f]) for f in FIELDS), int(bt is not None), scratch, int(inplace))
    body = (np.asarray(p["mult"], "<i4").tobytes() + np.asarray(p["shift"], "<i4").tobytes()
            + (np.asarray(bt.data, "<i4") if bt is not None
               else np.zeros(p["out_c"], "<i4")).tobytes()
            + np.asarray(wt.data, np.int8).tobytes())
    for kernels, exe in exes.items():
        for n, x in enumerate(xs):
            case, out = tmp_path / f"case{n}.bin", tmp_path / f"out{n}.bin"
            case.write_bytes(head + body + np.asarray(x, np.int8).tobytes())
            run = subprocess.run([str(exe), str(case), str(out)], capture_output=True, text=True,
                                 timeout=60)
            assert run.returncode == 0, f"{kernels}: exit {run.returncode}\n{run.stderr[-2000:]}"
            got = np.frombuffer(out.read_bytes(), np.int8).reshape(ref[n].shape)
            bad = np.argwhere(got != ref[n])
            assert not len(bad), (f"{kernels} kernel (in place: {inplace}) differs from tflite_micro "
                                  f"at {len(bad)} outputs, first {bad[:3].tolist()}")
