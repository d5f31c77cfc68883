"""The utterance record every corpus becomes (shared/DESIGN.md, "Corpora and the utterance record").

A `Corpus` is columnar: one numpy array per field, one row per utterance, plus what each utterance
carries: an (N, F) float32 utterance-feature matrix (F may be 0), and optionally per-utterance
frame arrays, audio paths, transcripts and modality tracks (e.g. motion capture). Sequences
(Wöllmer's unit: the ordered utterances of one speaker in one dialog) are index arrays into these
columns, built by `sequences`.
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
      gender: (N,) str ("F"/"M"), or None.
      params: the corpus' generating parameters / provenance, written into every run.json.
      extras: optional per-utterance arrays (e.g. the synthetic latent state), keyed by name.
      frames: optional N arrays (T_i, D) of frame descriptors (one row per frame; the same D and
        frame rate for every utterance), named by ``frame_names``; ``frame_rate`` in frames/s.
      wav: optional (N,) str audio paths (absolute, or relative to ``params["root"]``).
      transcript: optional (N,) str.
      tracks: optional modality tracks, {name: N arrays (T_i, D_name)} (e.g. ``"mocap"``), each
        at its own rate.
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
    gender: np.ndarray | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    extras: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    frames: tuple[np.ndarray, ...] | None = None
    frame_names: tuple[str, ...] = ()
    frame_rate: float | None = None
    wav: np.ndarray | None = None
    transcript: np.ndarray | None = None
    tracks: dict[str, tuple[np.ndarray, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        n = self.features.shape[0]
        if self.features.ndim != 2 or len(self.feature_names) != self.features.shape[1]:
            raise ValueError(f"{self.name}: features {self.features.shape} do not match "
                             f"{len(self.feature_names)} feature names")
        for field in ("utterance_id", "session", "dialog", "speaker", "turn", "valence",
                      "activation", "category", "gender", "wav", "transcript"):
            col = getattr(self, field)
            if col is not None and col.shape != (n,):
                raise ValueError(f"{self.name}: column {field!r} has shape {col.shape}, expected ({n},)")
        for name, arrays in (("frames", self.frames), *self.tracks.items()):
            if arrays is None:
                continue
            if len(arrays) != n:
                raise ValueError(f"{self.name}: {name} has {len(arrays)} utterances, expected {n}")
            dims = {a.shape[1] if a.ndim == 2 else None for a in arrays}
            if len(dims) > 1 or None in dims:
                raise ValueError(f"{self.name}: {name} must be (T_i, D) arrays with one D; got "
                                 f"dimensions {sorted(map(str, dims))}")
        if self.frames is not None and self.frame_names and len(self.frame_names) != self.frames[0].shape[1]:
            raise ValueError(f"{self.name}: {len(self.frame_names)} frame names for "
                             f"{self.frames[0].shape[1]} frame descriptors")

    def __len__(self) -> int:
        return self.features.shape[0]

    @property
    def speakers(self) -> list[str]:
        """Speakers in first-appearance-sorted order (sorted by name for determinism)."""
        return sorted(set(self.speaker.tolist()))

    def subset(self, idx: np.ndarray) -> "Corpus":
        """The utterances at `idx` (an index or boolean array), every column, extra, frame array
        and track sliced alike."""
        idx = np.flatnonzero(idx) if np.asarray(idx).dtype == bool else np.asarray(idx)
        take = lambda a: None if a is None else a[idx]  # noqa: E731
        pick = lambda arrays: None if arrays is None else tuple(arrays[i] for i in idx)  # noqa: E731
        return dataclasses.replace(
            self, features=self.features[idx], utterance_id=self.utterance_id[idx],
            session=self.session[idx], dialog=self.dialog[idx], speaker=self.speaker[idx],
            turn=self.turn[idx], valence=take(self.valence), activation=take(self.activation),
            category=take(self.category), gender=take(self.gender), wav=take(self.wav),
            transcript=take(self.transcript), frames=pick(self.frames),
            tracks={k: pick(v) for k, v in self.tracks.items()},
            extras={k: v[idx] for k, v in self.extras.items()})

    @property
    def kinds(self) -> tuple[str, ...]:
        """What the utterances carry: "features", "frames", "audio", "text" and track names."""
        out = (("features",) if self.features.shape[1] else ()) + (("frames",) if self.frames else ())
        out += (("audio",) if self.wav is not None else ()) + (("text",) if self.transcript is not None else ())
        return out + tuple(self.tracks)


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
