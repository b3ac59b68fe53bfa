"""Budget-driven sizing: the widest model that fits, chosen before training."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.errors import ConfigError
from edgekit.models.registry import build_model, count_params, default_recipe
from edgekit.budget.sizing import WIDTH_PARAMS, pick_width


@pytest.mark.parametrize("arch,limit", [("tiny_transformer", 8000), ("dscnn", 12000),
                                        ("lmuformer", 20000)])
def test_largest_width_within_max_params(arch, limit):
    hp = default_recipe(arch)["hparams"]
    choice = pick_width(arch, (64, 40), 10, hp, max_params=limit)
    assert choice.params <= limit
    # It is the largest: the next candidate tried above it does not fit.
    above = [r for r in choice.tried if r["width"] > choice.width]
    assert above and all(r["why"] != "fits" for r in above)
    # And the figure is the real parameter count of that model.
    model = build_model(arch, (64, 40), 10, **choice.hparams)
    assert count_params(model) == choice.params
    assert choice.hparams[WIDTH_PARAMS[arch]] == choice.width


def test_ram_budget_is_measured_from_the_compiled_firmware():
    hp = default_recipe("dscnn")["hparams"]
    # (with in-place dw/pw convs: 48 -> 19,420 B, 96 -> 32,860 B, 128 -> 41,820 B)
    choice = pick_width("dscnn", (64, 40), 10, hp, max_ram=34_000,
                        candidates=[16, 32, 48, 64, 96, 128])
    assert choice.ram_bytes is not None and choice.ram_bytes <= 34_000
    bigger = [r for r in choice.tried if r["width"] > choice.width]
    assert bigger and all(r["ram"] > 34_000 for r in bigger)


def test_impossible_budget_and_bad_arguments():
    hp = default_recipe("dscnn")["hparams"]
    with pytest.raises(ConfigError, match="no width"):
        pick_width("dscnn", (64, 40), 10, hp, max_params=50)
    with pytest.raises(ConfigError, match="max_params must be > 0"):
        pick_width("dscnn", (64, 40), 10, hp, max_params=0)
    with pytest.raises(ConfigError, match="at least one"):
        pick_width("dscnn", (64, 40), 10, hp)
    with pytest.raises(ConfigError, match="sizable"):
        pick_width("resnet", (64, 40), 10, hp, max_params=100)


@pytest.mark.slow
def test_cli_train_transformer_within_8000_params(fsdd_root, tmp_path):
    out = tmp_path / "tt"
    r = CliRunner().invoke(main, ["train", "--arch", "tiny_transformer", "--max-params", "8000",
                                  "--data", str(fsdd_root), "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "train_report.json").read_text())
    assert rep["model"]["params"] <= 8000
    assert rep["sizing"]["params"] == rep["model"]["params"]
    assert rep["accuracy"]["int8"] >= 0.9
    for name in ("model.keras", "features.json", "model.tflite"):
        assert (out / name).is_file()
