"""The data stage: WAV reading, log-mel features and the datasets.

Datasets: FSDD (:func:`load_fsdd`), Speech Commands v2
(:func:`load_speech_commands`) and ESC-50 (:func:`load_esc50`); all return a
:class:`Dataset`.  :func:`load_dataset` picks one by name.

numpy only (no TensorFlow).  Every error a user can fix is raised as
:class:`edgekit.errors.DataError`.
"""

from edgekit.data.features import (
    FeatureConfig,
    compute_logmel,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    power_spectrogram,
)
from edgekit.data.datasets import (
    DATASET_OPTIONS,
    DATASETS,
    check_dataset,
    dataset_summary,
    default_feature_config,
    describe_dataset,
    load_dataset,
)
from edgekit.data.esc50 import ESC50_COLUMNS, ESC50_FEATURES, load_esc50
from edgekit.data.fetch import DEFAULT_URL, fetch_fsdd
from edgekit.data.fsdd import FSDD_CLASS_NAMES, FSDD_SPEAKERS, Dataset, load_fsdd, parse_fsdd_name
from edgekit.data.paths import (
    cache_dir,
    find_esc50,
    find_fsdd_recordings,
    find_speech_commands,
    resolve_data_root,
)
from edgekit.data.resample import fix_length
from edgekit.data.speech_commands import (
    KWS12_WORDS,
    SPEECH_COMMANDS_FEATURES,
    load_background_noise,
    load_speech_commands,
)
from edgekit.data.wav import parse_wav_bytes, read_wav

__all__ = [
    "DATASETS",
    "DATASET_OPTIONS",
    "DEFAULT_URL",
    "ESC50_COLUMNS",
    "ESC50_FEATURES",
    "KWS12_WORDS",
    "SPEECH_COMMANDS_FEATURES",
    "check_dataset",
    "dataset_summary",
    "describe_dataset",
    "default_feature_config",
    "find_esc50",
    "find_speech_commands",
    "fix_length",
    "load_background_noise",
    "load_dataset",
    "load_esc50",
    "load_speech_commands",
    "FSDD_CLASS_NAMES",
    "FSDD_SPEAKERS",
    "Dataset",
    "FeatureConfig",
    "cache_dir",
    "compute_logmel",
    "fetch_fsdd",
    "find_fsdd_recordings",
    "hz_to_mel",
    "load_fsdd",
    "mel_filterbank",
    "mel_to_hz",
    "parse_fsdd_name",
    "parse_wav_bytes",
    "power_spectrogram",
    "read_wav",
    "resolve_data_root",
]
