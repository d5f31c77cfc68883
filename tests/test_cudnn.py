"""The cuDNN BLSTM (`emojax.nn.cudnn`): its weight packing, run through jax.experimental.rnn's own
reference of the op, equals emojax's scan kernel (values and gradients, padding, two layers); the
kernel choice. On a CUDA GPU the op itself is compared too."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.nn import cudnn
from emojax.nn import lstm as L

F, H = 5, 6


def _problem(layers=2, seed=0):
    key = jax.random.PRNGKey(seed)
    params = L.init_blstm(key, F, H, layers=layers, forget_bias=1.0)
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((2, 3, 9, F)).astype(np.float32)
    lengths = rng.integers(0, 10, (2, 3))
    lengths[0, 0] = 9                                  # a full one; some empty (filler rows)
    mask = np.arange(9)[None, None] < lengths[..., None]
    return params, xs, mask


@pytest.mark.parametrize("layers", [1, 2])
def test_packed_weights_through_the_reference_op_equal_the_scan_kernel(layers):
    """`cudnn.blstm(reference=True)` unpacks `pack`'s flat vector with jax.experimental.rnn's own
    unpacker and runs its reference op on it."""
    params, xs, mask = _problem(layers)
    want = L.blstm(params, xs, mask)
    got = cudnn.blstm(params, xs, mask, reference=True)
    assert got.shape == want.shape == (2, 3, 9, 2 * H)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(got)[~mask] == 0)


def test_gradients_through_the_reference_op_equal_the_scan_kernel():
    params, xs, mask = _problem(2, seed=3)
    w = np.random.default_rng(1).standard_normal((2, 3, 9, 2 * H)).astype(np.float32)

    def loss(f):
        return lambda p, x: jnp.sum(f(p, x, mask) * w)
    ref = lambda p, x, m: cudnn.blstm(p, x, m, reference=True)  # noqa: E731
    ga = jax.grad(loss(L.blstm), argnums=(0, 1))(params, xs)
    gb = jax.grad(loss(ref), argnums=(0, 1))(params, xs)
    for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_flat_layout_is_the_one_jax_experimental_rnn_unpacks():
    from jax.experimental import rnn
    params, _, _ = _problem(2)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(cudnn.pack(params), F, H, 2, True)
    dirs = [layer[d] for layer in params for d in ("fwd", "bwd")]
    assert cudnn.pack(params).size == rnn.get_num_params_in_lstm(F, H, 2, True)
    for i, p in enumerate(dirs):
        np.testing.assert_array_equal(W_ih[i], p["w_x"].T)
        np.testing.assert_array_equal(W_hh[i], p["w_h"].T)
        np.testing.assert_array_equal(b_ih[i], p["b"])
        np.testing.assert_array_equal(b_hh[i], 0)


def test_what_cudnn_cannot_do_is_said():
    params = L.init_blstm(jax.random.PRNGKey(0), F, H, peephole=True)
    with pytest.raises(ValueError, match="peepholes"):
        cudnn.pack(params)
    with pytest.raises(ValueError, match="use one of"):
        L.set_kernel("fast")


@pytest.mark.skipif(L._on_cuda(), reason="checks the CPU's answer to a forced cuDNN kernel")
def test_forcing_cudnn_without_a_cuda_gpu_is_one_line():
    params, xs, mask = _problem(1)
    try:
        L.set_kernel("cudnn")
        with pytest.raises(ValueError, match="needs a CUDA GPU"):
            L.blstm(params, xs, mask)
    finally:
        L.set_kernel("auto")
    # back to auto: the scan kernel on this machine
    np.testing.assert_array_equal(L.blstm(params, xs, mask), L.bilstm_layer(params[0], xs, mask))


@pytest.mark.skipif(not L._on_cuda(), reason="needs a CUDA GPU (cuDNN)")
def test_on_a_gpu_train_steps_run_cudnn_and_everything_else_the_scan():
    from emojax.models import woellmer
    from emojax.train.losses import step_cross_entropy
    from emojax.train.step import make_steps
    import optax
    params, xs, mask = _problem(2)
    want = L.blstm(params, xs, mask)                      # auto outside a train step: the scan
    assert "rnn_fwd" not in str(jax.make_jaxpr(L.blstm)(params, xs, mask))
    with L.use_kernel("auto-train"):
        jaxpr = str(jax.make_jaxpr(L.blstm)(params, xs, mask))
        got = jax.jit(L.blstm)(params, xs, mask)
    assert "rnn_fwd" in jaxpr
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4)   # cuDNN may use TF32
    # jacrev / jacfwd / vmap keep working (the scan) under the default
    jax.jacrev(lambda x: L.blstm(params, x, mask[0, 0]))(xs[0, 0])
    jax.jacfwd(lambda x: L.blstm(params, x, mask[0, 0]))(xs[0, 0])
    jax.vmap(jax.jit(lambda x: L.blstm(params, x, mask[0])))(xs)
    # a one-model train step traces its model with cuDNN
    p = woellmer.init(jax.random.PRNGKey(0), F, 3, hidden=H)
    step, _ = make_steps(woellmer.apply, step_cross_entropy, optax.adam(1e-3))
    batch = {"x": xs[0], "y_step": np.zeros(xs.shape[1:3], np.int32), "mask": mask[0]}
    assert "rnn_fwd" in str(jax.make_jaxpr(step)(p, optax.adam(1e-3).init(p),
                                                   jax.random.PRNGKey(0), batch))
