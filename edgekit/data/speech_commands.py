"""Loader for the Speech Commands dataset (v2 folder layout).

Layout (Warden 2018 [1]_)::

    <root>/
        validation_list.txt        # relative paths, one per line: right/bb05582b_nohash_3.wav
        testing_list.txt
        <word>/<speaker>_nohash_<n>.wav     # 16 kHz mono, up to 1 s
        _background_noise_/*.wav   # long noise recordings; not a class

A clip listed in ``validation_list.txt`` is in the validation split, one
listed in ``testing_list.txt`` in the test split, and every other clip in the
training split (the lists assign each speaker to one split by a hash of the
speaker id, so no speaker crosses splits).  Folders whose name starts with
``_`` or ``.`` are not classes.

Every clip is cut, or zero-padded at the end, to exactly 1 s at the feature
sample rate before its features are computed.  A clip at another sample rate
is resampled with :func:`edgekit.data.resample.resample` (``resample=True``,
the default) or refused with an error naming the file and both rates.

The standard 12-class keyword-spotting task (``words="kws12"``), as in the
reference TensorFlow training script [2]_ and MLPerf Tiny KWS [3]_: the ten
command words ``yes, no, up, down, left, right, on, off, stop, go`` plus
``_silence_`` and ``_unknown_``.  Class order is ``_silence_``,
``_unknown_``, then the words.  In each split:

* ``_unknown_`` holds ``ceil(unknown_fraction * K)`` clips (``K``: number of
  clips of the chosen words in that split) drawn at random, without
  replacement, from the other word folders' clips *of the same split*;
* ``_silence_`` holds ``ceil(silence_fraction * K)`` clips, each a random
  1 s segment of a random ``_background_noise_`` recording scaled by a
  random volume in ``[0, 1)`` (all-zero clips when there is no
  ``_background_noise_`` folder).  As in [2]_, the same noise recordings feed
  all three splits.

Both fractions default to 0.1 for ``"kws12"`` and to 0 otherwise; the draws
depend only on ``seed`` and the split, so a load is reproducible.

References
----------
.. [1] P. Warden, "Speech Commands: A Dataset for Limited-Vocabulary Speech
   Recognition", arXiv:1804.03209, 2018.
.. [2] TensorFlow, ``tensorflow/examples/speech_commands/input_data.py``
   (``prepare_data_index``: silence and unknown percentages).
.. [3] C. Banbury et al., "MLPerf Tiny Benchmark", NeurIPS Datasets and
   Benchmarks, 2021 (keyword spotting: 12 classes on Speech Commands v2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from edgekit.data.features import FeatureConfig
from edgekit.data.fsdd import Dataset
from edgekit.data.paths import find_speech_commands
from edgekit.data.resample import fix_length, load_clip, read_wav_at
from edgekit.errors import DataError

__all__ = [
    "KWS12_WORDS",
    "SILENCE_LABEL",
    "UNKNOWN_LABEL",
    "BACKGROUND_NOISE_DIR",
    "SPEECH_COMMANDS_FEATURES",
    "load_speech_commands",
    "load_background_noise",
    "speech_commands_words",
]

#: The ten command words of the standard 12-class task, in the order of [2]_.
KWS12_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
CLIP_SECONDS = 1

#: Default features: 16 kHz, 30 ms Hann window every 20 ms (TensorFlow's
#: micro_speech front end uses the same window and stride), 512-point FFT,
#: 40 mel bands from 20 Hz to 8 kHz.  48 frames cover the first 0.97 s of
#: the 1 s clip; 48 (not micro_speech's 49) is divisible by the zoo's
#: ``frame_pool`` (4) and ``patch_stride`` (2), so every zoo recipe builds.
SPEECH_COMMANDS_FEATURES = FeatureConfig(
    sample_rate=16000, frame_length=480, hop_length=320, n_fft=512, n_mels=40,
    fmin=20.0, fmax=8000.0, num_frames=48,
)

_SPLITS = ("train", "validation", "testing")


def speech_commands_words(root: str | Path) -> tuple[str, ...]:
    """The word (class) folders of a Speech Commands folder, sorted.

    Parameters
    ----------
    root : str or pathlib.Path
        The dataset folder.

    Returns
    -------
    tuple of str
        Sub-folder names that do not start with ``_`` or ``.``.

    Raises
    ------
    edgekit.errors.DataError
        If ``root`` is not a readable directory.
    """
    root = Path(root)
    try:
        return tuple(sorted(p.name for p in root.iterdir()
                            if p.is_dir() and not p.name.startswith(("_", "."))))
    except OSError as exc:
        raise DataError(f"cannot list Speech Commands folder {root}: {exc.strerror or exc}") \
            from exc


def _read_list(root: Path, name: str) -> dict[str, int]:
    """Relative POSIX path -> line number of a split list; every entry must exist."""
    path = root / name
    if not path.is_file():
        raise DataError(
            f"Speech Commands: missing {name} in {root} (the split lists "
            f"{VALIDATION_LIST} and {TESTING_LIST} must both be present)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    entries: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        rel = PurePosixPath(line.replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts or len(rel.parts) != 2:
            raise DataError(
                f"{path}:{lineno}: expected a relative path <word>/<file>.wav (got {line!r})"
            )
        if not (root / rel).is_file():
            raise DataError(f"{path}:{lineno}: listed file {line!r} does not exist "
                            f"({root / rel})")
        entries.setdefault(str(rel), lineno)
    return entries


def _choose_words(words, available: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """The chosen words and whether they are the 12-class preset."""
    if words is None:
        return available, False
    preset = False
    if isinstance(words, str):
        if words.strip().lower() == "kws12":
            words, preset = KWS12_WORDS, True
        else:
            words = [w.strip() for w in words.split(",") if w.strip()]
    if not isinstance(words, Sequence) or not all(isinstance(w, str) for w in words):
        raise DataError(f"words must be None, 'kws12', a comma-separated string or a list of "
                        f"words (got {words!r})")
    words = tuple(words)
    if not words:
        raise DataError("words is empty (got no word)")
    for w in words:
        if w in (SILENCE_LABEL, UNKNOWN_LABEL):
            raise DataError(f"{w!r} is not a word folder; use silence_fraction / "
                            f"unknown_fraction to add it (got words={list(words)!r})")
    dupes = sorted({w for w in words if words.count(w) > 1})
    if dupes:
        raise DataError(f"words lists {', '.join(map(repr, dupes))} more than once")
    missing = [w for w in words if w not in available]
    if missing:
        raise DataError(f"unknown word(s) {', '.join(map(repr, missing))}: no such folder "
                        f"(words available: {', '.join(available) or 'none'})")
    return words, preset


def _fraction(value, name: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0.0 <= float(value) <= 1.0:
        raise DataError(f"{name} must be a number in [0, 1] (got {value!r})")
    return float(value)


def load_background_noise(root: str | Path, sample_rate: int = 16000,
                          resample: bool = True) -> list[tuple[Path, np.ndarray]]:
    """Read the ``_background_noise_`` recordings of a Speech Commands folder.

    Parameters
    ----------
    root : str or pathlib.Path
        The dataset folder.
    sample_rate : int, optional
        Rate to return the noise at (resampled if it differs, see ``resample``).
    resample : bool, optional
        If false, a recording at another rate raises :class:`DataError`.

    Returns
    -------
    list of (pathlib.Path, numpy.ndarray)
        Each ``.wav`` file, sorted by name, with its float32 mono samples;
        empty if there is no ``_background_noise_`` folder.

    Raises
    ------
    edgekit.errors.DataError
        On a corrupt WAV or (``resample=False``) a wrong sample rate.
    """
    folder = Path(root) / BACKGROUND_NOISE_DIR
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        out.append((path, read_wav_at(path, sample_rate, resample)))
    return out


def load_speech_commands(
    root: str | Path,
    config: FeatureConfig | None = None,
    *,
    words: str | Sequence[str] | None = None,
    silence_fraction: float | None = None,
    unknown_fraction: float | None = None,
    resample: bool = True,
    seed: int = 0,
    limit_per_class: int | None = None,
) -> Dataset:
    """Load a Speech Commands (v2 layout) folder as log-mel features.

    Parameters
    ----------
    root : str or pathlib.Path
        The dataset folder (with the word folders and the two split lists),
        or a data folder containing ``speech_commands_v0.02/`` or
        ``speech_commands/``.
    config : FeatureConfig, optional
        Feature settings; defaults to :data:`SPEECH_COMMANDS_FEATURES`
        (16 kHz, 48 x 40 log-mels).
    words : str or sequence of str, optional
        The classes.  ``None`` (default): every word folder, sorted by name.
        ``"kws12"``: the standard 12-class task (module docs).  A list such
        as ``["yes", "no"]`` or a string ``"yes,no"``: those words, in that
        order.
    silence_fraction, unknown_fraction : float, optional
        Size of the ``_silence_`` / ``_unknown_`` classes relative to the
        chosen words' clip count in each split (module docs); a class is
        added only if its fraction is > 0.  Default 0.1 each with
        ``words="kws12"``, else 0.
    resample : bool, optional
        Resample clips whose rate differs from ``config.sample_rate``
        (default).  If false, such a clip raises :class:`DataError`.
    seed : int, optional
        Seed of the ``_unknown_`` / ``_silence_`` draws.
    limit_per_class : int, optional
        Keep at most this many clips per class in each split (the first by
        path; for quick experiments).

    Returns
    -------
    Dataset
        ``x_train`` / ``x_val`` / ``x_test`` (``x_val`` may have 0 rows),
        ordered by class, then by path; ``name="speech_commands"``,
        ``split="speech_commands-testing_list"``.

    Raises
    ------
    edgekit.errors.DataError
        If a split list is missing or names a file that does not exist, a
        requested word has no folder, a chosen word's folder holds no
        ``.wav`` file or no training clip, ``_unknown_`` has nothing to draw
        from, a WAV file is corrupt or (``resample=False``) at the wrong
        rate, an argument is invalid, or the training or test split is empty.

    References
    ----------
    .. [1] P. Warden, "Speech Commands: A Dataset for Limited-Vocabulary
       Speech Recognition", arXiv:1804.03209, 2018.
    """
    config = config or SPEECH_COMMANDS_FEATURES
    if limit_per_class is not None and (isinstance(limit_per_class, bool) or
                                        not isinstance(limit_per_class, int) or
                                        limit_per_class <= 0):
        raise DataError(f"limit_per_class must be a positive integer (got {limit_per_class!r})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"seed must be an integer (got {seed!r})")
    base = Path(root).expanduser()
    found = find_speech_commands(base)
    root = found if found is not None else base
    if not root.is_dir():
        raise DataError(f"Speech Commands folder {root} does not exist")

    available = speech_commands_words(root)
    if not available:
        raise DataError(f"Speech Commands: no word folders in {root}")
    chosen, preset = _choose_words(words, available)
    silence_fraction = _fraction(silence_fraction, "silence_fraction", 0.1 if preset else 0.0)
    unknown_fraction = _fraction(unknown_fraction, "unknown_fraction", 0.1 if preset else 0.0)
    val_list = _read_list(root, VALIDATION_LIST)
    test_list = _read_list(root, TESTING_LIST)
    both = sorted(set(val_list) & set(test_list))
    if both:
        raise DataError(f"{both[0]!r} is listed in both {root / VALIDATION_LIST} and "
                        f"{root / TESTING_LIST} ({len(both)} such file(s))")

    # Every clip of every word folder, by split.
    clips: dict[str, dict[str, list[Path]]] = {s: {} for s in _SPLITS}
    for word in available:
        folder = root / word
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
        if not paths and word in chosen:
            raise DataError(f"Speech Commands: class {word!r} is empty (no .wav files in "
                            f"{folder})")
        for p in paths:
            rel = f"{word}/{p.name}"
            split = "validation" if rel in val_list else "testing" if rel in test_list \
                else "train"
            clips[split].setdefault(word, []).append(p)
    for word in chosen:
        if not clips["train"].get(word):
            n = sum(len(clips[s].get(word, [])) for s in _SPLITS)
            raise DataError(f"Speech Commands: class {word!r} has no training clip (all {n} "
                            f"clip(s) in {root / word} are in the validation or testing list)")

    class_names = ((SILENCE_LABEL,) if silence_fraction > 0 else ()) + \
        ((UNKNOWN_LABEL,) if unknown_fraction > 0 else ()) + tuple(chosen)
    label = {name: i for i, name in enumerate(class_names)}
    noise = load_background_noise(root, config.sample_rate, resample) \
        if silence_fraction > 0 else []
    clip_len = CLIP_SECONDS * config.sample_rate
    others = [w for w in available if w not in chosen]

    out = {}
    for split_index, split in enumerate(_SPLITS):
        rng = np.random.default_rng([int(seed), split_index])
        rows: list[tuple[int, Path, np.ndarray | None]] = []   # (label, source, samples)
        known = 0
        for word in chosen:
            paths = clips[split].get(word, [])[:limit_per_class]
            known += len(paths)
            rows.extend((label[word], p, None) for p in paths)
        if unknown_fraction > 0:
            pool = sorted(p for w in others for p in clips[split].get(w, []))
            want = min(math.ceil(unknown_fraction * known), limit_per_class or known)
            if want and not pool:
                raise DataError(f"Speech Commands: no clips of other words in the {split} split "
                                f"to draw {UNKNOWN_LABEL} from (words available: "
                                f"{', '.join(available)})")
            pick = sorted(rng.choice(len(pool), size=min(want, len(pool)), replace=False))
            rows.extend((label[UNKNOWN_LABEL], pool[i], None) for i in pick)
        if silence_fraction > 0:
            want = min(math.ceil(silence_fraction * known), limit_per_class or known)
            for _ in range(want):
                if noise:
                    src, wave = noise[int(rng.integers(len(noise)))]
                    start = int(rng.integers(0, max(len(wave) - clip_len, 0) + 1))
                    seg = fix_length(wave[start:start + clip_len], clip_len)
                    seg = seg * np.float32(rng.uniform(0.0, 1.0))
                else:
                    src, seg = root / SILENCE_LABEL, np.zeros(clip_len, np.float32)
                rows.append((label[SILENCE_LABEL], src, seg))
        rows.sort(key=lambda r: r[0])  # stable: within a class, the order above
        feats = []
        for _, path, samples in rows:
            if samples is None:
                samples = load_clip(path, config.sample_rate, CLIP_SECONDS, resample)
            feats.append(config.compute(samples))
        x = np.stack(feats).astype(np.float32, copy=False) if feats else \
            np.zeros((0, *config.shape), np.float32)
        out[split] = (x, np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows])
    for split, listed in (("train", None), ("testing", TESTING_LIST)):
        if len(out[split][1]) == 0:
            where = f"listed in {root / listed}" if listed else "outside the split lists"
            raise DataError(f"the Speech Commands {split} split under {root} is empty (no clip "
                            f"of {', '.join(chosen)} {where})")
    return Dataset(
        x_train=out["train"][0], y_train=out["train"][1], files_train=out["train"][2],
        x_test=out["testing"][0], y_test=out["testing"][1], files_test=out["testing"][2],
        x_val=out["validation"][0], y_val=out["validation"][1], files_val=out["validation"][2],
        class_names=class_names, feature_config=config, name="speech_commands",
        split="speech_commands-testing_list",
    )
