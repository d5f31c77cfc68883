"""emojax.nn.pooling.mean_pool against a numpy loop; emojax.models.pooled ignores padded frames."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.models import pooled
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
