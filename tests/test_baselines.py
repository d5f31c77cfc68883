"""emojax.baselines: majority class, Chernykh 2018's frame-wise forest, Mirsamadi 2017's RBF SVM,
on constructed data whose answer is known (by hand, or by a brute-force reference)."""
import numpy as np
import pytest

from emojax.baselines import forest, majority, svm
from emojax.train.metrics import scores


# ----------------------------------------------------------------------------- majority
def test_majority_predicts_the_largest_training_class():
    pred = majority.fit_predict(np.array([0, 2, 2, 1, 2, 0, 3]), 5)
    assert pred.dtype == np.int32 and pred.tolist() == [2] * 5
    assert majority.fit_predict(np.array([3, 1, 3, 1, 0]), 2).tolist() == [1, 1]   # tie: smaller
    assert majority.fit_predict(np.array([1]), 0).shape == (0,)
    with pytest.raises(ValueError, match="empty"):
        majority.fit_predict(np.array([], int), 3)


# ----------------------------------------------------------------------------- loudest frames
def brute_force_loudest(loudness, k):
    """Frames ranked by (louder first, earlier first) by comparing every pair; the top k in time order."""
    T = len(loudness)
    rank = [sum(loudness[s] > loudness[t] or (loudness[s] == loudness[t] and s < t) for s in range(T))
            for t in range(T)]
    return sorted(t for t in range(T) if rank[t] < k)


def test_loudest_frames_by_hand_and_by_brute_force():
    frames = np.zeros((5, 3))
    loud = np.array([0.1, 0.5, 0.3, 0.5, 0.2])
    assert forest.loudest_frames(frames, loud).tolist() == [1, 3]
    assert forest.loudest_frames(frames, loud, k=3).tolist() == [1, 2, 3]
    ties = np.array([1.0, 3.0, 3.0, 3.0])
    assert forest.loudest_frames(frames[:4], ties).tolist() == [1, 2]     # ties: the earliest
    assert forest.loudest_frames(frames[:1], loud[:1]).tolist() == [0]     # shorter than k: all
    rng = np.random.default_rng(0)
    for _ in range(50):
        T, k = rng.integers(1, 9), rng.integers(1, 4)
        loud = rng.integers(0, 3, T).astype(float)                          # many ties
        assert forest.loudest_frames(np.zeros((T, 2)), loud, k).tolist() == brute_force_loudest(loud, k)
    with pytest.raises(ValueError, match=r"loudness \(4,\) must be \(5,\)"):
        forest.loudest_frames(frames, np.zeros(4))
    with pytest.raises(ValueError, match="not finite at frames \\[2\\]"):
        forest.loudest_frames(frames, np.array([0, 1, np.nan, 2, 3]))


# ----------------------------------------------------------------------------- the forest
CENTRES = 10.0 * np.eye(3, 4)                                             # class c's frames: near e_c


def loud_and_quiet(y, rng, T=8, loud=2):
    """Utterances whose `loud` loudest frames sit at their class's centre and whose quiet ones
    sit at the *next* class's centre: training on every frame would learn the wrong labels."""
    frames, loudness = [], []
    for c in y:
        x = np.concatenate([CENTRES[c] + rng.normal(0, 0.3, (loud, 4)),
                            CENTRES[(c + 1) % 3] + rng.normal(0, 0.3, (T - loud, 4))])
        level = np.concatenate([rng.uniform(5, 6, loud), rng.uniform(0, 1, T - loud)])
        order = rng.permutation(T)                                          # loud frames anywhere
        frames.append(x[order]), loudness.append(level[order])
    return frames, loudness


def clean(y, rng, lengths=(3, 6, 9)):
    """Test utterances: every frame near its class's centre, of varied length."""
    return [CENTRES[c] + rng.normal(0, 0.3, (lengths[i % len(lengths)], 4)) for i, c in enumerate(y)]


def test_forest_learns_from_the_loudest_frames_and_votes():
    rng = np.random.default_rng(1)
    y_train, y_test = np.tile([0, 1, 2], 10), np.tile([2, 0, 1], 4)
    frames, loudness = loud_and_quiet(y_train, rng)
    test = clean(y_test, rng)
    pred, probs = forest.fit_predict(frames, loudness, y_train, test, n_estimators=20)
    assert pred.dtype == np.int32 and pred.tolist() == y_test.tolist()     # accuracy 1.0
    assert [p.shape for p in probs] == [(len(x), 3) for x in test]
    np.testing.assert_allclose(np.concatenate(probs).sum(1), 1.0)
    # the control: every frame of the training utterances labelled (k = T) gets them all wrong
    wrong, _ = forest.fit_predict(frames, loudness, y_train, test, k=8, n_estimators=20)
    assert np.all(wrong == (y_test - 1) % 3)


def test_vote_counts_frames_then_probability_mass_then_class_index():
    p = np.array([[0.4, 0.3, 0.3]] * 3 + [[0.0, 1.0, 0.0]] * 2)            # 3 votes beat more mass
    assert forest.vote(p) == 0
    p = np.array([[0.5, 0.4, 0.1], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0], [0.2, 0.8, 0.0]])
    assert forest.vote(p) == 1                                             # 2 : 2, mass 1.4 : 2.5
    p = np.array([[0.0, 0.7, 0.3], [0.0, 0.3, 0.7]])
    assert forest.vote(p) == 1                                             # equal votes and mass
    p = np.array([[0.5, 0.5, 0.0]])
    assert forest.vote(p) == 0                                             # a frame's own tie: first


def test_frame_probs_have_a_column_for_a_class_absent_from_training():
    rng = np.random.default_rng(2)
    y_train = np.tile([0, 2], 6)                                           # class 1 never trains
    frames = [CENTRES[c] + rng.normal(0, 0.3, (4, 4)) for c in y_train]
    loudness = [rng.uniform(0, 1, 4) for _ in y_train]
    test = clean(np.array([0, 2, 1]), rng)
    pred, probs = forest.fit_predict(frames, loudness, y_train, test, n_estimators=10)
    assert [p.shape[1] for p in probs] == [3, 3, 3] and set(pred.tolist()) <= {0, 2}
    assert all(np.all(p[:, 1] == 0) for p in probs)
    _, probs = forest.fit_predict(frames, loudness, y_train, test, n_estimators=10, n_classes=5)
    assert all(p.shape == (len(x), 5) and np.all(p[:, [1, 3, 4]] == 0) for p, x in zip(probs, test))
    np.testing.assert_allclose(np.concatenate(probs).sum(1), 1.0)


def test_forest_is_deterministic_given_a_seed():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 40)
    frames = [rng.normal(0, 1, (6, 4)) + 0.5 * CENTRES[c] / 10 for c in y]  # overlapping classes
    loudness = [rng.uniform(0, 1, 6) for _ in y]
    test = [rng.normal(0, 1, (5, 4)) for _ in range(8)]
    (a, pa), (b, pb), (_, pc) = (forest.fit_predict(frames, loudness, y, test, n_estimators=10,
                                                    seed=seed) for seed in (0, 0, 1))
    assert a.tolist() == b.tolist() and all(np.array_equal(x, z) for x, z in zip(pa, pb))
    assert not all(np.array_equal(x, z) for x, z in zip(pa, pc))


def test_forest_selection_picks_on_validation_and_refits():
    rng = np.random.default_rng(4)
    y_train, y_val, y_test = np.tile([0, 1, 2], 8), np.tile([1, 2, 0], 3), np.tile([2, 1, 0], 3)
    tr, tr_loud = loud_and_quiet(y_train, rng)
    va, test = clean(y_val, rng), clean(y_test, rng)                      # scored on all frames
    va_loud = [rng.uniform(0, 1, len(x)) for x in va]                      # used by the refit
    pred, probs, info = forest.fit_predict_select(
        tr, tr_loud, y_train, test, va, va_loud, y_val, grid=({"k": 8}, {"k": 2}, {"max_depth": 3}),
        n_estimators=10)
    assert info["k"] == 2 and info["max_depth"] is None and info["n_estimators"] == 10
    assert [g["val_ua"] for g in info["grid"]] == [0.0, 1.0, 1.0]         # first of equals wins
    assert info["val_ua"] == 1.0 and pred.tolist() == y_test.tolist() and len(probs) == len(test)
    with pytest.raises(ValueError, match="criterion"):
        forest.fit_predict_select(tr, tr_loud, y_train, test, va, va_loud, y_val,
                                  grid=({"criterion": "gini"},))


# ----------------------------------------------------------------------------- the RBF SVM
def xor(n, rng):
    """XOR quadrants in 2-D: no linear boundary does better than chance."""
    x = rng.uniform(-1, 1, (n, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def test_rbf_svm_solves_xor_where_a_linear_svm_fails_and_selects_on_validation():
    rng = np.random.default_rng(5)
    (xt, yt), (xv, yv), (xs, ys) = xor(300, rng), xor(100, rng), xor(200, rng)
    pred, info = svm.fit_predict_rbf(xt, yt, xv, yv, xs, grid=((1.0, 1e-4), (10.0, "scale")))
    assert info["C"] == 10.0 and info["gamma"] == "scale" and info["val_ua"] > 0.9
    assert pred.dtype == np.int32 and scores(ys, pred, 2)["ua"] > 0.9
    linear, _ = svm.fit_predict(xt, yt, xv, yv, xs, select="ua")
    assert scores(ys, linear, 2)["ua"] < 0.7
    again, info2 = svm.fit_predict_rbf(xt, yt, xv, yv, xs, grid=((1.0, 1e-4), (10.0, "scale")))
    assert again.tolist() == pred.tolist() and info2 == info               # deterministic


def test_rbf_svm_balances_the_costs_of_the_classes():
    rng = np.random.default_rng(6)

    def data(n):                                                          # 85 : 15, overlapping
        y = (rng.uniform(size=n) < 0.15).astype(np.int64)
        return rng.normal(0, 1, (n, 3)) + 1.2 * y[:, None], y
    (xt, yt), (xv, yv), (xs, ys) = data(300), data(100), data(400)
    pred, info = svm.fit_predict_rbf(xt, yt, xv, yv, xs)
    y_fit = np.concatenate([yt, yv])                                      # the refit's labels
    by_hand = {c: len(y_fit) / (2 * np.sum(y_fit == c)) for c in (0, 1)}  # n / (K n_c)
    assert info["class_weight"] == "balanced" and set(info["weights"]) == {0, 1}
    for c in (0, 1):
        assert info["weights"][c] == pytest.approx(by_hand[c], rel=1e-5)
    plain, info_plain = svm.fit_predict_rbf(xt, yt, xv, yv, xs, class_weight=None)
    assert info_plain["weights"] == {0: 1.0, 1: 1.0}
    # balanced costs trade majority accuracy for minority recall: a higher UA
    assert scores(ys, pred, 2)["ua"] > scores(ys, plain, 2)["ua"]
