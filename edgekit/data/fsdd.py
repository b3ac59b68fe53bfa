"""Loader for the Free Spoken Digit Dataset (FSDD).

FSDD recordings are 8 kHz mono WAV files named ``{digit}_{speaker}_{index}.wav``:
six speakers (george, jackson, lucas, nicolas, theo, yweweler) each say every
digit 50 times (index 0--49), 3,000 files in all.  The dataset's own README
defines the split: indices 0--4 are the test set, 5--49 the training set.

A recording at another sample rate than the features' (the front end's
8 kHz by default) is resampled to it (:func:`edgekit.data.resample.resample`,
the polyphase filter of ``scipy.signal.resample_poly``) and the loader says
so once, with a warning on the ``"edgekit"`` logger naming how many files
were resampled and from which rates (``Dataset.resampled`` keeps the counts).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.data.features import FeatureConfig
from edgekit.data.paths import find_fsdd_recordings
from edgekit.data.resample import resample as resample_audio
from edgekit.data.wav import read_wav
from edgekit.errors import DataError

__all__ = ["Dataset", "load_fsdd", "FSDD_SPEAKERS", "FSDD_CLASS_NAMES", "fsdd_entries",
           "parse_fsdd_name"]

logger = logging.getLogger("edgekit")

FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD_CLASS_NAMES = tuple(str(d) for d in range(10))
FSDD_TEST_INDICES = range(0, 5)
_NAME_RE = re.compile(r"^([0-9])_([A-Za-z]+)_([0-9]+)\.wav$")


@dataclass
class Dataset:
    """Features and labels of a train/test split.

    Attributes
    ----------
    x_train, x_test : numpy.ndarray
        float32 log-mel features, shape ``(N, num_frames, n_mels)``.
    y_train, y_test : numpy.ndarray
        int64 class indices in ``0 .. len(class_names) - 1``, shape ``(N,)``.
    class_names : tuple of str
        Label names; for FSDD ``("0", ..., "9")`` so label ``i`` is digit ``i``.
    feature_config : FeatureConfig
        The configuration the features were computed with.
    skipped : list of (pathlib.Path, str)
        Files that were left out, with the reason (corrupt WAV, a sample
        rate not resampled, unexpected file name).
    files_train, files_test : list of pathlib.Path
        The source file of each row of ``x_train`` / ``x_test``, in order.
    x_val, y_val : numpy.ndarray or None
        A validation split, shaped like the test split, for datasets that
        define one (Speech Commands' ``validation_list.txt``); ``None``
        otherwise (FSDD).
    files_val : list of pathlib.Path
        The source of each row of ``x_val`` (empty without a validation
        split).  Rows that are not read from one file (Speech Commands'
        generated ``_silence_`` clips) name the noise file they were cut
        from, or the word folder for all-zero silence.
    resampled : dict of int to int
        Files read at another sample rate than the features' and resampled:
        ``{original rate: number of files}`` (filled by the FSDD loader).
    name : str
        Dataset name (``"fsdd"``, ``"speech_commands"``, ``"esc50"``).
    split : str
        How the test split was chosen, e.g. ``"fsdd-official-test"``,
        ``"speech_commands-testing_list"`` or ``"esc50-fold5"``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    feature_config: FeatureConfig
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    files_train: list[Path] = field(default_factory=list)
    files_test: list[Path] = field(default_factory=list)
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    files_val: list[Path] = field(default_factory=list)
    resampled: dict[int, int] = field(default_factory=dict)
    name: str = "fsdd"
    split: str = "fsdd-official-test"

    @property
    def num_classes(self) -> int:
        """Number of classes, ``len(class_names)``."""
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int]:
        """Shape of one example, ``(num_frames, n_mels)``."""
        return self.feature_config.shape


def parse_fsdd_name(name: str) -> tuple[int, str, int] | None:
    """Split an FSDD file name into its parts.

    Parameters
    ----------
    name : str
        A base name such as ``"7_theo_12.wav"``.

    Returns
    -------
    tuple of (int, str, int) or None
        ``(digit, speaker, index)``, or ``None`` if the name does not follow
        the ``{digit}_{speaker}_{index}.wav`` pattern.
    """
    m = _NAME_RE.match(name)
    if m is None:
        return None
    return int(m.group(1)), m.group(2).lower(), int(m.group(3))


def load_fsdd(
    root: str | Path,
    config: FeatureConfig | None = None,
    holdout_speaker: str | None = None,
    limit_per_class: int | None = None,
    resample: bool = True,
) -> Dataset:
    """Load FSDD recordings as log-mel features with a train/test split.

    Parameters
    ----------
    root : str or pathlib.Path
        The ``recordings`` folder, the ``fsdd`` folder containing it, or a
        data folder containing ``fsdd/recordings`` (see
        :func:`edgekit.data.resolve_data_root` to find it).
    config : FeatureConfig, optional
        Feature settings; defaults to ``FeatureConfig()``.
    holdout_speaker : str, optional
        If given, all of this speaker's recordings form the test set and the
        other speakers' form the training set.  Otherwise the official split
        is used: recording index 0--4 test, 5 and above train.
    limit_per_class : int, optional
        Keep at most this many files per class *in each split*, chosen
        round-robin over speakers (lowest indices first) so that even a small
        limit covers every speaker.  For quick experiments and tests.
    resample : bool, optional
        Resample a recording at another rate than ``config.sample_rate`` to
        that rate (default; a warning says how many and from which rates);
        if False, such a file is skipped.

    Returns
    -------
    Dataset
        Files are ordered by (digit, speaker, index).  Files that fail to load
        are listed in ``Dataset.skipped`` and a warning is logged on the
        ``"edgekit"`` logger.

    Raises
    ------
    edgekit.errors.DataError
        If ``root`` holds no WAV files, ``holdout_speaker`` is unknown,
        ``limit_per_class`` is not positive, or a split ends up empty.
    """
    config = config or FeatureConfig()
    if limit_per_class is not None and (
        isinstance(limit_per_class, bool) or not isinstance(limit_per_class, int) or limit_per_class <= 0
    ):
        raise DataError(f"limit_per_class must be a positive integer (got {limit_per_class!r})")
    recordings = find_fsdd_recordings(root)
    if recordings is None:
        raise DataError(
            f"no FSDD WAV files found under {root} (looked in fsdd/recordings/, "
            "recordings/ and the folder itself); download them with `edgekit data fetch fsdd`"
        )

    entries, skipped = fsdd_entries(recordings)
    speakers = sorted({e[1] for e in entries})
    if holdout_speaker is not None:
        wanted = holdout_speaker.lower()
        if wanted not in speakers:
            raise DataError(
                f"unknown holdout speaker {holdout_speaker!r} "
                f"(speakers in {recordings}: {', '.join(speakers) or 'none'})"
            )

        def is_test(entry: tuple[int, str, int, Path]) -> bool:
            return entry[1] == wanted

    else:

        def is_test(entry: tuple[int, str, int, Path]) -> bool:
            return entry[2] in FSDD_TEST_INDICES

    splits: dict[bool, list[tuple[int, str, int, Path]]] = {False: [], True: []}
    for entry in entries:
        splits[is_test(entry)].append(entry)
    if limit_per_class is not None:
        for key, items in splits.items():
            splits[key] = _limit(items, limit_per_class)

    out = {}
    resampled: dict[int, int] = {}
    for key, items in splits.items():
        feats, labels, files = [], [], []
        for digit, _speaker, _index, path in items:
            try:
                samples, rate = read_wav(path)
            except DataError as exc:
                reason = str(exc).removeprefix(f"{path}: ")  # the path is listed anyway
                skipped.append((path, reason))
                continue
            if rate != config.sample_rate:
                if not resample:
                    skipped.append(
                        (path, f"sample rate {rate} Hz, expected {config.sample_rate} Hz")
                    )
                    continue
                samples = resample_audio(samples, rate, config.sample_rate)
                resampled[rate] = resampled.get(rate, 0) + 1
            feats.append(config.compute(samples))
            labels.append(digit)
            files.append(path)
        name = "test" if key else "train"
        if not feats:
            raise DataError(
                f"the FSDD {name} split under {recordings} is empty "
                f"({len(items)} candidate file(s), {len(skipped)} skipped in total)"
            )
        x = np.stack(feats).astype(np.float32, copy=False)
        out[key] = (x, np.asarray(labels, dtype=np.int64), files)

    if skipped:
        skipped.sort(key=lambda s: str(s[0]))
        shown = "; ".join(f"{p.name}: {reason}" for p, reason in skipped[:10])
        more = f" (and {len(skipped) - 10} more)" if len(skipped) > 10 else ""
        logger.warning(
            "skipped %d FSDD file(s) in %s: %s%s", len(skipped), recordings, shown, more
        )
    if resampled:
        rates = ", ".join(f"{n} at {r} Hz" for r, n in sorted(resampled.items()))
        logger.warning(
            "resampled %d FSDD file(s) in %s to the features' %d Hz: %s",
            sum(resampled.values()), recordings, config.sample_rate, rates
        )
    return Dataset(
        x_train=out[False][0],
        y_train=out[False][1],
        x_test=out[True][0],
        y_test=out[True][1],
        class_names=FSDD_CLASS_NAMES,
        feature_config=config,
        skipped=skipped,
        files_train=out[False][2],
        files_test=out[True][2],
        resampled=dict(sorted(resampled.items())),
        split=(f"fsdd-holdout-{holdout_speaker}" if holdout_speaker
               else "fsdd-official-test"),
    )


def fsdd_entries(recordings: Path) -> tuple[list[tuple[int, str, int, Path]],
                                             list[tuple[Path, str]]]:
    """The FSDD WAV files of a ``recordings`` folder, parsed and ordered.

    Parameters
    ----------
    recordings : pathlib.Path
        The folder holding ``{digit}_{speaker}_{index}.wav`` files.

    Returns
    -------
    entries : list of (int, str, int, pathlib.Path)
        ``(digit, speaker, index, path)``, ordered by (digit, speaker, index).
    skipped : list of (pathlib.Path, str)
        WAV files whose name does not follow the pattern, with the reason.
    """
    skipped: list[tuple[Path, str]] = []
    entries: list[tuple[int, str, int, Path]] = []
    for path in sorted(recordings.iterdir()):
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        parts = parse_fsdd_name(path.name)
        if parts is None:
            skipped.append((path, "file name does not match {digit}_{speaker}_{index}.wav"))
            continue
        entries.append((*parts, path))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    return entries, skipped


def _limit(
    items: list[tuple[int, str, int, Path]], limit: int
) -> list[tuple[int, str, int, Path]]:
    """Keep ``limit`` entries per digit, round-robin over speakers."""
    by_digit: dict[int, list] = defaultdict(list)
    for entry in items:
        by_digit[entry[0]].append(entry)
    kept = []
    for group in by_digit.values():
        group = sorted(group, key=lambda e: (e[2], e[1]))  # index first, then speaker
        kept.extend(group[:limit])
    kept.sort(key=lambda e: (e[0], e[1], e[2]))
    return kept
