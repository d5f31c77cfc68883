"""Statistics over folds: mean ± sample std, and the paired t-test with a Shapiro–Wilk check.

Wöllmer 2012 §5.1 compares BLSTM with BLSTM-shuffled by a paired t-test over the 10 folds' F1 and
checks normality with Shapiro–Wilk; we run Shapiro–Wilk on the paired differences.
"""
from __future__ import annotations

import numpy as np


def mean_std(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def paired_test(a, b) -> dict[str, float]:
    """Two-sided paired t-test of a vs b; ``shapiro_p`` tests normality of a - b (needs >= 3 folds)."""
    from scipy import stats
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = a - b
    if d.size < 2 or np.allclose(d, d[0]):
        t, p = (0.0, 1.0) if np.allclose(d, 0) else (float(np.sign(d[0]) * np.inf), 0.0)
    else:
        r = stats.ttest_rel(a, b)
        t, p = float(r.statistic), float(r.pvalue)
    sw = float(stats.shapiro(d).pvalue) if d.size >= 3 and not np.allclose(d, d[0]) else float("nan")
    return {"t": t, "p": p, "shapiro_p": sw}
