"""Structured pruning inside edgekit's custom layers: attention heads, LMU order and memory.

:mod:`edgekit.compress.structured` removes channels *between* layers.  This
module removes structure *inside* two layers whose configs set their size,
and rebuilds a smaller model of the same family (smaller ``num_heads`` /
``order`` / ``memory_d`` in the layer configs), so the int8 TFLite model and
the generated C shrink:

* **Attention heads** of :class:`edgekit.models.layers_tiny_transformer.
  StaticSelfAttention`: head ``h`` owns columns ``h*dk:(h+1)*dk`` of the
  query, key and value kernels (and biases) and the same rows of the output
  kernel; removing it drops those slices.  Importance (criterion ``"l2"``
  or ``"l1"``): ``||W_v[:, h]|| * ||W_o[h, :]||``, the size of the head's
  value-to-output path (the attention weights of a row sum to 1, so the
  head's contribution to the output is bounded by this product times the
  input's norm).  A head whose output slice is zero scores 0 and removing
  it leaves the outputs unchanged (``tests/compress/test_layer_prune.py``).
* **LMU order** of :class:`edgekit.models.lmu.LMU`: the continuous Legendre
  delay system of order ``q'`` is exactly the leading ``q' x q'`` block of
  order ``q``'s ``A`` and the first ``q'`` entries of ``B``
  (:func:`edgekit.models.lmu.legendre_delay_system`, checked to 0.0), but
  ``A`` is not block triangular (``A[i, j] = -(2i+1)/theta`` for ``i < j``),
  so neither its zero-order-hold discretisation nor the memory trajectory
  is the leading block of order ``q``'s: measured for ``theta = 32``,
  ``q = 8 -> 4``, the discrete ``A_bar`` block differs by 5e-3 and the
  32-step impulse response of the first four coefficients by 49 % of its
  peak.  The pruned layer therefore re-discretises its own order-``q'``
  system (its ``build`` does; the memory equals
  :func:`edgekit.models.lmu.lmu_recurrence` of order ``q'``), keeps the
  first ``q'`` (lowest-degree, smoothest) Legendre coefficients of every
  memory channel and the matching rows of ``W_m``; fine-tuning absorbs the
  change of basis.
* **LMU memory channels** (``memory_d``): channel ``j`` owns column ``j`` of
  ``W_u``, ``b_u[j]`` and rows ``j*q .. j*q+q-1`` of ``W_m``; importance
  ``||W_u[:, j]|| * ||W_m[rows of j]||``.

The LMU *hidden units* are channels (:mod:`edgekit.compress.structured`).
:func:`prune_model_to_budget` combines both with one keep ratio ``r``
(the largest on a 0.05 grid that meets the budget): each attention layer
keeps ``round(r * H)`` heads, each LMU ``round(r * q)`` coefficients and
``round(r * memory_d)`` memory channels, then the channel pruning takes the
model to the budget.
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError, ModelError

__all__ = ["KINDS", "internal_sizes", "head_importance", "memory_importance",
           "prune_internal", "prune_model_to_budget"]

#: What :func:`prune_model_to_budget` may remove.
KINDS = ("heads", "order", "memory_d", "channels")


def _norm(w, axis, criterion):
    if criterion == "l1":
        return np.abs(w).sum(axis=axis)
    if criterion == "l2":
        return np.sqrt((w * w).sum(axis=axis))
    raise ConfigError(f"criterion must be 'l1' or 'l2' (got {criterion!r})")


def internal_sizes(model) -> dict:
    """Prunable sizes inside custom layers.

    ``{layer name: {"heads": H}}`` for attention, ``{"order": q, "memory_d": m}`` for an LMU.
    """
    out = {}
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "StaticSelfAttention":
            out[layer.name] = {"heads": int(layer.num_heads)}
        elif cls == "LMU":
            out[layer.name] = {"order": int(layer.order), "memory_d": int(layer.memory_d)}
    return out


def head_importance(layer, criterion: str = "l2") -> np.ndarray:
    """Per-head importance ``||W_v[:, head]|| * ||W_o[head, :]||`` of a StaticSelfAttention."""
    h, dk = int(layer.num_heads), int(layer.key_dim)
    wv = np.asarray(layer.value.kernel.numpy()).reshape(-1, h, dk)
    wo = np.asarray(layer.out.kernel.numpy()).reshape(h, dk, -1)
    v = _norm(np.moveaxis(wv, 1, 0).reshape(h, -1), 1, criterion)
    o = _norm(wo.reshape(h, -1), 1, criterion)
    return v * o


def memory_importance(layer, criterion: str = "l2") -> np.ndarray:
    """Per-memory-channel importance ``||W_u[:, j]|| * ||W_m[rows of j]||`` of an LMU."""
    md, q = int(layer.memory_d), int(layer.order)
    wu = np.asarray(layer.w_u.numpy())
    wm = np.asarray(layer.w_m.numpy()).reshape(md, -1)
    return _norm(wu, 0, criterion) * _norm(wm, 1, criterion)


def _check_keep(idx, n, what, name):
    idx = np.sort(np.unique(np.asarray(idx, dtype=int)))
    if idx.size == 0 or idx[0] < 0 or idx[-1] >= n:
        raise ConfigError(f"{name}: {what} to keep must be non-empty indices in [0, {n}) "
                          f"(got {idx.tolist()})")
    return idx


def _attention_weights(old, new, heads):
    dk = int(old.key_dim)
    cols = (heads[:, None] * dk + np.arange(dk)[None, :]).reshape(-1)
    for sub in ("query", "key", "value"):
        ws = getattr(old, sub).get_weights()
        getattr(new, sub).set_weights([w[..., cols] for w in ws])
    ws = old.out.get_weights()
    new.out.set_weights([ws[0][cols]] + ws[1:])


def _lmu_weights(old, new, order, mem):
    q = int(old.order)
    ws = old.get_weights()          # w_u, b_u, w_m, [w_x], b, [u_bn's four], [m_bn's four]
    rows = (mem[:, None] * q + np.arange(order)[None, :]).reshape(-1)
    ws[0] = ws[0][:, mem]
    ws[1] = ws[1][mem]
    ws[2] = ws[2][rows]
    for i, v in enumerate(old.weights):     # the spiking memory input's / memory's batch norm
        if "u_bn" in v.path:
            ws[i] = ws[i][mem]
        elif "m_bn" in v.path:
            ws[i] = ws[i][rows]
    new.set_weights(ws)


def prune_internal(model, *, heads: dict | None = None, order: dict | None = None,
                   memory: dict | None = None):
    """A new model with fewer heads / LMU coefficients / LMU memory channels.

    Parameters
    ----------
    model : keras.Model
        Functional model (not modified).
    heads : dict, optional
        ``{attention layer name: indices of the heads to keep}``.
    order : dict, optional
        ``{LMU layer name: q'}``: keep the first ``q'`` Legendre coefficients.
    memory : dict, optional
        ``{LMU layer name: indices of the memory channels to keep}``.

    Returns
    -------
    keras.Model
        The rebuilt model; layers not named keep their weights.

    Raises
    ------
    ConfigError
        If a name is not such a layer or the indices are out of range.
    ModelError
        If the model cannot be rebuilt from its config.
    """
    import keras

    heads, order, memory = dict(heads or {}), dict(order or {}), dict(memory or {})
    sizes = internal_sizes(model)
    plan = {}
    for name, idx in heads.items():
        if "heads" not in sizes.get(name, {}):
            raise ConfigError(f"{name!r} is not a StaticSelfAttention layer of the model")
        plan[name] = {"heads": _check_keep(idx, sizes[name]["heads"], "heads", name)}
    for name in set(order) | set(memory):
        if "order" not in sizes.get(name, {}):
            raise ConfigError(f"{name!r} is not an LMU layer of the model")
        q, md = sizes[name]["order"], sizes[name]["memory_d"]
        qn = order.get(name, q)
        if isinstance(qn, bool) or not isinstance(qn, (int, np.integer)) or not 0 < qn <= q:
            raise ConfigError(f"{name}: order to keep must be in [1, {q}] (got {qn!r})")
        plan[name] = {"order": int(qn),
                      "memory": _check_keep(memory.get(name, range(md)), md, "memory", name)}
    config = model.get_config()
    for lc in config["layers"]:
        name = lc["config"].get("name", lc.get("name"))
        if lc.get("class_name") != "InputLayer":
            lc.pop("build_config", None)
        if name in plan and "heads" in plan[name]:
            lc["config"]["num_heads"] = int(plan[name]["heads"].size)
        elif name in plan:
            lc["config"]["order"] = plan[name]["order"]
            lc["config"]["memory_d"] = int(plan[name]["memory"].size)
    try:
        new = keras.Model.from_config(config)
    except Exception as exc:
        raise ModelError(f"cannot rebuild the pruned model: {exc}") from exc
    for layer in model.layers:
        target = new.get_layer(layer.name)
        if layer.name in plan and "heads" in plan[layer.name]:
            _attention_weights(layer, target, plan[layer.name]["heads"])
        elif layer.name in plan:
            _lmu_weights(layer, target, plan[layer.name]["order"], plan[layer.name]["memory"])
        elif layer.get_weights():
            target.set_weights(layer.get_weights())
    return new


def _internal_at(model, r, kinds, criterion):
    heads, order, memory = {}, {}, {}
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "StaticSelfAttention" and "heads" in kinds:
            n = max(1, int(round(r * layer.num_heads)))
            if n < layer.num_heads:
                s = head_importance(layer, criterion)
                heads[layer.name] = np.argsort(-s, kind="stable")[:n]
        elif cls == "LMU":
            if "order" in kinds:
                order[layer.name] = max(1, int(round(r * layer.order)))
            if "memory_d" in kinds:
                n = max(1, int(round(r * layer.memory_d)))
                s = memory_importance(layer, criterion)
                memory[layer.name] = np.argsort(-s, kind="stable")[:n]
    if not heads and all(q == model.get_layer(k).order for k, q in order.items()) and \
            all(len(v) == model.get_layer(k).memory_d for k, v in memory.items()):
        return model
    return prune_internal(model, heads=heads, order=order, memory=memory)


def _cost(model, r, use_channels):
    from edgekit.compress.structured import analyse, count_params, params_at_ratio

    if not use_channels:
        return count_params(model)
    groups = analyse(model)
    if not groups.prunable():
        return count_params(model)
    return params_at_ratio(model, groups, r)


def prune_model_to_budget(model, *, max_params: int | None = None, ratio: float | None = None,
                          criterion: str = "l2", kinds=KINDS):
    """One-shot structured pruning of heads, LMU order / memory and channels to a budget.

    Parameters
    ----------
    model : keras.Model
        Functional model.
    max_params : int, optional
        Largest parameter count of the result.
    ratio : float, optional
        Alternatively, the fraction of the parameters to keep (``0 < ratio <= 1``).
    criterion : {"l1", "l2"}
        Magnitude criterion (heads, memory channels and channels).
    kinds : sequence of str
        What may be removed, a subset of :data:`KINDS`.

    Returns
    -------
    (keras.Model, dict)
        The pruned model and ``{"keep_ratio", "channels": {name: (before, after)}, "pruned"}``;
        ``channels`` has the layers' widths and ``<layer>/num_heads``,
        ``<layer>/order``, ``<layer>/memory_d``; ``pruned`` lists the kinds
        that shrank.
    """
    from edgekit.compress.structured import count_params, param_budget, prune_to_budget

    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ConfigError(f"kinds must be a non-empty subset of {KINDS} (got {list(kinds)})")
    before = count_params(model)
    max_params = param_budget(before, max_params, ratio)
    use_ch = "channels" in kinds
    knobs = {k for sz in internal_sizes(model).values() for k in sz} & \
        {"heads", "order", "memory_d"} & set(kinds)
    if use_ch and not knobs:            # plain channel pruning (DS-CNN...)
        new, info = prune_to_budget(model, max_params=max_params, criterion=criterion)
        return new, {**info, "pruned": ["channels"] if any(
            a < b for b, a in info["channels"].values()) else []}
    grid = [round(1.0 - 0.05 * i, 2) for i in range(20)]      # 1.0 .. 0.05
    cache = {}

    def fits(i):
        if i not in cache:
            m = _internal_at(model, grid[i], kinds, criterion)
            cache[i] = (m, _cost(m, grid[i], use_ch) <= max_params)
        return cache[i][1]

    if before <= max_params:
        i = 0
    elif not fits(len(grid) - 1):
        raise ConfigError(f"max_params {max_params} is below the smallest prunable model "
                          f"({_cost(cache[len(grid) - 1][0], grid[-1], use_ch)} params)")
    else:
        lo, hi = 0, len(grid) - 1       # fits(hi) is True
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                hi = mid
            else:
                lo = mid
        i = hi
    r = grid[i]
    current = cache[i][0] if i in cache else model
    channels = {}
    for name, sz in internal_sizes(model).items():
        new = internal_sizes(current)[name]
        for key, label in (("heads", "num_heads"), ("order", "order"), ("memory_d", "memory_d")):
            if key in sz:
                channels[f"{name}/{label}"] = (sz[key], new[key])
    keep_ratio = r
    if use_ch and count_params(current) > max_params:
        current, info = prune_to_budget(current, max_params=max_params, criterion=criterion)
        channels.update(info["channels"])
        keep_ratio = info["keep_ratio"]
    elif current is model:
        from edgekit.compress.fit import clone_with_weights

        current = clone_with_weights(model)
    labels = {"num_heads": "heads", "order": "order", "memory_d": "memory_d"}
    pruned = {labels.get(name.rsplit("/", 1)[-1], "channels") if "/" in name else "channels"
              for name, (b, a) in channels.items() if a < b}
    return current, {"keep_ratio": keep_ratio, "channels": channels,
                     "pruned": sorted(pruned)}
