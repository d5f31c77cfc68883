"""A first-order linear smoother fitted to rated or labelled sequences: a context estimator that
trains no network, so it inherits no network's prior.

Model, per sequence of features ``x_t (F,)`` and targets ``y_t (K,)`` (one-hot classes,
`one_hot`, or the ratings the classes were cut from)::

    s_t  = x_t P                                  (K,)  P: ridge regression of y_t on x_t alone
    ŷ_t  = b + Σ_k λ^|k| s_{t+k} β                (K,)  the sum over the sequence, both sides

The lag weights ``λ^|k|`` are those of the Bayes-optimal smoother of a first-order (AR(1)) latent
state seen through white noise, the interior of every sequence; so ``λ`` is the one number
the context depends on, and it is found by least squares over a fine grid. Why this can be
read off labels at all: where latent state and features are jointly Gaussian, the best *linear*
predictor of any function of the state (a class, a rating) is proportional to the smoother's
estimate of the state (Stein's lemma; Bussgang's theorem in signal processing), whatever the
classes' thresholds. So ``λ`` can be fitted to the ratings behind a task's classes as well as to
the classes, and a rating, not yet cut into three levels, keeps more of the state: on the
choosing set (embedded seeds 1, 2 and 20, statespace seeds 0-5; rho 0.5-0.95, 60 points) the
count's root-mean-square error fell from 0.71 to 0.59 (``analysis.smoother_target`` of
`emojax.experiments.woellmer2012_analysis`).

Three choices keep the estimate of ``λ`` honest on a corpus of about 100 sequences (each tried on
the embedded corpus's seeds 1, 2 and 20; `emojax.experiments.woellmer2012_analysis`):

- the features are centred **per speaker** before the fit: a speaker's offsets on features that
  carry no signal are constant along a sequence, and a projection that picks them up (by chance,
  from a finite sample) looks like noise that does not average out, which pulls ``λ`` short;
- the projection ``P`` is **cross-fitted**: each sequence's ``s`` comes from a ``P`` fitted
  without it (``folds`` groups), else ``s_t`` fits its own target better than its neighbours'
  and ``λ`` comes out short again;
- ``ridge`` (times the number of utterances) keeps ``P`` defined with many features.

How well λ is known: ``fit_first_order(..., level=0.95)`` refits it on bootstrap resamples of the
speakers with the projections held fixed (`decay_interval`; each refit from per-sequence
least-squares moments, `weighted_rss`), and the percentile interval of the refits is λ's. The
projections' own sampling error is left out; on the embedded corpus's seeds 1-5 and 20 and
statespace seeds 0-5 (120 points) the counts at the interval's ends held the truth at 98 %.

The sensitivity of output t to input t' is ``λ^|t - t'| Σ|P β|`` (`FirstOrderSmoother.sensitivity`),
the sequential Jacobian of the fitted predictor, read by `emojax.analysis.context` like a network's.
It is a model of the data, not a measurement of the BLSTM, and its form is the one the known-answer
corpora are generated with (an AR(1) state): a context that is not one geometric decay it can only
approximate. A shuffled sequence, whose every other utterance is equally informative (a spike at
the current utterance plus a flat level), it cannot represent at all.
Pure numpy (scipy's ``lfilter`` for the recursions).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

# Decay times τ (λ = exp(-1/τ)) searched: coarse, log-spaced from 0.05 to 400 steps, then refined
# around the best coarse one. λ = 0 (no context) is always a candidate.
COARSE = np.exp(np.linspace(np.log(0.05), np.log(400.0), 121))
REFINE = 41
RIDGE, FOLDS = 0.01, 5          # the projection's ridge (times the utterances) and cross-fitting
# λ's interval: the fit repeated on bootstrap resamples of the speakers (projections held fixed),
# its decay time searched on WINDOW log-spaced points from τ̂ / SPAN (at least COARSE[0]) to τ̂ · SPAN
# (τ̂ = TAU_AT_ZERO where λ̂ = 0), and further out, at the same spacing, while refits land on the
# top point.
N_BOOT = 200
WINDOW, SPAN = 129, 5.0
TAU_AT_ZERO = 0.2               # the window's centre where λ̂ = 0
JITTER = 1e-10                  # times AᵀA's trace, added to it in `weighted_rss` (see there)


def constants() -> dict:
    """The fit's fixed choices (a study keys its stored points by them)."""
    return {"ridge": RIDGE, "folds": FOLDS, "refine": REFINE,
            "coarse": [float(COARSE[0]), float(COARSE[-1]), len(COARSE)],
            "n_boot": N_BOOT, "window": WINDOW, "span": SPAN, "tau_at_zero": TAU_AT_ZERO,
            "jitter": JITTER, "interval": "speaker bootstrap of the decay"}


@dataclasses.dataclass(frozen=True)
class FirstOrderSmoother:
    """A fitted smoother: its decay ``λ`` per step, the weights ``(F, K)`` from the current
    step's features to the K targets (``P β``) and the intercept ``(K,)``. `predict` takes
    features centred as the fit's were (per speaker). β and λ were fitted on the cross-fitted
    projections and P is then refitted on all sequences, so `predict` is the fit's form with the
    full-data projection; the counts depend on λ alone. ``decay_low`` .. ``decay_high``: λ's
    percentile bootstrap interval over resamples of the speakers (`decay_interval`; NaN where
    not computed), which contains ``decay``."""
    decay: float
    weights: np.ndarray
    intercept: np.ndarray
    decay_low: float = float("nan")
    decay_high: float = float("nan")

    def sensitivity(self, T: int) -> np.ndarray:
        """``S (T, T)``: ``S[t, t'] = Σ_{f,c} |∂ŷ_{t,c} / ∂x_{t',f}| = λ^|t-t'| Σ|weights|``."""
        d = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :]).astype(np.float64)
        return self.decay ** d * np.abs(self.weights).sum()            # 0.0 ** 0 = 1

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``ŷ (T, K)`` of one sequence of (centred) features ``x (T, F)``."""
        return self.intercept[None] + two_sided(np.asarray(x, np.float64) @ self.weights, self.decay)


def two_sided(s: np.ndarray, lam: float) -> np.ndarray:
    """``z_t = Σ_k λ^|k| s_{t+k}`` over one sequence ``s (T, C)`` (k from -t to T-1-t)."""
    s = np.asarray(s, np.float64)
    return _two_sided_padded(*_padded([s]), lam) if len(s) else s.copy()


def center_by_group(xs: Sequence[np.ndarray], groups: Sequence) -> list[np.ndarray]:
    """Each sequence's features minus the mean over every utterance of its group's sequences
    (a group: a speaker)."""
    groups = np.asarray(groups)
    if len(groups) != len(xs):
        raise ValueError(f"{len(xs)} sequences but {len(groups)} groups")
    out = [np.asarray(x, np.float64) for x in xs]
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        mean = np.concatenate([out[i] for i in idx]).mean(axis=0)
        for i in idx:
            out[i] = out[i] - mean
    return out


def _ridge(X: np.ndarray, Y: np.ndarray, ridge: float) -> np.ndarray:
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    return np.linalg.solve(Xc.T @ Xc + ridge * len(X) * np.eye(X.shape[1]), Xc.T @ Yc)


def _projections(xs, Ys, ridge: float, folds: int, ids) -> list[np.ndarray]:
    """``s = x P`` per sequence, each with a ``P`` fitted on the other folds' sequences (fold of
    sequence i: ``ids[i]`` modulo `folds`, so copies of one sequence in a bootstrap resample share
    a fold; one fold: P fitted on everything)."""
    n = len(xs)
    k = max(1, min(folds, len(set(ids))))
    fold = [int(i) % k for i in ids]
    out: list = [None] * n
    for g in range(k):
        held = [i for i in range(n) if fold[i] == g] if k > 1 else list(range(n))
        fit = [i for i in range(n) if fold[i] != g] if k > 1 else held
        P = _ridge(np.concatenate([xs[i] for i in fit]), np.concatenate([Ys[i] for i in fit]), ridge)
        for i in held:
            out[i] = xs[i] @ P
    return out


def _padded(ss) -> tuple[np.ndarray, np.ndarray]:
    """``(S (N, T_max, C), valid (N, T_max))``: the sequences zero-padded at their ends."""
    T = max(len(s) for s in ss)
    S = np.zeros((len(ss), T, ss[0].shape[1]))
    valid = np.zeros((len(ss), T), bool)
    for i, s in enumerate(ss):
        S[i, :len(s)] = s
        valid[i, :len(s)] = True
    return S, valid


def _two_sided_padded(S: np.ndarray, valid: np.ndarray, lam: float) -> np.ndarray:
    """`two_sided` of every padded sequence at once, its valid steps stacked ``(n, C)``. The padding
    is zeros, so the backward pass over the whole reversed array starts each sequence afresh."""
    from scipy.signal import lfilter
    if lam == 0:
        return S[valid]
    fwd = lfilter([1.0], [1.0, -lam], S, axis=1)
    bwd = lfilter([1.0], [1.0, -lam], S[:, ::-1], axis=1)[:, ::-1]
    return (fwd + bwd - S)[valid]


def _rss(padded, Y, lam: float):
    """Least squares of Y on [1, two_sided(s, λ)]: (residual sum of squares, coefficients)."""
    Z = _two_sided_padded(*padded, lam)
    A = np.concatenate([np.ones((len(Z), 1)), Z], axis=1)
    coef = np.linalg.lstsq(A, Y, rcond=None)[0]
    return float(((A @ coef - Y) ** 2).sum()), coef


def one_hot(ys: Sequence[np.ndarray], n_classes: int) -> list[np.ndarray]:
    """Integer labels ``ys[i] (T_i,)`` in ``0..n_classes-1`` as one-hot targets ``(T_i, C)``."""
    out = []
    for i, y in enumerate(ys):
        y = np.asarray(y)
        if y.size and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"sequence {i}: labels must be integers, got {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"sequence {i}: labels must be in 0..{n_classes - 1}, got "
                             f"{y.min()}..{y.max()}")
        out.append(np.eye(n_classes)[y.astype(np.int64)])
    return out


def fit_first_order(xs: Sequence[np.ndarray], targets: Sequence[np.ndarray], groups: Sequence, *,
                    ridge: float = RIDGE, folds: int = FOLDS, ids: Sequence[int] | None = None,
                    level: float | None = None, seed: int = 0) -> FirstOrderSmoother:
    """Fit the first-order smoother (module docstring) to sequences of features ``xs[i] (T_i, F)``
    with targets ``targets[i] (T_i, K)`` (or ``(T_i,)``): one-hot classes (`one_hot`) or the
    ratings behind them; ``groups[i]``: the speaker of sequence i (features are centred per
    speaker first); ``ids[i]``: which sequence it is (for a bootstrap resample, whose copies of one
    sequence must be held out together when the projection is cross-fitted; by default every entry
    is its own sequence). With a `level` (0.95), λ's interval too (`decay_interval`, resamples
    drawn with `seed`)."""
    if not len(xs):
        raise ValueError("no sequences to fit the smoother to")
    if any(np.issubdtype(np.asarray(y).dtype, np.integer) for y in targets):
        raise ValueError("integer targets: class labels go through one_hot(ys, n_classes) first, "
                         "ratings as floats")
    Ys = [np.asarray(y, np.float64) for y in targets]
    Ys = [y[:, None] if y.ndim == 1 else y for y in Ys]
    if len(Ys) != len(xs) or len({y.shape[1:] for y in Ys}) != 1 or Ys[0].ndim != 2:
        raise ValueError(f"{len(xs)} sequences need as many targets (T, K) of one width K, got "
                         f"{len(Ys)} of shapes {sorted({y.shape[1:] for y in Ys})}")
    for i, (x, y) in enumerate(zip(xs, Ys)):
        if len(y) != len(x):
            raise ValueError(f"sequence {i}: {len(x)} steps of features but {len(y)} targets")
        if not np.isfinite(y).all():
            raise ValueError(f"sequence {i}: targets must be finite (a missing rating?)")
    ids = list(range(len(xs))) if ids is None else list(ids)
    if len(ids) != len(xs):
        raise ValueError(f"{len(xs)} sequences but {len(ids)} ids")
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):       # small products: two BLAS threads beside busy workers made
        fit, padded = _fit(xs, Ys, groups, ridge, folds, ids)               # a fit 7x slower
        if level is None:
            return fit
        lo, hi = decay_interval(padded, Ys, groups, fit.decay, level=level, seed=seed)
        return dataclasses.replace(fit, decay_low=lo, decay_high=hi)


def _fit(xs, Ys, groups, ridge: float, folds: int, ids):
    """(the smoother, its padded cross-fitted projections) for targets ``Ys[i] (T_i, K)``."""
    xs = center_by_group(xs, groups)
    Y = np.concatenate(Ys)
    padded = _padded(_projections(xs, Ys, ridge, folds, ids))

    def best(taus):
        """(index, [((rss, coef), λ)]) over λ = 0 and λ = exp(-1/τ) for each of `taus`."""
        fits = [(_rss(padded, Y, lam), lam) for lam in np.r_[0.0, np.exp(-1.0 / np.asarray(taus))]]
        return int(np.argmin([f[0][0] for f in fits])), fits
    i, fits = best(COARSE)
    if i > 0:                                        # refine between the coarse neighbours
        j = i - 1                                    # (index 0 is λ = 0)
        lo, hi = COARSE[max(j - 1, 0)], COARSE[min(j + 1, len(COARSE) - 1)]
        i, fits = best(np.exp(np.linspace(np.log(lo), np.log(hi), REFINE)))
    (_, coef), lam = fits[i]
    P = _ridge(np.concatenate(xs), Y, ridge)        # the weights on all sequences
    return FirstOrderSmoother(decay=float(lam), weights=P @ coef[1:], intercept=coef[0]), padded


def weighted_rss(padded, Ys, lams, weights: np.ndarray) -> np.ndarray:
    """``(B, L)``: the residual sum of squares of `_rss` at each λ of `lams` with sequence i counted
    ``weights[b, i]`` times (a bootstrap resample b), from the per-sequence least-squares moments
    of Y on ``A = [1, two_sided(s, λ)]`` (``AᵀA``, ``AᵀY``; one filtering pass per λ)."""
    S, valid = padded
    w = np.atleast_2d(np.asarray(weights, np.float64))
    N, C = len(Ys), Ys[0].shape[1]
    Yp = np.zeros(S.shape[:2] + (C,))
    Yp[valid] = np.concatenate(Ys)
    yy = w @ (Yp ** 2).sum(axis=(1, 2))
    A = np.zeros(S.shape[:2] + (S.shape[2] + 1,))
    A[..., 0] = valid
    out = np.empty((len(w), len(lams)))
    for j, lam in enumerate(lams):
        A[valid, 1:] = _two_sided_padded(S, valid, lam)
        G = (w @ np.einsum("ntc,ntd->ncd", A, A).reshape(N, -1)).reshape(len(w), C + 1, C + 1)
        H = (w @ np.einsum("ntc,ntk->nck", A, Yp).reshape(N, -1)).reshape(len(w), C + 1, C)
        # one-hot targets' projections sum to zero across classes, so AᵀA is singular: a jitter of
        # JITTER times its trace gives lstsq's minimum-norm least squares to round-off
        jitter = JITTER * np.trace(G, axis1=1, axis2=2)[:, None, None] * np.eye(C + 1)
        out[:, j] = yy - np.einsum("bck,bck->b", H, np.linalg.solve(G + jitter, H))
    return out


def decay_interval(padded, Ys, groups, decay: float, *, level: float = 0.95,
                   n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """λ's percentile bootstrap interval at `level`: the decay time refitted (on a grid around
    ``decay``'s, λ = 0 included, widened upwards while refits land on its top) on `n_boot`
    resamples of the speakers (`groups`), the cross-fitted projections held fixed; widened to
    contain `decay`."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    groups = np.asarray(groups)
    names, g = np.unique(groups, return_inverse=True)
    from emojax.analysis.context import draw_counts
    draws = np.random.default_rng(seed).integers(0, len(names), (n_boot, len(names)))
    weights = draw_counts(draws, len(names))[:, g]           # (B, N): copies of each sequence
    tau = -1.0 / np.log(decay) if decay > 0 else TAU_AT_ZERO
    lo = max(tau / SPAN, COARSE[0])
    taus = np.exp(np.linspace(np.log(lo), np.log(max(tau, lo) * SPAN), WINDOW))
    lams = np.r_[0.0, np.exp(-1.0 / taus)]
    rss = weighted_rss(padded, Ys, lams, weights)
    step = np.log(taus[1] / taus[0])
    while (rss.argmin(axis=1) == len(lams) - 1).any() and taus[-1] < COARSE[-1]:
        more = taus[-1] * np.exp(step * np.arange(1, WINDOW))      # refits at the top: further out
        more = more[more <= COARSE[-1]] if (more <= COARSE[-1]).any() else np.r_[COARSE[-1]]
        taus = np.r_[taus, more]
        lams = np.r_[lams, np.exp(-1.0 / more)]
        rss = np.concatenate([rss, weighted_rss(padded, Ys, np.exp(-1.0 / more), weights)], axis=1)
    best = lams[np.argmin(rss, axis=1)]
    a = (1 - level) / 2
    lo, hi = np.quantile(best, [a, 1 - a])
    return float(min(lo, decay)), float(max(hi, decay))
