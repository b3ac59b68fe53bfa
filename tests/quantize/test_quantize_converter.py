"""One converter: every entry point gives the same int8 bytes, LIF pass included.

A tiny untrained ``spiking_lmuformer`` (16 unrolled LIF steps per layer) is
converted through :func:`edgekit.quantize.quantize_int8` (the build /
budget / sizing path) and :func:`edgekit.quantize.convert.quantize_model`
(the recipe / ``edgekit quantize`` path) with the same calibration draw.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgekit.models import build_model  # noqa: E402
from edgekit.quantize import quantize_int8  # noqa: E402
from edgekit.quantize.convert import load_float_model, quantize_model, representative_subset  # noqa: E402
from edgekit.quantize.converter import run_converter  # noqa: E402
from edgekit.quantize.passes.graph import load_model  # noqa: E402
from edgekit.quantize.passes.unify_lif_quantization import (  # noqa: E402
    SPIKE_QUANT,
    STEP_ROLES,
    lif_chains,
)

SHAPE = (32, 12)
# without the preset's memory and mixer-input neurons (untrained, they do not fire
# on the calibration data: a zero-range tensor the 16x8 test cannot quantise)
HPARAMS = dict(dim=16, order=4, memory_d=4, patch_kernel=6, patch_stride=2, threshold=0.5,
               spiking_memory_output=False, spiking_mixer_input=False)
N, SEED = 40, 3


@pytest.fixture(scope="module")
def spiking():
    model = build_model("spiking_lmuformer", SHAPE, 4, seed=0, **HPARAMS)
    x = np.random.default_rng(1).normal(size=(60, *SHAPE)).astype(np.float32) * 2
    a = quantize_int8(model, x, num_samples=N, seed=SEED)
    res = quantize_model(model, x, num_samples=N, sampling="random", seed=SEED)
    return model, x, a, res


def _families(tflite):
    """Per LIF chain: role -> set of distinct (scale, zero point) over the steps."""
    model = load_model(tflite)
    graph = model.subgraphs[0]

    def quant(t):
        q = graph.tensors[t].quantization
        return float(q.scale[0]), int(q.zeroPoint[0])

    chains = lif_chains(model, graph)
    out = []
    for chain in chains:
        fam = {}
        for role in STEP_ROLES:
            ts = [st[role] for st in chain if st[role] is not None
                  and not (role == "v" and st["dr_in"] is None)]
            fam[role] = {quant(t) for t in ts}
        out.append((len(chain), fam))
    return out


def test_quantize_int8_and_quantize_model_give_identical_bytes(spiking):
    _, _, a, res = spiking
    assert isinstance(a, bytes) and a[4:8] == b"TFL3"
    assert a == res.tflite
    assert res.passes == ["unify_lif_quantization"]


def test_lif_unification_ran(spiking):
    model, x, a, _ = spiking
    fams = _families(a)
    # 4 LIF layers (patch, LMU memory input u, LMU output, mixer), 32 frames / stride 2
    assert [steps for steps, _ in fams] == [16, 16, 16, 16]
    for _, fam in fams:
        for role, quants in fam.items():
            assert len(quants) == 1, (role, quants)     # one quantisation at every step
        # spikes exactly 0 / 1: codes -128 and 127
        (s,) = fam["s"]
        assert s == (pytest.approx(SPIKE_QUANT[0]), SPIKE_QUANT[1])
    # the converter alone (no pass) quantises the membranes step by step: the pass changed them
    fm = load_float_model(model)
    calib = representative_subset(x, N, SEED)

    def gen():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    raw = run_converter(fm.converter(), gen, "int8")
    assert raw != a
    assert any(len(fam["v"]) > 1 for _, fam in _families(raw))


def test_16x8_gets_no_int8_pass(spiking):
    model, x, _, _ = spiking
    res = quantize_model(model, x, num_samples=N, seed=SEED, activations="int16")
    assert res.passes == [] and res.report["mode"] == "16x8"
