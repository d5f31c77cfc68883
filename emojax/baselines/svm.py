"""The context-free baselines: SVMs on the same normalised, selected utterance features.

`fit_predict`: a linear SVM (Wöllmer 2012). `fit_predict_rbf`: an RBF-kernel SVM with class-balanced
costs (Mirsamadi 2017's baseline). The hyperparameters are chosen on the validation speakers
(carved from the training speakers) from a small grid, then the SVM is refitted on all training
speakers.
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


# C in {1, 10} x gamma in {"scale", 1e-3}. "scale" is sklearn's 1 / (D var(X)), about 1/D for
# z-scored features (0.005 at D = 200); 1e-3 is a 5x wider kernel there (a smoother boundary).
RBF_GRID = ((1.0, "scale"), (10.0, "scale"), (1.0, 1e-3), (10.0, 1e-3))


def fit_predict_rbf(x_train, y_train, x_val, y_val, x_test, *, grid=RBF_GRID, seed: int = 0,
                    select: str = "ua", class_weight: str | dict | None = "balanced"
                    ) -> tuple[np.ndarray, dict]:
    """Mirsamadi et al. 2017's baseline: ``sklearn.svm.SVC(kernel="rbf")`` with class-balanced
    costs ("the cost of each example is scaled according to the number of examples in that
    category": ``C_c = C n / (K n_c)``, sklearn's ``class_weight="balanced"``).

    ``grid`` holds ``(C, gamma)`` pairs (gamma as sklearn takes it: ``"scale"``, ``"auto"`` or a
    float); the pair maximising the validation ``select`` metric (``ua``, ``wa`` or ``f1``; the
    first of equals) is refitted on train + validation and predicts ``x_test``. Returns
    ``(pred (N_test,) int32, info)`` with info = {"C", "gamma", "val_<select>", "class_weight",
    "weights": the refitted model's per-class cost factors, class index -> factor}.
    """
    from sklearn.svm import SVC

    from emojax.train.metrics import scores
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    n_classes = int(max(y_train.max(), y_val.max())) + 1

    def svc(c, gamma):
        return SVC(C=c, kernel="rbf", gamma=gamma, class_weight=class_weight, random_state=seed)

    best = None
    for c, gamma in grid:
        value = scores(y_val, svc(c, gamma).fit(x_train, y_train).predict(x_val), n_classes)[select]
        if best is None or value > best[0]:
            best = (value, c, gamma)
    value, c, gamma = best
    model = svc(c, gamma).fit(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    weights = {int(k): round(float(w), 6) for k, w in zip(model.classes_, model.class_weight_)}
    return model.predict(x_test).astype(np.int32), {
        "C": c, "gamma": gamma, f"val_{select}": round(value, 4),
        "class_weight": class_weight if isinstance(class_weight, (str, type(None))) else "dict",
        "weights": weights}
