"""emojax.nn.lstm against independent references: a numpy loop, reversal, torch.nn.LSTM."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.nn import lstm as L


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(p, xs):
    """Plain numpy loop over the cell equations (with peepholes if present)."""
    p = jax.tree.map(np.asarray, p)
    H = p["w_h"].shape[0]
    h, c = np.zeros(H), np.zeros(H)
    out = []
    for x in np.asarray(xs, np.float64):
        z = x @ p["w_x"] + h @ p["w_h"] + p["b"]
        zi, zf, zg, zo = z[:H], z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
        if "peep" in p:
            zi, zf = zi + p["peep"][0] * c, zf + p["peep"][1] * c
        c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
        if "peep" in p:
            zo = zo + p["peep"][2] * c
        h = sigmoid(zo) * np.tanh(c)
        out.append(h)
    return np.stack(out)


@pytest.fixture(params=[False, True], ids=["plain", "peephole"])
def setup(request):
    key = jax.random.PRNGKey(0)
    layers = L.init_blstm(key, 5, 7, layers=2, peephole=request.param, forget_bias=0.5)
    xs = jax.random.normal(jax.random.PRNGKey(1), (9, 5))
    return layers, xs


def test_lstm_matches_numpy_loop(setup):
    layers, xs = setup
    p = layers[0]["fwd"]
    ours = jax.jit(L.lstm)(p, xs, jnp.ones(9, bool))
    np.testing.assert_allclose(ours, numpy_lstm(p, xs), rtol=1e-5, atol=1e-6)


def test_cell_matches_numpy_one_step(setup):
    layers, xs = setup
    p = layers[0]["fwd"]
    h, _ = L.lstm_cell(p, L.zero_state(p), xs[0])
    np.testing.assert_allclose(h, numpy_lstm(p, xs[:1])[0], rtol=1e-5, atol=1e-6)


def test_backward_with_lengths_equals_reversing_each_sequence(setup):
    layers, xs = setup
    p = layers[0]["bwd"]
    n = 6
    padded = jnp.concatenate([xs[:n], 100.0 * jnp.ones((3, 5))])   # loud padding
    mask = jnp.arange(9) < n
    ours = L.lstm(p, padded, mask, reverse=True)
    ref = numpy_lstm(p, xs[:n][::-1])[::-1]
    np.testing.assert_allclose(ours[:n], ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours[n:], 0.0)


def test_padding_invariance(setup):
    """Valid outputs do not depend on how much padding follows, or on its values."""
    layers, xs = setup
    n = 5
    short = L.blstm(layers, xs[:n], jnp.ones(n, bool))
    pad = jax.random.normal(jax.random.PRNGKey(5), (4, 5)) * 50
    long = L.blstm(layers, jnp.concatenate([xs[:n], pad]), jnp.arange(n + 4) < n)
    np.testing.assert_allclose(long[:n], short, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(long[n:], 0.0)


def test_vmap_batch_equals_loop(setup):
    layers, xs = setup
    batch = jnp.stack([xs, xs[::-1]])
    masks = jnp.stack([jnp.arange(9) < 9, jnp.arange(9) < 4])
    out = jax.vmap(L.blstm, in_axes=(None, 0, 0))(layers, batch, masks)
    for b in range(2):
        np.testing.assert_allclose(out[b], L.blstm(layers, batch[b], masks[b]), rtol=1e-5, atol=1e-6)


def test_forward_lstm_output_has_no_gradient_from_the_future(setup):
    layers, xs = setup
    p = layers[0]["fwd"]
    J = jax.jacrev(lambda x: L.lstm(p, x, jnp.ones(9, bool)).sum(-1))(xs)   # (T, T, F)
    S = np.abs(np.asarray(J)).sum(-1)
    assert np.all(np.triu(S, k=1) == 0.0)
    assert np.all(np.diag(S) > 0) and np.all(S[np.tril_indices(9, k=-1)] > 0)


def test_forget_bias_initialisation():
    p = L.init_lstm(jax.random.PRNGKey(0), 3, 4, forget_bias=2.0)
    np.testing.assert_array_equal(p["b"], [0] * 4 + [2] * 4 + [0] * 8)


def torch_blstm(torch, layers, H):
    """torch.nn.LSTM (bidirectional, float64) carrying our weights (its second bias zeroed)."""
    net = torch.nn.LSTM(5, H, num_layers=len(layers), bidirectional=True, batch_first=True).double()
    with torch.no_grad():
        for l, layer in enumerate(layers):
            for d, sfx in (("fwd", ""), ("bwd", "_reverse")):
                p = jax.tree.map(lambda a: torch.tensor(np.asarray(a, np.float64)), layer[d])
                getattr(net, f"weight_ih_l{l}{sfx}").copy_(p["w_x"].T)
                getattr(net, f"weight_hh_l{l}{sfx}").copy_(p["w_h"].T)
                getattr(net, f"bias_ih_l{l}{sfx}").copy_(p["b"])
                getattr(net, f"bias_hh_l{l}{sfx}").zero_()
    return net


def test_matches_torch_lstm(setup):
    torch = pytest.importorskip("torch")
    layers, xs = setup
    if "peep" in layers[0]["fwd"]:
        pytest.skip("torch.nn.LSTM has no peepholes")
    H = 7
    net = torch_blstm(torch, layers, H)
    n = 6
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(np.asarray(xs, np.float64))[None], [n], batch_first=True)
    ref, _ = net(packed)
    ref, _ = torch.nn.utils.rnn.pad_packed_sequence(ref, batch_first=True, total_length=9)
    ours = L.blstm(layers, xs, jnp.arange(9) < n)
    np.testing.assert_allclose(ours, ref[0].detach().numpy(), rtol=1e-5, atol=1e-5)


def test_leading_batch_axes_equal_one_sequence_at_a_time(setup):
    layers, xs = setup
    batch = jnp.stack([xs, xs[::-1], 2 * xs]).reshape(3, 1, 9, 5)
    masks = jnp.stack([jnp.arange(9) < 9, jnp.arange(9) < 4, jnp.arange(9) < 1]).reshape(3, 1, 9)
    out = L.blstm(layers, batch, masks)
    assert out.shape == (3, 1, 9, 14)
    for b in range(3):
        np.testing.assert_allclose(out[b, 0], L.blstm(layers, batch[b, 0], masks[b, 0]),
                                   rtol=1e-5, atol=1e-6)


def _loss(layers, xs, mask):
    h = L.blstm(layers, xs, mask)
    w = jnp.cos(jnp.arange(14.0, dtype=h.dtype))        # a fixed, non-uniform output weighting
    return jnp.sum(jnp.tanh(h) * w.reshape((1,) * (h.ndim - 1) + (-1,)))


def test_directional_derivatives_match_finite_differences(setup):
    """The custom JVP, and reverse mode built from it, against central differences in float64
    (a padded batch: one full sequence, one of 3 steps)."""
    lengths = [9, 3]
    layers, xs = setup
    with jax.enable_x64(True):
        layers = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), layers)
        xs = jnp.asarray(xs, jnp.float64)
        xs = jnp.stack([xs, -xs[::-1]])
        mask = (jnp.arange(9)[None] < jnp.asarray(lengths)[:, None]).reshape(xs.shape[:-1])
        f = lambda p, x: _loss(p, x, mask)                             # noqa: E731
        leaves, tree = jax.tree.flatten((layers, xs))
        keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
        v = jax.tree.unflatten(tree, [jax.random.normal(k, a.shape, a.dtype)
                                      for k, a in zip(keys, leaves)])
        eps = 1e-6
        plus = jax.tree.map(lambda a, d: a + eps * d, (layers, xs), v)
        minus = jax.tree.map(lambda a, d: a - eps * d, (layers, xs), v)
        fd = (f(*plus) - f(*minus)) / (2 * eps)
        _, jvp = jax.jvp(f, (layers, xs), v)
        grads = jax.grad(f, argnums=(0, 1))(layers, xs)
        vjp = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(v)))
        np.testing.assert_allclose(jvp, fd, rtol=1e-7)
        np.testing.assert_allclose(vjp, fd, rtol=1e-7)


def test_gradients_match_torch(setup):
    """Every parameter's and input's gradient against torch.nn.LSTM autograd (padded batch)."""
    torch = pytest.importorskip("torch")
    layers, xs = setup
    if "peep" in layers[0]["fwd"]:
        pytest.skip("torch.nn.LSTM has no peepholes")
    H, n = 7, [9, 4, 6]
    batch = jnp.stack([xs, xs[::-1] * 0.5, -xs])
    mask = jnp.arange(9)[None] < jnp.asarray(n)[:, None]
    grads = jax.grad(_loss, argnums=(0, 1))(layers, batch, mask)

    net = torch_blstm(torch, layers, H)
    x = torch.tensor(np.asarray(batch, np.float64), requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, n, batch_first=True, enforce_sorted=False)
    out, _ = net(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=9)
    (torch.tanh(out) * torch.cos(torch.arange(14.0, dtype=torch.float64))).sum().backward()

    np.testing.assert_allclose(grads[1], x.grad.numpy(), rtol=1e-4, atol=1e-6)
    for l, layer in enumerate(grads[0]):
        for d, sfx in (("fwd", ""), ("bwd", "_reverse")):
            g = layer[d]
            np.testing.assert_allclose(g["w_x"], getattr(net, f"weight_ih_l{l}{sfx}").grad.numpy().T,
                                       rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(g["w_h"], getattr(net, f"weight_hh_l{l}{sfx}").grad.numpy().T,
                                       rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(g["b"], getattr(net, f"bias_ih_l{l}{sfx}").grad.numpy(),
                                       rtol=1e-4, atol=1e-6)


def test_integer_inputs_are_promoted_not_truncated(setup):
    layers, _ = setup
    xs = jnp.arange(45, dtype=jnp.int32).reshape(9, 5) % 3 - 1
    mask = jnp.arange(9) < 7
    np.testing.assert_allclose(L.blstm(layers, xs, mask), L.blstm(layers, xs.astype(jnp.float32), mask),
                               rtol=1e-6, atol=1e-7)
