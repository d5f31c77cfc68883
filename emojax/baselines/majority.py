"""The majority-class baseline: every test item gets the largest training class.

Chernykh et al. 2018's "Dummy" classifier (always *neutral* on their IEMOCAP split): the floor that
WA must beat; its UA is 1 / (number of classes present in the test set).
"""
from __future__ import annotations

import numpy as np


def fit_predict(y_train: np.ndarray, n_test: int) -> np.ndarray:
    """``(n_test,)`` int32 predictions, all equal to ``argmax_c #{i: y_train[i] = c}``; a tie goes
    to the smallest class index."""
    y_train = np.asarray(y_train)
    if y_train.size == 0:
        raise ValueError("majority.fit_predict: y_train is empty, there is no majority class")
    if y_train.ndim != 1 or y_train.min() < 0:
        raise ValueError(f"majority.fit_predict: y_train must be 1-D class indices >= 0, got shape "
                         f"{y_train.shape}, min {y_train.min()}")
    return np.full(int(n_test), np.bincount(y_train).argmax(), np.int32)   # argmax: first of ties
