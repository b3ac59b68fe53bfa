"""Loader for ESC-50, the dataset for environmental sound classification.

Layout (Piczak 2015 [1]_, as in the GitHub archive ``ESC-50-master``)::

    <root>/
        meta/esc50.csv     # filename,fold,target,category,esc10,src_file,take
        audio/<filename>   # 44.1 kHz mono WAV, 5 s

2,000 clips, 50 classes of 40 clips, pre-arranged in five folds (clips cut
from the same original recording share a fold).  ``target`` is the class
index and ``category`` its name; ``esc10`` marks the 10-class ESC-10 subset
(400 clips).  Evaluation is five-fold cross-validation: each fold in turn is
the test set and the other four the training set; a single run uses one
fold (default: fold 5) as the test set.

Every clip is resampled to the feature sample rate
(:func:`edgekit.data.resample.resample`, ``resample=True``, the default)
and cut, or zero-padded at the end, to exactly 5 s before its features are
computed.

References
----------
.. [1] K. J. Piczak, "ESC: Dataset for Environmental Sound Classification",
   Proceedings of the 23rd ACM International Conference on Multimedia,
   pp. 1015-1018, 2015.  https://github.com/karolpiczak/ESC-50
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgekit.data.features import FeatureConfig
from edgekit.data.fsdd import Dataset
from edgekit.data.paths import find_esc50
from edgekit.data.resample import load_clip
from edgekit.errors import DataError

__all__ = ["ESC50_COLUMNS", "ESC50_FEATURES", "ESC50_FOLDS", "load_esc50"]

#: Columns of ``meta/esc50.csv``.
ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
ESC50_FOLDS = (1, 2, 3, 4, 5)
CLIP_SECONDS = 5

#: Default features: 16 kHz (resampled from 44.1 kHz), 64 ms Hann window
#: every 32 ms, 1024-point FFT, 40 mel bands from 20 Hz to 8 kHz.  152
#: frames (divisible by the zoo's ``frame_pool`` 4 and ``patch_stride`` 2)
#: cover the first 4.9 s of the 5 s clip.
ESC50_FEATURES = FeatureConfig(
    sample_rate=16000, frame_length=1024, hop_length=512, n_fft=1024, n_mels=40,
    fmin=20.0, fmax=8000.0, num_frames=152,
)

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _fold_arg(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            int(value) not in ESC50_FOLDS:
        raise DataError(f"{name} must be one of 1, 2, 3, 4, 5 (got {value!r})")
    return int(value)


def _read_meta(csv_path: Path) -> list[dict]:
    """Rows of ``esc50.csv`` with fold/target as int and esc10 as bool."""
    if not csv_path.is_file():
        raise DataError(f"ESC-50: missing metadata file {csv_path} "
                        "(expected <root>/meta/esc50.csv)")
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in ESC50_COLUMNS if c not in header]
            if missing:
                raise DataError(f"{csv_path}: missing column(s) {', '.join(missing)} "
                                f"(header: {','.join(header) or 'empty'}; expected "
                                f"{','.join(ESC50_COLUMNS)})")
            rows = []
            for row in reader:
                line = reader.line_num

                def bad(col, why, row=row, line=line):
                    return DataError(f"{csv_path}:{line}: {col} {why} (got {row[col]!r})")

                if any(row[c] is None for c in ESC50_COLUMNS):
                    raise DataError(f"{csv_path}:{line}: too few fields "
                                    f"(need {len(ESC50_COLUMNS)} columns)")
                try:
                    fold = int(row["fold"])
                except ValueError:
                    raise bad("fold", "must be an integer 1-5") from None
                if fold not in ESC50_FOLDS:
                    raise bad("fold", "must be an integer 1-5")
                try:
                    target = int(row["target"])
                except ValueError:
                    raise bad("target", "must be a non-negative integer") from None
                if target < 0:
                    raise bad("target", "must be a non-negative integer")
                flag = row["esc10"].strip().lower()
                if flag not in _TRUE + _FALSE:
                    raise bad("esc10", "must be True or False")
                name = row["filename"].strip()
                if not name or "/" in name or "\\" in name or name in (".", ".."):
                    raise bad("filename", "must be a file name in audio/")
                category = row["category"].strip()
                if not category:
                    raise bad("category", "must not be empty")
                rows.append({"filename": name, "fold": fold, "target": target,
                             "category": category, "esc10": flag in _TRUE, "line": line})
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {csv_path}: {exc}") from exc
    return rows


def load_esc50(
    root: str | Path,
    config: FeatureConfig | None = None,
    *,
    test_fold: int = 5,
    val_fold: int | None = None,
    esc10: bool = False,
    resample: bool = True,
    limit_per_class: int | None = None,
) -> Dataset:
    """Load ESC-50 (or its ESC-10 subset) as log-mel features.

    Parameters
    ----------
    root : str or pathlib.Path
        The dataset folder (holding ``meta/esc50.csv`` and ``audio/``), or a
        data folder containing ``ESC-50-master/``, ``ESC-50/`` or ``esc50/``.
    config : FeatureConfig, optional
        Feature settings; defaults to :data:`ESC50_FEATURES` (16 kHz,
        152 x 40 log-mels).
    test_fold : int, optional
        The fold (1-5) that forms the test split (default 5); loop over 1-5
        for the dataset's five-fold cross-validation.
    val_fold : int, optional
        Another fold to hold out as the validation split (``x_val``);
        default none (``x_val`` is ``None``), so the training split is the
        other four folds.
    esc10 : bool, optional
        Keep only the ESC-10 clips (``esc10`` column true): 10 classes.
    resample : bool, optional
        Resample clips whose rate differs from ``config.sample_rate``
        (default).  If false, such a clip raises :class:`DataError`.
    limit_per_class : int, optional
        Keep at most this many clips per class in each split (csv order).

    Returns
    -------
    Dataset
        Labels are class indices in ``target`` order: ``class_names[i]`` is
        the ``category`` of the ``i``-th smallest ``target`` (for the full
        dataset label == target).  Rows follow the csv order within each
        split.  ``name="esc50"``, ``split="esc50-fold<k>"`` (``"esc10-fold<k>"``).

    Raises
    ------
    edgekit.errors.DataError
        If ``meta/esc50.csv`` is missing, lacks a column or has a bad value,
        a target maps to two categories, a listed audio file does not exist
        or is a corrupt WAV, a class has no training clip, a fold or other
        argument is invalid, or a split ends up empty.

    References
    ----------
    .. [1] K. J. Piczak, "ESC: Dataset for Environmental Sound
       Classification", Proc. ACM Multimedia, 2015.
    """
    config = config or ESC50_FEATURES
    test_fold = _fold_arg(test_fold, "test_fold")
    if val_fold is not None:
        val_fold = _fold_arg(val_fold, "val_fold")
        if val_fold == test_fold:
            raise DataError(f"val_fold must differ from test_fold (both {test_fold})")
    if not isinstance(esc10, bool):
        raise DataError(f"esc10 must be true or false (got {esc10!r})")
    if limit_per_class is not None and (isinstance(limit_per_class, bool) or
                                        not isinstance(limit_per_class, int) or
                                        limit_per_class <= 0):
        raise DataError(f"limit_per_class must be a positive integer (got {limit_per_class!r})")
    base = Path(root).expanduser()
    found = find_esc50(base)
    root = found if found is not None else base
    csv_path = root / "meta" / "esc50.csv"
    rows = _read_meta(csv_path)

    names: dict[int, str] = {}
    for r in rows:
        prev = names.setdefault(r["target"], r["category"])
        if prev != r["category"]:
            raise DataError(f"{csv_path}:{r['line']}: target {r['target']} is "
                            f"{r['category']!r} here but {prev!r} earlier")
    if esc10:
        rows = [r for r in rows if r["esc10"]]
    if not rows:
        raise DataError(f"{csv_path} lists no {'ESC-10 ' if esc10 else ''}clips")
    targets = sorted({r["target"] for r in rows})
    label = {t: i for i, t in enumerate(targets)}
    class_names = tuple(names[t] for t in targets)

    audio = root / "audio"
    for r in rows:
        path = audio / r["filename"]
        if not path.is_file():
            raise DataError(f"{csv_path}:{r['line']}: listed file {r['filename']!r} does not "
                            f"exist ({path})")
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for r in rows:
        key = "test" if r["fold"] == test_fold else "val" if r["fold"] == val_fold else "train"
        splits[key].append(r)
    counts = {t: 0 for t in targets}
    for r in splits["train"]:
        counts[r["target"]] += 1
    empty = [names[t] for t in targets if counts[t] == 0]
    if empty:
        raise DataError(f"ESC-50: class(es) {', '.join(map(repr, empty))} have no training clip "
                        f"outside fold {test_fold}" +
                        (f" and {val_fold}" if val_fold is not None else "") + f" ({csv_path})")

    tag = "esc10" if esc10 else "esc50"
    out = {}
    for key, items in splits.items():
        if limit_per_class is not None:
            seen: dict[int, int] = {}
            kept = []
            for r in items:
                seen[r["target"]] = seen.get(r["target"], 0) + 1
                if seen[r["target"]] <= limit_per_class:
                    kept.append(r)
            items = kept
        files = [audio / r["filename"] for r in items]
        feats = [config.compute(load_clip(p, config.sample_rate, CLIP_SECONDS, resample))
                 for p in files]
        if not feats and key != "val":
            raise DataError(f"the {tag} {key} split (fold {test_fold} as test) under {root} is "
                            "empty")
        x = np.stack(feats).astype(np.float32, copy=False) if feats else \
            np.zeros((0, *config.shape), np.float32)
        out[key] = (x, np.asarray([label[r["target"]] for r in items], dtype=np.int64), files)
    has_val = val_fold is not None
    return Dataset(
        x_train=out["train"][0], y_train=out["train"][1], files_train=out["train"][2],
        x_test=out["test"][0], y_test=out["test"][1], files_test=out["test"][2],
        x_val=out["val"][0] if has_val else None, y_val=out["val"][1] if has_val else None,
        files_val=out["val"][2], class_names=class_names, feature_config=config,
        name="esc50", split=f"{tag}-fold{test_fold}",
    )
