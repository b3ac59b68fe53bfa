"""The trained-model cache: a second identical training reuses the weights, any change retrains."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.models import build_model
from edgekit.models.train_cache import train_cache_dir, train_cached

pytestmark = pytest.mark.filterwarnings("ignore")


def _data(seed=0, n=24):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 16, 8)).astype(np.float32), rng.integers(0, 3, n)


def _make(seed=3):
    return lambda: build_model("dscnn", (16, 8), 3, seed=seed, width=4, num_blocks=1,
                               first_kernel=(4, 2))


def _run(x, y, seed=3, epochs=1, **kw):
    return train_cached(_make(seed), x, y, description={"arch": "dscnn", "seed": seed},
                        epochs=epochs, batch_size=8, seed=seed, progress=False,
                        warmup_epochs=0, jit_compile=False, **kw)


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_second_identical_training_reuses_the_weights_and_changes_retrain(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_TRAIN_CACHE", str(tmp_path / "tc"))
    x, y = _data()
    m1, r1, k1 = _run(x, y)
    assert k1 is None                                   # trained
    m2, r2, k2 = _run(x, y)
    assert k2 is not None and len(k2) == 64             # reused
    assert all(np.array_equal(a, b) for a, b in zip(_weights(m1), _weights(m2)))
    assert r2.epochs == r1.epochs == 1 and r2.train_accuracy == pytest.approx(r1.train_accuracy)
    # the untrained initial weights differ from the trained ones: the reuse is not a no-op
    fresh = _make()()
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(fresh), _weights(m2)))
    # one changed training example: trained again (settings are in the key as JSON)
    x2 = x.copy()
    x2[0, 0, 0] += 1.0
    assert _run(x2, y)[2] is None
    assert _run(x, y)[2] == k2                          # the first entry is still there


def test_cache_off_and_callbacks_always_train(tmp_path, monkeypatch):
    import keras

    x, y = _data(1)
    monkeypatch.setenv("EDGEKIT_TRAIN_CACHE", "0")
    assert train_cache_dir() is None
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "root"))
    assert _run(x, y)[2] is None
    assert not (tmp_path / "root").exists()            # nothing stored anywhere
    monkeypatch.setenv("EDGEKIT_TRAIN_CACHE", str(tmp_path / "tc"))
    assert _run(x, y, callbacks=[keras.callbacks.Callback()])[2] is None
    assert not (tmp_path / "tc").exists()


def test_what_follows_a_training_does_not_depend_on_a_cache_hit(tmp_path, monkeypatch):
    """Fine-tuning the returned model gives the same weights after a fresh training and a hit.

    A model with dropout: its layers' seed generators advance while it
    trains, so before the fix the model handed on by a fresh training drew
    other dropout masks in the next fit (pruning, distillation) than the
    model loaded from the cache, and the prune-distill recipe gave another
    model on its second build.
    """
    from edgekit.models.train import train

    monkeypatch.setenv("EDGEKIT_TRAIN_CACHE", str(tmp_path / "tc"))
    x, y = _data(2, n=32)
    make = lambda: build_model("dscnn", (16, 8), 3, seed=5, width=4, num_blocks=1,  # noqa: E731
                               first_kernel=(4, 2), dropout=0.5)
    after = []
    for expect_hit in (False, True):
        model, _, key = train_cached(make, x, y, description={"arch": "dscnn", "dropout": 0.5},
                                     epochs=1, batch_size=8, seed=5, progress=False,
                                     warmup_epochs=0, jit_compile=False)
        assert (key is not None) == expect_hit
        train(model, x, y, epochs=1, batch_size=8, seed=5, progress=False, warmup_epochs=0,
              jit_compile=False)
        after.append(_weights(model))
    assert all(np.array_equal(a, b) for a, b in zip(*after))
