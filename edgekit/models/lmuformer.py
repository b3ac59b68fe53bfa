"""LMUFormer and spiking LMUFormer keyword classifiers (Liu et al., ICLR 2024).

Layout (``D = dim``, ``T = frames / patch_stride`` steps)::

    Input (frames, mels)
    -> causal zero pad (patch_kernel - patch_stride frames)
    -> patch embedding: Conv1D(D, patch_kernel, stride patch_stride) -> BN -> act   = x0
    -> LMU(D, order, theta, memory_d) -> BN -> act, + x0 (residual)                   = x1
    -> channel mixer: Conv1D 1x1 (mlp_ratio*D) -> BN -> act -> Conv1D 1x1 (D) -> BN,
       + x1 (residual)                                                              = x2
    -> mean over time -> Dropout -> Dense(num_classes) -> Softmax

``act`` is ReLU (``lmuformer``) or a :class:`edgekit.models.spiking.LIF`
neuron (``spiking_lmuformer``: spikes feed the LMU and the mixer).  Every
block is causal, so the network streams one patch hop (``patch_stride``
feature frames) at a time (:mod:`edgekit.models.streaming`).

Measured
--------
FSDD official split (2,700 train / 300 test, 64 x 40 log-mels), the
recipes of :data:`edgekit.models.registry.RECIPES` (16 epochs, batch 64,
lr 3e-3, seed 0), on the shared 2-core CPU (training times vary 2x with
the other jobs on the machine):

=================  ======  =======  =====  =====  =====  ========  ========
arch               params  MACs     float  int8   train  int8 ops  stream
                                           TFLM   (s)              dec. eq.
=================  ======  =======  =====  =====  =====  ========  ========
lmu                16,378  1.78 M   0.990  0.990  52-198 13        1.000
lmuformer          27,626  0.97 M   0.997  0.997  29-52  23        1.000
spiking_lmuformer  27,626  0.97 M   0.983  0.983  46-100 1,084     1.000
=================  ======  =======  =====  =====  =====  ========  ========

* int8 LiteRT accuracy equals TFLM's for all three; edgekit's generated C
  is bit-exact with TFLite Micro on the 300 quantised test inputs and on
  random int8 inputs.
* spiking_lmuformer: spike rates 0.188 (patch_act), 0.189 (lmu_act),
  0.176 (mix_act), 0.182 overall; no non-binary spike in float or int8.
  Each LIF tensor is quantised alike at every unrolled step
  (:func:`edgekit.quantize.passes.unify_lif_quantization.unify_lif_quantization`; int8 accuracy
  0.987 before, with per-step scales: one near-tie clip, also wrong in
  float, flipped).
  Its LIF recurrence is unrolled over the 32 steps with elementwise ops
  (``STRIDED_SLICE`` 96, ``MUL`` 664, ``ADD`` 290, ``CONCATENATION`` 15), a
  304 kB flatbuffer; the other int8 ops are those of ``lmuformer``.
  Earlier variants: without the bounded input current the int8 model
  lost 1.7 points (0.990 -> 0.973).
* ``spiking_memory`` (the zoo preset since issue 14's session 23): a LIF
  neuron on the batch-normalized LMU memory input ``u`` (16 neurons, as
  in the spiking LMU of Liu et al.), so the memory, a causal depthwise
  convolution over the steps, reads spikes and runs event-driven in the
  generated C (``EK_SPIKE_DW``).  Cortex-M4 (QEMU), random weights (zoo
  rows of ``benchmarks/run.py``): 1,307,000 -> 1,107,840 instructions
  (lmuformer 1,168,760: 1.12x -> 0.95x; the memory 267,760 -> 79,600),
  streaming call 96,200 -> 97,600 (lmuformer 98,600).  Trained (FSDD
  official split, seed 0, the front-end features 48 x 40): float / int8
  0.990 / 0.990 (without it 0.987 / 0.987), 27,690 params, spike rate
  of the memory input 0.20 (its padded input 0.10); firmware
  (``edgekit build --arch spiking_lmuformer``) 1,194,567 instructions
  (lmuformer's 1,219,360: 0.98x; without ``spiking_memory`` 1,315,340),
  the memory 136,350, text 64,264 B, bit-exact on host and QEMU; streaming
  99,973 instructions per hop, final decisions equal to the window
  model's on 300/300 clips.
* Issue 14's session 24 (generated C only, the same int8 model): whole
  LIF layers as one table-driven call with the input clip folded in, the
  residual ``x0 + h`` of two spike tensors as a table, the event-driven
  layers requantizing in their blocks.  Zoo rows (random weights, QEMU,
  bit-exact): 1,107,840 -> 922,600 instructions (lmuformer 1,168,760: 0.95x
  -> 0.79x), text 63,220 -> 61,972 B; streaming call 97,600 -> 86,920
  (lmuformer 98,640: 0.88x), text 52,380 -> 53,724 B.
* More spikes elsewhere (``benchmarks/spiking_variants.py``, random
  weights, QEMU, all bit-exact).  Until issue 14's session 24 a LIF neuron
  in front of ``mix1`` (on ``x1``) or of the LMU hidden FC (on the
  batch-normalized memory, as in the spiking LMU of Liu et al.) added 30 k
  to 40 k instructions: a neuron cost about 26 instructions per element and
  step plus 6 to 8 for its current clip, an event-driven layer about 40
  per output before any active input.  Since then a whole LIF layer is one
  table-driven call with its clip folded in (about 12 per element and
  step) and the event-driven layers requantize in their blocks, and both
  pay: preset layout (``u``) 919,480; with the memory neuron (``mu``)
  785,360 (W_m event-driven 34,440 against 206,040 dense, its LIF on 128
  channels 37,520), text 63,488 B; with the ``x1`` neuron too (``xmu``)
  754,600 (0.65x the lmuformer's 1,168,760; mix1 event-driven 91,240 at
  rate 0.19 against 124,200), text 64,312 B.
* Issue 14's session 25: both are options, ``spiking_memory_output`` (the
  memory neurons, :class:`edgekit.models.lmu.LMU` ``m_lif``) and
  ``spiking_mixer_input`` (``mix_in_act``), with ``rate_penalty`` (a
  spike-rate term in the training loss); the streaming forms carry their
  membranes.  Zoo rows with both (random weights, QEMU, bit-exact):
  765,800 instructions (0.66x the lmuformer's 1,168,760; preset 922,600),
  text 64,120 B; streaming call 64,000 (0.65x the lmuformer's 98,640; its
  memory reads the spike history event-driven).  With the memory neurons
  only: 788,520 (0.67x), text 63,232 B; streaming call 80,200 (0.81x).  Trained (FSDD official
  split, ``edgekit build --arch spiking_lmuformer --set
  model.hparams.spiking_memory_output=true --set
  model.hparams.spiking_mixer_input=true``), float / int8 / instructions
  / flash:

  ========================  ====  =============  =============  =======  ======
  setting                   seed  float          int8 (TFLM)    instr.   flash
  ========================  ====  =============  =============  =======  ======
  preset (u only), 16       0     0.977          0.983          993,734  63,272
  both, 16 epochs           0     0.973          0.970          858,162  64,392
  both, rate_penalty 0.05   0     0.970          0.963          838,780  64,392
  memory neuron only, 16    0     0.980          0.970          889,562  63,888
  memory neuron only, 32    0     0.983          0.980          875,902  63,888
  memory neuron only, 32    1     0.973          0.980          889,939  63,888
  memory neuron only, 32    2     0.980          0.980          893,647  63,888
  both, 32 epochs           0     0.977          0.977          856,325  64,584
  both, 32 epochs           1     0.970          0.977          858,170  64,584
  both, 32 epochs           2     0.967          0.980          866,885  64,584
  ========================  ====  =============  =============  =======  ======

  Spike rates (seed 0, 32 epochs): patch 0.167, memory input 0.139,
  memory 0.147, lmu 0.209, mixer input 0.170, mixer 0.149.  ``rate_penalty``
  0.05 lowered the overall rate from 0.177 to 0.153 (16 epochs), 19 k
  instructions, for 0.7 points of int8 accuracy.  The trained
  stream (seed 0, 16 epochs) ends with the window model's int8 scores on
  300/300 test clips (max |difference| 0), 65,480 instructions per call.
  The memory neurons alone with 32 epochs keep the accuracy of the
  layout without them.  With both neurons the int8 accuracy sits at the
  2-point bound from the lmuformer's int8 0.997 (0.977, 0.977, 0.980), the
  float 0.967-0.977, seed 2's int8 1.3 points above its float; an untrained
  model's new neurons may never fire on calibration data, which int16
  (16x8) quantization refuses.
* Issue 14's session 25, generated C (``passes/lif_bn.py``: the lmu_bn
  chain ADD / ADD / MUL / ADD inside the LIF layer; ``passes/code_add.py``;
  the LMU's causal PAD folded into the event-driven depthwise; faster
  event-driven blocks): the same trained models, rebuilt (``edgekit build``
  report, 50 cases): both neurons, 32 epochs, seeds 1 / 2: 693,570 /
  701,842 instructions, flash 64,708 B; seed 0 (its head ADD has no int16
  tables; the stages join the layer without it) 709,840 on the benchmark
  input, flash 65,348 B.  The lmuformer built the same day (seed 0, int8
  0.997): 1,219,442, so 0.57-0.58x.  Both neurons are the zoo preset since
  then (``spiking_memory_output`` and ``spiking_mixer_input``, 32 epochs):
  ``edgekit build --arch spiking_lmuformer`` (seed 0) float / int8 0.977 /
  0.977, 721,902 instructions (mean of 50 cases, 665,400-779,160; 0.59x),
  flash 65,348 B, bit-exact (QEMU and raw audio).  Zoo rows (random
  weights): 638,760 (0.55x the lmuformer's 1,168,760), text 64,756 B;
  streaming call 61,480 (0.62x of 98,640), text 64,076 B.
* "stream dec. eq.": fraction of test clips whose int8 streaming model
  (:mod:`edgekit.models.streaming`, default ``form="window"``; run hop by
  hop in TFLM, states fed back) ends with the same decision as the int8
  window model.  All three end with the window model's int8 scores
  exactly (max |difference| 0; ``spiking_lmuformer`` since its window
  model quantises each LIF tensor alike at every step -- with per-step
  scales it differed on 3 clips, max |difference| 103 of 255).  The
  earlier recurrent form (``form="recurrent"``: LMU memory recurrence and
  a running feature sum, rounded to int8 at every step) reached 0.983 /
  0.997 / 1.000 (max |difference| 52 / 40 / 80); the module notes of
  :mod:`edgekit.models.streaming` have the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.errors import ConfigError
from edgekit.models import checks

__all__ = ["build_lmuformer", "build_spiking_lmuformer"]


def build_lmuformer(
    input_shape: Sequence[int] = (64, 40),
    num_classes: int = 10,
    dim: int = 48,
    order: int = 8,
    memory_d: int = 16,
    theta: float | None = None,
    patch_kernel: int = 4,
    patch_stride: int = 2,
    mlp_ratio: int = 2,
    dropout: float = 0.1,
    *,
    spiking: bool = False,
    threshold: float = 1.0,
    decay: float = 0.5,
    reset: str = "hard",
    spiking_memory: bool = False,
    spiking_memory_output: bool = False,
    spiking_mixer_input: bool = False,
    rate_penalty: float = 0.0,
    bn_momentum: float = 0.9,
    name: str | None = None,
):
    """Build an LMUFormer (or, with ``spiking=True``, a spiking LMUFormer).

    Parameters
    ----------
    input_shape : sequence of int
        ``(frames, mels)``; ``frames`` must be a multiple of ``patch_stride``.
    num_classes : int
        Number of classes (>= 2).
    dim : int
        Embedding width ``D`` (patch channels, LMU hidden size, mixer output).
    order : int
        Legendre order of each LMU memory channel.
    memory_d : int
        Number of LMU memory channels.
    theta : float, optional
        LMU window in steps (default: the number of steps ``T``).
    patch_kernel : int
        Time extent of the patch-embedding convolution (>= ``patch_stride``).
    patch_stride : int
        Hop of the patch embedding (the sequence is shortened by this factor).
    mlp_ratio : int
        Hidden width of the channel mixer is ``mlp_ratio * dim``.
    dropout : float
        Dropout rate in ``[0, 1)`` before the classifier.
    spiking : bool
        Use LIF neurons instead of ReLU (see :func:`build_spiking_lmuformer`).
    threshold, decay, reset
        LIF parameters (spiking only), see :class:`edgekit.models.spiking.LIF`.
    spiking_memory : bool
        Spiking only: the LMU memory input ``u`` passes a batch norm and a LIF
        neuron (:class:`edgekit.models.lmu.LMU` ``u_lif``), so the memory
        reads spikes and runs event-driven in the generated C.
    spiking_memory_output : bool
        Spiking only: the LMU memory passes a batch norm and a LIF neuron per
        component (``memory_d * order``; :class:`edgekit.models.lmu.LMU`
        ``m_lif``) before the hidden FC ``W_m``, as in the spiking LMU of Liu
        et al., so ``W_m`` reads spikes and runs event-driven.
    spiking_mixer_input : bool
        Spiking only: a LIF neuron (``mix_in_act``) on ``x1`` (the residual sum
        of two spike tensors) in front of the mixer's first convolution, so
        that convolution reads spikes; the residual ``x2 = x1 + ...`` keeps
        ``x1``.
    rate_penalty : float
        Spiking only, >= 0: each LIF layer adds ``rate_penalty`` times its mean
        spike rate to the training loss (:class:`edgekit.models.spiking.LIF`).
    bn_momentum : float
        Momentum of the batch-norm moving statistics, in (0, 1).
    name : str, optional
        Keras model name (default ``"lmuformer"`` / ``"spiking_lmuformer"``).

    Returns
    -------
    keras.Model
        Uncompiled model ``(batch, frames, mels) -> (batch, num_classes)``.

    Raises
    ------
    ConfigError
        If a hyper-parameter is invalid.

    References
    ----------
    .. [1] Z. Liu, G. Datta, A. Li and P. A. Beerel, "LMUFormer: Low
       Complexity Yet Powerful Spiking Model With Legendre Memory Units",
       ICLR 2024 (arXiv:2402.04882).
    .. [2] A. Voelker, I. Kajic and C. Eliasmith, "Legendre Memory Units",
       NeurIPS 2019.
    """
    frames, mels = checks.input_shape(input_shape)
    num_classes = checks.num_classes(num_classes)
    for label, value in (("dim", dim), ("order", order), ("memory_d", memory_d),
                         ("patch_kernel", patch_kernel), ("patch_stride", patch_stride),
                         ("mlp_ratio", mlp_ratio)):
        checks.pos_int(value, label)
    if patch_kernel < patch_stride:
        raise ConfigError(
            f"patch_kernel must be >= patch_stride (got {patch_kernel} < {patch_stride})")
    if frames % patch_stride:
        raise ConfigError(
            f"frames must be a multiple of patch_stride (got {frames} frames, stride {patch_stride})")
    checks.dropout(dropout)
    checks.bn_momentum(bn_momentum)
    checks.optional_theta(theta)
    for label, value in (("spiking_memory", spiking_memory),
                         ("spiking_memory_output", spiking_memory_output),
                         ("spiking_mixer_input", spiking_mixer_input)):
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false (got {value!r})")
    if not (isinstance(rate_penalty, (int, float)) and not isinstance(rate_penalty, bool)
            and rate_penalty >= 0):
        raise ConfigError(f"rate_penalty must be >= 0 (got {rate_penalty!r})")
    if spiking:
        from edgekit.models.spiking import check_lif  # noqa: PLC0415

        check_lif(threshold, decay, reset, 4.0, 1e4)
    elif spiking_memory_output or spiking_mixer_input or rate_penalty:
        raise ConfigError(
            "spiking_memory_output, spiking_mixer_input and rate_penalty need spiking=True "
            f"(got {spiking_memory_output!r}, {spiking_mixer_input!r}, {rate_penalty!r})")
    import keras  # noqa: PLC0415

    from edgekit.models import lmu as lmu_mod  # noqa: PLC0415
    from edgekit.models import spiking as spk  # noqa: PLC0415

    lif_args = dict(threshold=threshold, decay=decay, reset=reset)
    if rate_penalty:
        lif_args["rate_penalty"] = float(rate_penalty)

    def act(layer_name):
        if spiking:
            return spk.LIF(name=layer_name, **lif_args)
        return keras.layers.ReLU(name=layer_name)

    def bn(layer_name):
        return keras.layers.BatchNormalization(momentum=bn_momentum, name=layer_name)

    inp = keras.Input((frames, mels), name="features")
    x = inp
    if patch_kernel > patch_stride:
        x = keras.layers.ZeroPadding1D((patch_kernel - patch_stride, 0), name="patch_pad")(x)
    x = keras.layers.Conv1D(dim, patch_kernel, strides=patch_stride, use_bias=False,
                            name="patch_conv")(x)
    x0 = act("patch_act")(bn("patch_bn")(x))
    u_lif = dict(lif_args) if spiking and spiking_memory else None
    m_lif = dict(lif_args) if spiking_memory_output else None
    h = lmu_mod.LMU(dim, order=order, theta=theta, memory_d=memory_d, activation=None,
                    u_lif=u_lif, m_lif=m_lif, bn_momentum=bn_momentum, name="lmu")(x0)
    h = act("lmu_act")(bn("lmu_bn")(h))
    x1 = keras.layers.Add(name="lmu_res")([x0, h])
    h = act("mix_in_act")(x1) if spiking_mixer_input else x1
    h = keras.layers.Conv1D(dim * mlp_ratio, 1, use_bias=False, name="mix1")(h)
    h = act("mix_act")(bn("mix1_bn")(h))
    h = keras.layers.Conv1D(dim, 1, use_bias=False, name="mix2")(h)
    h = bn("mix2_bn")(h)
    x2 = keras.layers.Add(name="mix_res")([x1, h])
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x2)
    x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    out = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    if name is None:
        name = "spiking_lmuformer" if spiking else "lmuformer"
    return keras.Model(inp, out, name=name)


def build_spiking_lmuformer(
    input_shape: Sequence[int] = (64, 40),
    num_classes: int = 10,
    dim: int = 48,
    order: int = 8,
    memory_d: int = 16,
    theta: float | None = None,
    patch_kernel: int = 4,
    patch_stride: int = 2,
    mlp_ratio: int = 2,
    dropout: float = 0.1,
    *,
    threshold: float = 1.0,
    decay: float = 0.5,
    reset: str = "hard",
    spiking_memory: bool = True,
    spiking_memory_output: bool = True,
    spiking_mixer_input: bool = True,
    rate_penalty: float = 0.0,
    bn_momentum: float = 0.9,
    name: str = "spiking_lmuformer",
):
    """Build a spiking LMUFormer: :func:`build_lmuformer` with LIF neurons.

    The three activations (patch embedding, LMU output, channel-mixer hidden
    layer) are :class:`edgekit.models.spiking.LIF` neurons trained with a
    sigmoid surrogate gradient; at inference they emit exactly 0/1 spikes.
    With ``spiking_memory`` (the default) a fourth LIF neuron turns the LMU
    memory input into spikes, and with ``spiking_memory_output`` (the
    default since issue 14's session 25) a fifth the memory itself, in front
    of the LMU hidden FC, and with ``spiking_mixer_input`` (the default too)
    a sixth ``x1`` in front of the mixer's first convolution: every layer
    but the patch embedding then reads spikes.
    The LIF recurrence is unrolled over the ``frames / patch_stride`` steps
    with elementwise int8 ops (``STRIDED_SLICE``, ``MUL``, ``ADD``, ``SUB``,
    ``RELU6``, ``CONCATENATION``).  Parameters as :func:`build_lmuformer`
    (``threshold``: firing threshold > 0; ``decay``: membrane leak in
    ``[0, 1]``; ``reset``: ``"hard"`` or ``"soft"``).

    References
    ----------
    .. [1] Z. Liu, G. Datta, A. Li and P. A. Beerel, "LMUFormer: Low
       Complexity Yet Powerful Spiking Model With Legendre Memory Units",
       ICLR 2024.
    """
    return build_lmuformer(input_shape, num_classes, dim, order, memory_d, theta, patch_kernel,
                           patch_stride, mlp_ratio, dropout, spiking=True, threshold=threshold,
                           decay=decay, reset=reset, spiking_memory=spiking_memory,
                           spiking_memory_output=spiking_memory_output,
                           spiking_mixer_input=spiking_mixer_input, rate_penalty=rate_penalty,
                           bn_momentum=bn_momentum, name=name)
