"""Face MoCap -> 46 markers, NaN filling, 50/25 ms windows, principal feature analysis + deltas."""
from fractions import Fraction

import numpy as np
import pytest

from emojax.features import normalise
from emojax.features.dsp import deltas
from emojax.features import visual as V


def test_the_46_face_markers_are_chosen_by_name():
    assert len(V.MOCAP_ROTATED_MARKERS) == 55 and len(set(V.MOCAP_ROTATED_MARKERS)) == 55
    assert len(V.FACE_MARKERS) == 46 and len(V.FACE_COORDINATES) == 138
    for m in ("TNOSE", "MNOSE", "LNSTRL", "RNSTRL", "LHD", "RHD", "LLID", "RLID", "MH"):
        assert m not in V.FACE_MARKERS
    # the SAIL column ranges (1-based, of the 165 coordinates): 1-66 and 88-159
    idx = [V.MOCAP_ROTATED_MARKERS.index(m) for m in V.FACE_MARKERS]
    cols = sorted(3 * i + c + 1 for i in idx for c in range(3))
    assert cols == list(range(1, 67)) + list(range(88, 160))
    # values encode their own (marker, coordinate); any input order gives the same output
    names = list(V.MOCAP_ROTATED_MARKERS)[::-1]
    code = np.array([[100 * V.MOCAP_ROTATED_MARKERS.index(m) + c for m in names for c in range(3)]],
                    float)
    out = V.face_frames(np.repeat(code, 12, 0), names)
    want = [100 * V.MOCAP_ROTATED_MARKERS.index(m) + c for m in V.FACE_MARKERS for c in range(3)]
    np.testing.assert_array_equal(out, np.tile(want, (out.shape[0], 1)))
    with pytest.raises(ValueError, match="missing"):
        V.face_frames(np.zeros((12, 3 * 54)), [m for m in names if m != "CH1"])
    with pytest.raises(ValueError, match="need"):
        V.face_frames(np.zeros((12, 10)), names)


def naive_windows(x, fps, window_s, hop_s):
    """Exact-arithmetic loop: frame t averages samples i with t hop <= i / fps < t hop + window."""
    fps, w, h = Fraction(fps), Fraction(window_s), Fraction(hop_s)
    n = x.shape[0]
    if Fraction(n) / fps < w:
        return x.mean(0, keepdims=True)
    out, t = [], 0
    while t * h + w <= Fraction(n) / fps:
        idx = [i for i in range(n) if t * h <= Fraction(i) / fps < t * h + w]
        out.append(x[idx].mean(0))
        t += 1
    return np.array(out)


@pytest.mark.parametrize("n,fps,window_s,hop_s", [(6, 120, "0.05", "0.025"),
                                                    (125, 120, "0.05", "0.025"),
                                                    (127, 120, "0.05", "0.025"),
                                                    (4, 120, "0.05", "0.025"),
                                                    (61, 60, "0.05", "0.025"),
                                                    (203, 100, "0.05", "0.025")])
def test_framing_matches_a_naive_loop(n, fps, window_s, hop_s):
    x = np.random.default_rng(n).normal(size=(n, 5))
    got = V.window_means(x, fps, float(window_s), float(hop_s))
    np.testing.assert_allclose(got, naive_windows(x, fps, window_s, hop_s), rtol=1e-12, atol=1e-12)
    if fps == 120 and n >= 6:                                # 6 samples every 3: the audio count
        assert got.shape[0] == (n - 6) // 3 + 1


def test_lost_markers_are_interpolated_per_coordinate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))
    x[5:12, 0] = np.nan                                      # interior gap
    x[:7, 1] = np.nan                                        # leading
    x[30:, 1] = np.nan                                       # trailing
    x[:, 2] = np.nan                                         # lost for the whole utterance
    x[::3, 3] = np.nan
    got = V.fill_lost(x)
    t = np.arange(40)
    for c in (0, 1, 3):
        ok = np.isfinite(x[:, c])
        np.testing.assert_allclose(got[:, c], np.interp(t, t[ok], x[ok, c]), rtol=1e-12)
    assert np.all(got[:, 2] == 0)
    assert np.isfinite(got).all()
    names = list(V.MOCAP_ROTATED_MARKERS)
    mocap = rng.normal(size=(30, 165))
    mocap[3:9, 0] = np.nan
    out = V.face_frames(mocap, names)
    assert out.shape == (9, 138) and np.isfinite(out).all()


def synthetic_face(seed: int, n: int = 2400):
    """138 coordinates: 30 carry independent signals, the other 108 are scaled noisy copies."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(138)
    S = rng.normal(size=(n, 30)) * rng.uniform(1.0, 2.0, 30)
    X = np.empty((n, 138))
    group = np.empty(138, int)
    X[:, perm[:30]], group[perm[:30]] = S, np.arange(30)
    for c in perm[30:]:
        j = rng.integers(30)
        X[:, c] = rng.uniform(0.5, 3.0) * S[:, j] + 0.1 * rng.normal(size=n)
        group[c] = j
    return X, group


@pytest.mark.parametrize("seed", [0, 1])
def test_pfa_keeps_one_coordinate_per_independent_signal(seed):
    X, group = synthetic_face(seed)
    frames = np.split(X, 8)                                  # 8 "utterances"
    spk = np.array(["A"] * 4 + ["B"] * 4)
    stats = normalise.fit("global", frames, spk, train_mask=np.ones(8, bool))
    z = normalise.apply(stats, frames, spk)                  # normalised coordinates, as in use
    sel = V.pfa_fit(z, k=30, seed=0)
    assert sel.shape == (30,) and len(set(sel)) == 30 and np.all(np.diff(sel) > 0)
    assert sorted(group[sel]) == list(range(30))             # every signal once, no duplicate
    chance = np.random.default_rng(seed).choice(138, 30, replace=False)
    assert len(set(group[chance])) < 27                      # the test can tell PFA from chance
    np.testing.assert_array_equal(V.pfa_fit(z, k=30, seed=0), sel)   # deterministic


def test_pfa_apply_gives_30_coordinates_and_their_deltas():
    X, _ = synthetic_face(2, n=600)
    sel = V.pfa_fit([X], k=30, seed=3)
    out = V.pfa_apply(X[:50], sel)
    assert out.shape == (50, 60)
    np.testing.assert_array_equal(out[:, :30], X[:50, sel])
    np.testing.assert_allclose(out[:, 30:], deltas(X[:50, sel], 5))
    assert V.pfa_names(sel)[0] == V.FACE_COORDINATES[sel[0]]
    assert V.pfa_names(sel)[30] == V.FACE_COORDINATES[sel[0]] + "_d"
    ramp = np.outer(np.arange(10.0), [1.0, -2.0])            # slope 1, -2 per frame
    np.testing.assert_allclose(V.pfa_apply(ramp, np.array([0, 1]))[:, 2:],
                               np.tile([1.0, -2.0], (10, 1)))
    assert V.pfa_apply(ramp[:1], np.array([0, 1])).shape == (1, 4)
    with pytest.raises(ValueError, match="k=200"):
        V.pfa_fit([X], k=200)
