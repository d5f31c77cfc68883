"""Speaker-independent folds: leave-one-speaker-out, and a validation split of the training speakers."""
from __future__ import annotations

import numpy as np


def leave_one_speaker_out(speaker: np.ndarray, folds: int | None = None) -> list[list[str]]:
    """Groups of test speakers, one group per fold (sorted names; `folds` groups them round-robin).

    With N speakers and ``folds=None`` there are N folds (Wöllmer 2012: 10 speakers, 10 folds).
    """
    names = sorted(set(np.asarray(speaker).tolist()))
    if folds is None or folds >= len(names):
        return [[s] for s in names]
    if folds < 2:
        raise ValueError(f"folds={folds}: need at least 2")
    return [names[i::folds] for i in range(folds)]


def validation_speakers(train_speakers: list[str], fraction: float, seed: int) -> list[str]:
    """A deterministic subset of the *training* speakers for early stopping (never the test fold)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(fraction * len(train_speakers))))
    return sorted(rng.choice(sorted(train_speakers), size=n, replace=False).tolist())
