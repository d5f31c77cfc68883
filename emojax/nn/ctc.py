"""Connectionist temporal classification (Graves et al. 2006) in log space: one sequence per call.

    from emojax.nn.ctc import ctc_loss, ctc_loss_batch
    loss = ctc_loss(logits, labels, n_frames, n_labels)                # (T, K), (L,) -> ()
    losses = ctc_loss_batch(logits, mask, labels, label_mask)          # (B, T, K), ... -> (B,)

The model emits a distribution over K classes at each of T frames, one class of which is the
*blank* ``∅``. A path π ∈ {0..K-1}^T collapses to a labelling by ℬ: merge repeats, then drop blanks
(``a a ∅ a b b ∅`` → ``a a b``). The loss of a labelling ``l`` (length L) is

    -log p(l | x) = -log Σ_{π: ℬ(π) = l} Π_t y_t(π_t),      y_t = softmax(logits_t).

Forward algorithm (Graves 2012, §7.3): over the extended labelling ``l' = ∅ l_1 ∅ l_2 ∅ … l_L ∅``
of length S = 2L+1, with ``α_t(s)`` the log-probability of the prefixes that end at ``l'_s`` at t::

    α_0(0) = log y_0(∅),   α_0(1) = log y_0(l_1),   α_0(s) = -∞ for s ≥ 2
    α_t(s) = log y_t(l'_s) + logsumexp(α_{t-1}(s), α_{t-1}(s-1), [skip_s] α_{t-1}(s-2))
    skip_s = (l'_s ≠ ∅ and l'_s ≠ l'_{s-2})       # a blank may be jumped, except between repeats
    -log p(l | x) = -logsumexp(α_{n-1}(2L-1), α_{n-1}(2L))      (only α_{n-1}(0) when L = 0)

with n = input_length ≤ T valid frames. The recursion is one `jax.lax.scan` over the T frames
(carry ``α (S,)``); frames t ≥ n leave α unchanged, so padding costs time but not value. The
emissions ``e_t(s) = log y_t(l'_s)`` (T, S) are gathered once before the scan and the skip mask
(S,) is precomputed, so each step is two shifts, a 3-way logsumexp and a select. ``-∞`` is the
finite constant `NEG` (-1e30): a logsumexp of only such values is finite, its gradient NaN-free.

Gradient (Graves 2012, eqs. 7.26-7.34): with the backward variable β_t(s) (the log-probability of
completing l' from state s after frame t) and the state occupancy ``γ_t(s) = exp(α_t(s) + β_t(s) -
log p)``, ``d log p = Σ_{t,s} γ_t(s) d e_t(s)``, hence ``∂(-log p)/∂z_t(k) = y_t(k) - Σ_{s: l'_s = k}
γ_t(s)`` for the logits z. `_log_likelihood` carries this rule as a `jax.custom_jvp`: its tangent is
linear in ``d e`` with γ computed by ONE scan that runs α forward and β backward at once (β is the α
of the labelling read backwards), so reverse mode transposes a product instead of differentiating
the scan: one scan of T steps instead of a forward and a backward one (`emojax bench --cases ctc`,
B=32, T=78, K=5 on 2 shared CPU cores: loss + gradient ~1.7-2× faster than ``optax.ctc_loss``,
where autodiff of the α scan was ~1.4× slower than it). The rule is itself plain JAX, so
``jax.jacfwd``, ``jax.hessian`` (checked against brute force) and ``vmap`` all work.

A labelling is *feasible* iff ``n ≥ L + r`` where r counts the adjacent repeats in l (each needs a
blank between its two labels). An infeasible labelling has probability 0: the loss is ``+inf``
(gradient 0), or, with ``zero_infinity=True``, 0 with an all-zero gradient. The zero is exact and
NaN-free by a double ``where``: the scan sees safe (zero) log-probabilities for an infeasible
sequence, and its output is replaced by 0 afterwards.

Rounding can make the log-likelihood of a near-certain labelling a hair above 0 (a logsumexp of
probabilities that sum to 1 rounds up); the loss is clamped at 0, so it is never negative.

Conventions, against the two usual references:

- ``blank``: any class index, negative counting from the end. 0 is optax's and torch's default;
  K-1 is Keras's (``tf.keras.backend.ctc_batch_cost``), which Chernykh et al. 2018 used.
- ``optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=0)`` takes *paddings*
  (1.0 where padded, not masks), computes the same quantity with -1e5 as its "-∞", so an infeasible
  labelling gives a large finite loss (~1e5) instead of ``inf``, and in float32 its loss can come
  out slightly negative (no clamp).
- ``torch.nn.functional.ctc_loss(log_probs (T, B, C), targets, input_lengths, target_lengths,
  blank=0, reduction="mean", zero_infinity=False)`` takes log-probabilities time-major, and its
  default ``reduction="mean"`` divides each loss by its target length before averaging over the
  batch; ``reduction="none"`` is `ctc_loss_batch`. Its ``zero_infinity`` is ours.

Shapes: logits (T, K) unnormalised (log-softmax is applied here; computed in at least float32);
labels (L,) int, entries from ``label_length`` on are ignored (any value); lengths are int scalars,
``0 ≤ input_length ≤ T`` and ``0 ≤ label_length ≤ L``, and may be traced.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

NEG = -1e30         # "-∞" in log space: finite, so logsumexp and its gradient never see inf - inf


def _blank_index(blank: int, K: int) -> int:
    if not -K <= blank < K:
        raise ValueError(f"blank={blank} is not a class index for K={K} classes")
    return blank % K


# ----------------------------------------------------------------------------- the recursions
def _lse3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """log(e^a + e^b + e^c) elementwise, stable; finite for finite inputs."""
    m = jnp.maximum(jnp.maximum(a, b), c)
    return m + jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m))


def _shift(x: jax.Array, k: int) -> jax.Array:
    """``x[s-k]`` along the last axis, NEG for s < k."""
    return jnp.concatenate([jnp.full(x.shape[:-1] + (k,), NEG, x.dtype), x[..., :-k]], axis=-1)


def _step(c, inp, skip1, skip2):
    """One frame of the forward recursion: ``c_t(s) = e_t(s) + logsumexp(c_{t-1}(s), c_{t-1}(s-1)
    + skip1(s), c_{t-1}(s-2) + skip2(s))`` where live, else ``c_t = c_{t-1}``; skip1, skip2 are
    0 where the move is allowed and NEG where not."""
    e, live = inp
    new = _lse3(c, _shift(c, 1) + skip1, _shift(c, 2) + skip2) + e
    c = jnp.where(live, new, c)
    return c, c


def _final(alpha, nl):
    """log p(l|x) = logsumexp(α(2L-1), α(2L)); only α(0) when L = 0."""
    last = jnp.where(nl > 0, alpha[jnp.maximum(2 * nl - 1, 0)], NEG)
    return jnp.logaddexp(last, alpha[2 * nl])


@jax.custom_jvp
def _log_likelihood(emit, skip, n, nl):
    """log p(l | x) from the emissions ``emit (T, S) = log y_t(l'_s)`` and the skip mask (S,) bool:
    the forward scan only (what runs when no derivative is taken)."""
    T, S = emit.shape
    dtype = emit.dtype
    skip2 = jnp.where(skip, 0.0, NEG).astype(dtype)
    alpha0 = jnp.full((S,), NEG, dtype).at[0].set(0.0)            # α_{-1}: the empty prefix
    step = lambda c, inp: (_step(c, inp, jnp.zeros((S,), dtype), skip2)[0], None)
    alpha, _ = jax.lax.scan(step, alpha0, (emit, jnp.arange(T) < n))
    return _final(alpha, nl)


def _occupancy(emit, skip, n, nl):
    """(log p, γ (T, S)): γ_t(s) = exp(α_t(s) + β_t(s) - log p), the posterior probability that the
    path is in state s at frame t (Graves 2012, eq. 7.26); 0 on padded frames.

    The backward variable, here with the emission at t included (``β̂_t(s) = β_t(s) + e_t(s)``),
    obeys the forward recursion on the labelling read backwards: in reversed state and time order
    it is an α of ``l'`` reversed (skip mask reversed and shifted by 2), started from the last blank
    ``S-1-2L`` at frame n-1. So one scan steps α and β̂ together, side by side in one (2S,) vector
    (2-D once vmapped: XLA's CPU loop ran ~2.5× slower on a (B, 2, S) carry); the s-1 and s-2
    moves are masked at the seam so that nothing crosses from α into β̂.
    """
    T, S = emit.shape
    dtype = emit.dtype
    live = jnp.arange(T) < n
    idx = jnp.arange(2 * S)
    skip_rev = jnp.concatenate([jnp.zeros((2,), bool), jnp.flip(skip)[:S - 2]])
    skip2 = jnp.where(jnp.concatenate([skip, skip_rev]), 0.0, NEG).astype(dtype)   # (2S,)
    skip1 = jnp.where(idx == S, NEG, 0.0).astype(dtype)                            # the seam
    c0 = jnp.where((idx == 0) | (idx == 2 * S - 1 - 2 * nl), 0.0, NEG).astype(dtype)
    e2 = jnp.concatenate([emit, jnp.flip(emit, (0, 1))], axis=1)                  # (T, 2S)
    live2 = jnp.concatenate([jnp.broadcast_to(live[:, None], (T, S)),
                             jnp.broadcast_to(jnp.flip(live)[:, None], (T, S))], axis=1)
    last, out = jax.lax.scan(lambda c, inp: _step(c, inp, skip1, skip2), c0, (e2, live2))
    alphas, betas = out[:, :S], jnp.flip(out[:, S:], (0, 1))                     # (T, S) each
    ll = _final(last[:S], nl)
    log_gamma = alphas + betas - emit - ll                                        # α + β̂ - e - ll
    # <= 0 up to rounding; the clamp keeps an infeasible labelling (ll ~ NEG) finite
    gamma = jnp.where(live[:, None], jnp.exp(jnp.minimum(log_gamma, 0.0)), 0.0)
    return ll, gamma


@_log_likelihood.defjvp
def _log_likelihood_jvp(primals, tangents):
    """d log p = Σ_{t,s} γ_t(s) d emit_t(s) (Graves 2012, eq. 7.29 before the softmax): linear in the
    tangent, so reverse mode transposes it to ``γ · cotangent`` and no scan is differentiated."""
    ll, gamma = _occupancy(*primals)
    return ll, jnp.sum(gamma * tangents[0])


# ----------------------------------------------------------------------------- the loss
def ctc_loss(logits: jax.Array, labels: jax.Array, input_length: jax.Array | int,
             label_length: jax.Array | int, *, blank: int = 0, zero_infinity: bool = False
             ) -> jax.Array:
    """``-log p(labels[:label_length] | logits[:input_length])`` of one sequence (module docstring).

    logits (T, K) unnormalised; labels (L,) int in 0..K-1 without the blank (entries from
    `label_length` on are ignored); input_length, label_length int scalars (traced or not).
    Returns a scalar >= 0: ``+inf`` for an infeasible labelling (``input_length < label_length +
    adjacent repeats``), or 0 with a zero gradient when `zero_infinity`.
    """
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    if logits.ndim != 2 or labels.ndim != 1:
        raise ValueError(f"ctc_loss takes one sequence: logits (T, K) and labels (L,), got "
                         f"{logits.shape} and {labels.shape}; batch with ctc_loss_batch")
    T, K = logits.shape
    L = labels.shape[0]
    S = 2 * L + 1
    b = _blank_index(blank, K)
    dtype = jnp.promote_types(logits.dtype, jnp.float32)
    n = jnp.asarray(input_length, jnp.int32)
    nl = jnp.asarray(label_length, jnp.int32)

    valid = jnp.arange(L) < nl                                        # (L,)
    lab = jnp.where(valid, jnp.clip(labels, 0, K - 1), b).astype(jnp.int32)
    repeats = jnp.sum(valid[1:] & (lab[1:] == lab[:-1])) if L > 1 else 0
    feasible = n >= nl + repeats

    logp = jax.nn.log_softmax(logits.astype(dtype), axis=-1)          # (T, K)
    logp = jnp.where(feasible, logp, 0.0)                             # double where, 1/2: safe input
    ext = jnp.full((S,), b, jnp.int32).at[1::2].set(lab)              # l' = ∅ l_1 ∅ ... l_L ∅
    emit = jnp.take(logp, ext, axis=1)                                # (T, S) = log y_t(l'_s)
    prev2 = jnp.concatenate([jnp.full((2,), -1, jnp.int32), ext[:-2]])
    skip = (ext != b) & (ext != prev2)                                # (S,) α(s-2) -> α(s) allowed

    ll = _log_likelihood(emit, skip, n, nl)
    nll = jnp.maximum(-ll, 0.0)                                       # never negative (rounding)
    return jnp.where(feasible, nll, 0.0 if zero_infinity else jnp.inf)   # double where, 2/2


def ctc_loss_batch(logits: jax.Array, mask: jax.Array, labels: jax.Array, label_mask: jax.Array,
                   *, blank: int = 0, zero_infinity: bool = False) -> jax.Array:
    """`ctc_loss` of each row: ``jax.vmap`` with lengths ``mask.sum(-1)``, ``label_mask.sum(-1)``
    (prefix masks: valid frames / labels first). Returns (B,), ``reduction="none"`` in torch's terms."""
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    mask, label_mask = jnp.asarray(mask, bool), jnp.asarray(label_mask, bool)
    if logits.ndim != 3 or logits.shape[:2] != mask.shape:
        raise ValueError(f"logits {logits.shape} and mask {mask.shape}: expected (B, T, K) and (B, T)")
    if labels.shape != label_mask.shape or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"labels {labels.shape} and label_mask {label_mask.shape}: expected (B, L) "
                         f"with B = {logits.shape[0]}")
    n, nl = mask.sum(-1, dtype=jnp.int32), label_mask.sum(-1, dtype=jnp.int32)
    f = lambda x, y, n, m: ctc_loss(x, y, n, m, blank=blank, zero_infinity=zero_infinity)
    return jax.vmap(f)(logits, labels, n, nl)
