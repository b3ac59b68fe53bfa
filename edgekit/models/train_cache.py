"""A cache of trained float models, keyed by everything that decides the weights.

Training is deterministic (:func:`edgekit.models.train.train` seeds Python,
NumPy and TensorFlow and enables op determinism), so a second build with the
same model, hyper-parameters, training settings and training data would
compute the same weights again.  :func:`train_cached` returns the stored
weights instead: a rebuild that only changes what comes after training
(compression steps, quantization, the target) skips the training.

The key is the SHA-256 of

- the architecture, its hyper-parameters, and every argument of ``train``
  (epochs, batch size, seed, learning rate, augmentation table ...);
- the bytes, dtype and shape of the training, validation and
  augmented-copy arrays (so the dataset, the split, the front end and its
  parameters are all in it, through the features they produced);
- the source of the ``edgekit`` package (any edit retrains), and the
  TensorFlow, Keras and NumPy versions and the machine type.

Entries live in ``<cache>/trained/<key>/`` (``model.weights.h5`` and
``result.json``), are written to a temporary directory and renamed, and
concurrent builds of the same key wait for each other (a lock file) instead of
training twice.  ``EDGEKIT_TRAIN_CACHE=0`` turns the cache off;
``EDGEKIT_TRAIN_CACHE=<dir>`` moves it.  Training with callbacks (a sweep's
per-epoch reports to Ray Tune) is never cached.  At most :data:`MAX_ENTRIES`
entries are kept (least recently used dropped first).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from edgekit.cache import cache_dir

__all__ = ["MAX_ENTRIES", "train_cache_dir", "train_key", "train_cached"]

#: Entries kept in the cache (each is one model's weights, typically < 1 MB).
MAX_ENTRIES = 64

_PACKAGE = Path(__file__).resolve().parent.parent


def train_cache_dir() -> Path | None:
    """The trained-model cache directory, or ``None`` when the cache is off.

    Returns
    -------
    pathlib.Path or None
        ``$EDGEKIT_TRAIN_CACHE`` when it names a directory, ``None`` when it is
        ``0``, else ``<edgekit cache>/trained``.
    """
    env = os.environ.get("EDGEKIT_TRAIN_CACHE", "")
    if env.strip().lower() in ("0", "off", "false", "no"):
        return None
    return Path(env).expanduser() if env.strip() else cache_dir() / "trained"


def _source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _versions() -> dict:
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "machine": platform.machine()}


def _array_digest(h, a) -> None:
    if a is None:
        h.update(b"none")
        return
    a = np.ascontiguousarray(a)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())


def train_key(description: dict, arrays) -> str:
    """The cache key of one training.

    Parameters
    ----------
    description : dict
        JSON-serialisable settings: architecture, hyper-parameters and the
        arguments of ``train`` (everything but the arrays).
    arrays : sequence of numpy.ndarray or None
        The training inputs and labels, the validation data and the
        augmented copies, in a fixed order.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256()
    h.update(json.dumps(description, sort_keys=True, default=str).encode())
    h.update(json.dumps(_versions(), sort_keys=True).encode())
    h.update(_source_digest().encode())
    for a in arrays:
        _array_digest(h, a)
    return h.hexdigest()


def _prune_entries(root: Path, keep: Path) -> None:
    entries = [p for p in root.iterdir() if p.is_dir() and len(p.name) == 64]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda p: p.stat().st_mtime)
    for p in entries[: len(entries) - MAX_ENTRIES]:
        if p != keep:
            shutil.rmtree(p, ignore_errors=True)
            (root / f"{p.name}.lock").unlink(missing_ok=True)


def train_cached(make_model, x_train, y_train, *, description: dict, validation=None,
                 augment_copies=None, callbacks=None, **train_kwargs):
    """Train ``make_model()`` as :func:`edgekit.models.train.train` does, or reuse its weights.

    Parameters
    ----------
    make_model : callable
        Returns the freshly initialised model (seeded as for training).
    x_train, y_train : numpy.ndarray
        Training data.
    description : dict
        Architecture and hyper-parameters (JSON-serialisable), part of the key.
    validation : tuple of numpy.ndarray, optional
        Passed to ``train``.
    augment_copies : numpy.ndarray, optional
        Passed to ``train``.
    callbacks : list, optional
        Passed to ``train``; when given, the cache is not used.
    **train_kwargs
        The other arguments of ``train`` (epochs, batch_size, seed, ...).

    Returns
    -------
    model : keras.Model
        The trained model.
    result : edgekit.models.train.TrainResult
        What the training measured (the stored one on a cache hit).
    key : str or None
        The cache key when the weights came from the cache, else ``None``.
    """
    from edgekit.models.train import TrainResult, train  # noqa: PLC0415

    def fresh():
        model = make_model()
        result = train(model, x_train, y_train, validation=validation,
                       augment_copies=augment_copies, callbacks=callbacks, **train_kwargs)
        # Hand on a newly made model holding the trained weights, as a cache hit
        # does: what runs next (pruning, distillation, calibration) then starts
        # from the same random state (the seed generators of dropout layers, the
        # global seeds) whether the weights were trained now or reused.
        again = make_model()
        again.set_weights(model.get_weights())
        return again, result

    root = train_cache_dir()
    if root is None or callbacks:
        return (*fresh(), None)
    desc = {**description, "train": {k: v for k, v in train_kwargs.items() if k != "progress"}}
    val = validation if validation is not None else (None, None)
    key = train_key(desc, [x_train, y_train, *val, augment_copies])
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (entry / "result.json").is_file():
                model = make_model()
                model.load_weights(entry / "model.weights.h5")
                result = TrainResult(**json.loads((entry / "result.json").read_text()))
                os.utime(entry)
                return model, result, key
            model, result = fresh()
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:8]}-", dir=root))
            try:
                model.save_weights(tmp / "model.weights.h5")
                (tmp / "result.json").write_text(json.dumps(dataclasses.asdict(result),
                                                            default=float))
                shutil.rmtree(entry, ignore_errors=True)   # a partial entry from a killed build
                os.replace(tmp, entry)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)   # a cache that cannot be written is no cache
            _prune_entries(root, entry)
            return model, result, None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
