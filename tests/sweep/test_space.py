"""Search spaces (edgekit.sweep.space): parsing, drawing, and bad spaces failing before any trial.

The CLI cases check that a bad space stops ``edgekit sweep`` with exit code 2
and a message naming the bad key or value, before Ray is started (no output
directory, ``ray`` not even imported by the parent process).
"""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.errors import ConfigError
from edgekit.sweep import load_space

GOOD = """
[sweep]
trials = 4
seed = 3

[dataset]
name = "fsdd"
limit_per_class = 3

[model]
arch = { choice = ["dscnn", "lmu"] }

[model.hparams.dscnn]
width = { choice = [8, 12] }
num_blocks = 1

[model.hparams.lmu]
units = { range = [8, 10] }
order = 4

[train]
epochs = 1
learning_rate = { loguniform = [1e-3, 1e-2] }
"""


def test_space_draws_valid_distinct_recipes_reproducibly(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(GOOD)
    sp = load_space(p)
    assert set(sp.params) == {"model.arch", "model.hparams.dscnn.width", "model.hparams.lmu.units",
                              "train.learning_rate"}
    a, b = sp.sample(), load_space(p).sample()
    assert [c["params"] for c in a] == [c["params"] for c in b]       # seeded
    assert len(a) == 4 and len({repr(sorted(c["params"].items())) for c in a}) == 4
    for c in a:
        r = c["recipe"]
        arch, hp = r["model"]["arch"], r["model"]["hparams"]
        assert 1e-3 <= r["train"]["learning_rate"] <= 1e-2
        if arch == "dscnn":
            assert hp == {"width": c["params"]["model.hparams.width"], "num_blocks": 1}
        else:
            assert hp == {"units": c["params"]["model.hparams.units"], "order": 4}
            assert 8 <= hp["units"] <= 10


def test_discrete_space_gives_each_point_once():
    sp = load_space({"model": {"arch": "dscnn", "hparams": {"width": {"choice": [8, 16]}}},
                     "train": {"epochs": 1}})
    got = sp.sample(10)
    assert sorted(c["recipe"]["model"]["hparams"]["width"] for c in got) == [8, 16]


@pytest.mark.parametrize("space, message", [
    ({"train": {"epoch": 2}}, r"unknown key\(s\) epoch in \[train\]"),
    ({"sweep": {"trails": 3}}, r"unknown key\(s\) trails in \[sweep\]"),
    ({"modle": {"arch": "dscnn"}}, r"unknown section\(s\) modle"),
    ({"model": {"hparams": {"width": {"choice": []}}}}, r"model.hparams.width: choice needs a "
                                                        r"non-empty list \(got \[\]\)"),
    ({"model": {"hparams": {"width": {"range": [32, 8]}}}}, r"empty range \[32, 8\]"),
    ({"train": {"learning_rate": {"loguniform": [0.0, 0.1]}}}, r"loguniform needs 0 < lo"),
    ({"train": {"learning_rate": {"uniform": [0.1, 0.1]}}}, r"empty uniform range \[0.1, 0.1\]"),
    ({"train": {"learning_rate": {"unifrom": [0.1, 0.2]}}}, r"train.learning_rate: a range or "
                                                            r"choice is a table"),
    ({"model": {"arch": {"choice": ["dscnn", "cnn9"]}}}, r"unknown architecture 'cnn9'"),
    ({"model": {"arch": {"choice": ["dscnn", "lmu"]}, "hparams": {"width": 8}}},
     r"hyper-parameters go per architecture"),
    ({"model": {"arch": {"choice": ["dscnn", "lmu"]}, "hparams": {"lmuformer": {"dim": 8}}}},
     r"lmuformer is not one of the space's architectures"),
    ({"sweep": {"eval": "kfold"}}, r"unknown evaluation 'kfold'"),
    ({"sweep": {"metric": "loso_mean"}}, r"metric 'loso_mean' does not go with eval = 'official'"),
    ({"sweep": {"trials": 0}}, r"trials must be an integer >= 1 \(got 0\)"),
])
def test_bad_spaces_name_the_problem(space, message):
    with pytest.raises(ConfigError, match=message):
        load_space(space).sample()


def _cli(tmp_path, text, *args):
    (tmp_path / "s.toml").write_text(text)
    return CliRunner().invoke(main, ["sweep", str(tmp_path / "s.toml"), "--out",
                                     str(tmp_path / "out"), *args])


@pytest.mark.parametrize("text, args, message", [
    ('[train]\nepochz = 2\n', [], "unknown key(s) epochz in [train]"),
    ('[model.hparams]\nwidth = { range = [16, 8] }\n', [], "empty range [16, 8]"),
    ('[model]\narch = "dscnn"\n', ["--target", "stm32f999"], "unknown target 'stm32f999'"),
    ('[model.hparams]\nwidth = { choice = [8] }\n', ["--trials", "0"], "--trials must be >= 1"),
    ('[dataset]\nname = "speech_commands"\n', ["--eval", "loso"],
     "--eval loso needs a dataset with speakers: fsdd (got speech_commands)"),
    ('[model.hparams]\nwidht = { choice = [8, 16] }\n', [], "bad hyper-parameters for 'dscnn'"),
])
def test_cli_bad_space_fails_before_any_trial(tmp_path, text, args, message):
    res = _cli(tmp_path, text, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not (tmp_path / "out").exists()
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


@pytest.mark.qemu
def test_impossible_target_fails_before_any_trial(tmp_path):
    """dscnn width 96/128 needs a > 20 KB arena: nothing fits the STM32F103C8's 20 KB of RAM."""
    res = _cli(tmp_path, '[model.hparams]\nwidth = { choice = [96, 128] }\n',
               "--target", "stm32f103c8")
    assert res.exit_code == 2, res.output
    assert "no configuration of" in res.output and "fits stm32f103c8" in res.output
    assert "RAM overflows by" in res.output
    assert not (tmp_path / "out").exists()
