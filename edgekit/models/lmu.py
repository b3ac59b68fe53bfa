"""Legendre Memory Unit (LMU) layer and the ``lmu`` model-zoo classifier.

The LMU [1]_ keeps a memory ``m_t`` of order ``d`` per memory channel that
optimally compresses the last ``theta`` steps of its input ``u_t`` onto the
first ``d`` shifted Legendre polynomials::

    theta * dm/dt = A m + B u          (continuous Legendre delay system)
    m_t = A_bar m_{t-1} + B_bar u_t    (zero-order hold, step 1)

with ``A[i, j] = (2i + 1) * (-1 if i < j else (-1) ** (i - j + 1))`` and
``B[i] = (2i + 1) * (-1) ** i`` (both divided by ``theta``).  As in the
parallelisable LMU of Chilkuri and Eliasmith [2]_, the memory input
``u_t = W_u x_t + b_u`` does not depend on the previous hidden state, so the
memory is a linear time-invariant filter of ``u``:

    m_t = sum_{k=0..t} H[k] u_{t-k},     H[k] = A_bar^k B_bar

and the whole sequence is computed at once -- for training *and*
deployment -- as a causal depthwise convolution over time with the fixed
kernel ``H`` (``PAD`` + ``DEPTHWISE_CONV_2D`` in TFLite; the "window
form").  For streaming, :meth:`LMU.step_window` evaluates that convolution
at one step over a history of ``u`` (the int8 window model's arithmetic),
and :meth:`LMU.step` is the equivalent recurrence (a smaller state, but
rounded at every step in int8).

The hidden state is ``h_t = f(W_m m_t + W_x x_t + b)`` (no hidden-to-hidden
recurrence, so ``h_t`` is computed in parallel too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgekit.errors import ConfigError
from edgekit.models import checks

__all__ = [
    "LMU",
    "build_lmu",
    "legendre_delay_system",
    "zoh_discretize",
    "impulse_response",
    "lmu_recurrence",
]


def legendre_delay_system(order: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-time Legendre delay system ``(A, B)`` of the LMU.

    Parameters
    ----------
    order : int
        Memory order ``d`` (number of Legendre coefficients), > 0.
    theta : float
        Length of the remembered window in time steps, > 0.

    Returns
    -------
    A : numpy.ndarray
        ``(order, order)`` float64 state matrix.
    B : numpy.ndarray
        ``(order, 1)`` float64 input matrix.

    References
    ----------
    .. [1] A. Voelker, I. Kajic and C. Eliasmith, "Legendre Memory Units:
       Continuous-Time Representation in Recurrent Neural Networks",
       NeurIPS 2019, eq. (2).
    """
    order = checks.pos_int(order, "order")
    if not float(theta) > 0:
        raise ConfigError(f"theta must be > 0 (got {theta!r})")
    i = np.arange(order)[:, None]
    j = np.arange(order)[None, :]
    r = (2 * i + 1).astype(np.float64)
    a = np.where(i < j, -1.0, (-1.0) ** (i - j + 1)) * r
    b = r * (-1.0) ** i
    return a / float(theta), b.reshape(order, 1) / float(theta)


def zoh_discretize(a: np.ndarray, b: np.ndarray, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order-hold discretisation ``A_bar = e^(A dt)``, ``B_bar = A^-1 (A_bar - I) B``.

    Parameters
    ----------
    a : numpy.ndarray
        ``(n, n)`` invertible continuous state matrix.
    b : numpy.ndarray
        ``(n, m)`` continuous input matrix.
    dt : float
        Step, > 0.

    Returns
    -------
    tuple of numpy.ndarray
        ``(A_bar, B_bar)`` in float64.
    """
    from scipy.linalg import expm  # noqa: PLC0415

    if not float(dt) > 0:
        raise ConfigError(f"dt must be > 0 (got {dt!r})")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ad = expm(a * float(dt))
    bd = np.linalg.solve(a, (ad - np.eye(len(a))) @ b)
    return ad, bd


def impulse_response(order: int, theta: float, length: int) -> np.ndarray:
    """``H[k] = A_bar^k B_bar`` for ``k = 0 .. length - 1``, shape ``(length, order)``."""
    length = checks.pos_int(length, "length")
    ad, bd = zoh_discretize(*legendre_delay_system(order, theta))
    h = np.empty((length, order), dtype=np.float64)
    x = bd[:, 0]
    for k in range(length):
        h[k] = x
        x = ad @ x
    return h


def lmu_recurrence(u: np.ndarray, order: int, theta: float) -> np.ndarray:
    """Step-by-step float64 LMU memory (reference for tests).

    Parameters
    ----------
    u : numpy.ndarray
        Memory input ``(batch, steps, memory_d)``.
    order, theta
        See :func:`legendre_delay_system`.

    Returns
    -------
    numpy.ndarray
        ``(batch, steps, memory_d * order)`` memories, flattened channel-major
        (index ``j * order + i`` is coefficient ``i`` of memory channel ``j``),
        the layout of :class:`LMU`.
    """
    ad, bd = zoh_discretize(*legendre_delay_system(order, theta))
    u = np.asarray(u, dtype=np.float64)
    batch, steps, md = u.shape
    m = np.zeros((batch, md, order))
    out = np.empty((batch, steps, md * order))
    for t in range(steps):
        m = m @ ad.T + u[:, t, :, None] * bd[:, 0]
        out[:, t] = m.reshape(batch, -1)
    return out


def _keras():
    import keras  # noqa: PLC0415

    return keras


def _lmu_layer_class():
    keras = _keras()
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="edgekit")
    class LMU(keras.layers.Layer):
        """Parallel (non-recurrent-hidden) Legendre Memory Unit.

        Maps ``(batch, steps, features)`` to ``(batch, steps, units)``::

            u_t = W_u x_t + b_u                        (memory_d channels)
            m_t = sum_k H[k] u_{t-k}                   (order coefficients each)
            h_t = activation(W_m m_t + W_x x_t + b)

        With ``u_lif`` ``u_t`` is replaced by the spikes of ``LIF(BN(u_t))``,
        with ``m_lif`` ``m_t`` (in ``h_t``) by those of ``LIF(BN(m_t))``.

        Parameters
        ----------
        units : int
            Size of the hidden output ``h_t``.
        order : int
            Legendre order ``d`` of each memory channel.
        theta : float, optional
            Window length in steps; default: the input's number of steps.
        memory_d : int
            Number of memory channels (the dimension of ``u_t``).
        activation : str or None
            Keras activation of ``h_t`` (``None``: linear).
        use_input_skip : bool
            Add the ``W_x x_t`` term.
        kernel_initializer : str
            Initialiser of ``W_u``, ``W_m`` and ``W_x``.
        u_lif : dict, optional
            Spiking memory input: ``u_t`` goes through a batch norm
            (sublayer ``u_bn``) and a :class:`edgekit.models.spiking.LIF`
            neuron (sublayer ``u_act``, these keyword arguments) before the
            memory, as in the spiking LMU of Liu et al. (2024); the memory's
            depthwise convolution then reads spikes and runs event-driven in
            the generated C.
        m_lif : dict, optional
            Spiking memory: each memory component ``m_t`` goes through a
            batch norm (sublayer ``m_bn``, ``memory_d * order`` channels) and
            a :class:`edgekit.models.spiking.LIF` neuron (sublayer ``m_act``,
            these keyword arguments) before ``W_m``, as in the spiking LMU of
            Liu et al. (2024); ``W_m`` then reads spikes and runs
            event-driven in the generated C.
        bn_momentum : float
            Momentum of ``u_bn`` and ``m_bn``.

        Notes
        -----
        The memory is computed as a causal depthwise convolution over time
        with the fixed (non-trainable, not a Keras weight) kernel ``H``; it
        converts to ``PAD`` + ``DEPTHWISE_CONV_2D``.  :meth:`step` runs one
        time step on an explicit flat memory state (streaming form).

        References
        ----------
        .. [1] A. Voelker, I. Kajic and C. Eliasmith, "Legendre Memory Units",
           NeurIPS 2019.
        .. [2] N. Chilkuri and C. Eliasmith, "Parallelizing Legendre Memory
           Unit Training", ICML 2021.
        """

        def __init__(self, units, order=8, theta=None, memory_d=16, activation="relu",
                     use_input_skip=True, kernel_initializer="glorot_uniform", u_lif=None,
                     bn_momentum=0.9, m_lif=None, **kwargs):
            super().__init__(**kwargs)
            for label, value in (("u_lif", u_lif), ("m_lif", m_lif)):
                if value is not None and not isinstance(value, dict):
                    raise ConfigError(f"{label} must be a dict of LIF arguments or None "
                                      f"(got {value!r})")
            self.u_lif = None if u_lif is None else dict(u_lif)
            self.m_lif = None if m_lif is None else dict(m_lif)
            self.bn_momentum = float(bn_momentum)
            from edgekit.models import spiking as spk  # noqa: PLC0415

            if self.u_lif is not None:
                self.u_bn = keras.layers.BatchNormalization(momentum=self.bn_momentum,
                                                            name="u_bn")
                self.u_act = spk.LIF(name="u_act", **self.u_lif)
            if self.m_lif is not None:
                self.m_bn = keras.layers.BatchNormalization(momentum=self.bn_momentum,
                                                            name="m_bn")
                self.m_act = spk.LIF(name="m_act", **self.m_lif)
            self.units = checks.pos_int(units, "units")
            self.order = checks.pos_int(order, "order")
            self.memory_d = checks.pos_int(memory_d, "memory_d")
            checks.optional_theta(theta)
            self.theta = None if theta is None else float(theta)
            try:
                self.activation = keras.activations.get(activation)
            except (ValueError, TypeError):
                raise ConfigError(f"unknown activation {activation!r}") from None
            self._activation_name = activation
            self.use_input_skip = bool(use_input_skip)
            self.kernel_initializer = kernel_initializer

        def build(self, input_shape):
            steps, feat = input_shape[-2], input_shape[-1]
            if steps is None:
                raise ConfigError("LMU needs a static number of steps")
            self.steps = int(steps)
            theta = self.theta if self.theta is not None else float(self.steps)
            self.theta_eff = theta
            ad, bd = zoh_discretize(*legendre_delay_system(self.order, theta))
            self.a_bar, self.b_bar = ad.astype(np.float32), bd[:, 0].astype(np.float32)
            h = impulse_response(self.order, theta, self.steps).astype(np.float32)
            # depthwise kernel (steps, 1, memory_d, order), time-reversed
            # because convolution layers compute a correlation.
            self._kernel_np = np.ascontiguousarray(
                np.broadcast_to(h[::-1, None, None, :], (self.steps, 1, self.memory_d, self.order)))
            init = self.kernel_initializer
            self.w_u = self.add_weight(name="w_u", shape=(int(feat), self.memory_d),
                                       initializer=init)
            self.b_u = self.add_weight(name="b_u", shape=(self.memory_d,), initializer="zeros")
            self.w_m = self.add_weight(name="w_m", shape=(self.memory_d * self.order, self.units),
                                       initializer=init)
            if self.use_input_skip:
                self.w_x = self.add_weight(name="w_x", shape=(int(feat), self.units),
                                           initializer=init)
            self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
            if self.u_lif is not None:
                self.u_bn.build((None, self.steps, self.memory_d))
            if self.m_lif is not None:
                self.m_bn.build((None, self.steps, self.memory_d * self.order))

        def memory(self, u):
            """Window form: all memories ``(batch, steps, memory_d * order)`` of ``u``."""
            steps = self.steps
            x = ops.expand_dims(u, 2)  # (B, T, 1, memory_d)
            x = ops.pad(x, [[0, 0], [steps - 1, 0], [0, 0], [0, 0]])
            kernel = ops.convert_to_tensor(self._kernel_np)
            m = ops.depthwise_conv(x, kernel, strides=1, padding="valid")
            return ops.reshape(m, (-1, steps, self.memory_d * self.order))

        def _hidden(self, m, x):
            h = ops.matmul(m, self.w_m)
            if self.use_input_skip:
                h = h + ops.matmul(x, self.w_x)
            h = h + self.b
            return self.activation(h) if self.activation is not None else h

        def call(self, x, training=False):
            return self._hidden(self.memory_path(x, training)[1], x)

        def memory_path(self, x, training=False):
            """Window form up to ``W_m``: ``(u, m)``, the memory input and the
            memory, each the spikes of its neuron when ``u_lif`` / ``m_lif`` is set."""
            u = ops.matmul(x, self.w_u) + self.b_u
            if self.u_lif is not None:
                u = self.u_act(self.u_bn(u, training=training), training=training)
            m = self.memory(u)
            if self.m_lif is not None:
                m = self.m_act(self.m_bn(m, training=training), training=training)
            return u, m

        def spike_input(self, x_t, v_prev):
            """Spiking memory input of one step (``u_lif``): ``(spikes, membrane)``.

            ``x_t`` is ``(batch, features)``, ``v_prev`` the ``(batch,
            memory_d)`` reset membrane of the previous step (zeros before
            the first); pass the spikes as ``u`` to :meth:`step_window` or
            :meth:`step`.
            """
            u = ops.expand_dims(ops.matmul(x_t, self.w_u) + self.b_u, 1)   # u_bn takes 3-D
            u = ops.reshape(self.u_bn(u), (-1, self.memory_d))
            return self.u_act.step(self.u_act.clip_current(u), v_prev)

        def spike_memory(self, m_t, v_prev):
            """Spiking memory of one step (``m_lif``): ``(spikes, membrane)``.

            ``m_t`` is the ``(batch, memory_d * order)`` memory of this step,
            ``v_prev`` the reset membrane of the previous step (zeros before
            the first), both of that shape.
            """
            m = ops.reshape(self.m_bn(ops.expand_dims(m_t, 1)), (-1, self.memory_d * self.order))
            return self.m_act.step(self.m_act.clip_current(m), v_prev)

        def _hidden_step(self, m, x_t, v_m):
            """``h_t`` of one step from its memory, through ``m_lif`` if set: ``(h_t, v_m')``."""
            if self.m_lif is None:
                return self._hidden(m, x_t), None
            if v_m is None:
                raise ConfigError(f"LMU {self.name!r} has a spiking memory (m_lif): "
                                  "a step needs its membrane v_m")
            s, v_m = self.spike_memory(m, v_m)
            return self._hidden(s, x_t), v_m

        @staticmethod
        def _with_membrane(h, state, v_m):
            return (h, state) if v_m is None else (h, state, v_m)

        def step(self, x_t, m, scale=None, u=None, v_m=None):
            """One streaming step.

            Parameters
            ----------
            x_t : tensor
                ``(batch, features)`` input of this step.
            m : tensor
                ``(batch, memory_d * order)`` memory after the previous step
                (zeros before the first), divided by ``scale`` if given.
            scale : numpy.ndarray, optional
                ``(memory_d * order,)`` positive per-component scale ``d``: the
                state carried is ``m / d`` (folded into the fixed matrices and
                ``W_m``), so that one int8 scale fits all components.
            u : tensor, optional
                The memory input of this step (default ``W_u x_t + b_u``;
                with ``u_lif``, the spikes of :meth:`spike_input`).
            v_m : tensor, optional
                With ``m_lif`` (required then): the ``(batch, memory_d *
                order)`` reset membrane of the memory neurons after the
                previous step (zeros before the first).

            Returns
            -------
            tuple of tensor
                ``(h_t, m_t)`` (``m_t / d`` with ``scale``); with ``m_lif``
                ``(h_t, m_t, v_m')``.
            """
            eye = np.eye(self.memory_d, dtype=np.float32)
            a_blk = np.kron(eye, self.a_bar.T)  # (md*d, md*d), block diagonal
            b_blk = np.kron(eye, self.b_bar[None, :])  # (md, md*d)
            if u is None:
                u = ops.matmul(x_t, self.w_u) + self.b_u
            if scale is None:
                m = ops.matmul(m, ops.convert_to_tensor(a_blk)) + ops.matmul(
                    u, ops.convert_to_tensor(b_blk))
                h, v_m = self._hidden_step(m, x_t, v_m)
                return self._with_membrane(h, m, v_m)
            d = np.asarray(scale, dtype=np.float64).reshape(-1)
            if d.shape != (self.memory_d * self.order,) or not np.all(d > 0):
                raise ConfigError(
                    f"scale must be {self.memory_d * self.order} positive values (got {d.shape})")
            a_n = (d[:, None] * a_blk / d[None, :]).astype(np.float32)
            b_n = (b_blk / d[None, :]).astype(np.float32)
            m = ops.matmul(m, ops.convert_to_tensor(a_n)) + ops.matmul(
                u, ops.convert_to_tensor(b_n))
            if self.m_lif is not None:     # the neurons see the memory itself: m / d * d
                h, v_m = self._hidden_step(m * ops.convert_to_tensor(d.astype(np.float32)),
                                           x_t, v_m)
                return self._with_membrane(h, m, v_m)
            h = ops.matmul(m, self.w_m * ops.convert_to_tensor(d[:, None].astype(np.float32)))
            if self.use_input_skip:
                h = h + ops.matmul(x_t, self.w_x)
            h = h + self.b
            return (self.activation(h) if self.activation is not None else h), m

        def step_window(self, x_t, u_hist, u=None, v_m=None):
            """One streaming step computing the memory as the window form does.

            The state is the memory input of the previous ``steps - 1`` steps;
            the memory ``m_t = sum_k H[k] u_{t-k}`` is the window form's
            causal convolution evaluated at one time step, as a matrix
            product of each memory channel's input history with the window
            kernel (the same kernel for every channel, so its int8 values and
            per-coefficient scales are the window model's ``DEPTHWISE_CONV_2D``
            ones and the int32 sums are the same; one ``FULLY_CONNECTED``).

            Parameters
            ----------
            x_t : tensor
                ``(batch, features)`` input of this step.
            u_hist : tensor
                ``(batch, memory_d, steps - 1)`` memory inputs ``u`` of the
                previous steps per memory channel, oldest first (zeros
                before the first step); with ``m_lif``, ``(batch, steps - 1,
                memory_d)`` (see the notes).
            u, v_m : tensor, optional
                As for :meth:`step`.

            Returns
            -------
            tuple of tensor
                ``(h_t, u_hist')``: the hidden output ``(batch, units)`` and
                the history shifted by one step; with ``m_lif`` also the
                memory neurons' membrane ``v_m'``.

            Notes
            -----
            With ``m_lif`` the memory is the window form's
            ``DEPTHWISE_CONV_2D`` itself, evaluated at the newest step (a
            ``valid`` convolution over the history): the converter folds
            ``m_bn`` into that convolution's per-channel kernel, as it does
            in the window model, which a ``FULLY_CONNECTED`` with the
            kernel shared by the channels could not reproduce.
            """
            if u is None:
                u = ops.matmul(x_t, self.w_u) + self.b_u
            if self.m_lif is not None:
                win = ops.concatenate([u_hist, ops.expand_dims(u, 1)], axis=1)  # (B, steps, md)
                m = ops.depthwise_conv(ops.expand_dims(win, 2),
                                       ops.convert_to_tensor(self._kernel_np), strides=1,
                                       padding="valid")
                m = ops.reshape(m, (-1, self.memory_d * self.order))
                h, v_m = self._hidden_step(m, x_t, v_m)
                return h, win[:, 1:], v_m
            win = ops.concatenate([u_hist, ops.expand_dims(u, 2)], axis=2)  # (B, md, steps)
            # _kernel_np[p, 0, j, i] = H[steps - 1 - p, i] for every channel j
            kernel = ops.convert_to_tensor(np.ascontiguousarray(self._kernel_np[:, 0, 0, :]))
            m = ops.reshape(ops.matmul(win, kernel), (-1, self.memory_d * self.order))
            h, v_m = self._hidden_step(m, x_t, v_m)
            return self._with_membrane(h, win[:, :, 1:], v_m)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.units)

        def count_macs(self) -> int:
            """MACs of one window-form forward pass (batch 1, full causal kernel)."""
            feat = int(self.w_u.shape[0])
            md, d, t = self.memory_d, self.order, self.steps
            per_step = feat * md + md * d * self.units + (feat * self.units if
                                                         self.use_input_skip else 0)
            return t * per_step + t * t * md * d

        def get_config(self):
            cfg = super().get_config()
            cfg.update(units=self.units, order=self.order, theta=self.theta,
                       memory_d=self.memory_d, activation=self._activation_name
                       if isinstance(self._activation_name, (str, type(None)))
                       else keras.activations.serialize(self.activation),
                       use_input_skip=self.use_input_skip,
                       kernel_initializer=self.kernel_initializer, u_lif=self.u_lif,
                       bn_momentum=self.bn_momentum, m_lif=self.m_lif)
            return cfg

    return LMU


# lazy: importing edgekit.models must not import TensorFlow
__getattr__ = checks.lazy_attr("LMU", _lmu_layer_class)


def build_lmu(
    input_shape: Sequence[int] = (64, 40),
    num_classes: int = 10,
    units: int = 64,
    order: int = 12,
    memory_d: int = 16,
    theta: float | None = None,
    dropout: float = 0.1,
    *,
    name: str = "lmu",
):
    """Build an LMU keyword classifier.

    Layout::

        Input (frames, mels) -> BatchNorm (input standardisation)
        -> LMU(units, order, theta, memory_d, ReLU)   (one step per frame)
        -> mean over time -> Dropout -> Dense(num_classes) -> Softmax

    Parameters
    ----------
    input_shape : sequence of int
        ``(frames, mels)`` of one log-mel spectrogram.
    num_classes : int
        Number of classes (>= 2).
    units : int
        LMU hidden size.
    order : int
        Legendre order ``d`` of each memory channel.
    memory_d : int
        Number of memory channels.
    theta : float, optional
        Memory window in frames (default: ``frames``).
    dropout : float
        Dropout rate in ``[0, 1)`` before the classifier.
    name : str
        Keras model name.

    Returns
    -------
    keras.Model
        Uncompiled model ``(batch, frames, mels) -> (batch, num_classes)``.
        Streams one feature frame per step (see
        :func:`edgekit.models.streaming.build_streaming_model`).

    Raises
    ------
    ConfigError
        If a hyper-parameter is invalid.

    References
    ----------
    .. [1] A. Voelker, I. Kajic and C. Eliasmith, "Legendre Memory Units:
       Continuous-Time Representation in Recurrent Neural Networks",
       NeurIPS 2019.
    """
    frames, mels = checks.input_shape(input_shape)
    num_classes = checks.num_classes(num_classes)
    checks.pos_int(units, "units")
    checks.pos_int(order, "order")
    checks.pos_int(memory_d, "memory_d")
    checks.dropout(dropout)
    keras = _keras()
    from edgekit.models import lmu as _self  # noqa: PLC0415

    inp = keras.Input((frames, mels), name="features")
    x = keras.layers.BatchNormalization(momentum=0.9, name="in_bn")(inp)
    x = _self.LMU(units, order=order, theta=theta, memory_d=memory_d, activation="relu",
                  name="lmu")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    out = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name=name)
