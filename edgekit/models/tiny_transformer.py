"""Tiny BERT-style transformer for log-mel spectrograms (Elliott et al., 2021).

Every building block is chosen so that the full-int8 TFLite graph (batch 1)
contains only static shapes and kernels that ``tflite_micro`` and edgekit's
code generator run; see :func:`build_tiny_transformer` for the layout, the
choices and their measured cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.errors import ConfigError
from edgekit.models import checks

__all__ = ["build_tiny_transformer", "NORMALIZATIONS", "ACTIVATIONS"]

#: Accepted values of ``norm``.
NORMALIZATIONS = ("batch", "layer", "none")
#: Accepted values of ``activation`` (each has an int8 TFLM kernel).
ACTIVATIONS = ("relu", "relu6", "hard_swish")


def build_tiny_transformer(
    input_shape: Sequence[int] = (64, 40),
    num_classes: int = 10,
    embed_dim: int = 24,
    num_heads: int = 2,
    num_blocks: int = 1,
    ffn_dim: int = 48,
    frame_pool: int = 4,
    *,
    key_dim: int | None = None,
    norm: str = "batch",
    activation: str = "relu",
    dropout: float = 0.1,
    bn_momentum: float = 0.9,
    name: str = "tiny_transformer",
):
    """Build a tiny BERT-style transformer classifier for log-mel spectrograms.

    Layout (``T = frames // frame_pool`` tokens of width ``d = embed_dim``)::

        Input (frames, mels)
        AveragePooling1D(frame_pool)            # (T, mels): mean of adjacent frames
        Dense(d, no bias) -> BatchNorm          # frame embedding (BN folds into it)
        PositionalEmbedding                     # learned (T, d) table, + constant
        num_blocks x [                          # post-norm encoder block (BERT)
            x = Norm(x + StaticSelfAttention(num_heads, key_dim)(x))
            x = Norm(x + Dense(d)(act(Dense(ffn_dim)(x))))
        ]
        GlobalAveragePooling1D -> Dropout -> Dense(num_classes) -> Softmax

    Deployability choices (why not ``MultiHeadAttention`` + ``LayerNorm`` +
    GELU): attention is :class:`~edgekit.models.layers_tiny_transformer.
    StaticSelfAttention` (Dense projections, static reshapes/transposes,
    ``BATCH_MATMUL``, int8 ``SOFTMAX``; ``1/sqrt(dk)`` folds into the query
    weights); activations are ReLU-family or hard-swish (int8 kernels
    exist; GELU has none in TFLM); the default normalisation is batch norm
    (an int8 per-channel ``MUL`` + ``ADD`` after each residual ``ADD``; the
    embedding's batch norm folds into its ``Dense``), whereas
    ``norm="layer"`` converts to ``MEAN``/``SUB``/``SQUARED_DIFFERENCE``/
    ``RSQRT``/``MUL``/``ADD`` chains.
    The pooled head is ``MEAN`` over the tokens.  The int8 graph of the
    preset uses only ``AVERAGE_POOL_2D``, ``RESHAPE``, ``FULLY_CONNECTED``,
    ``ADD``, ``MUL``, ``TRANSPOSE``, ``BATCH_MATMUL``, ``SOFTMAX`` and
    ``MEAN`` (exact list: ``tests/test_models_tiny_transformer.py``).

    Measured on FSDD's official split (2,700 train / 300 test, 64 x 40
    log-mels) with the recipe of ``RECIPES["tiny_transformer"]`` (30 epochs,
    batch 64, Adam 3e-3 cosine, no augmentation; 2-core CPU shared with other
    jobs): the preset has 6,658 parameters (6,514 trainable) and 101,616 MACs
    (Dense layers + attention matmuls, :func:`edgekit.models.count_macs`);
    ``edgekit build --arch tiny_transformer`` trains it in 24-38 s and
    reaches float 0.993 / int8 0.993 test accuracy (``tflite_micro``), with
    the generated C bit-exact with ``tflite_micro`` on the host and on QEMU
    (Cortex-M4, 1.26 M instructions per inference, 22.4 kB flash, 3.2 kB
    arena).  Normalisation choices, same recipe, float / int8 test accuracy
    per seed (standalone training script; QEMU Cortex-M4 instructions of the
    seed-0 model, all bit-exact):

    ===============  ======  ===========  ===========  ===========  ====  ========
    norm             params  seed 0       seed 1       seed 2       ops   instr.
    ===============  ======  ===========  ===========  ===========  ====  ========
    ``"batch"``      6,658   .990 / .983  1.00 / 1.00  .993 / .993  31    1.26 M
    ``"layer"``      6,562   .993 / .993  .983 / .973  .987 / .987  45    1.66 M
    ``"none"``       6,466   .980 / .983  .977 / .980  .990 / .990  27    1.03 M
    ===============  ======  ===========  ===========  ===========  ====  ========

    Means over the seeds (float / int8): batch .994 / .992, layer
    .988 / .984, none .982 / .984.  Batch norm is the default: most accurate,
    int8 within 0.7 point of float on every seed, and at inference only a
    per-channel scale and shift (two int8 ops per norm).  The decomposed
    layer norm is less accurate, lost 1.0 point to int8 on seed 1, and costs
    7 extra ops per norm and 32 % more instructions per inference; no
    normalisation is the cheapest (-18 % instructions) but the least
    accurate in float.  ``keras.layers.LayerNormalization`` itself is not
    deployable: it converts with float ``DEQUANTIZE``/``NEG``/``QUANTIZE``
    islands (``NEG`` has no int8 kernel in edgekit's code generator).

    Parameters
    ----------
    input_shape : sequence of int
        ``(frames, mels)`` of one log-mel spectrogram.
    num_classes : int
        Number of output classes (>= 2).
    embed_dim : int
        Token width ``d`` (hidden size).
    num_heads : int
        Attention heads per block (1-4 are sensible for this size).
    num_blocks : int
        Number of encoder blocks (1-2 are sensible for this size).
    ffn_dim : int
        Hidden width of each block's feed-forward network.
    frame_pool : int
        Frames averaged into one token before the embedding (must divide
        ``frames``); shortens the sequence, the attention cost grows with
        ``(frames / frame_pool) ** 2``.
    key_dim : int, optional
        Width of each head's queries/keys/values (default
        ``embed_dim // num_heads``, at least 1).
    norm : {"batch", "layer", "none"}
        Normalisation after each residual addition.  ``"batch"`` is
        :class:`keras.layers.BatchNormalization` (a per-channel affine map at
        inference), ``"layer"`` is :class:`~edgekit.models.
        layers_tiny_transformer.DecomposedLayerNormalization` (int8 ``MEAN``/
        ``SUB``/``SQUARED_DIFFERENCE``/``RSQRT``/``MUL``/``ADD``), ``"none"``
        leaves the residual sums unnormalised.
    activation : {"relu", "relu6", "hard_swish"}
        Activation of the feed-forward networks.
    dropout : float
        Dropout rate in ``[0, 1)`` before the classifier.
    bn_momentum : float
        Momentum of the batch-norm moving statistics (0.9: short trainings).
    name : str
        Name of the Keras model.

    Returns
    -------
    keras.Model
        Uncompiled functional model mapping ``(batch, frames, mels)`` float32
        to ``(batch, num_classes)`` class probabilities.

    Raises
    ------
    ConfigError
        If a hyper-parameter is out of range, repeating the bad value, e.g.
        ``num_heads must be > 0 (got 0)``.

    References
    ----------
    .. [1] D. Elliott, C. E. Otero, S. Wyatt and E. Martino, "Tiny
       Transformers for Environmental Sound Classification at the Edge",
       arXiv:2103.12157, 2021.
    .. [2] J. Devlin, M.-W. Chang, K. Lee and K. Toutanova, "BERT:
       Pre-training of Deep Bidirectional Transformers for Language
       Understanding", NAACL 2019.

    Examples
    --------
    >>> model = build_tiny_transformer((64, 40), num_classes=10)
    >>> model.output_shape
    (None, 10)
    """
    frames, mels = checks.input_shape(input_shape)
    checks.positive_int(num_classes, "num_classes")
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2 (got {num_classes})")
    checks.positive_int(embed_dim, "embed_dim")
    checks.positive_int(num_heads, "num_heads")
    checks.positive_int(num_blocks, "num_blocks")
    checks.positive_int(ffn_dim, "ffn_dim")
    checks.positive_int(frame_pool, "frame_pool")
    if frames % frame_pool:
        raise ConfigError(f"frame_pool must divide the {frames} frames (got {frame_pool})")
    if key_dim is None:
        key_dim = max(1, embed_dim // num_heads)
    checks.positive_int(key_dim, "key_dim")
    if norm not in NORMALIZATIONS:
        raise ConfigError(f"norm must be one of {', '.join(NORMALIZATIONS)} (got {norm!r})")
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"activation must be one of {', '.join(ACTIVATIONS)} (got {activation!r})"
        )
    try:
        dropout = float(dropout)
        bn_momentum = float(bn_momentum)
    except (TypeError, ValueError):
        raise ConfigError(
            f"dropout and bn_momentum must be numbers (got {dropout!r}, {bn_momentum!r})"
        ) from None
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1) (got {dropout})")
    if not 0.0 < bn_momentum < 1.0:
        raise ConfigError(f"bn_momentum must be in (0, 1) (got {bn_momentum})")

    import keras
    from keras import layers

    from edgekit.models.layers_tiny_transformer import (DecomposedLayerNormalization,
                                                        PositionalEmbedding,
                                                        StaticSelfAttention)

    def normalize(x, label):
        if norm == "batch":
            return layers.BatchNormalization(momentum=bn_momentum, name=f"{label}_bn")(x)
        if norm == "layer":
            return DecomposedLayerNormalization(name=f"{label}_ln")(x)
        return x

    inputs = keras.Input(shape=(frames, mels), name="logmel")
    x = inputs
    if frame_pool > 1:
        x = layers.AveragePooling1D(frame_pool, name="frame_pool")(x)
    x = layers.Dense(embed_dim, use_bias=False, name="embed")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="embed_bn")(x)
    x = PositionalEmbedding(name="position")(x)
    for i in range(1, num_blocks + 1):
        a = StaticSelfAttention(num_heads, key_dim, name=f"block{i}_attn")(x)
        x = layers.Add(name=f"block{i}_attn_add")([x, a])
        x = normalize(x, f"block{i}_attn")
        f = layers.Dense(ffn_dim, activation=activation, name=f"block{i}_ffn1")(x)
        f = layers.Dense(embed_dim, name=f"block{i}_ffn2")(f)
        x = layers.Add(name=f"block{i}_ffn_add")([x, f])
        x = normalize(x, f"block{i}_ffn")
    x = layers.GlobalAveragePooling1D(name="token_pool")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)
