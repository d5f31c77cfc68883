"""Tests for emojax.features.selection (CFS, Hall 1999, with Weka-style best-first search)."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from emojax.features.selection import (cfs_merit, cfs_select, feature_class_correlations,
                                       feature_correlations)


# --------------------------------------------------------------------------- independent references


def _pearson_loop(a, b):
    """Pearson correlation by explicit sums; 0 when either side is constant."""
    n = len(a)
    ma = sum(a) / n
    mb = sum(b) / n
    sab = saa = sbb = 0.0
    for u, v in zip(a, b):
        sab += (u - ma) * (v - mb)
        saa += (u - ma) ** 2
        sbb += (v - mb) ** 2
    if saa == 0.0 or sbb == 0.0:
        return 0.0
    return sab / (saa * sbb) ** 0.5


def _rcf_reference(x, y):
    """Hall's mixed-type r_cf with np.corrcoef against each class indicator."""
    total = 0.0
    for c in np.unique(y):
        ind = (y == c).astype(float)
        total += ind.mean() * abs(np.corrcoef(x, ind)[0, 1])
    return total


def _naive_merit(X, y, subset):
    """Hall's eq. 4.1 straight from the definition, with loops."""
    k = len(subset)
    if k == 0:
        return 0.0
    rcf = [_rcf_reference(X[:, i], y) for i in subset]
    rff = [abs(_pearson_loop(list(X[:, i]), list(X[:, j])))
           for i, j in itertools.combinations(subset, 2)]
    mean_rcf = sum(rcf) / k
    mean_rff = sum(rff) / len(rff) if rff else 0.0
    return k * mean_rcf / (k + k * (k - 1) * mean_rff) ** 0.5


def _brute_force(X, y):
    """(best merit, best subset) over all non-empty subsets, from np.corrcoef correlations."""
    F = X.shape[1]
    rcf = np.array([_rcf_reference(X[:, i], y) for i in range(F)])
    R = np.abs(np.corrcoef(X, rowvar=False))
    best, best_set = -1.0, None
    for k in range(1, F + 1):
        for s in itertools.combinations(range(F), k):
            s = list(s)
            pairs = (R[np.ix_(s, s)].sum() - k) / 2.0
            merit = rcf[s].sum() / np.sqrt(k + 2.0 * pairs)
            if merit > best:
                best, best_set = merit, s
    return best, best_set


def _correlated_data(seed, n=400, f=8, n_classes=3):
    """Features sharing latent factors, some carrying class signal of varying strength."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    latent = rng.normal(size=(n, 3))
    X = latent @ rng.normal(size=(3, f)) + rng.normal(size=(n, f))
    X += np.eye(n_classes)[y] @ (rng.normal(size=(n_classes, f)) * rng.uniform(0, 1.5, f))
    return X, y


def _planted(seed=0, n=1200, n_informative=5, n_noise=20):
    """Columns: informative | near-duplicate copies | pure noise.

    Informative feature i shifts its mean for class i only (of n_informative + 1 classes), so the
    informative features are nearly uncorrelated with each other. (When informative features are
    strongly inter-correlated, Hall's merit itself can rise by adding a near-copy of a strong one,
    because the merit tends to mean_rcf / sqrt(mean_rff) as the subset grows; that is CFS, not a bug.)
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_informative + 1, n)
    onehot = y[:, None] == np.arange(n_informative)
    informative = 2.0 * onehot + rng.normal(size=(n, n_informative))
    copies = informative + 0.01 * rng.normal(size=(n, n_informative))
    noise = rng.normal(size=(n, n_noise))
    return np.hstack([informative, copies, noise]), y


# --------------------------------------------------------------------------- 1. merit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_merit_matches_naive_loops(seed):
    X, y = _correlated_data(seed, n=150, f=10)
    rng = np.random.default_rng(100 + seed)
    for k in (1, 2, 3, 5, 10):
        subset = rng.choice(10, size=k, replace=False).tolist()
        assert cfs_merit(X, y, subset) == pytest.approx(_naive_merit(X, y, subset), rel=1e-10)
    assert cfs_merit(X, y, []) == 0.0


def test_merit_penalises_redundancy():
    X, y = _planted()
    # A feature plus its near-copy: k = 2, r_ff ~ 1, so merit ~ 2 r / sqrt(4) = r, no gain.
    single = cfs_merit(X, y, [0])
    assert cfs_merit(X, y, [0, 5]) == pytest.approx(single, rel=1e-3)
    assert cfs_merit(X, y, [0, 1]) > single


# --------------------------------------------------------------------------- 2. search vs brute force


@pytest.mark.parametrize("seed", range(6))
def test_best_first_near_brute_force_optimum(seed):
    X, y = _correlated_data(seed)
    opt, _ = _brute_force(X, y)
    chosen = cfs_select(X, y)
    assert len(chosen) > 0
    assert cfs_merit(X, y, chosen) >= 0.98 * opt


def test_best_first_finds_obvious_optimum():
    rng = np.random.default_rng(7)
    n = 600
    y = rng.integers(0, 2, n)
    # Three independent noisy views of the class, decreasing in strength, then five noise columns.
    signal = np.stack([y + s * rng.normal(size=n) for s in (0.4, 0.8, 1.2)], axis=1)
    X = np.hstack([signal, rng.normal(size=(n, 5))])
    opt, opt_set = _brute_force(X, y)
    assert 0 in opt_set and all(i < 3 for i in opt_set)  # the case is what it claims to be
    chosen = cfs_select(X, y)
    assert chosen.tolist() == sorted(opt_set)
    assert cfs_merit(X, y, chosen) == pytest.approx(opt, rel=1e-9)


def test_result_is_locally_optimal_under_additions():
    # The best subset is always expanded before the search can go stale, so no one-feature
    # extension beats it by more than Weka's 1e-5 threshold.
    X, y = _correlated_data(3, n=300, f=15)
    chosen = cfs_select(X, y).tolist()
    base = cfs_merit(X, y, chosen)
    for j in set(range(15)) - set(chosen):
        assert cfs_merit(X, y, chosen + [j]) <= base + 1e-5


# --------------------------------------------------------------------------- 3. planted structure


@pytest.mark.parametrize("seed", range(4))
def test_planted_structure(seed):
    X, y = _planted(seed)
    chosen = set(cfs_select(X, y).tolist())
    informative, copies, noise = set(range(5)), set(range(5, 10)), set(range(10, 30))
    assert not chosen & noise
    # Each informative signal is represented once, either by itself or by its copy, never both.
    for i in range(5):
        assert len(chosen & {i, i + 5}) == 1
    assert chosen <= informative | copies


def test_max_features_caps_subset():
    X, y = _planted()
    full = cfs_select(X, y)
    assert len(full) > 2
    capped = cfs_select(X, y, max_features=2)
    assert len(capped) == 2
    assert cfs_merit(X, y, capped) <= cfs_merit(X, y, full) + 1e-12


def test_constant_and_uninformative_features():
    rng = np.random.default_rng(1)
    n = 300
    y = rng.integers(0, 2, n)
    X = np.column_stack([np.full(n, 3.7), y + rng.normal(size=n), np.zeros(n), np.full(n, 0.1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division or NaN warnings from constant columns
        rcf = feature_class_correlations(X, y)
        R = feature_correlations(X)
        chosen = cfs_select(X, y)
    assert rcf[[0, 2, 3]].tolist() == [0.0, 0.0, 0.0]
    assert np.all(np.isfinite(R)) and R[0].tolist() == [0.0] * 4
    assert chosen.tolist() == [1]
    # Nothing informative at all: the empty subset.
    empty = cfs_select(np.tile([1.0, 2.0], (n, 1)), y)
    assert empty.dtype == np.int64 and empty.shape == (0,)


# --------------------------------------------------------------------------- 4. invariances, reference


def test_deterministic_and_output_format():
    X, y = _correlated_data(11, n=500, f=40)
    a = cfs_select(X, y)
    b = cfs_select(X.copy(), y.copy())
    assert a.dtype == np.int64 and a.ndim == 1
    assert np.array_equal(a, b)
    assert np.all(np.diff(a) > 0)  # sorted ascending, no repeats


def test_invariant_to_positive_column_scaling():
    X, y = _correlated_data(12, n=500, f=40)
    scales = np.random.default_rng(0).uniform(0.01, 100.0, X.shape[1])
    a = cfs_select(X, y)
    b = cfs_select(X * scales + 5.0, y)  # shifts do not matter either
    assert np.array_equal(a, b)
    assert cfs_merit(X * scales, y, a) == pytest.approx(cfs_merit(X, y, a), rel=1e-10)


def test_class_correlation_matches_numpy_reference():
    X, y = _correlated_data(13, n=300, f=12, n_classes=4)
    expected = np.array([_rcf_reference(X[:, i], y) for i in range(X.shape[1])])
    np.testing.assert_allclose(feature_class_correlations(X, y), expected, rtol=1e-10)
    # A one-feature subset's merit is its class correlation.
    assert cfs_merit(X, y, [4]) == pytest.approx(expected[4], rel=1e-10)
    # Labels need not be 0..C-1: any labels give the same correlations.
    np.testing.assert_allclose(feature_class_correlations(X, np.array([10, 20, 30, 40])[y]),
                               expected, rtol=1e-10)
    np.testing.assert_allclose(feature_correlations(X), np.abs(np.corrcoef(X, rowvar=False)),
                               atol=1e-12)


def test_two_class_correlation_is_point_biserial():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    x = y * 0.7 + rng.normal(size=200)
    r = feature_class_correlations(x[:, None], y)[0]
    assert r == pytest.approx(abs(np.corrcoef(x, y)[0, 1]), rel=1e-12)


def test_validation_errors():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="2-D"):
        cfs_select(X[:, 0], y)
    with pytest.raises(ValueError, match="2-D"):
        cfs_select(X[None], y)
    with pytest.raises(ValueError, match=r"len\(y\) = 19 does not match len\(X\) = 20"):
        cfs_select(X, y[:-1])
    with pytest.raises(ValueError, match="1-D"):
        cfs_select(X, y[:, None])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        cfs_select(bad, y)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        cfs_merit(bad, y, [0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        cfs_select(X, np.zeros(20, int))
    with pytest.raises(ValueError, match="no feature columns"):
        cfs_select(np.zeros((20, 0)), y)
    with pytest.raises(ValueError, match="max_stale"):
        cfs_select(X, y, max_stale=0)
    with pytest.raises(ValueError, match="max_features"):
        cfs_select(X, y, max_features=0)
    with pytest.raises(ValueError, match="subset"):
        cfs_merit(X, y, [0, 3])
    with pytest.raises(ValueError, match="repeated"):
        cfs_merit(X, y, [1, 1])
