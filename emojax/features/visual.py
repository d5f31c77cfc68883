"""Visual frame features for Wöllmer et al. 2012 from IEMOCAP face motion capture.

Wöllmer 2012, sec. 4: "the normalized (x,y,z) coordinates from 46 Motion Capture (MoCap) facial
markers ... Principal Feature Analysis (PFA) ... We select 30 features ... and append the first
derivatives, which results in a 60-dimensional representation"; audio and visual features share
a 50 ms window and a 25 ms frame rate. The pipeline, one utterance at a time:

1. `face_frames(values, names)`: the 46 face markers' coordinates (138 columns) out of a
   ``MOCAP_rotated`` file's 55 markers (IEMOCAP_FORMAT.md, sec. 6), lost markers filled, averaged
   over 50 ms windows every 25 ms -> (T, 138).
2. normalise the coordinates, fitted on training data only (the paper's "normalized";
   Metallinou et al. 2010 normalise per speaker): e.g.
   ``emojax.features.normalise.fit("per_speaker", frames_list, speaker, train_mask=...)``.
3. `pfa_fit(train_frames, k=30)`: Principal Feature Analysis on the training frames -> 30 of the
   138 coordinates.
4. `pfa_apply(frames, selected)`: those 30 coordinates and their first derivatives (the audio
   front end's `emojax.features.dsp.deltas`, over 5 frames) -> (T, 60).

**Which 46 markers.** The 55 markers of ``MOCAP_rotated`` are the 53 face markers (X01..X53) and
two head markers LHD, RHD (X60, X61). emojax keeps the chin (CH1-3), forehead (FH1-3), cheeks
(LC1-8, RC1-8), upper eyebrows (LBM0-3, RBM0-3), eyebrows (LBRO1-4, RBRO1-4) and mouth (Mou1-8)
markers: 3 + 3 + 16 + 8 + 8 + 8 = 46, and drops the head markers (LHD, RHD: head pose, not facial
expression), the four nose markers (MNOSE, LNSTRL, TNOSE, RNSTRL: the rotated frame's origin is
TNOSE, identically 0, and the nose is nearly rigid), the eyelids (LLID, RLID: blinks) and the
midline marker MH. Wöllmer's paper gives only the count (46, "located as shown in" Busso 2008);
this selection is the one published for IEMOCAP with the same count and the same 50/25 ms framing
(an audio-visual emotion-forecasting code base, FG 2019: coordinate columns 1-66 and 88-159 of the
165 -- chin, forehead, cheek, upper eyebrow, eyebrow, mouth).

**Frame rate.** IEMOCAP's VICON runs at about 120 frames/s (IEMOCAP_FORMAT.md, sec. 6); the paper
says 60 fps. `face_frames` takes ``fps`` (default 120).

**Lost markers (NaN).** Each coordinate is linearly interpolated over time between its valid
samples; before the first / after the last valid sample it holds the nearest valid value; a
coordinate with no valid sample in the utterance is 0 (the parsers' NaN -> 0; the nose origin).

**Windows.** Frame t averages the samples whose time i / fps lies in [t hop, t hop + window)
(6 samples every 3 at 120 fps); T = floor((n / fps - window) / hop) + 1 frames, the audio
front end's count for a signal of the same duration (no centring, no padding); an utterance shorter
than one window gives one frame, the mean of all its samples.

**PFA** (Lu, Cohen, Zhou & Tian 2007, "Feature selection using principal feature analysis"):
PCA of the training frames' covariance; the loading matrix's first q columns give each original
coordinate a row vector in R^q; k-means (k clusters, Euclidean) on those 138 rows; from each
cluster the coordinate whose row is nearest the cluster centre. Coordinates whose rows cluster
together are highly correlated in the retained subspace, so each cluster keeps one. q defaults to
the smallest number of components that explain ``variance=0.95`` of the total (Wöllmer: 30
features "covering approximately 95% of the total variability"), at most k (Lu: p >= q). k-means is
scikit-learn's, k-means++ initialised, ``n_init=10`` restarts from ``seed``: deterministic.
The covariance is that of the frames given: pass normalised coordinates (step 2) -- on raw
coordinates, strongly correlated columns with very different variances spread out along their
component and can take several clusters between them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["MOCAP_ROTATED_MARKERS", "FACE_MARKERS", "FACE_COORDINATES", "face_frames",
           "fill_lost", "window_means", "pfa_fit", "pfa_apply", "pfa_names"]

MOCAP_ROTATED_MARKERS: tuple[str, ...] = (
    "CH1", "CH2", "CH3", "FH1", "FH2", "FH3",
    *(f"LC{i}" for i in range(1, 9)), *(f"RC{i}" for i in range(1, 9)),
    "LLID", "RLID", "MH", "MNOSE", "LNSTRL", "TNOSE", "RNSTRL",
    *(f"LBM{i}" for i in range(4)), *(f"RBM{i}" for i in range(4)),
    *(f"LBRO{i}" for i in range(1, 5)), *(f"RBRO{i}" for i in range(1, 5)),
    *(f"Mou{i}" for i in range(1, 9)), "LHD", "RHD",
)
EXCLUDED_MARKERS = ("LLID", "RLID", "MH", "MNOSE", "LNSTRL", "TNOSE", "RNSTRL", "LHD", "RHD")
FACE_MARKERS: tuple[str, ...] = tuple(m for m in MOCAP_ROTATED_MARKERS if m not in EXCLUDED_MARKERS)
FACE_COORDINATES: tuple[str, ...] = tuple(f"{m}_{c}" for m in FACE_MARKERS for c in "xyz")
assert len(MOCAP_ROTATED_MARKERS) == 55 and len(FACE_MARKERS) == 46

DELTA_WIDTH = 5       # regression over t-2 .. t+2 (HTK / openSMILE's default N = 2)


def fill_lost(x: np.ndarray) -> np.ndarray:
    """(n, C) with NaN -> linear interpolation over time per column, edges held, all-NaN -> 0."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    ok = np.isfinite(x)
    if ok.all():
        return x.copy()
    t = np.arange(n)[:, None]
    prev = np.maximum.accumulate(np.where(ok, t, -1), axis=0)               # last valid <= t
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(ok, t, n), 0), axis=0), 0)  # 1st >= t
    prev_c = np.where(prev < 0, nxt, prev).clip(0, n - 1)                  # hold the edges
    next_c = np.where(nxt >= n, prev, nxt).clip(0, n - 1)
    cols = np.arange(x.shape[1])[None]
    x0 = np.where(ok, x, 0.0)                                   # lost columns end up 0
    xp, xn = x0[prev_c, cols], x0[next_c, cols]
    span = (next_c - prev_c).astype(np.float64)
    w = np.divide(t - prev_c, span, out=np.zeros(span.shape), where=span > 0)
    return np.where(ok, x, xp + w * (xn - xp))


def window_means(x: np.ndarray, fps: float, window_s: float, hop_s: float) -> np.ndarray:
    """(n, C) -> (T, C): the mean of the samples in [t hop, t hop + window) seconds, per frame."""
    n = x.shape[0]
    if n == 0:
        raise ValueError("no MoCap samples")
    if window_s <= 0 or hop_s <= 0 or fps <= 0:
        raise ValueError(f"fps, window_s and hop_s must be positive, got {fps}, {window_s}, "
                         f"{hop_s}")
    tol = 1e-9
    T = max(1, int(np.floor((n / fps - window_s) / hop_s + tol)) + 1)
    t0 = np.arange(T) * hop_s
    lo = np.ceil(t0 * fps - tol).astype(np.int64).clip(0, n - 1)
    hi = np.ceil((t0 + window_s) * fps - tol).astype(np.int64).clip(lo + 1, n)
    cs = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, 0)], 0)    # prefix sums
    return (cs[hi] - cs[lo]) / (hi - lo)[:, None]


FRAMING = {"fps": 120.0, "window_s": 0.05, "hop_s": 0.025}   # IEMOCAP's VICON rate; audio framing


def face_frames(values: np.ndarray, names: Sequence[str], fps: float = FRAMING["fps"],
                window_s: float = FRAMING["window_s"], hop_s: float = FRAMING["hop_s"]) -> np.ndarray:
    """One utterance's face MoCap -> (T, 138) window means of the 46 face markers' x, y, z.

    values: (n_frames, 3 M) marker coordinates, x y z per marker in `names` order, NaN for lost
    markers (a ``MOCAP_rotated`` file without its Frame# and Time columns); names: the M marker
    names (IEMOCAP: `MOCAP_ROTATED_MARKERS`). Columns follow `FACE_COORDINATES`.
    """
    values = np.asarray(values, dtype=np.float64)
    names = list(names)
    if values.ndim != 2 or values.shape[1] != 3 * len(names):
        raise ValueError(f"MoCap values have shape {values.shape}; {len(names)} markers need "
                         f"(n_frames, {3 * len(names)})")
    missing = [m for m in FACE_MARKERS if m not in names]
    if missing:
        raise ValueError(f"MoCap markers {missing[:8]} (of the 46 face markers) are missing; "
                         f"got {names[:8]}...")
    col = np.array([3 * names.index(m) + c for m in FACE_MARKERS for c in range(3)])
    x = fill_lost(values[:, col])                                 # (n, 138)
    return window_means(x, fps, window_s, hop_s)                  # (T, 138)


def pfa_fit(frames: Sequence[np.ndarray], k: int = 30, seed: int = 0, *, q: int | None = None,
            variance: float = 0.95, n_init: int = 10) -> np.ndarray:
    """Principal Feature Analysis on training frames: the k selected columns, sorted ascending.

    frames: training utterances' (T_i, C) frame arrays (e.g. `face_frames`, normalised; C = 138);
    k: features to keep (= clusters); q: principal components whose loadings are clustered
    (default: the fewest explaining `variance` of the total, at most k); seed: k-means' seed.
    """
    from sklearn.cluster import KMeans

    X = np.concatenate([np.asarray(f, dtype=np.float64) for f in frames], 0)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"pfa_fit: need at least 2 training frames (T, C), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("pfa_fit: non-finite values in the training frames (fill lost markers)")
    C = X.shape[1]
    if not 1 <= k <= C:
        raise ValueError(f"pfa_fit: k={k} features from {C} columns")
    cov = np.cov(X, rowvar=False)                                 # (C, C)
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0.0, None), evecs[:, order]
    if q is None:
        frac = np.cumsum(evals) / max(evals.sum(), np.finfo(float).tiny)
        q = int(min(k, np.searchsorted(frac, variance - 1e-12) + 1))
    if not 1 <= q <= C:
        raise ValueError(f"pfa_fit: q={q} components of {C}")
    A = evecs[:, :q]                                              # (C, q): one row per column
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(A)
    selected = []
    for j in range(k):                                            # the member nearest each centre
        members = np.flatnonzero(km.labels_ == j)
        if members.size == 0:
            continue
        dist = np.linalg.norm(A[members] - km.cluster_centers_[j], axis=1)
        selected.append(int(members[np.argmin(dist)]))
    if len(selected) < k:
        raise ValueError(f"pfa_fit: only {len(selected)} distinct clusters for k={k} "
                         f"(too many identical columns?)")
    return np.array(sorted(selected), dtype=np.int64)


def pfa_apply(frames: np.ndarray, selected: np.ndarray, *, width: int = DELTA_WIDTH) -> np.ndarray:
    """(T, C) -> (T, 2k): the selected columns, then their first derivatives.

    The derivatives are `emojax.features.dsp.deltas` over `width` frames (least-squares slope over
    t-2 .. t+2 by default; its edge frames take the slope of the first / last `width` frames).
    """
    frames = np.asarray(frames, dtype=np.float64)
    selected = np.asarray(selected)
    if frames.ndim != 2 or (selected.size and selected.max() >= frames.shape[1]):
        raise ValueError(f"pfa_apply: frames of shape {frames.shape} for selected columns "
                         f"up to {selected.max() if selected.size else None}")
    from emojax.features.dsp import deltas              # the audio front end's deltas

    x = frames[:, selected]                                       # (T, k)
    return np.concatenate([x, deltas(x, width)], 1)               # (T, 2k)


def pfa_names(selected: np.ndarray, coordinates: Sequence[str] = FACE_COORDINATES) -> list[str]:
    """Names of `pfa_apply`'s columns, e.g. ``Mou3_y`` then ``Mou3_y_d``."""
    base = [coordinates[i] for i in selected]
    return base + [f"{b}_d" for b in base]


def chunk_means(values: np.ndarray, chunks: int = 200) -> np.ndarray:
    """Tripathi et al. 2019's MoCap input: the frames of an utterance split into `chunks`
    consecutive parts of (nearly) equal size (``numpy.array_split``), each averaged over its
    frames -> (chunks, D). Lost values (NaN) are filled first (`fill_lost`); an utterance with
    fewer frames than `chunks` repeats frames (chunk i takes frame floor(i · n / chunks)), so no
    chunk is empty."""
    x = fill_lost(np.asarray(values, np.float64))
    n = len(x)
    if n == 0:
        return np.zeros((chunks, x.shape[1]), np.float32)
    if n < chunks:
        return x[(np.arange(chunks) * n) // chunks].astype(np.float32)
    return np.stack([p.mean(0) for p in np.array_split(x, chunks)]).astype(np.float32)
