"""Batches of variable-length sequences as dicts of padded arrays, at a few bucket lengths.

An *item* is one sequence: a dict with ``x`` (T, F) and any targets, named by what they label:

- ``y_step`` (T,): one class per step (Wöllmer's utterances, a frame-wise baseline);
- ``y_seq`` (): one class per sequence (Mirsamadi's utterance label);
- ``labels`` (L,): a label sequence of its own length (CTC), padded with ``label_mask``.

A *batch* is the same keys padded to ``(B, T, ...)`` plus ``mask`` (B, T): True on real steps.
Missing batch rows and feature columns are zeros with mask False, so every fold and task with the
same bucket shares one compiled step (DESIGN.md: "batches are dicts of arrays").
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

STEP_KEYS = ("y_step",)        # (T,) per step, padded with 0 where mask is False
SEQ_KEYS = ("y_seq",)          # () per sequence
RAGGED_KEYS = ("labels",)      # (L,) of their own length, padded; "<key>" -> "label_mask"


def bucket_length(n: int, quantum: int = 16) -> int:
    """Round up to a multiple of `quantum`: one compile per bucket, not per sequence length."""
    return max(quantum, -(-n // quantum) * quantum)


def batch_length(items: list[dict], quantum: int = 16) -> int:
    """The bucketed time length of a batch of `items` (at least one quantum)."""
    return bucket_length(max((len(it["x"]) for it in items), default=1), quantum)


def pad_batch(items: list[dict], batch_size: int, width: int, quantum: int = 16,
              length: int | None = None) -> dict[str, np.ndarray]:
    """Pad ``[item, ...]`` (at most `batch_size`) to one batch of `batch_size` rows.

    ``x`` becomes (B, T, width) float32 with T = `length` or the bucket of the longest item;
    ``mask`` (B, T) bool; per-step targets (B, T) int32; per-sequence targets (B,) int32;
    label sequences (B, L) int32 with ``label_mask`` (B, L).
    """
    if len(items) > batch_size:
        raise ValueError(f"{len(items)} sequences do not fit a batch of {batch_size}")
    T = length if length is not None else batch_length(items, quantum)
    out = {"x": np.zeros((batch_size, T, width), np.float32), "mask": np.zeros((batch_size, T), bool)}
    keys = set().union(*(it.keys() for it in items)) - {"x"} if items else set()
    unknown = keys - set(STEP_KEYS + SEQ_KEYS + RAGGED_KEYS)
    if unknown:
        raise ValueError(f"unknown batch keys {sorted(unknown)}; known: x, "
                         + ", ".join(STEP_KEYS + SEQ_KEYS + RAGGED_KEYS))
    for k in keys & set(STEP_KEYS):
        out[k] = np.zeros((batch_size, T), np.int32)
    for k in keys & set(SEQ_KEYS):
        out[k] = np.zeros((batch_size,), np.int32)
    for k in keys & set(RAGGED_KEYS):
        L = bucket_length(max(len(it[k]) for it in items), 8)
        out[k] = np.zeros((batch_size, L), np.int32)
        out["label_mask"] = np.zeros((batch_size, L), bool)
    for b, it in enumerate(items):
        x = it["x"]
        n = len(x)
        out["x"][b, :n, :x.shape[1]] = x
        out["mask"][b, :n] = True
        for k in keys:
            v = it[k]
            if k in STEP_KEYS:
                out[k][b, :n] = v
            elif k in SEQ_KEYS:
                out[k][b] = v
            else:
                out[k][b, :len(v)] = v
                out["label_mask"][b, :len(v)] = True
    return out


def stack_batches(per_model: list[list[dict] | None], batch_size: int, width: int,
                  quantum: int = 16) -> dict[str, np.ndarray]:
    """One batch per model, stacked to (M, B, ...) at the longest bucket among them.

    A model with ``None`` (its epoch has no batch left, or it has stopped) gets an all-masked batch
    with the same keys as the others.
    """
    real = [items for items in per_model if items]
    T = batch_length([it for items in real for it in items], quantum)
    template = real[0][:1] if real else [{"x": np.zeros((1, width), np.float32)}]
    batches = []
    for items in per_model:
        if items:
            batches.append(pad_batch(items, batch_size, width, quantum, length=T))
        else:
            empty = pad_batch(template, batch_size, width, quantum, length=T)
            batches.append({k: np.zeros_like(v) for k, v in empty.items()})
    keys = batches[0].keys()
    widest = {k: max(b[k].shape[-1] for b in batches) for k in RAGGED_KEYS + ("label_mask",)
              if k in keys}
    for b in batches:                      # label sequences: the longest among the models
        for k, L in widest.items():
            b[k] = np.pad(b[k], ((0, 0), (0, L - b[k].shape[-1])))
    return {k: np.stack([b[k] for b in batches]) for k in keys}


def batches(items: list[dict], batch_size: int, width: int, rng: np.random.Generator | None = None,
            quantum: int = 16) -> Iterator[dict[str, np.ndarray]]:
    """Batches over `items` in order, or shuffled when `rng` is given. The last batch is padded,
    never dropped (every utterance is counted)."""
    order = np.arange(len(items)) if rng is None else rng.permutation(len(items))
    for i in range(0, len(order), batch_size):
        yield pad_batch([items[j] for j in order[i:i + batch_size]], batch_size, width, quantum)
