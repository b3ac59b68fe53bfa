"""``--eval loso``: leave one FSDD speaker out, each in turn (edgekit.evaluation).

The slow test trains a tiny model six times (3 clips per class and split,
1 epoch, width 8): six speakers, each speaker's accuracy recomputed with
tflite_micro on that speaker's clips (LiteRT-free, independent of the
build's own evaluation path), the mean and the worst from those.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.data import FSDD_SPEAKERS
from edgekit.errors import ConfigError
from edgekit.evaluation import loso_speakers
from edgekit.plan import resolve_recipe

TINY = ["model.hparams.width=8", "model.hparams.num_blocks=1", "train.epochs=1",
        "dataset.limit_per_class=3"]


def test_loso_needs_fsdd_and_no_fixed_speaker():
    assert loso_speakers(resolve_recipe(arch="dscnn")) == FSDD_SPEAKERS
    assert len(FSDD_SPEAKERS) == 6
    with pytest.raises(ConfigError, match="excludes holdout_speaker \\(got holdout_speaker = "
                                          "'theo'\\)"):
        loso_speakers(resolve_recipe(arch="dscnn", holdout_speaker="theo"))
    with pytest.raises(ConfigError, match="got esc50"):
        loso_speakers(resolve_recipe(arch="dscnn", dataset="esc50"))


@pytest.mark.parametrize("cmd, extra, message", [
    ("build", ["--model", "m.tflite"], "--eval loso trains a model per speaker; it excludes "
                                       "--model"),
    ("train", ["--max-params", "1000"], "it excludes --max-params"),
    ("train", ["--holdout-speaker", "theo"], "excludes holdout_speaker"),
])
def test_cli_loso_refuses_contradictions(tmp_path, cmd, extra, message):
    res = CliRunner().invoke(main, [cmd, "--eval", "loso", *extra, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_train_eval_loso_reports_six_speakers_mean_and_worst(tmp_path, fsdd_root):
    from edgekit.data import load_dataset  # noqa: PLC0415
    from edgekit.frontend.features import make_features  # noqa: PLC0415
    from edgekit.quantize.evaluate import tflite_accuracy  # noqa: PLC0415

    args = ["train", "--eval", "loso", "--data", str(fsdd_root), "--out", str(tmp_path / "l")]
    res = CliRunner().invoke(main, args + [x for s in TINY for x in ("--set", s)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = tmp_path / "l"
    data = json.loads((out / "loso.json").read_text())
    assert list(data["speakers"]) == list(FSDD_SPEAKERS)
    fc = make_features("fsdd", {})
    for spk in FSDD_SPEAKERS:
        rep = json.loads((out / spk / "train_report.json").read_text())
        assert rep["accuracy"]["split"] == f"fsdd-holdout-{spk}"
        ds = load_dataset("fsdd", fsdd_root, fc, holdout_speaker=spk, limit_per_class=3)
        assert len(ds.y_test) == 30 and set(np.unique(ds.y_test)) == set(range(10))
        acc = tflite_accuracy((out / spk / "model.tflite").read_bytes(), ds.x_test, ds.y_test,
                              runtime="tflm")
        assert data["speakers"][spk] == pytest.approx(acc, abs=1e-4)
    accs = list(data["speakers"].values())
    assert data["mean"] == pytest.approx(sum(accs) / 6, abs=1e-4)
    assert data["worst"] == min(accs) and data["speakers"][data["worst_speaker"]] == min(accs)
    md = (out / "loso.md").read_text()
    assert f"mean: **{data['mean']:.4f}**" in md and data["worst_speaker"] in md
