"""Tests for the FSDD loader (real data and synthetic folders) and data-root resolution."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edgekit.data import (
    FSDD_SPEAKERS,
    FeatureConfig,
    cache_dir,
    load_fsdd,
    parse_fsdd_name,
    resolve_data_root,
)
from edgekit.errors import DataError

# -- the real dataset ----------------------------------------------------------


def test_official_split_on_real_fsdd(fsdd_dataset):
    ds = fsdd_dataset
    # 6 speakers x 10 digits x 50 takes; takes 0-4 are the test set.
    assert ds.x_train.shape == (2700, 64, 40) and ds.x_test.shape == (300, 64, 40)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.skipped == []
    assert ds.class_names == tuple("0123456789") and ds.num_classes == 10
    assert Counter(ds.y_train.tolist()) == {d: 270 for d in range(10)}
    assert Counter(ds.y_test.tolist()) == {d: 30 for d in range(10)}
    assert all(parse_fsdd_name(p.name)[2] < 5 for p in ds.files_test)
    assert all(parse_fsdd_name(p.name)[2] >= 5 for p in ds.files_train)
    assert [parse_fsdd_name(p.name)[0] for p in ds.files_train] == ds.y_train.tolist()
    assert np.all(np.isfinite(ds.x_train))
    # Sorted by (digit, speaker, take) - deterministic.
    keys = [parse_fsdd_name(p.name) for p in ds.files_train]
    assert keys == sorted(keys)
    assert ds.files_train[0].name == "0_george_5.wav"


def test_holdout_speaker_on_real_fsdd(fsdd_root):
    ds = load_fsdd(fsdd_root, holdout_speaker="Theo")
    assert len(ds.files_test) == 500 and len(ds.files_train) == 2500
    assert {parse_fsdd_name(p.name)[1] for p in ds.files_test} == {"theo"}
    assert "theo" not in {parse_fsdd_name(p.name)[1] for p in ds.files_train}
    assert Counter(ds.y_test.tolist()) == {d: 50 for d in range(10)}


def test_unknown_holdout_speaker_lists_known(fsdd_root):
    with pytest.raises(DataError) as info:
        load_fsdd(fsdd_root, holdout_speaker="alice", limit_per_class=1)
    message = str(info.value)
    assert "'alice'" in message
    for name in FSDD_SPEAKERS:
        assert name in message


def test_limit_per_class_covers_speakers(fsdd_root):
    ds = load_fsdd(fsdd_root, limit_per_class=6)
    assert ds.x_train.shape == (60, 64, 40) and ds.x_test.shape == (60, 64, 40)
    speakers = {parse_fsdd_name(p.name)[1] for p in ds.files_train if p.name.startswith("3_")}
    assert speakers == set(FSDD_SPEAKERS)


# -- synthetic folders ------------------------------------------------------------


def make_fsdd(folder: Path, wav_writer, speakers=("alice", "bob"), takes=range(0, 7), rate=8000):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for digit in range(10):
        for speaker in speakers:
            for take in takes:
                wav_writer(folder / f"{digit}_{speaker}_{take}.wav", rng.uniform(-0.5, 0.5, 3000), rate)
    return folder


def test_corrupt_files_are_skipped_counted_and_logged(tmp_path, wav_writer, caplog):
    rec = make_fsdd(tmp_path / "recordings", wav_writer)
    (rec / "4_alice_6.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")  # truncated
    (rec / "7_bob_1.wav").write_text("this is not audio, just some text")
    with caplog.at_level(logging.WARNING, logger="edgekit"):
        ds = load_fsdd(rec)
    assert len(ds.skipped) == 2
    assert [p.name for p, _ in ds.skipped] == ["4_alice_6.wav", "7_bob_1.wav"]
    assert ds.skipped[0][1].startswith("truncated chunk header")
    assert ds.skipped[1][1].startswith("not a RIFF file")
    # 10 digits x 2 speakers x 7 takes = 140 files; takes 0-4 test -> 100 test, 40 train.
    assert len(ds.files_train) == 39 and len(ds.files_test) == 99
    assert ds.x_train.shape == (39, 64, 40)
    assert (rec / "4_alice_6.wav") not in ds.files_train
    records = [r for r in caplog.records if r.name == "edgekit" and r.levelno == logging.WARNING]
    assert len(records) == 1
    assert "skipped 2" in records[0].getMessage() and "7_bob_1.wav" in records[0].getMessage()


def test_wrong_rate_skipped_without_resampling_and_bad_names_are_skipped(tmp_path, wav_writer):
    rec = make_fsdd(tmp_path / "recordings", wav_writer, takes=range(0, 6))
    wav_writer(rec / "2_bob_5.wav", np.zeros(100), 16000)  # overwrite with the wrong rate
    wav_writer(rec / "hello.wav", np.zeros(100))
    (rec / "README.md").write_text("ignored: not a .wav")
    ds = load_fsdd(rec, resample=False)
    reasons = {p.name: r for p, r in ds.skipped}
    assert set(reasons) == {"2_bob_5.wav", "hello.wav"}
    assert "16000 Hz" in reasons["2_bob_5.wav"]
    assert "does not match" in reasons["hello.wav"]
    assert ds.resampled == {}


def test_other_rates_are_resampled_to_the_front_ends_and_said_once(tmp_path, wav_writer, caplog):
    """A 16 kHz and an 11.025 kHz recording train at the front end's 8 kHz, resampled like
    scipy.signal.resample_poly (the golden reference), and one warning says how many and from
    which rates."""
    from scipy.signal import resample_poly

    from edgekit.data import dataset_summary
    from edgekit.frontend.features import default_frontend_features

    feats = default_frontend_features("fsdd")
    rec = make_fsdd(tmp_path / "recordings", wav_writer, takes=range(0, 6))
    rng = np.random.default_rng(7)
    t16 = np.arange(16000) / 16000
    x16 = 0.4 * np.sin(2 * np.pi * 700 * t16) + rng.uniform(-0.05, 0.05, t16.size)
    wav_writer(rec / "2_bob_1.wav", x16, 16000)                       # test split
    x11 = rng.uniform(-0.5, 0.5, 11025)
    wav_writer(rec / "3_alice_5.wav", x11, 11025)                     # train split
    with caplog.at_level(logging.WARNING, logger="edgekit"):
        ds = load_fsdd(rec, feats)
    assert ds.skipped == []
    assert ds.resampled == {11025: 1, 16000: 1}
    said = [r.getMessage() for r in caplog.records if "resampled" in r.getMessage()]
    assert len(said) == 1, said
    assert "resampled 2 FSDD file(s)" in said[0] and "8000 Hz" in said[0]
    assert "1 at 11025 Hz" in said[0] and "1 at 16000 Hz" in said[0]
    assert dataset_summary(ds, rec, {})["resampled"] == {"11025": 1, "16000": 1}

    # The features of the 16 kHz file: the front end on scipy's 2:1 resampling of its samples.
    row = ds.files_test.index(rec / "2_bob_1.wav")
    pcm16 = np.round(np.clip(x16, -1, 1) * 32767) / 32768          # as written, as read back
    golden = feats.compute(resample_poly(pcm16, 1, 2).astype(np.float32))
    np.testing.assert_array_equal(ds.x_test[row], golden)
    assert np.abs(ds.x_test[row]).sum() > 0
    # 11025 -> 8000 Hz (up 320, down 441): same length as scipy's output.
    row = ds.files_train.index(rec / "3_alice_5.wav")
    pcm11 = np.round(np.clip(x11, -1, 1) * 32767) / 32768
    golden = feats.compute(resample_poly(pcm11, 320, 441).astype(np.float32))
    np.testing.assert_array_equal(ds.x_train[row], golden)


@pytest.mark.parametrize("layout", ["data", "fsdd", "recordings"])
def test_root_layouts(tmp_path, wav_writer, layout):
    rec = make_fsdd(tmp_path / "data" / "fsdd" / "recordings", wav_writer, takes=range(4, 6))
    root = {"data": tmp_path / "data", "fsdd": tmp_path / "data" / "fsdd", "recordings": rec}[layout]
    ds = load_fsdd(root)
    assert len(ds.files_train) == 20 and len(ds.files_test) == 20
    assert ds.files_test[0] == rec / "0_alice_4.wav"


def test_custom_feature_config_is_used_and_carried(tmp_path, wav_writer):
    rec = make_fsdd(tmp_path / "r", wav_writer, takes=range(4, 6))
    cfg = FeatureConfig(n_mels=16, num_frames=20)
    ds = load_fsdd(rec, cfg)
    assert ds.x_train.shape == (20, 20, 16) and ds.feature_config is cfg and ds.input_shape == (20, 16)


def test_empty_folder_and_empty_split(tmp_path, wav_writer):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="edgekit data fetch fsdd"):
        load_fsdd(tmp_path / "empty")
    rec = make_fsdd(tmp_path / "r", wav_writer, takes=range(5, 7))  # no takes 0-4
    with pytest.raises(DataError, match="test split .* is empty"):
        load_fsdd(rec)
    with pytest.raises(DataError, match=r"limit_per_class must be a positive integer \(got 0\)"):
        load_fsdd(rec, limit_per_class=0)


def test_parse_fsdd_name():
    assert parse_fsdd_name("7_yweweler_49.wav") == (7, "yweweler", 49)
    assert parse_fsdd_name("10_theo_1.wav") is None
    assert parse_fsdd_name("7_theo.wav") is None


# -- data root resolution --------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("EDGEKIT_DATA", "EDGEKIT_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_cache_dir_precedence(clean_env, tmp_path):
    assert cache_dir() == tmp_path / "home" / ".cache" / "edgekit"
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "edgekit"
    clean_env.setenv("EDGEKIT_CACHE", str(tmp_path / "ec"))
    assert cache_dir() == tmp_path / "ec"
    assert not (tmp_path / "ec").exists()  # no side effects


def test_resolve_order(clean_env, tmp_path, wav_writer):
    explicit = make_fsdd(tmp_path / "explicit" / "recordings", wav_writer, takes=[0])
    env = make_fsdd(tmp_path / "env" / "fsdd" / "recordings", wav_writer, takes=[0])
    cached = make_fsdd(tmp_path / "home" / ".cache" / "edgekit" / "fsdd" / "recordings", wav_writer, takes=[0])
    assert resolve_data_root("fsdd") == cached
    clean_env.setenv("EDGEKIT_DATA", str(tmp_path / "env"))
    assert resolve_data_root("fsdd") == env
    assert resolve_data_root("fsdd", tmp_path / "explicit") == explicit
    assert resolve_data_root("fsdd", str(explicit)) == explicit
    # $EDGEKIT_DATA without FSDD falls through to the cache.
    clean_env.setenv("EDGEKIT_DATA", str(tmp_path / "nothing"))
    assert resolve_data_root("fsdd") == cached


def test_resolve_not_found_says_where_it_looked(clean_env, tmp_path):
    clean_env.setenv("EDGEKIT_DATA", str(tmp_path / "d"))
    with pytest.raises(DataError) as info:
        resolve_data_root("fsdd")
    message = str(info.value)
    assert str(tmp_path / "d" / "fsdd" / "recordings") in message
    assert str(tmp_path / "home" / ".cache" / "edgekit" / "fsdd" / "recordings") in message
    assert "edgekit data fetch fsdd" in message


def test_explicit_path_does_not_fall_back(clean_env, tmp_path, wav_writer):
    make_fsdd(tmp_path / "home" / ".cache" / "edgekit" / "fsdd" / "recordings", wav_writer, takes=[0])
    with pytest.raises(DataError, match=r"given data path .*typo.*edgekit data fetch fsdd"):
        resolve_data_root("fsdd", tmp_path / "typo")


def test_unknown_dataset(clean_env):
    with pytest.raises(DataError, match=r"unknown dataset 'mnist' \(known: fsdd, speech_commands, esc50\)"):
        resolve_data_root("mnist")


def test_resolve_real_fsdd_from_data_folder(fsdd_root):
    assert resolve_data_root("fsdd", fsdd_root.parent.parent) == fsdd_root
