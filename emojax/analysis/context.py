"""How much context a sequence model uses, read off sensitivity matrices (Wöllmer et al. 2012 §5.2).

Input everywhere: ``S (T, T)``, ``S[t, t']`` = sensitivity of the output at step t to the input at
step t' (`emojax.analysis.jacobian.sensitivity`, the projection of the sequential Jacobian of
Graves 2008). Wöllmer counts, for each output step t, the past (t' < t) and future (t' > t) steps
whose sensitivity is at least ``threshold`` (3 %) of the row's maximum, then averages the counts by
position in the sequence (Fig. 2) and over steps for thresholds 1..10 % (Fig. 3).

Sequences may be given unpadded (``S_n (T_n, T_n)``) or padded with ``lengths``; steps at or beyond
a sequence's length are neither counted nor averaged. Pure numpy.

Every function also takes a sensitivity **per direction**, ``S (2, T, T)`` = [the part carried by a
bidirectional network's forward direction, the part carried by its backward direction]
(`emojax.models.woellmer.apply_directions`). Then the past is read from ``S[0]`` against its own row
maximum and the future from ``S[1]`` against its own. Why it is offered: the current input reaches a
one-layer BLSTM's output through both directions, a past input through the forward one only, and a
BLSTM whose two directions each track their side weights the current step about twice, relative to
the past, as the Bayes-optimal smoother does (measured at rho 0.9 on both known-answer corpora: the
memoryless probe's whole-row profile lies at 0.44–0.55 of the truth's at every lag 1–5, its forward
direction's on it; results/woellmer2012/context_causes.md, Fig. 6). It is a reading, not a
correction with a guarantee: against a network that weights the current step as the smoother
does, it overcounts by the inverse of the forward direction's share of the current step.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import numpy as np


def _sides(S) -> tuple[np.ndarray, np.ndarray]:
    """``(P, F)``: the matrices the past and the future are read from (both ``S`` for one
    ``(T, T)`` matrix; ``S[0]`` and ``S[1]`` for a per-direction ``(2, T, T)``)."""
    S = np.asarray(S, np.float64)
    if S.ndim == 3 and S.shape[0] == 2 and S.shape[1] == S.shape[2]:
        return S[0], S[1]
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"S must be square (T, T) or per direction (2, T, T), got {S.shape}")
    return S, S


def _sequences(S_list: Iterable, lengths: Sequence[int] | None):
    """Yield ``(S (L, L) or (2, L, L) float64, L)``: each matrix cut to its valid length."""
    S_list = list(S_list)
    if lengths is None:
        lengths = [np.shape(S)[-1] for S in S_list]
    if len(lengths) != len(S_list):
        raise ValueError(f"{len(S_list)} matrices but {len(lengths)} lengths")
    for S, L in zip(S_list, lengths):
        S = np.asarray(S, np.float64)
        _sides(S)                                                   # checks the shape
        L = int(L)
        yield S[..., :L, :L], L


def context_counts(S, threshold: float, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Relevant past and future steps per output step: ``S (T, T) -> past (T,), future (T,)`` ints.

    ``past[t] = #{t' < t : S[t, t'] >= threshold * max_{t'} S[t, t']}``, ``future[t]`` likewise for
    ``t' > t`` (Wöllmer 2012 §5.2: "a sensitivity greater or equal to 3 % of the maximum
    sensitivity", ``threshold=0.03``). Only ``t' < length`` count, and the maximum is taken over
    those. Steps ``t >= length``, and rows that are all zero, get 0 (callers that average must
    exclude steps ``>= length`` themselves, as the curve builders below do). A per-direction
    ``S (2, T, T)`` counts the past on ``S[0]`` and the future on ``S[1]``, each against its own
    row maximum (module docstring).
    """
    P, Fu = _sides(S)
    T = P.shape[0]
    L = T if length is None else int(length)
    t = np.arange(L)
    out = []
    for A, side in ((P[:L, :L], t[None, :] < t[:, None]), (Fu[:L, :L], t[None, :] > t[:, None])):
        ref = A.max(axis=1, keepdims=True) if L else np.zeros((0, 1))     # (L, 1)
        relevant = (A >= threshold * ref) & (ref > 0)                      # (L, L)
        n = np.zeros(T, np.int64)
        n[:L] = (relevant & side).sum(axis=1)
        out.append(n)
    return out[0], out[1]


@dataclasses.dataclass(frozen=True)
class CountTable:
    """`context_counts` of several sequences at several thresholds, computed once (`count_table`):
    ``counts[n] (len(thresholds), 2, L_n)`` = (past, future) of sequence n at each threshold. Every
    function below that takes ``S_list`` also takes a table that holds its threshold(s)."""
    thresholds: np.ndarray
    lengths: tuple[int, ...]
    counts: tuple[np.ndarray, ...]


def _counts_all(S, thresholds: np.ndarray) -> np.ndarray:
    """``(len(thresholds), 2, T)``: `context_counts` of one matrix at every threshold, one pass
    with the same comparisons (``S >= threshold * row max``)."""
    P, Fu = _sides(S)
    T = P.shape[0]
    t = np.arange(T)
    out = np.zeros((len(thresholds), 2, T), np.int64)
    if T == 0:
        return out
    for i, (A, side) in enumerate(((P, t[None, :] < t[:, None]), (Fu, t[None, :] > t[:, None]))):
        ref = A.max(axis=1, keepdims=True)                                   # (T, 1)
        relevant = (A[None] >= thresholds[:, None, None] * ref[None]) & (ref > 0)[None]
        out[:, i] = (relevant & side[None]).sum(axis=-1)
    return out


def count_table(S_list, thresholds, lengths: Sequence[int] | None = None) -> CountTable:
    """The counts of every sequence at every threshold (`CountTable`), each matrix read once."""
    if isinstance(S_list, CountTable):
        return S_list
    th = np.asarray(thresholds, np.float64).reshape(-1)
    seqs = list(_sequences(S_list, lengths))
    return CountTable(th, tuple(L for _, L in seqs), tuple(_counts_all(S, th) for S, _ in seqs))


def merge_tables(tables: Sequence[CountTable]) -> CountTable:
    """The sequences of several tables (same thresholds) as one, in order."""
    th = tables[0].thresholds
    if any(not np.array_equal(t.thresholds, th) for t in tables):
        raise ValueError("count tables of different thresholds cannot be merged")
    return CountTable(th, sum((t.lengths for t in tables), ()), sum((t.counts for t in tables), ()))


def _at(S_list, threshold: float, lengths: Sequence[int] | None = None):
    """``[(past, future, L)]`` per sequence at `threshold`, from matrices or a `CountTable`."""
    table = count_table(S_list, [threshold], lengths)
    hit = np.flatnonzero(table.thresholds == threshold)
    if hit.size == 0:
        raise ValueError(f"threshold {threshold} is not in the count table "
                         f"({table.thresholds.tolist()})")
    j = int(hit[0])
    return [(c[j, 0], c[j, 1], L) for c, L in zip(table.counts, table.lengths)]


def context_vs_position(S_list, threshold: float, max_position: int | None = None,
                        lengths: Sequence[int] | None = None) -> dict[int, tuple[float, float, int]]:
    """Mean relevant past/future context by position in the sequence (Wöllmer 2012 Fig. 2).

    Returns ``{t: (mean_past, mean_future, n)}`` for each 0-based output step t that at least one
    sequence reaches, ``n`` being how many sequences do; with ``max_position`` only the first
    ``max_position`` steps (t < max_position).
    """
    sums: dict[int, list] = {}
    for past, future, L in _at(S_list, threshold, lengths):
        for t in range(L if max_position is None else min(L, max_position)):
            acc = sums.setdefault(t, [0.0, 0.0, 0])
            acc[0] += past[t]
            acc[1] += future[t]
            acc[2] += 1
    return {t: (p / n, f / n, n) for t, (p, f, n) in sorted(sums.items())}


def _position_spread(S_list, threshold: float, lengths) -> dict[int, tuple[float, float]]:
    """{t: (sd of past counts, sd of future counts)} over the sequences reaching step t (ddof=1;
    0 where one sequence does)."""
    by_t: dict[int, list] = {}
    for past, future, L in _at(S_list, threshold, lengths):
        for t in range(L):
            by_t.setdefault(t, []).append((past[t], future[t]))
    return {t: tuple(np.std(np.asarray(v, float), axis=0, ddof=1)) if len(v) > 1 else (0.0, 0.0)
            for t, v in by_t.items()}


def context_vs_threshold(S_list, thresholds, *, min_predecessors: int = 10,
                         lengths: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Mean relevant past/future context per threshold (Wöllmer 2012 Fig. 3).

    Averages over all valid output steps of all sequences (``*_all``) and over the steps with at
    least ``min_predecessors`` predecessors, i.e. ``t >= min_predecessors`` (``*_ge``; DESIGN's
    position ``"ge10"``), where past context is not cut short by the sequence start.
    Returns arrays of shape (len(thresholds),): ``thresholds, past_all, future_all, n_all, past_ge,
    future_ge, n_ge``; a mean over no steps is NaN.
    """
    th = np.asarray(thresholds, np.float64).reshape(-1)
    table = count_table(S_list, th, lengths)
    out = {k: np.zeros(th.shape) for k in ("past_all", "future_all", "past_ge", "future_ge")}
    n_all = sum(table.lengths)
    n_ge = sum(max(L - min_predecessors, 0) for L in table.lengths)
    for j, theta in enumerate(th):
        for past, future, L in _at(table, theta):
            out["past_all"][j] += past.sum()
            out["future_all"][j] += future.sum()
            out["past_ge"][j] += past[min_predecessors:].sum()
            out["future_ge"][j] += future[min_predecessors:].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in ("past_all", "future_all"):
            out[k] = out[k] / n_all if n_all else np.full(th.shape, np.nan)
        for k in ("past_ge", "future_ge"):
            out[k] = out[k] / n_ge if n_ge else np.full(th.shape, np.nan)
    return {"thresholds": th, **out,
            "n_all": np.full(th.shape, n_all), "n_ge": np.full(th.shape, n_ge)}


def sensitivity_profile(S_list, max_offset: int,
                        lengths: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean relative sensitivity by offset: ``offsets (2M+1,) = -M..M``, ``profile (2M+1,)``.

    ``profile[d] = mean over valid pairs (t, t+d) of S[t, t+d] / S[t, t]`` (rows with a zero diagonal
    are skipped), so ``profile`` is 1 at d = 0, negative offsets are the past. This is the decay
    of Fig. 1c averaged over all output steps, which Wöllmer 2012 does not plot. NaN where no pair
    exists. Per direction (``S (2, T, T)``): the past offsets from ``S[0]`` over its diagonal, the
    future ones (and d = 0) from ``S[1]`` over its.
    """
    offsets = np.arange(-max_offset, max_offset + 1)
    sums, counts = np.zeros(offsets.shape), np.zeros(offsets.shape)
    for S2, L in _sequences(S_list, lengths):
        rel = []
        for S in _sides(S2):                                 # (past, future) matrices
            d = np.diagonal(S)
            ok = d > 0
            rel.append((np.where(ok[:, None], S / np.where(ok, d, 1.0)[:, None], 0.0), ok))
        for j, off in enumerate(offsets):
            if abs(off) >= L:
                continue
            R, ok = rel[0] if off < 0 else rel[1]
            rows = np.arange(max(0, -off), min(L, L - off))         # t with t + off in [0, L)
            sums[j] += np.diagonal(R, offset=off)[ok[rows]].sum()
            counts[j] += ok[rows].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return offsets, profile


def decay_rate(offsets, profile, *, side: str = "past",
               max_distance: int | None = None) -> tuple[float, float]:
    """Geometric decay of a `sensitivity_profile`: ``(lam, lag1)``.

    Fits ``log profile(∓d) ≈ a + d·log(lam)`` by least squares over distances d = 1..k, k the last of
    a run of positive, finite values from d = 1 (and <= ``max_distance``); with one point the line
    goes through ``profile(0) = 1`` (lam = profile(∓1)). ``lam`` is clipped to (0, 1]; NaN when there
    is nothing to fit. ``lag1`` is the profile at d = -1 (``side="past"``) or +1 (``"future"``).
    """
    if side not in ("past", "future"):
        raise ValueError(f"side must be 'past' or 'future', got {side!r}")
    sign = -1 if side == "past" else 1
    lookup = {int(o): float(p) for o, p in zip(np.asarray(offsets), np.asarray(profile))}
    lag1 = lookup.get(sign, float("nan"))
    ds, logs = [], []
    d = 1
    while (sign * d) in lookup and (max_distance is None or d <= max_distance):
        p = lookup[sign * d]
        if not (np.isfinite(p) and p > 0):
            break
        ds.append(d)
        logs.append(np.log(p))
        d += 1
    if not ds:
        return float("nan"), lag1
    slope = logs[0] if len(ds) == 1 else np.polyfit(ds, logs, 1)[0]
    return float(min(np.exp(slope), 1.0)), lag1


def context_records(S_list, *, task: str, condition: str, thetas,
                    max_position: int | None = None, min_predecessors: int = 10,
                    lengths: Sequence[int] | None = None) -> list[dict]:
    """DESIGN.md ``context.json`` records for one task and condition.

    One record ``{"task", "condition", "theta", "position", "past", "future", "n"}`` per threshold
    and per output step (``position`` an int, 0-based), plus ``position="all"`` (mean over every
    valid step) and ``position=f"ge{min_predecessors}"`` (``"ge10"`` by default, the only such label
    DESIGN accepts). ``condition`` is ``ordered``, ``shuffled``, ``oracle`` or ``oracle_shuffled``;
    ``theta`` a fraction (0.03 for 3 %). Positions or means over no steps are left out. Position
    records reached by two or more sequences carry a normal-approximation 95 % interval over them
    (``past_low`` ... ``future_high``), treating every matrix as independent (matrices of several
    training seeds of the same sequences make it too narrow); callers with several seeds add the
    two-way bootstrap interval of `context_interval` to the means.
    """
    thetas = [float(t) for t in np.asarray(thetas, np.float64).reshape(-1)]
    table = count_table(S_list, thetas, lengths)           # every matrix read once
    by_th = context_vs_threshold(table, thetas, min_predecessors=min_predecessors)
    base = {"task": task, "condition": condition}
    recs = []
    for j, theta in enumerate(thetas):
        spread = _position_spread(table, theta, None)
        for t, (p, f, n) in context_vs_position(table, theta, max_position).items():
            rec = {**base, "theta": theta, "position": int(t), "past": float(p),
                   "future": float(f), "n": int(n)}
            if n > 1:                               # normal-approximation 95 % interval of a mean
                (sp, sf), half = spread[t], 1.959964 / np.sqrt(n)
                rec.update(past_low=max(float(p - half * sp), 0.0), past_high=float(p + half * sp),
                           future_low=max(float(f - half * sf), 0.0),
                           future_high=float(f + half * sf))
            recs.append(rec)
        for pos, key in (("all", "all"), (f"ge{min_predecessors}", "ge")):
            n = int(by_th[f"n_{key}"][j])
            if n:
                recs.append({**base, "theta": theta, "position": pos,
                             "past": float(by_th[f"past_{key}"][j]),
                             "future": float(by_th[f"future_{key}"][j]), "n": n})
    return recs


def step_counts(S_list, theta: float, *, min_predecessors: int = 10,
                lengths: Sequence[int] | None = None) -> np.ndarray:
    """Per sequence: ``(sum of past counts, sum of future counts, steps)`` over its output steps
    with at least ``min_predecessors`` predecessors, shape (N, 3). `context_vs_threshold`'s
    ``*_ge`` means are ``sums.sum(0)[:2] / sums.sum(0)[2]``; `context_interval` resamples rows."""
    rows = []
    for past, future, L in _at(S_list, theta, lengths):
        rows.append((past[min_predecessors:L].sum(), future[min_predecessors:L].sum(),
                     max(L - min_predecessors, 0)))
    return np.asarray(rows, np.float64).reshape(-1, 3)


def resolved(count, low, high, tol: float = 1.0):
    """Whether a count's interval ``[low, high]`` lies within ±`tol` of it (elementwise): the data
    then rule out every value farther than `tol` from the count, though not an error the interval
    leaves out (a network's bias)."""
    count, low, high = (np.asarray(v, np.float64) for v in (count, low, high))
    return (low >= count - tol - 1e-9) & (high <= count + tol + 1e-9)


def draw_counts(draws: np.ndarray, n: int) -> np.ndarray:
    """``(n_boot, n)``: how often each index was drawn, per bootstrap draw (one bincount)."""
    b = draws.shape[0]
    return np.bincount((np.arange(b)[:, None] * n + draws).ravel(), minlength=b * n).reshape(b, n)


def context_interval(counts, *, level: float = 0.95, n_boot: int = 2000,
                     seed: int = 0) -> dict[str, float]:
    """Bootstrap confidence interval of the mean past / future context over sequences and seeds.

    ``counts (R, N, 3)``: `step_counts` of the same N test sequences measured on R training seeds
    (R = 1: a single model; a (N, 3) array is taken as R = 1). Each bootstrap draw resamples the
    seeds and, independently, the sequences (both with replacement: a two-way bootstrap, so the
    interval covers the spread between training runs as well as between sequences) and takes the
    step-weighted mean, as the point estimate does. Returns ``past``, ``future`` (the point
    estimates over all seeds and sequences) and ``past_low``, ``past_high``, ``future_low``,
    ``future_high`` (percentile interval at `level`); NaN where there are no steps.
    """
    c = np.asarray(counts, np.float64)
    if c.ndim == 2:
        c = c[None]
    if c.ndim != 3 or c.shape[-1] != 3:
        raise ValueError(f"counts must be (R, N, 3) or (N, 3), got {c.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    R, N, _ = c.shape
    tot = c.sum(axis=(0, 1))
    nan = float("nan")
    out = {"past": tot[0] / tot[2] if tot[2] else nan, "future": tot[1] / tot[2] if tot[2] else nan}
    rng = np.random.default_rng(seed)
    ri = rng.integers(0, R, (n_boot, R))                                    # seeds drawn
    si = rng.integers(0, N, (n_boot, N)) if N else np.zeros((n_boot, 0), int)
    seed_w = draw_counts(ri, R)                                             # (n_boot, R)
    seq_w = draw_counts(si, N) if N else np.zeros((n_boot, 0))
    sums = np.einsum("br,bn,rnk->bk", seed_w, seq_w, c)                   # (n_boot, 3)
    a = (1 - level) / 2
    for j, key in enumerate(("past", "future")):
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums[:, j] / sums[:, 2]
        means = means[np.isfinite(means)]
        lo, hi = (np.quantile(means, [a, 1 - a]) if means.size else (nan, nan))
        out[f"{key}_low"], out[f"{key}_high"] = float(lo), float(hi)
    return {k: float(v) for k, v in out.items()}
