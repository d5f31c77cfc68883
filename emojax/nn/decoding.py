"""Decoders for CTC outputs (`emojax.nn.ctc`), and the rule that turns a decode into one class.

    from emojax.nn.decoding import best_path, prefix_beam_search, label_posteriors, decode_to_class
    labels, lengths = best_path(logits, mask)              # (B, T, K) -> (B, T) padded with -1, (B,)
    post = label_posteriors(logits, mask, blank=0)         # (B, K-1): summed frame posteriors
    cls = decode_to_class(labels[0], post[0], blank=0)     # one utterance class

Label indexing: decoders return *raw labels*, class indices 0..K-1 of the network's output, never
the blank. The utterance *classes* are the K-1 non-blank outputs in order, with the blank removed:
``class_of_label(label, blank) = label if label < blank else label - 1``. With the blank last
(``blank=K-1``, Keras's convention, which Chernykh et al. 2018 used) labels and classes coincide;
with the blank first (``blank=0``, optax's and torch's) label j is class j-1. `label_posteriors`
and `decode_to_class` work in class space.

Decoders, for a path π = argmax or a search over labellings l:

- `best_path`: ``ℬ(argmax_k y_t(k))`` per frame (Graves 2012, §7.5.1), ℬ = merge repeats, then drop
  blanks (`collapse`). Pure jnp with fixed shapes, jit-able, batched over any leading axes.
- `prefix_beam_search`: keeps the `beam` most probable prefixes, each with its probability split
  into paths ending in a blank, ``p_b``, and in its last label, ``p_nb`` (Graves 2012 §7.5.2; Hannun
  et al. 2014). At each frame, with y the frame's posteriors and c = last label of the prefix::

      p_b(l)     += (p_b(l) + p_nb(l)) · y(∅)            # stay, emitting a blank
      p_nb(l)    += p_nb(l) · y(c)                        # stay, repeating c (merged)
      p_nb(l + k) += (p_b(l) + p_nb(l)) · y(k)   k ≠ c   # extend
      p_nb(l + c) += p_b(l) · y(c)                        # a second c needs a blank between

  in log space, numpy (the beam is dynamic), vectorised over the classes at each frame. It finds
  the labelling that *sums* over paths, where best path takes the single most probable path.

The utterance rule (`decode_to_class`): among the classes that the decode contains, the one with
the largest summed frame posterior ``Σ_t y_t(k)`` over the valid frames (`label_posteriors`); an
empty decode (every frame blank) falls back to the class with the largest summed posterior overall.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from emojax.nn.ctc import _blank_index


def class_of_label(label, blank: int, num_classes: int | None = None):
    """The class (blank removed, 0..K-2) of a raw label (0..K-1, not the blank): ``label`` if
    ``label < blank`` else ``label - 1``. Ints or arrays. A negative `blank` needs `num_classes` K."""
    if blank < 0:
        if num_classes is None:
            raise ValueError(f"blank={blank} counts from the end: pass num_classes")
        blank = _blank_index(blank, num_classes)
    if np.any(np.asarray(label) == blank):
        raise ValueError(f"label {label} is the blank ({blank}), which has no class")
    if isinstance(label, (int, np.integer)):
        return int(label) if label < blank else int(label) - 1
    return np.where(np.asarray(label) < blank, label, np.asarray(label) - 1)


def collapse(path: Sequence[int] | np.ndarray, blank: int) -> tuple[int, ...]:
    """ℬ(path): merge repeated labels, then drop blanks (``a a ∅ a b b ∅`` → ``(a, a, b)``)."""
    p = np.asarray(path, np.int64).reshape(-1)
    if p.size == 0:
        return ()
    keep = np.concatenate([[True], p[1:] != p[:-1]]) & (p != blank)
    return tuple(int(v) for v in p[keep])


def _best_path_one(logits, mask, blank):                  # (T, K), (T,) -> (T,), ()
    T = logits.shape[0]
    a = jnp.argmax(logits, axis=-1).astype(jnp.int32)                         # (T,)
    prev = jnp.concatenate([jnp.full((1,), -1, jnp.int32), a[:-1]])
    keep = (a != prev) & (a != blank) & mask                                  # first of a run, not ∅
    pos = jnp.where(keep, jnp.cumsum(keep) - 1, T)                            # T: dropped
    out = jnp.full((T,), -1, jnp.int32).at[pos].set(a, mode="drop")           # kept, to the front
    return out, keep.sum().astype(jnp.int32)


def best_path(logits: jax.Array, mask: jax.Array, *, blank: int = 0) -> tuple[jax.Array, jax.Array]:
    """Best-path decoding of ``logits (..., T, K)`` over the valid frames ``mask (..., T)`` (prefix).

    Returns ``labels (..., T)`` int32, the raw labels of ``ℬ(argmax_k logits_t)`` first and -1
    after, and ``lengths (...,)`` int32. Repeats merge only between consecutive frames: ``a ∅ a``
    gives two a's. Pure jnp, fixed shapes: jit-able.
    """
    logits, mask = jnp.asarray(logits), jnp.asarray(mask, bool)
    if logits.ndim < 2 or mask.shape != logits.shape[:-1]:
        raise ValueError(f"logits {logits.shape} and mask {mask.shape}: expected (..., T, K), (..., T)")
    T, K = logits.shape[-2:]
    b = _blank_index(blank, K)
    lead = logits.shape[:-2]
    f = jax.vmap(lambda x, m: _best_path_one(x, m, b))
    labels, lengths = f(logits.reshape((-1, T, K)), mask.reshape((-1, T)))
    return labels.reshape(lead + (T,)), lengths.reshape(lead)


def prefix_beam_search(log_probs, length: int | None = None, *, beam: int = 8, blank: int = 0
                       ) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search over ``log_probs (T, K)`` (log-softmax outputs) of one sequence.

    Uses the first `length` frames (all by default). Returns up to `beam` ``(labels, log p)``, best
    first: raw labels (tuples, no blank) and ``log p(labels | x)`` summed over the paths the search
    kept (exact when the beam holds every prefix, e.g. the forward algorithm's `ctc_loss` for
    ``beam >= number of prefixes``). With ``beam=1`` it keeps one prefix per frame: a greedy search
    over labellings, not best path (it merges a prefix's paths before choosing).
    """
    lp = np.asarray(log_probs, np.float64)
    if lp.ndim != 2:
        raise ValueError(f"log_probs {lp.shape}: expected one sequence (T, K)")
    if beam < 1:
        raise ValueError(f"beam={beam} must be >= 1")
    T, K = lp.shape
    b = _blank_index(blank, K)
    n = T if length is None else int(length)
    if not 0 <= n <= T:
        raise ValueError(f"length {n} is outside 0..{T}")
    classes = np.array([k for k in range(K) if k != b])                       # (K-1,)
    # prefix -> [log p_b, log p_nb]
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, -np.inf]}
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(n):
            y = lp[t]
            nxt: dict[tuple[int, ...], list[float]] = {}

            def add(prefix, i, v):
                cur = nxt.setdefault(prefix, [-np.inf, -np.inf])
                cur[i] = np.logaddexp(cur[i], v)

            prefixes = list(beams)
            pb = np.array([beams[p][0] for p in prefixes])                    # (N,)
            pnb = np.array([beams[p][1] for p in prefixes])
            tot = np.logaddexp(pb, pnb)
            last = np.array([p[-1] if p else -1 for p in prefixes])           # (N,)
            # extensions by every non-blank class at once: (N, K-1)
            same = last[:, None] == classes[None, :]
            ext = np.where(same, pb[:, None], tot[:, None]) + y[classes][None, :]
            stay_b = tot + y[b]
            stay_nb = np.where(last >= 0, pnb + y[np.maximum(last, 0)], -np.inf)
            for i, p in enumerate(prefixes):
                add(p, 0, stay_b[i])
                if p:
                    add(p, 1, stay_nb[i])
                for j, k in enumerate(classes):
                    if ext[i, j] > -np.inf:
                        add(p + (int(k),), 1, ext[i, j])
            ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))
            beams = dict(ranked[:beam])
    out = [(p, float(np.logaddexp(*v))) for p, v in beams.items()]
    return sorted(out, key=lambda pv: -pv[1])


def beam_search_batch(logits, mask, *, beam: int = 8, blank: int = 0) -> list[tuple[int, ...]]:
    """The best labelling of `prefix_beam_search` for each row of ``logits (B, T, K)`` (unnormalised:
    log-softmax is applied here) over its valid frames ``mask (B, T)``: a list of B tuples."""
    logits, mask = np.asarray(logits), np.asarray(mask, bool)
    if logits.ndim != 3 or mask.shape != logits.shape[:2]:
        raise ValueError(f"logits {logits.shape} and mask {mask.shape}: expected (B, T, K), (B, T)")
    lp = np.asarray(jax.nn.log_softmax(jnp.asarray(logits), axis=-1))
    return [prefix_beam_search(lp[i], int(mask[i].sum()), beam=beam, blank=blank)[0][0]
            for i in range(len(lp))]


def label_posteriors(logits: jax.Array, mask: jax.Array, *, blank: int = 0) -> jax.Array:
    """``Σ_t softmax(logits_t)_k`` over the valid frames for each non-blank k: ``(..., T, K)``,
    ``mask (..., T)`` -> ``(..., K-1)`` in class order (the blank's column removed)."""
    logits, mask = jnp.asarray(logits), jnp.asarray(mask, bool)
    if logits.ndim < 2 or mask.shape != logits.shape[:-1]:
        raise ValueError(f"logits {logits.shape} and mask {mask.shape}: expected (..., T, K), (..., T)")
    K = logits.shape[-1]
    b = _blank_index(blank, K)
    y = jax.nn.softmax(logits, axis=-1)                                       # (..., T, K)
    post = jnp.where(mask[..., None], y, 0.0).sum(-2)                         # (..., K)
    return jnp.delete(post, b, axis=-1, assume_unique_indices=True)           # (..., K-1)


def decode_to_class(decoded_labels, posteriors, *, blank: int = 0) -> int:
    """One utterance class from a CTC decode: of the classes among `decoded_labels` (raw labels;
    entries < 0, `best_path`'s padding, are ignored), the one with the largest summed frame
    posterior in ``posteriors (K-1,)`` (`label_posteriors`); for an empty decode, the argmax of
    `posteriors` overall. Returns a class index in 0..K-2 (blank removed); ties go to the lower."""
    post = np.asarray(posteriors, np.float64)
    if post.ndim != 1:
        raise ValueError(f"posteriors {post.shape}: expected one utterance's (K-1,)")
    K = post.shape[0] + 1
    labels = np.asarray(decoded_labels, np.int64).reshape(-1)
    labels = labels[labels >= 0]
    if labels.size == 0:
        return int(np.argmax(post))
    if np.any(labels >= K):
        raise ValueError(f"decoded labels {labels.tolist()} are outside 0..{K - 1}")
    present = np.unique(class_of_label(labels, _blank_index(blank, K)))
    return int(present[np.argmax(post[present])])
