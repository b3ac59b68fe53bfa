"""Deterministic training of the model-zoo networks on log-mel features.

Input normalisation
-------------------
The models are trained on the raw log-mel features produced by
:mod:`edgekit.data` -- there is no normalisation layer and no scaling in
the feature config.  The batch-norm layer right after the first convolution
standardises the activations during training (and is folded into that
convolution at conversion), and the int8 input quantisation is calibrated on
the same raw features (see :func:`edgekit.quantize.quantize_int8`), so the
float model, the int8 model and the firmware all consume identical inputs.
The first convolution uses ``"valid"`` padding so that no artificial zeros
are mixed with the (mostly negative) log energies at the borders.

Augmentation
------------
Off by default: on FSDD's official split it *hurt* (DS-CNN width 64, 20
epochs: 0.963-0.973 test accuracy with augmentation vs 0.997 without),
because the test speakers are the training speakers and the clips are
aligned at their start.  ``augment`` may also be a table
(:class:`edgekit.data.augment.AugmentConfig`: waveform copies through the
front end, SpecAugment masks, mixup; see :mod:`edgekit.data.augment`).
With ``augment=True`` every training example is, independently per epoch,
shifted in time by up to ``max_shift`` frames (the vacated frames are filled
with that example's minimum, i.e. its silence level) and receives one
SpecAugment-style frequency mask of up to ``freq_mask`` mel bins.  All
randomness is derived from ``seed``, the epoch and the batch index, so runs
are reproducible.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError, DataError, ModelError

__all__ = ["TrainResult", "train", "evaluate_float", "save_model", "load_model"]


@dataclass
class TrainResult:
    """What :func:`train` measured.

    Attributes
    ----------
    history : dict of str to list of float
        Per-epoch metrics as recorded by Keras (``loss``, ``accuracy`` and,
        with validation data, ``val_loss``, ``val_accuracy``) plus ``lr``.
    float_accuracy : float or None
        Accuracy of the trained float model on the validation data, or
        ``None`` when no validation data was given.
    train_accuracy : float
        Accuracy of the trained model on the (un-augmented) training data.
    epochs : int
        Number of epochs run.
    seconds : float
        Wall-clock training time.
    """

    history: dict = field(default_factory=dict)
    float_accuracy: float | None = None
    train_accuracy: float = 0.0
    epochs: int = 0
    seconds: float = 0.0


def _check_xy(x, y, what: str, input_shape=None) -> tuple[np.ndarray, np.ndarray]:
    """Validate features/labels and return them as float32/int32 arrays."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 3:
        raise DataError(f"{what} features must have shape (N, frames, mels) (got {x.shape})")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"{what} labels must have shape ({len(x)},) to match the features (got {y.shape})"
        )
    if len(x) == 0:
        raise DataError(f"{what} data is empty")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what} labels must be integers (got dtype {y.dtype})")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise DataError(
            f"{what} features have shape {tuple(x.shape[1:])} per example but the model "
            f"expects {tuple(input_shape)}"
        )
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what} features contain NaN or infinite values")
    return x, y.astype(np.int32, copy=False)


def augment_batch(
    x: np.ndarray, rng: np.random.Generator, *, max_shift: int = 6, freq_mask: int = 4
) -> np.ndarray:
    """Randomly time-shift and frequency-mask a batch of log-mel spectrograms.

    Parameters
    ----------
    x : numpy.ndarray
        Batch of shape ``(B, frames, mels)``; not modified.
    rng : numpy.random.Generator
        Source of randomness.
    max_shift : int
        Largest shift in frames (either direction); ``0`` disables shifting.
    freq_mask : int
        Largest width of the frequency mask in mel bins; ``0`` disables it.

    Returns
    -------
    numpy.ndarray
        Augmented copy of ``x``.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    batch, frames, mels = out.shape
    floor = out.reshape(batch, -1).min(axis=1)
    if max_shift > 0:
        shifts = rng.integers(-max_shift, max_shift + 1, size=batch)
        t = np.arange(frames)
        for i, s in enumerate(shifts):
            if s == 0:
                continue
            src = t - s
            valid = (src >= 0) & (src < frames)
            shifted = np.full((frames, mels), floor[i], dtype=np.float32)
            shifted[valid] = out[i, src[valid]]
            out[i] = shifted
    if freq_mask > 0:
        widths = rng.integers(0, freq_mask + 1, size=batch)
        starts = rng.integers(0, mels, size=batch)
        for i in range(batch):
            w = int(widths[i])
            if w:
                out[i, :, starts[i] : starts[i] + w] = floor[i]
    return out


def _make_sequence(x, y, batch_size, seed, augment, max_shift, freq_mask, *, cfg=None,
                   copies=None, num_classes=0, channel_hz=None, one_hot=False):
    """Build the shuffling (and optionally augmenting) Keras ``PyDataset``.

    ``augment`` True is the historic :func:`augment_batch`; ``cfg`` an
    :class:`edgekit.data.augment.AugmentConfig` (feature level, mixup) and
    ``copies`` its pre-computed waveform copies ``(K, N, frames, channels)``;
    ``channel_hz`` the channels' centre frequencies for ``cfg.freq_warp``;
    ``one_hot`` gives one-hot labels (for label smoothing; not with mixup,
    which mixes the integer labels itself).
    """
    import keras

    if one_hot:
        y = np.eye(num_classes, dtype=np.float32)[y]

    from edgekit.data import augment as aug  # noqa: PLC0415
    from edgekit.data.freq_warp import warp_channels  # noqa: PLC0415

    class _Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = self._order()

        def _order(self):
            return np.random.default_rng([seed, self.epoch, 1]).permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, idx):
            sel = self.order[idx * batch_size : (idx + 1) * batch_size]
            xb, yb = x[sel], y[sel]
            if augment:
                rng = np.random.default_rng([seed, self.epoch, 2, idx])
                xb = augment_batch(xb, rng, max_shift=max_shift, freq_mask=freq_mask)
            if cfg is None:
                return xb, yb
            rng = np.random.default_rng([seed, self.epoch, 4, idx])
            if copies is not None and len(copies):
                v = aug.variant_index(rng, len(sel), len(copies))
                xb = np.array(xb, copy=True)
                for j in np.flatnonzero(v):
                    xb[j] = copies[v[j] - 1, sel[j]]
            if cfg.freq_warp:
                alphas = rng.uniform(1 - cfg.freq_warp, 1 + cfg.freq_warp, size=len(sel))
                xb = warp_channels(xb, alphas, channel_hz)
            if cfg.max_shift:
                xb = aug.shift_frames(xb, rng.integers(-cfg.max_shift, cfg.max_shift + 1,
                                                       size=len(sel)))
            xb = aug.mask_features(xb, rng, time_masks=cfg.time_masks, time_mask=cfg.time_mask,
                                   freq_masks=cfg.freq_masks, freq_mask=cfg.freq_mask)
            if cfg.mixup:
                return aug.mixup_batch(xb, yb, num_classes, cfg.mixup, rng)
            return xb, yb

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._order()

    return _Batches()


def evaluate_float(model, x, y, batch_size: int = 256) -> float:
    """Top-1 accuracy of a Keras classifier.

    Parameters
    ----------
    model : keras.Model
        Model mapping features to class scores.
    x, y : numpy.ndarray
        Features ``(N, frames, mels)`` and integer labels ``(N,)``.
    batch_size : int
        Inference batch size.

    Returns
    -------
    float
        Fraction of examples whose arg-max score equals the label.
    """
    x, y = _check_xy(x, y, "evaluation", model.input_shape[1:])
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == y))


def train(
    model,
    x_train,
    y_train,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    seed: int = 0,
    learning_rate: float = 3e-3,
    validation=None,
    progress: bool = True,
    augment=False,
    augment_copies=None,
    max_shift: int = 6,
    freq_mask: int = 4,
    warmup_epochs: int = 1,
    jit_compile: bool | str = "auto",
    callbacks=None,
    channel_hz=None,
    head_epochs: int = 0,
    label_smoothing: float = 0.0,
) -> TrainResult:
    """Train a classifier deterministically with Adam and a cosine schedule.

    The learning rate rises linearly from 0 to ``learning_rate`` over
    ``warmup_epochs`` and then follows a cosine decay to zero at the last
    step.  With ``head_epochs`` the training has two phases: first only the
    model's last layer (the classifier head) is trained, for ``head_epochs``
    epochs on its own schedule (the same warm-up and cosine decay), with
    every other layer fixed (batch norms in inference mode); then the layers
    that were trainable are trainable again and the ``epochs`` of the main
    schedule run (``epochs + head_epochs`` in all).  Seeds (Python, NumPy,
    TensorFlow) are set from ``seed`` and TensorFlow op determinism is enabled, so two runs with the same
    arguments on the same machine give the same weights.

    Parameters
    ----------
    model : keras.Model
        Uncompiled (or compiled; it is re-compiled) classifier with a softmax
        output, e.g. from :func:`edgekit.models.build_model`.  Build it
        *after* calling :func:`keras.utils.set_random_seed` (or use
        :func:`edgekit.models.build_model`, which does) for reproducible
        initial weights.
    x_train : numpy.ndarray
        Training features, ``(N, frames, mels)`` float32 log-mels.
    y_train : numpy.ndarray
        Integer class labels ``(N,)``.
    epochs : int
        Number of passes over the training data.
    batch_size : int
        Mini-batch size.
    seed : int
        Seed for shuffling, augmentation, dropout and initialisation.
    learning_rate : float
        Peak learning rate.
    validation : tuple of numpy.ndarray, optional
        ``(x_val, y_val)`` evaluated after every epoch and at the end
        (``TrainResult.float_accuracy``).  Never used for model selection.
    progress : bool
        Show Keras' progress bar (one line per epoch when stdout is not a
        terminal); ``False`` trains silently.
    augment : bool, dict or edgekit.data.augment.AugmentConfig
        ``True``: random time shifts and frequency masks (see module docs);
        a table / :class:`~edgekit.data.augment.AugmentConfig`: its
        feature-level part (shift, SpecAugment masks, mixup), and its
        waveform copies when ``augment_copies`` is given (see
        :mod:`edgekit.data.augment`).  Off by default.
    augment_copies : numpy.ndarray, optional
        Pre-computed features of augmented waveform copies of the training
        clips, ``(K, N, frames, channels)``
        (:func:`edgekit.data.augment.augmented_copies`); each epoch every
        example is drawn from its clean features or one of its K copies.
    max_shift : int
        Largest time shift in frames for augmentation.
    freq_mask : int
        Largest frequency-mask width in mel bins for augmentation.
    warmup_epochs : int
        Epochs of linear learning-rate warm-up.
    jit_compile : bool or "auto"
        Compile the training step with XLA (passed to ``Model.compile``).
    callbacks : list of keras.callbacks.Callback, optional
        Passed to ``Model.fit`` (a sweep reports each epoch's accuracy to
        Ray Tune from one).
    channel_hz : sequence of float, optional
        Centre frequency of each feature channel, Hz, for ``augment``'s
        ``freq_warp`` (:func:`edgekit.data.freq_warp.channel_centres_hz`);
        default: the channel index stands for the frequency.
    head_epochs : int
        Epochs of a first phase that trains only the last layer (0: none),
        e.g. a new head on a pretrained body before fine-tuning.
    label_smoothing : float
        In [0, 1): the targets are ``(1 - s)`` one-hot plus ``s / classes``
        (categorical cross-entropy); 0 keeps the hard labels.

    Returns
    -------
    TrainResult
        History and accuracies.

    Raises
    ------
    ConfigError
        If a hyper-parameter is out of range.
    DataError
        If the data has the wrong shape, type or labels out of range.
    """
    for label, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{label} must be > 0 (got {value})")
    if not learning_rate > 0:
        raise ConfigError(f"learning_rate must be > 0 (got {learning_rate})")
    if warmup_epochs < 0 or warmup_epochs >= epochs and epochs > 1:
        raise ConfigError(
            f"warmup_epochs must be in [0, epochs) (got {warmup_epochs} with epochs={epochs})"
        )
    if isinstance(head_epochs, bool) or not isinstance(head_epochs, int) or head_epochs < 0:
        raise ConfigError(f"head_epochs must be an integer >= 0 (got {head_epochs!r})")
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(f"label_smoothing must be in [0, 1) (got {label_smoothing!r})")
    if max_shift < 0 or freq_mask < 0:
        raise ConfigError(
            f"max_shift and freq_mask must be >= 0 (got {max_shift}, {freq_mask})"
        )
    from edgekit.data.augment import parse_augment  # noqa: PLC0415

    cfg = None
    if augment is not True:
        cfg = parse_augment(augment)
        cfg = cfg if cfg.enabled else None
    input_shape = tuple(model.input_shape[1:])
    num_classes = int(model.output_shape[-1])
    x_train, y_train = _check_xy(x_train, y_train, "training", input_shape)
    if augment_copies is not None:
        augment_copies = np.asarray(augment_copies, dtype=np.float32)
        if augment_copies.ndim != 4 or augment_copies.shape[1:] != x_train.shape:
            raise DataError(f"augment_copies must have shape (K, {', '.join(map(str, x_train.shape))})"
                            f" (got {augment_copies.shape})")
        if cfg is None:
            cfg = parse_augment({})
    elif cfg is not None and cfg.copies:
        raise ConfigError(f"augment copies = {cfg.copies} needs the features of the waveform "
                          "copies (augment_copies, from edgekit.data.augment.augmented_copies)")
    if y_train.min() < 0 or y_train.max() >= num_classes:
        raise DataError(
            f"training labels must be in [0, {num_classes - 1}] "
            f"(got {y_train.min()}..{y_train.max()})"
        )
    val = None
    if validation is not None:
        try:
            xv, yv = validation
        except (TypeError, ValueError):
            raise DataError("validation must be a pair (x_val, y_val)") from None
        val = _check_xy(xv, yv, "validation", input_shape)
    mixup = cfg is not None and cfg.mixup > 0
    soft = mixup or label_smoothing > 0
    if soft and val is not None:    # soft labels: categorical cross-entropy, one-hot validation
        val = (val[0], np.eye(num_classes, dtype=np.float32)[val[1]])

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    loss = (keras.losses.CategoricalCrossentropy(label_smoothing=float(label_smoothing))
            if soft else "sparse_categorical_crossentropy")
    data = _make_sequence(x_train, y_train, batch_size, seed, augment is True, max_shift,
                          freq_mask, cfg=cfg, copies=augment_copies, num_classes=num_classes,
                          channel_hz=channel_hz, one_hot=soft and not mixup)
    verbose = 0
    if progress:
        verbose = 1 if sys.stdout.isatty() else 2

    def fit(n: int) -> dict:
        """Compile (a fresh Adam on a warm-up + cosine schedule of ``n`` epochs) and fit."""
        total = steps_per_epoch * n
        warmup = min(steps_per_epoch * warmup_epochs, total - 1)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else learning_rate,
            decay_steps=max(total - warmup, 1),
            alpha=0.0,
            warmup_target=learning_rate if warmup else None,
            warmup_steps=warmup,
        )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss=loss,
                      metrics=["accuracy"], jit_compile=jit_compile)
        try:
            hist = model.fit(data, epochs=n, validation_data=val, verbose=verbose,
                             callbacks=list(callbacks or []))
        except (ValueError, tf.errors.InvalidArgumentError) as exc:
            raise ModelError(f"training failed: {exc}") from exc
        return hist.history

    start = time.perf_counter()
    history: dict = {}
    if head_epochs:
        flags = [(layer, layer.trainable) for layer in model.layers]
        for layer in model.layers[:-1]:
            layer.trainable = False
        try:
            history = fit(head_epochs)
        finally:
            for layer, flag in flags:
                layer.trainable = flag
    for k, vals in fit(epochs).items():
        history.setdefault(k, []).extend(vals)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in history.items()}
    result = TrainResult(history=history, epochs=head_epochs + epochs, seconds=seconds)
    result.train_accuracy = evaluate_float(model, x_train, y_train)
    if val is not None:
        yv = np.argmax(val[1], axis=-1) if soft else val[1]
        result.float_accuracy = evaluate_float(model, val[0], yv)
    return result


def save_model(model, feature_config, out_dir) -> tuple[Path, Path]:
    """Write ``model.keras`` and ``features.json`` side by side.

    Parameters
    ----------
    model : keras.Model
        Trained model.
    feature_config : edgekit.data.FeatureConfig
        Feature settings the model was trained with (anything with a
        ``save(path)`` method).
    out_dir : str or os.PathLike
        Directory to write to; created if missing.

    Returns
    -------
    tuple of pathlib.Path
        Paths of the model and feature files.
    """
    if not hasattr(feature_config, "save"):
        raise ConfigError(
            f"feature_config must have a save(path) method (got {type(feature_config).__name__})"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "model.keras"
    feat_path = out / "features.json"
    model.save(model_path)
    feature_config.save(feat_path)
    return model_path, feat_path


def load_model(path):
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``model.keras`` file or the directory holding it.

    Returns
    -------
    keras.Model
        The loaded model.

    Raises
    ------
    ModelError
        If the file is missing or not a readable Keras model.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "model.keras"
    if not p.is_file():
        raise ModelError(f"no Keras model at {os.fspath(p)}")
    import keras

    from edgekit.models.registry import register_custom_layers

    register_custom_layers()
    try:
        return keras.saving.load_model(p, compile=False)
    except Exception as exc:  # keras raises many unrelated types for bad files
        raise ModelError(f"cannot load Keras model {os.fspath(p)}: {exc}") from exc
