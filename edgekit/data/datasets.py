"""One entry point for every dataset: name -> root, default features, loader.

The build pipeline, ``edgekit train`` / ``edgekit build`` (``--dataset``,
``--data``, ``--data-option``) and recipes (``[dataset] name = ...``) choose
a dataset through :func:`load_dataset`; every loader returns the same
:class:`edgekit.data.Dataset`, so every zoo model trains on any of them.

==================  =====================================  ==========================
name                options (:func:`load_dataset` kwargs)   default features
==================  =====================================  ==========================
``fsdd``            holdout_speaker, limit_per_class,       8 kHz, 64 x 40
                    resample
``speech_commands`` words, silence_fraction,                16 kHz, 48 x 40
                    unknown_fraction, resample, seed,
                    limit_per_class
``esc50``           test_fold, val_fold, esc10, resample,   16 kHz, 152 x 40
                    limit_per_class
==================  =====================================  ==========================
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgekit.data.esc50 import ESC50_FEATURES, load_esc50
from edgekit.data.features import FeatureConfig
from edgekit.data.fsdd import Dataset, load_fsdd
from edgekit.data.paths import KNOWN_DATASETS, resolve_data_root
from edgekit.data.speech_commands import SPEECH_COMMANDS_FEATURES, load_speech_commands
from edgekit.errors import ConfigError

__all__ = ["DATASETS", "DATASET_OPTIONS", "check_dataset", "dataset_summary",
           "default_feature_config", "describe_dataset", "load_dataset"]

#: The dataset names, FSDD (the default) first.
DATASETS = KNOWN_DATASETS

#: Dataset name -> the keyword options its loader accepts.
DATASET_OPTIONS: dict[str, tuple[str, ...]] = {
    "fsdd": ("holdout_speaker", "limit_per_class", "resample"),
    "speech_commands": ("words", "silence_fraction", "unknown_fraction", "resample", "seed",
                        "limit_per_class"),
    "esc50": ("test_fold", "val_fold", "esc10", "resample", "limit_per_class"),
}

_LOADERS = {"fsdd": load_fsdd, "speech_commands": load_speech_commands, "esc50": load_esc50}


def check_dataset(name: str, options: dict | None = None) -> None:
    """Check a dataset name and the names of its options (not their values).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    options : dict, optional
        Loader keyword options.

    Raises
    ------
    edgekit.errors.ConfigError
        On an unknown dataset or an option the dataset does not take.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    extra = sorted(set(options or {}) - set(DATASET_OPTIONS[name]))
    if extra:
        raise ConfigError(f"dataset {name} has no option(s) {', '.join(extra)} "
                          f"(options: {', '.join(DATASET_OPTIONS[name])})")


def default_feature_config(name: str) -> FeatureConfig:
    """The feature configuration a dataset is loaded with by default.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.

    Returns
    -------
    FeatureConfig
        ``FeatureConfig()`` for FSDD, ``SPEECH_COMMANDS_FEATURES``,
        ``ESC50_FEATURES``.

    Raises
    ------
    edgekit.errors.ConfigError
        On an unknown dataset.
    """
    check_dataset(name)
    return {"fsdd": FeatureConfig(), "speech_commands": SPEECH_COMMANDS_FEATURES,
            "esc50": ESC50_FEATURES}[name]


def load_dataset(name: str = "fsdd", data: str | Path | None = None,
                 config: FeatureConfig | None = None, features: dict | None = None,
                 **options) -> Dataset:
    """Locate and load a dataset by name.

    Parameters
    ----------
    name : str, optional
        ``"fsdd"`` (default), ``"speech_commands"`` or ``"esc50"``.
    data : str or pathlib.Path, optional
        Where it is (see :func:`edgekit.data.resolve_data_root`; default
        ``$EDGEKIT_DATA``, then the cache).
    config : FeatureConfig, optional
        Feature settings (default: :func:`default_feature_config`).
    features : dict, optional
        Overrides applied to ``config`` (or to the default), e.g.
        ``{"n_mels": 32}``; a recipe's ``[features]`` table.
    **options
        The loader's options (:data:`DATASET_OPTIONS`), e.g.
        ``words="kws12"`` or ``test_fold=1``.

    Returns
    -------
    Dataset

    Raises
    ------
    edgekit.errors.ConfigError
        On an unknown dataset, option or feature key.
    edgekit.errors.DataError
        From the loader (data not found, bad files, bad option values).
    """
    check_dataset(name, options)
    if features:
        try:
            config = dataclasses.replace(config or default_feature_config(name), **features)
        except TypeError as exc:
            raise ConfigError(f"bad feature setting(s) {features!r}: {exc}") from None
    root = resolve_data_root(name, data)
    return _LOADERS[name](root, config, **options)


def describe_dataset(name: str, options: dict) -> str:
    """A short description of a dataset and its options, for progress lines."""
    if name == "fsdd":
        holdout = options.get("holdout_speaker")
        return f"FSDD ({f'speaker {holdout} held out' if holdout else 'official split'})"
    return name + "".join(f", {k}={v}" for k, v in options.items())


def dataset_summary(ds: Dataset, root: str | Path, options: dict) -> dict:
    """The ``dataset`` section of a build or training report.

    ``name``, ``root``, split sizes (``train``, ``test``, ``validation``
    where the dataset has one) and ``skipped`` files; ``resampled`` files
    (``{"<original rate>": files}``) when some were; for datasets other
    than FSDD also the ``classes`` and the loader ``options``.
    """
    out = {"name": ds.name, "root": str(root), "train": int(len(ds.y_train)),
           "test": int(len(ds.y_test)), "skipped": len(ds.skipped)}
    if ds.y_val is not None and len(ds.y_val):
        out["validation"] = int(len(ds.y_val))
    if ds.resampled:
        out["resampled"] = {str(r): int(n) for r, n in ds.resampled.items()}
    if ds.name != "fsdd":
        out.update(classes=list(ds.class_names), options=dict(options))
    return out
