"""Labels, folds, normalisation, selection: the test speaker never influences what is fitted."""
import numpy as np
import pytest

from emojax.data import labels as L
from emojax.data import splits, synthetic
from emojax.data.corpus import sequences
from emojax.experiments import woellmer2012 as W
from emojax.train.metrics import scores


def test_three_levels_boundaries():
    r = np.array([1, 2, 2.0001, 3, 3.9999, 4, 5])
    np.testing.assert_array_equal(L.three_levels(r), [0, 0, 1, 1, 1, 2, 2])


def test_loso_groups():
    spk = np.array(["b", "a", "c", "a", "d"])
    assert splits.leave_one_speaker_out(spk) == [["a"], ["b"], ["c"], ["d"]]
    assert splits.leave_one_speaker_out(spk, folds=2) == [["a", "c"], ["b", "d"]]
    val = splits.validation_speakers(["a", "b", "c", "d"], 0.25, seed=1)
    assert len(val) == 1 and val == splits.validation_speakers(["a", "b", "c", "d"], 0.25, seed=1)


@pytest.fixture(scope="module")
def small():
    c = synthetic.marker_wearers(synthetic.generate(synthetic.SyntheticParams(scale=0.2, seed=2)))
    seqs = sequences(c)
    spk = np.array([c.speaker[s[0]] for s in seqs])
    return c, seqs, spk


@pytest.mark.parametrize("task", ["cluster4", "valence3"])
def test_test_speaker_never_influences_fitting(small, task):
    """Changing everything about the test speaker leaves midpoints, z-norm and CFS unchanged."""
    import dataclasses
    c, seqs, spk = small
    cfg = W.Config()
    test = [c.speakers[0]]
    a = W.prepare_fold(c, seqs, spk, task, test, cfg, fold=0)
    rng = np.random.default_rng(0)
    is_test = c.speaker == test[0]
    feats = c.features.copy()
    feats[is_test] = rng.normal(50, 30, feats[is_test].shape)
    val, act = c.valence.copy(), c.activation.copy()
    val[is_test], act[is_test] = 5.0, 1.0
    b = W.prepare_fold(dataclasses.replace(c, features=feats, valence=val, activation=act),
                       seqs, spk, task, test, cfg, fold=0)
    np.testing.assert_array_equal(a["mu"], b["mu"])
    np.testing.assert_array_equal(a["sd"], b["sd"])
    np.testing.assert_array_equal(a["selected"], b["selected"])
    assert a["fitted"] == b["fitted"]
    assert not set(a["val_speakers"]) & set(test)
    assert 0 < a["selected"].size <= c.features.shape[1]


def test_task_ratings_are_the_columns_the_classes_are_cut_from(small):
    """The smoother's rating targets: valence for valence3, activation for activation3, both for a
    cluster task, none for a category task (nor where the corpus lacks the column)."""
    import dataclasses
    c = small[0]
    np.testing.assert_array_equal(W.task_ratings("valence3", c), c.valence[:, None])
    np.testing.assert_array_equal(W.task_ratings("activation3", c), c.activation[:, None])
    np.testing.assert_array_equal(W.task_ratings("cluster4", c), np.stack([c.valence, c.activation], 1))
    assert W.task_ratings("category", c) is None
    assert W.task_ratings("valence3", dataclasses.replace(c, valence=None)) is None


def test_cluster_midpoints_fit_training_only():
    pts = np.array([[1, 1], [1, 1.2], [5, 5], [5, 4.8], [3, 3]], float)
    y, k, fitted = L.task_labels("cluster2", pts[:, 0], pts[:, 1], None, np.arange(4))
    np.testing.assert_allclose(fitted["midpoints"], [[1, 1.1], [5, 4.9]])
    assert k == 2 and y.tolist()[:4] == [0, 0, 1, 1]


def test_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score, recall_score
    rng = np.random.default_rng(0)
    yt, yp = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    yt[yt == 3] = 2                                # class 3 absent from the truth
    s = scores(yt, yp, 4)
    present = np.unique(yt)
    assert s["wa"] == pytest.approx(accuracy_score(yt, yp))
    assert s["ua"] == pytest.approx(recall_score(yt, yp, labels=present, average="macro"))
    assert s["f1"] == pytest.approx(f1_score(yt, yp, labels=present, average="macro"))


def test_paired_test_against_formula():
    from emojax.analysis.stats import paired_test
    a = np.array([0.6, 0.65, 0.7, 0.62, 0.68])
    b = np.array([0.55, 0.6, 0.66, 0.6, 0.61])
    d = a - b
    t = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
    r = paired_test(a, b)
    assert r["t"] == pytest.approx(t)
    assert 0 < r["p"] < 0.05 and 0 <= r["shapiro_p"] <= 1


def test_shuffle_within_keeps_each_sequence_set():
    seqs = [np.arange(5), np.arange(5, 12)]
    sh = W.shuffle_within(seqs, 3)
    assert [sorted(s.tolist()) for s in sh] == [s.tolist() for s in seqs]
    assert any(not np.array_equal(a, b) for a, b in zip(sh, seqs))
