"""Instructions of spiking LMUFormer variants with spikes in front of more layers (Cortex-M4, QEMU).

Issue 14 asks for a spiking_lmuformer at <= 0.6x the lmuformer's instructions.
This script builds the zoo spiking_lmuformer's layout with LIF neurons added
in front of the layers that are dense today, quantizes it on random
calibration data (random weights, as the zoo rows of ``benchmarks/run.py``),
runs the generated C under QEMU (bit-exact check against tflite_micro) and
prints the total and the per-op instructions.  Variants (letters combine):

``base``
    The preset without ``spiking_memory``: spikes feed W_u, W_x (the LMU
    input FCs) and mix2.
``x``
    A LIF neuron on the residual ``x1 = x0 + h`` in front of ``mix1``.
``m``
    A LIF neuron on the batch-normalized LMU memory in front of W_m (the
    LMU hidden FC), as in the spiking LMU of Liu et al. (2024).
``u``
    A LIF neuron on the batch-normalized memory input ``u`` (Liu et al.).
``d0``
    The memory neuron of ``m`` without leak (decay 0).

Measured (48 x 40 front-end features, 24 steps; rates: of the event-driven
layer's input on the benchmark input, random weights; all bit-exact).
Issue 14's session 23, with a LIF neuron at about 26 instructions per element
and step (plus 6 to 8 for its current clip) and an event-driven layer at about
40 per output before any active input::

    variant  instructions  text (B)  against base
    base     1,270,080     63,228    -
    x        1,301,920     64,296    mix1 event-driven 120,760 (rate 0.201) vs dense
                                     124,240; + LIF 30,800 + current clip 13,880
    m        1,308,200     64,888    W_m event-driven 50,520 (rate 0.012) vs dense
                                     206,080; + LIF on 128 channels 80,080 + clip
                                     18,440; depthwise memory 354,680 vs 267,760
                                     (the memory's batch norm folded into it)
    u        1,124,160     63,684    LIF on u 4,040; the memory reads spikes and runs
                                     event-driven (EK_SPIKE_DW): 109,440 (rate 0.084)

Session 24 (a whole LIF layer is one table-driven call with its clip folded
in, about 12 instructions per element and step; the event-driven layers
requantize in their blocks; an ADD of two spike tensors is a table)::

    variant  instructions  text (B)  against u
    u        919,480       62,356    -
    xu       888,280       62,864    mix1 event-driven 91,520 (rate 0.192) vs dense
                                     124,200; + LIF 14,120
    mu       785,360       63,488    W_m event-driven 34,440 (rate 0.002) vs dense
                                     206,040; + LIF on 128 channels 37,520
    xmu      754,600       64,312    both: 0.65x the lmuformer's 1,168,760

Spikes in front of mix1 and W_m now pay.  Since session 25 both are
options of the model (:func:`edgekit.models.lmuformer.build_spiking_lmuformer`
``spiking_memory_output`` and ``spiking_mixer_input``; trained figures in
:mod:`edgekit.models.lmuformer`); this script keeps its own layouts.  W_m's rate here (0.002, random
weights) is far below a trained model's (about 0.2 for the other neurons):
at 0.2 its event-driven form would cost about 45 k more.

Session 25 (lifbn25: the head ADD and the batch norm's per-channel ADD/MUL
stages in front of ``lmu_act`` run inside its LIF layer, ``EK_LIF_BN``; the
residual ADD of the spike sum and mix2 by two tables, ``EK_CODE_ADD``; the
causal PAD folded into ``EK_SPIKE_DW``; LIF layers two channels a pass; the
event-driven blocks' requantization without a compare-and-branch clamp)::

    variant  instructions  text (B)  before (session 24)
    u        819,840       62,872    919,480 / 62,356
    xmu      624,920       64,756    754,600 / 64,312: 0.53x the lmuformer

Trained models of spike25 (random input, main -> lifbn25): xmu seed 0
(3 batch-norm stages in front of ``lmu_act``, W_m rate 0.113) 855,000 ->
692,360 (0.59x the lmuformer's 1,168,760), text 64,392 -> 64,708 B; the ``m``
variant 888,720 -> 744,040.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/spiking_variants.py base x m``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402


def build_variant(variant: str, shape, dim=48, order=8, memory_d=16, hidden=96):
    """The zoo spiking_lmuformer layout with the LIF neurons of ``variant`` added."""
    import keras  # noqa: PLC0415

    from edgekit.models import lmu as lmu_mod  # noqa: PLC0415
    from edgekit.models import spiking as spk  # noqa: PLC0415

    frames, mels = shape
    steps = frames // 2
    ops = keras.ops

    def bn(name):
        return keras.layers.BatchNormalization(momentum=0.9, name=name)

    def lif(name, decay=0.5):
        return spk.LIF(threshold=1.0, decay=decay, reset="hard", name=name)

    lmu = lmu_mod.LMU(dim, order=order, memory_d=memory_d, activation=None, name="lmu")
    lmu.build((None, steps, dim))
    kernel = lmu._kernel_np  # noqa: SLF001 (the window kernel, a constant)

    def memory(u):
        z = ops.pad(ops.expand_dims(u, 2), [[0, 0], [steps - 1, 0], [0, 0], [0, 0]])
        m = ops.depthwise_conv(z, ops.convert_to_tensor(kernel), strides=1, padding="valid")
        return ops.reshape(m, (-1, steps, memory_d * order))

    inp = keras.Input((frames, mels), name="features")
    x = keras.layers.ZeroPadding1D((2, 0), name="patch_pad")(inp)
    x = keras.layers.Conv1D(dim, 4, strides=2, use_bias=False, name="patch_conv")(x)
    x0 = lif("patch_act")(bn("patch_bn")(x))
    u = keras.layers.Dense(memory_d, name="w_u")(x0)
    if "u" in variant:
        u = lif("u_act")(bn("u_bn")(u))
    m = keras.layers.Lambda(memory, name="memory")(u)
    if "m" in variant:
        m = lif("m_act", 0.0 if "d0" in variant else 0.5)(bn("m_bn")(m))
    h = keras.layers.Add(name="h_sum")([keras.layers.Dense(dim, use_bias=False, name="w_m")(m),
                                        keras.layers.Dense(dim, name="w_x")(x0)])
    x1 = keras.layers.Add(name="lmu_res")([x0, lif("lmu_act")(bn("lmu_bn")(h))])
    h = lif("mix_in_act")(x1) if "x" in variant else x1
    h = keras.layers.Conv1D(hidden, 1, use_bias=False, name="mix1")(h)
    h = lif("mix_act")(bn("mix1_bn")(h))
    h = bn("mix2_bn")(keras.layers.Conv1D(dim, 1, use_bias=False, name="mix2")(h))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(keras.layers.Add(name="mix_res")([x1, h]))
    out = keras.layers.Dense(10, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name=f"spiking_{variant}")


def main(variants: list[str]) -> int:
    import keras  # noqa: PLC0415

    from edgekit.frontend.features import default_frontend_features  # noqa: PLC0415
    from edgekit.quantize.int8 import quantize_int8  # noqa: PLC0415

    features = default_frontend_features("fsdd")
    calib = features.dequantize(np.random.default_rng(0).integers(-128, 128,
                                                                  (64, *features.shape)))
    for variant in variants:
        keras.utils.set_random_seed(0)
        tfl = quantize_int8(build_variant(variant, features.shape), calib, num_samples=64)
        with tempfile.TemporaryDirectory() as tmp:
            r = bench.measure(tfl, variant, Path(tmp))
        print(f"{variant}: {r['instr']:,} instructions, text {r['text']:,} B, "
              f"bit-exact {r['bit_exact']}")
        for p in r["per_op"]:
            if p["instructions"] >= 4000:
                rate = f"  spike rate {p['spike_rate']:.3f}" if "spike_rate" in p else ""
                print(f"    {p['index']:5d} {p['op']:22s} {p['instructions']:>9,}{rate}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["base"]))
