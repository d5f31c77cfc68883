"""Pooling of frame outputs over the valid frames of a padded sequence, as pure functions.

Inputs are frame outputs ``h (..., T, D)`` with a ``mask (..., T)`` (True = a real frame): one
sequence (no leading axes) or a batch (any leading axes), like `emojax.nn.lstm`. The mask need
not be a prefix mask. Every head ignores padded frames, whatever they hold (NaN and inf included),
gives them zero gradient, and pools a row with no valid frame to zeros, not NaN.

The heads of Mirsamadi et al. 2017 (§2.2, Table 2, Fig. 1):

  mean_pool     the mean of the valid frames                                 (..., D)
  final_frame   BLSTM forward half at the last frame, backward at the first  (..., D)
  attention     softmax_t(score(y_t))-weighted sum, eqs. (1)-(2)             (..., D), (..., T)
  stats_pool    high-level statistical functions (Table 2)                   (..., D * S)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def mean_pool(h: jax.Array, mask: jax.Array) -> jax.Array:
    """The mean of the valid frames: ``h (..., T, D), mask (..., T) -> (..., D)``.

    ``pooled = Σ_t m_t h_t / max(Σ_t m_t, 1)`` (Mirsamadi et al. 2017, the mean-pool baseline).
    Padded frames never count, whatever they hold (NaN and inf included), and get zero gradient;
    a row with no valid frame pools to zeros, not NaN.
    """
    if mask.shape != h.shape[:-1]:
        raise ValueError(f"mask {mask.shape} must be h's shape without the feature axis, "
                         f"h {h.shape} -> {h.shape[:-1]}")
    m = mask.astype(bool)[..., None]                                     # (..., T, 1)
    total = jnp.where(m, h, 0.0).sum(-2)                                 # (..., T, D) -> (..., D)
    count = m.sum(-2).astype(total.dtype)                                # (..., 1)
    return total / jnp.maximum(count, 1.0)                               # (..., D)


def _check_mask(h: jax.Array, mask: jax.Array) -> jax.Array:
    """``mask`` as bool, after checking it is ``h``'s shape without the feature axis."""
    if mask.shape != h.shape[:-1]:
        raise ValueError(f"mask {mask.shape} must be h's shape without the feature axis, "
                         f"h {h.shape} -> {h.shape[:-1]}")
    return mask.astype(bool)


def _pick(h: jax.Array, sel: jax.Array) -> jax.Array:
    """The frame where the one-hot (or all-False) ``sel (..., T)`` is True: ``(..., T, D) -> (..., D)``.

    A masked sum rather than a gather: the other frames (NaN included) never enter, and a row with
    no selected frame gives zeros.
    """
    return jnp.where(sel[..., None], h, 0.0).sum(-2)


# ----------------------------------------------------------------------------- final frame
def final_frame(h: jax.Array, mask: jax.Array, *, bidirectional: bool = True) -> jax.Array:
    """The frames where each direction has seen the whole sequence: ``(..., T, D) -> (..., D)``.

    Mirsamadi et al. 2017, §2.2 ("final-frame" pooling). With ``bidirectional`` (BLSTM outputs
    ``h = [forward (D/2), backward (D/2)]``, the layout of `emojax.nn.blstm`)::

        pooled = [h_fwd[t_last], h_bwd[t_first]],   t_last = max{t: m_t},  t_first = min{t: m_t}

    the forward half at the last valid frame, the backward half at the first. Without it, the whole
    vector at ``t_last``. Masks need not be prefix masks; a row with no valid frame gives zeros.
    """
    mask = _check_mask(h, mask)
    T, D = h.shape[-2:]
    t = jnp.arange(T)                                                    # (T,)
    t = t.reshape((1,) * (mask.ndim - 1) + (T,))                        # (..., T): rank-explicit
    last = jnp.max(jnp.where(mask, t, -1), -1, keepdims=True)            # (..., 1); -1 when empty
    at_last = mask & (t == last)                                         # (..., T) one-hot or empty
    if not bidirectional:
        return _pick(h, at_last)
    if D % 2:
        raise ValueError(f"bidirectional final_frame needs an even feature axis [fwd, bwd]; "
                         f"h {h.shape} has D = {D}")
    first = jnp.min(jnp.where(mask, t, T), -1, keepdims=True)            # (..., 1); T when empty
    at_first = mask & (t == first)
    return jnp.concatenate([_pick(h[..., : D // 2], at_last),           # forward: has seen all
                            _pick(h[..., D // 2:], at_first)], -1)       # backward: has seen all


# ----------------------------------------------------------------------------- attention
def attention_weights(scores: jax.Array, mask: jax.Array) -> jax.Array:
    """Softmax over the valid frames: ``scores (..., T), mask (..., T) -> alpha (..., T)``.

    ``alpha_t = m_t exp(s_t - s_max) / Σ_τ m_τ exp(s_τ - s_max)`` with ``s_max`` the largest valid
    score (stability; it cancels, so it carries no gradient). Padded frames get exactly 0, whatever
    their score (NaN included), and zero gradient; a row with no valid frame is all zeros.
    """
    if mask.shape != scores.shape:
        raise ValueError(f"mask {mask.shape} must have the shape of scores {scores.shape}")
    mask = mask.astype(bool)
    top = jnp.max(jnp.where(mask, scores, -jnp.inf), -1, keepdims=True)   # (..., 1)
    top = jax.lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0.0))   # empty row: 0
    e = jnp.where(mask, jnp.exp(jnp.where(mask, scores, top) - top), 0.0)  # (..., T), valid max = 1
    total = e.sum(-1, keepdims=True)                                      # >= 1 unless empty
    return e / jnp.where(total > 0, total, 1.0)


def _attend(h: jax.Array, mask: jax.Array, score) -> tuple[jax.Array, jax.Array]:
    """Pool with weights from ``score((..., T, D) zero-padded) -> (..., T)``."""
    mask = _check_mask(h, mask)
    hz = jnp.where(mask[..., None], h, 0.0)            # padded frames -> 0: no NaN reaches u or W
    alpha = attention_weights(score(hz), mask)          # (..., T)
    pooled = jnp.einsum("...t,...td->...d", alpha, hz)  # (..., T, D) -> (..., D)
    return pooled, alpha


def attention_pool(h: jax.Array, mask: jax.Array, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Attention pooling with a linear score: ``h (..., T, D), mask (..., T), u (D,)``
    ``-> (pooled (..., D), alpha (..., T))``.

    Mirsamadi et al. 2017, eqs. (1)-(2)::

        alpha_t = exp(u · y_t) / Σ_{τ valid} exp(u · y_τ)          z = Σ_t alpha_t y_t

    ``u = 0`` gives uniform weights, i.e. `mean_pool`. Padded frames get ``alpha_t = 0`` and zero
    gradient; a row with no valid frame gives zeros.
    """
    if u.shape != h.shape[-1:]:
        raise ValueError(f"u {u.shape} must be ({h.shape[-1]},), the feature axis of h {h.shape}")
    return _attend(h, mask, lambda hz: hz @ u)          # (..., T, D) @ (D,) -> (..., T)


def init_attention(key: jax.Array, dim: int, hidden: int | None = None, *,
                   dtype=jnp.float32) -> dict:
    """Parameters of `attention`: ``{"u": (D,)}`` (Mirsamadi et al. 2017's logistic-regression
    score, eq. 1), or with ``hidden = A`` the deeper score of their Fig. 1(f),
    ``{"w": (D, A), "b": (A,), "u": (A,)}`` with ``score_t = u · tanh(W^T y_t + b)``.

    ``u`` starts at zero, so training starts from mean pooling (uniform alpha) and the pooling
    learns what to weight from there. Zero is not a dead start: with ``g = dL/dz``,
    ``dL/du = Σ_t alpha_t (g · y_t) (a_t - ā)`` (``a_t = y_t``, or ``tanh(W^T y_t + b)`` for the MLP
    score; ``ā = Σ_t alpha_t a_t``) is nonzero once the frames differ. ``W ~ U(-1/sqrt(D),
    1/sqrt(D))`` (as `emojax.nn.init_lstm`) and ``b = 0``; ``key`` is used only by ``W``.
    """
    if hidden is None:
        return {"u": jnp.zeros((dim,), dtype)}
    k = dim ** -0.5
    return {"w": jax.random.uniform(key, (dim, hidden), dtype, -k, k),
            "b": jnp.zeros((hidden,), dtype), "u": jnp.zeros((hidden,), dtype)}


def attention(params: dict, h: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Attention pooling with the score `init_attention` made: ``-> (pooled (..., D), alpha (..., T))``.

    Params with ``"w"``: ``score_t = u · tanh(W^T y_t + b)`` (MLP); otherwise ``score_t = u · y_t``
    (`attention_pool`). The weights are then eq. (1) over the valid frames, the output eq. (2).
    """
    if "w" not in params:
        return attention_pool(h, mask, params["u"])
    w, b, u = params["w"], params["b"], params["u"]
    if w.shape[0] != h.shape[-1] or b.shape != w.shape[1:] or u.shape != w.shape[1:]:
        raise ValueError(f"attention params w {w.shape}, b {b.shape}, u {u.shape} do not fit "
                         f"h {h.shape}: want w (D, A), b (A,), u (A,) with D = {h.shape[-1]}")

    def score(hz):
        a = jnp.tanh(hz @ w + b.reshape((1,) * (hz.ndim - 1) + b.shape))   # (..., T, D) -> (..., T, A)
        return a @ u                                                        # (..., T, A) -> (..., T)
    return _attend(h, mask, score)


# ----------------------------------------------------------------------------- statistics
STATS = ("mean", "mean_min_max", "full")
_STAT_NAMES = {"mean": ("mean",),
               "mean_min_max": ("mean", "min", "max"),
               "full": ("mean", "std", "min", "max", "range", "skewness", "kurtosis")}


def stat_names(stats: str) -> tuple[str, ...]:
    """The statistics of ``stats`` in `stats_pool`'s block order, e.g. ``("mean", "min", "max")``."""
    if stats not in _STAT_NAMES:
        raise ValueError(f"stats {stats!r} is not one of {STATS}")
    return _STAT_NAMES[stats]


def stats_pool(h: jax.Array, mask: jax.Array, stats: str, *, eps: float = 1e-12) -> jax.Array:
    """High-level statistical functions of the valid frames: ``(..., T, D) -> (..., D * S)``.

    Mirsamadi et al. 2017, Table 2 (footnote 1 for "full"). ``stats`` is one of `STATS`; the output
    is the per-statistic blocks ``(..., D)`` concatenated in the order of `stat_names`:

      "mean"          [mean]
      "mean_min_max"  [mean, min, max]
      "full"          [mean, std, min, max, range, skewness, kurtosis]

    Over the n valid frames, with central moments ``m_k = Σ_t m_t (y_t - mean)^k / n``::

        std = sqrt(m_2 + eps)         (population, ddof 0; eps keeps the gradient finite at m_2 = 0)
        skewness = m_3 / m_2^{3/2}    kurtosis = m_4 / m_2^2 - 3

    i.e. ``scipy.stats.skew`` and ``scipy.stats.kurtosis`` (fisher=True, bias=True). Where the
    frames are constant (scipy's test, ``m_2 <= (resolution · mean)^2``) skewness and kurtosis are 0
    with zero gradient, where scipy gives NaN. The moments are taken about the first valid frame
    first (shift-invariant, so exact: constant frames give m_k = 0 exactly, whatever the rounding
    of the mean). min and max run over valid frames only; std at zero variance is ``sqrt(eps)``.
    Padded frames never count (NaN and inf included) and get zero gradient; a row with no valid
    frame gives zeros.
    """
    names = stat_names(stats)
    mask = _check_mask(h, mask)
    m = mask[..., None]                                                  # (..., T, 1)
    hz = jnp.where(m, h, 0.0)                                            # (..., T, D)
    count = m.sum(-2).astype(h.dtype)                                    # (..., 1)
    n = jnp.maximum(count, 1.0)
    mean = hz.sum(-2) / n                                                # (..., D)
    out = {"mean": mean}
    if "min" in names:
        any_valid = count > 0                                            # (..., 1)
        out["min"] = jnp.where(any_valid, jnp.where(m, h, jnp.inf).min(-2), 0.0)
        out["max"] = jnp.where(any_valid, jnp.where(m, h, -jnp.inf).max(-2), 0.0)
    if "std" in names:
        T = h.shape[-2]
        t = jnp.arange(T).reshape((1,) * (mask.ndim - 1) + (T,))
        first = jnp.min(jnp.where(mask, t, T), -1, keepdims=True)
        ref = jax.lax.stop_gradient(_pick(hz, mask & (t == first)))    # (..., D); moments ignore it
        x = jnp.where(m, hz - ref[..., None, :], 0.0)                   # (..., T, D) shifted
        dev = jnp.where(m, x - (x.sum(-2) / n)[..., None, :], 0.0)      # y_t - mean, valid only
        m2, m3, m4 = ((dev ** k).sum(-2) / n for k in (2, 3, 4))        # (..., D) each
        flat = m2 <= (jnp.finfo(h.dtype).resolution * mean) ** 2         # scipy's "constant" test
        safe = jnp.where(flat, 1.0, m2)
        out["std"] = jnp.where(count > 0, jnp.sqrt(m2 + eps), 0.0)
        out["range"] = out["max"] - out["min"]
        out["skewness"] = jnp.where(flat, 0.0, m3 / safe ** 1.5)
        out["kurtosis"] = jnp.where(flat, 0.0, m4 / safe ** 2 - 3.0)
    return jnp.concatenate([out[k] for k in names], -1)                  # (..., D * S)
