"""Structured pruning inside custom layers (edgekit.compress.layer_prune): attention heads,
LMU order and memory channels, combined with channel pruning.  Tiny untrained models."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress.layer_prune import (head_importance, internal_sizes, prune_internal,
                                          prune_model_to_budget)
from edgekit.compress.structured import count_params
from edgekit.errors import ConfigError
from edgekit.models.registry import build_model

T, F = 16, 8
SMALL = {
    "tiny_transformer": {"embed_dim": 8, "num_heads": 2, "ffn_dim": 16, "frame_pool": 2},
    "lmu": {"units": 8, "order": 6, "memory_d": 3},
    "lmuformer": {"dim": 8, "order": 6, "memory_d": 3},
    "spiking_lmuformer": {"dim": 8, "order": 6, "memory_d": 3},
}


def _x(n=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, T, F)).astype(np.float32)


def _randomize(model, seed=1):
    """Random weights and biases (models of one attention or LMU layer: no batch norm)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(scale=0.3, size=w.shape).astype(w.dtype) for w in ws])


def _attention_model(num_heads=3, key_dim=4):
    import keras

    from edgekit.models.layers_tiny_transformer import StaticSelfAttention

    inp = keras.Input((T, F))
    out = StaticSelfAttention(num_heads, key_dim, name="attn")(inp)
    m = keras.Model(inp, out)
    _randomize(m)
    return m


def test_all_heads_kept_is_the_identity():
    m = _attention_model()
    p = prune_internal(m, heads={"attn": [0, 1, 2]})
    assert internal_sizes(p)["attn"] == {"heads": 3}
    np.testing.assert_array_equal(p.predict(_x(), verbose=0), m.predict(_x(), verbose=0))


def test_head_with_zero_output_slice_is_removed_without_change():
    """Hand-made: head 1's rows of the output projection are zero, so it contributes nothing;
    it has the lowest importance and removing it leaves the outputs unchanged."""
    m = _attention_model(num_heads=3, key_dim=4)
    layer = m.get_layer("attn")
    w, b = layer.out.get_weights()
    w[4:8] = 0.0
    layer.out.set_weights([w, b])
    scores = head_importance(layer)
    assert scores[1] == 0.0 and np.all(scores[[0, 2]] > 0)
    p = prune_internal(m, heads={"attn": [0, 2]})
    assert p.get_layer("attn").num_heads == 2
    assert p.get_layer("attn").query.kernel.shape == (F, 8)
    np.testing.assert_allclose(p.predict(_x(), verbose=0), m.predict(_x(), verbose=0),
                               rtol=1e-5, atol=1e-5)
    # and down to one head (the layer then has no head split at all): head 0 alone differs
    one = prune_internal(m, heads={"attn": [0]})
    assert not np.allclose(one.predict(_x(), verbose=0), m.predict(_x(), verbose=0), atol=1e-3)


def test_pruned_lmu_memory_is_the_order_q_recurrence():
    """Keep q' = 3 of 6 Legendre coefficients and memory channels 0 and 2: the pruned layer's
    memory equals the float64 step-by-step recurrence of order 3 (its own ZOH discretisation),
    and its output is W_m's matching rows applied to it."""
    import keras

    from edgekit.models.lmu import LMU, lmu_recurrence

    inp = keras.Input((T, F))
    m = keras.Model(inp, LMU(5, order=6, memory_d=3, activation=None, name="lmu")(inp))
    _randomize(m)
    p = prune_internal(m, order={"lmu": 3}, memory={"lmu": [0, 2]})
    old, new = m.get_layer("lmu"), p.get_layer("lmu")
    assert (new.order, new.memory_d) == (3, 2)
    rows = [0, 1, 2, 12, 13, 14]                # channel j, coefficient i: row j * 6 + i
    np.testing.assert_array_equal(new.w_m.numpy(), old.w_m.numpy()[rows])
    np.testing.assert_array_equal(new.w_u.numpy(), old.w_u.numpy()[:, [0, 2]])
    x = _x().astype(np.float64)
    u = x @ new.w_u.numpy() + new.b_u.numpy()
    ref = lmu_recurrence(u, 3, float(T))
    got = np.asarray(new.memory(u.astype(np.float32)))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    h = ref @ new.w_m.numpy() + x @ new.w_x.numpy() + new.b.numpy()
    np.testing.assert_allclose(p.predict(x.astype(np.float32), verbose=0), h, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("arch,expect", [("tiny_transformer", {"heads", "channels"}),
                                         ("lmu", {"order", "memory_d", "channels"}),
                                         ("lmuformer", {"order", "memory_d", "channels"}),
                                         ("spiking_lmuformer", {"order", "memory_d", "channels"})])
def test_prune_to_budget_shrinks_params(arch, expect):
    m = build_model(arch, (T, F), 4, seed=0, **SMALL[arch])
    p, info = prune_model_to_budget(m, ratio=0.6)
    assert count_params(p) <= int(0.6 * count_params(m))
    assert set(info["pruned"]) == expect
    assert p.predict(_x(), verbose=0).shape == (3, 4)


def test_only_the_named_kinds_shrink():
    m = build_model("tiny_transformer", (T, F), 4, seed=0, **SMALL["tiny_transformer"])
    p, info = prune_model_to_budget(m, max_params=count_params(m) - 1, kinds=["heads"])
    assert info["pruned"] == ["heads"] and p.get_layer("block1_attn").num_heads == 1
    assert p.get_layer("block1_ffn1").units == 16
    with pytest.raises(ConfigError, match="kinds"):
        prune_model_to_budget(m, ratio=0.5, kinds=["layers"])
    with pytest.raises(ConfigError, match="below the smallest"):
        prune_model_to_budget(m, max_params=10, kinds=["heads"])


@pytest.mark.parametrize("arch", ["tiny_transformer", "lmu"])
def test_pruned_int8_model_is_smaller(arch):
    from edgekit.compress.measure import weight_flash_bytes
    from edgekit.quantize.int8 import quantize_int8

    m = build_model(arch, (T, F), 4, seed=0, **SMALL[arch])
    p, _ = prune_model_to_budget(m, ratio=0.6)
    x = _x(8)
    before, after = (quantize_int8(k, x, num_samples=8) for k in (m, p))
    assert len(after) < len(before)
    assert weight_flash_bytes(after) < weight_flash_bytes(before)
