"""DS-CNN keyword-spotting model (the MLPerf Tiny reference architecture).

The network is built from layers that the TFLite converter turns into the
small set of int8 kernels the firmware generator supports: ``RESHAPE``,
``CONV_2D``, ``DEPTHWISE_CONV_2D``, ``AVERAGE_POOL_2D``, ``FULLY_CONNECTED``
and ``SOFTMAX``.  Batch normalisation layers sit directly after a
convolution so that the converter folds them into the convolution's weights
and bias.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.errors import ConfigError
from edgekit.models import checks

__all__ = ["INITS", "INPUT_NORMS", "build_dscnn", "dct_matrix", "lifter_matrix"]

#: Values of :func:`build_dscnn`'s ``input_norm``.
INPUT_NORMS = ("none", "time_mean")
#: Values of :func:`build_dscnn`'s ``init`` (see :mod:`edgekit.models.pretrained`).
INITS = ("none", "mlperf-kws")


def _pair(value, name: str) -> tuple[int, int]:
    """Return ``value`` as a pair of positive ints, or raise ``ConfigError``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an int or a pair of ints (got {value!r})") from None
    if len(pair) != 2 or any(v <= 0 for v in pair) or any(
        isinstance(v, bool) or int(v) != v for v in value
    ):
        raise ConfigError(f"{name} must be a pair of positive ints (got {value!r})")
    return pair  # type: ignore[return-value]


def build_dscnn(
    input_shape: Sequence[int] = (64, 40),
    num_classes: int = 10,
    width: int = 64,
    num_blocks: int = 4,
    dropout: float = 0.4,
    *,
    first_kernel: Sequence[int] | int = (10, 4),
    first_stride: Sequence[int] | int = (2, 2),
    first_padding: str = "valid",
    weight_decay: float = 0.0,
    bn_momentum: float = 0.9,
    input_norm: str = "none",
    lifter: int = 0,
    cepstra: int = 0,
    init: str = "none",
    freeze: int = 0,
    name: str = "dscnn",
):
    """Build a depthwise-separable CNN for keyword spotting.

    The layout follows the DS-CNN of Zhang et al. as used by the MLPerf Tiny
    keyword-spotting benchmark::

        Input (frames, mels) [-> minus its per-mel mean over frames]
        -> Reshape (frames, mels, 1) [-> fixed cepstral lifter over the mels]
        [-> fixed DCT to ``cepstra`` coefficients -> BN -> Reshape]
        Conv2D(width, first_kernel, first_stride) -> BN -> ReLU
        num_blocks x [DepthwiseConv2D 3x3 -> BN -> ReLU
                      -> Conv2D 1x1 (width) -> BN -> ReLU]
        AveragePooling2D over the whole feature map -> Flatten
        Dropout -> Dense(num_classes) -> Softmax

    Convolutions that feed a batch-norm layer have no bias (the converter
    folds the batch-norm scale and shift into the convolution).  The global
    average pool is an ``AveragePooling2D`` whose window is the full feature
    map, which converts to ``AVERAGE_POOL_2D`` followed by ``RESHAPE``.

    Parameters
    ----------
    input_shape : sequence of int
        ``(frames, mels)`` of one log-mel spectrogram (no channel axis; the
        model adds it with a ``Reshape`` layer).
    num_classes : int
        Number of output classes.
    width : int
        Number of filters of the first convolution and of every pointwise
        convolution (64 in the MLPerf Tiny reference).
    num_blocks : int
        Number of depthwise-separable blocks (4 in the reference).
    dropout : float
        Dropout rate in ``[0, 1)`` applied before the classifier.
    first_kernel : int or pair of int
        Kernel ``(time, frequency)`` of the first convolution; the reference
        uses the non-square ``(10, 4)``.
    first_stride : int or pair of int
        Stride of the first convolution; the reference uses ``(2, 2)``.
    first_padding : {"valid", "same"}
        Padding of the first convolution.  The reference uses ``"same"``;
        the default ``"valid"`` avoids zero-padding the (un-normalised,
        mostly negative) log-mel input at the spectrogram borders.
    weight_decay : float
        L2 regularisation factor on convolution and dense kernels (the
        reference uses ``1e-4``); ``0`` disables it.
    bn_momentum : float
        Momentum of the batch-norm moving statistics.  Keras' default 0.99
        needs several hundred steps to forget its initial values, which
        matters for short trainings on un-normalised log-mels (mean around
        -9), so the default here is 0.9.
    input_norm : {"none", "time_mean"}
        ``"time_mean"`` subtracts from every mel channel its mean over the
        input's frames (per-utterance cepstral-mean-style normalisation,
        which removes a constant gain and the speaker's / microphone's
        long-term spectral tilt from the log features).  It converts to int8
        ``MEAN`` (over the frames, kept dims) and a broadcasting ``SUB``.
    lifter : int
        If > 0, every frame's log-mel vector is smoothed across the mels by
        keeping only its first ``lifter`` DCT-II (cepstral) coefficients
        (:func:`lifter_matrix`; removes pitch harmonics, keeps the spectral
        envelope).  A fixed, non-trainable ``CONV_2D`` with a ``(1, mels)``
        kernel and ``mels`` filters, then a ``RESHAPE``.  0: off.
    cepstra : int
        If > 0, every frame's log-mel vector is replaced by its first
        ``cepstra`` DCT-II coefficients as ``tf.signal.mfccs_from_log_mel_spectrograms``
        computes them (:func:`dct_matrix` with ``orthonormal=False``): a fixed
        ``CONV_2D`` with a ``(1, mels)`` kernel and ``cepstra`` filters, then a
        trainable per-coefficient batch norm (the converter folds it into
        the fixed convolution's weights and bias), then a ``RESHAPE`` to
        ``(frames, cepstra, 1)``.  0: off (the first convolution reads the mels).
    init : {"none", "mlperf-kws"}
        ``"mlperf-kws"`` starts the network from MLPerf Tiny's keyword-spotting
        DS-CNN trained on Speech Commands (:func:`edgekit.models.pretrained.load_mlperf_kws`;
        needs ``cepstra=10``, ``width=64``, ``num_blocks=4``,
        ``first_kernel=(10, 4)``; the classifier is loaded too when
        ``num_classes`` is 12, else it stays freshly initialised).
    freeze : int
        Stages kept fixed in training (with ``init``): 1 freezes the first
        convolution and its batch norm (statistics too), each further one the
        next depthwise-separable block.  0: all trainable.
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
        If a hyper-parameter is out of range or the input is too small for
        the first convolution.

    References
    ----------
    .. [1] Y. Zhang, N. Suda, L. Lai and V. Chandra, "Hello Edge: Keyword
       Spotting on Microcontrollers", arXiv:1711.07128, 2017.
    .. [2] C. Banbury et al., "MLPerf Tiny Benchmark", NeurIPS Datasets and
       Benchmarks Track, 2021 (arXiv:2106.07597).

    Examples
    --------
    >>> model = build_dscnn((64, 40), num_classes=10, width=32)
    >>> model.output_shape
    (None, 10)
    """
    frames, mels = checks.input_shape(input_shape)
    for label, value in (("num_classes", num_classes), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{label} must be > 0 (got {value})")
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2 (got {num_classes})")
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 0:
        raise ConfigError(f"num_blocks must be >= 0 (got {num_blocks})")
    checks.dropout(dropout)
    if float(weight_decay) < 0.0:
        raise ConfigError(f"weight_decay must be >= 0 (got {weight_decay})")
    checks.bn_momentum(bn_momentum)
    if input_norm not in INPUT_NORMS:
        raise ConfigError(f"input_norm must be one of {', '.join(INPUT_NORMS)} "
                          f"(got {input_norm!r})")
    if isinstance(lifter, bool) or not isinstance(lifter, int) or not 0 <= lifter <= mels:
        raise ConfigError(f"lifter must be an integer in [0, {mels}] (got {lifter!r})")
    if isinstance(cepstra, bool) or not isinstance(cepstra, int) or not 0 <= cepstra <= mels:
        raise ConfigError(f"cepstra must be an integer in [0, {mels}] (got {cepstra!r})")
    if init not in INITS:
        raise ConfigError(f"init must be one of {', '.join(INITS)} (got {init!r})")
    if isinstance(freeze, bool) or not isinstance(freeze, int) or not 0 <= freeze <= num_blocks + 1:
        raise ConfigError(f"freeze must be an integer in [0, {num_blocks + 1}] (got {freeze!r})")
    if init == "mlperf-kws" and (cepstra or mels) != 10:
        raise ConfigError("init='mlperf-kws' needs 10 cepstral coefficients at the first "
                          f"convolution: cepstra=10, or 10 input features (got {cepstra or mels})")
    if first_padding not in ("valid", "same"):
        raise ConfigError(f"first_padding must be 'valid' or 'same' (got {first_padding!r})")
    kernel = _pair(first_kernel, "first_kernel")
    stride = _pair(first_stride, "first_stride")
    bins = cepstra or mels
    if first_padding == "valid" and (kernel[0] > frames or kernel[1] > bins):
        raise ConfigError(
            f"first_kernel {kernel} is larger than the input {(frames, bins)}"
        )

    import keras
    from keras import layers

    reg = keras.regularizers.L2(weight_decay) if weight_decay > 0 else None

    inputs = keras.Input(shape=(frames, mels), name="logmel")
    x = inputs
    if input_norm == "time_mean":
        mean = layers.GlobalAveragePooling1D(keepdims=True, name="time_mean")(x)
        x = layers.Subtract(name="minus_time_mean")([x, mean])
    x = layers.Reshape((frames, mels, 1), name="add_channel")(x)
    if lifter:
        lift = layers.Conv2D(mels, (1, mels), use_bias=False, trainable=False, name="lifter")
        x = lift(x)
        lift.set_weights([lifter_matrix(mels, lifter).T.reshape(1, mels, 1, mels)])
        x = layers.Reshape((frames, mels, 1), name="lifter_channel")(x)
    if cepstra:
        dct = layers.Conv2D(cepstra, (1, mels), use_bias=False, trainable=False, name="dct")
        x = dct(x)
        dct.set_weights([dct_matrix(mels, cepstra, orthonormal=False).T.reshape(1, mels, 1, cepstra)])
        x = layers.BatchNormalization(momentum=bn_momentum, name="dct_bn")(x)
        x = layers.Reshape((frames, cepstra, 1), name="cepstra_channel")(x)
    x = layers.Conv2D(
        width,
        kernel,
        strides=stride,
        padding=first_padding,
        use_bias=False,
        kernel_regularizer=reg,
        name="conv0",
    )(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="conv0_bn")(x)
    x = layers.ReLU(name="conv0_relu")(x)
    for i in range(1, num_blocks + 1):
        x = layers.DepthwiseConv2D(
            (3, 3),
            padding="same",
            use_bias=False,
            depthwise_regularizer=reg,
            name=f"block{i}_dw",
        )(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{i}_dw_bn")(x)
        x = layers.ReLU(name=f"block{i}_dw_relu")(x)
        x = layers.Conv2D(
            width,
            (1, 1),
            padding="same",
            use_bias=False,
            kernel_regularizer=reg,
            name=f"block{i}_pw",
        )(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{i}_pw_bn")(x)
        x = layers.ReLU(name=f"block{i}_pw_relu")(x)
    pool = tuple(int(d) for d in x.shape[1:3])
    x = layers.AveragePooling2D(pool_size=pool, name="global_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout > 0:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    outputs = layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=reg, name="classifier"
    )(x)
    model = keras.Model(inputs, outputs, name=name)
    if init == "mlperf-kws":
        from edgekit.models.pretrained import load_mlperf_kws  # noqa: PLC0415

        load_mlperf_kws(model)
    frozen = ["conv0"] + [f"block{i}_{k}" for i in range(1, num_blocks + 1) for k in ("dw", "pw")]
    for layer_name in frozen[: 2 * freeze - 1] if freeze else ():
        model.get_layer(layer_name).trainable = False
        model.get_layer(layer_name + "_bn").trainable = False
    return model


def dct_matrix(n: int, keep: int, *, orthonormal: bool = True):
    """The ``(keep, n)`` DCT-II matrix: ``dct_matrix(n, keep) @ v`` is ``v``'s first ``keep`` coefficients.

    ``orthonormal=True`` is scipy's ``dct(v, norm="ortho")``;
    ``orthonormal=False`` is ``tf.signal.mfccs_from_log_mel_spectrograms``'
    scaling, ``dct(v, type=2) / sqrt(2 n)`` (scipy's unnormalised DCT-II,
    ``2 sum v cos(...)``, over ``sqrt(2 n)``), whose coefficient 0 is
    ``sqrt(2)`` times the orthonormal one (the others are equal).

    Parameters
    ----------
    n : int
        Vector length (mel channels).
    keep : int
        Coefficients kept, in [1, n].
    orthonormal : bool
        The scaling, as above.

    Returns
    -------
    numpy.ndarray
        float32 ``(keep, n)``.
    """
    return _dct64(n, keep, orthonormal).astype("float32")


def _dct64(n: int, keep: int, orthonormal: bool):
    """:func:`dct_matrix` in float64."""
    import numpy as np  # noqa: PLC0415

    if not 1 <= keep <= n:
        raise ConfigError(f"keep must be in [1, {n}] (got {keep!r})")
    k = np.arange(keep)[:, None]
    d = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
    if orthonormal:
        d[0] /= np.sqrt(2.0)
    return d


def lifter_matrix(n: int, keep: int):
    """The ``(n, n)`` matrix that keeps the first ``keep`` DCT-II coefficients of a vector.

    ``L = D.T @ diag([1] * keep + [0] * (n - keep)) @ D`` with ``D`` the
    orthonormal DCT-II matrix, so ``L @ v`` is ``v`` smoothed (the inverse
    DCT of its truncated cepstrum); ``keep = n`` gives the identity.

    Parameters
    ----------
    n : int
        Vector length (mel channels).
    keep : int
        Coefficients kept, in [1, n].

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n)``, symmetric.
    """
    d = _dct64(n, keep, True)
    return (d.T @ d).astype("float32")
