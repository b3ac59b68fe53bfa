"""MEAN golden tests: GlobalAveragePooling2D (with and without keepdims),
GlobalAveragePooling1D and other axes via keras.ops.mean."""

import numpy as np
import pytest

from edgekit.firmware_export.tflite_reader import read_tflite
from tests.kernel_harness import check_golden, single_op_model

SEEDS = range(16)


def _case(seed):
    r = np.random.default_rng(6000 + seed)
    kind = str(r.choice(["gap2d", "gap2d_keep", "gap1d", "axis", "equal_q"]))
    if kind == "gap1d":
        shape = (int(r.integers(1, 30)), int(r.integers(1, 12)))
    else:
        shape = (int(r.integers(1, 12)), int(r.integers(1, 12)), int(r.integers(1, 10)))
    axis = None
    if kind == "axis":
        axis = [[1], [2], [3], [1, 2], [2, 3]][int(r.integers(0, 5))]
    return dict(kind=kind, shape=shape, axis=axis, keep=bool(r.random() < 0.5),
                pre=bool(r.random() < 0.5), lo=float(-r.uniform(0.1, 4)),
                hi=float(r.uniform(0.1, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_bit_exact(seed):
    import keras
    c = _case(seed)

    def build(ins):
        x = ins[0]
        if c["kind"] == "gap2d":
            return keras.layers.GlobalAveragePooling2D()(x)
        if c["kind"] == "gap2d_keep":
            return keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
        if c["kind"] == "gap1d":
            return keras.layers.GlobalAveragePooling1D(keepdims=c["keep"])(x)
        return keras.ops.mean(x, axis=c["axis"], keepdims=c["keep"])

    dataset = None
    if c["kind"] == "equal_q":
        # Calibration samples constant over the reduced axes give the output
        # the input's range: equal scale and zero point (TFLM's plain
        # integer-division mean).
        # Quarter-multiples keep the float means exact.
        c["axis"] = [1, 2]
        c["lo"], c["hi"] = min(-0.25, round(c["lo"] * 4) / 4), max(0.25, round(c["hi"] * 4) / 4)

        def dataset(rng, shapes):
            return [np.full(shapes[0], rng.choice([c["lo"], c["hi"], 0.0]))]

    m = single_op_model(build, [c["shape"]], seed, low=c["lo"], high=c["hi"], dataset=dataset)
    if c["kind"] == "equal_q":
        g = read_tflite(m)
        op = [o for o in g.operators if o.opcode == "MEAN"][0]
        x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
        assert (x.s, x.zp) == (y.s, y.zp), f"seed={seed} case={c}: quantization differs"
    check_golden(m, seed, c, expect_ops=("MEAN",))


@pytest.mark.parametrize("shape,axis", [((7, 5), [0, 2]), ((1, 7, 5), [1, 3])])
def test_mean_over_axes_split_by_a_size_one_axis_bit_exact(shape, axis):
    """Axes that are not contiguous only because of a size-1 axis between them
    (batch 1, or torch's Unsqueeze before a global average pooling)."""
    import keras

    m = single_op_model(lambda ins: keras.ops.mean(ins[0], axis=axis, keepdims=True), [shape],
                        3, low=-2.0, high=3.0)
    g = read_tflite(m)
    op = [o for o in g.operators if o.opcode == "MEAN"][0]
    assert sorted(int(a) % (len(shape) + 1) for a in g.tensors[op.inputs[1]].data) == axis
    check_golden(m, 3, {"shape": shape, "axis": axis}, expect_ops=("MEAN",))
