"""The context-free baseline: a linear SVM on the same normalised, selected utterance features.

C is chosen on the validation speakers (carved from the training speakers) from a small grid, then
the SVM is refitted on all training speakers.
"""
from __future__ import annotations

import numpy as np


def fit_predict(x_train, y_train, x_val, y_val, x_test, *, grid=(0.001, 0.01, 0.1, 1.0),
                seed: int = 0, select: str = "f1", class_weight: str | None = None
                ) -> tuple[np.ndarray, dict]:
    """Predictions for `x_test` and {"C": chosen, "val_<select>": ...}; C maximises the validation
    `select` metric (``f1``, ``ua`` or ``wa``); ``class_weight="balanced"`` for UA-scored tasks."""
    from sklearn.svm import LinearSVC

    from emojax.train.metrics import scores
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    best = (-1.0, grid[0])
    for c in grid:
        m = LinearSVC(C=c, dual=False, class_weight=class_weight, random_state=seed).fit(x_train, y_train)
        best = max(best, (scores(y_val, m.predict(x_val), n_classes)[select], c))
    model = LinearSVC(C=best[1], dual=False, class_weight=class_weight, random_state=seed).fit(
        np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    return model.predict(x_test).astype(np.int32), {"C": best[1], f"val_{select}": round(best[0], 4)}
