"""Recipe values of the wrong type or range are ConfigErrors that repeat them
(found by the recipe fuzzing of tests/fuzz/)."""

from __future__ import annotations

import pytest

from edgekit.errors import ConfigError
from edgekit.recipe import load_recipe, quantize_config, train_config


@pytest.mark.parametrize("table, key, value, words", [
    ("train", "epochs", "ten", r"epochs in \[train\] must be an integer >= 1 \(got 'ten'\)"),
    ("train", "epochs", 0, r"an integer >= 1 \(got 0\)"),
    ("train", "epochs", True, r"\(got True\)"),
    ("train", "learning_rate", float("nan"), r"learning_rate in \[train\] must be a finite "
                                             r"number > 0.0 \(got nan\)"),
    ("model", "arch", ["dscnn"], r"arch in \[model\] must be a string \(got \['dscnn'\]\)"),
    ("model", "hparams", "wide", r"hparams in \[model\] must be a table"),
    ("quantize", "num_samples", -3, r"num_samples in \[quantize\] must be an integer >= 1"),
    ("dataset", "name", 7, r"name in \[dataset\] must be a string \(got 7\)"),
    ("dataset", "limit_per_class", 2.5, r"limit_per_class"),
])
def test_bad_value_is_named(table, key, value, words):
    with pytest.raises(ConfigError, match=words):
        load_recipe({table: {key: value}})


def test_bad_step_value_is_named():
    with pytest.raises(ConfigError, match=r"ratio in \[steps\[0\] \(prune\)\] must be a finite "
                                          r"number > 0.0 and <= 1.0 \(got 1.5\)"):
        load_recipe({"steps": [{"kind": "prune", "ratio": 1.5}]})


def test_good_values_pass_through():
    r = load_recipe({"train": {"epochs": 3, "learning_rate": 1e-3},
                     "quantize": {"num_samples": 10}, "model": {"arch": "dscnn"}})
    assert train_config(r)["epochs"] == 3 and quantize_config(r)["num_samples"] == 10
