"""Label schemes of Wöllmer et al. 2012 §3: three levels per dimension, k-means clusters of both.

Levels: [1, 2] -> 0, (2, 4) -> 1, [4, 5] -> 2. Clusters: k-means on the *training* fold's
(valence, activation) annotations; every utterance goes to the nearest midpoint (Euclidean).
"""
from __future__ import annotations

import numpy as np

WOELLMER_TASKS = ("valence3", "activation3", "cluster3", "cluster4", "cluster5")


def three_levels(ratings: np.ndarray) -> np.ndarray:
    """Ratings in [1, 5] -> {0, 1, 2} with [1, 2], (2, 4), [4, 5] (the paper's level boundaries)."""
    r = np.asarray(ratings, np.float64)
    return np.where(r <= 2.0, 0, np.where(r < 4.0, 1, 2)).astype(np.int32)


def kmeans_midpoints(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(k, 2) cluster midpoints, sorted by (valence, activation) so class ids are stable across folds."""
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(points)
    c = km.cluster_centers_
    return c[np.lexsort((c[:, 1], c[:, 0]))]


def nearest(points: np.ndarray, midpoints: np.ndarray) -> np.ndarray:
    d = ((points[:, None, :] - midpoints[None, :, :]) ** 2).sum(-1)
    return d.argmin(1).astype(np.int32)


def task_labels(task: str, valence, activation, category, train_idx: np.ndarray, seed: int = 0
                ) -> tuple[np.ndarray, int, dict]:
    """Labels (N,) for every utterance, the number of classes, and what was fitted (midpoints).

    Only the utterances at `train_idx` influence cluster midpoints: the test speaker never does.
    """
    if task in ("valence3", "activation3"):
        r = valence if task == "valence3" else activation
        if r is None:
            raise ValueError(f"task {task}: the corpus has no {task[:-1]} ratings")
        return three_levels(r), 3, {}
    if task.startswith("cluster"):
        if valence is None or activation is None:
            raise ValueError(f"task {task}: needs valence and activation ratings")
        k = int(task[len("cluster"):])
        pts = np.stack([valence, activation], 1)
        mid = kmeans_midpoints(pts[train_idx], k, seed)
        return nearest(pts, mid), k, {"midpoints": mid.round(4).tolist()}
    if task == "category":
        if category is None:
            raise ValueError("task category: the corpus has no category column")
        names = sorted(set(category.tolist()))
        return np.searchsorted(names, category).astype(np.int32), len(names), {"classes": names}
    raise ValueError(f"unknown task {task!r}")


# ------------------------------------------------------------------------------------------------
# IEMOCAP label sets (shared/DESIGN.md "Label sets"): stated, never silently chosen. Each maps the
# corpus's own code (EmoEvaluation summary line) to a class; codes not listed are excluded. The
# classes are the parts of the set's name.
IEMOCAP_LABEL_SETS: dict[str, dict[str, str]] = {
    # happiness merged with excitement: the common choice in later work (SpeechBrain's 5,531),
    # and emojax's reading of Mirsamadi 2017 ("happy")
    "ang_hapexc_neu_sad": {"ang": "ang", "hap": "hapexc", "exc": "hapexc", "neu": "neu",
                           "sad": "sad"},
    # excitement without happiness: Chernykh 2018 and Tripathi 2019 (dummy WA 1,708 / 4,936)
    "ang_exc_neu_sad": {"ang": "ang", "exc": "exc", "neu": "neu", "sad": "sad"},
}
# Utterances of the full release in each set (IEMOCAP_FORMAT.md §3):
# 1103 ang + 595 hap + 1041 exc + 1708 neu + 1084 sad = 5531; without hap, 4936.
IEMOCAP_LABEL_SET_COUNTS = {"ang_hapexc_neu_sad": 5531, "ang_exc_neu_sad": 4936}


def iemocap_classes(codes, label_set: str) -> np.ndarray:
    """IEMOCAP codes (``"exc"``, ``"xxx"``, ...) -> (N,) object array of class names under
    `label_set`, None where the code is excluded (``"xxx"``, ``"fru"``, ...).

    ``iemocap_classes(["hap", "exc", "fru"], "ang_hapexc_neu_sad")`` -> ``["hapexc", "hapexc", None]``.
    Raises `ValueError` for an unknown label set.
    """
    if label_set not in IEMOCAP_LABEL_SETS:
        raise ValueError(f"unknown IEMOCAP label set {label_set!r} (known: "
                         f"{', '.join(IEMOCAP_LABEL_SETS)})")
    mapping = IEMOCAP_LABEL_SETS[label_set]
    codes = [codes] if isinstance(codes, str) else list(np.asarray(codes, dtype=object).ravel())
    out = np.empty(len(codes), dtype=object)
    out[:] = [mapping.get(str(c)) for c in codes]
    return out
