"""emojax.analysis.context on hand-built sensitivity matrices with known answers."""
import math

import numpy as np
import pytest

from emojax.analysis import context as C


def geometric(T, lam=0.5, lam_future=None):
    """S[t, t'] = lam**(t - t') for the past, lam_future**(t' - t) for the future."""
    lam_future = lam if lam_future is None else lam_future
    d = np.arange(T)[None, :] - np.arange(T)[:, None]               # t' - t
    return np.where(d < 0, lam ** np.abs(d), lam_future ** np.abs(d))


def naive_counts(S, threshold, length):
    T = S.shape[0]
    past, future = np.zeros(T, int), np.zeros(T, int)
    for t in range(length):
        m = max(S[t, u] for u in range(length))
        if m <= 0:
            continue
        for u in range(length):
            if S[t, u] >= threshold * m:
                past[t] += u < t
                future[t] += u > t
    return past, future


def test_counts_geometric():
    T = 20
    k = math.floor(math.log(0.03) / math.log(0.5))                   # 5
    assert k == 5
    past, future = C.context_counts(geometric(T), 0.03)
    t = np.arange(T)
    np.testing.assert_array_equal(past, np.minimum(t, k))
    np.testing.assert_array_equal(future, np.minimum(T - 1 - t, k))
    # with a length: later steps get 0, and only t' < length count
    past, future = C.context_counts(geometric(T), 0.03, length=8)
    np.testing.assert_array_equal(past, np.r_[np.minimum(t[:8], k), np.zeros(12)])
    np.testing.assert_array_equal(future, np.r_[np.minimum(7 - t[:8], k), np.zeros(12)])


def test_counts_against_naive_loop():
    rng = np.random.default_rng(0)
    for trial in range(20):
        T = int(rng.integers(1, 12))
        S = rng.exponential(size=(T, T)) ** 3
        if trial % 4 == 0:
            S[rng.integers(T)] = 0.0                                 # an all-zero row
        L = int(rng.integers(0, T + 1))
        th = float(rng.uniform(0.01, 0.5))
        for got, want in zip(C.context_counts(S, th, L), naive_counts(S, th, L)):
            np.testing.assert_array_equal(got, want)


def test_vs_position():
    k = 5
    S_list = [geometric(10), geometric(4), geometric(12)[:10, :10] * 3.0]   # scale is irrelevant
    res = C.context_vs_position(S_list, 0.03)
    assert sorted(res) == list(range(10))
    assert res[0] == (0.0, (5 + 3 + 5) / 3, 3)
    assert res[3] == (3.0, (5 + 0 + 5) / 3, 3)
    assert res[6] == (5.0, 3.0, 2)                                  # length-4 sequence has ended
    capped = C.context_vs_position(S_list, 0.03, max_position=4)
    assert sorted(capped) == [0, 1, 2, 3] and capped[3] == res[3]
    # padded input with lengths gives the same
    padded = np.zeros((3, 10, 10))
    padded[0], padded[1, :4, :4], padded[2] = S_list
    padded[1, 4:, :] = 7.0                                          # garbage beyond the length
    assert C.context_vs_position(list(padded), 0.03, lengths=[10, 4, 10]) == res
    assert all(min(p, f) >= 0 and p <= k and f <= k for p, f, _ in res.values())


def test_vs_threshold():
    T = 20
    S_list = [geometric(T), geometric(T)]
    thetas = [0.01, 0.03, 0.1]
    r = C.context_vs_threshold(S_list, thetas, min_predecessors=10)
    t = np.arange(T)
    for j, th in enumerate(thetas):
        k = math.floor(math.log(th) / math.log(0.5) + 1e-12)          # 6, 5, 3
        past, future = np.minimum(t, k), np.minimum(T - 1 - t, k)
        assert r["past_all"][j] == pytest.approx(past.mean())
        assert r["future_all"][j] == pytest.approx(future.mean())
        assert r["past_ge"][j] == pytest.approx(k)                    # full past from t >= 10
        assert r["future_ge"][j] == pytest.approx(future[10:].mean())
    assert list(r["n_all"]) == [40] * 3 and list(r["n_ge"]) == [20] * 3
    # higher threshold, less context
    assert np.all(np.diff(r["past_all"]) < 0)
    # no sequence long enough: NaN, not a crash
    assert np.all(np.isnan(C.context_vs_threshold([geometric(5)], thetas)["past_ge"]))


def test_asymmetric_context_and_profile():
    T = 25
    S = geometric(T, lam=0.7, lam_future=0.4)
    offsets, prof = C.sensitivity_profile([S, geometric(9, 0.7, 0.4)], max_offset=6)
    np.testing.assert_array_equal(offsets, np.arange(-6, 7))
    np.testing.assert_allclose(prof, np.where(offsets < 0, 0.7, 0.4) ** np.abs(offsets))
    lam, lag1 = C.decay_rate(offsets, prof)
    assert lam == pytest.approx(0.7) and lag1 == pytest.approx(0.7)
    lam_f, lag1_f = C.decay_rate(offsets, prof, side="future")
    assert lam_f == pytest.approx(0.4) and lag1_f == pytest.approx(0.4)
    # the profile divides by the diagonal: scaling rows changes nothing
    _, prof2 = C.sensitivity_profile([S * np.arange(1, T + 1)[:, None]], 6)
    np.testing.assert_allclose(prof2, prof)
    # offsets nobody reaches are NaN
    _, prof3 = C.sensitivity_profile([geometric(3)], 4)
    assert np.isnan(prof3[0]) and np.isnan(prof3[-1]) and prof3[4] == 1.0


def test_decay_rate_edge_cases():
    offsets = np.arange(-4, 5)
    # an amplitude a != 1 is absorbed by the intercept
    prof = 0.3 * 0.6 ** np.abs(offsets.astype(float))
    prof[4] = 1.0
    assert C.decay_rate(offsets, prof)[0] == pytest.approx(0.6)
    # a zero at d=3 stops the fit at d=2; a growing profile is clipped to 1
    prof = np.array([0.0, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    assert C.decay_rate(offsets, prof)[0] == pytest.approx(0.5)
    assert C.decay_rate(offsets, prof, side="future")[0] == 1.0
    # a single usable point: through profile(0) = 1
    assert C.decay_rate(offsets, np.array([0, 0, 0, 0.2, 1, 0, 0, 0, 0.0]))[0] == pytest.approx(0.2)
    lam, lag1 = C.decay_rate(offsets, np.where(offsets == 0, 1.0, 0.0))
    assert math.isnan(lam) and lag1 == 0.0


def test_context_records():
    S_list = [geometric(12), geometric(6)]
    recs = C.context_records(S_list, task="cluster5", condition="ordered", thetas=[0.03, 0.1])
    keys = {"task", "condition", "theta", "position", "past", "future", "n"}
    ci = {"past_low", "past_high", "future_low", "future_high"}
    assert all(set(r) == (keys | ci if isinstance(r["position"], int) and r["n"] > 1 else keys)
               for r in recs)                       # one sequence: no interval
    # position 0 of both sequences: future counts 5 (12 steps) and 5 (6 steps): no spread
    assert recs[0]["future_low"] == recs[0]["future_high"] == recs[0]["future"]
    by = {(r["theta"], r["position"]): r for r in recs}
    assert len(recs) == 2 * (12 + 2)
    assert by[(0.03, 11)]["past"] == 5.0 and by[(0.03, 11)]["n"] == 1
    assert by[(0.03, "ge10")]["past"] == 5.0 and by[(0.03, "ge10")]["n"] == 2
    all_past = (np.minimum(np.arange(12), 5).sum() + np.minimum(np.arange(6), 5).sum()) / 18
    assert by[(0.03, "all")]["past"] == pytest.approx(all_past)
    assert by[(0.1, 0)]["future"] == (3 + 3) / 2
    mixed = C.context_records([geometric(12), geometric(12, 0.9)], task="t", condition="ordered",
                              thetas=[0.03])
    r = next(r for r in mixed if r["position"] == 11)               # past 5 and 11: sd 4.24
    assert r["past_high"] - r["past"] == pytest.approx(1.959964 * np.std([5, 11], ddof=1) / np.sqrt(2))
    for r in recs:                                                  # the checker's rules
        assert 0 < r["theta"] < 1 and r["past"] >= 0 and r["future"] >= 0
        assert isinstance(r["position"], int) or r["position"] in ("all", "ge10")
        assert type(r["past"]) is float and type(r["theta"]) is float
    # short sequences only: no ge10 record rather than a NaN one
    short = C.context_records([geometric(5)], task="valence3", condition="shuffled", thetas=[0.03])
    assert {r["position"] for r in short} == {0, 1, 2, 3, 4, "all"}


def test_step_counts_agree_with_the_threshold_curve():
    rng = np.random.default_rng(0)
    mats = [geometric(T, lam) * rng.uniform(0.9, 1.1, (T, T)) for T, lam in ((25, 0.6), (14, 0.8), (8, 0.5))]
    c = C.step_counts(mats, 0.03)
    th = C.context_vs_threshold(mats, [0.03])
    assert c[2, 2] == 0                                   # 8 steps: none with 10 predecessors
    np.testing.assert_allclose(c[:, 0].sum() / c[:, 2].sum(), th["past_ge"][0])
    np.testing.assert_allclose(c[:, 1].sum() / c[:, 2].sum(), th["future_ge"][0])


def test_context_interval_covers_and_shrinks():
    """Sequences whose true mean count is 5: the 95 % interval covers 5 in most of 200 repeats, and
    it is wider when training seeds disagree than when they agree."""
    rng = np.random.default_rng(1)
    hits = 0
    for rep in range(200):
        n = rng.integers(15, 25, 40)
        counts = np.stack([rng.poisson(5 * n), rng.poisson(3 * n), n], -1)[None]
        ci = C.context_interval(counts, n_boot=400, seed=rep)
        hits += ci["past_low"] <= 5 <= ci["past_high"]
        assert ci["past_low"] <= ci["past"] <= ci["past_high"]
    assert hits >= 180
    n = np.full(30, 20)
    base = np.stack([rng.poisson(5 * n), rng.poisson(3 * n), n], -1)
    same = C.context_interval(np.stack([base, base, base]), n_boot=500)
    apart = C.context_interval(np.stack([base, base + 40, base + 80]), n_boot=500)
    assert apart["past_high"] - apart["past_low"] > 2 * (same["past_high"] - same["past_low"])
    with pytest.raises(ValueError):
        C.context_interval(np.zeros((3, 2)))


def test_analysis_tables_put_the_recommended_estimator_first_and_need_no_paper():
    """context.md lists the recommended estimator first in each task/condition, and a run with
    only the memoryless estimator (the oracle still counted the paper's way) renders."""
    import types

    from emojax.experiments.woellmer2012_analysis import (AnalysisConfig, context_markdown,
                                                          summarise)
    mats = [geometric(30, 0.5), geometric(25, 0.6)]
    corpus = types.SimpleNamespace(name="synthetic", params={"kind": "synthetic"})
    both = AnalysisConfig(estimators=("paper", "memoryless"), recommended="memoryless")
    S_by = {("valence3", "ordered", "paper"): [mats], ("valence3", "ordered", "memoryless"): [mats],
            ("valence3", "oracle", "paper"): [mats]}
    md = context_markdown(summarise(S_by, both), corpus, both)
    rows = [ln for ln in md.splitlines() if ln.startswith("| valence3 | ordered")]
    assert [r.split("|")[3].strip() for r in rows] == ["memoryless", "paper"]
    for r in rows:            # ±1: whether the past count's interval lies within ±1 of it
        cells = [c.strip() for c in r.split("|")]
        past, lo, hi = (float(v) for v in cells[4].replace("[", "").replace("]", "")
                        .replace(",", "").split())
        assert cells[5] == ("yes" if C.resolved(past, lo, hi) else "no")
    only = AnalysisConfig(estimators=("memoryless",), recommended="memoryless")
    S_by.pop(("valence3", "ordered", "paper"))
    md = context_markdown(summarise(S_by, only), corpus, only)
    assert "| valence3 | oracle | truth |" in md and "one training seed" in md


def test_per_direction_counts_and_profile_against_naive():
    """S (2, T, T): the past read from S[0] against its own row maximum, the future from S[1]."""
    rng = np.random.default_rng(1)
    for trial in range(20):
        T = int(rng.integers(1, 12))
        S2 = rng.exponential(size=(2, T, T)) ** 3
        L = int(rng.integers(0, T + 1))
        th = float(rng.uniform(0.01, 0.5))
        past, future = C.context_counts(S2, th, L)
        np.testing.assert_array_equal(past, naive_counts(S2[0], th, L)[0])
        np.testing.assert_array_equal(future, naive_counts(S2[1], th, L)[1])
    # a forward part decaying by 0.5 and a backward part by 0.8: each side its own decay
    T = 25
    S2 = np.stack([geometric(T, 0.5, 0.1), geometric(T, 0.1, 0.8)])
    t = np.arange(T)
    kf = math.floor(math.log(0.03) / math.log(0.8))
    past, future = C.context_counts(S2, 0.03)
    np.testing.assert_array_equal(past, np.minimum(t, 5))
    np.testing.assert_array_equal(future, np.minimum(T - 1 - t, kf))
    offs, prof = C.sensitivity_profile([S2], 4)
    np.testing.assert_allclose(prof, [0.5 ** 4, 0.5 ** 3, 0.5 ** 2, 0.5, 1, 0.8, 0.8 ** 2, 0.8 ** 3,
                                      0.8 ** 4])
    # every curve builder takes them; a half-scaled diagonal doubles the past's relative weights
    S = geometric(T, 0.5)
    half = S.copy()
    np.fill_diagonal(half, 0.5)
    both = np.stack([np.where(t[None] <= t[:, None], half, 0), np.where(t[None] >= t[:, None], half, 0)])
    np.testing.assert_array_equal(C.context_counts(both, 0.03)[0], C.context_counts(S, 0.015)[0])
    th = C.context_vs_threshold([both, both[:, :9, :9]], [0.03])
    assert th["past_ge"][0] == pytest.approx(6.0)                # 2 · 0.5^d >= 3 % up to d = 6
    with pytest.raises(ValueError, match=r"\(2, T, T\)"):
        C.context_counts(np.zeros((3, 4, 4)), 0.03)


def test_count_table_equals_counts_at_every_threshold():
    """One pass over each matrix (`count_table`) gives `context_counts` at every threshold, whole
    and per direction, padded or not; functions given the table give what they give the matrices."""
    rng = np.random.default_rng(3)
    thetas = [0.01, 0.03, 0.07, 0.2]
    for trial in range(12):
        T = int(rng.integers(1, 14))
        shape = (2, T, T) if trial % 3 == 2 else (T, T)
        mats = [rng.exponential(size=shape) ** 3 for _ in range(3)]
        mats[0][..., rng.integers(T), :] = 0.0                       # an all-zero row
        lens = [int(rng.integers(0, T + 1)) for _ in mats]
        table = C.count_table(mats, thetas, lens)
        for S, L, c in zip(mats, lens, table.counts):
            for j, th in enumerate(thetas):
                past, future = C.context_counts(S[..., :L, :L], th)
                np.testing.assert_array_equal(c[j, 0], past)
                np.testing.assert_array_equal(c[j, 1], future)
        for th in thetas:
            np.testing.assert_array_equal(C.step_counts(table, th, min_predecessors=2),
                                          C.step_counts(mats, th, min_predecessors=2, lengths=lens))
            assert C.context_vs_position(table, th) == C.context_vs_position(mats, th, lengths=lens)
        merged = C.merge_tables([table, C.count_table(mats[:1], thetas, lens[:1])])
        assert merged.lengths == tuple(lens) + tuple(lens[:1])
    with pytest.raises(ValueError, match="not in the count table"):
        C.step_counts(table, 0.05)


def test_bootstrap_draw_counts_equal_bincounts():
    draws = np.random.default_rng(0).integers(0, 7, (50, 7))
    np.testing.assert_array_equal(C.draw_counts(draws, 7),
                                  np.stack([np.bincount(d, minlength=7) for d in draws]))
