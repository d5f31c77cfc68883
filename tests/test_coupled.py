"""The coupled LSTM (Hsu & Wu eq. 3-5) and the neural tensor network (eq. 1) against numpy written
from the equations, step by step; gradients against finite differences."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.nn import coupled as C



def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_coupled(p, xa, xv, n_valid, s=None, weighting="both"):
    """One sequence, plain numpy, the paper's equations written out."""
    pa = {k: np.asarray(v, np.float64) for k, v in p["a"].items()}
    pv = {k: np.asarray(v, np.float64) for k, v in p["v"].items()}
    H = pa["w_h"].shape[0]
    ha = ca = hv = cv = np.zeros(H)
    out_a, out_v = np.zeros((len(xa), H)), np.zeros((len(xa), H))
    for t in range(n_valid):
        if s is None or t == 0:
            own = other = 0.5
        else:
            w = 1.0 / (1.0 + s[t - 1])
            own, other = (w, w) if weighting == "both" else (0.5, w)
        za = xa[t] @ pa["w_x"] + ha @ pa["w_h"] + pa["b"]
        zv = xv[t] @ pv["w_x"] + hv @ pv["w_h"] + pv["b"]
        ia, fa, ga, oa = _sig(za[:H]), _sig(za[H:2 * H]), np.tanh(za[2 * H:3 * H]), _sig(za[3 * H:])
        iv, fv, gv, ov = _sig(zv[:H]), _sig(zv[H:2 * H]), np.tanh(zv[2 * H:3 * H]), _sig(zv[3 * H:])
        ca_new = ia * ga + fa * own * ca + fa * other * cv          # eq. 3 / eq. 5
        cv_new = iv * gv + fv * own * cv + fv * other * ca
        ca, cv = ca_new, cv_new
        ha, hv = oa * np.tanh(ca), ov * np.tanh(cv)                 # eq. 4
        out_a[t], out_v[t] = ha, hv
    return out_a, out_v


@pytest.fixture(scope="module")
def setup():
    key = jax.random.PRNGKey(0)
    p = C.init_coupled(key, 5, 3, 4, forget_bias=0.7)
    rng = np.random.default_rng(1)
    xa = rng.normal(size=(2, 6, 5)).astype(np.float32)
    xv = rng.normal(size=(2, 6, 3)).astype(np.float32)
    s = rng.uniform(size=(2, 6)).astype(np.float32)
    mask = np.arange(6)[None] < np.array([[6], [4]])
    return p, xa, xv, s, mask


@pytest.mark.parametrize("weighting", [None, "both", "counterpart"])
def test_coupled_lstm_matches_numpy_equations(setup, weighting):
    p, xa, xv, s, mask = setup
    kw = {} if weighting is None else {"s": jnp.asarray(s), "weighting": weighting}
    ha, hv = C.coupled_lstm(p, jnp.asarray(xa), jnp.asarray(xv), jnp.asarray(mask), **kw)
    for b, n in enumerate(mask.sum(1)):
        ra, rv = _np_coupled(p, xa[b], xv[b], n, None if weighting is None else s[b],
                             weighting or "both")
        np.testing.assert_allclose(np.asarray(ha[b]), ra, atol=2e-6)
        np.testing.assert_allclose(np.asarray(hv[b]), rv, atol=2e-6)


def test_scores_of_one_are_the_plain_coupled_lstm(setup):
    p, xa, xv, _, mask = setup
    plain = C.coupled_lstm(p, xa, xv, mask)
    for weighting in C.WEIGHTINGS:
        ones = C.coupled_lstm(p, xa, xv, mask, s=jnp.ones(mask.shape), weighting=weighting)
        for a, b in zip(plain, ones):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-7)
    # and a score changes the result (the test would not notice a weighting that does nothing)
    low = C.coupled_lstm(p, xa, xv, mask, s=jnp.zeros(mask.shape))
    assert float(jnp.abs(low[0] - plain[0]).max()) > 1e-3


def test_coupled_lstm_single_sequence_and_vmap_agree(setup):
    p, xa, xv, s, mask = setup
    batch = C.coupled_lstm(p, xa, xv, mask, s=s)
    one = C.coupled_lstm(p, xa[1], xv[1], mask[1], s=s[1])
    np.testing.assert_allclose(np.asarray(one[0]), np.asarray(batch[0][1]), atol=1e-6)
    vm = jax.vmap(lambda a, v, m, q: C.coupled_lstm(p, a, v, m, s=q))(xa, xv, mask, s)
    np.testing.assert_allclose(np.asarray(vm[1]), np.asarray(batch[1]), atol=1e-6)


def test_coupled_lstm_gradient_matches_finite_differences(setup, x64):
    p, xa, xv, s, mask = setup
    p64 = jax.tree.map(lambda v: np.asarray(v, np.float64), p)
    def loss(q, sv):
        ha, hv = C.coupled_lstm(q, jnp.asarray(xa, jnp.float64), jnp.asarray(xv, jnp.float64),
                                mask, s=sv)
        return jnp.sum(jnp.sin(ha) * 1.3 + hv ** 2)
    sv = jnp.asarray(s, jnp.float64)
    g, gs = jax.grad(loss, argnums=(0, 1))(p64, sv)
    eps = 1e-6
    for cell, name, idx in (("a", "w_h", (1, 2)), ("v", "w_x", (2, 9)), ("a", "b", (5,))):
        up = jax.tree.map(np.copy, p64)
        dn = jax.tree.map(np.copy, p64)
        up[cell][name][idx] += eps
        dn[cell][name][idx] -= eps
        fd = (loss(up, sv) - loss(dn, sv)) / (2 * eps)
        np.testing.assert_allclose(float(g[cell][name][idx]), float(fd), rtol=1e-5, atol=1e-9)
    e = np.zeros(s.shape)
    e[0, 2] = eps
    fd = (loss(p64, sv + e) - loss(p64, sv - e)) / (2 * eps)
    np.testing.assert_allclose(float(gs[0, 2]), float(fd), rtol=1e-5, atol=1e-9)


def test_ntn_matches_numpy():
    q = C.init_ntn(jax.random.PRNGKey(3), 4, 6, rank=5)
    q = {**q, "b": jnp.linspace(-0.2, 0.3, 5), "c": jnp.asarray(0.1)}
    rng = np.random.default_rng(0)
    fa, fv = rng.normal(size=(7, 4)), rng.normal(size=(7, 6))
    M, V = np.asarray(q["M"], np.float64), np.asarray(q["V"], np.float64)
    ref = []
    for a, v in zip(fa, fv):
        bil = np.array([a @ M[r] @ v for r in range(5)])
        r = np.tanh(bil + np.concatenate([a, v]) @ V + np.asarray(q["b"]))
        ref.append(_sig(r @ np.asarray(q["u"]) + float(q["c"])))
    got = C.ntn_score(q, jnp.asarray(fa, jnp.float32), jnp.asarray(fv, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-5)
    assert got.shape == (7,) and np.all((np.asarray(got) > 0) & (np.asarray(got) < 1))


def test_bad_weighting_names_the_choices():
    with pytest.raises(ValueError, match="counterpart"):
        C.coupling_weights(jnp.ones((3,)), "neither")
