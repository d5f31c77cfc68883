"""Correlation-based feature subset selection (CFS) with a best-first forward search.

Reference: M. A. Hall, "Correlation-based Feature Selection for Machine Learning", PhD thesis,
University of Waikato, 1999 (chapter 4). Wöllmer et al. (2012) run Weka's ``CfsSubsetEval`` with
``BestFirst`` on each training fold to keep 66-224 of a few thousand utterance functionals per task.

Hall's merit of a subset S of k features (thesis, eq. 4.1)::

    Merit_S = k * mean(r_cf) / sqrt(k + k (k - 1) * mean(r_ff))

where ``r_cf`` is the correlation of a feature in S with the class and ``r_ff`` the absolute
Pearson correlation between two distinct features of S (mean over the k (k - 1) / 2 pairs).
Good subsets hold features that predict the class and do not predict each other.

The class is nominal and the features numeric, so ``r_cf`` is Hall's mixed-type correlation
(thesis, section 4.2): the class is binarised into one indicator per class and

    r_cf = sum_c p(c) * |corr(f, 1[y == c])|

i.e. the point-biserial correlation with each indicator, weighted by the class prior. (Weka's
default instead discretises numeric features and uses symmetric uncertainty; we follow the thesis'
continuous formulation, which keeps the computation a pair of matrix products.) Constant features
correlate 0 with everything.

Search (Weka's ``BestFirst`` defaults, forward direction): start from the empty set; keep an open
list of evaluated subsets sorted by merit, bounded at ``max_stale`` entries as in Weka; repeatedly
remove the best subset and evaluate every one-feature extension not seen before; stop once
``max_stale`` consecutive expansions have not improved the best merit by more than 1e-5 (Weka's
threshold), or the open list is empty. The best subset found is returned.
"""
from __future__ import annotations

import bisect
from typing import Sequence

import numpy as np

__all__ = ["cfs_select", "cfs_merit", "feature_class_correlations", "feature_correlations"]

# Weka's BestFirst counts a new subset as better only when it beats the best by this much, so
# round-off-sized gains neither reset the stale counter nor lengthen the subset.
_MIN_IMPROVEMENT = 1e-5

# A column whose spread is below this fraction of its magnitude is constant up to round-off;
# its standardised values would be amplified noise, so it is treated as exactly constant.
# Relative (not absolute) so the decision does not depend on the column's scale.
_CONSTANT_RTOL = 1e-10


# --------------------------------------------------------------------------- validation


def _validate(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Float64 X (N, F) and class codes 0..C-1 (N,); ValueError naming what is wrong."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, F); got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"X has no feature columns; got shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (N,); got shape {y.shape}")
    if len(y) != len(X):
        raise ValueError(f"len(y) = {len(y)} does not match len(X) = {len(X)}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"X must be real-valued; got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        bad = np.unique(np.nonzero(~np.isfinite(X))[1])
        raise ValueError(f"X has non-finite values (NaN or inf) in feature columns {bad[:10].tolist()}"
                         + (" ..." if len(bad) > 10 else ""))
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y has non-finite values (NaN or inf)")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y must hold at least 2 classes; got {len(classes)} ({classes.tolist()})")
    return X, codes.reshape(-1)


def _validate_subset(subset, n_features: int) -> np.ndarray:
    idx = np.asarray(subset, dtype=np.int64).reshape(-1)
    if np.any((idx < 0) | (idx >= n_features)):
        raise ValueError(f"subset indices must lie in [0, {n_features}); got {idx.tolist()}")
    if len(np.unique(idx)) != len(idx):
        raise ValueError(f"subset has repeated indices: {idx.tolist()}")
    return idx


# --------------------------------------------------------------------------- correlations


def _standardise(X: np.ndarray) -> np.ndarray:
    """Columns with zero mean and unit population std; constant columns become all zeros.

    Zeroing constant columns makes every correlation they enter exactly 0, without NaN or
    division warnings.
    """
    centred = X - X.mean(axis=0)
    std = np.sqrt(np.mean(centred**2, axis=0))
    scale = np.max(np.abs(X), axis=0)
    constant = std <= _CONSTANT_RTOL * scale  # also true for all-zero columns (0 <= 0)
    safe_std = np.where(constant, 1.0, std)
    Z = centred / safe_std
    Z[:, constant] = 0.0
    return Z


def _class_correlations(Z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """r_cf per feature from standardised Z: sum_c p(c) |corr(f, 1[y == c])|."""
    n = len(Z)
    n_classes = int(codes.max()) + 1
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), codes] = 1.0
    prior = onehot.mean(axis=0)
    # Z has zero mean, so cov(f, 1_c) = mean(Z_f * 1_c) = (sum of Z_f over class c) / N.
    cov = (Z.T @ onehot) / n
    corr = cov / np.sqrt(prior * (1.0 - prior))  # every class is present, so 0 < prior < 1
    return np.abs(corr) @ prior


def _feature_correlations(Z: np.ndarray) -> np.ndarray:
    """|Pearson| F x F matrix from standardised Z, clipped to [0, 1] against round-off."""
    R = np.abs(Z.T @ Z) / len(Z)
    return np.minimum(R, 1.0, out=R)


def feature_class_correlations(X, y) -> np.ndarray:
    """(F,) Hall's feature-class correlation r_cf for a nominal class (see module docstring)."""
    X, codes = _validate(X, y)
    return _class_correlations(_standardise(X), codes)


def feature_correlations(X) -> np.ndarray:
    """(F, F) absolute Pearson correlations between the columns of X (constant columns: 0)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, F); got shape {X.shape}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("X has non-finite values (NaN or inf)")
    return _feature_correlations(_standardise(X))


# --------------------------------------------------------------------------- merit


def _merit_from_sums(k, sum_rcf, sum_rff_pairs):
    """Hall's merit from k, the sum of r_cf and the sum of r_ff over unordered pairs.

    k * mean_rcf = sum_rcf and k (k - 1) * mean_rff = 2 * sum over pairs, so the merit needs only
    two running sums; works elementwise on arrays (all one-feature extensions at once).
    """
    return sum_rcf / np.sqrt(k + 2.0 * sum_rff_pairs)


def cfs_merit(X, y, subset: Sequence[int]) -> float:
    """Hall's merit of the feature subset ``subset`` (column indices of X); 0.0 for the empty set."""
    X, codes = _validate(X, y)
    idx = _validate_subset(subset, X.shape[1])
    if len(idx) == 0:
        return 0.0
    Z = _standardise(X[:, idx])
    rcf = _class_correlations(Z, codes)
    R = _feature_correlations(Z)
    sum_pairs = (R.sum() - np.trace(R)) / 2.0
    return float(_merit_from_sums(len(idx), rcf.sum(), sum_pairs))


# --------------------------------------------------------------------------- search


class _OpenList:
    """Weka's bounded best-first list: descending merit, ties after earlier entries, at most `cap`."""

    def __init__(self, cap: int):
        self.cap = cap
        self._neg_merits: list[float] = []  # ascending, for bisect
        self._nodes: list[tuple] = []

    def __len__(self) -> int:
        return len(self._nodes)

    def worst(self) -> float:
        return -self._neg_merits[-1]

    def full(self) -> bool:
        return len(self._nodes) >= self.cap

    def push(self, merit: float, node: tuple) -> None:
        # bisect_right: a new entry goes after existing equal-merit entries (Weka's FIFO ties).
        pos = bisect.bisect_right(self._neg_merits, -merit)
        if pos >= self.cap:
            return
        self._neg_merits.insert(pos, -merit)
        self._nodes.insert(pos, node)
        if len(self._nodes) > self.cap:
            self._neg_merits.pop()
            self._nodes.pop()

    def pop_best(self) -> tuple:
        self._neg_merits.pop(0)
        return self._nodes.pop(0)


def _best_first(rcf: np.ndarray, R: np.ndarray, max_stale: int, max_features: int) -> np.ndarray:
    """Forward best-first search over subsets given r_cf (F,) and |r_ff| (F, F)."""
    n_features = len(rcf)
    bits = [1 << j for j in range(n_features)]  # subsets keyed as Python int bitmasks: exact, cheap
    # A node is (indices array, bitmask key, sum of r_cf, sum of r_ff over pairs).
    empty = (np.zeros(0, np.int64), 0, 0.0, 0.0)
    seen = {0}
    open_list = _OpenList(max_stale)
    open_list.push(0.0, empty)
    best_merit, best_idx = 0.0, empty[0]
    stale = 0
    while stale < max_stale and len(open_list):
        idx, key, sum_rcf, sum_pairs = open_list.pop_best()
        k = len(idx)
        improved = False
        if k < max_features:
            # Sum of r_ff between each candidate and the current subset: one row sum, all F at once.
            link = R[idx].sum(axis=0) if k else np.zeros(n_features)
            child_rcf = sum_rcf + rcf
            child_pairs = sum_pairs + link
            merits = _merit_from_sums(k + 1, child_rcf, child_pairs).tolist()
            unused = np.ones(n_features, bool)
            unused[idx] = False
            # Weka visits candidates in index order; keep that order for ties and the threshold.
            for j in np.flatnonzero(unused).tolist():
                child_key = key | bits[j]
                if child_key in seen:
                    continue
                seen.add(child_key)
                merit = merits[j]
                if merit - best_merit > _MIN_IMPROVEMENT:
                    improved = True
                    best_merit = merit
                    best_idx = np.append(idx, j)
                # Skip building nodes that the bounded list would drop anyway.
                if not open_list.full() or merit > open_list.worst():
                    node = (np.append(idx, j), child_key, float(child_rcf[j]), float(child_pairs[j]))
                    open_list.push(merit, node)
        stale = 0 if improved else stale + 1
    return np.sort(best_idx).astype(np.int64)


def cfs_select(X: np.ndarray, y: np.ndarray, *, max_stale: int = 5,
               max_features: int | None = None) -> np.ndarray:
    """Indices (sorted ascending, int64) of the CFS subset. X: (N, F) float, y: (N,) int class labels 0..C-1.

    Best-first forward search from the empty set maximising Hall's merit (module docstring).
    ``max_stale``: consecutive non-improving expansions before stopping (Weka's
    ``searchTermination``, default 5), also the size of the open list. ``max_features``: optional
    cap on the subset size. Returns an empty array when no feature correlates with the class.
    """
    if int(max_stale) != max_stale or max_stale < 1:
        raise ValueError(f"max_stale must be a positive integer; got {max_stale!r}")
    if max_features is not None and (int(max_features) != max_features or max_features < 1):
        raise ValueError(f"max_features must be a positive integer or None; got {max_features!r}")
    X, codes = _validate(X, y)
    Z = _standardise(X)
    rcf = _class_correlations(Z, codes)
    R = _feature_correlations(Z)
    cap = X.shape[1] if max_features is None else min(int(max_features), X.shape[1])
    return _best_first(rcf, R, int(max_stale), cap)
