"""Structured / unstructured pruning and distillation (edgekit.compress).

Small models on a synthetic, learnable task keep this fast; the FSDD numbers
are in tests/test_recipe.py (the prune-distill recipe end to end).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress.distill import distill
from edgekit.compress.fit import accuracy, clone_with_weights, fit
from edgekit.compress.measure import measure, nonzero_per_tensor
from edgekit.compress.prune import prune, prune_unstructured
from edgekit.compress.structured import analyse, count_params, prune_channels, prune_to_budget
from edgekit.errors import ConfigError, ModelError
from edgekit.models.registry import build_model, count_macs
from tests.synthetic import SHAPE, band_task


@pytest.fixture(scope="module")
def trained():
    x, y = band_task()
    xt, yt = band_task(200, seed=1)
    m = build_model("dscnn", SHAPE, 4, seed=0, width=24, num_blocks=2, dropout=0.0,
                    first_kernel=(4, 4), first_stride=(2, 2))
    fit(m, x, y, epochs=6, learning_rate=3e-3, seed=0)
    assert accuracy(m, xt, yt) > 0.9
    return m, x, y, xt, yt


def test_channel_groups_of_dscnn():
    m = build_model("dscnn", SHAPE, 4, seed=0, width=16, num_blocks=2, dropout=0.0,
                    first_kernel=(4, 4))
    g = analyse(m)
    prunable = {name: g.size[grp] for name, (_, grp) in g.widths.items()
                if grp not in g.frozen}
    # every producer of a pointwise width is prunable; the classifier output is not
    assert prunable == {"conv0": 16, "block1_pw": 16, "block2_pw": 16}
    assert g.widths["classifier"][1] in g.frozen


def test_identity_prune_keeps_the_function():
    m = build_model("dscnn", SHAPE, 4, seed=0, width=16, num_blocks=2, dropout=0.0,
                    first_kernel=(4, 4))
    p, info = prune_to_budget(m, ratio=1.0)
    x = np.random.default_rng(0).normal(size=(4, *SHAPE)).astype(np.float32)
    assert info["keep_ratio"] == 1.0 and count_params(p) == count_params(m)
    np.testing.assert_allclose(p(x).numpy(), m(x).numpy(), rtol=1e-6, atol=1e-7)


def test_criterion_removes_the_smallest_channels():
    m = build_model("dscnn", SHAPE, 4, seed=0, width=8, num_blocks=1, dropout=0.0,
                    first_kernel=(4, 4))
    w = m.get_layer("block1_pw").get_weights()
    w[0][..., [2, 5]] *= 1e-3                      # two nearly dead output filters
    m.get_layer("block1_pw").set_weights(w)
    g = analyse(m)
    grp = g.widths["block1_pw"][1]
    from edgekit.compress.structured import importance

    for crit in ("l1", "l2"):
        s = importance(m, g, crit)[grp]
        assert set(np.argsort(s)[:2]) == {2, 5}
    p = prune_channels(m, {grp: [0, 1, 3, 4, 6, 7]}, g)
    assert p.get_layer("block1_pw").filters == 6
    np.testing.assert_array_equal(p.get_layer("classifier").get_weights()[0],
                                  m.get_layer("classifier").get_weights()[0][[0, 1, 3, 4, 6, 7]])


def test_residual_add_joins_groups():
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    a = layers.Conv2D(12, 3, padding="same", name="a")(inp)
    b = layers.Conv2D(12, 1, name="b")(layers.ReLU()(a))
    s = layers.Add(name="join")([a, b])
    h = layers.DepthwiseConv2D(3, padding="same", name="dw")(s)
    h = layers.BatchNormalization(name="bn")(h)
    out = layers.Dense(3, activation="softmax", name="head")(
        layers.Flatten()(layers.GlobalAveragePooling2D()(h)))
    m = keras.Model(inp, out)
    g = analyse(m)
    assert g.widths["a"][1] == g.widths["b"][1]    # one group: pruned together
    p, _ = prune_to_budget(m, ratio=0.5)
    assert p.get_layer("a").filters == p.get_layer("b").filters < 12
    assert p(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 3)
    with pytest.raises(ConfigError, match="below the smallest"):
        prune_to_budget(m, max_params=10)


def test_sequential_model_is_refused():
    import keras
    from keras import layers

    seq = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    with pytest.raises(ModelError, match="functional"):
        analyse(seq)


def test_gradual_prune_halves_int8_flash_and_keeps_accuracy(trained):
    m, x, y, xt, yt = trained
    before = measure(m, x, xt, yt, num_samples=100)
    res = prune(m, x, y, ratio=0.5, steps=2, finetune_epochs=3, learning_rate=3e-3, x_val=xt, y_val=yt)
    after = measure(res.model, x, xt, yt, num_samples=100)
    assert res.params_after <= 0.5 * res.params_before
    assert [r["params"] for r in res.schedule] == sorted((r["params"] for r in res.schedule),
                                                         reverse=True)
    assert after["weight_flash_bytes"] <= 0.55 * before["weight_flash_bytes"]
    assert after["macs"] < 0.6 * before["macs"] and after["macs"] == count_macs(res.model)
    assert len(after["_tflite"]) < len(before["_tflite"])
    assert after["int8_accuracy"] >= before["int8_accuracy"] - 0.05
    assert count_params(m) == before["params"]     # the input model is not modified


def test_unstructured_is_sparse_but_not_smaller(trained):
    m, x, y, xt, yt = trained
    res = prune_unstructured(m, x, y, sparsity=0.6, steps=2, finetune_epochs=1)
    for name, frac in res.sparsity.items():
        assert 0.55 <= frac <= 0.65, (name, frac)
    before, after = measure(m, x, num_samples=50), measure(res.model, x, num_samples=50)
    assert after["weight_flash_bytes"] == before["weight_flash_bytes"]   # zeros are stored
    nz = nonzero_per_tensor(after["_tflite"])
    pw = [r for r in nz if r["op"] == "CONV_2D" and r["elements"] == 24 * 24]
    assert pw and all(r["nonzero"] <= 0.45 * r["elements"] for r in pw)
    assert accuracy(res.model, xt, yt) > 0.8


def test_fit_is_deterministic():
    x, y = band_task(128)
    m = build_model("dscnn", SHAPE, 4, seed=0, width=8, num_blocks=1, dropout=0.0,
                    first_kernel=(4, 4))
    a, b = clone_with_weights(m), clone_with_weights(m)
    fit(a, x, y, epochs=1, seed=3)
    fit(b, x, y, epochs=1, seed=3)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_distillation_reports_with_and_without(trained):
    teacher, x, y, xt, yt = trained
    student = build_model("dscnn", SHAPE, 4, seed=1, width=12, num_blocks=1, dropout=0.0,
                          first_kernel=(4, 4), first_stride=(2, 2))
    init = [w.copy() for w in student.get_weights()]
    res = distill(student, teacher, x, y, epochs=8, temperature=4.0, alpha=0.3,
                  learning_rate=3e-3, x_test=xt, y_test=yt)
    r = res.report
    assert {"teacher_accuracy", "distilled_accuracy", "baseline_accuracy", "gain",
            "verdict"} <= set(r)
    # both learnt (chance is 0.25)
    assert r["distilled_accuracy"] > 0.45 and r["baseline_accuracy"] > 0.45
    assert r["verdict"] in ("helped", "hurt", "no significant difference")
    n_diff = r["only_distilled_right"] - r["only_baseline_right"]
    assert n_diff == round(r["gain"] * len(yt))
    assert abs(r["gain"] - (r["distilled_accuracy"] - r["baseline_accuracy"])) < 1e-9
    for w0, w1 in zip(init, student.get_weights()):     # the student is not modified
        np.testing.assert_array_equal(w0, w1)
    # the two runs differ only in the loss: same init, so with a different loss the weights differ
    assert any(not np.array_equal(a, b) for a, b in zip(res.model.get_weights(),
                                                        res.baseline.get_weights()))
    with pytest.raises(ConfigError):
        distill(student, teacher, x, y, epochs=1, alpha=1.0)


def test_mcnemar():
    from edgekit.compress.distill import mcnemar_p

    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 1) > 0.5     # 2 examples: not evidence
    assert mcnemar_p(12, 1) < 0.01 and mcnemar_p(1, 12) < 0.01


def test_transformer_ffn_width_is_prunable():
    """Dense layers on sequences: the FFN hidden width (between two Dense) is a channel group;
    widths joined to residuals / custom layers stay frozen."""
    from edgekit.models import registry

    m = registry.build_model("tiny_transformer", (64, 40), 10, seed=0,
                             **registry.default_recipe("tiny_transformer")["hparams"])
    p, info = prune_to_budget(m, ratio=0.95)
    shrunk = {k: v for k, v in info["channels"].items() if v[1] < v[0]}
    assert shrunk and count_params(p) < count_params(m)
    x = np.random.default_rng(0).normal(size=(2, 64, 40)).astype(np.float32)
    assert p(x).shape == (2, 10)
