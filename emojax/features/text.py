"""Transcripts as token ids: a tokenizer fitted on training transcripts only, and word vectors.

    vocab = fit_vocab(train_texts)                    # {word: id}, ids from 2 (0 = padding, 1 = unknown)
    ids = encode(texts, vocab, max_len=500)           # list of int32 arrays, at most max_len long
    E = glove_matrix("glove.6B.300d.txt", vocab)      # (len(vocab) + 2, 300); rows of unseen words random

Tokens: lower-cased words (letters, digits and apostrophes) and bracketed non-verbal markers such
as ``[LAUGHTER]`` kept as one token (IEMOCAP's transcripts, and the embedded corpus', carry them);
other punctuation is dropped. As Keras' ``Tokenizer`` (which Tripathi et al. used), ids follow
descending frequency in the training transcripts (ties by first appearance), so a model never sees
a word it could only have learnt from test transcripts; an empty transcript becomes one unknown
token, so every utterance has at least one step.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

PAD, UNKNOWN = 0, 1
_TOKEN = re.compile(r"\[[a-z]+\]|[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(str(text).lower())


def fit_vocab(texts: Iterable[str], max_words: int | None = None) -> dict[str, int]:
    """{word: id} over the training `texts`, most frequent first, ids from 2."""
    counts: Counter = Counter()
    first: dict[str, int] = {}
    for t in texts:
        for w in tokenize(t):
            counts[w] += 1
            first.setdefault(w, len(first))
    words = sorted(counts, key=lambda w: (-counts[w], first[w]))[:max_words]
    return {w: i + 2 for i, w in enumerate(words)}


def encode(texts: Iterable[str], vocab: dict[str, int], max_len: int = 500) -> list[np.ndarray]:
    """Token ids per text (unknown words -> 1), truncated to `max_len` (Keras pads/truncates at
    the front by default; emojax keeps the first `max_len` words and masks the padding)."""
    out = []
    for t in texts:
        ids = [vocab.get(w, UNKNOWN) for w in tokenize(t)][:max_len] or [UNKNOWN]
        out.append(np.asarray(ids, np.int32))
    return out


def glove_matrix(path, vocab: dict[str, int], seed: int = 0) -> np.ndarray:
    """An embedding matrix from a GloVe text file (``word v1 ... vD`` per line): rows of words the
    file lacks (and the unknown token) ~ N(0, 0.1²) from `seed`, the padding row zero. Raises
    ValueError naming the file and line of a malformed row."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such GloVe file (give a text file of 'word v1 ... vD' lines)")
    found: dict[int, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if not line.strip():
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}, line {n}: a word without a vector")
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 < dim:
                raise ValueError(f"{path}, line {n}: {len(parts) - 1} values, earlier lines have {dim}")
            # the vector is the last `dim` fields: a few GloVe words contain spaces (840B)
            word, values = " ".join(parts[:len(parts) - dim]), parts[len(parts) - dim:]
            i = vocab.get(word)
            if i is not None:
                try:
                    found[i] = np.asarray(values, np.float32)
                except ValueError:
                    raise ValueError(f"{path}, line {n}: not a number among the values") from None
    if dim is None:
        raise ValueError(f"{path}: no vectors")
    E = np.random.default_rng(seed).normal(0, 0.1, (len(vocab) + 2, dim)).astype(np.float32)
    E[PAD] = 0.0
    for i, v in found.items():
        E[i] = v
    return E
