"""int16 (TFLite 16x8) SOFTMAX golden tests against tflite_micro: random
shapes and input ranges (so input scales), inputs over the full int16 range; plus the
export-time tables against an independent float32 evaluation."""

import numpy as np
import pytest

from tests.kernel_harness import check_golden_typed, single_op_model_16x8
from tests.shared_data import missing


@pytest.mark.parametrize("seed", range(8))
def test_softmax_s16_bit_exact(seed):
    import keras
    r = np.random.default_rng(8700 + seed)
    rank = int(r.integers(1, 4))
    shape = tuple(int(d) for d in r.integers(1, 6, rank - 1)) + (int(r.integers(2, 40)),)
    c = dict(shape=shape, lo=-float(r.uniform(0.5, 30)), hi=float(r.uniform(0.5, 30)))
    m = single_op_model_16x8(lambda ins: keras.layers.Softmax()(ins[0]), [shape], seed,
                             low=c["lo"], high=c["hi"])
    check_golden_typed(m, seed, c, n=16, expect_ops=("SOFTMAX",))


def test_softmax_s16_tables():
    from edgekit.firmware_export.ops.s16 import pack_s16, softmax_luts
    exp_lut, recip_lut = softmax_luts()
    assert len(exp_lut) == len(recip_lut) == 513
    # Close to the functions they sample (biased by at most a few LSBs).
    xs = np.linspace(-10.0, 0.0, 513)
    assert np.max(np.abs(np.asarray(exp_lut[:512]) - np.exp(xs[:512]) * 32768)) <= 2
    xs = np.linspace(0.0, 1.0, 513)
    assert np.max(np.abs(np.asarray(recip_lut[:512]) - 32768 / (1 + xs[:512]))) <= 2
    assert exp_lut[512] == 32767 and recip_lut[512] == 16384
    words = pack_s16(exp_lut)
    assert len(words) == 257
    back = np.asarray(words, np.int32).view("<i2")[:513]
    assert tuple(back.tolist()) == exp_lut


@pytest.mark.parametrize("seed", range(4))
def test_softmax_s16_bit_exact_narrow(seed):
    """Inputs within a window of about 12 (real units) around a random centre,
    so the differences to the row maximum sweep the whole exp table rather
    than mostly its clamped end."""
    import keras
    from edgekit.firmware_export.tflite_reader import read_tflite
    from edgekit.reference import run_tflm
    from tests.kernel_harness import run_generated_host
    r = np.random.default_rng(8800 + seed)
    shape = (int(r.integers(1, 4)), int(r.integers(2, 64)))
    m = single_op_model_16x8(lambda ins: keras.layers.Softmax()(ins[0]), [shape], seed,
                             low=-float(r.uniform(2, 40)), high=float(r.uniform(2, 40)))
    g = read_tflite(m)
    s = g.tensors[g.inputs[0]].s
    half = max(1, int(6.0 / s))
    centre = r.integers(-32768 + half, 32768 - half, (16, 1, shape[0], 1))
    xs = np.clip(centre + r.integers(-half, half + 1, (16, 1) + shape), -32768, 32767)
    xs = xs.astype(np.int16)
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_host(m, xs)
    ref = ref.reshape(got.shape)
    assert np.array_equal(got, ref), (
        f"seed={seed} shape={shape}: {int(np.sum(got != ref))} of {got.size} differ, "
        f"max diff {int(np.max(np.abs(got.astype(int) - ref.astype(int))))}")
    assert len(np.unique(got)) > 16   # not a trivial output


def test_softmax_s16_exp_table_matches_libm_expf():
    """The export's exp (double, rounded to float32) gives the table TFLM's
    std::exp(float) -> expf builds on this host."""
    import ctypes
    import ctypes.util
    from edgekit.firmware_export.ops.s16 import gen_lut_s16, softmax_luts
    name = ctypes.util.find_library("m")
    if not name:
        missing("no C math library")
    expf = ctypes.CDLL(name).expf
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    table = gen_lut_s16(lambda x: np.float32(expf(float(x))), -10.0, 0.0)
    assert tuple(table) == softmax_luts()[0]
