"""Leaky integrate-and-fire (LIF) neurons with a surrogate gradient, and spike rates.

A :class:`LIF` layer turns input currents ``I_t`` ``(batch, steps, channels)``
into spikes, one step at a time (the loop over the static number of steps is
unrolled)::

    I_t = clip(I_t, -current_clip, current_clip)     (bounded input current)
    v_t = decay * r_{t-1} + I_t                      (leaky integration)
    s_t = [v_t > threshold]                          (fire)
    r_t = v_t * (1 - s_t)      (reset="hard", to 0)
    r_t = v_t - threshold*s_t  (reset="soft", subtract)

Int8-exact firing
-----------------
The Heaviside step is computed with saturating stages that convert to
``ADD``/``MUL`` with fused ``RELU6`` only::

    z = relu6(gain * (v - threshold))     # 0, or > 0 just above threshold
    s = relu6(255 * relu6(255 * z)) / 6   # exactly 0 or 1

In the int8 graph ``z`` is quantised on ``[0, 6]`` with step ``6/255``, so
every non-zero ``z`` is at least ``6/255`` and ``255 * z`` saturates at 6:
the spikes are exactly 0 or 1 by construction (codes -128 / 127 with
scale 1/255).  The third stage makes float32 exact as well: a non-zero
``gain * (v - threshold)`` is at least ``gain * ulp(threshold)`` (~1e-3 for
``gain = 1e4``, ``threshold = 1``), far above the ``6 / 255**2`` that two
factors of 255 need to saturate (:func:`spike_rates` reports the fraction
of non-binary outputs, ``fractional``: 0 in all measurements).  ``gain``
cannot be much larger: with ``gain = 2**20`` the output multiplier of the
int8 ``SUB`` exceeds 1 and TFLite Micro aborts when it prepares the model.

The graph has no ``SUB``: ``v - threshold`` is written ``v + (-threshold)``,
the hard reset ``v * (1 - s)`` as ``v * (s * -1 + 1)``.  With ``SUB`` ops
edgekit's generated C was not bit-exact with TFLite Micro (its ``SUB`` reuses
the ``ADD`` kernel with a negated multiplier, whose rounding differs on
ties), and subtracting first and then multiplying by ``gain`` (rather than
``v * gain - gain * threshold``) keeps LiteRT's optimised ``ADD`` from
mis-rounding (it agreed with TFLite Micro only on 50% of the spikes).

Input currents are clipped to ``[-current_clip, current_clip]`` (default 3,
i.e. 3x the default threshold) with ``relu6(I + 3) - 3``: currents beyond that
only make the neuron fire or stay silent for longer, and the bound keeps the
int8 scales of the currents and membranes fine (without it the spiking
LMUFormer lost 1.7 points in int8; with it 0).

One quantisation per step
-------------------------
The unrolled steps are separate tensors in the int8 graph, and the
converter calibrates each on its own: a membrane's scale varies by up to
1.7x over the steps (spiking LMUFormer zoo preset).
:func:`unify_lif_quantization` (called by
:func:`edgekit.quantize.quantize_int8`) gives each tensor family of a layer
(membranes, ``v - threshold``, the three saturating stages, spikes, reset
terms, decayed membranes: :data:`STEP_ROLES`) one quantisation covering
the union of the calibrated ranges, spikes exactly ``[0, 1]``, and the
currents the membranes' quantisation (the first step's membrane is the
current).  Every step then runs the same int8 arithmetic, which the
one-step streaming model (:mod:`edgekit.models.streaming`) reproduces bit
for bit.  On the spiking LMUFormer zoo preset (16 epochs) the int8 test
accuracy went from 0.987 to 0.983 (one near-tie clip, which the float
model gets wrong too), and the ``lmu_act`` spikes, which the converter had
quantised on ``[0, 2]`` (a spike was 0.996), are exactly 1 again.

In the generated C
------------------
:func:`edgekit.firmware_export.passes.fuse_lif.fuse_lif` recognizes the
int8 ops of each unrolled step (leak, threshold, saturating stages, hard
reset, decay, and the slice of its current) and runs them as one
``ek_lif_s8`` call with the same int8 results; the steps between the first
and the last of a group share their parameters and run as one loop
(:func:`edgekit.firmware_export.codegen.loop_calls`).  When the steps of a
whole layer read one current tensor and their spikes are joined into one
tensor (the window model), :func:`edgekit.firmware_export.passes.lif_layer.lif_layers`
makes them one ``ek_lif_layer_s8`` call: the membrane stays in a register,
the leak's two inputs are 256-entry tables (the current's with the input
clip folded in; int16 tables whose sum needs no requantization when the
export finds them, else the exact int32 rescalings), about 12 instructions
per element and step on a Cortex-M4 (about 34 per step call and clip
before).  A streaming call's step is one such table-driven call too.

Training uses the same forward value with the gradient of a sigmoid
(straight-through surrogate [1]_): ``s = sg + stop_gradient(step - sg)``,
``sg = sigmoid(alpha * (v - threshold))``; the reset does not propagate
gradients (detached reset).
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError
from edgekit.models import checks

__all__ = ["LIF", "check_lif", "spike_rates"]

RESETS = ("hard", "soft")


def check_lif(threshold, decay, reset, alpha, gain):
    """Check the LIF hyper-parameters (see :class:`LIF`).

    Parameters
    ----------
    threshold : float
        Firing threshold (> 0).
    decay : float
        Membrane decay per step, in [0, 1].
    reset : {"hard", "soft"}
        Reset after a spike.
    alpha : float
        Surrogate-gradient sharpness (> 0).
    gain : float
        Gain of the firing stages (>= 1).

    Raises
    ------
    ConfigError
        If a value is out of range (the message repeats it).
    """
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
            and threshold > 0):
        raise ConfigError(f"threshold must be > 0 (got {threshold!r})")
    if not (isinstance(decay, (int, float)) and not isinstance(decay, bool) and 0 <= decay <= 1):
        raise ConfigError(f"decay must be in [0, 1] (got {decay!r})")
    if reset not in RESETS:
        raise ConfigError(f"reset must be one of {RESETS} (got {reset!r})")
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ConfigError(f"alpha must be > 0 (got {alpha!r})")
    if not (isinstance(gain, (int, float)) and gain >= 1):
        raise ConfigError(f"gain must be >= 1 (got {gain!r})")


def _lif_class():
    import keras  # noqa: PLC0415

    ops = keras.ops

    @keras.saving.register_keras_serializable(package="edgekit")
    class LIF(keras.layers.Layer):
        """Leaky integrate-and-fire neurons over the time axis.

        Parameters
        ----------
        threshold : float
            Firing threshold (> 0).
        decay : float
            Membrane leak factor per step in ``[0, 1]`` (``1 - 1/tau``).
        reset : {"hard", "soft"}
            ``"hard"``: the membrane is set to 0 after a spike;
            ``"soft"``: the threshold is subtracted.
        alpha : float
            Slope of the sigmoid surrogate gradient.
        gain : float
            Gain of the first saturating stage (see the module notes).
        current_clip : float or None
            Bound of the input current (see the module notes).
        rate_penalty : float
            Spike-rate regularisation (>= 0): in training, ``rate_penalty``
            times the mean spike rate of the layer's output (over batch,
            steps and channels) is added to the loss (``add_loss``), which
            lowers the rates; the event-driven layers that read the spikes
            cost less with fewer spikes.  0 (default): no penalty.

        Notes
        -----
        Input and output are ``(batch, steps, channels)``; the output holds
        spikes (0/1).  :meth:`step` runs one step on an explicit membrane
        state (streaming).  The spike rate of the last call is not stored;
        use :func:`spike_rates`.

        References
        ----------
        .. [1] E. O. Neftci, H. Mostafa and F. Zenke, "Surrogate Gradient
           Learning in Spiking Neural Networks", IEEE Signal Processing
           Magazine 36(6), 2019.
        .. [2] Z. Liu, G. Datta, A. Li and P. A. Beerel, "LMUFormer: Low
           Complexity Yet Powerful Spiking Model With Legendre Memory
           Units", ICLR 2024.
        """

        def __init__(self, threshold=1.0, decay=0.5, reset="hard", alpha=4.0, gain=1e4,
                     current_clip=3.0, rate_penalty=0.0, **kwargs):
            super().__init__(**kwargs)
            check_lif(threshold, decay, reset, alpha, gain)
            if current_clip is not None and not (
                    isinstance(current_clip, (int, float)) and not isinstance(current_clip, bool)
                    and current_clip > 0):
                raise ConfigError(f"current_clip must be > 0 or None (got {current_clip!r})")
            self.current_clip = None if current_clip is None else float(current_clip)
            if not (isinstance(rate_penalty, (int, float)) and not isinstance(rate_penalty, bool)
                    and rate_penalty >= 0):
                raise ConfigError(f"rate_penalty must be >= 0 (got {rate_penalty!r})")
            self.rate_penalty = float(rate_penalty)
            self.threshold = float(threshold)
            self.decay = float(decay)
            self.reset = reset
            self.alpha = float(alpha)
            self.gain = float(gain)

        def clip_current(self, x):
            """Currents clipped to ``[-c, c]`` (``relu6`` form, so int8 keeps a fine scale)."""
            c = self.current_clip
            if c is None:
                return x
            if c == 3.0:
                return ops.relu6(x + 3.0) + (-3.0)
            return ops.relu6((x + c) * (3.0 / c)) * (c / 3.0) + (-c)

        def fire(self, v, training=False):
            """Spikes of membrane ``v`` (exact 0/1 forward, surrogate gradient)."""
            g = self.gain
            # additions of negative constants (not subtractions): the graph
            # then has no SUB op (see the module notes)
            z = ops.relu6((v + (-self.threshold)) * g)
            s = ops.relu6(ops.relu6(z * 255.0) * 255.0) * (1.0 / 6.0)
            if training:
                sg = ops.sigmoid(self.alpha * (v - self.threshold))
                s = sg + ops.stop_gradient(s - sg)
            return s

        def step(self, current, v_prev, training=False):
            """One step on clipped ``current``: ``(spikes, reset membrane)`` from the previous reset membrane."""
            v = v_prev * self.decay + current
            s = self.fire(v, training)
            sd = ops.stop_gradient(s) if training else s
            return s, self._reset(v, sd)

        def _reset(self, v, s):
            if self.reset == "hard":
                return v * (s * -1.0 + 1.0)
            return v + s * (-self.threshold)

        def call(self, x, training=False):
            steps = x.shape[1]
            if steps is None:
                raise ConfigError("LIF needs a static number of steps")
            x = self.clip_current(x)
            out = []
            r = None
            for t in range(int(steps)):
                cur = x[:, t:t + 1, :]
                if r is None:
                    v = cur
                    s = self.fire(v, training)
                    sd = ops.stop_gradient(s) if training else s
                    r = self._reset(v, sd)
                else:
                    s, r = self.step(cur, r, training)
                out.append(s)
            # TFLite Micro's CONCATENATION takes at most 10 inputs: join in groups of 8.
            while len(out) > 1:
                out = [ops.concatenate(out[i:i + 8], axis=1) if len(out[i:i + 8]) > 1
                       else out[i] for i in range(0, len(out), 8)]
            if training and self.rate_penalty > 0:
                self.add_loss(self.rate_penalty * ops.mean(out[0]))
            return out[0]

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            cfg = super().get_config()
            cfg.update(threshold=self.threshold, decay=self.decay, reset=self.reset,
                       alpha=self.alpha, gain=self.gain, current_clip=self.current_clip,
                       rate_penalty=self.rate_penalty)
            return cfg

    return LIF


# lazy: importing edgekit.models must not import TensorFlow
__getattr__ = checks.lazy_attr("LIF", _lif_class)


def spike_rates(model, x, batch_size: int = 128) -> dict[str, dict]:
    """Spike rate of every :class:`LIF` layer of ``model`` on ``x`` (inference mode).

    Parameters
    ----------
    model : keras.Model
        A functional model containing LIF layers.
    x : numpy.ndarray
        Inputs ``(N, ...)``.
    batch_size : int
        Inference batch size.

    Returns
    -------
    dict
        ``{layer name: {"rate": fraction of non-zero outputs, "fractional":
        fraction of outputs that are neither 0 nor 1, "neurons": channels,
        "steps": steps}}``, plus ``"__all__"`` with the overall rate.  The
        LIF neurons inside an :class:`edgekit.models.lmu.LMU` layer
        (``u_lif``, ``m_lif``) are named ``"LMU name/u_act"`` and
        ``"LMU name/m_act"``.
    """
    import keras  # noqa: PLC0415

    from edgekit.models.lmu import LMU  # noqa: PLC0415

    lif_cls = __getattr__("LIF")
    lifs = [layer for layer in model.layers if isinstance(layer, lif_cls)]
    lmus = [layer for layer in model.layers if isinstance(layer, LMU)
            and (layer.u_lif is not None or layer.m_lif is not None)]
    if not lifs and not lmus:
        raise ConfigError(f"model {model.name!r} has no LIF layer")
    probe = keras.Model(model.inputs, [layer.output for layer in lifs]
                        + [layer.input for layer in lmus])
    outs = probe.predict(np.asarray(x, dtype=np.float32), batch_size=batch_size, verbose=0)
    if len(lifs) + len(lmus) == 1:
        outs = [outs]
    named = [(layer.name, s) for layer, s in zip(lifs, outs)]
    for layer, xin in zip(lmus, outs[len(lifs):]):
        named += [(f"{layer.name}/{k}", s) for k, s in _lmu_spikes(layer, xin, batch_size)]
    result, nz, tot = {}, 0, 0
    for name, s in named:
        s = np.asarray(s)
        frac = float(np.mean((s != 0) & (s != 1)))
        result[name] = {"rate": float(np.mean(s != 0)), "fractional": frac,
                        "neurons": int(s.shape[-1]), "steps": int(s.shape[1])}
        nz += int(np.count_nonzero(s))
        tot += s.size
    result["__all__"] = {"rate": nz / tot}
    return result


def _lmu_spikes(lmu, x, batch_size):
    """The spikes of the LIF neurons inside ``lmu`` (inference) for its inputs ``x``."""
    import keras  # noqa: PLC0415

    ops = keras.ops
    out = {"u_act": [], "m_act": []}
    for i in range(0, len(x), batch_size):
        u, m = lmu.memory_path(ops.convert_to_tensor(x[i:i + batch_size]))
        if lmu.u_lif is not None:
            out["u_act"].append(ops.convert_to_numpy(u))
        if lmu.m_lif is not None:
            out["m_act"].append(ops.convert_to_numpy(m))
    return [(k, np.concatenate(v)) for k, v in out.items() if v]
