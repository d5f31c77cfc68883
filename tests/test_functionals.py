"""Functionals against numpy / scipy computed independently, one utterance at a time."""
import csv

import numpy as np
import pytest
import scipy.stats

from emojax.features import functionals as FN


def reference(y: np.ndarray) -> dict[str, float]:
    """Every functional of one descriptor's valid values y (n,), by numpy / scipy / a loop."""
    n = len(y)
    x = np.arange(n, dtype=float)
    const = np.ptp(y) == 0
    q = {p: np.percentile(y, p) for p in (1, 25, 50, 75, 99)}
    if n >= 2:
        slope, offset = np.polyfit(x, y, 1)
    else:
        slope, offset = 0.0, y[0]
    if n >= 3:
        a, b, c = np.polyfit(x, y, 2)
    else:
        a, b, c = 0.0, slope, offset
    return {
        "mean": np.mean(y), "std": np.std(y), "min": np.min(y), "max": np.max(y),
        "range": np.ptp(y),
        "minpos": np.argmin(y) / max(n - 1, 1), "maxpos": np.argmax(y) / max(n - 1, 1),
        "skewness": 0.0 if const else scipy.stats.skew(y, bias=True),
        "kurtosis": 0.0 if const else scipy.stats.kurtosis(y, fisher=True, bias=True),
        "q1": q[25], "q2": q[50], "q3": q[75],
        "iqr1_2": q[50] - q[25], "iqr2_3": q[75] - q[50], "iqr1_3": q[75] - q[25],
        "p01": q[1], "p99": q[99],
        "linreg_slope": slope, "linreg_offset": offset,
        "linreg_mse": np.mean((y - (slope * x + offset)) ** 2),
        "qreg_a": a, "qreg_b": b, "qreg_c": c,
        "qreg_mse": np.mean((y - (a * x ** 2 + b * x + c)) ** 2),
    }


def expected_row(frames: np.ndarray) -> np.ndarray:
    """(n, D) valid frames -> (D * F,), descriptor-major."""
    return np.array([reference(frames[:, d])[f] for d in range(frames.shape[1]) for f in FN.ALL])


def test_every_functional_matches_scipy_on_one_utterance():
    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, size=(73, 4)) + np.linspace(0, 3, 73)[:, None] ** 2
    values, names = FN.functionals(y, names=["f0", "energy", "mfcc1", "mfcc2"])
    assert values.shape == (4 * len(FN.ALL),) and len(names) == values.size
    assert names[0] == "f0__mean" and names[len(FN.ALL)] == "energy__mean"
    assert names[-1] == "mfcc2__qreg_mse"
    np.testing.assert_allclose(values, expected_row(y), rtol=1e-9, atol=1e-10)


def test_masked_ragged_batch_matches_a_loop_over_utterances():
    rng = np.random.default_rng(1)
    lengths = [1, 2, 3, 5, 40, 117]
    B, T, D = len(lengths), max(lengths), 3
    frames = rng.normal(size=(B, T, D)) * 3 + 1
    mask = np.arange(T)[None] < np.array(lengths)[:, None]
    frames[~mask] = np.nan                                   # padding must never leak in
    values, names = FN.functionals(frames, mask)
    assert values.shape == (B, D * len(FN.ALL))
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(values[b], expected_row(frames[b, :n]), rtol=1e-8, atol=1e-10,
                                   err_msg=f"utterance {b}, {n} frames")


def test_mask_with_gaps_and_per_descriptor_masks():
    """Invalid frames are cut out: the valid ones, in order, are the frames 0..n-1."""
    rng = np.random.default_rng(2)
    B, T, D = 3, 30, 2
    frames = rng.normal(size=(B, T, D))
    mask = rng.random((B, T, D)) < 0.6
    mask[:, 0] = True                                        # at least one valid frame each
    values, _ = FN.functionals(frames, mask)
    F = len(FN.ALL)
    for b in range(B):
        for d in range(D):
            ref = reference(frames[b, mask[b, :, d], d])
            np.testing.assert_allclose(values[b, d * F:(d + 1) * F], [ref[f] for f in FN.ALL],
                                       rtol=1e-8, atol=1e-10)


def test_ragged_list_equals_per_utterance_calls():
    rng = np.random.default_rng(3)
    utts = [rng.normal(size=(n, 2)) for n in (4, 90, 1, 33, 7)]
    values, names = FN.utterance_functionals(utts, names=["a", "b"], which=("mean", "qreg_a"))
    assert names == ["a__mean", "a__qreg_a", "b__mean", "b__qreg_a"]
    for i, u in enumerate(utts):
        np.testing.assert_allclose(values[i], FN.functionals(u, names=["a", "b"],
                                                             which=("mean", "qreg_a"))[0])


def test_edge_cases_one_frame_and_constant():
    v = dict(zip(FN.ALL, FN.functionals(np.array([[2.5]]))[0]))
    assert v["mean"] == v["min"] == v["max"] == v["q1"] == v["p99"] == v["qreg_c"] == 2.5
    assert v["linreg_offset"] == 2.5
    for k in ("std", "range", "minpos", "maxpos", "skewness", "kurtosis", "linreg_slope",
              "linreg_mse", "qreg_a", "qreg_b", "qreg_mse"):
        assert v[k] == 0.0, k
    const = np.full((50, 1), 1e5 + 0.1)                      # mean has rounding error; still 0
    c = dict(zip(FN.ALL, FN.functionals(const)[0]))
    assert c["skewness"] == 0.0 and c["kurtosis"] == 0.0 and c["range"] == 0.0
    assert np.all(np.isfinite(list(c.values())))
    two = dict(zip(FN.ALL, FN.functionals(np.array([[1.0], [3.0]]))[0]))
    assert two["qreg_a"] == 0 and two["qreg_b"] == 2 and two["qreg_c"] == 1
    assert two["kurtosis"] == -2


def test_long_utterance_regression_is_well_conditioned():
    x = np.arange(5000, dtype=float)
    y = 1e-5 * x ** 2 - 0.03 * x + 7.0
    v = dict(zip(FN.ALL, FN.functionals(y[:, None])[0]))
    np.testing.assert_allclose([v["qreg_a"], v["qreg_b"], v["qreg_c"]], [1e-5, -0.03, 7.0],
                               rtol=1e-7)
    assert v["qreg_mse"] < 1e-12


def test_all_masked_and_bad_input_raise():
    frames = np.ones((2, 5, 2))
    mask = np.ones((2, 5), bool)
    mask[1] = False
    with pytest.raises(ValueError, match="utterance 1.*no valid frame"):
        FN.functionals(frames, mask)
    with pytest.raises(ValueError, match="no valid frame"):
        FN.functionals(np.ones((3, 1)), np.zeros(3, bool))
    with pytest.raises(ValueError, match="choose from"):
        FN.functionals(np.ones((3, 1)), which=("mean", "median"))
    bad = np.ones((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="frame 2.*'d1'"):
        FN.functionals(bad)
    with pytest.raises(ValueError, match="mask has shape"):
        FN.functionals(frames, np.ones((2, 4), bool))


def test_write_utterance_table_round_trips_through_load_table(tmp_path):
    from emojax.data.table import load_table
    rng = np.random.default_rng(4)
    utts = [rng.normal(size=(n, 2)) for n in (5, 9, 12)]
    values, names = FN.utterance_functionals(utts, names=["pitch", "energy"])
    rows = [{"utterance_id": f"u{i}", "dialog": "d1", "speaker": "A", "turn": i,
             "valence": 1.5 + i, "category": "neu", "has_mocap": np.bool_(i % 2),
             "start": float(i)} for i in range(3)]
    path = FN.write_utterance_table(tmp_path / "out" / "table.csv", rows, values, names)
    with open(path) as f:
        header = next(csv.reader(f))
    assert header[:8] == ["utterance_id", "dialog", "speaker", "turn", "start", "valence",
                          "category", "has_mocap"]
    assert header[8:] == names
    corpus = load_table(path)
    np.testing.assert_array_equal(corpus.features, values.astype(corpus.features.dtype))
    assert list(corpus.feature_names) == names
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="not metadata columns"):
        FN.write_utterance_table(tmp_path / "x.csv", [dict(rows[0], note="x")], values[:1],
                                 names)
    with pytest.raises(ValueError, match="are metadata columns"):
        FN.write_utterance_table(tmp_path / "x.csv", rows, values[:, :1], ["valence"])
    assert not (tmp_path / "x.csv").exists()
