"""The context-free baseline: a linear SVM on the same normalised, selected utterance features.

C is chosen on the validation speakers (carved from the training speakers) from a small grid, then
the SVM is refitted on all training speakers.
"""
from __future__ import annotations

import numpy as np


def fit_predict(x_train, y_train, x_val, y_val, x_test, *, grid=(0.001, 0.01, 0.1, 1.0),
                seed: int = 0) -> tuple[np.ndarray, dict]:
    """Predictions for `x_test` and {"C": chosen, "val_f1": ...}."""
    from sklearn.svm import LinearSVC

    from emojax.train.metrics import scores
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    best = (-1.0, grid[0])
    for c in grid:
        m = LinearSVC(C=c, dual=False, random_state=seed).fit(x_train, y_train)
        f1 = scores(y_val, m.predict(x_val), n_classes)["f1"]
        best = max(best, (f1, c))
    model = LinearSVC(C=best[1], dual=False, random_state=seed).fit(
        np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    return model.predict(x_test).astype(np.int32), {"C": best[1], "val_f1": round(best[0], 4)}
