"""Shared test fixtures.

``fsdd_root`` locates the real Free Spoken Digit Dataset: ``$EDGEKIT_DATA``
(set by the Makefile) or ``<project root>/../shared/data``.  It is never copied
into the repository.  Without it, tests that need it are skipped -- or fail,
when ``$CI`` is set, so that CI cannot pass vacuously.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest

from edgekit.startup import configure_tensorflow
from tests.shared_data import shared_dir

configure_tensorflow()   # before any test imports TensorFlow, as the CLI does
# Every host build of generated C in the suite runs under AddressSanitizer and
# UndefinedBehaviorSanitizer (edgekit.emulator.build.build_host reads this);
# EDGEKIT_HOST_SANITIZE=0 turns it off for a quick local run.
os.environ.setdefault("EDGEKIT_HOST_SANITIZE", "1")
# Trained weights are cached (edgekit.models.train_cache) only within one run of
# the suite: the controller picks a fresh directory before the xdist workers
# start, the workers inherit it, so a test that reuses another test's training
# in this run saves time, and no run is made faster by a previous one.  The
# controller removes it at the end (pytest_unconfigure).
_OWN_TRAIN_CACHE = "EDGEKIT_TRAIN_CACHE" not in os.environ
if _OWN_TRAIN_CACHE:
    os.environ["EDGEKIT_TRAIN_CACHE"] = str(
        Path(tempfile.gettempdir()) / f"edgekit-test-train-cache-{os.getpid()}")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _find_fsdd() -> tuple[Path | None, list[Path]]:
    bases = []
    if os.environ.get("EDGEKIT_DATA"):
        bases.append(Path(os.environ["EDGEKIT_DATA"]))
    bases.append(PROJECT_ROOT.parent / "shared" / "data")
    looked = []
    for base in bases:
        recordings = base / "fsdd" / "recordings"
        looked.append(recordings)
        if recordings.is_dir() and any(recordings.glob("*.wav")):
            return recordings, looked
    return None, looked


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    """The real FSDD ``recordings`` directory (skip, or fail under ``$CI``, if absent)."""
    found, looked = _find_fsdd()
    if found is None:
        reason = "FSDD not found (looked in " + ", ".join(map(str, looked)) + "); set EDGEKIT_DATA"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def fsdd_dataset(fsdd_root):
    """The real FSDD loaded once with the default features and the official split."""
    from edgekit.data import load_fsdd

    return load_fsdd(fsdd_root)


@pytest.fixture(scope="session")
def small_lmuformer_run(fsdd_dataset):
    """A small lmuformer trained once per suite: ``(model, TrainResult, train indices)``.

    5 epochs on 900 FSDD train clips (seed 0); ``TrainResult.float_accuracy``
    is the official test split's.  The validation pass does not change the
    weights (checked: the same weights with and without it), so this is the
    model of :func:`small_lmuformer` too.  It is also the model that
    ``tests/models/test_models_lmuformer.py`` trains (same arguments), which
    can take it from here instead of training it again.
    Treat the model as read-only: it is shared.
    """
    from edgekit.models import build_model
    from edgekit.models.train import train

    ds = fsdd_dataset
    idx = np.sort(np.random.default_rng(0).permutation(len(ds.x_train))[:900])
    model = build_model("lmuformer", ds.input_shape, 10, seed=0, dim=24, order=6, memory_d=8)
    result = train(model, ds.x_train[idx], ds.y_train[idx], epochs=5, batch_size=32,
                   learning_rate=1e-2, seed=0, validation=(ds.x_test, ds.y_test),
                   progress=False)
    return model, result, idx


@pytest.fixture(scope="session")
def small_lmuformer(small_lmuformer_run):
    """The model of :func:`small_lmuformer_run`: ``(model, train indices)``.

    Shared by the streaming tests, which check arithmetic and decisions, not
    accuracy.
    """
    model, _, idx = small_lmuformer_run
    return model, idx


def write_wav(
    path: Path,
    samples: np.ndarray,
    sample_rate: int = 8000,
    sampwidth: int = 2,
    channels: int = 1,
) -> Path:
    """Write integer PCM with the stdlib ``wave`` module.

    ``samples`` are floats in [-1, 1], shape ``(n,)`` or ``(n, channels)``.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1, channels)
    scale = float(2 ** (8 * sampwidth - 1) - 1)
    ints = np.round(np.clip(x, -1, 1) * scale).astype(np.int64)
    if sampwidth == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif sampwidth == 3:
        b = (ints.reshape(-1) & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
        raw = b.tobytes()
    else:
        raw = ints.astype(f"<i{sampwidth}").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(sample_rate)
        w.writeframes(raw)
    return Path(path)


@pytest.fixture
def wav_writer():
    """The :func:`write_wav` helper, for tests that build their own WAV files."""
    return write_wav


MLPERF_MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant", "str_ww_ref_model",
                 "vww_96_int8")


@pytest.fixture(scope="session")
def mlperf_dir() -> Path:
    """``shared/models/mlperf-tiny`` (beside ``$EDGEKIT_DATA``, or ``../shared``)."""
    return shared_dir("models/mlperf-tiny", [f"{m}.tflite" for m in MLPERF_MODELS])


def pytest_collection_modifyitems(session, config, items):
    """Files with a ``slow`` test run first (stable order otherwise).

    Under ``pytest -n 2 --dist loadfile`` (``make test``) each file runs on one
    worker, and the first files go to the workers first: the long trainings
    start at once, side by side, while the short tests fill the other worker.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def pytest_unconfigure(config):
    """Remove this run's training cache (by the controller, or a run without workers)."""
    if _OWN_TRAIN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ["EDGEKIT_TRAIN_CACHE"], ignore_errors=True)
