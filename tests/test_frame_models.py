"""The frame-level models (Chernykh 2018, Mirsamadi 2017): shapes, padding that changes nothing,
dropout only while training, and the engine's length-sorted batches."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models import chernykh, mirsamadi
from emojax.train.fit import TrainConfig, epoch_order, evaluate, fit
from emojax.train.losses import seq_cross_entropy


def _batch(rng, B=3, T=9, F=5, lengths=(9, 6, 2)):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    mask = np.arange(T)[None] < np.array(lengths)[:, None]
    return x, mask


def _padded_more(x, mask, extra=7, fill=np.nan):
    """The same sequences with `extra` more padded steps holding `fill` (NaN: they must not leak)."""
    B, T, F = x.shape
    x2 = np.concatenate([np.where(mask[..., None], x, fill), np.full((B, extra, F), fill)], 1)
    return (np.nan_to_num(x2, nan=123.0).astype(np.float32),
            np.concatenate([mask, np.zeros((B, extra), bool)], 1))


def test_chernykh_heads_shapes_and_padding():
    rng = np.random.default_rng(0)
    x, mask = _batch(rng)
    K = 4
    p_ctc = chernykh.init(jax.random.PRNGKey(0), 5, K, head="ctc", hidden=6)
    p_one = chernykh.init(jax.random.PRNGKey(1), 5, K, head="one_label", hidden=6)
    y_ctc, _ = chernykh.apply_ctc(p_ctc, x, mask)
    y_one, _ = chernykh.apply_one_label(p_one, x, mask)
    assert y_ctc.shape == (3, 9, K + 1) and y_one.shape == (3, K)
    x2, m2 = _padded_more(x, mask)
    np.testing.assert_allclose(chernykh.apply_ctc(p_ctc, x2, m2)[0][:, :9][mask],
                               np.asarray(y_ctc)[mask], atol=1e-5)
    np.testing.assert_allclose(chernykh.apply_one_label(p_one, x2, m2)[0], y_one, atol=1e-5)
    # one sequence without a batch axis gives the batch's row
    np.testing.assert_allclose(chernykh.apply_one_label(p_one, x[1, :6], mask[1, :6])[0], y_one[1],
                               atol=1e-5)


def test_fix_length_truncates_and_the_papers_one_label_reads_the_padding():
    x = np.ones((100, 3), np.float32)
    assert chernykh.fix_length(x).shape == (78, 3)
    short = np.ones((10, 3), np.float32)
    assert chernykh.fix_length(short).shape == (10, 3)                 # batching masks the rest
    padded = chernykh.fix_length(short, keep_length=False)
    assert padded.shape == (78, 3) and np.all(padded[10:] == 0)
    # the last state after 68 zero frames is not the last state of the 10 real frames
    p = chernykh.init(jax.random.PRNGKey(0), 3, 4, head="one_label", hidden=5)
    real = chernykh.apply_one_label(p, short, np.ones(10, bool))[0]
    paper = chernykh.apply_one_label(p, padded, np.ones(78, bool))[0]
    assert not np.allclose(real, paper, atol=1e-4)


@pytest.mark.parametrize("pooling", mirsamadi.POOLINGS)
def test_mirsamadi_poolings_ignore_padding_and_drop_out_only_when_training(pooling):
    rng = np.random.default_rng(1)
    x, mask = _batch(rng, F=7)
    p = mirsamadi.init(jax.random.PRNGKey(0), 7, 4, lld_layers=2, lld_units=8, hidden=5,
                       pooling=pooling)
    apply = mirsamadi.model_fn(pooling)
    assert apply is mirsamadi.model_fn(pooling)                      # one function: one compile
    y, aux = apply(p, x, mask)
    assert y.shape == ((3, 9, 4) if pooling == "framewise" else (3, 4))
    x2, m2 = _padded_more(x, mask)
    y2, aux2 = apply(p, x2, m2)
    if pooling == "framewise":
        np.testing.assert_allclose(np.asarray(y2)[:, :9][mask], np.asarray(y)[mask], atol=1e-5)
        post = mirsamadi.utterance_posteriors(y, mask)
        np.testing.assert_allclose(post.sum(-1), 1.0, atol=1e-6)
    else:
        np.testing.assert_allclose(y2, y, atol=1e-5)
    if pooling.startswith("attention"):
        a = np.asarray(aux["alpha"])
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-6)
        assert np.all(a[~mask] == 0)
    ya, _ = apply(p, x, mask, key=jax.random.PRNGKey(3))
    yb, _ = apply(p, x, mask, key=jax.random.PRNGKey(3))
    yc, _ = apply(p, x, mask, key=jax.random.PRNGKey(4))
    np.testing.assert_array_equal(ya, yb)
    assert not np.allclose(ya, y) and not np.allclose(ya, yc)


@pytest.mark.parametrize("stats,s", [("mean", 1), ("mean_min_max", 3), ("full", 7)])
def test_mirsamadi_dnn_pools_statistics_of_learned_llds(stats, s):
    rng = np.random.default_rng(2)
    x, mask = _batch(rng, F=6)
    p = mirsamadi.init(jax.random.PRNGKey(0), 6, 4, lld_layers=2, lld_units=8, rnn=False,
                       stats=stats)
    assert p["out"]["w"].shape == (8 * s, 4)
    apply = mirsamadi.model_fn("mean", rnn=False, stats=stats)
    y, _ = apply(p, x, mask)
    x2, m2 = _padded_more(x, mask)
    np.testing.assert_allclose(apply(p, x2, m2)[0], y, atol=1e-4)


def test_mirsamadi_numpy_statistics_match_the_pooling_layer():
    from emojax.experiments.mirsamadi2017 import numpy_stats
    from emojax.nn.pooling import stats_pool
    x = np.random.default_rng(3).standard_normal((40, 5)).astype(np.float32)
    np.testing.assert_allclose(numpy_stats(x, "full"),
                               stats_pool(jnp.asarray(x), jnp.ones(40, bool), "full"), rtol=2e-4,
                               atol=2e-5)


def test_by_length_batches_visit_every_item_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, 103)
    order = epoch_order(np.random.default_rng(1), lengths, 10, True)
    assert sorted(order.tolist()) == list(range(103))
    spans = [np.ptp(lengths[order[i:i + 10]]) for i in range(0, 103, 10)]
    assert np.median(spans) < 0.2 * np.ptp(lengths)
    plain = epoch_order(np.random.default_rng(1), lengths, 10, False)
    np.testing.assert_array_equal(plain, np.random.default_rng(1).permutation(103))


def test_a_dropout_model_trains_and_evaluates_by_length_in_the_given_order():
    rng = np.random.default_rng(0)
    items = [{"x": rng.standard_normal((int(n), 4)).astype(np.float32), "y_seq": int(n > 20)}
             for n in rng.integers(3, 40, 24)]
    cfg = TrainConfig(batch_size=4, max_epochs=2, patience=1, l2=0.0, by_length=True, quantum=8)
    apply = mirsamadi.model_fn("mean")
    init = mirsamadi.init(jax.random.PRNGKey(0), 4, 2, hidden=4)
    (params,), (info,) = fit(apply, seq_cross_entropy, [init], cfg, [items[:16]], [items[16:]], 4, [0])
    assert info["epochs"] >= 1
    _, (out,) = evaluate(apply, seq_cross_entropy, cfg, params, [items], 4)
    plain = dataclasses.replace(cfg, by_length=False, quantum=48)     # one batch shape, given order
    _, (ref,) = evaluate(apply, seq_cross_entropy, plain, params, [items], 4)
    np.testing.assert_allclose(np.stack(out), np.stack(ref), atol=1e-5)


@pytest.mark.parametrize("keep", [0.5, 0.8, 0.05])
def test_dropout_masks_keep_the_asked_share_independently(keep):
    from emojax.nn.dense import dropout, keep_mask
    shape = (64, 50, 32)                                   # 102,400 draws: the share to ±0.5 %
    a = np.asarray(keep_mask(jax.random.PRNGKey(0), shape, keep))
    b = np.asarray(keep_mask(jax.random.PRNGKey(1), shape, keep))
    assert abs(a.mean() - keep) < 5 * np.sqrt(keep * (1 - keep) / a.size)
    assert abs((a & b).mean() - keep ** 2) < 5 * np.sqrt(keep ** 2 / a.size)   # keys independent
    flat = a.reshape(-1).astype(float)
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.02                    # neighbours too
    np.testing.assert_array_equal(a, np.asarray(keep_mask(jax.random.PRNGKey(0), shape, keep)))
    x = jnp.ones(shape)
    y = np.asarray(dropout(jax.random.PRNGKey(0), x, 1 - keep))
    np.testing.assert_allclose(y[a], 1 / keep, rtol=1e-6)
    assert np.all(y[~a] == 0) and np.asarray(dropout(None, x, 0.5)).min() == 1.0
