"""The build plan: every entry point is one list of stages (edgekit.plan).

The stage lists are checked by name for each entry point; the slow tests
check that ``--arch A`` and ``--recipe`` of A's built-in recipe (as printed
by ``edgekit recipe A``) give byte-identical ``model.tflite`` files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.errors import ConfigError
from edgekit.models.registry import ARCHITECTURES
from edgekit.plan import BuildSpec, make_plan, resolve_recipe
from edgekit.recipe import (builtin_recipe, load_recipe, quantize_config, recipe_toml,
                            train_config)

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["data", "train", "quantize"]
DEPLOY = ["export", "verify-host", "firmware"]
#: A trained model on the front end's features gets the firmware from sound (issue 12).
AUDIO = ["audio"]


def _plan(tmp_path, **kw):
    return make_plan(BuildSpec(out=tmp_path / "o", **kw))


def test_arch_and_recipe_entry_points_are_one_plan(tmp_path):
    arch = _plan(tmp_path, recipe=resolve_recipe(arch="dscnn"))
    assert arch.names == TRAIN + DEPLOY + AUDIO + ["report"]
    rcp = _plan(tmp_path, recipe=resolve_recipe(recipe=ROOT / "recipes" / "fsdd-prune-distill.toml"))
    assert rcp.names == ["data", "train", "prune", "distill", "quantize"] + DEPLOY + AUDIO + [
        "report"]
    assert rcp.total == len(rcp.names) == 10
    logmel = resolve_recipe(arch="dscnn", overrides=["features.kind=logmel-float"])
    assert _plan(tmp_path, recipe=logmel).names == TRAIN + DEPLOY + ["report"]


def test_streaming_is_a_stage_of_any_recurrent_recipe(tmp_path):
    p = _plan(tmp_path, recipe=resolve_recipe(arch="lmu"), streaming=True)
    assert p.names == TRAIN + DEPLOY + AUDIO + ["stream", "report"]
    r = resolve_recipe(recipe=ROOT / "recipes" / "fsdd-prune-distill.toml",
                       overrides=["model.arch=lmuformer"])
    assert _plan(tmp_path, recipe=r, streaming=True).names[-2:] == ["stream", "report"]
    with pytest.raises(ConfigError, match=r"--streaming needs .*\(got dscnn\)"):
        _plan(tmp_path, recipe=resolve_recipe(arch="dscnn"), streaming=True)


def test_given_models_and_train_only(tmp_path):
    assert _plan(tmp_path, model=Path("m.tflite")).names == ["model"] + DEPLOY + ["report"]
    onnx = _plan(tmp_path, model=Path("m.onnx"), calib=Path("c.npy"))
    assert onnx.names == ["model"] + DEPLOY + ["report"]
    assert onnx.total == 5 + 4          # convert_onnx prints check, onnx2tf, quantize, verify
    budget = {"max_params": 9000, "max_flash": None, "max_ram": None, "target": "cortex-m4"}
    t = _plan(tmp_path, recipe=resolve_recipe(arch="dscnn"), deploy=False, budget=budget)
    assert t.names == ["data", "size", "train", "quantize", "save"]


@pytest.mark.parametrize("kw, says", [
    (dict(model=Path("m.onnx")), "--calib is needed"),
    (dict(model=Path("m.tflite"), calib=Path("c.npy")), "--calib goes with"),
    (dict(model=Path("m.tflite"), cases=0), r"cases must be >= 1 \(got 0\)"),
])
def test_bad_specs(tmp_path, kw, says):
    with pytest.raises(ConfigError, match=says):
        _plan(tmp_path, **kw)


def test_overrides_and_builtin_recipe_round_trip():
    r = resolve_recipe(arch="lmu", holdout_speaker="theo",
                       overrides=["train.epochs=2", "model.hparams.order=4"])
    cfg = train_config(r)
    assert cfg["epochs"] == 2 and cfg["hparams"]["order"] == 4
    assert cfg["hparams"]["units"] == 64                      # the preset's, kept
    assert r["dataset"] == {"name": "fsdd", "holdout_speaker": "theo"}
    again = load_recipe(tomllib.loads(recipe_toml(r)))
    assert train_config(again) == cfg and again["dataset"] == r["dataset"]
    assert train_config(builtin_recipe("dscnn"))["epochs"] == 20
    with pytest.raises(ConfigError, match="unknown key"):
        resolve_recipe(arch="dscnn", overrides=["train.epoch=2"])
    with pytest.raises(ConfigError, match="excludes --arch"):
        resolve_recipe(arch="dscnn", recipe={"model": {"arch": "lmu"}})


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_arch_and_its_printed_recipe_resolve_to_one_training(arch):
    """``edgekit recipe A --set ...`` printed, read back, trains what ``--arch A --set ...`` trains.

    The training cache key (:func:`edgekit.models.train_cache.train_key`) is
    made of the resolved model and training settings: equal settings here
    and the byte-identical build below (dscnn) make the two entry points one
    build for every architecture, without building each one.
    """
    sets = ["train.epochs=1", "dataset.limit_per_class=8", "train.seed=3"]
    printed = CliRunner().invoke(main, ["recipe", arch, *[x for s in sets for x in ("--set", s)]],
                                 catch_exceptions=False)
    assert printed.exit_code == 0, printed.output
    via_file = resolve_recipe(recipe=load_recipe(tomllib.loads(printed.output)))
    via_arch = resolve_recipe(arch=arch, overrides=sets)
    assert train_config(via_file) == train_config(via_arch)
    assert train_config(via_arch)["epochs"] == 1 and train_config(via_arch)["seed"] == 3
    assert quantize_config(via_file) == quantize_config(via_arch)
    for key in ("dataset", "target", "steps"):
        assert via_file.get(key) == via_arch.get(key), key


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("arch, sets", [
    ("dscnn", ["model.hparams.width=16", "model.hparams.num_blocks=2"]),
])
def test_arch_and_its_recipe_file_build_identical_tflite(fsdd_root, tmp_path, arch, sets):
    sets = sets + ["train.epochs=1", "dataset.limit_per_class=8"]
    data = str(fsdd_root)
    args = [x for s in sets for x in ("--set", s)]
    printed = CliRunner().invoke(main, ["recipe", arch, *args], catch_exceptions=False)
    assert printed.exit_code == 0, printed.output
    (tmp_path / "r.toml").write_text(printed.output)
    a = CliRunner().invoke(main, ["build", "--arch", arch, *args, "--cases", "2", "--data", data,
                                  "--out", str(tmp_path / "a")], catch_exceptions=False)
    assert a.exit_code == 0, a.output
    b = CliRunner().invoke(main, ["build", "--recipe", str(tmp_path / "r.toml"), "--cases", "2",
                                  "--data", data, "--out", str(tmp_path / "b")],
                           catch_exceptions=False)
    assert b.exit_code == 0, b.output
    ta, tb = ((tmp_path / d / "model.tflite").read_bytes() for d in "ab")
    assert ta == tb and len(ta) > 1000
    import json

    # The second build reused the first's trained weights: the training cache's
    # key (edgekit.models.train_cache) is the resolved model and training
    # settings and the training features, so both entry points resolved them equal.
    rb = json.loads((tmp_path / "b" / "report.json").read_text())
    assert rb["training"]["cached"] is True

    for d in "ab":
        meta = json.loads((tmp_path / d / "metadata.json").read_text())
        assert meta["schema_version"] == 1 and meta["model"]["arch"] == arch
        assert meta["inputs"][0]["shape"][1:] == [48, 40] and meta["inputs"][0]["dtype"] == "int8"
        assert json.loads((tmp_path / d / "report.json").read_text())["emulator"]["bit_exact"]


def test_progress_numbering_restarts_each_plan_run():
    """A Progress shared by successive plan runs (``--eval loso``: one per speaker)
    numbers each run's stages 1/N .. N/N (it printed 7/4, 11/4 ... before)."""
    import io

    from edgekit.log import Progress
    from edgekit.plan.core import Artifacts, Plan, Stage

    out = io.StringIO()
    progress = Progress(stream=out)
    plan = Plan([Stage("a", lambda art: None), Stage("b", lambda art: None)])
    for _ in range(2):
        plan.run(Artifacts(work=Path("."), spec=None, progress=progress, report=None))
    assert out.getvalue().splitlines() == ["[edgekit] 1/2 a", "[edgekit] 2/2 b"] * 2
