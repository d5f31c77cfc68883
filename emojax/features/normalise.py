"""Feature normalisation, always fitted on training data only and applied to every split.

`zscore_fit` / `zscore_apply` are the plain column z-score (the statistics are returned so they can
be stored with a fold and re-applied by the analysis).

`fit(kind, x, speaker, *, train_mask, labels=None, neutral="neu") -> Stats` and
`apply(stats, x, speaker) -> x` add the speaker-aware kinds, for utterance features (N, D) or
frame features (a list of N arrays (T_i, D), statistics pooled over frames):

=================  ================================================================================
``global``         one mean/std over the training rows (= `zscore_fit`)
``per_speaker``    each speaker's own mean/std. A training speaker's statistics come from its
                   training rows. A speaker with no training rows (a test speaker) is normalised
                   by the statistics of *its own rows passed to* `apply` -- unsupervised
                   per-speaker normalisation: it uses the test speaker's features, never a label.
                   Pass all of a test speaker's utterances to `apply` in one call.
``neutral``        Mirsamadi et al. 2017, sec. 4 ("normalized by the ... mean and standard
                   deviations of neutral speech features in the training set"), per speaker: each
                   training speaker's mean/std over its *neutral-labelled training* rows; a speaker
                   without neutral training rows (every test speaker in a speaker-independent
                   fold, whose labels are never read) falls back to the global neutral statistics,
                   those of all neutral training rows.
``neutral_global`` Mirsamadi's sentence read literally: the global neutral statistics for every
                   speaker. Under a speaker-independent protocol this treats training and test
                   speakers alike, where ``neutral`` normalises training speakers by their own
                   neutral speech but test speakers by the pooled one.
=================  ================================================================================

Only rows with ``train_mask`` enter `fit` (their features, and for the neutral kinds their labels):
changing any other row changes nothing in `Stats`. A column whose std is <= eps gets std 1 (it is
only centred), as in `zscore_fit`. `apply` returns float32.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence, Union

import numpy as np

__all__ = ["KINDS", "Stats", "fit", "apply", "zscore_fit", "zscore_apply"]

KINDS = ("global", "per_speaker", "neutral", "neutral_global")

Features = Union[np.ndarray, Sequence[np.ndarray]]   # (N, D) or N arrays (T_i, D)


def zscore_fit(x_train: np.ndarray, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per column of the training rows; a constant column gets std 1 (left centred)."""
    mu = x_train.mean(0)
    sd = x_train.std(0)
    return mu, np.where(sd > eps, sd, 1.0)


def zscore_apply(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """(x - mu) / sd as float32."""
    return ((x - mu[None]) / sd[None]).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Stats:
    """Fitted normalisation statistics.

    kind: one of `KINDS`. mean, std: (D,) the fallback statistics -- of all training rows
    (``global``, ``per_speaker``) or of all neutral training rows (``neutral``, ``neutral_global``).
    speakers: the speakers with their own statistics, rows of speaker_mean / speaker_std (S, D);
    empty for ``global`` and ``neutral_global``. counts: rows (or frames) behind each speaker's
    statistics, (S,). eps: the std floor used.
    """
    kind: str
    mean: np.ndarray
    std: np.ndarray
    speakers: tuple[str, ...] = ()
    speaker_mean: np.ndarray | None = None
    speaker_std: np.ndarray | None = None
    counts: np.ndarray | None = None
    eps: float = 1e-8

    def lookup(self, speaker: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The speaker's own (mean, std), or None when it has none in these statistics."""
        if speaker in self.speakers:
            i = self.speakers.index(speaker)
            return self.speaker_mean[i], self.speaker_std[i]
        return None


def _frames(x: Features, what: str) -> tuple[list[np.ndarray] | np.ndarray, bool, int, int]:
    """(x, is_frames, N, D) with shape checks."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        return x, False, x.shape[0], x.shape[1]
    if isinstance(x, np.ndarray) and x.dtype != object:
        raise ValueError(f"{what}: expected (N, D) utterance features or a list of (T_i, D) "
                         f"frame arrays, got an array of shape {x.shape}")
    arrs = [np.asarray(a) for a in x]
    bad = [i for i, a in enumerate(arrs) if a.ndim != 2]
    if bad:
        raise ValueError(f"{what}: item {bad[0]} has shape {arrs[bad[0]].shape}, not (T_i, D)")
    dims = sorted({a.shape[1] for a in arrs})
    if len(dims) > 1:
        raise ValueError(f"{what}: frame arrays have different numbers of columns {dims}")
    return arrs, True, len(arrs), (dims[0] if dims else 0)


def _rows(x, is_frames: bool, idx: np.ndarray) -> np.ndarray:
    return np.concatenate([x[i] for i in idx], 0) if is_frames else x[idx]


def _moments(rows: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = zscore_fit(rows.astype(np.float64), eps)
    return mu, sd


def _vector(v, n: int, what: str) -> np.ndarray:
    v = np.asarray(v)
    if v.shape != (n,):
        raise ValueError(f"{what}: expected shape ({n},) (one per utterance), got {v.shape}")
    return v


def fit(kind: str, x: Features, speaker, *, train_mask, labels=None,
        neutral: str | Sequence[str] = "neu", eps: float = 1e-8) -> Stats:
    """Normalisation statistics from the training rows only.

    Args:
      kind: one of `KINDS` (see the module docstring).
      x: (N, D) utterance features, or N frame arrays (T_i, D) (statistics pooled over frames).
      speaker: (N,) speaker of each utterance.
      train_mask: (N,) bool, the training rows; nothing else is read.
      labels: (N,) class names, required by the neutral kinds (only training rows are read).
      neutral: the neutral class name(s) in `labels` (IEMOCAP's code ``neu`` by default).
      eps: a column with std <= eps gets std 1.
    """
    if kind not in KINDS:
        raise ValueError(f"normalisation kind {kind!r}: choose one of {', '.join(KINDS)}")
    x, is_frames, N, D = _frames(x, "x")
    speaker = _vector(speaker, N, "speaker").astype(str)
    train = _vector(train_mask, N, "train_mask")
    if train.dtype != bool:
        raise ValueError(f"train_mask: expected booleans, got dtype {train.dtype}")
    if not train.any():
        raise ValueError("train_mask selects no training rows")
    fit_rows = train
    if kind in ("neutral", "neutral_global"):
        if labels is None:
            raise ValueError(f"normalisation {kind!r} needs labels (the class of each utterance)")
        labels = _vector(labels, N, "labels").astype(str)
        names = {neutral} if isinstance(neutral, str) else set(neutral)
        fit_rows = train & np.isin(labels, sorted(names))
        if not fit_rows.any():
            found = sorted(set(labels[train]))
            raise ValueError(f"normalisation {kind!r}: no training row is labelled "
                             f"{sorted(names)}; training labels are {found[:10]}")
    rows = _rows(x, is_frames, np.flatnonzero(fit_rows))
    if rows.shape[0] == 0:
        raise ValueError(f"normalisation {kind!r}: the selected training utterances have no frames")
    if not np.isfinite(rows).all():
        raise ValueError(f"normalisation {kind!r}: non-finite values in the training features")
    mean, std = _moments(rows, eps)
    if kind in ("global", "neutral_global"):
        return Stats(kind, mean, std, eps=eps)
    spk = tuple(sorted(set(speaker[fit_rows])))
    mus, sds, counts = [], [], []
    for s in spk:                                       # a loop over speakers (~10), not rows
        r = _rows(x, is_frames, np.flatnonzero(fit_rows & (speaker == s)))
        mu, sd = _moments(r, eps)
        mus.append(mu), sds.append(sd), counts.append(r.shape[0])
    return Stats(kind, mean, std, spk, np.stack(mus), np.stack(sds), np.array(counts), eps)


def apply(stats: Stats, x: Features, speaker) -> np.ndarray | list[np.ndarray]:
    """(x - mean) / std with each utterance's statistics (see `fit`), as float32.

    x: (N, D) or N arrays (T_i, D), as given to `fit` (any rows: training, validation, test).
    For ``per_speaker``, a speaker unseen in training gets the statistics of its own rows in `x`.
    """
    if stats.kind not in KINDS:
        raise ValueError(f"normalisation kind {stats.kind!r}: choose one of {', '.join(KINDS)}")
    x, is_frames, N, D = _frames(x, "x")
    if D != stats.mean.shape[0] and N:
        raise ValueError(f"x has {D} columns; the statistics were fitted on {stats.mean.shape[0]}")
    speaker = _vector(speaker, N, "speaker").astype(str)
    mu = np.empty((N, D))
    sd = np.empty((N, D))
    for s in sorted(set(speaker)):
        at = speaker == s
        own = stats.lookup(s)
        if own is None and stats.kind == "per_speaker":  # unsupervised: the speaker's own rows
            own = _moments(_rows(x, is_frames, np.flatnonzero(at)), stats.eps)
        m, d = own if own is not None else (stats.mean, stats.std)
        mu[at], sd[at] = m, d
    if not is_frames:
        return ((x - mu) / sd).astype(np.float32)
    return [((a - mu[i]) / sd[i]).astype(np.float32) for i, a in enumerate(x)]
