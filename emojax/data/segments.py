"""Segment corpora for the attentively-coupled LSTM (Hsu & Wu): clips cut into segments, each with an
audio label, a visual label, an audio-visual label (the target), a sound type, and per-frame audio
and visual arrays.

    from emojax.data import segments
    sc = segments.load("segments")                               # the embedded corpus
    sc = segments.load("segments:clips=300,agree=0.7,seed=2")   # other generator settings
    sc = segments.load("segtable:/data/my_segments.csv")        # a user's segment table
    segments.write_table(sc, "/tmp/seg")                        # the same corpus as a segment table

The embedded corpus (``segments[:k=v,...]``, `SegmentParams`). Hsu & Wu's BAUM-1 re-segmentation
and per-modality labels are not public, so emojax generates a corpus of the same shape whose
ground truth is known, driven by the embedded corpus' latent state: each clip is one utterance of
a marker-wearer of ``synthetic:rho=..,seed=..`` (its latent valence/activation z), cut into
2-8 segments. Per segment:

- latent z_s = z + ``fluctuation`` · AR(0.6) (the emotion fluctuates within a clip);
- the audio-visual label (the target) is one of the seven classes drawn from a softmax over
  prototypes in (valence, activation) (`PROTOTYPES`, width 0.6);
- the audio label equals it with probability ``agree``, the visual label independently so;
  otherwise each is a neighbouring class (drawn from the softmax at a perturbed z_s). When the
  two disagree, the audio-visual label is one of them (or neither);
- the sound type: ``silence`` (10 %), ``laugh`` (30 % of happiness segments), ``shout`` (30 % of
  anger and surprise), ``breath`` (25 % of fear and sadness), else ``verbal``;
- audio frames (50 per second, 34 descriptors, 0.4-1.6 s; silence 0.2-0.6 s): the audio label's
  pattern (a random direction in 24 of the 34 dimensions, scaled by ``audio_gain``; silence
  carries a fifth of it) and a modulation at 2 + 3·(1 + a) Hz in 4 dimensions (a: the audio
  label's activation), plus the sound type's own pattern (sd 0.35 per dimension), a per-speaker
  offset and smooth noise (AR(0.8), sd 1);
- visual frames (25 per second, 30 face features): the visual label's pattern (scaled by
  ``visual_gain``) ramped in over the first 0.2 s, the mouth opening with laughter and shouting,
  a per-speaker offset and smooth noise.

Segment table (``segtable:PATH.csv``): one row per segment, columns ``clip``, ``segment`` (integer
order within the clip), ``speaker``, ``label`` (the audio-visual class), ``audio_label``,
``visual_label``, optional ``sound`` and ``session``, and ``audio``, ``visual``: paths (relative
to the CSV) of ``.npy`` arrays (frames, features), the same feature count in every row; a clip's
segments share one speaker and session; audio and visual labels are classes of ``label``. Errors
name the file, the line and the column; the corpus' fingerprint covers the CSV and every array.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
from pathlib import Path

import numpy as np

CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
SOUNDS = ("breath", "laugh", "shout", "silence", "verbal")
# (valence, activation) prototypes of the seven classes (the embedded corpus' render table, with
# happiness moved up in activation, as BAUM-1's spontaneous happiness is mostly laughter)
PROTOTYPES = {"anger": (-1.4, 1.4), "disgust": (-1.6, 0.4), "fear": (-1.0, 2.0),
              "happiness": (1.3, 0.6), "neutral": (0.0, -0.2), "sadness": (-1.0, -1.3),
              "surprise": (0.5, 1.8)}
AUDIO_RATE, VISUAL_RATE = 50.0, 25.0
AUDIO_DIM, VISUAL_DIM = 34, 30
_REQUIRED = ("clip", "segment", "speaker", "label", "audio_label", "visual_label", "audio", "visual")


@dataclasses.dataclass(frozen=True)
class SegmentParams:
    clips: int = 1457            # BAUM-1's number of clips
    seed: int = 0
    rho: float = 0.9             # of the embedded corpus whose latent state drives the clips
    agree: float = 0.8           # P(audio label = audio-visual label), and likewise for visual
    fluctuation: float = 0.6     # sd of the within-clip departure of the latent state
    audio_gain: float = 0.3      # size of the emotion patterns against unit frame noise
    visual_gain: float = 0.25
    speaker_sd: float = 0.5

    def __post_init__(self):
        from emojax.config import check
        check("segments.clips", self.clips, at_least=10)
        check("segments.agree", self.agree, at_least=0.0, at_most=1.0)
        check("segments.fluctuation", self.fluctuation, at_least=0.0)
        check("segments.audio_gain", self.audio_gain, at_least=0.0)
        check("segments.visual_gain", self.visual_gain, at_least=0.0)
        check("segments.speaker_sd", self.speaker_sd, at_least=0.0)


@dataclasses.dataclass
class SegmentCorpus:
    """Segments in clip order: per segment one row of every (S,) array and one frame array of each
    modality; ``label``/``audio_label``/``visual_label`` index `classes`, ``sound`` `sounds`."""
    name: str
    clip: np.ndarray
    segment: np.ndarray
    speaker: np.ndarray
    session: np.ndarray
    label: np.ndarray
    audio_label: np.ndarray
    visual_label: np.ndarray
    sound: np.ndarray
    audio: list
    visual: list
    classes: tuple[str, ...] = CLASSES
    sounds: tuple[str, ...] = SOUNDS
    params: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.clip)

    def clips(self) -> list[np.ndarray]:
        """Each clip's segment indices, in segment order (clips in first-appearance order)."""
        order = {}
        for i, c in enumerate(self.clip):
            order.setdefault(c, []).append(i)
        return [np.array(sorted(ix, key=lambda i: self.segment[i])) for ix in order.values()]


def _category_probs(z: np.ndarray, width: float = 0.6) -> np.ndarray:
    proto = np.array([PROTOTYPES[c] for c in CLASSES])
    logit = -((z[..., None, :] - proto) ** 2).sum(-1) / (2 * width ** 2)
    p = np.exp(logit - logit.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def _draw(rng, p: np.ndarray) -> int:
    return int(min(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"), len(p) - 1))


def _smooth(rng, n: int, d: int, coef: float = 0.8) -> np.ndarray:
    e = rng.normal(size=(n, d))
    out = np.empty_like(e)
    out[0] = e[0]
    for t in range(1, n):
        out[t] = coef * out[t - 1] + np.sqrt(1 - coef ** 2) * e[t]
    return out


def _modal_label(rng, av: int, z: np.ndarray, agree: float) -> int:
    if rng.random() < agree:
        return av
    p = _category_probs(z + 0.8 * rng.normal(size=2))
    p[av] = 0.0
    return _draw(rng, p)


def _sound(rng, label: str) -> str:
    if rng.random() < 0.10:
        return "silence"
    special = {"happiness": ("laugh", 0.30), "anger": ("shout", 0.30), "surprise": ("shout", 0.30),
               "fear": ("breath", 0.25), "sadness": ("breath", 0.25)}.get(label)
    if special and rng.random() < special[1]:
        return special[0]
    return "verbal"


@functools.lru_cache(maxsize=8)
def generate(p: SegmentParams = SegmentParams()) -> SegmentCorpus:
    """The embedded segment corpus, deterministic in `p` (cached)."""
    from emojax.data import synthetic
    rng = np.random.default_rng(10_000 + p.seed)
    dims = np.random.default_rng(20_000 + p.seed)           # the patterns: fixed per seed
    a_emo = dims.normal(size=(len(CLASSES), AUDIO_DIM))
    a_emo[:, 24:] = 0.0
    a_emo *= np.sqrt(24) / np.linalg.norm(a_emo, axis=1, keepdims=True)      # unit RMS per dimension
    a_snd = 0.35 * dims.normal(size=(len(SOUNDS), AUDIO_DIM))
    v_emo = dims.normal(size=(len(CLASSES), VISUAL_DIM))
    v_emo /= np.linalg.norm(v_emo, axis=1, keepdims=True) / np.sqrt(VISUAL_DIM)
    mouth = np.zeros(VISUAL_DIM)
    mouth[:4] = 1.5
    # clips: utterances of the embedded corpus' marker-wearers, spread over its sessions
    base = synthetic.marker_wearers(synthetic.generate(synthetic.SyntheticParams(
        rho=p.rho, seed=p.seed, scale=max(0.1, p.clips / 4900 * 1.1))))
    pick = np.sort(rng.choice(len(base), min(p.clips, len(base)), replace=False))
    latent = base.extras["latent"]
    spk_a = {s: p.speaker_sd * rng.normal(size=AUDIO_DIM) for s in np.unique(base.speaker)}
    spk_v = {s: p.speaker_sd * rng.normal(size=VISUAL_DIM) for s in np.unique(base.speaker)}
    cols = {k: [] for k in ("clip", "segment", "speaker", "session", "label", "audio_label",
                            "visual_label", "sound")}
    audio, visual = [], []
    for u in pick:
        n = int(np.clip(2 + rng.poisson(2.5), 2, 8))
        dev = np.zeros((n, 2))
        dev[0] = rng.normal(size=2)
        for t in range(1, n):
            dev[t] = 0.6 * dev[t - 1] + 0.8 * rng.normal(size=2)
        zs = latent[u][None] + p.fluctuation * dev
        for t in range(n):
            av = _draw(rng, _category_probs(zs[t]))
            al = _modal_label(rng, av, zs[t], p.agree)
            vl = _modal_label(rng, av, zs[t], p.agree)
            snd = _sound(rng, CLASSES[av])
            dur = rng.uniform(0.2, 0.6) if snd == "silence" else rng.uniform(0.4, 1.6)
            na, nv = max(8, int(dur * AUDIO_RATE)), max(4, int(dur * VISUAL_RATE))
            act = PROTOTYPES[CLASSES[al]][1]
            tt = np.arange(na) / AUDIO_RATE
            xa = _smooth(rng, na, AUDIO_DIM) + spk_a[base.speaker[u]][None] \
                + a_snd[SOUNDS.index(snd)][None]
            xa += p.audio_gain * (0.2 if snd == "silence" else 1.0) * a_emo[al][None]
            xa[:, 24:28] += p.audio_gain * 1.5 * np.sin(
                2 * np.pi * (2 + 3 * (1 + act)) * tt[:, None] + rng.uniform(0, 2 * np.pi, 4))
            ramp = np.minimum(1.0, np.arange(1, nv + 1) / (0.2 * VISUAL_RATE))[:, None]
            xv = _smooth(rng, nv, VISUAL_DIM) + spk_v[base.speaker[u]][None] \
                + p.visual_gain * ramp * v_emo[vl][None]
            if snd in ("laugh", "shout"):
                xv += mouth[None]
            audio.append(xa.astype(np.float32))
            visual.append(xv.astype(np.float32))
            for k, v in (("clip", base.utterance_id[u]), ("segment", t), ("speaker", base.speaker[u]),
                         ("session", base.session[u]), ("label", av), ("audio_label", al),
                         ("visual_label", vl), ("sound", SOUNDS.index(snd))):
                cols[k].append(v)
    arr = {k: np.array(v, np.int32 if k in ("segment", "label", "audio_label", "visual_label",
                                            "sound") else None) for k, v in cols.items()}
    return SegmentCorpus(name="segments", audio=audio, visual=visual,
                         params={"kind": "segments", **dataclasses.asdict(p)}, **arr)


# ----------------------------------------------------------------------------- segment tables
def write_table(sc: SegmentCorpus, out) -> Path:
    """`sc` as a segment table: ``out/segments.csv`` and ``out/arrays/<n>_{audio,visual}.npy``."""
    out = Path(out)
    (out / "arrays").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(len(sc)):
        names = {}
        for mod, arr in (("audio", sc.audio[i]), ("visual", sc.visual[i])):
            rel = f"arrays/{i:06d}_{mod}.npy"
            np.save(out / rel, arr)
            names[mod] = rel
        rows.append([sc.clip[i], int(sc.segment[i]), sc.speaker[i], sc.session[i],
                     sc.classes[sc.label[i]], sc.classes[sc.audio_label[i]],
                     sc.classes[sc.visual_label[i]], sc.sounds[sc.sound[i]], names["audio"],
                     names["visual"]])
    tmp = out / "segments.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip", "segment", "speaker", "session", "label", "audio_label",
                    "visual_label", "sound", "audio", "visual"])
        w.writerows(rows)
    tmp.replace(out / "segments.csv")
    return out / "segments.csv"


def read_table(path) -> SegmentCorpus:
    """A user's segment table (module docstring); classes are the names in ``label``, sorted (an
    audio or visual label outside them is an error: a typo would add a class). Errors name the
    file, the line and the column."""
    import hashlib
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such segment table")
    rows = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (need "
                             f"{', '.join(_REQUIRED)}; optional sound, session)")
        for r in reader:
            where = f"{path}, line {reader.line_num}"
            short = [c for c in header if r.get(c) is None]
            if short:
                raise ValueError(f"{where}: {len(header) - len(short)} fields, the header has {len(header)}")
            rows.append((where, {k: (v or "").strip() for k, v in r.items() if k is not None}))
    if not rows:
        raise ValueError(f"{path}: no segments")
    for where, r in rows:
        for k in ("clip", "speaker", "label", "audio_label", "visual_label", "audio", "visual"):
            if not r[k]:
                raise ValueError(f"{where}, column {k}: empty")
    classes = tuple(sorted({r["label"] for _, r in rows}))
    sounds = tuple(sorted({r.get("sound") or "verbal" for _, r in rows}))
    cols = {k: [] for k in ("clip", "segment", "speaker", "session", "label", "audio_label",
                            "visual_label", "sound")}
    audio, visual, dims, seen, owner = [], [], {}, set(), {}
    digest = hashlib.sha256(path.read_bytes())
    for where, r in rows:
        try:
            seg = int(r["segment"])
        except ValueError:
            raise ValueError(f"{where}, column segment: {r['segment']!r} is not an integer") from None
        if (r["clip"], seg) in seen:
            raise ValueError(f"{where}: clip {r['clip']!r} has segment {seg} twice")
        seen.add((r["clip"], seg))
        session = r.get("session") or r["speaker"]
        if owner.setdefault(r["clip"], (r["speaker"], session)) != (r["speaker"], session):
            raise ValueError(f"{where}: clip {r['clip']!r} has speaker/session {r['speaker']}/{session}, "
                             f"its earlier segments {owner[r['clip']][0]}/{owner[r['clip']][1]}")
        for k in ("audio_label", "visual_label"):
            if r[k] not in classes:
                raise ValueError(f"{where}, column {k}: {r[k]!r} is not a class of column label "
                                 f"({', '.join(classes)})")
        for mod, store in (("audio", audio), ("visual", visual)):
            f = path.parent / r[mod]
            try:
                a = np.load(f)
                ok = a.ndim == 2 and a.shape[0] >= 1 and np.issubdtype(a.dtype, np.number) \
                    and bool(np.isfinite(a).all())
            except (OSError, ValueError, TypeError) as e:
                raise ValueError(f"{where}, column {mod}: cannot read {f} ({e})") from None
            if not ok:
                raise ValueError(f"{where}, column {mod}: {f} must be a finite numeric (frames, "
                                 f"features) array, got {a.dtype} {a.shape}")
            if dims.setdefault(mod, a.shape[1]) != a.shape[1]:
                raise ValueError(f"{where}, column {mod}: {a.shape[1]} features, earlier rows "
                                 f"have {dims[mod]}")
            digest.update(np.ascontiguousarray(a).tobytes())   # the content, not only the names
            store.append(a.astype(np.float32))
        cols["clip"].append(r["clip"])
        cols["segment"].append(seg)
        cols["speaker"].append(r["speaker"])
        cols["session"].append(session)
        for k in ("label", "audio_label", "visual_label"):
            cols[k].append(classes.index(r[k]))
        cols["sound"].append(sounds.index(r.get("sound") or "verbal"))
    arr = {k: np.array(v, np.int32 if k in ("segment", "label", "audio_label", "visual_label",
                                            "sound") else None) for k, v in cols.items()}
    return SegmentCorpus(name=f"segtable:{path}", audio=audio, visual=visual, classes=classes,
                         sounds=sounds, params={"kind": "segtable", "path": str(path),
                                                "sha256": digest.hexdigest()[:16]}, **arr)


def from_utterances(clip, speaker, session, label, classes, audio: list, audio_rate: float,
                    visual: list, visual_rate: float, segment_s: float = 1.0,
                    name: str = "iemocap_proxy", params: dict | None = None) -> SegmentCorpus:
    """A stated proxy for corpora without segment labels (IEMOCAP): each utterance cut into
    consecutive segments of `segment_s` seconds (the last one keeps the remainder when it is at
    least half a segment, else joins the one before; an utterance shorter than that is one
    segment), every segment carrying the utterance's label as its audio, visual and audio-visual
    label and the sound type ``verbal``. `audio`/`visual`: per utterance (frames, features) at
    `audio_rate`/`visual_rate` frames per second."""
    cols = {k: [] for k in ("clip", "segment", "speaker", "session", "label")}
    a_out, v_out = [], []
    for i in range(len(clip)):
        dur = min(len(audio[i]) / audio_rate, len(visual[i]) / visual_rate)
        n = max(1, int(dur // segment_s) + (dur % segment_s >= segment_s / 2))
        edges = np.minimum(np.arange(n + 1) * segment_s, dur)
        edges[-1] = dur
        for t in range(n):
            a0, a1 = int(edges[t] * audio_rate), max(int(edges[t + 1] * audio_rate), int(edges[t] * audio_rate) + 1)
            v0, v1 = int(edges[t] * visual_rate), max(int(edges[t + 1] * visual_rate), int(edges[t] * visual_rate) + 1)
            a_out.append(np.asarray(audio[i][a0:a1], np.float32))
            v_out.append(np.asarray(visual[i][v0:v1], np.float32))
            for k, v in (("clip", clip[i]), ("segment", t), ("speaker", speaker[i]),
                         ("session", session[i]), ("label", label[i])):
                cols[k].append(v)
    lab = np.array(cols["label"], np.int32)
    return SegmentCorpus(name=name, clip=np.array(cols["clip"]), segment=np.array(cols["segment"], np.int32),
                         speaker=np.array(cols["speaker"]), session=np.array(cols["session"]),
                         label=lab, audio_label=lab.copy(), visual_label=lab.copy(),
                         sound=np.full(len(lab), SOUNDS.index("verbal"), np.int32), audio=a_out,
                         visual=v_out, classes=tuple(classes), params=dict(params or {}))


def load(spec: str) -> SegmentCorpus:
    """``segments[:k=v,...]`` (the embedded corpus) or ``segtable:PATH.csv``."""
    kind, _, rest = spec.partition(":")
    if kind == "segments":
        from emojax.data.synthetic import parse_settings
        return generate(SegmentParams(**parse_settings(rest, SegmentParams, "segments")))
    if kind == "segtable":
        return read_table(rest)
    raise ValueError(f"corpus {spec!r}: segments[:k=v,...] (the embedded segment corpus) or "
                     "segtable:PATH.csv (a user's segment table; emojax.data.segments)")
