"""Structured (channel) pruning of Keras functional models.

Whole output channels of ``Conv2D``/``Conv1D`` layers, whole units of
``Dense`` layers and the hidden units of :class:`edgekit.models.lmu.LMU`
layers are removed, together with everything that depends on them: the
matching input slices of the layers that consume them, the channels of the
``DepthwiseConv2D`` and ``BatchNormalization`` layers in between, and the
channels of tensors joined by ``Add``/``Subtract``/``Multiply`` (which must
keep the same channels).  The result is a *smaller dense model of the same
family*: fewer filters in the layer configs, so the int8 TFLite model and
the generated C really shrink.

The graph is analysed into **channel groups**: sets of tensor channel axes
that must be pruned together.  A group is frozen (never pruned) if it
reaches the model input or output, a ``Reshape``/``Concatenate``, a
``Flatten`` over more than one position, or any layer this module does not
know.

Criterion: a channel's importance is the L1 or L2 norm of the output filter
of the layer(s) producing it, scaled by the following batch norm's
``|gamma| / sqrt(var + eps)`` when there is one (i.e. the magnitude of the
filter batch norm is folded into at conversion); with several producers
(residual joins) the per-producer norms, each divided by its mean, are
summed.  The lowest channels of each prunable group are removed with the
same keep ratio for every group; the ratio is the largest one that meets
the parameter budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgekit.errors import ConfigError, ModelError

__all__ = ["ChannelGroups", "analyse", "prune_channels", "prune_to_budget", "count_params",
           "params_at_ratio", "param_budget"]

_PASS = {"BatchNormalization", "ReLU", "Activation", "Dropout", "AveragePooling2D",
         "MaxPooling2D", "AveragePooling1D", "MaxPooling1D", "LeakyReLU", "ELU",
         "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
         "GlobalMaxPooling1D", "SpatialDropout2D", "GaussianNoise", "Identity", "ZeroPadding2D",
         "ZeroPadding1D", "LIF"}
_JOIN = {"Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average"}


def param_budget(before: int, max_params=None, ratio=None) -> int:
    """The parameter budget from exactly one of ``max_params`` and ``ratio``.

    Parameters
    ----------
    before : int
        Parameters of the unpruned model.
    max_params : int, optional
        The budget itself (> 0).
    ratio : float, optional
        The fraction of ``before`` to keep, ``0 < ratio <= 1``.

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        If both or neither are given, or a value is out of range.
    """
    if (max_params is None) == (ratio is None):
        raise ConfigError("give exactly one of max_params and ratio")
    if ratio is not None:
        if not 0 < float(ratio) <= 1:
            raise ConfigError(f"ratio must be in (0, 1] (got {ratio})")
        max_params = int(before * float(ratio))
    if isinstance(max_params, bool) or int(max_params) <= 0:
        raise ConfigError(f"max_params must be > 0 (got {max_params})")
    return int(max_params)


def count_params(model) -> int:
    """All scalar weights of a Keras model (batch-norm statistics included)."""
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


@dataclass
class ChannelGroups:
    """The channel groups of a model (see the module docs)."""

    size: dict = field(default_factory=dict)        # group -> channels
    frozen: set = field(default_factory=set)
    # layer name -> list of (weight index, axis, group) slices
    slices: dict = field(default_factory=dict)
    producers: dict = field(default_factory=dict)   # group -> [(layer, weight idx, out axis)]
    bn: dict = field(default_factory=dict)           # group -> [bn layer names right after producer]
    widths: dict = field(default_factory=dict)       # layer name -> (config key, group)

    def prunable(self) -> list:
        return sorted(g for g in self.size if g not in self.frozen)


class _UF:
    def __init__(self):
        self.parent = {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _tensors(t):
    import keras

    return [x for x in keras.tree.flatten(t)]


def analyse(model) -> ChannelGroups:
    """Find the channel groups of a functional Keras model."""
    if not hasattr(model, "layers") or not hasattr(model, "get_config"):
        raise ModelError(f"expected a Keras model (got {type(model).__name__})")
    if type(model).__name__ == "Sequential":
        raise ModelError("structured pruning needs a functional model (got Sequential); "
                         "rebuild it with keras.Input")
    uf = _UF()
    tgroup: dict = {}   # id(tensor) -> raw group id
    size: dict = {}
    frozen_raw: set = set()
    raw_slices: list = []   # (layer, weight idx, axis, raw group)
    raw_prod: list = []     # (raw group, layer, weight idx, axis)
    raw_bn: list = []       # (raw group, layer name, follows producer?)
    raw_width: list = []    # (layer, key, raw group)
    counter = [0]

    def new_group(n, frozen=False):
        g = counter[0]
        counter[0] += 1
        size[g] = int(n)
        uf.find(g)
        if frozen:
            frozen_raw.add(g)
        return g

    def group_of(t):
        key = id(t)
        if key not in tgroup:
            tgroup[key] = new_group(t.shape[-1] if t.shape else 1, frozen=True)
        return tgroup[key]

    for inp in _tensors(model.inputs):
        tgroup[id(inp)] = new_group(inp.shape[-1], frozen=True)
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        if len(getattr(layer, "_inbound_nodes", [])) != 1:
            raise ModelError(f"layer {layer.name!r} is used more than once; cannot prune")
        ins = _tensors(layer.input)
        outs = _tensors(layer.output)
        in_g = [group_of(t) for t in ins]
        nw = len(layer.get_weights())
        if cls in ("Conv2D", "Conv1D") and int(getattr(layer, "groups", 1) or 1) == 1 \
                and len(outs) == 1:
            g = new_group(layer.filters)
            tgroup[id(outs[0])] = g
            ax = 3 if cls == "Conv2D" else 2        # kernel (..., in, out)
            raw_slices.append((layer.name, 0, ax - 1, in_g[0]))
            raw_slices.append((layer.name, 0, ax, g))
            if layer.use_bias:
                raw_slices.append((layer.name, 1, 0, g))
            raw_prod.append((g, layer.name, 0, ax))
            raw_width.append((layer.name, "filters", g))
        elif cls == "LMU" and len(ins) == 1:
            # edgekit.models.lmu.LMU: weights w_u, b_u, w_m, [w_x], b (then the four of
            # u_bn, the spiking memory input's batch norm, over memory channels); hidden
            # units are channels (w_m / w_x columns, b), the input is read by w_u and w_x rows.
            g = new_group(layer.units)
            tgroup[id(outs[0])] = g
            raw_slices.append((layer.name, 0, 0, in_g[0]))
            raw_slices.append((layer.name, 2, 1, g))
            if layer.use_input_skip:
                raw_slices.append((layer.name, 3, 0, in_g[0]))
                raw_slices.append((layer.name, 3, 1, g))
            raw_slices.append((layer.name, 4 if layer.use_input_skip else 3, 0, g))
            raw_prod.append((g, layer.name, 2, 1))
            raw_width.append((layer.name, "units", g))
        elif cls == "Dense" and len(ins) == 1:      # acts on the last axis (any rank)
            g = new_group(layer.units)
            tgroup[id(outs[0])] = g
            raw_slices.append((layer.name, 0, 0, in_g[0]))
            raw_slices.append((layer.name, 0, 1, g))
            if layer.use_bias:
                raw_slices.append((layer.name, 1, 0, g))
            raw_prod.append((g, layer.name, 0, 1))
            raw_width.append((layer.name, "units", g))
        elif cls == "DepthwiseConv2D" and int(layer.depth_multiplier) == 1:
            tgroup[id(outs[0])] = in_g[0]
            raw_slices.append((layer.name, 0, 2, in_g[0]))
            if layer.use_bias:
                raw_slices.append((layer.name, 1, 0, in_g[0]))
        elif cls == "BatchNormalization" and layer.axis in (-1, [-1], len(ins[0].shape) - 1,
                                                            [len(ins[0].shape) - 1]):
            tgroup[id(outs[0])] = in_g[0]
            for i in range(nw):
                raw_slices.append((layer.name, i, 0, in_g[0]))
            raw_bn.append((in_g[0], layer.name))
        elif cls in _PASS and nw == 0 and len(ins) == 1:
            tgroup[id(outs[0])] = in_g[0]
        elif cls == "Flatten" and nw == 0:
            spatial = int(np.prod([int(d) for d in ins[0].shape[1:-1]])) if len(ins[0].shape) > 2 else 1
            if spatial == 1:
                tgroup[id(outs[0])] = in_g[0]
            else:
                frozen_raw.add(in_g[0])
                tgroup[id(outs[0])] = new_group(outs[0].shape[-1], frozen=True)
        elif cls in _JOIN and nw == 0:
            for g in in_g[1:]:
                uf.union(in_g[0], g)
            tgroup[id(outs[0])] = in_g[0]
        else:
            # unknown layer: freeze what it reads and what it writes; keep weights
            frozen_raw.update(in_g)
            for t in outs:
                tgroup[id(t)] = new_group(t.shape[-1] if t.shape else 1, frozen=True)
    for out in _tensors(model.outputs):
        frozen_raw.add(group_of(out))

    cg = ChannelGroups()
    for g, n in size.items():
        r = uf.find(g)
        if r in cg.size and cg.size[r] != n:
            raise ModelError("joined tensors have different channel counts")
        cg.size[r] = n
    cg.frozen = {uf.find(g) for g in frozen_raw}
    for lname, wi, axis, g in raw_slices:
        cg.slices.setdefault(lname, []).append((wi, axis, uf.find(g)))
    for g, lname, wi, axis in raw_prod:
        cg.producers.setdefault(uf.find(g), []).append((lname, wi, axis))
    for g, lname in raw_bn:
        cg.bn.setdefault(uf.find(g), []).append(lname)
    for lname, key, g in raw_width:
        cg.widths[lname] = (key, uf.find(g))
    return cg


def importance(model, groups: ChannelGroups, criterion: str = "l2") -> dict:
    """Channel importance per prunable group (see the module docs)."""
    if criterion not in ("l1", "l2"):
        raise ConfigError(f"criterion must be 'l1' or 'l2' (got {criterion!r})")
    scores = {}
    for g in groups.prunable():
        total = np.zeros(groups.size[g])
        for lname, wi, axis in groups.producers.get(g, []):
            w = model.get_layer(lname).get_weights()[wi]
            w = np.moveaxis(w, axis, -1).reshape(-1, w.shape[axis])
            norm = np.abs(w).sum(0) if criterion == "l1" else np.sqrt((w * w).sum(0))
            bn_names = groups.bn.get(g, [])
            if bn_names:    # the batch norm right after (folded into this filter)
                bn = model.get_layer(bn_names[0])
                cfg = bn.get_config()
                gamma = bn.gamma.numpy() if cfg.get("scale", True) else 1.0
                var = bn.moving_variance.numpy()
                norm = norm * np.abs(gamma) / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))
            total += norm / max(float(norm.mean()), 1e-12)
        scores[g] = total
    return scores


def _kept_sizes(groups: ChannelGroups, ratio: float) -> dict:
    return {g: (n if g in groups.frozen else max(1, int(round(ratio * n))))
            for g, n in groups.size.items()}


def params_at_ratio(model, groups: ChannelGroups, ratio: float) -> int:
    """Parameter count of ``model`` once every prunable group keeps ``ratio`` of its channels."""
    return _params_after(model, groups, _kept_sizes(groups, ratio))


def _params_after(model, groups: ChannelGroups, sizes: dict) -> int:
    total = 0
    for layer in model.layers:
        sl = groups.slices.get(layer.name, [])
        for wi, w in enumerate(layer.weights):
            shape = list(w.shape)
            for i, axis, g in sl:
                if i == wi:
                    shape[axis] = sizes[g]
            total += int(np.prod(shape))
    return total


def prune_channels(model, keep: dict, groups: ChannelGroups | None = None):
    """A new model keeping, per group, the channel indices in ``keep[group]``.

    Groups missing from ``keep`` keep all channels.  Weights are copied.
    """
    import keras

    groups = groups or analyse(model)
    idx = {g: np.arange(n) for g, n in groups.size.items()}
    for g, k in keep.items():
        if g in groups.frozen:
            raise ConfigError(f"channel group {g} is frozen")
        idx[g] = np.sort(np.asarray(k, dtype=int))
    config = model.get_config()
    for lc in config["layers"]:
        name = lc["config"].get("name", lc.get("name"))
        if lc.get("class_name") != "InputLayer":
            lc.pop("build_config", None)     # stale input shapes; rebuilt on call
        if name in groups.widths:
            key, g = groups.widths[name]
            lc["config"][key] = int(len(idx[g]))
    try:
        new = keras.Model.from_config(config)
    except Exception as exc:
        raise ModelError(f"cannot rebuild the pruned model: {exc}") from exc
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        for wi, axis, g in groups.slices.get(layer.name, []):
            ws[wi] = np.take(ws[wi], idx[g], axis=axis)
        new.get_layer(layer.name).set_weights(ws)
    return new


def prune_to_budget(model, *, max_params: int | None = None, ratio: float | None = None,
                    criterion: str = "l2"):
    """One-shot structured pruning to a parameter budget.

    Parameters
    ----------
    model : keras.Model
        Functional model.
    max_params : int, optional
        Largest parameter count of the result (Keras count, batch-norm
        statistics included).
    ratio : float, optional
        Alternatively, the fraction of the parameters to keep (``0 < ratio <= 1``).
    criterion : {"l1", "l2"}
        Magnitude criterion.

    Returns
    -------
    (keras.Model, dict)
        The pruned model and ``{"keep_ratio", "channels": {layer: (before, after)}}``.
    """
    max_params = param_budget(count_params(model), max_params, ratio)
    groups = analyse(model)
    if not groups.prunable():
        raise ModelError("the model has no prunable channels (all groups are frozen)")
    if _params_after(model, groups, _kept_sizes(groups, 1.0)) <= max_params:
        r = 1.0
    else:
        lo, hi = 0.0, 1.0
        if _params_after(model, groups, _kept_sizes(groups, 0.0)) > max_params:
            raise ConfigError(f"max_params {max_params} is below the smallest prunable model "
                              f"({_params_after(model, groups, _kept_sizes(groups, 0.0))} params)")
        for _ in range(30):
            mid = (lo + hi) / 2
            if _params_after(model, groups, _kept_sizes(groups, mid)) <= max_params:
                lo = mid
            else:
                hi = mid
        r = lo
    sizes = _kept_sizes(groups, r)
    scores = importance(model, groups, criterion)
    keep = {g: np.argsort(-scores[g], kind="stable")[: sizes[g]] for g in groups.prunable()}
    new = prune_channels(model, keep, groups)
    channels = {name: (groups.size[g], sizes[g]) for name, (_, g) in groups.widths.items()}
    return new, {"keep_ratio": round(r, 4), "channels": channels}
