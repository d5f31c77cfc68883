"""Batches of variable-length sequences, padded to a few bucket lengths (bounded recompiles)."""
from __future__ import annotations

from typing import Iterator

import numpy as np


def bucket_length(n: int, quantum: int = 16) -> int:
    """Round up to a multiple of `quantum`: one compile per bucket, not per sequence length."""
    return max(quantum, -(-n // quantum) * quantum)


def pad_batch(seqs: list[tuple[np.ndarray, np.ndarray]], batch_size: int, width: int,
              quantum: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad ``[(X_i (T_i, F_i), y_i (T_i,)), ...]`` to ``xs (B, T, width), ys (B, T), mask (B, T)``.

    Missing batch rows and feature columns are zeros with mask False; zero feature columns reach
    no output (their weights multiply zeros), so every fold and task shares one compiled step.
    """
    T = bucket_length(max(len(y) for _, y in seqs), quantum)
    xs = np.zeros((batch_size, T, width), np.float32)
    ys = np.zeros((batch_size, T), np.int32)
    mask = np.zeros((batch_size, T), bool)
    for b, (x, y) in enumerate(seqs):
        n = len(y)
        xs[b, :n, :x.shape[1]] = x
        ys[b, :n] = y
        mask[b, :n] = True
    return xs, ys, mask


def batches(seqs, batch_size: int, width: int, rng: np.random.Generator | None = None,
            quantum: int = 16) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches over `seqs`, shuffled when `rng` is given; sorted by length within a shuffle window
    so that sequences of similar length share a bucket. The last batch is padded, never dropped."""
    order = np.arange(len(seqs))
    if rng is not None:
        order = rng.permutation(len(seqs))
    for i in range(0, len(order), batch_size):
        yield pad_batch([seqs[j] for j in order[i:i + batch_size]], batch_size, width, quantum)
