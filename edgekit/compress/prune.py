"""Gradual structured pruning and unstructured magnitude pruning.

:func:`prune` removes whole channels, attention heads and LMU memory
coefficients / channels (:mod:`edgekit.compress.layer_prune`) in ``steps`` rounds, fine-tuning after
each; the parameter count follows the cubic schedule of Zhu & Gupta (2017),
``P_k = P_target + (P_0 - P_target) * (1 - k / steps)^3``, so most channels
go early when the network can still recover.

:func:`prune_unstructured` zeroes individual weights by magnitude with the
same cubic sparsity schedule.  It is here to be reported honestly: a dense
int8 TFLite model stores the zeros, so it is exactly as large and as slow as
before; :func:`edgekit.compress.measure.nonzero_per_tensor` shows the
nonzero count per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgekit.errors import ConfigError

__all__ = ["PruneResult", "prune", "prune_unstructured"]


@dataclass
class PruneResult:
    model: object
    schedule: list = field(default_factory=list)   # one dict per round
    channels: dict = field(default_factory=dict)    # layer -> (before, after)
    pruned: list = field(default_factory=list)      # what shrank: heads, order, memory_d, channels
    params_before: int = 0
    params_after: int = 0
    seconds: float = 0.0


def prune(model, x, y, *, max_params: int | None = None, ratio: float | None = None,
          criterion: str = "l2", steps: int = 3, finetune_epochs: int = 2,
          final_epochs: int = 0, learning_rate: float = 1e-3, batch_size: int = 64,
          seed: int = 0, x_val=None, y_val=None, verbose: int = 0,
          kinds=("heads", "order", "memory_d", "channels")) -> PruneResult:
    """Structured pruning to a parameter budget with gradual fine-tuning.

    Parameters
    ----------
    model : keras.Model
        Trained functional model (not modified).
    x, y : numpy.ndarray
        Training data for fine-tuning.
    max_params, ratio
        Target: at most ``max_params`` parameters, or ``ratio`` of the
        current count (exactly one).
    criterion : {"l1", "l2"}
        Channel magnitude criterion (see :mod:`edgekit.compress.structured`).
    steps : int
        Pruning rounds (cubic schedule).
    finetune_epochs : int
        Fine-tuning epochs after each round (0: one-shot, no training).
    final_epochs : int
        Extra fine-tuning epochs after the last round.
    x_val, y_val : numpy.ndarray, optional
        Evaluated after each round (reported, never used for decisions).
    kinds : sequence of str
        What may be removed: attention ``"heads"``, LMU ``"order"`` and
        ``"memory_d"``, and ``"channels"`` (Conv/Dense/LMU units); see
        :func:`edgekit.compress.layer_prune.prune_model_to_budget`.
    """
    import time

    from edgekit.compress.fit import accuracy, fit
    from edgekit.compress.layer_prune import prune_model_to_budget
    from edgekit.compress.structured import count_params

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be >= 1 (got {steps})")
    if finetune_epochs < 0 or final_epochs < 0:
        raise ConfigError("finetune_epochs and final_epochs must be >= 0")
    p0 = count_params(model)
    if (max_params is None) == (ratio is None):
        raise ConfigError("give exactly one of max_params and ratio")
    if ratio is not None:
        if not 0 < float(ratio) <= 1:
            raise ConfigError(f"ratio must be in (0, 1] (got {ratio})")
        target = int(p0 * float(ratio))
    else:
        if isinstance(max_params, bool) or int(max_params) <= 0:
            raise ConfigError(f"max_params must be > 0 (got {max_params})")
        target = int(max_params)
    start = time.perf_counter()
    from edgekit.compress.fit import clone_with_weights

    current = clone_with_weights(model)
    channels: dict = {}
    pruned: set = set()
    schedule = []
    for k in range(1, steps + 1):
        budget = int(target + (p0 - target) * (1 - k / steps) ** 3) if k < steps else target
        current, info = prune_model_to_budget(current, max_params=max(budget, target),
                                              criterion=criterion, kinds=kinds)
        pruned.update(info["pruned"])
        for name, (before, after) in info["channels"].items():
            channels[name] = (channels.get(name, (before, None))[0], after)
        epochs = finetune_epochs + (final_epochs if k == steps else 0)
        row = {"round": k, "budget": budget, "params": count_params(current),
               "finetune_epochs": epochs}
        if epochs:
            row["loss"] = fit(current, x, y, epochs=epochs, batch_size=batch_size,
                              seed=seed + k, learning_rate=learning_rate,
                              verbose=verbose)["loss"][-1]
        if x_val is not None:
            row["val_accuracy"] = round(accuracy(current, x_val, y_val), 4)
        schedule.append(row)
    return PruneResult(model=current, schedule=schedule, channels=channels,
                       pruned=sorted(pruned), params_before=p0,
                       params_after=count_params(current),
                       seconds=round(time.perf_counter() - start, 1))


@dataclass
class UnstructuredResult:
    model: object
    sparsity: dict = field(default_factory=dict)   # weight name -> zero fraction
    schedule: list = field(default_factory=list)


def _prunable_kernels(model):
    out = []
    for layer in model.layers:
        for attr in ("kernel", "depthwise_kernel"):
            w = getattr(layer, attr, None)
            if w is not None and len(w.shape) >= 2:
                out.append((f"{layer.name}/{attr}", w))
    return out


def _magnitude_masks(model, sparsity: float) -> dict:
    masks = {}
    for name, w in _prunable_kernels(model):
        a = np.abs(w.numpy())
        k = int(round(sparsity * a.size))
        if k <= 0:
            masks[name] = np.ones_like(a, dtype=bool)
            continue
        thresh = np.partition(a.reshape(-1), k - 1)[k - 1]
        m = a > thresh
        masks[name] = m
    return masks


def prune_unstructured(model, x, y, *, sparsity: float = 0.5, steps: int = 3,
                       finetune_epochs: int = 1, learning_rate: float = 1e-3,
                       batch_size: int = 64, seed: int = 0, verbose: int = 0
                       ) -> UnstructuredResult:
    """Zero the smallest-magnitude weights of every kernel (per tensor).

    The sparsity of round ``k`` is ``s * (1 - (1 - k / steps)^3)``; the
    masks are re-applied after every training batch so pruned weights stay
    zero.  The model keeps its shape: see the module docs.
    """
    import keras

    from edgekit.compress.fit import clone_with_weights, fit

    if not 0.0 <= float(sparsity) < 1.0:
        raise ConfigError(f"sparsity must be in [0, 1) (got {sparsity})")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be >= 1 (got {steps})")
    current = clone_with_weights(model)
    kernels = dict(_prunable_kernels(current))
    masks: dict = {}

    def apply():
        for name, m in masks.items():
            w = kernels[name]
            w.assign(w.numpy() * m)

    class _Mask(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            apply()

    schedule = []
    for k in range(1, steps + 1):
        s_k = float(sparsity) * (1 - (1 - k / steps) ** 3)
        masks = _magnitude_masks(current, s_k)
        apply()
        if finetune_epochs:
            fit(current, x, y, epochs=finetune_epochs, batch_size=batch_size, seed=seed + k,
                learning_rate=learning_rate, callbacks=[_Mask()], verbose=verbose)
            apply()
        schedule.append({"round": k, "sparsity": round(s_k, 4)})
    zeros = {name: round(float(np.mean(w.numpy() == 0)), 4) for name, w in kernels.items()}
    return UnstructuredResult(model=current, sparsity=zeros, schedule=schedule)
