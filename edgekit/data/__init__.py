"""The data stage: WAV reading, log-mel features and the FSDD dataset.

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
from edgekit.data.fetch import DEFAULT_URL, fetch_fsdd
from edgekit.data.fsdd import FSDD_CLASS_NAMES, FSDD_SPEAKERS, Dataset, load_fsdd, parse_fsdd_name
from edgekit.data.paths import cache_dir, find_fsdd_recordings, resolve_data_root
from edgekit.data.wav import parse_wav_bytes, read_wav

__all__ = [
    "DEFAULT_URL",
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
