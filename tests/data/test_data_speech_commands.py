"""The Speech Commands (v2 layout) loader on small fixture trees written here.

Every fixture clip is a sine tone whose frequency depends on the word, so a
model can learn the classes; the split lists and the expected split members
are written out by hand.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.data import (
    KWS12_WORDS,
    SPEECH_COMMANDS_FEATURES,
    Dataset,
    FeatureConfig,
    compute_logmel,
    load_dataset,
    load_speech_commands,
    read_wav,
    resolve_data_root,
)
from edgekit.data.resample import resample
from edgekit.errors import ConfigError, DataError, EdgekitError

RATE = 16000
SILENCE = math.log(SPEECH_COMMANDS_FEATURES.log_offset)


def tone(freq: float, seconds: float = 1.0, rate: int = RATE, amp: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    x = amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    return x + rng.normal(0, 0.01, len(t))


# -- the hand-written fixture -----------------------------------------------------

FREQ = {"down": 3000.0, "no": 1000.0, "yes": 500.0}
FILES = {
    "yes": ["0a1b2c3d_nohash_0", "0a1b2c3d_nohash_1", "5e6f7a8b_nohash_0", "9c0d1e2f_nohash_0",
            "ffee0011_nohash_0"],
    "no": ["0a1b2c3d_nohash_0", "5e6f7a8b_nohash_0", "5e6f7a8b_nohash_1", "9c0d1e2f_nohash_0",
           "ffee0011_nohash_0"],
    "down": ["0a1b2c3d_nohash_0", "5e6f7a8b_nohash_0", "9c0d1e2f_nohash_0", "ffee0011_nohash_0"],
}
VALIDATION = """\
yes/9c0d1e2f_nohash_0.wav
no/9c0d1e2f_nohash_0.wav
down/9c0d1e2f_nohash_0.wav
"""
TESTING = """\
yes/ffee0011_nohash_0.wav

no/ffee0011_nohash_0.wav
down/ffee0011_nohash_0.wav
"""
EXPECTED_TRAIN = {
    "down/0a1b2c3d_nohash_0.wav", "down/5e6f7a8b_nohash_0.wav",
    "no/0a1b2c3d_nohash_0.wav", "no/5e6f7a8b_nohash_0.wav", "no/5e6f7a8b_nohash_1.wav",
    "yes/0a1b2c3d_nohash_0.wav", "yes/0a1b2c3d_nohash_1.wav", "yes/5e6f7a8b_nohash_0.wav",
}
EXPECTED_VAL = {"yes/9c0d1e2f_nohash_0.wav", "no/9c0d1e2f_nohash_0.wav",
                "down/9c0d1e2f_nohash_0.wav"}
EXPECTED_TEST = {"yes/ffee0011_nohash_0.wav", "no/ffee0011_nohash_0.wav",
                 "down/ffee0011_nohash_0.wav"}


def make_small(root: Path, wav_writer, files=FILES, freq=FREQ, noise=True) -> Path:
    for i, (word, names) in enumerate(files.items()):
        (root / word).mkdir(parents=True, exist_ok=True)
        for j, name in enumerate(names):
            wav_writer(root / word / f"{name}.wav", tone(freq[word], 1.0, seed=10 * i + j), RATE)
    if noise:
        (root / "_background_noise_").mkdir(exist_ok=True)
        wav_writer(root / "_background_noise_" / "white_noise.wav",
                   np.random.default_rng(9).uniform(-0.3, 0.3, 3 * RATE), RATE)
    (root / "validation_list.txt").write_text(VALIDATION)
    (root / "testing_list.txt").write_text(TESTING)
    return root


def rel(paths, root):
    return {p.relative_to(root).as_posix() for p in paths}


@pytest.fixture
def small(tmp_path, wav_writer):
    return make_small(tmp_path / "speech_commands_v0.02", wav_writer)


def test_splits_follow_the_lists_exactly(small):
    ds = load_speech_commands(small)
    assert isinstance(ds, Dataset)
    assert rel(ds.files_train, small) == EXPECTED_TRAIN
    assert rel(ds.files_val, small) == EXPECTED_VAL
    assert rel(ds.files_test, small) == EXPECTED_TEST
    # All word folders, sorted; _background_noise_ is not a class.
    assert ds.class_names == ("down", "no", "yes") and ds.num_classes == 3
    for files, y in ((ds.files_train, ds.y_train), (ds.files_val, ds.y_val),
                     (ds.files_test, ds.y_test)):
        assert [ds.class_names[i] for i in y] == [p.parent.name for p in files]
    # Ordered by class, then path.
    assert [p.name for p in ds.files_train[:2]] == ["0a1b2c3d_nohash_0.wav",
                                                    "5e6f7a8b_nohash_0.wav"]
    assert ds.y_train.tolist() == [0, 0, 1, 1, 1, 2, 2, 2]
    assert ds.name == "speech_commands" and ds.split == "speech_commands-testing_list"
    assert ds.skipped == []


def test_shapes_dtypes_and_default_features(small):
    ds = load_speech_commands(small)
    assert ds.feature_config is SPEECH_COMMANDS_FEATURES
    assert ds.feature_config.sample_rate == 16000
    assert ds.input_shape == (48, 40)
    assert ds.x_train.shape == (8, 48, 40) and ds.x_val.shape == (3, 48, 40)
    assert ds.x_test.shape == (3, 48, 40)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert np.all(np.isfinite(ds.x_train))
    # The features are those of the WAV as read.
    samples, _ = read_wav(ds.files_test[0])
    np.testing.assert_array_equal(ds.x_test[0], compute_logmel(samples, ds.feature_config))


def test_custom_config_is_used(small):
    cfg = FeatureConfig(sample_rate=16000, frame_length=512, hop_length=512, n_fft=512,
                        n_mels=16, fmax=8000.0, num_frames=30)
    ds = load_speech_commands(small, cfg)
    assert ds.x_train.shape == (8, 30, 16) and ds.input_shape == (30, 16)


def test_short_clips_are_padded_and_long_clips_cut(tmp_path, wav_writer):
    files = {"yes": ["aaaa0000_nohash_0", "bbbb0000_nohash_0"]}
    root = make_small(tmp_path / "sc", wav_writer, files=files, noise=False)
    (root / "validation_list.txt").write_text("")
    (root / "testing_list.txt").write_text("yes/bbbb0000_nohash_0.wav\n")
    half = tone(500.0, 0.5, amp=0.5)                       # 8000 samples
    loud_tail = np.concatenate([tone(500.0, 1.0, amp=0.25),
                                np.random.default_rng(1).uniform(-1, 1, RATE)])   # 2 s
    wav_writer(root / "yes" / "aaaa0000_nohash_0.wav", half, RATE)
    wav_writer(root / "yes" / "bbbb0000_nohash_0.wav", loud_tail, RATE)
    ds = load_speech_commands(root)
    short, long_ = ds.x_train[0], ds.x_test[0]
    # Padded to 16000 samples: frame t covers samples [320 t, 320 t + 480); frames
    # 25..47 start at or after sample 8000, so they are all zeros -> log(log_offset).
    np.testing.assert_array_equal(short[25:], np.full((23, 40), SILENCE, np.float32))
    assert short[24].max() > SILENCE + 10     # frame 24 (7680..8160) still has the tone
    half_read, _ = read_wav(root / "yes" / "aaaa0000_nohash_0.wav")
    padded = np.concatenate([half_read, np.zeros(8000, np.float32)])
    np.testing.assert_allclose(short, compute_logmel(padded, ds.feature_config), atol=1e-5)
    # Cut to the first second *before* peak normalisation: the loud second half
    # would otherwise scale the tone down by ~4 (log energy -2.8).
    long_read, _ = read_wav(root / "yes" / "bbbb0000_nohash_0.wav")
    np.testing.assert_allclose(long_, compute_logmel(long_read[:RATE], ds.feature_config),
                               atol=1e-5)
    whole = compute_logmel(long_read, ds.feature_config)
    assert np.abs(whole - long_).max() > 2.0


def test_words_selection_and_order(small):
    ds = load_speech_commands(small, words=["yes", "down"])
    assert ds.class_names == ("yes", "down")
    assert rel(ds.files_train, small) == {f for f in EXPECTED_TRAIN if not f.startswith("no/")}
    assert ds.y_train.tolist() == [0, 0, 0, 1, 1]
    ds2 = load_speech_commands(small, words="no, yes")
    assert ds2.class_names == ("no", "yes") and len(ds2.files_test) == 2


def _kws_tree(root: Path, wav_writer, noise: bool) -> Path:
    """The 10 KWS words + two other words, 4 speakers: s0, s1 train, s2 val, s3 test."""
    words = KWS12_WORDS + ("house", "tree")
    val, test = [], []
    for i, word in enumerate(words):
        (root / word).mkdir(parents=True)
        for s in range(4):
            name = f"{s:08x}_nohash_0.wav"
            wav_writer(root / word / name, tone(200.0 + 150 * i, 0.3, seed=i * 4 + s), RATE)
            (val if s == 2 else test if s == 3 else []).append(f"{word}/{name}")
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    if noise:
        (root / "_background_noise_").mkdir()
        wav_writer(root / "_background_noise_" / "pink.wav",
                   np.random.default_rng(3).uniform(-0.5, 0.5, 2 * RATE + 123), RATE)
    return root


@pytest.mark.parametrize("noise", [True, False])
def test_kws12_preset(tmp_path, wav_writer, noise):
    root = _kws_tree(tmp_path / "sc", wav_writer, noise)
    ds = load_speech_commands(root, words="kws12", seed=0)
    assert ds.class_names == ("_silence_", "_unknown_") + KWS12_WORDS
    assert ds.num_classes == 12
    # Train: K = 10 words x 2 speakers = 20 -> ceil(0.1 * 20) = 2 silence, 2 unknown.
    # Validation / test: K = 10 -> 1 silence, 1 unknown each.
    assert np.bincount(ds.y_train).tolist() == [2, 2] + [2] * 10
    assert np.bincount(ds.y_val).tolist() == [1, 1] + [1] * 10
    assert np.bincount(ds.y_test).tolist() == [1, 1] + [1] * 10
    unknown_train = [p for p, y in zip(ds.files_train, ds.y_train) if y == 1]
    assert rel(unknown_train, root) <= {"house/00000000_nohash_0.wav",
                                        "house/00000001_nohash_0.wav",
                                        "tree/00000000_nohash_0.wav",
                                        "tree/00000001_nohash_0.wav"}
    assert rel([p for p, y in zip(ds.files_test, ds.y_test) if y == 1], root) <= {
        "house/00000003_nohash_0.wav", "tree/00000003_nohash_0.wav"}
    silence = ds.x_train[ds.y_train == 0]
    if noise:
        assert all(p.parent.name == "_background_noise_" for p, y in
                   zip(ds.files_train, ds.y_train) if y == 0)
        assert silence.max() > SILENCE + 1
    else:
        np.testing.assert_array_equal(silence, np.full_like(silence, SILENCE))
    # Reproducible: same seed, same data.
    again = load_speech_commands(root, words="kws12", seed=0)
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    assert again.files_train == ds.files_train


def test_fractions_and_unknown_only(tmp_path, wav_writer):
    root = _kws_tree(tmp_path / "sc", wav_writer, noise=True)
    ds = load_speech_commands(root, words=["yes", "no"], unknown_fraction=0.5)
    assert ds.class_names == ("_unknown_", "yes", "no")
    # Train K = 4 -> 2 unknown clips, drawn from the 10 other words' train clips.
    assert np.bincount(ds.y_train).tolist() == [2, 2, 2]
    ds = load_speech_commands(root, words="kws12", silence_fraction=0.0, unknown_fraction=1.0)
    assert ds.class_names == ("_unknown_",) + KWS12_WORDS
    # Train K = 20 but only 4 other-word clips in train (house, tree x 2 speakers).
    assert np.bincount(ds.y_train).tolist()[0] == 4


def test_limit_per_class(small):
    ds = load_speech_commands(small, limit_per_class=1)
    assert rel(ds.files_train, small) == {"down/0a1b2c3d_nohash_0.wav", "no/0a1b2c3d_nohash_0.wav",
                                          "yes/0a1b2c3d_nohash_0.wav"}


def test_resampling_8k_clips(tmp_path, wav_writer):
    root = make_small(tmp_path / "sc", wav_writer, noise=False)
    path = root / "yes" / "0a1b2c3d_nohash_0.wav"
    wav_writer(path, tone(500.0, 1.0, rate=8000), 8000)
    ds = load_speech_commands(root)
    i = ds.files_train.index(path)
    at8k, _ = read_wav(path)
    np.testing.assert_allclose(ds.x_train[i], compute_logmel(resample(at8k, 8000, 16000),
                                                             ds.feature_config), atol=1e-5)
    with pytest.raises(DataError) as info:
        load_speech_commands(root, resample=False)
    msg = str(info.value)
    assert str(path) in msg and "8000 Hz" in msg and "16000 Hz" in msg


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["validation_list.txt", "testing_list.txt"])
def test_missing_list_file(small, missing):
    (small / missing).unlink()
    with pytest.raises(DataError) as info:
        load_speech_commands(small)
    assert f"missing {missing}" in str(info.value) and str(small) in str(info.value)


def test_listed_file_that_does_not_exist(small):
    (small / "testing_list.txt").write_text(TESTING + "yes/deadbeef_nohash_7.wav\n")
    with pytest.raises(DataError) as info:
        load_speech_commands(small)
    msg = str(info.value)
    assert "testing_list.txt:5" in msg and "'yes/deadbeef_nohash_7.wav'" in msg
    assert "does not exist" in msg and str(small / "yes" / "deadbeef_nohash_7.wav") in msg


def test_bad_list_entry_and_double_listing(small):
    (small / "validation_list.txt").write_text("../etc/passwd\n")
    with pytest.raises(DataError, match=r"validation_list.txt:1: expected a relative path"):
        load_speech_commands(small)
    (small / "validation_list.txt").write_text(VALIDATION + "yes/ffee0011_nohash_0.wav\n")
    with pytest.raises(DataError, match=r"'yes/ffee0011_nohash_0.wav' is listed in both"):
        load_speech_commands(small)


def test_empty_class_and_unknown_word(small):
    (small / "left").mkdir()
    ds = load_speech_commands(small, words=["yes", "no"])   # an unused empty folder is fine
    assert ds.num_classes == 2
    with pytest.raises(DataError) as info:
        load_speech_commands(small)                          # all folders: 'left' is a class
    assert "class 'left' is empty" in str(info.value) and str(small / "left") in str(info.value)
    with pytest.raises(DataError, match=r"unknown word\(s\) 'cat'.*words available: down, "
                                        r"left, no, yes"):
        load_speech_commands(small, words=["yes", "cat"])


def test_class_without_training_clip(small):
    (small / "testing_list.txt").write_text(TESTING + "down/0a1b2c3d_nohash_0.wav\n"
                                            "down/5e6f7a8b_nohash_0.wav\n")
    with pytest.raises(DataError, match="class 'down' has no training clip"):
        load_speech_commands(small)


def test_corrupt_wav_names_the_file(small):
    bad = small / "no" / "5e6f7a8b_nohash_1.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    with pytest.raises(DataError) as info:
        load_speech_commands(small)
    assert str(bad) in str(info.value) and "truncated" in str(info.value)
    assert isinstance(info.value, EdgekitError)


@pytest.mark.parametrize("kwargs,match", [
    ({"words": []}, r"words is empty"),
    ({"words": ["yes", "yes"]}, r"'yes' more than once"),
    ({"words": ["_silence_"]}, r"'_silence_' is not a word folder"),
    ({"words": 3}, r"got 3\)"),
    ({"silence_fraction": 1.5}, r"silence_fraction must be a number in \[0, 1\] \(got 1.5\)"),
    ({"unknown_fraction": "x"}, r"unknown_fraction .* \(got 'x'\)"),
    ({"limit_per_class": 0}, r"limit_per_class must be a positive integer \(got 0\)"),
    ({"seed": "a"}, r"seed must be an integer \(got 'a'\)"),
])
def test_bad_arguments_repeat_the_value(small, kwargs, match):
    with pytest.raises(DataError, match=match):
        load_speech_commands(small, **kwargs)


def test_not_a_speech_commands_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no word folders"):
        load_speech_commands(tmp_path / "empty")
    with pytest.raises(DataError, match="does not exist"):
        load_speech_commands(tmp_path / "nope")


# -- dataset selection -------------------------------------------------------------------


def test_load_dataset_and_resolution(small, monkeypatch, tmp_path):
    data = small.parent
    assert resolve_data_root("speech_commands", data) == small
    ds = load_dataset("speech_commands", data, words="yes,no", features={"n_mels": 20})
    assert ds.class_names == ("yes", "no") and ds.input_shape == (48, 20)
    monkeypatch.setenv("EDGEKIT_DATA", str(data))
    assert resolve_data_root("speech_commands") == small
    monkeypatch.setenv("EDGEKIT_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"speech_commands dataset not found .*validation_list"):
        resolve_data_root("speech_commands")
    with pytest.raises(ConfigError, match=r"dataset speech_commands has no option\(s\) test_fold"):
        load_dataset("speech_commands", data, test_fold=1)
    with pytest.raises(ConfigError, match=r"unknown dataset 'sc'"):
        load_dataset("sc", data)


def test_recipe_selects_the_dataset(small, tmp_path):
    from edgekit.recipe import load_recipe

    p = tmp_path / "r.toml"
    p.write_text('[dataset]\nname = "speech_commands"\npath = "speech_commands_v0.02"\n'
                 'words = "kws12"\n')
    r = load_recipe(p)
    assert r["dataset"]["path"] == str(small) and r["dataset"]["words"] == "kws12"
    p.write_text('[dataset]\nname = "speech_commands"\ntest_fold = 2\n')
    with pytest.raises(ConfigError, match=r"\[dataset\] dataset speech_commands has no option"):
        load_recipe(p)


# -- the zoo on this dataset ----------------------------------------------------------------


def _word_like(kind: str, seconds: float, rng) -> np.ndarray:
    """A clip whose *shape* identifies the class (DS-CNN pools over frequency, so
    tones differing only in pitch would look alike to it)."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = rng.uniform(0.9, 1.1)
    if kind == "rising":
        x = np.sin(2 * np.pi * np.cumsum(f0 * (500 + 2000 * t / seconds)) / RATE)
    elif kind == "falling":
        x = np.sin(2 * np.pi * np.cumsum(f0 * (3000 - 2000 * t / seconds)) / RATE)
    elif kind == "bursts":
        x = np.sin(2 * np.pi * 800 * f0 * t) * ((t * 6 / seconds).astype(int) % 2 == 0)
    else:  # broadband noise
        x = rng.uniform(-1, 1, n) * np.hanning(n)
    return rng.uniform(0.2, 0.8) * x + rng.normal(0, 0.01, n)


def _train_tree(root: Path, wav_writer) -> Path:
    """4 words x 6 speakers x 2 takes of 0.5-1 s; speaker 4 -> validation, 5 -> test."""
    kinds = {"down": "falling", "go": "bursts", "left": "rising", "yes": "noise"}
    val, test = [], []
    rng = np.random.default_rng(0)
    for word, kind in kinds.items():
        (root / word).mkdir(parents=True)
        for s in range(6):
            for take in range(2):
                name = f"{s:04x}beef_nohash_{take}.wav"
                wav_writer(root / word / name, _word_like(kind, rng.uniform(0.5, 1.0), rng), RATE)
                (val if s == 4 else test if s == 5 else []).append(f"{word}/{name}")
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


def test_a_zoo_model_learns_the_fixture(tmp_path, wav_writer):
    from edgekit.models import build_model
    from edgekit.models.train import evaluate_float, train

    ds = load_speech_commands(_train_tree(tmp_path / "sc", wav_writer))
    assert ds.x_train.shape == (32, 48, 40) and len(ds.y_val) == 8 and len(ds.y_test) == 8
    model = build_model("dscnn", ds.input_shape, ds.num_classes, seed=0, width=24, num_blocks=2,
                        dropout=0.0)
    res = train(model, ds.x_train, ds.y_train, epochs=25, batch_size=8, seed=0,
                learning_rate=5e-3, validation=(ds.x_val, ds.y_val), progress=False)
    acc = evaluate_float(model, ds.x_test, ds.y_test)
    # Chance is 0.25 (4 classes, 2 test clips each); 0.375 with the training labels
    # shuffled.  Seeds 0-4 (model init and training; benchmarks/seed_spread.py --group
    # speech): test and validation accuracy 1.0 for every seed, so the bound 0.75 leaves
    # a margin of 2 of the 8 clips below the worst seed.
    assert acc >= 0.75, (acc, res.history)
    assert res.float_accuracy >= 0.75


@pytest.mark.parametrize("arch", ["dscnn", "tiny_transformer", "lmu", "lmuformer",
                                  "spiking_lmuformer"])
def test_every_zoo_arch_builds_on_the_default_shapes(arch):
    from edgekit.data import ESC50_FEATURES
    from edgekit.models import build_model
    from edgekit.models.registry import default_recipe

    hp = default_recipe(arch)["hparams"]
    for cfg, classes in ((SPEECH_COMMANDS_FEATURES, 12), (ESC50_FEATURES, 50)):
        model = build_model(arch, cfg.shape, classes, seed=0, **hp)
        assert tuple(model.input_shape[1:]) == cfg.shape
        assert tuple(model.output_shape[1:]) == (classes,)


def test_cli_train_resolves_the_dataset(small, tmp_path, monkeypatch):
    from edgekit.cli import main
    from edgekit.models import registry

    out = tmp_path / "out"
    (small / "validation_list.txt").unlink()
    r = CliRunner().invoke(main, ["train", "--dataset", "speech_commands", "--data-dir",
                                  str(small), "--out", str(out)])
    assert r.exit_code == 2 and "missing validation_list.txt" in r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["train", "--dataset", "esc50", "--data-option",
                                  "words=kws12", "--data", str(small), "--out", str(out)])
    assert r.exit_code == 2 and "has no option(s) words" in r.output
    (small / "validation_list.txt").write_text(VALIDATION)
    # A real (short) run: 2 epochs of a narrow DS-CNN, int8, report.
    monkeypatch.setitem(registry.DEFAULT_RECIPE, "epochs", 2)
    monkeypatch.setitem(registry.DEFAULT_RECIPE, "hparams",
                        {"width": 8, "num_blocks": 1, "dropout": 0.0})
    r = CliRunner().invoke(main, ["train", "--dataset", "speech_commands", "--data-dir",
                                  str(small), "--data-option", "words=yes,no", "--out", str(out)],
                           catch_exceptions=False, env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads((out / "train_report.json").read_text())
    assert rep["dataset"]["name"] == "speech_commands" and rep["dataset"]["train"] == 6
    assert rep["dataset"]["classes"] == ["yes", "no"] and rep["dataset"]["validation"] == 2
    assert rep["accuracy"]["split"] == "speech_commands-testing_list"
    assert rep["features"]["kind"] == "frontend"            # the default: the fixed-point front end
    assert rep["features"]["frontend"]["sample_rate"] == 16000
    assert (out / "model.tflite").is_file() and (out / "features.json").is_file()
    assert os.path.getsize(out / "model.tflite") > 0


def test_build_refuses_dataset_with_model_or_recipe(tmp_path):
    from edgekit.pipeline import build

    with pytest.raises(ConfigError, match="--dataset/--data-option need training"):
        build(model=tmp_path / "m.tflite", dataset="speech_commands", out=tmp_path / "o")
    # --data-option lays its options over a recipe's [dataset]: FSDD has no `words`
    with pytest.raises(ConfigError, match=r"has no option\(s\) words"):
        build(recipe={"dataset": {"name": "fsdd"}}, dataset_options={"words": "kws12"},
              out=tmp_path / "o")
    assert not (tmp_path / "o").exists()
