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

Training uses the same forward value with the gradient of a sigmoid
(straight-through surrogate [1]_): ``s = sg + stop_gradient(step - sg)``,
``sg = sigmoid(alpha * (v - threshold))``; the reset does not propagate
gradients (detached reset).
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError
from edgekit.models import _checks

__all__ = ["LIF", "spike_rates"]

RESETS = ("hard", "soft")


def _check_lif(threshold, decay, reset, alpha, gain):
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
                     current_clip=3.0, **kwargs):
            super().__init__(**kwargs)
            _check_lif(threshold, decay, reset, alpha, gain)
            if current_clip is not None and not (
                    isinstance(current_clip, (int, float)) and not isinstance(current_clip, bool)
                    and current_clip > 0):
                raise ConfigError(f"current_clip must be > 0 or None (got {current_clip!r})")
            self.current_clip = None if current_clip is None else float(current_clip)
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
            return out[0]

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            cfg = super().get_config()
            cfg.update(threshold=self.threshold, decay=self.decay, reset=self.reset,
                       alpha=self.alpha, gain=self.gain, current_clip=self.current_clip)
            return cfg

    return LIF


# lazy: importing edgekit.models must not import TensorFlow
__getattr__ = _checks.lazy_attr("LIF", _lif_class)


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
        "steps": steps}}``, plus ``"__all__"`` with the overall rate.
    """
    import keras  # noqa: PLC0415

    lif_cls = __getattr__("LIF")
    lifs = [layer for layer in model.layers if isinstance(layer, lif_cls)]
    if not lifs:
        raise ConfigError(f"model {model.name!r} has no LIF layer")
    probe = keras.Model(model.inputs, [layer.output for layer in lifs])
    outs = probe.predict(np.asarray(x, dtype=np.float32), batch_size=batch_size, verbose=0)
    if len(lifs) == 1:
        outs = [outs]
    result, nz, tot = {}, 0, 0
    for layer, s in zip(lifs, outs):
        s = np.asarray(s)
        frac = float(np.mean((s != 0) & (s != 1)))
        result[layer.name] = {"rate": float(np.mean(s != 0)), "fractional": frac,
                              "neurons": int(s.shape[-1]), "steps": int(s.shape[1])}
        nz += int(np.count_nonzero(s))
        tot += s.size
    result["__all__"] = {"rate": nz / tot}
    return result


# --------------------------------------------------------------------------
# LIF layers in an int8 TFLite graph
# --------------------------------------------------------------------------

#: Roles of the tensors of one unrolled LIF step in an int8 TFLite graph
#: (see :func:`lif_chains`).
STEP_ROLES = ("v", "d", "z1", "z2", "z3", "s", "ns", "oms", "r", "dr")

#: Quantisation of spikes: exactly 0 and 1 (codes -128 and 127).
SPIKE_QUANT = (1.0 / 255.0, -128)


class _Graph:
    """Producers, consumers and constants of one subgraph of a ``ModelT``."""

    def __init__(self, model, graph):
        from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

        codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.model, self.graph = model, graph
        self.names, self.producer, self.consumers = [], {}, {}
        for k, op in enumerate(graph.operators):
            oc = model.operatorCodes[op.opcodeIndex]
            self.names.append(codes[max(oc.builtinCode, oc.deprecatedBuiltinCode)])
            for o in op.outputs:
                self.producer[int(o)] = k
            for i in op.inputs:
                if i >= 0:
                    self.consumers.setdefault(int(i), []).append(k)
        self.inputs = {int(i) for i in graph.inputs}

    def const(self, t) -> bool:
        tensor = self.graph.tensors[t]
        bufs = self.model.buffers
        return (0 <= tensor.buffer < len(bufs) and bufs[tensor.buffer].data is not None
                and len(bufs[tensor.buffer].data) > 0)

    def fused(self, k):
        return getattr(self.graph.operators[k].builtinOptions, "fusedActivationFunction", None)

    def split(self, k):
        """``(data inputs, constant inputs)`` of op ``k``."""
        ins = [int(i) for i in self.graph.operators[k].inputs if i >= 0]
        return [i for i in ins if not self.const(i)], [i for i in ins if self.const(i)]

    def out(self, k) -> int:
        return int(self.graph.operators[k].outputs[0])

    def made_by(self, t, name, *, consts=1, data=1, fused=None):
        """Op ``k`` producing ``t`` if it is ``name`` with that many data / constant inputs."""
        k = self.producer.get(t)
        if k is None or self.names[k] != name:
            return None
        d, c = self.split(k)
        if len(d) != data or len(c) != consts:
            return None
        if fused is not None and self.fused(k) != fused:
            return None
        return k

    def views(self, t) -> list[int]:
        """``t`` and the ``RESHAPE`` outputs of it (the converter inserts some)."""
        out, todo = [t], [t]
        while todo:
            for k in self.consumers.get(todo.pop(), []):
                if self.names[k] == "RESHAPE":
                    out.append(self.out(k))
                    todo.append(self.out(k))
        return out

    def uses(self, t, name, *, consts=1, data=1, fused=None):
        """Ops reading ``t`` (or a view of it) that are ``name`` with these inputs."""
        ks = sorted({k for x in self.views(t) for k in self.consumers.get(x, [])})
        return [k for k in ks
                if self.made_by(self.out(k), name, consts=consts, data=data, fused=fused) == k]

    def reads(self, k, t) -> bool:
        """Whether op ``k`` reads ``t`` (or a view of it)."""
        return bool(set(self.views(t)) & set(self.split(k)[0]))

    def quant(self, t):
        q = self.graph.tensors[t].quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        return float(q.scale[0]), int(q.zeroPoint[0])


def _lif_steps(g: _Graph) -> list[dict]:
    """Every unrolled LIF step of graph ``g`` (the ops of :meth:`LIF.fire` and the reset).

    A step is found from its firing stages, ``s = mul(relu6(mul(relu6(mul(
    relu6(mul(add(v, -threshold), gain)), 255)), 255)), 1/6)``; its reset
    ``r`` (hard: ``v * (s * -1 + 1)``, soft: ``v + s * -threshold``) and
    decayed membrane ``dr = r * decay`` follow from the consumers.  The
    returned dicts map the roles of :data:`STEP_ROLES` to tensor indices
    (``None`` where the converter dropped the op, e.g. the last step's
    reset), plus ``"ops"`` (role -> op index; ``"dr_in"``: the op decaying
    the previous membrane), ``"cur"`` (the step's input current),
    ``"dr_in"`` / ``"r_in"`` (the previous step's ``dr`` / ``r``, or a
    graph input in a streaming model; None for the first step of a window,
    whose membrane is the current itself).
    """
    relu6 = 3   # ActivationFunctionType.RELU6
    steps = []
    for k, name in enumerate(g.names):
        if name != "MUL" or g.fused(k) not in (0, None):
            continue
        d_in, c_in = g.split(k)
        if len(d_in) != 1 or len(c_in) != 1:
            continue
        chain, t = [k], d_in[0]
        for _ in range(3):
            p = g.made_by(t, "MUL", fused=relu6)
            if p is None:
                break
            chain.append(p)
            t = g.split(p)[0][0]
        p = g.made_by(t, "ADD", fused=0) if len(chain) == 4 else None
        if p is None:
            continue
        s_op, z3_op, z2_op, z1_op = chain
        v = g.split(p)[0][0]
        step = {"v": v, "d": t, "z1": g.out(z1_op), "z2": g.out(z2_op), "z3": g.out(z3_op),
                "s": g.out(s_op), "ns": None, "oms": None, "r": None, "dr": None,
                "ops": {"d": p, "z1": z1_op, "z2": z2_op, "z3": z3_op, "s": s_op}}
        for n_op in g.uses(step["s"], "MUL", fused=0):
            ns = g.out(n_op)
            hard = [a for a in g.uses(ns, "ADD", fused=0)
                    if any(g.reads(m, v) for m in g.uses(g.out(a), "MUL", data=2, consts=0))]
            if hard:
                oms = g.out(hard[0])
                r_op = next(m for m in g.uses(oms, "MUL", data=2, consts=0) if g.reads(m, v))
                step.update(ns=ns, oms=oms, r=g.out(r_op))
                step["ops"].update(ns=n_op, oms=hard[0], r=r_op)
                break
            soft = [a for a in g.uses(ns, "ADD", data=2, consts=0) if g.reads(a, v)]
            if soft:
                step.update(ns=ns, r=g.out(soft[0]))
                step["ops"].update(ns=n_op, r=soft[0])
                break
        if step["r"] is not None:
            dr_ops = g.uses(step["r"], "MUL", fused=0)
            if len(dr_ops) == 1:
                step["dr"] = g.out(dr_ops[0])
                step["ops"]["dr"] = dr_ops[0]
        steps.append(step)
    # the previous step of each step: v = add(r_prev * decay, current)
    resets = {s["r"] for s in steps if s["r"] is not None} | g.inputs
    for step in steps:
        step["cur"], step["dr_in"], step["r_in"] = step["v"], None, None
        a = g.made_by(step["v"], "ADD", data=2, consts=0, fused=0)
        if a is None:
            continue
        x, y = g.split(a)[0]
        for dr, cur in ((x, y), (y, x)):
            m = g.made_by(dr, "MUL", fused=0)
            if m is not None and g.split(m)[0][0] in resets:
                step.update(cur=cur, dr_in=dr, r_in=g.split(m)[0][0])
                step["ops"].update(v=a, dr_in=m)
                break
    return steps


def lif_chains(model, graph) -> list[list[dict]]:
    """The LIF layers of an int8 TFLite graph, as chains of unrolled steps.

    Parameters
    ----------
    model : ai_edge_litert.schema_py_generated.ModelT
        The unpacked flatbuffer.
    graph : ai_edge_litert.schema_py_generated.SubGraphT
        One of its subgraphs.

    Returns
    -------
    list of list of dict
        One list per LIF layer (in graph order), its steps in time order
        (see :func:`_lif_steps` for the dicts).  A window model has one step
        per time step, the first one without ``r_in``; a streaming model
        (:mod:`edgekit.models.streaming`) has one step per layer, whose
        ``r_in`` is the membrane state input.
    """
    g = _Graph(model, graph)
    steps = _lif_steps(g)
    by_r_in = {s["r_in"]: s for s in steps if s["r_in"] is not None}
    chains = []
    for head in steps:
        if head["r_in"] is not None and head["r_in"] not in g.inputs:
            continue
        chain = [head]
        while chain[-1]["r"] in by_r_in:
            chain.append(by_r_in[chain[-1]["r"]])
        chains.append(chain)
    chains.sort(key=lambda c: c[0]["ops"]["d"])
    return chains


def _same_quant_root(g: _Graph, t: int) -> int:
    """The tensor ``t`` is a view of: back through quantisation-preserving ops."""
    from edgekit.models.streaming import SAME_QUANT  # noqa: PLC0415

    while t in g.producer and g.names[g.producer[t]] in SAME_QUANT:
        k = g.producer[t]
        ins = g.split(k)[0]
        t = ins[-1] if g.names[k] == "CONCATENATION" else ins[0]
    return t


def _families(g: _Graph, chain: list[dict]) -> dict[str, list[int]]:
    """Role -> the tensors of that role at every step of one LIF chain.

    ``"v"`` holds the membranes of the steps after the first and the
    tensor the input currents are sliced from: the first step's membrane
    *is* its current, so the current must be quantised like the membranes
    for a one-step (streaming) model, whose membrane is ``0 * decay +
    current``, to compute the first step as the window model does.
    """
    fam = {role: [] for role in STEP_ROLES}
    for step in chain:
        for role in STEP_ROLES:
            if step[role] is not None and not (role == "v" and step["dr_in"] is None):
                fam[role].append(step[role])
    roots = sorted({_same_quant_root(g, s["cur"]) for s in chain})
    fam["v"] = roots + fam["v"]
    return {role: ts for role, ts in fam.items() if ts}


def _union_quant(quants):
    """Scale and zero point of the int8 range covering every ``(scale, zero point)`` range."""
    lo = min(s * (-128 - z) for s, z in quants)
    hi = max(s * (127 - z) for s, z in quants)
    for s, z in quants:   # one of them covers them all: keep it exactly
        if s * (-128 - z) <= lo and s * (127 - z) >= hi:
            return s, z
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(round(-128 - lo / scale), -128, 127))


def unify_lif_quantization(flatbuffer: bytes) -> tuple[bytes, list[dict]]:
    """Quantise each LIF tensor of an int8 window model alike at every unrolled step.

    The converter calibrates every tensor of the unrolled LIF steps on its
    own, so a membrane gets a different scale at every step (~10% apart),
    while a streaming model (:mod:`edgekit.models.streaming`) carries one
    membrane state, with one scale.  Here every family of per-step tensors
    of one LIF layer (the roles of :data:`STEP_ROLES`) gets one
    quantisation, covering the union of the calibrated ranges; spikes get
    :data:`SPIKE_QUANT` (exactly 0/1); the tensor the input currents are
    sliced from joins the membranes (see :func:`_families`).  Only outputs
    of ops that requantise from their tensors' own scales
    (:data:`edgekit.models.streaming.REQUANTIZING`) are changed, views of
    them (``RESHAPE``, ``STRIDED_SLICE``, ``CONCATENATION``) follow, and the
    int32 bias of a ``FULLY_CONNECTED`` / convolution whose input changed is
    requantised.  The int8 model then computes every step with the same
    arithmetic, which a one-step streaming model can reproduce bit for bit.

    Parameters
    ----------
    flatbuffer : bytes
        An int8 ``.tflite`` (e.g. from :func:`edgekit.quantize.quantize_int8`).

    Returns
    -------
    bytes
        The flatbuffer with the new quantisation (unchanged if it has no
        LIF step).
    list of dict
        Per LIF chain: ``steps``; ``roles``: role -> ``tensors`` (how
        many), ``before`` (their distinct ``(scale, zero point)`` pairs) and
        ``after``; ``kept``: roles left alone (a tensor is a graph input or
        its producer does not requantise).

    Raises
    ------
    ModelError
        If a ``CONCATENATION`` would join tensors of different quantisation.
    """
    import flatbuffers  # noqa: PLC0415
    from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

    from edgekit.errors import ModelError  # noqa: PLC0415
    from edgekit.models.streaming import (  # noqa: PLC0415
        BIASED,
        REQUANTIZING,
        SAME_QUANT,
        _requantize_bias,
    )

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    report, changed = [], set()
    for graph in model.subgraphs:
        g = _Graph(model, graph)
        for chain in lif_chains(model, graph):
            entry = {"steps": len(chain), "roles": {}, "kept": []}
            for role, members in _families(g, chain).items():
                quants = [g.quant(t) for t in members]
                if any(q is None for q in quants) or any(
                        t not in g.producer or g.names[g.producer[t]] not in REQUANTIZING
                        for t in members):
                    entry["kept"].append(role)
                    continue
                new = SPIKE_QUANT if role == "s" else _union_quant(quants)
                entry["roles"][role] = {"tensors": len(members),
                                        "before": sorted(set(quants)), "after": new}
                for t, q0 in zip(members, quants):
                    if q0 != new:
                        q = graph.tensors[t].quantization
                        q.scale = np.array([new[0]], np.float32)
                        q.zeroPoint = np.array([new[1]], np.int64)
                        changed.add((id(graph), t))
            report.append(entry)
        # views of changed tensors take their quantisation; biases follow their input
        for k, op in enumerate(graph.operators):
            data = g.split(k)[0]
            if not data:
                continue
            concat = g.names[k] == "CONCATENATION"
            src = data[-1] if concat else data[0]
            if g.names[k] in SAME_QUANT and (id(graph), src) in changed:
                if concat and any(g.quant(t) != g.quant(src) for t in data):
                    raise ModelError(
                        f"CONCATENATION {k} joins LIF tensors of different quantisation")
                t = g.out(k)
                if g.quant(t) != g.quant(src):
                    q, sq = graph.tensors[t].quantization, graph.tensors[src].quantization
                    q.scale = np.array(sq.scale, np.float32)
                    q.zeroPoint = np.array(sq.zeroPoint, np.int64)
                    changed.add((id(graph), t))
            elif (g.names[k] in BIASED and len(op.inputs) > 2 and op.inputs[2] >= 0
                  and (id(graph), data[0]) in changed):
                _requantize_bias(model, graph, op)
    if not changed:
        return bytes(flatbuffer), report
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), report
