"""CTC loss against brute force (every path enumerated), optax, torch and finite differences."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from emojax.nn.ctc import ctc_loss, ctc_loss_batch
from emojax.nn.decoding import collapse
from emojax.train import losses

STATIC = ("blank", "zero_infinity")
# jitted once per module (eager scans compile per call); shapes are shared across tests so that
# the compiles are too: they are most of this file's time
value_and_grad_j = jax.jit(jax.value_and_grad(ctc_loss), static_argnames=STATIC)
batch_j = jax.jit(ctc_loss_batch, static_argnames=STATIC)


def _rows_and_sum(*a, **k):
    rows = ctc_loss_batch(*a, **k)
    return rows.sum(), rows


batch_vg = jax.jit(jax.value_and_grad(_rows_and_sum, has_aux=True), static_argnames=STATIC)


def brute_force(logits, labels, n, blank):
    """(-log p, its gradient) by enumerating every path of the first n frames (numpy, float64):
    p = Σ_{π: ℬ(π) = labels} Π_t y_t(π_t), and, with w_π = p(π) / p the posterior of each path,
    ∂(-log p)/∂z_t(k) = y_t(k) - Σ_π w_π [π_t = k] for t < n (0 on padded frames). inf when no
    path collapses to the labels."""
    z = np.asarray(logits, np.float64)
    T, K = z.shape
    paths = np.array(list(itertools.product(range(K), repeat=n)), np.int64).reshape(K ** n, n)
    hits = paths[[collapse(p, blank % K) == tuple(labels) for p in paths]]      # (P, n)
    if len(hits) == 0:
        return np.inf, None
    lp = z - z.max(-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))                        # (T, K)
    path_lp = lp[np.arange(n)[None, :], hits].sum(-1)                          # (P,)
    log_p = np.logaddexp.reduce(path_lp)
    w = np.exp(path_lp - log_p)                                                # (P,)
    grad = np.zeros((T, K))
    grad[:n] = np.exp(lp[:n])
    for t in range(n):
        grad[t] -= np.bincount(hits[:, t], weights=w, minlength=K)
    return -log_p, grad


def _pad(labels, L, fill=7):
    return jnp.asarray(list(labels) + [fill] * (L - len(labels)), jnp.int32)


def _random_batch(rng, B, T, K, L, blank):
    nonblank = np.array([k for k in range(K) if k != blank % K])
    labels = rng.choice(nonblank, size=(B, L)).astype(np.int32)
    nl = rng.integers(0, L + 1, B)
    reps = [int(np.sum(labels[b, 1:nl[b]] == labels[b, :max(nl[b] - 1, 0)])) for b in range(B)]
    n = np.array([rng.integers(nl[b] + reps[b], T + 1) for b in range(B)])     # feasible
    logits = rng.normal(size=(B, T, K)).astype(np.float32)
    mask = np.arange(T)[None] < n[:, None]
    label_mask = np.arange(L)[None] < nl[:, None]
    return logits, mask, labels, label_mask


B_T_K_L = (6, 12, 5, 4)         # the random batches' shape: one compile per blank for these tests


# (labels, input_length, blank) with T=5 frames, K=4 classes, L=3 label slots: repeats, the empty
# labelling, padding (n < T), blank first, last or in between, negative blank
CASES = [((1, 1), 5, 0), ((1, 2), 4, 0), ((), 5, 0), ((), 3, 0), ((2, 1, 2), 5, 0), ((3, 3, 1), 5, 0),
         ((1,), 1, 0), ((0, 0), 3, 3), ((0, 1, 0), 5, -1), ((2, 0, 2), 5, 1)]


@pytest.mark.parametrize("labels,n,blank", CASES)
def test_loss_and_gradient_equal_brute_force(x64, labels, n, blank):
    T, K, L = 5, 4, 3
    logits = jnp.asarray(np.random.default_rng(3 * len(labels) + n).normal(size=(T, K)))
    lab = _pad(labels, L)
    ref, g_ref = brute_force(logits, labels, n, blank)
    loss, g = value_and_grad_j(logits, lab, n, len(labels), blank=blank)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    np.testing.assert_allclose(g, g_ref, atol=1e-5)
    assert np.all(g[n:] == 0)                          # padded frames carry no gradient


def test_batch_under_jit_matches_brute_force(x64):
    """Mixed lengths in one batch: ctc_loss_batch is the row-wise loss (the STYLE.md example)."""
    rows = [((1, 1), 5), ((2,), 3), ((), 4), ((1, 2, 1), 5), ((2, 2), 3)]
    T, K, L = 5, 4, 3
    logits = jnp.asarray(np.random.default_rng(0).normal(size=(len(rows), T, K)))
    labels = jnp.stack([_pad(lab, L, 0) for lab, _ in rows])
    label_mask = jnp.asarray([[i < len(lab) for i in range(L)] for lab, _ in rows])
    mask = jnp.asarray([[t < n for t in range(T)] for _, n in rows])
    ours = batch_j(logits, mask, labels, label_mask)
    ref = [brute_force(logits[i], lab, n, 0)[0] for i, (lab, n) in enumerate(rows)]
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_blank_out_of_range_is_an_error():
    """(blank=-1 is the last class: the brute-force cases above check it.)"""
    with pytest.raises(ValueError, match="blank=4"):
        ctc_loss(jnp.zeros((6, 4)), jnp.array([0, 2, 2]), 6, 3, blank=4)


@pytest.mark.parametrize("labels,n", [((1, 1), 2), ((1, 2, 1), 2), ((2,), 0), ((1, 2, 2, 1), 4)])
def test_infeasible_is_inf_or_an_exact_zero_with_a_zero_gradient(labels, n):
    """n < L + repeats: no path. inf, or with zero_infinity 0 and a gradient of exact, finite zeros
    (the double where: no NaN leaks from the -inf branch); the batch's other rows are unchanged."""
    logits, mask, lab, lmask = _random_batch(np.random.default_rng(2), *B_T_K_L, 0)
    assert brute_force(logits[1, :5], labels, n, 0)[0] == np.inf
    (_, rows_ok), g_ok = batch_vg(logits, mask, lab, lmask, zero_infinity=True)
    lab[1], lmask[1] = _pad(labels, B_T_K_L[3], 1), np.arange(B_T_K_L[3]) < len(labels)
    mask[1] = np.arange(B_T_K_L[1]) < n
    assert float(batch_j(logits, mask, lab, lmask)[1]) == np.inf
    (_, rows), g = batch_vg(logits, mask, lab, lmask, zero_infinity=True)
    assert float(rows[1]) == 0.0 and np.all(np.asarray(g[1]) == 0.0)
    assert np.isfinite(np.asarray(g)).all()
    others = np.arange(B_T_K_L[0]) != 1
    np.testing.assert_array_equal(np.asarray(rows)[others], np.asarray(rows_ok)[others])
    np.testing.assert_array_equal(np.asarray(g)[others], np.asarray(g_ok)[others])


def test_gradient_matches_central_differences(x64):
    """(The brute-force cases' shapes: T=5, K=4, L=3, so the gradient's compile is shared.)"""
    T, K = 5, 4
    logits = np.random.default_rng(3).normal(size=(T, K))
    lab = jnp.array([1, 3, 3], jnp.int32)
    _, g = value_and_grad_j(logits, lab, 4, 3)                      # the 5th frame is padding
    f = lambda z: ctc_loss(z, lab, 4, 3)
    eps = 1e-6
    steps = eps * np.eye(T * K).reshape(T * K, T, K)                 # every coordinate at once
    f_pm = jax.jit(jax.vmap(f))(np.concatenate([logits + steps, logits - steps]))
    fd = (f_pm[:T * K] - f_pm[T * K:]) / (2 * eps)
    np.testing.assert_allclose(g, np.asarray(fd).reshape(T, K), atol=1e-7)
    np.testing.assert_allclose(jax.jit(jax.jacfwd(f))(jnp.asarray(logits)), g, atol=1e-12)


@pytest.mark.parametrize("blank", [0, 4])
def test_matches_optax_under_jit(blank):
    """The loss; the gradient's references are brute force, torch and finite differences."""
    logits, mask, labels, label_mask = _random_batch(np.random.default_rng(4 + blank), *B_T_K_L,
                                                     blank)
    # (zero_infinity changes nothing here, every row is feasible; it shares the torch test's compile)
    (_, ours), _ = batch_vg(logits, mask, labels, label_mask, blank=blank, zero_infinity=True)
    theirs = jax.jit(lambda z: optax.ctc_loss(z, 1.0 - mask, labels, 1.0 - label_mask,
                                              blank_id=blank))
    np.testing.assert_allclose(ours, theirs(logits), rtol=1e-4)


@pytest.mark.parametrize("blank", [0, 4])
def test_matches_torch_loss_and_gradient(blank):
    """torch's reduction="none", with an infeasible row (inf; 0 with zero_infinity, as ours)."""
    torch = pytest.importorskip("torch")
    logits, mask, labels, label_mask = _random_batch(np.random.default_rng(5 + blank), *B_T_K_L,
                                                     blank)
    labels[1, :] = 2                                       # 4 repeats of one label in 3 frames
    label_mask[1, :], mask[1, :] = True, np.arange(12) < 3
    (_, ours), g = batch_vg(logits, mask, labels, label_mask, blank=blank, zero_infinity=True)
    for zero_inf in (False, True):
        z = torch.tensor(logits, requires_grad=True)
        lp = torch.log_softmax(z, -1).transpose(0, 1)                         # (T, B, C)
        ref = torch.nn.functional.ctc_loss(lp, torch.tensor(labels, dtype=torch.long),
                                           torch.tensor(mask.sum(1)), torch.tensor(label_mask.sum(1)),
                                           blank=blank, reduction="none", zero_infinity=zero_inf)
        expect = ref.detach().numpy()
        if not zero_inf:                   # ours without zero_infinity: test_infeasible_is_inf...
            assert expect[1] == np.inf
            np.testing.assert_allclose(np.delete(ours, 1), np.delete(expect, 1), rtol=1e-4)
            continue
        ref.sum().backward()
        np.testing.assert_allclose(ours, expect, rtol=1e-4)
        np.testing.assert_allclose(g, z.grad.numpy(), atol=1e-4)
        assert float(ours[1]) == 0 and np.all(np.asarray(g[1]) == 0)


def test_never_negative_when_near_certain():
    """-log p of a near-certain labelling rounds to ~0 and must not go below it (row 0: one path at
    huge logits; rows 1..: p = 1 as a logsumexp of two halves, label 1 certain at frame 0, then
    blank or 1 at 50/50, at several scales)."""
    B, T, K, L = B_T_K_L
    path = [1, 2, 2, 0, 2, 1, 1, 0, 0, 0]                         # collapses to (1, 2, 2, 1)
    logits = np.full((B, T, K), -100.0, np.float32)
    logits[0, np.arange(len(path)), path] = 60.0
    logits[1:, 0, 1] = 100.0
    logits[1:, 1, :2] = 0.0
    logits[1:] *= np.linspace(0.5, 2, B - 1)[:, None, None]
    mask = np.arange(T)[None] < np.array([len(path)] + [2] * (B - 1))[:, None]
    labels = np.array([[1, 2, 2, 1]] + [[1, 0, 0, 0]] * (B - 1), np.int32)
    label_mask = np.arange(L)[None] < np.array([4] + [1] * (B - 1))[:, None]
    rows = np.asarray(batch_j(logits, mask, labels, label_mask))
    assert np.all(rows >= 0.0) and rows.max() < 1e-6


def test_ctc_loss_of_a_padded_batch_averages_the_real_sequences():
    logits, mask, labels, label_mask = _random_batch(np.random.default_rng(6), *B_T_K_L, 0)
    mask[5], label_mask[5] = False, False                           # a padded batch row
    batch = {"mask": jnp.asarray(mask), "labels": jnp.asarray(labels),
             "label_mask": jnp.asarray(label_mask)}
    mean, weight = jax.jit(losses.ctc)(jnp.asarray(logits), batch)
    rows = batch_j(logits, mask, labels, label_mask)
    assert float(weight) == 5
    np.testing.assert_allclose(mean, rows[:5].mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="mask"):
        ctc_loss_batch(logits, mask[:, :5], labels, label_mask)


def test_the_bench_rows_compute_the_same_loss():
    """`emojax bench --cases ctc`: every row times the same mean loss on the same inputs."""
    from emojax import bench as B
    pb = B.CASES["ctc"][0](True)
    losses_ = {name: float(build(pb)()) for name, build in B.CASES["ctc"][1] if B.available(name)}
    assert {"emojax", "optax"} <= set(losses_) and losses_["emojax"] > 0
    for name, v in losses_.items():
        assert v == pytest.approx(losses_["emojax"], rel=1e-5), name
