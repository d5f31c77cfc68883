"""Chernykh et al. 2018, §4.2.1: the frame-wise Random Forest baseline.

  1. take the k = 2 loudest frames of each training utterance and give them the utterance's label;
  2. train a frame classifier (a Random Forest) on those frames;
  3. label every frame of every test utterance with it;
  4. an utterance's class is the majority vote of its frames' labels.

Loudness is passed in by the caller. emojax uses the ``energy`` descriptor of the ``chernykh2018``
feature set (`emojax.features.pyaa`: pyAudioAnalysis's frame energy, the sum of squares over the
window length N), which by Parseval is the frame's spectral power, the paper's loudness. The
features of the forest are the frames' whole feature vectors (energy included).

`fit_predict_select` picks the forest's hyperparameters on the validation speakers, then refits on
train + validation (the pattern of `emojax.baselines.svm.fit_predict`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SETTINGS = ("k", "n_estimators", "max_depth")        # what a selection grid may set


def loudest_frames(frames: np.ndarray, loudness: np.ndarray, k: int = 2) -> np.ndarray:
    """Indices (in time order) of the ``k`` loudest frames of one utterance ``frames (T, D)``,
    ``loudness (T,)``. Equal loudness: the earlier frame first. ``T <= k``: all ``T`` frames."""
    loudness = np.asarray(loudness)
    if loudness.shape != (len(frames),):
        raise ValueError(f"loudness {loudness.shape} must be ({len(frames)},), one value per frame "
                         f"of frames {np.shape(frames)}")
    if not np.all(np.isfinite(loudness)):
        bad = np.flatnonzero(~np.isfinite(loudness)).tolist()
        raise ValueError(f"loudness is not finite at frames {bad[:10]}")
    if k < 1:
        raise ValueError(f"k = {k}: need at least one frame per utterance")
    order = np.argsort(-loudness, kind="stable")       # loudest first; stable: ties keep time order
    return np.sort(order[:k])


def _training_frames(frames, loudness, y, k):
    """(X (sum_i min(k, T_i), D), labels) from the k loudest frames of each utterance."""
    if not (len(frames) == len(loudness) == len(y)):
        raise ValueError(f"{len(frames)} utterances of frames, {len(loudness)} of loudness and "
                         f"{len(y)} labels: they must match")
    picks = [np.asarray(f)[loudest_frames(f, l, k)] for f, l in zip(frames, loudness)]
    labels = np.concatenate([np.full(len(p), c) for p, c in zip(picks, y)])
    return np.concatenate(picks), labels


def vote(probs: np.ndarray) -> int:
    """The majority vote of one utterance's frames from their class probabilities ``(T, C)``.

    Each frame votes for its most probable class (first of equals, as ``RandomForest.predict``);
    the class with the most votes wins; a tie goes to the larger summed frame probability, then to
    the smallest class index.
    """
    if probs.shape[0] == 0:
        raise ValueError("an utterance with no frames has no vote")
    C = probs.shape[1]
    votes = np.bincount(probs.argmax(1), minlength=C)
    mass = probs.sum(0)
    return int(max(range(C), key=lambda c: (votes[c], mass[c], -c)))


def fit_predict(train_frames: Sequence[np.ndarray], train_loudness: Sequence[np.ndarray],
                y_train: np.ndarray, test_frames: Sequence[np.ndarray], *, k: int = 2,
                n_estimators: int = 100, max_depth: int | None = None, seed: int = 0,
                n_jobs: int = 1, n_classes: int | None = None
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fit on the loudest frames of the training utterances; vote on every frame of the test ones.

    ``train_frames[i] (T_i, D)``, ``train_loudness[i] (T_i,)``, ``y_train (N,)``; returns
    ``pred (N_test,)`` int32 (see `vote`) and ``frame_probs[j] (T_j, C)``, the forest's class
    probabilities of every frame of test utterance j (posteriors over time). Columns are the class
    indices 0 .. C-1, with ``C = n_classes`` or ``max(y_train) + 1``; a class absent from training
    gets a column of zeros.
    """
    from sklearn.ensemble import RandomForestClassifier

    y_train = np.asarray(y_train)
    C = int(y_train.max()) + 1 if n_classes is None else int(n_classes)
    if y_train.max() >= C:
        raise ValueError(f"y_train has class {int(y_train.max())}, outside n_classes = {C}")
    X, labels = _training_frames(train_frames, train_loudness, y_train, k)
    forest = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                    random_state=seed, n_jobs=n_jobs).fit(X, labels)
    empty = [j for j, f in enumerate(test_frames) if len(f) == 0]
    if empty:
        raise ValueError(f"test utterances {empty[:5]} have no frames: nothing to vote")
    lengths = [len(f) for f in test_frames]
    probs = np.zeros((sum(lengths), C))                                   # every test frame at once
    probs[:, forest.classes_.astype(int)] = forest.predict_proba(np.concatenate(test_frames))
    frame_probs = np.split(probs, np.cumsum(lengths)[:-1])
    pred = np.array([vote(p) for p in frame_probs], np.int32)
    return pred, frame_probs


def fit_predict_select(train_frames, train_loudness, y_train, test_frames, val_frames,
                       val_loudness, y_val, *,
                       grid: Sequence[dict] = ({"max_depth": None}, {"max_depth": 8}),
                       select: str = "ua", k: int = 2, n_estimators: int = 100, seed: int = 0,
                       n_jobs: int = 1, n_classes: int | None = None
                       ) -> tuple[np.ndarray, list[np.ndarray], dict]:
    """`fit_predict` with its settings chosen on the validation utterances.

    Each grid point (a dict of ``k``, ``n_estimators``, ``max_depth`` over the keyword defaults) is
    fitted on train and scored on validation by ``select`` (``ua``, ``wa`` or ``f1`` of
    `emojax.train.metrics.scores`); the best (the first of equals) is refitted on train +
    validation and predicts test. Returns ``(pred, frame_probs, info)``, info = the chosen settings,
    ``val_<select>`` and every grid point's validation score. ``n_classes`` defaults to
    ``max(y_train, y_val) + 1``.
    """
    from emojax.train.metrics import scores

    for point in grid:
        if set(point) - set(_SETTINGS):
            raise ValueError(f"grid point {point} sets {sorted(set(point) - set(_SETTINGS))}; "
                             f"a grid may set {_SETTINGS}")
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    C = int(max(y_train.max(), y_val.max())) + 1 if n_classes is None else int(n_classes)
    base = {"k": k, "n_estimators": n_estimators, "max_depth": None}
    tried, best = [], None
    for point in grid:
        settings = {**base, **point}
        pred, _ = fit_predict(train_frames, train_loudness, y_train, val_frames, seed=seed,
                              n_jobs=n_jobs, n_classes=C, **settings)
        value = scores(y_val, pred, C)[select]
        tried.append({**point, f"val_{select}": round(value, 4)})
        if best is None or value > best[0]:
            best = (value, settings)
    pred, frame_probs = fit_predict(list(train_frames) + list(val_frames),
                                    list(train_loudness) + list(val_loudness),
                                    np.concatenate([y_train, y_val]), test_frames, seed=seed,
                                    n_jobs=n_jobs, n_classes=C, **best[1])
    return pred, frame_probs, {**best[1], f"val_{select}": round(best[0], 4), "grid": tried}

