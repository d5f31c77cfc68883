"""The utterance record every corpus becomes (shared/DESIGN.md, "Corpora and the utterance record").

A `Corpus` is columnar: one numpy array per field, one row per utterance, plus an (N, F) float32
feature matrix. Sequences (Wöllmer's unit: the ordered utterances of one speaker in one dialog)
are index arrays into these columns, built by `sequences`.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

# Columns of the utterance record that are metadata, never features (DESIGN.md).
METADATA_COLUMNS = (
    "utterance_id", "session", "dialog", "speaker", "gender", "turn", "start", "end",
    "valence", "activation", "dominance", "category", "votes", "transcript", "wav", "has_mocap",
)


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Utterance-level corpus.

    Attributes:
      name: a short spec-like name, e.g. ``synthetic`` or ``table:my.csv``.
      features: (N, F) float32 utterance features.
      feature_names: F names.
      utterance_id, session, dialog, speaker: (N,) str arrays.
      turn: (N,) int64 order of the utterance within its dialog.
      valence, activation: (N,) float64 ratings in [1, 5], or None when the corpus has none.
      category: (N,) str class names, or None.
      params: the corpus' generating parameters / provenance, written into every run.json.
      extras: optional per-utterance arrays (e.g. the synthetic latent state), keyed by name.
    """

    name: str
    features: np.ndarray
    feature_names: tuple[str, ...]
    utterance_id: np.ndarray
    session: np.ndarray
    dialog: np.ndarray
    speaker: np.ndarray
    turn: np.ndarray
    valence: np.ndarray | None = None
    activation: np.ndarray | None = None
    category: np.ndarray | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    extras: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        n = self.features.shape[0]
        if self.features.ndim != 2 or len(self.feature_names) != self.features.shape[1]:
            raise ValueError(f"{self.name}: features {self.features.shape} do not match "
                             f"{len(self.feature_names)} feature names")
        for field in ("utterance_id", "session", "dialog", "speaker", "turn", "valence",
                      "activation", "category"):
            col = getattr(self, field)
            if col is not None and col.shape != (n,):
                raise ValueError(f"{self.name}: column {field!r} has shape {col.shape}, expected ({n},)")

    def __len__(self) -> int:
        return self.features.shape[0]

    @property
    def speakers(self) -> list[str]:
        """Speakers in first-appearance-sorted order (sorted by name for determinism)."""
        return sorted(set(self.speaker.tolist()))

    def subset(self, idx: np.ndarray) -> "Corpus":
        """The utterances at `idx` (an index or boolean array), every column and extra sliced alike."""
        take = lambda a: None if a is None else a[idx]  # noqa: E731
        return dataclasses.replace(
            self, features=self.features[idx], utterance_id=self.utterance_id[idx],
            session=self.session[idx], dialog=self.dialog[idx], speaker=self.speaker[idx],
            turn=self.turn[idx], valence=take(self.valence), activation=take(self.activation),
            category=take(self.category), extras={k: v[idx] for k, v in self.extras.items()})


def sequences(corpus: Corpus) -> list[np.ndarray]:
    """Index arrays, one per (dialog, speaker), each ordered by turn; sorted by (dialog, speaker).

    This is Wöllmer et al. 2012's unit of sequence modelling: the utterances of one speaker in one
    dialog, in the order they were spoken.
    """
    keys = np.char.add(np.char.add(corpus.dialog.astype(str), "\x00"), corpus.speaker.astype(str))
    order = np.lexsort((corpus.turn, keys))
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return np.split(order, starts[1:])
