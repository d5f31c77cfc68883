"""Classification metrics over the classes present in the ground truth (DESIGN.md "Conventions").

f1: macro F1 (the papers' "unweighted F1"), ua: mean per-class recall, wa: accuracy.
"""
from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """{"f1", "ua", "wa"} as fractions; macro averages run over classes present in `y_true`."""
    m = confusion(y_true, y_pred, n_classes)
    support, predicted, tp = m.sum(1), m.sum(0), np.diag(m)
    present = support > 0
    recall = tp[present] / support[present]
    precision = np.divide(tp, predicted, out=np.zeros(n_classes), where=predicted > 0)[present]
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return {"f1": float(f1.mean()), "ua": float(recall.mean()), "wa": float(tp.sum() / m.sum())}
