"""Utterance functionals: statistics of each frame descriptor over an utterance's valid frames.

Wöllmer et al. 2012, sec. 4: "means, standard deviations, linear and quadratic regression
parameters (slope, offset, linear/quadratic approximation error), maximum and minimum positions,
skewness, kurtosis, quartiles, inter-quartile ranges, and percentiles" (there from openSMILE).

`functionals(frames, mask)` takes one utterance (T, D) or a padded batch (B, T, D) with a mask
(B, T) -- or (B, T, D) when descriptors have their own valid frames, e.g. pitch on voiced frames
only -- and returns the functionals of every descriptor, named ``<descriptor>__<functional>``,
descriptor-major (all functionals of descriptor 0 first). It is vectorised over utterances, frames
and descriptors. Every functional is computed over the valid frames *only*, as if the others were
cut out: a descriptor's n valid frames, in order, are its frames i = 0 .. n-1, values y_i.

- ``mean``, ``std``: mean and *population* standard deviation (ddof = 0, as openSMILE).
- ``min``, ``max``, ``range`` (max - min).
- ``minpos``, ``maxpos``: relative position of the first minimum / maximum, i / (n - 1) in [0, 1];
  0 when n = 1.
- ``skewness``: biased Fisher-Pearson g1 = m3 / m2^(3/2) (scipy.stats.skew, bias=True).
- ``kurtosis``: **excess** and biased, g2 = m4 / m2^2 - 3 (scipy.stats.kurtosis, fisher=True,
  bias=True). openSMILE reports m4 / m2^2, ours + 3: a constant shift.
- ``q1``, ``q2``, ``q3``: the quartiles (percentiles 25, 50, 75); ``iqr1_2``, ``iqr2_3``,
  ``iqr1_3``: the inter-quartile ranges q2 - q1, q3 - q2, q3 - q1; ``p01``, ``p99``: percentiles 1
  and 99. Percentiles interpolate linearly between order statistics, the p-th at rank
  p/100 (n - 1) (numpy's default ``method="linear"``, Hyndman & Fan type 7).
- ``linreg_slope``, ``linreg_offset``: the least-squares line y_i ~ slope i + offset over the frame
  index (slope per frame; offset: the line at the first valid frame); ``linreg_mse``: its
  *quadratic* approximation error, the mean squared residual (openSMILE's linregerrQ).
- ``qreg_a``, ``qreg_b``, ``qreg_c``: the least-squares parabola y_i ~ a i^2 + b i + c;
  ``qreg_mse``: its mean squared residual (openSMILE's qregerrQ).

Edge cases: one valid frame gives std = range = 0, positions 0, slope 0, offset = c = the value,
a = b = 0, errors 0; two valid frames give the line through them and a = 0 (a parabola through two
points is not determined; emojax takes the line). A *constant* descriptor (max == min, which
includes n = 1) has skewness and kurtosis defined as 0 (their moment ratio is 0/0). A descriptor
with no valid frame in some utterance (all masked), or a non-finite value on a valid frame, raises
`ValueError` naming the utterance and the descriptor. Values are float64.

`utterance_functionals(list of (T_i, D))` does the padding and masking for ragged utterances;
`write_utterance_table(path, rows, values, names)` writes DESIGN.md's utterance table (the rows'
metadata columns, then one column per functional) atomically.
"""
from __future__ import annotations

import functools
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["ALL", "functionals", "functional_names", "utterance_functionals",
           "write_utterance_table"]

ALL: tuple[str, ...] = (
    "mean", "std", "min", "max", "range", "minpos", "maxpos", "skewness", "kurtosis",
    "q1", "q2", "q3", "iqr1_2", "iqr2_3", "iqr1_3", "p01", "p99",
    "linreg_slope", "linreg_offset", "linreg_mse",
    "qreg_a", "qreg_b", "qreg_c", "qreg_mse",
)

_CHUNK_ELEMENTS = 1 << 22        # B*T*D per chunk: ~32 MB per float64 intermediate


class _Moments:
    """Pieces shared by several functionals, computed once; y (B, T, D) float64, m bool."""

    def __init__(self, y: np.ndarray, m: np.ndarray):
        self.y, self.m = y, m
        self.n = m.sum(1)                                   # (B, D) valid frames, all >= 1
        self.nf = self.n.astype(np.float64)

    @functools.cached_property
    def mean(self):
        return np.where(self.m, self.y, 0.0).sum(1) / self.nf

    @functools.cached_property
    def dev(self):                                   # (B, T, D), 0 on invalid frames
        return np.where(self.m, self.y - self.mean[:, None], 0.0)

    def central(self, k: int) -> np.ndarray:
        return (self.dev ** k).sum(1) / self.nf

    @functools.cached_property
    def m2(self):
        return self.central(2)

    @functools.cached_property
    def argmin(self):
        return np.where(self.m, self.y, np.inf).argmin(1)   # first occurrence, (B, D)

    @functools.cached_property
    def argmax(self):
        return np.where(self.m, self.y, -np.inf).argmax(1)

    @functools.cached_property
    def min(self):
        return np.take_along_axis(self.y, self.argmin[:, None], 1)[:, 0]

    @functools.cached_property
    def max(self):
        return np.take_along_axis(self.y, self.argmax[:, None], 1)[:, 0]

    @functools.cached_property
    def constant(self):
        return self.max == self.min

    @functools.cached_property
    def rank(self):                                          # (B, T, D) index among valid frames
        return np.cumsum(self.m, axis=1) - 1

    def position(self, t: np.ndarray) -> np.ndarray:
        r = np.take_along_axis(self.rank, t[:, None], 1)[:, 0]
        return r / np.maximum(self.nf - 1.0, 1.0)

    @functools.cached_property
    def sorted(self):                                        # valid values first, ascending
        return np.sort(np.where(self.m, self.y, np.inf), axis=1)

    def percentile(self, p: float) -> np.ndarray:
        pos = p / 100.0 * (self.nf - 1.0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, self.n - 1)
        frac = pos - lo
        s_lo = np.take_along_axis(self.sorted, lo[:, None], 1)[:, 0]
        s_hi = np.take_along_axis(self.sorted, hi[:, None], 1)[:, 0]
        return s_lo + frac * (s_hi - s_lo)

    @functools.cached_property
    def x(self):                                             # frame index among valid frames
        return np.where(self.m, self.rank, 0).astype(np.float64)

    @functools.cached_property
    def linreg(self):
        """(slope, offset, mse); x = 0 .. n-1 so mean(x) = (n-1)/2, Sxx = n (n^2 - 1) / 12."""
        xbar = (self.nf - 1.0) / 2.0
        sxx = self.nf * (self.nf ** 2 - 1.0) / 12.0
        sxy = ((self.x - xbar[:, None]) * self.dev).sum(1)  # dev is 0 on invalid frames
        slope = np.divide(sxy, sxx, out=np.zeros_like(sxy), where=sxx > 0)
        offset = self.mean - slope * xbar
        resid = np.where(self.m, self.y - (slope[:, None] * self.x + offset[:, None]), 0.0)
        return slope, offset, (resid ** 2).sum(1) / self.nf

    @functools.cached_property
    def qreg(self):
        """(a, b, c, mse) of y ~ a x^2 + b x + c, solved in u = (x - xbar) / h in [-1, 1] (well
        conditioned for long utterances), then mapped back to x; n < 3 takes the line (a = 0)."""
        n = self.nf
        xbar = (n - 1.0) / 2.0
        h = np.maximum(xbar, 0.5)
        u = np.where(self.m, (self.x - xbar[:, None]) / h[:, None], 0.0)
        U = [self.nf] + [(u ** k).sum(1) for k in range(1, 5)]   # sums of u^k over valid frames
        M = np.stack([np.stack([U[4], U[3], U[2]], -1),
                      np.stack([U[3], U[2], U[1]], -1),
                      np.stack([U[2], U[1], U[0]], -1)], -2)      # (B, D, 3, 3) normal equations
        r = np.stack([(u ** 2 * self.dev).sum(1), (u * self.dev).sum(1),
                      np.zeros_like(n)], -1)                      # fit y - mean; C gets mean back
        ok = self.n >= 3
        M = np.where(ok[..., None, None], M, np.eye(3))
        A, B, C = np.moveaxis(np.linalg.solve(M, r[..., None])[..., 0], -1, 0)
        A, B, C = np.where(ok, A, 0.0), np.where(ok, B, 0.0), np.where(ok, C, 0.0) + self.mean
        fit = A[:, None] * u ** 2 + B[:, None] * u + C[:, None]
        resid = np.where(self.m, self.y - fit, 0.0)
        a = A / h ** 2
        b = B / h - 2.0 * A * xbar / h ** 2
        c = A * xbar ** 2 / h ** 2 - B * xbar / h + C
        slope, offset, lin_mse = self.linreg
        a = np.where(ok, a, 0.0)
        b = np.where(ok, b, slope)
        c = np.where(ok, c, offset)
        mse = np.where(ok, (resid ** 2).sum(1) / self.nf, lin_mse)
        return a, b, c, mse


def _skewness(s: _Moments) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g = s.central(3) / s.m2 ** 1.5
    return np.where(s.constant | (s.m2 <= 0), 0.0, g)


def _kurtosis(s: _Moments) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g = s.central(4) / s.m2 ** 2 - 3.0
    return np.where(s.constant | (s.m2 <= 0), 0.0, g)


_FUNCTIONALS = {
    "mean": lambda s: s.mean,
    "std": lambda s: np.sqrt(s.m2),
    "min": lambda s: s.min,
    "max": lambda s: s.max,
    "range": lambda s: s.max - s.min,
    "minpos": lambda s: s.position(s.argmin),
    "maxpos": lambda s: s.position(s.argmax),
    "skewness": _skewness,
    "kurtosis": _kurtosis,
    "q1": lambda s: s.percentile(25),
    "q2": lambda s: s.percentile(50),
    "q3": lambda s: s.percentile(75),
    "iqr1_2": lambda s: s.percentile(50) - s.percentile(25),
    "iqr2_3": lambda s: s.percentile(75) - s.percentile(50),
    "iqr1_3": lambda s: s.percentile(75) - s.percentile(25),
    "p01": lambda s: s.percentile(1),
    "p99": lambda s: s.percentile(99),
    "linreg_slope": lambda s: s.linreg[0],
    "linreg_offset": lambda s: s.linreg[1],
    "linreg_mse": lambda s: s.linreg[2],
    "qreg_a": lambda s: s.qreg[0],
    "qreg_b": lambda s: s.qreg[1],
    "qreg_c": lambda s: s.qreg[2],
    "qreg_mse": lambda s: s.qreg[3],
}
assert tuple(_FUNCTIONALS) == ALL


def _check_which(which: Sequence[str]) -> tuple[str, ...]:
    which = (which,) if isinstance(which, str) else tuple(which)
    bad = [w for w in which if w not in _FUNCTIONALS]
    if bad or not which:
        raise ValueError(f"unknown functional(s) {bad!r}; choose from {', '.join(ALL)}"
                         if bad else "which: no functional requested")
    if len(set(which)) != len(which):
        raise ValueError(f"which: functionals listed twice: {which!r}")
    return which


def functional_names(names: Sequence[str], which: Sequence[str] = ALL) -> list[str]:
    """``<descriptor>__<functional>``, descriptor-major: the columns `functionals` returns."""
    which = _check_which(which)
    return [f"{d}__{f}" for d in names for f in which]


def _as_mask(mask, shape: tuple[int, int, int], single: bool) -> np.ndarray:
    B, T, D = shape
    if mask is None:
        return np.ones(shape, bool)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        if not (np.issubdtype(mask.dtype, np.integer) and np.isin(mask, (0, 1)).all()):
            raise ValueError(f"mask: expected booleans (or 0/1), got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if single:
        mask = mask[None]
    if mask.shape == (B, T):
        return np.broadcast_to(mask[:, :, None], shape)
    if mask.shape == (B, T, D):
        return mask
    want = "(T,) or (T, D)" if single else "(B, T) or (B, T, D)"
    got = mask.shape[1:] if single else mask.shape
    raise ValueError(f"mask has shape {got}; frames {shape[1:] if single else shape} need {want}")


def functionals(frames, mask=None, *, names: Sequence[str] | None = None,
                which: Sequence[str] = ALL) -> tuple[np.ndarray, list[str]]:
    """Functionals of every descriptor over each utterance's valid frames.

    Args:
      frames: (T, D) one utterance, or (B, T, D) a padded batch (padding may hold anything).
      mask: None (every frame valid), (T,) / (B, T) valid frames, or (T, D) / (B, T, D) per
        descriptor.
      names: the D descriptor names (default ``d0``, ``d1``, ...).
      which: functionals to compute, a subset of `ALL` in any order.

    Returns:
      values: (D * F,) or (B, D * F) float64, descriptor-major; names: the D * F column names
        ``<descriptor>__<functional>``.
    """
    which = _check_which(which)
    y = np.asarray(frames)
    single = y.ndim == 2
    if y.ndim not in (2, 3):
        raise ValueError(f"frames: expected (T, D) or (B, T, D), got shape {y.shape}")
    if single:
        y = y[None]
    B, T, D = y.shape
    names = [f"d{j}" for j in range(D)] if names is None else list(names)
    if len(names) != D:
        raise ValueError(f"names: {len(names)} descriptor names for {D} descriptors")
    m = _as_mask(mask, (B, T, D), single)
    where = (lambda b: "the utterance") if single else (lambda b: f"utterance {b}")
    out = _compute(y, m, names, which, where)
    return (out[0] if single else out), functional_names(names, which)


def _compute(y: np.ndarray, m: np.ndarray, names: list[str], which: tuple[str, ...],
             where) -> np.ndarray:
    """(B, T, D), mask (B, T, D) -> (B, D * F); `where(b)` names utterance b in errors."""
    B, T, D = y.shape
    if T == 0 or not m.any(1).all():
        b, d = (0, 0) if T == 0 else np.argwhere(~m.any(1))[0]
        raise ValueError(f"{where(b)}: descriptor {names[d]!r} has no valid frame (all masked)")
    bad = m & ~np.isfinite(y)
    if bad.any():
        b, t, d = np.argwhere(bad)[0]
        raise ValueError(f"{where(b)}, frame {t}: descriptor {names[d]!r} is {y[b, t, d]} "
                         f"(functionals need finite values on valid frames)")
    step = max(1, _CHUNK_ELEMENTS // max(1, T * D))
    out = np.empty((B, D, len(which)))
    for lo in range(0, B, step):                                 # chunks bound the memory
        s = _Moments(y[lo:lo + step].astype(np.float64), m[lo:lo + step])
        for k, w in enumerate(which):
            out[lo:lo + step, :, k] = _FUNCTIONALS[w](s)
    return out.reshape(B, D * len(which))


def utterance_functionals(utterances: Sequence[np.ndarray], *, names: Sequence[str] | None = None,
                          which: Sequence[str] = ALL) -> tuple[np.ndarray, list[str]]:
    """`functionals` of N utterances of different lengths, each (T_i, D): (N, D * F), names.

    Utterances are padded in batches of similar length (sorted by length), so padding stays small.
    """
    if len(utterances) == 0:
        raise ValueError("utterances: empty list")
    arrs = [np.asarray(u) for u in utterances]
    dims = {a.shape[1] if a.ndim == 2 else None for a in arrs}
    if len(dims) != 1 or None in dims:
        raise ValueError(f"utterances: expected (T_i, D) arrays with one D, got shapes "
                         f"{sorted({a.shape for a in arrs})[:5]}")
    D = dims.pop()
    lengths = np.array([a.shape[0] for a in arrs])
    if (lengths == 0).any():
        raise ValueError(f"utterance {int(np.flatnonzero(lengths == 0)[0])}: no frames")
    order = np.argsort(lengths, kind="stable")
    which = _check_which(which)
    names = [f"d{j}" for j in range(D)] if names is None else list(names)
    if len(names) != D:
        raise ValueError(f"names: {len(names)} descriptor names for {D} descriptors")
    out = np.empty((len(arrs), D * len(which)))
    i = 0
    while i < len(order):
        T = lengths[order[i]]
        j = i + 1                                                 # grow while padding stays < 2x
        while j < len(order) and lengths[order[j]] <= 2 * T and (j - i + 1) * \
                lengths[order[j]] * D <= _CHUNK_ELEMENTS:
            j += 1
        idx = order[i:j]
        Tmax = lengths[idx].max()
        batch = np.zeros((len(idx), Tmax, D))
        mask = np.arange(Tmax)[None] < lengths[idx][:, None]
        for r, k in enumerate(idx):
            batch[r, :lengths[k]] = arrs[k]
        out[idx] = _compute(batch, np.broadcast_to(mask[:, :, None], batch.shape), names, which,
                            lambda b, idx=idx: f"utterance {int(idx[b])}")
        i = j
    return out, functional_names(names, which)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    return str(v)


def write_utterance_table(path, rows: Sequence[Mapping[str, Any]], values, names: Sequence[str]
                          ) -> Path:
    """Write DESIGN.md's utterance table (CSV) atomically (a temporary file, then `os.replace`).

    Columns: the metadata columns present in any row, in `emojax.data.corpus.METADATA_COLUMNS`
    order (``utterance_id, session, dialog, speaker, gender, turn, start, end, valence, activation,
    dominance, category, votes, transcript, wav, has_mocap``), then `names`, one per column of
    `values` (N, F). Every row needs ``dialog``, ``turn`` and ``speaker``; `emojax.data.table.
    load_table` also needs a label column (valence, activation or category) to read it back. A key
    missing from a row, None or NaN is an empty cell; booleans are written 1/0; feature values with
    ``repr`` (they read back exactly).

    Raises ValueError for a row key that is not a metadata column (it would read back as a feature),
    a feature name that is a metadata column or repeated, a shape mismatch, or a non-finite value.
    """
    import csv
    import io

    from emojax.data.corpus import METADATA_COLUMNS
    from emojax.data.table import REQUIRED_COLUMNS

    path = Path(path)
    names = list(names)
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 and not names:
        values = values.reshape(len(rows), 0)
    if values.ndim != 2 or values.shape != (len(rows), len(names)):
        raise ValueError(f"{path}: values have shape {values.shape}; {len(rows)} rows and "
                         f"{len(names)} feature names need ({len(rows)}, {len(names)})")
    meta = set(METADATA_COLUMNS)
    clash = [n for n in names if n in meta]
    if clash:
        raise ValueError(f"{path}: feature names {clash[:5]} are metadata columns")
    seen: set[str] = set()
    dup = [n for n in names if n in seen or seen.add(n)]
    if dup:
        raise ValueError(f"{path}: feature names repeated: {dup[:5]}")
    for i, r in enumerate(rows):
        extra = [k for k in r if k not in meta]
        if extra:
            raise ValueError(f"{path}: row {i}: {extra[:5]} are not metadata columns "
                             f"({', '.join(METADATA_COLUMNS)})")
        missing = [c for c in REQUIRED_COLUMNS if c not in r or _cell(r[c]) == ""]
        if missing:
            raise ValueError(f"{path}: row {i}: missing required column(s) {missing}")
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"{path}: row {i}: feature {names[j]!r} is {values[i, j]}")
    cols = [c for c in METADATA_COLUMNS if any(c in r for r in rows)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols + names)
    for r, v in zip(rows, values):
        w.writerow([_cell(r.get(c)) for c in cols] + [repr(float(x)) for x in v])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
