"""The first-order smoother (`emojax.analysis.smoother`) against brute force and the exact Bayes
smoother of an AR(1) state seen through white noise."""
import numpy as np
import pytest

from emojax.analysis import smoother as sm
from emojax.analysis.context import context_counts


def test_two_sided_is_the_double_sum():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(9, 3))
    for lam in (0.0, 0.3, 0.9):
        naive = np.array([[sum(lam ** abs(k - t) * s[k, c] for k in range(9)) for c in range(3)]
                          for t in range(9)])
        np.testing.assert_allclose(sm.two_sided(s, lam), naive, atol=1e-12)


def test_sensitivity_is_the_predictors_jacobian():
    rng = np.random.default_rng(1)
    f = sm.FirstOrderSmoother(decay=0.7, weights=rng.normal(size=(4, 3)), intercept=rng.normal(size=3))
    T, F = 7, 4
    base = f.predict(np.zeros((T, F)))
    J = np.zeros((T, 3, T, F))                       # the predictor is linear: unit inputs give J
    for t in range(T):
        for i in range(F):
            x = np.zeros((T, F))
            x[t, i] = 1.0
            J[:, :, t, i] = f.predict(x) - base
    np.testing.assert_allclose(f.sensitivity(T), np.abs(J).sum(axis=(1, 3)), atol=1e-12)
    np.testing.assert_array_equal(sm.FirstOrderSmoother(0.0, f.weights, f.intercept).sensitivity(3),
                                  np.eye(3) * np.abs(f.weights).sum())


def _corpus(rho, *, speakers=10, per_speaker=20, T=40, F=4, noise=1.2, seed=0):
    """AR(1) latent, features = latent x loadings + white noise, 3 classes by thresholds of the
    latent plus rating noise; with the exact smoother's decay (middle row of C (C + σ² I)⁻¹, σ²
    the noise of the best single-step estimate of the latent)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=F)
    xs, ys, groups, ratings = [], [], [], []
    for g in range(speakers):
        for _ in range(per_speaker):
            z = np.empty(T)
            z[0] = rng.normal()
            for t in range(1, T):
                z[t] = rho * z[t - 1] + np.sqrt(1 - rho ** 2) * rng.normal()
            xs.append(z[:, None] * a[None] + noise * rng.normal(size=(T, F)))
            rating = z + 0.3 * rng.normal(size=T)
            ratings.append(rating)
            ys.append(np.digitize(rating, [-0.45, 0.45]))
            groups.append(g)
    n = 201
    lags = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    C = rho ** lags
    W = C @ np.linalg.inv(C + noise ** 2 / (a @ a) * np.eye(n))
    m = n // 2
    _corpus.ratings = ratings                         # the continuous ratings behind ys
    return xs, ys, groups, W[m], W[m, m + 1] / W[m, m]


def test_fit_recovers_the_exact_smoothers_decay_and_context():
    xs, ys, groups, row, lam = _corpus(0.85)
    f = sm.fit_first_order(xs, sm.one_hot(ys, 3), groups)
    assert abs(f.decay - lam) < 0.03, (f.decay, lam)
    m = len(row) // 2                                 # the exact smoother's past context at 3 %
    true_past = int((row[:m] >= 0.03 * row.max()).sum())
    past, _ = context_counts(f.sensitivity(60), 0.03)
    assert abs(int(past[-1]) - true_past) <= 1, (past[-1], true_past)


def test_fit_to_the_ratings_behind_the_classes_recovers_the_same_decay():
    """Fitted to the ratings the classes are cut from (a target of width 1), λ is the exact
    smoother's as well."""
    xs, ys, groups, _, lam = _corpus(0.85)
    f = sm.fit_first_order(xs, _corpus.ratings, groups)
    assert f.weights.shape == (4, 1) and f.intercept.shape == (1,)
    assert abs(f.decay - lam) < 0.03, (f.decay, lam)
    g = sm.fit_first_order(xs, [r[:, None] for r in _corpus.ratings], groups)   # (T, 1) alike
    assert g.decay == f.decay


def test_targets_are_checked():
    xs, ys, groups, _, _ = _corpus(0.5, speakers=3, per_speaker=2)
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        sm.one_hot([np.array([0, 3])], 3)
    with pytest.raises(ValueError, match="labels must be integers"):
        sm.one_hot([np.array([0.0, 1.5])], 3)
    with pytest.raises(ValueError, match="integer targets: class labels go through one_hot"):
        sm.fit_first_order(xs, ys, groups)
    bad = [r.copy() for r in _corpus.ratings]
    bad[1][4] = np.nan
    with pytest.raises(ValueError, match="sequence 1: targets must be finite"):
        sm.fit_first_order(xs, bad, groups)
    with pytest.raises(ValueError, match="6 sequences need as many targets"):
        sm.fit_first_order(xs, _corpus.ratings[:5], groups)
    with pytest.raises(ValueError, match="sequence 2: 40 steps of features but 39 targets"):
        sm.fit_first_order(xs, [r if i != 2 else r[1:] for i, r in enumerate(_corpus.ratings)],
                           groups)


def test_decay_interval_holds_the_exact_smoothers_decay():
    xs, ys, groups, _, lam = _corpus(0.85)
    f = sm.fit_first_order(xs, sm.one_hot(ys, 3), groups, level=0.95)
    assert f.decay_low <= f.decay <= f.decay_high
    assert f.decay_low < lam < f.decay_high, (f.decay_low, lam, f.decay_high)
    assert f.decay_high - f.decay_low < 0.15
    assert np.isnan(sm.fit_first_order(xs, sm.one_hot(ys, 3), groups).decay_low)   # no level


def test_decay_interval_searches_past_its_window():
    """Asked around λ = 0 (a window up to λ 0.37) on data whose decay is 0.7, the refits land on
    the window's top: the search goes further out until the interval holds the true decay."""
    xs, ys, groups, _, lam = _corpus(0.85)
    Ys = sm.one_hot(ys, 3)
    _, padded = sm._fit(xs, Ys, groups, sm.RIDGE, sm.FOLDS, list(range(len(xs))))
    lo, hi = sm.decay_interval(padded, Ys, groups, 0.0)
    assert lo == 0.0 and 0.6 < hi and lam < hi


def test_weighted_rss_is_least_squares_on_the_resample():
    """The moments' residual sum of squares against lstsq (`_rss`) on the resample written out:
    weight 2 = the sequence twice, weight 0 = left out."""
    rng = np.random.default_rng(6)
    ss = [rng.normal(size=(n, 3)) for n in (6, 9, 4, 7, 5)]
    ss = [s - s.mean(1, keepdims=True) for s in ss]   # summing to zero over classes, as projections
                                                      # of one-hot labels do: AᵀA singular
    Ys = [np.eye(3)[rng.integers(0, 3, len(s))] for s in ss]
    w = np.array([[1, 1, 1, 1, 1], [2, 0, 1, 0, 3]])
    for lam in (0.0, 0.5, 0.9):
        got = sm.weighted_rss(sm._padded(ss), Ys, [lam], w)[:, 0]
        for b in range(2):
            pick = np.repeat(np.arange(5), w[b])
            ref = sm._rss(sm._padded([ss[i] for i in pick]), np.concatenate([Ys[i] for i in pick]), lam)[0]
            np.testing.assert_allclose(got[b], ref, rtol=1e-7)


def test_no_temporal_structure_gives_no_context():
    xs, ys, groups, _, lam = _corpus(0.0, seed=3)
    assert lam < 1e-9
    f = sm.fit_first_order(xs, sm.one_hot(ys, 3), groups)
    assert f.decay < 0.03                              # the 3 % threshold: no lag counts
    past, future = context_counts(f.sensitivity(20), 0.03)
    assert past.sum() == future.sum() == 0


def test_center_by_group_removes_each_groups_mean():
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(5, 2)) + 3 for _ in range(4)]
    out = sm.center_by_group(xs, ["a", "b", "a", "b"])
    np.testing.assert_allclose(np.concatenate([out[0], out[2]]).mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([out[1], out[3]]).mean(0), 0, atol=1e-12)


def test_padded_batch_is_each_sequence_alone():
    rng = np.random.default_rng(4)
    ss = [rng.normal(size=(n, 2)) for n in (3, 8, 1, 5)]
    padded = sm._padded(ss)
    for lam in (0.0, 0.6):
        np.testing.assert_allclose(sm._two_sided_padded(*padded, lam),
                                   np.concatenate([sm.two_sided(s, lam) for s in ss]), atol=1e-12)


def test_readings_fit_the_conditions_training_speakers_in_its_order(monkeypatch):
    """`smoother_readings` fits the training speakers' sequences only, in the order the condition
    gives them (shuffled for the shuffled control), keeps a bootstrap copy's identity for the
    cross-fitting, and returns one matrix per test length."""
    from emojax.experiments import woellmer2012_analysis as A
    rng = np.random.default_rng(5)
    seqs = [np.arange(i * 6, i * 6 + 6) for i in range(4)]
    prep = {"part": np.array(["train", "val", "test", "train"]), "X": rng.normal(size=(24, 3)),
            "y": rng.integers(0, 3, 24), "n_classes": 3, "ratings": None}
    speaker = np.repeat(["a", "b", "c", "d"], 6)
    seen = {}

    def fake(xs, targets, groups, **kw):
        seen.update(xs=xs, groups=groups, ids=list(kw["ids"]))
        return sm.FirstOrderSmoother(0.5, np.ones((3, 3)), np.zeros(3))
    monkeypatch.setattr(sm, "fit_first_order", fake)
    shuffled = [s[::-1] for s in seqs]
    S = A.smoother_readings(prep, shuffled, speaker, [5, 7], 0, seed=0)["smoother"]
    assert [m.shape for m in S] == [(5, 5), (7, 7)]
    assert seen["groups"] == ["a", "b", "d"] and seen["ids"] == [0, 1, 2]
    np.testing.assert_array_equal(seen["xs"][0], prep["X"][seqs[0][::-1]])
    A.smoother_readings(prep, shuffled, speaker, [5], 1, seed=0)        # a bootstrap draw
    np.testing.assert_array_equal(seen["groups"], [["a", "b", "d"][i] for i in seen["ids"]])


def test_readings_fit_the_ratings_where_asked_and_the_task_has_them(monkeypatch):
    """``target="rating"`` fits the ratings behind the classes, in the condition's order; without
    ratings (a category task) or with ``"classes"``, the one-hot classes."""
    from emojax.experiments import woellmer2012_analysis as A
    rng = np.random.default_rng(8)
    seqs = [np.arange(i * 6, i * 6 + 6) for i in range(3)]
    prep = {"part": np.array(["train", "test", "train"]), "X": rng.normal(size=(18, 2)),
            "y": rng.integers(0, 3, 18), "n_classes": 3, "ratings": rng.normal(size=(18, 1))}
    seen = []
    monkeypatch.setattr(sm, "fit_first_order", lambda xs, targets, groups, **kw: seen.append(
        targets) or sm.FirstOrderSmoother(0.5, np.ones((2, 1)), np.zeros(1)))
    order = [s[::-1] for s in seqs]
    A.smoother_readings(prep, order, ["a"] * 18, [6], 0, 0, target="rating")
    np.testing.assert_array_equal(np.concatenate(seen[-1]), prep["ratings"][np.r_[order[0], order[2]]])
    for p, target in ((prep, "classes"), ({**prep, "ratings": None}, "rating")):
        A.smoother_readings(p, order, ["a"] * 18, [6], 0, 0, target=target)
        np.testing.assert_array_equal(np.concatenate(seen[-1]),
                                      np.eye(3)[prep["y"][np.r_[order[0], order[2]]]])


def test_readings_at_the_ends_of_the_interval_count_as_its_bounds(monkeypatch):
    """With a level, draw 0 also reads the smoother at the ends of λ's interval, and `interval`
    turns those readings into the count's bounds (λ 0.3 / 0.5 / 0.7: 2 / 5 / 9 lags at 3 %)."""
    from emojax.experiments import woellmer2012_analysis as A
    rng = np.random.default_rng(7)
    seqs = [np.arange(i * 30, i * 30 + 30) for i in range(3)]
    prep = {"part": np.array(["train", "train", "test"]), "X": rng.normal(size=(90, 2)),
            "y": rng.integers(0, 3, 90), "n_classes": 3, "ratings": None}
    fit = sm.FirstOrderSmoother(0.5, np.ones((2, 3)), np.zeros(3), decay_low=0.3, decay_high=0.7)
    monkeypatch.setattr(sm, "fit_first_order", lambda *a, **kw: fit)
    read = A.smoother_readings(prep, seqs, np.repeat(["a", "b", "c"], 30), [30], 0, 0, level=0.95)
    assert sorted(read) == ["smoother", "smoother:high", "smoother:low"]
    acfg = A.AnalysisConfig()
    ci = A.interval([read["smoother"]], acfg, ends={e: read[f"smoother:{e}"] for e in A.ENDS})
    assert (ci["past_low"], ci["past_high"]) == (2, 9)
    assert A.context_figures(read["smoother"], acfg)["past"] == 5
    for e in A.ENDS:                                 # the future, cut by the sequences' ends
        assert ci[f"future_{e}"] == A.context_figures(read[f"smoother:{e}"], acfg)["future"]
    assert sorted(A.smoother_readings(prep, seqs, ["a"] * 90, [30], 1, 0, level=0.95)) == ["smoother"]
