"""RSQRT golden tests.  TFLM fails the op on inputs below the zero point
(negative reals), so inputs are drawn from [zero point, 127]; every such
value is covered."""

import numpy as np
import pytest

from edgekit.firmware_export.tflite_reader import read_tflite
from edgekit.reference import run_tflm
from tests.kernel_harness import opcodes, run_generated_host, single_op_model

SEEDS = range(10)


def _case(seed):
    r = np.random.default_rng(7900 + seed)
    hi = float(r.choice([0.05, 0.5, 2.0, 10.0, 100.0, 1000.0]))
    return dict(shape=(int(r.integers(1, 5)), int(r.integers(1, 9))),
                lo=hi * float(r.choice([0.0, 0.01, 0.3])), hi=hi)


@pytest.mark.parametrize("seed", SEEDS)
def test_rsqrt_bit_exact(seed):
    import tensorflow as tf
    c = _case(seed)
    m = single_op_model(lambda ins: tf.math.rsqrt(ins[0]), [c["shape"]], seed, keras=False,
                        low=c["lo"] + 1e-3, high=c["hi"])
    assert "RSQRT" in opcodes(m), opcodes(m)
    g = read_tflite(m)
    x = g.tensors[g.inputs[0]]
    rsq = next(op for op in g.operators if op.opcode == "RSQRT")
    zp = g.tensors[rsq.inputs[0]].zp
    assert x.zp == zp or opcodes(m) == ["RSQRT"]
    vals = np.arange(zp, 128)
    n_el = int(np.prod(c["shape"]))
    reps = -(-len(vals) // n_el)
    rng = np.random.default_rng(seed)
    xs = np.concatenate([vals, rng.integers(zp, 128, reps * n_el - len(vals))])
    xs = rng.permutation(xs).astype(np.int8).reshape(reps, 1, *c["shape"])
    ref = np.asarray(run_tflm(m, xs))
    got = run_generated_host(m, xs)
    ref = ref.reshape(got.shape)
    bad = np.argwhere(got != ref)
    assert not len(bad), (f"seed={seed} case={c}: {len(bad)} of {got.size} differ, first "
                          f"input {xs.reshape(got.shape)[tuple(bad[0])]}: ours "
                          f"{got[tuple(bad[0])]} tflm {ref[tuple(bad[0])]}")
