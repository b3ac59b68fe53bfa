"""Keras 3 layers of the tiny transformer, built for full-int8 microcontroller graphs.

Both layers only use operations with static shapes (the sequence length and
width are read from the input shape when the layer is built), so that with a
batch size of 1 the TFLite converter emits nothing but ``FULLY_CONNECTED``,
``RESHAPE``, ``TRANSPOSE``, ``BATCH_MATMUL``, ``SOFTMAX`` and ``ADD`` -- no
``SHAPE``/``GATHER``/``REDUCE_PROD`` shape arithmetic and no float islands.

* :class:`PositionalEmbedding` adds a learned ``(sequence, width)`` table to
  its input (one int8 ``ADD`` with a constant operand).
* :class:`StaticSelfAttention` is multi-head scaled dot-product
  self-attention written out with Dense projections, reshapes, transposes and
  ``keras.ops.matmul`` (``BATCH_MATMUL``), instead of
  ``keras.layers.MultiHeadAttention`` (whose ``einsum`` formulation converts
  to dynamic-shape ops).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from edgekit.errors import ConfigError
from edgekit.models import checks

__all__ = ["DecomposedLayerNormalization", "PositionalEmbedding", "StaticSelfAttention"]


@keras.saving.register_keras_serializable(package="edgekit")
class PositionalEmbedding(layers.Layer):
    """Add a learned positional embedding to a ``(batch, sequence, width)`` input.

    The table has one row per position and is added as a constant, so after
    conversion it is a single int8 ``ADD`` with a constant operand.

    Parameters
    ----------
    initializer_stddev : float
        Standard deviation of the truncated-normal initialisation of the
        table (BERT uses 0.02).
    **kwargs
        Standard ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Raises
    ------
    ConfigError
        If ``initializer_stddev`` is not positive, or (when built) the input
        is not 3-D with static sequence length and width.
    """

    def __init__(self, initializer_stddev: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        try:
            stddev = float(initializer_stddev)
        except (TypeError, ValueError):
            raise ConfigError(
                f"initializer_stddev must be a number (got {initializer_stddev!r})"
            ) from None
        if not stddev > 0:
            raise ConfigError(f"initializer_stddev must be > 0 (got {initializer_stddev})")
        self.initializer_stddev = stddev

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ConfigError(
                f"PositionalEmbedding needs a static (batch, sequence, width) input "
                f"(got {tuple(input_shape)})"
            )
        self.table = self.add_weight(
            name="table",
            shape=(int(input_shape[1]), int(input_shape[2])),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_stddev),
            trainable=True,
        )

    def call(self, inputs):
        return inputs + ops.expand_dims(self.table, 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"initializer_stddev": self.initializer_stddev})
        return config


@keras.saving.register_keras_serializable(package="edgekit")
class StaticSelfAttention(layers.Layer):
    """Multi-head scaled dot-product self-attention with static shapes.

    For an input ``x`` of shape ``(batch, T, width)``::

        q, k, v = Dense(H*dk)(x) / sqrt(dk), Dense(H*dk)(x), Dense(H*dk)(x)
        q, v    -> reshape (batch, T, H, dk) -> transpose (batch, H, T, dk)
        k       -> reshape (batch, T, H, dk) -> transpose (batch, H, dk, T)
        a       = softmax(matmul(q, k))                     # (batch, H, T, T)
        o       = matmul(a, v) -> transpose (batch, T, H, dk) -> reshape (batch, T, H*dk)
        y       = Dense(output_dim)(o)

    With one head there is no head split (the converted graph has no
    ``RESHAPE``/``TRANSPOSE`` for the attention).  ``1 / sqrt(dk)`` multiplies
    the query projection, where the converter folds it into the query weights
    and bias (no extra op).  Converted with a batch size of 1, the layer
    becomes ``FULLY_CONNECTED``, ``RESHAPE``, ``TRANSPOSE``, ``BATCH_MATMUL``
    and ``SOFTMAX`` ops only.

    Parameters
    ----------
    num_heads : int
        Number of attention heads ``H``.
    key_dim : int
        Width ``dk`` of each head's queries, keys and values.
    output_dim : int, optional
        Width of the output projection (default: the input width, so the
        output can be added to the input as a residual).
    use_bias : bool
        Whether the four projections have a bias.
    **kwargs
        Standard ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Raises
    ------
    ConfigError
        If a hyper-parameter is not a positive int, or (when built) the
        input is not 3-D with a static sequence length and width.
    """

    def __init__(self, num_heads: int, key_dim: int, output_dim: int | None = None,
                 use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = checks.positive_int(num_heads, "num_heads")
        self.key_dim = checks.positive_int(key_dim, "key_dim")
        if output_dim is not None:
            checks.positive_int(output_dim, "output_dim")
        self.output_dim = output_dim
        self.use_bias = bool(use_bias)
        inner = self.num_heads * self.key_dim
        self.query = layers.Dense(inner, use_bias=self.use_bias, name="query")
        self.key = layers.Dense(inner, use_bias=self.use_bias, name="key")
        self.value = layers.Dense(inner, use_bias=self.use_bias, name="value")
        self.out = None
        self.seq_len = None

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ConfigError(
                f"StaticSelfAttention needs a static (batch, sequence, width) input "
                f"(got {tuple(input_shape)})"
            )
        self.seq_len = int(input_shape[1])
        width = int(input_shape[2])
        out_dim = self.output_dim or width
        for dense in (self.query, self.key, self.value):
            dense.build(input_shape)
        self.out = layers.Dense(out_dim, use_bias=self.use_bias, name="output")
        self.out.build((input_shape[0], self.seq_len, self.num_heads * self.key_dim))

    def _split(self, x, perm):
        """(batch, T, H*dk) -> (batch, T, H, dk) -> transposed by ``perm``."""
        x = ops.reshape(x, (-1, self.seq_len, self.num_heads, self.key_dim))
        return ops.transpose(x, perm)

    def call(self, inputs):
        # 1/sqrt(dk) on the queries: the converter folds it into their weights.
        q = self.query(inputs) * (1.0 / math.sqrt(self.key_dim))
        k = self.key(inputs)
        v = self.value(inputs)
        if self.num_heads == 1:
            scores = ops.matmul(q, ops.transpose(k, (0, 2, 1)))  # (B, T, T)
            weights = ops.softmax(scores, axis=-1)
            ctx = ops.matmul(weights, v)  # (B, T, dk)
        else:
            q = self._split(q, (0, 2, 1, 3))  # (B, H, T, dk)
            k = self._split(k, (0, 2, 3, 1))  # (B, H, dk, T)
            v = self._split(v, (0, 2, 1, 3))  # (B, H, T, dk)
            scores = ops.matmul(q, k)  # (B, H, T, T)
            weights = ops.softmax(scores, axis=-1)
            ctx = ops.matmul(weights, v)  # (B, H, T, dk)
            ctx = ops.transpose(ctx, (0, 2, 1, 3))
            ctx = ops.reshape(ctx, (-1, self.seq_len, self.num_heads * self.key_dim))
        return self.out(ctx)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.output_dim or input_shape[2])

    def count_macs(self) -> int:
        """Multiply-accumulates of one example (the layer must be built).

        ``3 * T * width * H * dk`` (query/key/value projections)
        ``+ 2 * H * T * T * dk`` (``q k^T`` and ``a v``)
        ``+ T * H * dk * output_dim`` (output projection); biases, the
        softmax and the reshapes are not counted.
        """
        if self.out is None:
            raise ConfigError(f"layer {self.name!r} is not built yet")
        t, inner = self.seq_len, self.num_heads * self.key_dim
        width = int(self.query.kernel.shape[0])
        out_dim = int(self.out.units)
        projections = 3 * t * width * inner + t * inner * out_dim
        return projections + 2 * self.num_heads * t * t * self.key_dim

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "output_dim": self.output_dim,
            "use_bias": self.use_bias,
        })
        return config


@keras.saving.register_keras_serializable(package="edgekit")
class DecomposedLayerNormalization(layers.Layer):
    """Layer normalisation over the last axis, written with int8-convertible ops.

    ``y = (x - mean(x)) * rsqrt(mean((x - mean(x))**2) + epsilon) * gamma + beta``

    ``keras.layers.LayerNormalization`` converts to a graph with float
    ``DEQUANTIZE``/``NEG``/``QUANTIZE`` islands; this formulation converts to
    int8 ``MEAN``, ``SUB``, ``SQUARED_DIFFERENCE`` (or ``MUL``), ``ADD``,
    ``RSQRT`` and ``MUL`` only.

    Parameters
    ----------
    epsilon : float
        Added to the variance (> 0).
    **kwargs
        Standard ``keras.layers.Layer`` arguments.

    Raises
    ------
    ConfigError
        If ``epsilon`` is not positive.
    """

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        try:
            eps = float(epsilon)
        except (TypeError, ValueError):
            raise ConfigError(f"epsilon must be a number (got {epsilon!r})") from None
        if not eps > 0:
            raise ConfigError(f"epsilon must be > 0 (got {epsilon})")
        self.epsilon = eps

    def build(self, input_shape):
        width = input_shape[-1]
        if width is None:
            raise ConfigError(f"DecomposedLayerNormalization needs a static last axis "
                              f"(got {tuple(input_shape)})")
        self.gamma = self.add_weight(name="gamma", shape=(int(width),), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(int(width),), initializer="zeros")

    def call(self, inputs):
        centred = inputs - ops.mean(inputs, axis=-1, keepdims=True)
        var = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        return centred * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
