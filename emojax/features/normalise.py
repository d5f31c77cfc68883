"""Feature normalisation, always fitted on training data only and applied to every split.

`zscore_fit` returns the statistics (so they can be stored with a fold and re-applied by the
analysis); per-speaker and neutral-speech statistics join this module with the audio front end.
"""
from __future__ import annotations

import numpy as np


def zscore_fit(x_train: np.ndarray, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per column of the training rows; a constant column gets std 1 (left centred)."""
    mu = x_train.mean(0)
    sd = x_train.std(0)
    return mu, np.where(sd > eps, sd, 1.0)


def zscore_apply(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """(x - mu) / sd as float32."""
    return ((x - mu[None]) / sd[None]).astype(np.float32)
