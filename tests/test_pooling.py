"""emojax.nn.pooling against numpy loops over frames (and scipy.stats for the moments);
emojax.models.pooled ignores padded frames."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from emojax.models import pooled
from emojax.nn import pooling as P
from emojax.nn.pooling import mean_pool


def numpy_mean_pool(h, mask):
    """Frame by frame: the sum of the valid frames over their count; zeros when there are none."""
    h, mask = np.asarray(h, np.float64), np.asarray(mask, bool)
    out = np.zeros(h.shape[:-2] + h.shape[-1:])
    for idx in np.ndindex(*h.shape[:-2]):
        total, n = np.zeros(h.shape[-1]), 0
        for t in range(h.shape[-2]):
            if mask[idx + (t,)]:
                total += h[idx + (t,)]
                n += 1
        out[idx] = total / n if n else 0.0
    return out


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((4, 7, 3)).astype(np.float32)
    mask = np.array([[1] * 7,                    # full
                     [1] * 3 + [0] * 4,          # prefix
                     [0] * 7,                    # no valid frame
                     [0, 1, 0, 1, 1, 0, 1]],     # not a prefix
                    bool)
    return h, mask


def test_mean_pool_matches_numpy_loop(frames):
    h, mask = frames
    ours = jax.jit(mean_pool)(h, mask)                                    # (B, D)
    np.testing.assert_allclose(ours, numpy_mean_pool(h, mask), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ours[2], np.zeros(3))                  # all masked: zeros, not NaN


def test_mean_pool_one_sequence_is_a_row_of_the_batch(frames):
    h, mask = frames
    one = jax.vmap(mean_pool)(h, mask)                                    # single-example semantics
    np.testing.assert_allclose(one, mean_pool(h, mask), rtol=1e-6)
    np.testing.assert_allclose(mean_pool(h[1], mask[1]), numpy_mean_pool(h[1], mask[1]), rtol=1e-6)


def test_padded_frames_never_count_not_even_nan(frames):
    h, mask = frames
    loud = np.where(mask[..., None], h, np.nan).astype(np.float32)
    np.testing.assert_allclose(jax.jit(mean_pool)(loud, mask), numpy_mean_pool(h, mask),
                               rtol=1e-6, atol=1e-7)
    g = jax.grad(lambda x: mean_pool(x, mask).sum())(jnp.asarray(loud))
    assert np.all(np.asarray(g)[~mask] == 0) and np.all(np.isfinite(g))


def test_mean_pool_names_a_shape_mismatch(frames):
    h, mask = frames
    with pytest.raises(ValueError, match=r"mask \(4, 6\)"):
        mean_pool(h, mask[:, :6])


def test_pooled_model_ignores_padded_inputs():
    B, T, F, K = 3, 8, 5, 4
    params = pooled.init(jax.random.PRNGKey(0), F, K, hidden=6, layers=2, peephole=True)
    xs = jax.random.normal(jax.random.PRNGKey(1), (B, T, F))
    lengths = jnp.array([8, 5, 1])
    mask = jnp.arange(T)[None, :] < lengths[:, None]                      # prefix masks
    noise = 100.0 * jax.random.normal(jax.random.PRNGKey(2), (B, T, F))
    moved = jnp.where(mask[..., None], xs, noise)                         # only padded frames change
    apply = jax.jit(pooled.apply)
    logits, aux = apply(params, xs, mask)
    assert logits.shape == (B, K) and aux == {}
    np.testing.assert_allclose(apply(params, moved, mask)[0], logits, rtol=1e-6, atol=1e-6)
    # ... and each sequence gives what it gives alone, without its padding
    for b in range(B):
        n = int(lengths[b])
        alone = apply(params, xs[b, :n], jnp.ones(n, bool))[0]            # (K,)
        np.testing.assert_allclose(alone, logits[b], rtol=1e-5, atol=1e-6)


# ============================================================================ the other heads
MASKS = np.array([[1] * 7,                       # full
                  [1] * 3 + [0] * 4,             # prefix
                  [0] * 7,                       # no valid frame
                  [0, 1, 0, 1, 1, 0, 1],         # not a prefix
                  [0, 0, 0, 0, 1, 0, 0],         # one frame, in the middle
                  [1, 1, 0, 1, 1, 1, 0]],        # constant frames (see `batch`)
                 bool)


@pytest.fixture
def batch():
    """h (6, 7, 4) with the masks above: D = 4 = [forward 2, backward 2]; the last row's valid
    frames are all the same (zero variance: skewness and kurtosis 0, gradients finite)."""
    h = np.random.default_rng(1).standard_normal((6, 7, 4)).astype(np.float32)
    h[5] = np.array([0.1, -3.0, 0.0, 7.0], np.float32)
    return h, MASKS


def poison(h, mask):
    """Padded frames hold NaN, +inf and -inf in turn: nothing of them may leak."""
    bad = np.resize(np.array([np.nan, np.inf, -np.inf], np.float32), h.shape)
    return np.where(mask[..., None], h, bad).astype(np.float32)


def rows(h, mask):
    """(idx, the valid frames (n, D) in time order) for every row of any leading axes."""
    h, mask = np.asarray(h, np.float64), np.asarray(mask, bool)
    for idx in np.ndindex(*h.shape[:-2]):
        yield idx, np.array([h[idx + (t,)] for t in range(h.shape[-2]) if mask[idx + (t,)]])


def numpy_final_frame(h, mask, bidirectional=True):
    out = np.zeros(h.shape[:-2] + h.shape[-1:])
    D = h.shape[-1]
    for idx, v in rows(h, mask):
        if len(v):
            out[idx] = np.concatenate([v[-1, :D // 2], v[0, D // 2:]]) if bidirectional else v[-1]
    return out


def numpy_softmax_rows(scores, mask):
    alpha = np.zeros(scores.shape)
    for idx in np.ndindex(*scores.shape[:-1]):
        valid = [t for t in range(scores.shape[-1]) if mask[idx + (t,)]]
        if valid:
            s = np.array([scores[idx + (t,)] for t in valid], np.float64)
            e = np.exp(s - s.max())
            for t, a in zip(valid, e / e.sum()):
                alpha[idx + (t,)] = a
    return alpha


def numpy_attention(h, mask, score):
    """score: one frame (D,) -> scalar. Returns (pooled, alpha), eqs. (1)-(2) frame by frame."""
    h64 = np.asarray(h, np.float64)
    scores = np.zeros(h.shape[:-1])
    for idx in np.ndindex(*h.shape[:-1]):
        if mask[idx]:
            scores[idx] = score(h64[idx])
    alpha = numpy_softmax_rows(scores, mask)
    pooled = np.zeros(h.shape[:-2] + h.shape[-1:])
    for idx in np.ndindex(*h.shape[:-2]):
        for t in range(h.shape[-2]):
            if mask[idx + (t,)]:
                pooled[idx] += alpha[idx + (t,)] * h64[idx + (t,)]
    return pooled, alpha


def numpy_stats(h, mask, stats):
    """Each statistic from the list of valid frames: numpy for the first four, scipy for the rest."""
    names = P.stat_names(stats)
    out = np.zeros(h.shape[:-2] + (h.shape[-1] * len(names),))
    for idx, v in rows(h, mask):
        if not len(v):
            continue
        with warnings.catch_warnings():                                  # flat rows: scipy warns
            warnings.simplefilter("ignore", RuntimeWarning)
            skew = scipy.stats.skew(v, axis=0, bias=True)
            kurt = scipy.stats.kurtosis(v, axis=0, fisher=True, bias=True)
        value = {"mean": v.mean(0), "std": v.std(0), "min": v.min(0), "max": v.max(0),
                 "range": v.max(0) - v.min(0),
                 "skewness": np.nan_to_num(skew), "kurtosis": np.nan_to_num(kurt)}  # scipy: NaN if flat
        out[idx] = np.concatenate([value[k] for k in names])
    return out


def mlp_params(D=4, A=3):
    """A deeper attention score with a nonzero u (the init leaves u = 0)."""
    rng = np.random.default_rng(3)
    return {"w": jnp.asarray(rng.uniform(-0.5, 0.5, (D, A)), jnp.float32),
            "b": jnp.asarray(0.1 * rng.standard_normal(A), jnp.float32),
            "u": jnp.asarray(rng.standard_normal(A), jnp.float32)}


U = np.random.default_rng(2).standard_normal(4).astype(np.float32)      # a linear score's u (D,)


def _cat(*xs):
    return jnp.concatenate(xs, -1)


# Every head as one jitted ``h, mask -> (..., X)`` with its variants concatenated, shared by the
# tests below so that each compiles once per shape (the tests' time is compile time).
HEADS = {
    "final_frame": jax.jit(lambda h, m: _cat(P.final_frame(h, m),                  # [bi D | uni D]
                                             P.final_frame(h, m, bidirectional=False))),
    "attention_pool": jax.jit(lambda h, m: _cat(*P.attention_pool(h, m, U))),      # [pooled | alpha]
    "attention_mlp": jax.jit(lambda h, m: _cat(*P.attention(mlp_params(), h, m))),
    "stats_pool": jax.jit(lambda h, m: _cat(*(P.stats_pool(h, m, s) for s in P.STATS))),
}


def test_final_frame_matches_numpy_loop(batch):
    h, mask = batch
    ours = np.asarray(HEADS["final_frame"](h, mask))
    np.testing.assert_allclose(ours[:, :4], numpy_final_frame(h, mask, True), rtol=1e-6)
    np.testing.assert_allclose(ours[:, 4:], numpy_final_frame(h, mask, False), rtol=1e-6)
    np.testing.assert_array_equal(ours[2], np.zeros(8))                  # empty row: zeros


def test_final_frame_picks_forward_at_the_end_and_backward_at_the_start():
    t = np.arange(6, dtype=np.float32)
    h = np.stack([t, 10 + t, 20 + t, 30 + t], -1)                        # (T, 4): [fwd fwd bwd bwd]
    mask = np.array([0, 1, 1, 0, 1, 0], bool)                            # valid 1, 2, 4
    np.testing.assert_array_equal(HEADS["final_frame"](h, mask), [4, 14, 21, 31] + [4, 14, 24, 34])
    with pytest.raises(ValueError, match="D = 3"):
        P.final_frame(h[:, :3], mask)


def test_attention_weights_are_a_softmax_over_valid_frames():
    rng = np.random.default_rng(3)
    scores = (100.0 * rng.standard_normal(MASKS.shape)).astype(np.float32)   # exp would overflow
    ours = np.asarray(jax.jit(P.attention_weights)(np.where(MASKS, scores, np.nan), MASKS))
    np.testing.assert_allclose(ours, numpy_softmax_rows(scores, MASKS), rtol=1e-5, atol=1e-7)
    assert np.all(np.isfinite(ours)) and np.all(ours[~MASKS] == 0)
    valid = MASKS.any(-1)
    np.testing.assert_allclose(ours.sum(-1)[valid], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(ours[~valid], 0.0)                     # empty row: zeros


@pytest.mark.parametrize("form", ["linear", "mlp"])
def test_attention_matches_numpy_loop(batch, form):
    h, mask = batch
    if form == "linear":
        score = lambda y: y @ U                                          # noqa: E731, eq. 1
    else:
        w, b, u = (np.asarray(mlp_params()[k], np.float64) for k in ("w", "b", "u"))
        score = lambda y: u @ np.tanh(w.T @ y + b)                       # noqa: E731, Fig. 1(f)
    ours = np.asarray(HEADS[f"attention_{'pool' if form == 'linear' else 'mlp'}"](h, mask))
    pooled_, alpha = ours[:, :4], ours[:, 4:]
    ref_pooled, ref_alpha = numpy_attention(h, mask, score)
    np.testing.assert_allclose(pooled_, ref_pooled, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alpha, ref_alpha, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(alpha.sum(-1), mask.any(-1).astype(float), rtol=1e-6)
    assert np.all(alpha[~mask] == 0)
    np.testing.assert_array_equal(pooled_[2], np.zeros(4))              # empty row: zeros


def test_attention_starts_as_mean_pool(batch):
    h, mask = batch
    mean = numpy_mean_pool(h, mask)
    attend = jax.jit(P.attention)
    loss_grad = jax.jit(jax.grad(lambda p: (P.attention(p, h, mask)[0] ** 2).sum()))
    for hidden in (None, 5):
        p = P.init_attention(jax.random.PRNGKey(0), 4, hidden)
        assert set(p) == ({"u"} if hidden is None else {"w", "b", "u"})
        assert p["u"].shape == ((4,) if hidden is None else (5,))
        if hidden:
            assert p["w"].shape == (4, 5) and p["b"].shape == (5,)
        np.testing.assert_allclose(attend(p, h, mask)[0], mean, rtol=1e-6, atol=1e-7)
        # zero u is not a dead start: the loss already has a gradient in u
        assert np.abs(np.asarray(loss_grad(p)["u"])).max() > 1e-3


def test_attention_names_a_shape_mismatch(batch):
    h, mask = batch
    with pytest.raises(ValueError, match=r"u \(3,\)"):
        P.attention_pool(h, mask, jnp.zeros(3))
    with pytest.raises(ValueError, match=r"w \(3, 2\)"):
        P.attention({"w": jnp.zeros((3, 2)), "b": jnp.zeros(2), "u": jnp.zeros(2)}, h, mask)


def test_stats_pool_matches_numpy_and_scipy(batch):
    h, mask = batch
    ours = np.asarray(HEADS["stats_pool"](h, mask))                      # [mean | mean_min_max | full]
    sizes = [4 * len(P.stat_names(s)) for s in P.STATS]                  # 4, 12, 28
    assert ours.shape == (6, sum(sizes))
    blocks = np.split(ours, np.cumsum(sizes)[:-1], -1)
    for stats, block in zip(P.STATS, blocks):
        np.testing.assert_allclose(block, numpy_stats(h, mask, stats), rtol=1e-4, atol=2e-5,
                                   err_msg=stats)
    np.testing.assert_array_equal(ours[2], 0.0)                          # empty row: zeros
    constant = blocks[2][5].reshape(7, 4)                                # "full" of the flat row
    np.testing.assert_array_equal(constant[0], h[5, 0])                 # mean
    np.testing.assert_allclose(constant[1], 0.0, atol=1e-5)              # std = sqrt(eps)
    np.testing.assert_array_equal(constant[4:], 0.0)                     # range, skewness, kurtosis


def test_stats_layout_and_names():
    assert P.STATS == ("mean", "mean_min_max", "full")
    assert P.stat_names("mean") == ("mean",)
    assert P.stat_names("mean_min_max") == ("mean", "min", "max")
    assert P.stat_names("full") == ("mean", "std", "min", "max", "range", "skewness", "kurtosis")
    h = np.array([[1.0, -1.0], [3.0, 5.0], [2.0, 2.0]], np.float32)       # (T 3, D 2)
    out = P.stats_pool(h, np.ones(3, bool), "mean_min_max")
    np.testing.assert_allclose(out, [2, 2, 1, -1, 3, 5])                 # [mean | min | max] blocks
    with pytest.raises(ValueError, match="'median'"):
        P.stats_pool(h, np.ones(3, bool), "median")


@pytest.mark.parametrize("name", list(HEADS))
def test_padded_frames_change_nothing_and_get_zero_gradient(batch, name):
    h, mask = batch
    f = HEADS[name]
    loud = poison(h, mask)
    out = np.asarray(f(loud, mask))
    np.testing.assert_allclose(out, f(h, mask), rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(out))
    weights = jnp.asarray(np.random.default_rng(5).standard_normal(out.shape), jnp.float32)
    g = np.asarray(jax.jit(jax.grad(lambda x: (weights * f(x, mask)).sum()))(jnp.asarray(loud)))
    assert np.all(np.isfinite(g)) and np.all(g[~mask] == 0)             # constant row included
    assert np.abs(g[mask]).max() > 0                                     # ... and valid ones do


def test_attention_parameter_gradients_ignore_padded_nan(batch):
    h, mask = batch
    loud = jnp.asarray(poison(h, mask))
    grad_u = jax.jit(jax.grad(lambda u, x: P.attention_pool(x, mask, u)[0].sum()))
    np.testing.assert_allclose(grad_u(U, loud), grad_u(U, h), rtol=1e-5, atol=1e-7)
    gp = jax.jit(jax.grad(lambda p: P.attention(p, loud, mask)[0].sum()))(mlp_params())
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(gp))


@pytest.mark.parametrize("name", list(HEADS))
def test_any_leading_axes(batch, name):
    h, mask = batch
    f = HEADS[name]
    flat, flipped = np.asarray(f(h, mask)), np.asarray(f(h[::-1], mask[::-1]))      # (B,) -> (B, X)
    np.testing.assert_allclose(f(np.stack([h, h[::-1]]), np.stack([mask, mask[::-1]])),  # (M, B)
                               np.stack([flat, flipped]), rtol=1e-6, atol=1e-7)
    for b in (0, 1, 3):                                                  # no batch axis
        np.testing.assert_allclose(f(h[b], mask[b]), flat[b], rtol=1e-6, atol=1e-7)
