"""One deterministic training loop for fine-tuning and distillation.

:func:`fit` is used for every training run of :mod:`edgekit.compress`
(pruning fine-tunes, distillation and its hard-label baseline), so that
"with distillation" and "without distillation" differ in the loss only:
same optimizer (Adam), same cosine learning-rate schedule, same batch order
(seeded), same epochs.

The loss is ``alpha * CE(y, p) + (1 - alpha) * T^2 * KL(q_T || p_T)`` where
``p`` is the student's output, ``q_T = softmax(log q / T)`` the teacher's
softened probabilities and ``p_T = softmax(log p / T)`` the student's
(Hinton et al., 2015).  For a softmax output ``log p`` equals the logits up
to a constant, so the softening is exact.  Without a teacher it is the
plain cross-entropy.
"""

from __future__ import annotations

import math
import time

import numpy as np

from edgekit.errors import ConfigError, DataError

__all__ = ["fit", "soften", "outputs_probabilities", "accuracy", "clone_with_weights"]


def outputs_probabilities(model) -> bool:
    """True if the model ends in a softmax (its output are probabilities)."""
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    if type(last).__name__ == "Softmax":
        return True
    return getattr(act, "__name__", "") == "softmax"


def soften(probs: np.ndarray, temperature: float, *, from_logits: bool = False) -> np.ndarray:
    """``softmax(log(probs) / T)`` (or ``softmax(logits / T)``), float32."""
    z = np.asarray(probs, np.float64)
    z = z if from_logits else np.log(np.clip(z, 1e-12, 1.0))
    z = z / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def accuracy(model, x, y, batch_size: int = 256) -> float:
    """Top-1 accuracy of a Keras classifier."""
    p = model.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(p, axis=-1) == np.asarray(y)))


def clone_with_weights(model):
    """A copy of a Keras model (same architecture and weights, new variables)."""
    import keras

    # from the architecture config only: clone_model would also try to
    # deserialize the compile config (fit's loss is a closure)
    if type(model).__name__ == "Functional":
        clone = keras.Model.from_config(model.get_config())
    else:
        clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def _check(x, y, model):
    x = np.asarray(x)
    y = np.asarray(y)
    shape = tuple(model.input_shape[1:])
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise DataError(f"features must have shape (N, {', '.join(map(str, shape))}) "
                        f"(got {x.shape})")
    if y.ndim != 1 or len(y) != len(x) or len(y) == 0:
        raise DataError(f"labels must have shape ({len(x)},) and be non-empty (got {y.shape})")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels must be integers (got dtype {y.dtype})")
    n_cls = int(model.output_shape[-1])
    if y.min() < 0 or y.max() >= n_cls:
        raise DataError(f"labels must be in [0, {n_cls - 1}] (got {y.min()}..{y.max()})")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError("features contain NaN or infinite values")
    return x, y.astype(np.int32)


def fit(model, x, y, *, epochs: int, batch_size: int = 64, seed: int = 0,
        learning_rate: float = 1e-3, warmup_epochs: int = 0, teacher_probs=None,
        temperature: float = 4.0, alpha: float = 0.5, callbacks=None,
        verbose: int = 0) -> dict:
    """Train ``model`` in place; returns ``{"loss": [...], "seconds": s}``.

    Parameters
    ----------
    model : keras.Model
        Classifier (softmax output or logits).
    x, y : numpy.ndarray
        Training features and integer labels.
    epochs, batch_size, seed, learning_rate, warmup_epochs
        Adam with linear warm-up then cosine decay to 0; seeded shuffling and
        TensorFlow op determinism.
    teacher_probs : numpy.ndarray, optional
        Teacher output probabilities on ``x`` ``(N, classes)``: distillation.
    temperature : float
        Softening temperature ``T`` (> 0).
    alpha : float
        Weight of the hard-label cross-entropy in ``[0, 1]`` (ignored without
        a teacher).
    callbacks : list, optional
        Extra Keras callbacks (e.g. the pruning-mask callback).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ConfigError(f"epochs must be > 0 (got {epochs})")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1] (got {alpha})")
    if not float(temperature) > 0:
        raise ConfigError(f"temperature must be > 0 (got {temperature})")
    if not float(learning_rate) > 0:
        raise ConfigError(f"learning_rate must be > 0 (got {learning_rate})")
    x, y = _check(x, y, model)
    n_cls = int(model.output_shape[-1])
    probs = outputs_probabilities(model)

    import keras
    import tensorflow as tf
    from keras import ops

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()

    hard = np.eye(n_cls, dtype=np.float32)[y]
    if teacher_probs is not None:
        tp = np.asarray(teacher_probs, np.float32)
        if tp.shape != (len(x), n_cls):
            raise DataError(f"teacher outputs must have shape {(len(x), n_cls)} (got {tp.shape})")
        target = np.concatenate([hard, soften(tp, temperature)], axis=1)
        a, t = float(alpha), float(temperature)
    else:
        target = np.concatenate([hard, hard], axis=1)
        a, t = 1.0, 1.0

    def loss_fn(y_true, y_pred):
        hard_t, soft_t = y_true[:, :n_cls], y_true[:, n_cls:]
        if probs:
            logp = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        else:
            logp = ops.log_softmax(y_pred, axis=-1)
        ce = -ops.sum(hard_t * logp, axis=-1)
        if a >= 1.0:
            return ce
        logp_t = ops.log_softmax(logp / t, axis=-1)
        kl = ops.sum(soft_t * (ops.log(ops.clip(soft_t, 1e-12, 1.0)) - logp_t), axis=-1)
        return a * ce + (1.0 - a) * (t * t) * kl

    steps = math.ceil(len(x) / batch_size)
    total = steps * epochs
    warm = min(steps * int(warmup_epochs), total - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warm else float(learning_rate),
        decay_steps=max(total - warm, 1), alpha=0.0,
        warmup_target=float(learning_rate) if warm else None, warmup_steps=warm)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss=loss_fn)
    start = time.perf_counter()
    hist = model.fit(x, target, batch_size=batch_size, epochs=epochs, shuffle=True,
                     verbose=verbose, callbacks=list(callbacks or []))
    return {"loss": [float(v) for v in hist.history["loss"]],
            "seconds": round(time.perf_counter() - start, 1)}
