"""The ESC-50 loader on small fixture trees written here, and the resampler.

The fixture has four classes with out-of-order targets (0 dog, 1 rooster,
5 cat, 10 rain; cat is not in ESC-10), one clip per class and fold, mostly
0.2 s long at 44.1 kHz to keep it small (the loader pads every clip to 5 s).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from edgekit.data import (
    ESC50_FEATURES,
    Dataset,
    compute_logmel,
    fix_length,
    load_dataset,
    load_esc50,
    read_wav,
    resolve_data_root,
)
from edgekit.data.resample import resample
from edgekit.errors import ConfigError, DataError

RATE = 44100
HEADER = "filename,fold,target,category,esc10,src_file,take"
SILENCE = math.log(ESC50_FEATURES.log_offset)
CLASSES = [(5, "cat", False, 600.0), (0, "dog", True, 300.0), (10, "rain", True, 5000.0),
           (1, "rooster", True, 2000.0)]    # csv order != target order on purpose


def fname(fold: int, target: int) -> str:
    return f"{fold}-{1000 + target}-A-{target}.wav"


def make_esc50(root: Path, wav_writer, seconds: float = 0.2, rows=None) -> Path:
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    lines = [HEADER]
    for fold in range(1, 6):
        for target, cat, esc10, freq in CLASSES:
            t = np.arange(int(seconds * RATE)) / RATE
            x = 0.5 * np.sin(2 * np.pi * freq * t + fold)
            wav_writer(root / "audio" / fname(fold, target), x, RATE)
            lines.append(f"{fname(fold, target)},{fold},{target},{cat},{esc10},{1000 + target},A")
    (root / "meta" / "esc50.csv").write_text("\n".join(rows or lines) + "\n")
    return root


@pytest.fixture
def esc(tmp_path, wav_writer):
    return make_esc50(tmp_path / "ESC-50-master", wav_writer)


def names(paths):
    return {p.name for p in paths}


def test_default_fold5_split_classes_and_labels(esc):
    ds = load_esc50(esc)
    assert isinstance(ds, Dataset)
    # Class names from `category`, ordered by `target` (0, 1, 5, 10).
    assert ds.class_names == ("dog", "rooster", "cat", "rain")
    assert names(ds.files_test) == {"5-1000-A-0.wav", "5-1001-A-1.wav", "5-1005-A-5.wav",
                                    "5-1010-A-10.wav"}
    assert names(ds.files_train) == {fname(f, t) for f in (1, 2, 3, 4) for t in (0, 1, 5, 10)}
    # csv order within a split: cat, dog, rain, rooster per fold.
    assert ds.y_test.tolist() == [2, 0, 3, 1]
    assert ds.y_train.tolist() == [2, 0, 3, 1] * 4
    assert ds.x_val is None and ds.y_val is None and ds.files_val == []
    assert ds.name == "esc50" and ds.split == "esc50-fold5"
    assert ds.feature_config is ESC50_FEATURES and ds.input_shape == (152, 40)
    assert ds.x_train.shape == (16, 152, 40) and ds.x_test.shape == (4, 152, 40)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64


def test_test_and_validation_folds(esc):
    ds = load_esc50(esc, test_fold=2, val_fold=3)
    assert names(ds.files_test) == {fname(2, t) for t in (0, 1, 5, 10)}
    assert names(ds.files_val) == {fname(3, t) for t in (0, 1, 5, 10)}
    assert names(ds.files_train) == {fname(f, t) for f in (1, 4, 5) for t in (0, 1, 5, 10)}
    assert ds.x_val.shape == (4, 152, 40) and ds.y_val.tolist() == [2, 0, 3, 1]
    assert ds.split == "esc50-fold2"


def test_esc10_subset(esc):
    ds = load_esc50(esc, esc10=True, test_fold=1)
    assert ds.class_names == ("dog", "rooster", "rain") and ds.num_classes == 3
    assert names(ds.files_test) == {"1-1000-A-0.wav", "1-1001-A-1.wav", "1-1010-A-10.wav"}
    assert ds.y_test.tolist() == [0, 2, 1]       # dog, rain, rooster in csv order
    assert ds.split == "esc10-fold1"


def test_resampled_padded_and_cut(tmp_path, wav_writer):
    root = make_esc50(tmp_path / "esc", wav_writer)
    long_path = root / "audio" / fname(5, 0)
    wav_writer(long_path, np.concatenate([0.25 * np.sin(np.arange(5 * RATE) * 0.05),
                                          np.ones(RATE)]), RATE)       # 6 s, loud last second
    ds = load_esc50(root)
    # A 0.2 s clip: 8820 samples at 44.1 kHz -> ceil(8820 * 160 / 441) = 3200 at
    # 16 kHz, then zeros to 5 s.  Frame t covers [512 t, 512 t + 1024): frames
    # 7..151 start at or after sample 3584 >= 3200 and are silent; frame 6 is not.
    short = ds.x_train[0]
    np.testing.assert_array_equal(short[7:], np.full((145, 40), SILENCE, np.float32))
    assert short[6].max() > SILENCE + 10
    raw, _ = read_wav(root / "audio" / fname(1, 5))
    expected = compute_logmel(fix_length(resample(raw, RATE, 16000), 80000), ESC50_FEATURES)
    np.testing.assert_allclose(short, expected, atol=1e-5)
    # The 6 s clip is cut to 5 s (80000 samples at 16 kHz) before peak normalisation.
    i = ds.files_test.index(long_path)
    raw, _ = read_wav(long_path)
    at16k = resample(raw, RATE, 16000)
    assert len(at16k) == 96000
    np.testing.assert_allclose(ds.x_test[i], compute_logmel(at16k[:80000], ESC50_FEATURES),
                               atol=1e-5)


def test_wrong_rate_without_resampling_names_file_and_rates(esc):
    with pytest.raises(DataError) as info:
        load_esc50(esc, resample=False)
    msg = str(info.value)
    assert str(esc / "audio") in msg and "44100 Hz" in msg and "16000 Hz" in msg


def test_limit_per_class(esc):
    ds = load_esc50(esc, limit_per_class=2)
    assert names(ds.files_train) == {fname(f, t) for f in (1, 2) for t in (0, 1, 5, 10)}


# -- bad input ------------------------------------------------------------------------


def test_missing_csv(tmp_path):
    (tmp_path / "audio").mkdir()
    with pytest.raises(DataError) as info:
        load_esc50(tmp_path)
    assert "missing metadata file" in str(info.value)
    assert str(tmp_path / "meta" / "esc50.csv") in str(info.value)


def test_missing_columns(esc):
    csv = esc / "meta" / "esc50.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != 4)
                             for line in lines) + "\n")          # drop esc10
    with pytest.raises(DataError) as info:
        load_esc50(esc)
    assert "missing column(s) esc10" in str(info.value) and str(csv) in str(info.value)


def test_listed_file_missing(esc):
    (esc / "audio" / fname(3, 10)).unlink()
    with pytest.raises(DataError) as info:
        load_esc50(esc)
    msg = str(info.value)
    assert "esc50.csv:12" in msg and f"'{fname(3, 10)}' does not exist" in msg
    assert str(esc / "audio" / fname(3, 10)) in msg


def test_corrupt_wav(esc):
    bad = esc / "audio" / fname(2, 1)
    bad.write_text("this is not audio, just some text")
    with pytest.raises(DataError) as info:
        load_esc50(esc)
    assert str(bad) in str(info.value) and "not a RIFF file" in str(info.value)


@pytest.mark.parametrize("change,match", [
    ((2, "fold", "6"), r"esc50.csv:2: fold must be an integer 1-5 \(got '6'\)"),
    ((3, "target", "x"), r"esc50.csv:3: target must be a non-negative integer \(got 'x'\)"),
    ((4, "esc10", "maybe"), r"esc50.csv:4: esc10 must be True or False \(got 'maybe'\)"),
    ((6, "category", "horse"), r"esc50.csv:6: target 1 is 'horse' here but 'rooster' earlier"),
])
def test_bad_csv_values(tmp_path, wav_writer, change, match):
    line, col, value = change
    root = make_esc50(tmp_path / "esc", wav_writer)
    csv = root / "meta" / "esc50.csv"
    lines = csv.read_text().splitlines()
    # Rows 2..5 are fold 1: cat, dog, rain, rooster; a new row 6 renames rooster.
    if col == "category":
        lines.insert(line - 1, lines[4].replace("rooster", "horse").replace("1-1001", "2-1001"))
    else:
        fields = lines[line - 1].split(",")
        fields[HEADER.split(",").index(col)] = value
        lines[line - 1] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=match):
        load_esc50(root)


def test_empty_class_and_empty_subset(tmp_path, wav_writer):
    root = make_esc50(tmp_path / "esc", wav_writer)
    csv = root / "meta" / "esc50.csv"
    # 'cat' (target 5) only in fold 5: no training clip when fold 5 is the test fold.
    lines = [ln for ln in csv.read_text().splitlines() if ",5,cat," not in ln or ln[0] == "5"]
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"class\(es\) 'cat' have no training clip outside fold 5"):
        load_esc50(root)
    assert load_esc50(root, test_fold=1).class_names == ("dog", "rooster", "cat", "rain")
    csv.write_text("\n".join(ln.replace(",True,", ",False,") for ln in lines) + "\n")
    with pytest.raises(DataError, match="lists no ESC-10 clips"):
        load_esc50(root, esc10=True)


@pytest.mark.parametrize("kwargs,match", [
    ({"test_fold": 6}, r"test_fold must be one of 1, 2, 3, 4, 5 \(got 6\)"),
    ({"test_fold": "1"}, r"test_fold must be one of 1, 2, 3, 4, 5 \(got '1'\)"),
    ({"val_fold": 0}, r"val_fold must be one of 1, 2, 3, 4, 5 \(got 0\)"),
    ({"val_fold": 5}, r"val_fold must differ from test_fold \(both 5\)"),
    ({"esc10": "yes"}, r"esc10 must be true or false \(got 'yes'\)"),
    ({"limit_per_class": -1}, r"limit_per_class must be a positive integer \(got -1\)"),
])
def test_bad_arguments_repeat_the_value(esc, kwargs, match):
    with pytest.raises(DataError, match=match):
        load_esc50(esc, **kwargs)


# -- selection by name ----------------------------------------------------------------------


def test_load_dataset_and_resolution(esc, monkeypatch, tmp_path):
    assert resolve_data_root("esc50", esc.parent) == esc
    ds = load_dataset("esc50", esc.parent, test_fold=3, esc10=True)
    assert ds.split == "esc10-fold3" and ds.num_classes == 3
    monkeypatch.setenv("EDGEKIT_DATA", str(esc.parent))
    assert resolve_data_root("esc50") == esc
    with pytest.raises(ConfigError, match=r"dataset esc50 has no option\(s\) words"):
        load_dataset("esc50", esc, words="kws12")
    with pytest.raises(DataError, match=r"esc50 data path .*nope does not exist"):
        resolve_data_root("esc50", tmp_path / "nope")


def test_recipe_with_esc50(esc, tmp_path):
    from edgekit.recipe import load_recipe

    p = tmp_path / "r.toml"
    p.write_text(f'[dataset]\nname = "esc50"\npath = "{esc}"\ntest_fold = 1\nesc10 = true\n'
                 '[features]\nn_mels = 32\n')
    r = load_recipe(p)
    assert r["dataset"] == {"name": "esc50", "path": str(esc), "test_fold": 1, "esc10": True}
    p.write_text('[dataset]\nname = "esc50"\nholdout_speaker = "theo"\n')
    with pytest.raises(ConfigError, match=r"esc50 has no option\(s\) holdout_speaker"):
        load_recipe(p)


# -- the resampler ----------------------------------------------------------------------------


@pytest.mark.parametrize("n,src,dst", [(8820, 44100, 16000), (1001, 8000, 16000),
                                       (1234, 16000, 8000), (50, 22050, 16000),
                                       (3, 44100, 16000), (777, 48000, 44100)])
def test_resample_matches_scipy_resample_poly(n, src, dst):
    x = np.random.default_rng(n).uniform(-1, 1, n)
    ours = resample(x, src, dst)
    ref = scipy.signal.resample_poly(x, dst // math.gcd(src, dst), src // math.gcd(src, dst))
    assert ours.dtype == np.float32 and ours.shape == ref.shape == (math.ceil(n * dst / src),)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_resample_is_band_limited():
    # 10 kHz is above the 8 kHz Nyquist of 16 kHz: it must (almost) vanish, not alias to 6 kHz.
    t = np.arange(RATE) / RATE
    out = resample(np.sin(2 * np.pi * 10000 * t), RATE, 16000)
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 1e-3
    kept = resample(np.sin(2 * np.pi * 1000 * t), RATE, 16000)
    assert abs(np.sqrt(np.mean(kept[200:-200] ** 2)) - math.sqrt(0.5)) < 1e-3


def test_resample_and_fix_length_arguments():
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(resample(x, 8000, 8000), x)
    np.testing.assert_array_equal(fix_length(x, 3), [0, 1, 2])
    np.testing.assert_array_equal(fix_length(x, 7), [0, 1, 2, 3, 4, 0, 0])
    with pytest.raises(DataError, match=r"orig_rate must be a positive integer in Hz \(got 0\)"):
        resample(x, 0, 8000)
    with pytest.raises(DataError, match=r"target_rate .* \(got 1.5\)"):
        resample(x, 8000, 1.5)
    with pytest.raises(DataError, match=r"length must be a positive integer \(got 0\)"):
        fix_length(x, 0)
    with pytest.raises(DataError, match=r"non-empty 1-D array \(got shape \(0,\)\)"):
        resample(np.zeros(0), 8000, 16000)
