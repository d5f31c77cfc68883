"""emojax.analysis.jacobian: the sequential Jacobian against finite differences, fwd vs rev, causality,
padding, batching and the projections."""
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.analysis import jacobian as J_
from emojax.analysis.jacobian import sequential_jacobian
from emojax.nn.lstm import blstm, init_blstm, init_lstm, lstm

T, F, K, H = 6, 3, 4, 5


def bi_model(p, xs, mask):
    return blstm(p["blstm"], xs, mask) @ p["w"] + p["b"][None], {}


def fwd_model(p, xs, mask):
    return lstm(p["lstm"], xs, mask) @ p["w"] + p["b"][None], {}


@lru_cache(maxsize=None)                       # jax.random compiles per shape; build each set once
def make_params(kind="bi", dtype=jnp.float32, in_dim=F, hidden=H, classes=K):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    if kind == "bi":
        p = {"blstm": init_blstm(k1, in_dim, hidden, peephole=True, dtype=dtype)}
        width = 2 * hidden
    else:
        p = {"lstm": init_lstm(k1, in_dim, hidden, dtype=dtype)}
        width = hidden
    p["w"] = jax.random.normal(k2, (width, classes), dtype)
    p["b"] = 0.1 * jax.random.normal(k3, (classes,), dtype)
    return p


def normal(seed, shape, dtype=np.float32):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape).astype(dtype))


@pytest.mark.parametrize("outputs", ["softmax", "logits"])
def test_matches_central_differences(outputs):
    with jax.enable_x64(True):
        p = make_params("bi", jnp.float64)
        xs = normal(1, (T, F), np.float64)
        mask = jnp.ones(T, bool)
        J = np.asarray(J_.sequential_jacobian(bi_model, p, xs, mask, mode="fwd", outputs=outputs))
        assert J.shape == (T, K, T, F) and J.dtype == np.float64

        @jax.jit
        @jax.vmap
        def y(x):
            logits = bi_model(p, x, mask)[0]
            return jax.nn.softmax(logits, -1) if outputs == "softmax" else logits

        eps = 1e-6
        steps = eps * np.eye(T * F).reshape(T * F, T, F)              # one per (t', i)
        x0 = np.asarray(xs)[None]
        num = np.asarray(y(x0 + steps) - y(x0 - steps)) / (2 * eps)   # (T*F, T, K)
        num = num.reshape(T, F, T, K).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(J, num, rtol=1e-6, atol=1e-8)
    assert np.abs(J).max() > 1e-3                                    # not trivially zero


def test_fwd_equals_rev_and_auto():
    p = make_params()
    xs = normal(2, (T, F))
    mask = jnp.ones(T, bool)
    for outputs in ("softmax", "logits"):
        Jf = J_.sequential_jacobian(bi_model, p, xs, mask, mode="fwd", outputs=outputs)
        Jr = J_.sequential_jacobian(bi_model, p, xs, mask, mode="rev", outputs=outputs)
        np.testing.assert_allclose(Jf, Jr, atol=1e-5)


def dense_model(w, xs, mask):
    return jnp.tanh(xs @ w), {}


@pytest.mark.parametrize("F_, K_", [(7, 2), (2, 7)])
def test_auto_equals_fwd(F_, K_):
    w = normal(0, (F_, K_))
    xs = normal(1, (T, F_))
    mask = jnp.arange(T) < 4
    Ja = J_.sequential_jacobian(dense_model, w, xs, mask, mode="auto")
    np.testing.assert_allclose(Ja, J_.sequential_jacobian(dense_model, w, xs, mask, mode="fwd"),
                               atol=1e-6)
    assert Ja.shape == (T, K_, T, F_)
    # a framewise model: only the diagonal blocks t = t' of valid steps are non-zero
    S = np.asarray(J_.sensitivity(Ja))
    np.testing.assert_array_equal(S != 0, np.diag(np.arange(T) < 4))


def test_pick_mode():
    assert J_._pick_mode(30, 5, 200) == "rev"       # fewer outputs than inputs
    assert J_._pick_mode(6, 4, 3) == "fwd"
    assert J_._pick_mode(6, 4, 4) == "fwd"          # tie: the reference jacfwd
    with pytest.raises(ValueError):
        J_.sequential_jacobian(bi_model, make_params(), jnp.zeros((T, F)), jnp.ones(T, bool),
                               mode="backward")


def test_scale_by_output_and_jit():
    p = make_params()
    xs = normal(3, (T, F))
    mask = jnp.ones(T, bool)
    J = J_.sequential_jacobian(bi_model, p, xs, mask, mode="fwd", outputs="softmax")
    Js = jax.jit(lambda p, xs: J_.sequential_jacobian(bi_model, p, xs, mask, mode="rev",
                                                     scale_by_output=True))(p, xs)
    y = jax.nn.softmax(jax.jit(bi_model)(p, xs, mask)[0], -1)
    np.testing.assert_allclose(Js, J * y[:, :, None, None], atol=1e-6)


def test_forward_lstm_is_causal():
    p = make_params("fwd")
    xs = normal(4, (T, F))
    S = np.asarray(J_.sensitivity(J_.sequential_jacobian(fwd_model, p, xs, jnp.ones(T, bool))))
    assert np.all(np.triu(S, k=1) == 0.0)           # exactly no dependence on the future
    assert np.all(np.diag(S) > 0)
    assert np.all(np.tril(S, k=-1)[np.tril_indices(T, -1)] > 0)
    # the bidirectional model does look ahead
    Sb = np.asarray(J_.sensitivity(J_.sequential_jacobian(
        bi_model, make_params(), xs, jnp.ones(T, bool), mode="fwd")))
    assert np.all(Sb[np.triu_indices(T, 1)] > 0)


def test_padding_does_not_change_valid_block():
    p = make_params()
    xs = normal(5, (8, F))
    mask = jnp.arange(8) < 5
    Jp = np.asarray(J_.sequential_jacobian(bi_model, p, xs, mask, mode="fwd"))
    Jv = np.asarray(J_.sequential_jacobian(bi_model, p, xs[:5], jnp.ones(5, bool), mode="fwd"))
    np.testing.assert_allclose(Jp[:5, :, :5], Jv, atol=1e-6)
    assert np.all(Jp[5:] == 0) and np.all(Jp[:, :, 5:] == 0)
    # the padding's values do not matter either (mode "rev" with padding: test_batched_equals_loop)
    xs2 = xs.at[5:].set(100.0)
    np.testing.assert_allclose(J_.sequential_jacobian(bi_model, p, xs2, mask, mode="fwd"), Jp,
                               atol=1e-6)


def test_batched_equals_loop():
    p = make_params()
    B = 3
    xs = normal(6, (B, T, F))
    lengths = jnp.array([6, 4, 1])
    mask = jnp.arange(T)[None, :] < lengths[:, None]
    for mode in ("fwd", "rev"):
        Jb = J_.batched_sequential_jacobian(bi_model, p, xs, mask, mode=mode, outputs="logits")
        assert Jb.shape == (B, T, K, T, F)
        for b in range(B):
            Jo = J_.sequential_jacobian(bi_model, p, xs[b], mask[b], mode=mode, outputs="logits")
            np.testing.assert_allclose(Jb[b], Jo, atol=1e-6)
    Jc = J_.batched_sequential_jacobian(bi_model, p, xs, mask, mode="rev", outputs="logits", chunk=2)
    np.testing.assert_allclose(Jc, Jb, atol=1e-6)


def test_sensitivity_projections():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(T, K, T, F))
    S = np.asarray(J_.sensitivity(J))
    naive = np.array([[np.abs(J[t, :, u, :]).sum() for u in range(T)] for t in range(T)])
    np.testing.assert_allclose(S, naive, rtol=1e-5)
    np.testing.assert_allclose(J_.sensitivity(J, reduce="max"),
                               np.abs(J).max(axis=(1, 3)), rtol=1e-6)
    pred = rng.integers(0, K, size=T)
    Sp = np.asarray(J_.sensitivity(J, predicted=pred))
    naive_p = np.array([[np.abs(J[t, pred[t], u]).sum() for u in range(T)] for t in range(T)])
    np.testing.assert_allclose(Sp, naive_p, rtol=1e-5)
    # batched J projects per sequence
    np.testing.assert_allclose(J_.sensitivity(np.stack([J, 2 * J])), np.stack([S, 2 * S]), rtol=1e-5)


def test_normalise_by_diagonal():
    S = np.array([[2.0, 1.0, 0.5], [3.0, 6.0, 1.5], [0.0, 0.0, 0.0]])
    N = np.asarray(J_.normalise_by_diagonal(S))
    np.testing.assert_allclose(N, [[1.0, 0.5, 0.25], [0.5, 1.0, 0.25], [0.0, 0.0, 0.0]])
    assert np.all(np.isfinite(N))


def test_directions_split_the_jacobian():
    """woellmer.apply_directions with both halves equal is apply; its Jacobians with respect to the
    forward and the backward half add up to apply's, the forward half reaches no later output and
    the backward half no earlier one (one and two layers)."""
    from emojax.models import woellmer as W
    for layers in (1, 2):
        params = W.init(jax.random.PRNGKey(layers), 3, 4, hidden=5, layers=layers, forget_bias=0.5)
        xs = jax.random.normal(jax.random.PRNGKey(7), (6, 3))
        mask = jnp.arange(6) < 5
        x2 = jnp.concatenate([xs, xs], -1)
        np.testing.assert_allclose(W.apply_directions(params, x2, mask)[0],
                                   W.apply(params, xs, mask)[0], rtol=1e-6, atol=1e-6)
        J = sequential_jacobian(W.apply, params, xs, mask, mode="fwd")
        J2 = sequential_jacobian(W.apply_directions, params, x2, mask, mode="fwd")
        Jf, Jb = J2[..., :3], J2[..., 3:]
        np.testing.assert_allclose(Jf + Jb, J, rtol=1e-5, atol=1e-6)
        t = np.arange(6)
        if layers == 1:
            later = (t[None, :] > t[:, None])[:, None, :, None]      # input after the output
            assert float(jnp.abs(jnp.where(later, Jf, 0)).max()) == 0.0
            assert float(jnp.abs(jnp.where(later.transpose(2, 1, 0, 3), Jb, 0)).max()) == 0.0
