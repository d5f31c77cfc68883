"""Render the embedded synthetic corpus as an ``IEMOCAP_full_release`` tree (shared/IEMOCAP_FORMAT.md).

  from emojax.data.render import render_iemocap
  from emojax.data.synthetic import SyntheticParams
  summary = render_iemocap("/tmp/iemocap_synth", SyntheticParams(scale=0.1), workers=2)
  python -m emojax.data.render /tmp/iemocap_synth --scale 0.1 --workers 2

`out` becomes the release root: ``out/Session{1..5}/dialog/...`` and ``out/Session{1..5}/sentences/...``
with every utterance of both speakers, in the shapes of IEMOCAP_FORMAT.md sections 2-6:

  dialog/EmoEvaluation/<dialog>.txt          header, one block per utterance (F blocks, then M blocks)
  dialog/EmoEvaluation/Categorical|Attribute per-evaluator files (the recursive-glob trap of section 3)
  dialog/transcriptions/<dialog>.txt         time order, ``%08.4f`` times
  dialog/wav/<dialog>.wav                    16-bit, 2 channels: 0 = female mic, 1 = male mic (crosstalk)
  dialog/MOCAP_{rotated,head,hand}/          only with ``dialog_mocap=True``; Time from the dialog start
  sentences/wav/<dialog>/<utt>.wav           mono int16, samples = floor((end - start) * sr), cut from
                                             the speaker's mic channel
  sentences/MOCAP_{rotated,head,hand}/<dialog>/<utt>.txt   the wearer, 167 / 8 / 20 columns, dialog
                                             frame numbers, Time from the utterance start
  render.json                                what was rendered: names, times, latent, coloured segments
  .render/                                   per-dialog records and ``.completed`` markers (resume)

Dialogs. Synthetic dialog d of a session (wearer F for even d, M for odd) becomes the next IEMOCAP-style
name of its wearer, in the order impro01, script01_1, impro02, script01_2, ... (`dialog_names`); as in
IEMOCAP, Ses03M splits impro05 (and, from 34 dialogs a session, impro08) into a/b takes and Ses05M
adds script01_1b, which has no MoCap (when Session 5 has fewer than 3 M-worn dialogs, its last M-worn
dialog has none instead).
Utterance ids keep the synthetic per-speaker counters (``<dialog>_F000``...). Turns follow
``dialog_turn`` with 0.05-2.5 s gaps; 12 % of speaker changes overlap the previous turn by 0.15-0.8 s.

Latent -> speech, per utterance with (v, a) = the latent (valence, activation) z-scores. In 30 % of
utterances the colouring applies only to a contiguous 40-70 % of the syllables (ramped at the edges;
v = a = 0 elsewhere; `render.json` gives the segment in seconds from the utterance start).

  | quantity                     | mapping                                                            |
  |------------------------------|--------------------------------------------------------------------|
  | F0 mean                      | speaker base (F ~ 210 Hz, M ~ 120 Hz) x 2^((2.0 a + 0.4 v) / 12)   |
  | F0 range (accent height)     | 2.5 st x exp(0.35 a) x (1 + 0.2 v), clipped to 0.5..8 st            |
  | contour shape                | declination (-3 + 1.5 v) st over the utterance; accent probability |
  |                              | 0.3 + 0.12 v per syllable; final rise +3 st w.p. sigmoid(1.2 v - 0.8),|
  |                              | else a -2 st final fall                                            |
  | energy                       | +3.5 dB per unit a (syllable level), -3 dB declination             |
  | speaking rate                | speaker base (~4.3 syll/s) x exp(0.13 a); pauses between words     |
  |                              | w.p. 0.18 exp(-0.5 a), 0.15-0.5 s x exp(-0.2 a)                    |
  | spectral tilt                | glottal open quotient 0.55 - 0.08 a + 0.05 v; closing phase share  |
  |                              | 0.4 exp(-0.25 a + 0.15 v): flatter (more HF) with a up, v down     |
  | breathiness                  | aspiration noise x exp(-0.4 a)                                     |
  | jitter                       | 0.8 % + 0.4 % x max(-v, 0) (period-to-period F0 noise)             |
  | formants                     | F1 x (1 + 0.04 a) (jaw), F2, F3 x (1 + 0.03 v) (smile)             |
  | duration                     | 1 + Poisson(7) words (<= 18), 1-6 s: words dropped to fit 6 s      |

Latent -> labels. Each external evaluator perceives z + bias_e + N(0, 0.5^2) and votes a category by
a softmax over prototypes (below: prior log-weight - |z_e - mu|^2 / (2 0.7^2)); 10 % of lines carry a
second label, 0.5 % are empty (``C-E2:\\t;\\t()``). Three of E1..E4 rate each dialog, plus the speaker's
self-evaluation (noise 0.35, last in the block). The summary code is the label named by the most
non-self evaluators when that label is unique and named by more than half of them, else ``xxx``.

  | category    | mu (v, a)    | prior | code share at default params (IEMOCAP) |
  |-------------|--------------|-------|-----------------------------------------|
  | Neutral     | ( 0.0, -0.1) |  0.22 | neu 16.6 % (17.0 %)                     |
  | Frustration | (-0.8,  0.3) |  0.98 | fru 18.0 % (18.4 %)                     |
  | Anger       | (-1.4,  1.4) |  1.60 | ang 11.0 % (11.0 %)                     |
  | Sadness     | (-1.0, -1.3) |  0.00 | sad 10.8 % (10.8 %)                     |
  | Excited     | ( 1.0,  1.0) | -0.20 | exc 11.8 % (10.4 %)                     |
  | Happiness   | ( 1.3, -0.3) | -1.70 | hap  4.9 % ( 5.9 %)                     |
  | Surprise    | ( 0.4,  2.0) | -1.40 | sur  1.2 % ( 1.1 %)                     |
  | Fear        | (-1.0,  2.2) | -1.30 | fea  0.2 % ( 0.4 %)                     |
  | Other       | ( 0.0,  0.0) | -5.00 | oth  0   % ( 0.0 %)                     |
  | Disgust     | (-1.8,  0.6) | -5.50 | dis  0   % ( 0.0 %)                     |
  | no majority |              |       | xxx 25.7 % (25.0 %)                     |

At default params (10,365 utterances) ``ang_hapexc_neu_sad`` has 5,697 utterances (IEMOCAP 5,531) and
``ang_exc_neu_sad`` 5,193 (4,936); `label_counts` gives the counts without rendering.

Dimensional lines: the synthetic corpus' valence/activation ratings are means over k = 2..3 annotators
per (dialog, speaker); the renderer infers k from the means and writes k integer ratings per
utterance whose mean is exactly the corpus' rating (each near 3 + label_gain z + evaluator bias), so
the summary V, A equal ``corpus.valence``/``corpus.activation``; dominance = 3 + 0.9 a - 0.35 v + noise.

Transcripts draw 35 % of words from a small lexicon of the utterance's emotion (its code, or the
latent's nearest prototype when ``xxx``) and the rest from neutral filler; ``[LAUGHTER]`` (rendered as
breathy "ha" syllables) in 25 % of hap/exc utterances, 2 % of others; a comma marks a pause.

MoCap (the wearer; 120 fps by default, ``mocap_fps=0`` writes none): 55 face markers in mm from the
nose tip (TNOSE = 0): jaw/lower lip and chin open with the wearer's speech envelope (energy and
syllables), mouth corners rise and widen by 2 mm per unit v, brows rise by 2.2 mm per unit a and the
inner brows knit with negative v, blinks, drift and 0.12 mm noise; head rotation/translation wander
with amplitude x exp(0.3 a) and nod with the voice; hand markers gesture x exp(0.5 a); a few NaN runs
(face markers lost; hands more often). While the wearer listens, the face shows 0.6 z of the wearer's
last own turn.

Size and speed (measured at scale=0.1: 1,081 utterances, 1.16 h of audio, one process on a shared
2-core machine: 61 s, i.e. ~68 s of audio per wall second): 1.13 GB per hour of audio, of which
sentence MoCap 0.75 GB/h at 120 fps (the face file ~180 kB per second of utterance; it scales with
``mocap_fps``), dialog wavs 0.26 GB/h, sentence wavs 0.12 GB/h, labels and transcripts < 1 MB/h;
``dialog_mocap=True`` adds about as much again as the sentence MoCap. The default corpus (~11 h)
is ~13 GB and ~10 min per process (`summary["bytes_by_kind"]`, ``summary["audio_s_per_wall_s"]``).

Output is deterministic in the params' seed and the options (every dialog, utterance and stream has
its own seed), whatever ``workers``. Files are written atomically (temporary name, then rename); a
dialog is complete once ``.render/<dialog>.completed`` exists, which is written last, so a rerun into
the same `out` skips finished dialogs and redoes interrupted ones. A rerun with other params/options
into the same `out` raises ValueError.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from emojax.data.labels import IEMOCAP_LABEL_SETS as LABEL_SETS
from emojax.data.synthetic import N_SESSIONS, SyntheticParams, generate

FORMAT_VERSION = 1

# ----------------------------------------------------------------------------- naming
_SCRIPTS = ("01_1", "01_2", "01_3", "02_1", "02_2", "03_1", "03_2")   # IEMOCAP Session 1's scripts
# Takes that IEMOCAP recorded twice (IEMOCAP_FORMAT.md section 2): (session, wearer, base) -> names.
_SPLIT = {(3, "M", "impro05"): ("impro05a", "impro05b"),
          (3, "M", "impro08"): ("impro08a", "impro08b"),
          (5, "M", "script01_1"): ("script01_1", "script01_1b")}
NO_MOCAP = "Ses05M_script01_1b"     # IEMOCAP's dialog without motion capture


def _base_names():
    """impro01, script01_1, impro02, script01_2, ..., impro07, script03_2, impro08, script04_1, ..."""
    i = 0
    while True:
        i += 1
        yield f"impro{i:02d}"
        j = i - 1 - len(_SCRIPTS)
        yield f"script{_SCRIPTS[i - 1]}" if j < 0 else f"script{4 + j // 2:02d}_{j % 2 + 1}"


def dialog_names(session: int, n_dialogs: int) -> list[str]:
    """IEMOCAP-style names of a session's synthetic dialogs d = 0..n_dialogs-1.

    Wearer F for even d and M for odd d (as `synthetic.generate`); each wearer's dialogs take the
    next names of `_base_names`, with IEMOCAP's a/b takes: ``dialog_names(3, 30)`` holds
    ``Ses03M_impro05a`` and ``Ses03M_impro05b`` (``Ses03M_impro08a``/``b`` from 34 dialogs on), and
    ``dialog_names(5, 30)`` holds ``Ses05M_script01_1`` and ``Ses05M_script01_1b``.
    """
    per = {}
    for k, g in enumerate("FM"):
        need = len(range(k, n_dialogs, 2))
        names: list[str] = []
        gen = _base_names()
        while len(names) < need:
            base = next(gen)
            names.extend(_SPLIT.get((session, g, base), (base,)))
        per[g] = names[:need]
    return [f"Ses{session:02d}{'FM'[d % 2]}_{per['FM'[d % 2]][d // 2]}" for d in range(n_dialogs)]


# ----------------------------------------------------------------------------- labels
CATEGORIES = ("Neutral", "Frustration", "Anger", "Sadness", "Excited", "Happiness", "Surprise", "Fear",
              "Other", "Disgust")
CODES = {"Neutral": "neu", "Frustration": "fru", "Anger": "ang", "Sadness": "sad", "Excited": "exc",
         "Happiness": "hap", "Surprise": "sur", "Fear": "fea", "Other": "oth", "Disgust": "dis"}
# Prototype (valence, activation) z of each category and its prior log-weight, tuned so that the
# majority codes come out in IEMOCAP's proportions (IEMOCAP_FORMAT.md "Emotion codes and counts").
_PROTO = np.array([(0.0, -0.1), (-0.8, 0.3), (-1.4, 1.4), (-1.0, -1.3), (1.0, 1.0), (1.3, -0.3),
                   (0.4, 2.0), (-1.0, 2.2), (0.0, 0.0), (-1.8, 0.6)])
_PRIOR = np.array([0.22, 0.98, 1.6, 0.0, -0.2, -1.7, -1.4, -1.3, -5.0, -5.5])
_VOTE_WIDTH = 0.7
_VOTE_SD = 0.5           # an external evaluator's perception noise on z
_SELF_SD = 0.35
_MULTI_P = 0.10          # a second label on the line
_EMPTY_P = 0.005         # ``C-E2:\t;\t()``
_RATERS = ("E1", "E2", "E3", "E4")
_COMMENTS = {"Neutral": ("calm", "curious", "matter of fact"), "Frustration": ("annoyed", "exasperated"),
             "Anger": ("yelling", "aggressive"), "Sadness": ("resigned", "tearful"),
             "Excited": ("thrilled", "energetic"), "Happiness": ("content", "smiling"),
             "Surprise": ("disbelief",), "Fear": ("worried",), "Other": ("sarcastic",),
             "Disgust": ("repulsed",)}


def _category_probs(z: np.ndarray) -> np.ndarray:
    logit = _PRIOR - ((z[..., None, :] - _PROTO) ** 2).sum(-1) / (2 * _VOTE_WIDTH ** 2)
    logit = logit - logit.max(-1, keepdims=True)
    p = np.exp(logit)
    return p / p.sum(-1, keepdims=True)


def _vote(rng, z: np.ndarray, bias: np.ndarray, sd: float, multi_p: float, empty_p: float) -> list[str]:
    p = _category_probs(z + bias + sd * rng.normal(size=2))
    c = min(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right")), len(p) - 1)
    labels = [c]
    if rng.random() < multi_p:
        q = p.copy()
        q[c] = 0.0
        labels.append(min(int(np.searchsorted(np.cumsum(q), rng.random() * q.sum(), side="right")),
                          len(q) - 1))
    if rng.random() < empty_p:
        labels = []
    return [CATEGORIES[i] for i in labels]


def majority_code(votes: list[list[str]]) -> str:
    """The label named by the most evaluators, if unique and named by more than half; else ``xxx``."""
    counts = collections.Counter(lab for v in votes for lab in set(v))
    if not counts:
        return "xxx"
    (top, n), *rest = counts.most_common()
    if n * 2 <= len(votes) or (rest and rest[0][1] == n):
        return "xxx"
    return CODES[top]


def _split_mean(mean: float, k: int, target: np.ndarray) -> np.ndarray:
    """k integer ratings in 1..5 with mean `mean` (when k * mean is an integer), each near `target`."""
    total = int(np.clip(round(mean * k), k, 5 * k))
    r = np.clip(np.rint(target), 1, 5).astype(int)
    while r.sum() > total:
        r[np.argmax(np.where(r > 1, r - target, -np.inf))] -= 1
    while r.sum() < total:
        r[np.argmin(np.where(r < 5, r - target, np.inf))] += 1
    return r


def _n_annotators(p: SyntheticParams, means: np.ndarray) -> int:
    """The smallest annotator count k in the params' range whose k * mean is integral for all `means`."""
    for k in range(max(1, p.min_annotators), max(p.min_annotators, p.max_annotators) + 1):
        if np.all(np.abs(means * k - np.rint(means * k)) < 1e-6):
            return k
    return max(1, p.max_annotators)


# ----------------------------------------------------------------------------- text
_FILLER = ("I", "you", "the", "a", "it's", "that", "to", "and", "we", "was", "so", "well", "okay", "just",
           "know", "think", "about", "what", "there", "going", "really", "mean", "right", "yeah", "maybe",
           "time", "here", "now", "they", "have", "do", "get", "go", "said", "tell", "me", "this", "one",
           "like", "some", "thing", "out", "with", "for", "on", "if", "would", "don't", "come", "look")
_LEXICON = {
    "ang": ("stop", "enough", "ridiculous", "unbelievable", "hate", "never", "damn", "shut", "listen",
            "stupid", "fault", "sick", "liar", "get out"),
    "fru": ("again", "whatever", "can't", "why", "supposed", "seriously", "waiting", "forms", "line",
            "impossible", "tired", "fine", "hours", "nothing"),
    "hap": ("nice", "glad", "love", "lovely", "wonderful", "sweet", "thanks", "beautiful", "good", "smile",
            "happy"),
    "exc": ("wow", "amazing", "awesome", "great", "yes", "incredible", "fantastic", "married", "party",
            "finally", "believe"),
    "sad": ("miss", "sorry", "alone", "gone", "lost", "cry", "hurts", "died", "nobody", "wish",
            "remember", "never"),
    "sur": ("what", "really", "oh", "seriously", "no way", "wait"),
    "fea": ("afraid", "scared", "careful", "dark", "please", "help"),
    "dis": ("gross", "disgusting", "ugh"),
}
_LAUGH_P = {"hap": 0.25, "exc": 0.25}
LAUGHTER = "[LAUGHTER]"


def _n_syllables(word: str) -> int:
    return 4 if word == LAUGHTER else max(1, len(re.findall(r"[aeiouy]+", word.lower())))


def _emotion_of(code: str, z: np.ndarray) -> str:
    if code in _LEXICON or code == "neu":
        return code
    return CODES[CATEGORIES[int(np.argmax(_category_probs(z)))]]


def _draw_words(rng, emotion: str) -> list[str]:
    n = int(min(1 + rng.poisson(7.0), 18))
    lex = _LEXICON.get(emotion, ())
    words = []
    for _ in range(n):
        pool = lex if lex and rng.random() < 0.35 else _FILLER
        words.extend(pool[int(rng.integers(len(pool)))].split())
    if rng.random() < _LAUGH_P.get(emotion, 0.02):
        words.insert(int(rng.integers(len(words) + 1)), LAUGHTER)
    return words


def _text(rng, words: list[str], pause_after: list[bool], emotion: str, a: float) -> str:
    toks = []
    for i, (w, pause) in enumerate(zip(words, pause_after)):
        if not toks and w != LAUGHTER:
            w = w[0].upper() + w[1:]
        toks.append(w + ("," if pause and w != LAUGHTER and i < len(words) - 1 else ""))
    u = rng.random()
    end = ("!" if a > 1.0 and u < 0.6 else "..." if emotion == "sad" and u < 0.3 else
           "?" if u > 0.88 else ".")
    if toks[-1] == LAUGHTER:
        return " ".join(toks)
    return " ".join(toks) + end


# ----------------------------------------------------------------------------- speakers and raters
@dataclasses.dataclass(frozen=True)
class _Speaker:
    f0: float            # Hz
    formant_scale: float
    rate: float          # syllables per second at a = 0
    gain_db: float
    breath: float
    face: np.ndarray     # (55, 3) mm offsets of the face markers


def _speaker(seed: int, session: int, g: str) -> _Speaker:
    rng = np.random.default_rng([seed, 0x5350, session, "FM".index(g)])
    f0 = rng.normal(210.0, 15.0) if g == "F" else rng.normal(120.0, 10.0)
    fs = (1.17 if g == "F" else 1.0) * rng.normal(1.0, 0.03)
    return _Speaker(f0=float(f0), formant_scale=float(fs), rate=float(rng.normal(4.3, 0.3)),
                    gain_db=float(rng.normal(0.0, 1.5)), breath=float(rng.uniform(0.02, 0.06)),
                    face=rng.normal(0.0, 2.0, (55, 3)))


def _raters(seed: int) -> dict[str, np.ndarray]:
    """Per external evaluator: (bias_v, bias_a, bias_dom) in z units, zero mean over the evaluators."""
    rng = np.random.default_rng([seed, 0x5241])
    b = rng.normal(0.0, 0.15, (len(_RATERS), 3))
    return dict(zip(_RATERS, b - b.mean(0)))


# ----------------------------------------------------------------------------- the plan
@dataclasses.dataclass(frozen=True)
class _Dialog:
    index: int           # global index, seeds this dialog's streams
    session: int
    synthetic: str       # ``Ses01F_dlg000``
    name: str            # ``Ses01F_impro01``
    wearer: str
    rows: np.ndarray     # corpus rows in dialog_turn order
    mocap: bool


@functools.lru_cache(maxsize=4)
def _plan(p: SyntheticParams) -> tuple[_Dialog, ...]:
    corpus = generate(p)
    by_dialog: dict[str, list[int]] = {}
    for i, d in enumerate(corpus.dialog):
        by_dialog.setdefault(str(d), []).append(i)
    turn = corpus.extras["dialog_turn"]
    per_session: dict[int, list[str]] = collections.defaultdict(list)
    for d in by_dialog:
        per_session[int(d[3:5])].append(d)
    dialogs = []
    for s in sorted(per_session):
        syn = sorted(per_session[s], key=lambda d: int(d.rsplit("dlg", 1)[1]))
        names = dialog_names(s, len(syn))
        no_mocap = None
        if s == N_SESSIONS:
            m_worn = [n for n in names if n[5] == "M"]
            no_mocap = NO_MOCAP if NO_MOCAP in names else (m_worn[-1] if m_worn else names[-1])
        for d, name in zip(syn, names):
            rows = np.array(by_dialog[d])
            rows = rows[np.argsort(turn[rows], kind="stable")]
            dialogs.append(_Dialog(index=len(dialogs), session=s, synthetic=d, name=name, wearer=d[5],
                                   rows=rows, mocap=name != no_mocap))
    return tuple(dialogs)


# ----------------------------------------------------------------------------- speech synthesis
# Formants F1..F4 (Hz) of an adult male: Peterson & Barney 1952 averages, F4 nominal.
_VOWELS = np.array([(730, 1090, 2440, 3400), (270, 2290, 3010, 3600), (300, 870, 2240, 3300),
                    (530, 1840, 2480, 3500), (570, 840, 2410, 3300), (660, 1720, 2410, 3400),
                    (490, 1350, 1690, 3300), (640, 1190, 2390, 3400)], float)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
_ONSETS = ("none", "fric", "stop", "nasal")
_ONSET_P = (0.2, 0.35, 0.3, 0.15)
_CONS_SHARE = {"none": 0.06, "fric": 0.4, "stop": 0.35, "nasal": 0.3, "h": 0.35}
_LEVEL = 0.05          # full-scale RMS of a neutral utterance, before the speaker's gain
_HOP_S = 0.01          # formant frequencies are updated every 10 ms


@dataclasses.dataclass
class _Syllables:
    start: np.ndarray    # (S,) s from the utterance start
    cons: np.ndarray     # (S,) s of onset consonant
    dur: np.ndarray      # (S,) s, consonant + vowel
    onset: list[str]
    vowel: np.ndarray    # (S,) index into _VOWELS
    accent: np.ndarray   # (S,) st
    amp_db: np.ndarray   # (S,)
    breathy: np.ndarray  # (S,) bool
    e: np.ndarray        # (S, 2) effective (v, a)
    final_st: float
    length: float        # s, the whole utterance with leading/trailing silence
    coloured: list[float] | None
    pause_after: list[bool]   # per word


def _plan_syllables(rng, words: list[str], z: np.ndarray, segment, spk: _Speaker) -> _Syllables:
    nsyl = [_n_syllables(w) for w in words]
    S = sum(nsyl)
    word_of = np.repeat(np.arange(len(words)), nsyl)
    laugh = np.array([words[w] == LAUGHTER for w in word_of])
    w = np.ones(S)
    if segment is not None:                      # colour only syllables whose centre is inside
        centre = (np.arange(S) + 0.5) / S
        w = ((centre >= segment[0]) & (centre < segment[0] + segment[1])).astype(float)
        if not w.any():
            w[min(S - 1, int(segment[0] * S))] = 1.0
    e = w[:, None] * z[None, :]                  # (S, 2)
    ev, ea = e[:, 0], e[:, 1]
    rate = spk.rate * np.exp(0.13 * ea)
    dur = rng.uniform(0.75, 1.3, S) / rate
    dur[laugh] = rng.uniform(0.13, 0.2, laugh.sum())
    last_of_word = np.r_[word_of[1:] != word_of[:-1], True]
    dur[last_of_word] *= 1.15
    dur[-1] *= 1.3
    onset = [_ONSETS[i] for i in rng.choice(4, size=S, p=_ONSET_P)]
    onset = ["h" if lg else o for o, lg in zip(onset, laugh)]
    cons = dur * np.array([_CONS_SHARE[o] for o in onset]) * rng.uniform(0.8, 1.2, S)
    vowel = rng.integers(len(_VOWELS), size=S)
    rng_st = np.clip(2.5 * np.exp(0.35 * ea) * (1 + 0.2 * ev), 0.5, 8.0)
    accent = np.where(rng.random(S) < np.clip(0.3 + 0.12 * ev, 0.1, 0.6),
                      rng_st * rng.uniform(0.6, 1.2, S), 0.0)
    accent[laugh] = 4.0
    amp_db = 3.5 * ea + rng.normal(0.0, 1.2, S) + np.where(accent > 0, 2.0, 0.0)
    # pauses after words (never after the last)
    ea_word = np.array([ea[word_of == i].mean() for i in range(len(words))])
    pause = rng.random(len(words)) < np.clip(0.18 * np.exp(-0.5 * ea_word), 0.03, 0.5)
    pause[-1] = False
    pause_len = np.where(pause, rng.uniform(0.15, 0.5, len(words)) * np.exp(-0.2 * ea_word), 0.0)
    gap = np.where(last_of_word, pause_len[word_of], 0.0)
    lead, tail = rng.uniform(0.08, 0.25), rng.uniform(0.1, 0.3)
    start = lead + np.r_[0.0, np.cumsum(dur + gap)[:-1]]
    length = max(1.0, float(start[-1] + dur[-1] + tail))
    final_st = 3.0 if rng.random() < 1 / (1 + np.exp(-(1.2 * ev[-1] - 0.8))) else -2.0
    coloured = None
    if segment is not None:
        idx = np.flatnonzero(w)
        coloured = [round(float(start[idx[0]]), 4), round(float(start[idx[-1]] + dur[idx[-1]]), 4)]
    return _Syllables(start=start, cons=cons, dur=dur, onset=onset, vowel=vowel, accent=accent,
                      amp_db=amp_db, breathy=laugh, e=e, final_st=final_st, length=length,
                      coloured=coloured, pause_after=list(pause))


def _resonance(freqs: np.ndarray, bws: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """(C, K) formant frequencies -> (C, n_fft // 2 + 1) response of the cascade of K two-pole
    resonators (1 + a1 + a2) / (1 + a1 z^-1 + a2 z^-2), unit gain at DC (Klatt 1980)."""
    r = np.exp(-np.pi * bws / sr)                                # (K,)
    a1 = -2 * r * np.cos(2 * np.pi * freqs / sr)                 # (C, K)
    a2 = r * r
    w = 2 * np.pi * np.arange(n_fft // 2 + 1) / n_fft             # the rfft bins
    cw, sw, c2w, s2w = (f(m * w).astype(np.float32) for m in (1, 2) for f in (np.cos, np.sin))
    a1 = a1.astype(np.float32)
    re = np.ones((freqs.shape[0], w.size), np.float32)          # product of the denominators,
    im = np.zeros_like(re)                                       # in real arithmetic (float32)
    for k in range(freqs.shape[1]):
        dr = 1 + a1[:, k, None] * cw + np.float32(a2[k]) * c2w
        di = -(a1[:, k, None] * sw + np.float32(a2[k]) * s2w)
        re, im = re * dr - im * di, re * di + im * dr
    gain = np.prod(1 + a1 + np.float32(a2), axis=1)[:, None] / (re * re + im * im)
    return (re * gain) - 1j * (im * gain)


def _tv_filter(x: np.ndarray, freqs: np.ndarray, bws: np.ndarray, sr: int, hop: int) -> np.ndarray:
    """Time-varying formant filter: frame c (Hann, 2 hops long, centred on sample c hop) goes through
    the resonators of freqs[c], zero-padded so 25 ms of impulse response fit; overlap-add. Linear
    filtering with the filter crossfaded between frames; freqs (C, K), C = ceil(L / hop) + 1."""
    L = x.size
    C = freqs.shape[0]
    n_blk = 2 + int(math.ceil(0.025 * sr / hop))                 # frame + 25 ms decay (F1: tau = 4 ms)
    n_fft = n_blk * hop
    xp = np.zeros((C + 2) * hop)
    xp[hop:hop + L] = x                                          # frame c covers [(c-1) hop, (c+1) hop)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * hop) / (2 * hop))   # periodic Hann: sums to 1
    idx = np.arange(C)[:, None] * hop + np.arange(2 * hop)[None, :]
    frames = (xp[idx] * win).astype(np.float32)                  # (C, 2 hop)
    H = _resonance(freqs, bws, sr, n_fft)
    y = np.fft.irfft(np.fft.rfft(frames, n_fft, axis=1) * H, n_fft, axis=1)   # (C, n_fft)
    blocks = np.zeros((C + n_blk, hop), np.float32)
    yb = y.reshape(C, n_blk, hop)
    for b in range(n_blk):                                       # overlap-add, one shift per block
        blocks[b:b + C] += yb[:, b]
    return blocks.reshape(-1)[hop:hop + L].astype(np.float64)


@functools.lru_cache(maxsize=1024)
def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (FFT lengths with large prime factors are several times slower)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35 << max(0, (-(-n // p35) - 1).bit_length())      # times the power of 2 that fits
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _band(n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """rfft gains (n // 2 + 1,) of a zero-phase band-pass lo..hi Hz with raised-cosine skirts."""
    f = np.fft.rfftfreq(n, 1 / sr)
    hi = min(hi, 0.95 * sr / 2)
    up = np.clip((f - 0.7 * lo) / (0.3 * lo), 0, 1)
    down = np.clip((1.2 * hi - f) / (0.2 * hi), 0, 1)
    return (0.5 - 0.5 * np.cos(np.pi * up)) * (0.5 - 0.5 * np.cos(np.pi * down))


def _lowpass(x: np.ndarray, cutoff_hz: float, fs: float) -> np.ndarray:
    """Zero-phase Gaussian low-pass along axis 0 (gain 0.5 at `cutoff_hz`), reflect-padded."""
    pad = min(x.shape[0] - 1, int(math.ceil(fs / cutoff_hz)))
    xp = np.pad(x, [(pad, pad)] + [(0, 0)] * (x.ndim - 1), mode="reflect")
    n = _fast_len(xp.shape[0])
    f = np.fft.rfftfreq(n, 1 / fs)
    g = np.exp(-np.log(2) * (f / cutoff_hz) ** 2).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.fft.irfft(np.fft.rfft(xp, n, axis=0) * g, n, axis=0)[pad:pad + x.shape[0]]


def _ramp_window(n: int, attack: int, decay: int) -> np.ndarray:
    w = np.ones(n)
    a, d = min(attack, n // 2), min(decay, n - n // 2)
    if a:
        w[:a] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(a) + 0.5) / a)
    if d:
        w[n - d:] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(d) + 0.5) / d)
    return w


def _synthesize(rng, syl: _Syllables, spk: _Speaker, sr: int) -> tuple[np.ndarray, dict]:
    """Source-filter speech for one utterance plan: (waveform float32, control tracks at 100 Hz)."""
    L = int(round(syl.length * sr))
    t = np.arange(L) / sr
    centre = syl.start + syl.dur / 2
    ev = np.interp(t, centre, syl.e[:, 0])
    ea = np.interp(t, centre, syl.e[:, 1])
    T = syl.length
    # --- pitch, in semitones re the speaker's base
    P = 2.0 * ea + 0.4 * ev + (-3.0 + 1.5 * ev) * (t / T - 0.5)
    for c, d, h in zip(centre, syl.dur, syl.accent):
        if h > 0:
            wd = 0.35 * d
            lo, hi = max(0, int((c - 3 * wd) * sr)), min(L, int((c + 3 * wd) * sr) + 1)
            P[lo:hi] += h * np.exp(-0.5 * ((t[lo:hi] - c) / wd) ** 2)
    v0 = int((syl.start[-1] + syl.cons[-1]) * sr)
    P[v0:] += syl.final_st * np.clip((t[v0:] - t[v0]) / max(syl.dur[-1] - syl.cons[-1], 1e-3), 0, 1)
    period = 1.0 / spk.f0                        # jitter / shimmer: one random draw per period
    grid = np.arange(0.0, T + 2 * period, period)
    jit = np.interp(t, grid, rng.normal(size=grid.size))
    shim = np.interp(t, grid, rng.normal(size=grid.size))
    P += 12 * np.log2(1 + (0.008 + 0.004 * np.maximum(-ev, 0)) * jit)
    f0 = spk.f0 * 2.0 ** (P / 12)
    # --- glottal flow derivative (Rosenberg pulse); tilt via open quotient and closing speed
    frac = np.cumsum(f0 / sr) % 1.0
    oq = np.clip(0.55 - 0.08 * ea + 0.05 * ev, 0.3, 0.8)
    rn = np.clip(0.4 * np.exp(-0.25 * ea + 0.15 * ev), 0.12, 0.6)
    tp, tn = oq * (1 - rn), oq * rn
    src = np.where(frac < tp, np.pi / (2 * tp) * np.sin(np.pi * np.minimum(frac / tp, 1)),
                   np.where(frac < tp + tn, -np.pi / (2 * tn) * np.sin(0.5 * np.pi * (frac - tp) / tn), 0.0))
    src *= 0.1
    # --- envelopes: voicing per vowel (and nasal murmur), noise per consonant
    voice = np.zeros(L)
    fric = np.zeros(L)
    burst = np.zeros(L)
    breathy = np.zeros(L)
    for k in range(len(syl.start)):
        s0 = int(syl.start[k] * sr)
        v0 = min(L, s0 + int(syl.cons[k] * sr))
        s1 = min(L, s0 + int(syl.dur[k] * sr))
        amp = 10 ** (syl.amp_db[k] / 20)
        if s1 > v0:
            voice[v0:s1] = amp * _ramp_window(s1 - v0, int(0.015 * sr), int(0.03 * sr)) \
                * (0.6 if syl.breathy[k] else 1.0)
            if syl.breathy[k]:
                breathy[v0:s1] = 1.0
        n = v0 - s0
        if n <= 0:
            continue
        o = syl.onset[k]
        if o == "fric" or o == "h":
            tgt = fric if o == "fric" else burst
            tgt[s0:v0] = (0.25 if o == "fric" else 0.15) * amp * _ramp_window(n, n // 3, n // 3)
        elif o == "stop":
            b = min(n, int(0.015 * sr))
            burst[v0 - b:v0] = 0.5 * amp * np.exp(-np.arange(b) / (0.004 * sr))
        elif o == "nasal":
            voice[s0:v0] = 0.25 * amp * _ramp_window(n, n // 4, 0)
    decl = 10 ** (-3.0 * (t / T) / 20)
    gain = decl * (1 + 0.04 * shim)
    asp = spk.breath * np.exp(-0.4 * ea) * (1 + 4 * breathy)
    white = rng.normal(size=L)                   # one draw: aspiration, frication and bursts
    source = (src + asp * white) * voice * gain
    # --- formant filter, coefficients per 10 ms chunk following the vowel targets
    hop = max(1, int(round(_HOP_S * sr)))
    C = -(-L // hop) + 1
    tc = np.arange(C) * hop / sr                                  # frame c is centred on c hop
    vc = syl.start + syl.cons + (syl.dur - syl.cons) / 2
    F = np.stack([np.interp(tc, vc, _VOWELS[syl.vowel, j]) for j in range(4)], axis=1)   # (C, 4)
    evc, eac = np.interp(tc, centre, syl.e[:, 0]), np.interp(tc, centre, syl.e[:, 1])
    F *= spk.formant_scale
    F[:, 0] *= 1 + 0.04 * eac
    F[:, 1:3] *= (1 + 0.03 * evc)[:, None]
    F = np.minimum(F, 0.45 * sr)
    y = _tv_filter(source, F, _BANDWIDTHS, sr, hop)
    n = _fast_len(L)                             # frication 2.5-7 kHz, bursts and [h] 0.7-5 kHz
    W = np.fft.rfft(white, n)
    y += np.fft.irfft(W * _band(n, sr, 2500, 7000), n)[:L] * fric * decl
    y += np.fft.irfft(W * _band(n, sr, 700, 5000), n)[:L] * burst * decl
    y *= _LEVEL * 10 ** (spk.gain_db / 20)
    # control tracks for the face: envelope of the voice and the effective latent at 100 Hz
    hop = max(1, sr // 100)
    n100 = L // hop
    env = (voice * gain)[: n100 * hop].reshape(n100, hop).mean(1)
    ctrl = {"t": (np.arange(n100) + 0.5) * hop / sr, "env": env,
            "ev": ev[hop // 2::hop][:n100], "ea": ea[hop // 2::hop][:n100]}
    return y.astype(np.float32), ctrl


def _espeak(text: str, z: np.ndarray, g: str, sr: int) -> tuple[np.ndarray, dict]:
    """Speak `text` with espeak-ng, pitch/rate/amplitude from the latent (v, a); resampled to `sr`."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("speech='espeak' needs the espeak-ng binary on PATH "
                           "(Debian: apt-get install espeak-ng); use speech='synth'")
    v, a = float(z[0]), float(z[1])
    pitch = int(np.clip(50 + 15 * a + 5 * v + (15 if g == "F" else -15), 0, 99))
    speed = int(np.clip(165 * np.exp(0.13 * a), 80, 400))
    amp = int(np.clip(100 * 10 ** (3.5 * a / 20), 10, 200))
    clean = re.sub(r"\[\w+\]", "", text).strip() or "hm"
    voice = "en-us+f3" if g == "F" else "en-us+m3"
    res = subprocess.run([exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", str(amp),
                          "--stdout", clean], capture_output=True, check=True)
    with wave.open(io.BytesIO(res.stdout)) as w:
        rate, ch = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
    x = x.reshape(-1, ch).mean(1)
    m = int(round(x.size * sr / rate))           # FFT resampling to sr
    X = np.fft.rfft(x)[: m // 2 + 1]
    x = np.fft.irfft(X, m) * (m / x.size)
    x = np.concatenate([np.zeros(int(0.1 * sr)), x * 0.5, np.zeros(int(0.15 * sr))])
    if x.size < sr:
        x = np.concatenate([x, np.zeros(sr - x.size)])
    hop = max(1, sr // 100)
    n100 = x.size // hop
    env = np.sqrt((x[: n100 * hop] ** 2).reshape(n100, hop).mean(1)) / 0.05
    ctrl = {"t": (np.arange(n100) + 0.5) * hop / sr, "env": np.clip(env, 0, 2),
            "ev": np.full(n100, v), "ea": np.full(n100, a)}
    return x.astype(np.float32), ctrl


# ----------------------------------------------------------------------------- motion capture
def _face_names() -> list[str]:
    return (["CH1", "CH2", "CH3", "FH1", "FH2", "FH3"] + [f"LC{i}" for i in range(1, 9)]
            + [f"RC{i}" for i in range(1, 9)] + ["LLID", "RLID", "MH", "MNOSE", "LNSTRL", "TNOSE", "RNSTRL"]
            + [f"LBM{i}" for i in range(4)] + [f"RBM{i}" for i in range(4)]
            + [f"LBRO{i}" for i in range(1, 5)] + [f"RBRO{i}" for i in range(1, 5)]
            + [f"Mou{i}" for i in range(1, 9)] + ["LHD", "RHD"])


FACE_MARKERS = tuple(_face_names())                         # 55
FACE_HEADER = ("Frame# Time " + " ".join(FACE_MARKERS) + "\n"
               + " ".join(f"{c}{i:02d}" for i in [*range(1, 54), 60, 61] for c in "XYZ") + "\n")
HEAD_HEADER = "Frame# Time pitch roll yaw tra_x tra_y tra_z\ndeg deg deg mm mm mm\n"
HAND_MARKERS = ("LWRA", "LWRB", "LFIN", "RWRA", "RWRB", "RFIN")
HAND_HEADER = ("Frame# Time " + " ".join(HAND_MARKERS) + "\n"
               + " ".join(f"{c}{i:02d}" for i in range(54, 60) for c in "XYZ") + "\n")
_M = {n: i for i, n in enumerate(FACE_MARKERS)}


def _face_layout() -> np.ndarray:
    """(55, 3) rough neutral face, mm from the nose tip (x: actor's left, y: up, z: toward camera)."""
    pos = {"CH1": (-18, -78, -30), "CH2": (0, -84, -26), "CH3": (18, -78, -30),
           "FH1": (-35, 78, -25), "FH2": (0, 84, -20), "FH3": (35, 78, -25),
           "LLID": (32, 36, -28), "RLID": (-32, 36, -28), "MH": (0, 52, -22), "MNOSE": (0, 22, -12),
           "LNSTRL": (13, -4, -14), "TNOSE": (0, 0, 0), "RNSTRL": (-13, -4, -14),
           "LHD": (75, 65, -95), "RHD": (-75, 65, -95)}
    for i in range(8):
        x, y = (32, 46)[i % 2], (12, -6, -24, -42)[i // 2]
        pos[f"LC{i + 1}"], pos[f"RC{i + 1}"] = (x, y, -30 - 0.2 * x), (-x, y, -30 - 0.2 * x)
    for i in range(4):
        x, y = 18 + 4.5 * i, -50 - 4.5 * i
        pos[f"LBM{i}"], pos[f"RBM{i}"] = (x, y, -27 - i), (-x, y, -27 - i)
        x, y = (12, 24, 36, 46)[i], (46, 50, 50, 46)[i]
        pos[f"LBRO{i + 1}"], pos[f"RBRO{i + 1}"] = (x, y, -22 - 3 * i), (-x, y, -22 - 3 * i)
    for i in range(8):                                          # Mou1 left corner, Mou3 top, Mou5 right
        th = 2 * np.pi * i / 8
        pos[f"Mou{i + 1}"] = (24 * np.cos(th), -40 + 9 * np.sin(th), -20 - 3 * abs(np.sin(th)))
    return np.array([pos[n] for n in FACE_MARKERS], float)


def _smooth_noise(rng, shape, tau_frames: float) -> np.ndarray:
    """Unit-variance Gaussian-smoothed (sd `tau_frames` frames) white noise along axis 0."""
    s = max(float(tau_frames), 0.5)
    n = _fast_len(shape[0])
    f = np.fft.rfftfreq(n).reshape((-1,) + (1,) * (len(shape) - 1))
    x = np.fft.irfft(np.fft.rfft(rng.normal(size=(n,) + tuple(shape[1:])), axis=0)
                     * np.exp(-2 * (np.pi * s * f) ** 2), n, axis=0)[:shape[0]]
    return x * math.sqrt(2 * s * math.sqrt(math.pi))


def _mocap(rng, spk: _Speaker, n_frames: int, fps: float, state: dict) -> tuple[np.ndarray, ...]:
    """The wearer's face (K, 165), head (K, 6) and hands (K, 18) from per-frame state tracks."""
    env, ev, ea, speaking = state["env"], state["ev"], state["ea"], state["speaking"]
    K = n_frames
    face = np.broadcast_to(_face_layout() + spk.face, (K, 55, 3)).copy()
    y, x = face[:, :, 1], face[:, :, 0]
    jaw = 7.0 * env
    for n, wgt in (("Mou6", 0.8), ("Mou7", 1.0), ("Mou8", 0.8)):
        y[:, _M[n]] -= wgt * jaw
    for n in ("CH1", "CH2", "CH3"):
        y[:, _M[n]] -= 1.2 * jaw
    for i in range(4):
        y[:, _M[f"LBM{i}"]] -= 0.6 * jaw
        y[:, _M[f"RBM{i}"]] -= 0.6 * jaw
    for n in ("Mou2", "Mou3", "Mou4"):
        y[:, _M[n]] += 0.15 * jaw
    smile = np.clip(2.0 * ev, -3, 4)
    y[:, _M["Mou1"]] += smile - 0.4 * jaw
    y[:, _M["Mou5"]] += smile - 0.4 * jaw
    x[:, _M["Mou1"]] += 0.8 * smile
    x[:, _M["Mou5"]] -= 0.8 * smile
    for i in (1, 2, 3, 4):
        y[:, _M[f"LC{i}"]] += 0.5 * smile
        y[:, _M[f"RC{i}"]] += 0.5 * smile
    raise_ = 2.2 * ea + 0.6 * env * (ea > 0)
    frown = 1.2 * np.maximum(-ev, 0)
    for i in range(1, 5):
        y[:, _M[f"LBRO{i}"]] += raise_
        y[:, _M[f"RBRO{i}"]] += raise_
    x[:, _M["LBRO1"]] -= frown
    x[:, _M["RBRO1"]] += frown
    y[:, _M["LBRO1"]] -= 0.5 * frown
    y[:, _M["RBRO1"]] -= 0.5 * frown
    for n in ("FH1", "FH2", "FH3"):
        y[:, _M[n]] += 0.25 * raise_
    blink = np.zeros(K)                                         # ~ one blink per 3 s, 150 ms
    n_blink = rng.poisson(K / fps / 3.0)
    dur = max(1, int(round(0.15 * fps)))
    for b in rng.integers(0, max(1, K - dur), n_blink):
        blink[b:b + dur] = np.sin(np.pi * (np.arange(min(dur, K - b)) + 0.5) / dur)
    y[:, _M["LLID"]] -= 4 * blink
    y[:, _M["RLID"]] -= 4 * blink
    face += 0.5 * _smooth_noise(rng, (K, 55, 3), 2.0 * fps) + 0.12 * rng.normal(size=(K, 55, 3))
    face[:, _M["TNOSE"]] = 0.0
    face = face.reshape(K, 165)
    for _ in range(rng.poisson(0.02 * K / fps) + 1):            # lost markers
        m = int(rng.integers(55))
        if m != _M["TNOSE"]:
            k0 = int(rng.integers(K))
            face[k0:k0 + int(rng.integers(3, 40)), 3 * m:3 * m + 3] = np.nan
    amp = (2.0 * np.exp(0.3 * ea) * (1 + 0.5 * speaking))[:, None]
    rot = amp * _smooth_noise(rng, (K, 3), 0.8 * fps)
    rot[:, 0] -= 2.0 * env                                      # nod with the voice
    tra = 8.0 * _smooth_noise(rng, (K, 3), 3.0 * fps) + rng.uniform(-40, 40, 3)
    head = np.concatenate([rot, tra], axis=1)
    base = np.array([(250, -380, 120), (260, -420, 100), (270, -460, 140),
                     (-250, -380, 120), (-260, -420, 100), (-270, -460, 140)], float).reshape(18)
    gest = (25.0 * np.exp(0.5 * ea) * (0.4 + 0.6 * speaking))[:, None]
    hand = base + gest * _smooth_noise(rng, (K, 18), 0.5 * fps) + 0.3 * rng.normal(size=(K, 18))
    for _ in range(rng.poisson(0.05 * K / fps) + 1):            # hands leave the capture volume
        m = int(rng.integers(6))
        k0 = int(rng.integers(K))
        hand[k0:k0 + int(rng.integers(10, 120)), 3 * m:3 * m + 3] = np.nan
    return face, head, hand


_P10 = 10 ** np.arange(19, dtype=np.int64)
_TAB = 100_000                       # table lookup for integer parts below 10^5, else digit by digit


def _byte_mask(n: int) -> np.uint64:
    m = np.zeros(8, np.uint8)
    m[:n] = 255
    return m.view("<u8")[0]


def _int_cells(ip: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Integer parts (up to 7 digits) as right-aligned 8-byte cells, digit by digit (uint64 view)."""
    if ip.size and ip.max() >= 10 ** 7:
        raise ValueError(f"format_rows: {int(ip.max())} has more than 7 integer digits")
    cells = np.zeros(ip.shape + (8,), np.uint8)
    rem = ip.copy()
    nd = np.ones(ip.shape, np.int64)
    for j in range(7):
        rem, d = np.divmod(rem, 10)
        cells[..., 7 - j] = np.where((ip >= _P10[j]) | (j == 0), d + 48, 0)
        nd += ip >= _P10[j + 1]
    r = np.nonzero(neg)
    cells[r + (7 - nd[r],)] = 45                                     # '-'
    return cells.view("<u8")[..., 0]


@functools.lru_cache(maxsize=1)
def _digit_tables() -> tuple[np.ndarray, np.ndarray]:
    """8-byte cells as uint64: ints (2, _TAB) = right-aligned ``123`` / ``-123`` (0 bytes = nothing);
    fracs (_TAB,) = ``.00042`` and two empty bytes (the separator goes into byte 6)."""
    n = np.arange(_TAB)
    ints = np.stack([_int_cells(n, np.zeros(_TAB, bool)), _int_cells(n, np.ones(_TAB, bool))])
    fracs = np.zeros((_TAB, 8), np.uint8)
    fracs[:, 0] = 46
    rem = n
    for i in range(5):
        rem, d = np.divmod(rem, 10)
        fracs[:, 5 - i] = d + 48
    return ints, fracs.view("<u8")[:, 0]


def format_rows(table: np.ndarray, decimals) -> bytes:
    """Rows of space-separated numbers, ``%.<decimals>f`` per column (``NaN`` for nan), one per line.

    Vectorised equivalent of ``"\\n".join(" ".join("%.5f" % v ...))``, several times faster: each
    value becomes two 8-byte cells from lookup tables (integer part, fraction + separator) and the
    empty bytes are squeezed out. Negative zero prints as ``0.00000``. `decimals`: an int or one per
    column, 0..5.
    """
    table = np.asarray(table, np.float64)
    R, C = table.shape
    if R == 0:
        return b""
    dec = np.broadcast_to(np.asarray(decimals, np.int64), (C,))
    nan = np.isnan(table)
    v = np.rint(np.abs(np.where(nan, 0.0, table)) * 10.0 ** dec).astype(np.int64)
    neg = (table < 0) & (v > 0)
    ip = v // _P10[dec]
    ints, fracs = _digit_tables()
    A = ints[neg.view(np.uint8), ip] if ip.max() < _TAB else _int_cells(ip, neg)
    B = fracs[(v % _P10[dec]) * _P10[5 - dec]]
    keep = np.array([_byte_mask(k + 1 if k else 0) for k in range(6)], np.uint64)   # '.' + k digits
    B &= keep[dec]
    space, newline = np.uint64(32 << 48), np.uint64(10 << 48)
    B |= space
    B[:, -1] ^= space ^ newline
    if nan.any():
        A[nan] = np.frombuffer(b"\0\0\0\0\0NaN", "<u8")[0]
        B[nan] &= ~keep[5]
    flat = np.stack([A, B], axis=-1).view(np.uint8).reshape(-1)
    return flat[flat != 0].tobytes()


def _mocap_text(header: str, frames: np.ndarray, times: np.ndarray, values: np.ndarray) -> bytes:
    tab = np.concatenate([frames[:, None].astype(np.float64), times[:, None], values], axis=1)
    dec = np.full(tab.shape[1], 5)
    dec[0] = 0
    return header.encode() + format_rows(tab, dec)


# ----------------------------------------------------------------------------- writing
def _write(path: Path, data: bytes | str) -> int:
    """Atomic: a temporary file in the same folder, then rename."""
    if isinstance(data, str):
        data = data.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return len(data)


def _wav_bytes(x: np.ndarray, sr: int) -> bytes:
    """int16 PCM RIFF with the canonical 44-byte header; x (n,) or (n, channels)."""
    x = np.asarray(x, np.int16)
    ch = 1 if x.ndim == 1 else x.shape[1]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.astype("<i2").tobytes())
    return buf.getvalue()


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16)


def _fmt_time(x: float) -> float:
    return float(f"{x:.4f}")


@dataclasses.dataclass(frozen=True)
class _Options:
    sr: int
    dialog_wavs: bool
    dialog_mocap: bool
    speech: str
    mocap_fps: float


def _dialog_labels(p: SyntheticParams, dlg: _Dialog) -> tuple[list[str], list[str], dict[int, dict]]:
    """Utterance ids, speaker letters and every evaluator's labels of one dialog (its own stream)."""
    corpus = generate(p)
    latent = corpus.extras["latent"]
    raters = _raters(p.seed)
    lab_rng = np.random.default_rng([p.seed, 0x4C41, dlg.index])
    cat_raters = sorted(str(r) for r in lab_rng.choice(_RATERS, 3, replace=False))
    utt_ids = [f"{dlg.name}_{str(corpus.utterance_id[r]).rsplit('_', 1)[1]}" for r in dlg.rows]
    gender = [u.rsplit("_", 1)[1][0] for u in utt_ids]
    labels: dict[int, dict] = {}
    for g in "FM":                      # the corpus' annotator count is per (dialog, speaker)
        pos = [j for j in range(len(dlg.rows)) if gender[j] == g]
        if not pos:
            continue
        rows = dlg.rows[pos]
        means = np.stack([corpus.valence[rows], corpus.activation[rows]], axis=1)
        k = _n_annotators(p, means)
        dim_raters = (sorted(str(r) for r in lab_rng.choice(cat_raters, k, replace=False)) if k <= 3
                      else [f"E{i + 1}" for i in range(k)])
        self_id = f"{g}{dlg.session}"
        for i_seq, (j, r) in enumerate(zip(pos, rows)):
            z = latent[r]
            votes = [_vote(lab_rng, z, raters[e][:2], _VOTE_SD, _MULTI_P, _EMPTY_P) for e in cat_raters]
            self_vote = _vote(lab_rng, z, np.zeros(2), _SELF_SD, 0.05, 0.0)
            dims = []
            for dim in range(2):
                tgt = np.array([3 + p.label_gain * z[dim] + raters[e][dim] for e in dim_raters])
                dims.append(_split_mean(float(means[i_seq, dim]), k,
                                        tgt + p.annot_sd * lab_rng.normal(size=k)))
            dom = np.clip(np.rint([3 + 0.9 * z[1] - 0.35 * z[0] + raters[e][2] + 0.6 * lab_rng.normal()
                                   for e in dim_raters]), 1, 5).astype(int)
            self_dim = np.clip(np.rint(3 + p.label_gain * np.array([z[0], z[1], 0.7 * z[1] - 0.3 * z[0]])
                                       + 0.7 * lab_rng.normal(size=3)), 1, 5).astype(int)
            comments = [f"({lab_rng.choice(_COMMENTS[v[0]])})" if v and lab_rng.random() < 0.15 else "()"
                        for v in votes + [self_vote]]
            labels[j] = dict(votes=votes, self_vote=self_vote, code=majority_code(votes),
                             cat_raters=cat_raters, dim_raters=dim_raters, self_id=self_id,
                             val=dims[0], act=dims[1], dom=dom, self_dim=self_dim, comments=comments,
                             self_no_dom=bool(lab_rng.random() < 0.02))
    return utt_ids, gender, labels


def label_counts(params: SyntheticParams = SyntheticParams()) -> dict[str, int]:
    """Summary-code counts that `render_iemocap` writes for `params`, without rendering anything."""
    counts = collections.Counter(lab["code"] for d in _plan(params)
                                 for lab in _dialog_labels(params, d)[2].values())
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _render_dialog(out: Path, p: SyntheticParams, opt: _Options, index: int) -> dict:
    """Write every file of one dialog; returns its record (also written to .render/<dialog>.json)."""
    dlg = _plan(p)[index]
    corpus = generate(p)
    latent = corpus.extras["latent"]
    sr, fps = opt.sr, opt.mocap_fps
    seed = p.seed
    sess = out / f"Session{dlg.session}"
    spk = {g: _speaker(seed, dlg.session, g) for g in "FM"}
    utt_ids, gender, labels = _dialog_labels(p, dlg)
    for stale in [*sess.glob(f"sentences/*/{dlg.name}/.*.tmp"), *sess.glob(f"dialog/**/.{dlg.name}*.tmp")]:
        stale.unlink(missing_ok=True)            # left by an interrupted run
    # --- text and speech, each utterance from its own stream
    audio, ctrls, texts, coloured = [], [], [], []
    for j, r in enumerate(dlg.rows):
        rng = np.random.default_rng([seed, 0x5554, dlg.index, j])
        z = latent[r]
        lab = labels[j]
        emotion = _emotion_of(lab["code"], z)
        words = _draw_words(rng, emotion)
        segment = None                          # (start, length) as fractions of the syllables
        if rng.random() < 0.3:
            share = rng.uniform(0.4, 0.7)
            segment = (rng.uniform(0.0, 1.0 - share), share)
        while True:
            syl = _plan_syllables(rng, words, z, segment, spk[gender[j]])
            if syl.length <= 6.0 or len(words) == 1:
                break
            words = words[:-1]
        text = _text(rng, words, syl.pause_after, emotion, float(z[1]))
        if opt.speech == "espeak":
            x, ctrl = _espeak(text, z, gender[j], sr)
            col = None
        else:
            x, ctrl = _synthesize(rng, syl, spk[gender[j]], sr)
            col = syl.coloured
        audio.append(x)
        ctrls.append(ctrl)
        texts.append(text)
        coloured.append(col)
    # --- dialog timing: turn order, gaps, some overlaps
    t_rng = np.random.default_rng([seed, 0x5449, dlg.index])
    starts, ends = [], []
    own_end = {"F": -1e9, "M": -1e9}
    for j in range(len(dlg.rows)):
        dur = audio[j].size / sr
        if j == 0:
            s = t_rng.uniform(1.5, 4.0)
        else:
            prev_dur = ends[-1] - starts[-1]
            if gender[j] != gender[j - 1] and t_rng.random() < 0.12:
                s = ends[-1] - t_rng.uniform(0.15, max(0.16, min(0.8, 0.6 * prev_dur)))
            else:
                s = ends[-1] + float(np.clip(t_rng.normal(0.45, 0.35), 0.05, 2.5))
            s = max(s, own_end[gender[j]] + 0.05, starts[-1] + 0.2)
        start = _fmt_time(s)
        end = _fmt_time(start + dur)
        starts.append(start)
        ends.append(end)
        own_end[gender[j]] = end
    length = _fmt_time(max(ends) + t_rng.uniform(1.0, 3.0))
    n_total = int(math.ceil(length * sr)) + 1
    # --- the two microphones: own speech, a little crosstalk, a noise floor
    clean = {g: np.zeros(n_total, np.float32) for g in "FM"}
    offs = []
    for j, x in enumerate(audio):
        i0 = int(round(starts[j] * sr))
        clean[gender[j]][i0:i0 + x.size] += x[: max(0, n_total - i0)]
        offs.append(i0)
    room = np.random.default_rng([seed, 0x524F, dlg.index])
    lag = max(1, int(0.002 * sr))
    mic = {}
    for g, other in (("F", "M"), ("M", "F")):
        m = clean[g].copy()
        m[lag:] += 0.05 * clean[other][:-lag]
        m += 0.0008 * room.standard_normal(n_total, dtype=np.float32)
        mic[g] = _to_int16(m)
    nbytes: dict[str, int] = collections.Counter()
    # sentence wavs: the speaker's mic, samples = floor((end - start) * sr)
    for j, u in enumerate(utt_ids):
        n = int(math.floor((ends[j] - starts[j]) * sr))
        nbytes["wav_sentences"] += _write(sess / "sentences" / "wav" / dlg.name / f"{u}.wav",
                                          _wav_bytes(mic[gender[j]][offs[j]:offs[j] + n], sr))
    if opt.dialog_wavs:
        nbytes["wav_dialog"] += _write(sess / "dialog" / "wav" / f"{dlg.name}.wav",
                                       _wav_bytes(np.stack([mic["F"], mic["M"]], axis=1), sr))
    del mic, clean
    # --- MoCap of the wearer
    if fps > 0 and dlg.mocap:
        K = int(math.floor(length * fps)) + 1
        tf = np.arange(K) / fps
        env, ev, ea, speaking = np.zeros(K), np.zeros(K), np.zeros(K), np.zeros(K)
        own = [j for j in range(len(dlg.rows)) if gender[j] == dlg.wearer]
        listen = np.zeros((K, 2))
        if own:
            z_own = np.array([latent[dlg.rows[j]] for j in own])
            which = np.searchsorted(np.array([starts[j] for j in own]), tf, side="right") - 1
            listen = 0.6 * z_own[np.maximum(which, 0)]
        ev[:], ea[:] = listen[:, 0], listen[:, 1]
        for j in own:
            k0, k1 = int(math.ceil(starts[j] * fps)), min(K - 1, int(math.floor(ends[j] * fps)))
            if k1 < k0:
                continue
            tt = tf[k0:k1 + 1] - starts[j]
            c = ctrls[j]
            env[k0:k1 + 1] = np.interp(tt, c["t"], c["env"])
            ev[k0:k1 + 1] = np.interp(tt, c["t"], c["ev"])
            ea[k0:k1 + 1] = np.interp(tt, c["t"], c["ea"])
            speaking[k0:k1 + 1] = 1.0
        if K > 2:
            ev, ea = _lowpass(ev, 2.0, fps), _lowpass(ea, 2.0, fps)   # expressions change smoothly
            env = np.maximum(_lowpass(env, 8.0, fps), 0.0)            # the jaw follows syllables
        m_rng = np.random.default_rng([seed, 0x4D4F, dlg.index])
        face, head, hand = _mocap(m_rng, spk[dlg.wearer], K, fps,
                                  dict(env=env, ev=ev, ea=ea, speaking=speaking))
        frames = np.arange(K)
        parts = (("MOCAP_rotated", FACE_HEADER, face), ("MOCAP_head", HEAD_HEADER, head),
                 ("MOCAP_hand", HAND_HEADER, hand))
        for j, u in enumerate(utt_ids):
            k0, k1 = int(math.ceil(starts[j] * fps - 1e-9)), min(K - 1, int(math.floor(ends[j] * fps + 1e-9)))
            fr = frames[k0:k1 + 1]
            tt = np.maximum(fr / fps - starts[j], 0.0)
            for folder, header, vals in parts:
                nbytes["mocap_sentences"] += _write(sess / "sentences" / folder / dlg.name / f"{u}.txt",
                                                    _mocap_text(header, fr, tt, vals[k0:k1 + 1]))
        if opt.dialog_mocap:
            for folder, header, vals in parts:
                nbytes["mocap_dialog"] += _write(sess / "dialog" / folder / f"{dlg.name}.txt",
                                                 _mocap_text(header, frames, tf, vals))
    # --- EmoEvaluation: header, F blocks then M blocks, each followed by an empty line
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    per_rater_cat: dict[str, list[str]] = collections.defaultdict(list)
    per_rater_atr: dict[str, list[str]] = collections.defaultdict(list)
    for g in "FM":
        for j in (j for j in range(len(dlg.rows)) if gender[j] == g):
            lab, u = labels[j], utt_ids[j]
            vad = (lab["val"].mean(), lab["act"].mean(), lab["dom"].mean())
            lines.append(f"[{starts[j]:.4f} - {ends[j]:.4f}]\t{u}\t{lab['code']}\t"
                         f"[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]")
            for e, v, cm in zip(lab["cat_raters"] + [lab["self_id"]], lab["votes"] + [lab["self_vote"]],
                                lab["comments"]):
                lines.append(f"C-{e}:\t{''.join(x + '; ' for x in v).rstrip() or ';'}\t{cm}")
                if e != lab["self_id"]:
                    names = "; ".join("Neutral state" if x == "Neutral" else x for x in v)
                    per_rater_cat[e].append(f"{u} :{names}; ()")
            for i, e in enumerate(lab["dim_raters"]):
                va, ac, do = lab["val"][i], lab["act"][i], lab["dom"][i]
                lines.append(f"A-{e}:\tval {va}; act {ac}; dom  {do};\t()")
                per_rater_atr[e].append(f"{u} :act {ac}; :val {va}; :dom {do}; ()")
            sv, sa, sd = lab["self_dim"]
            lines.append(f"A-{lab['self_id']}:\tval {sv}; act {sa};" + ("" if lab["self_no_dom"] else
                                                                       f" dom  {sd};") + "\t()")
            lines.append("")
    dialog_dir = sess / "dialog"
    nbytes["labels"] += _write(dialog_dir / "EmoEvaluation" / f"{dlg.name}.txt", "\n".join(lines) + "\n")
    for e, ls in sorted(per_rater_cat.items()):
        nbytes["labels"] += _write(dialog_dir / "EmoEvaluation" / "Categorical" / f"{dlg.name}_{e}_cat.txt",
                                   "\n".join(ls) + "\n")
    for e, ls in sorted(per_rater_atr.items()):
        nbytes["labels"] += _write(dialog_dir / "EmoEvaluation" / "Attribute" / f"{dlg.name}_{e}_atr.txt",
                                   "\n".join(ls) + "\n")
    order = sorted(range(len(dlg.rows)), key=lambda j: (starts[j], j))
    nbytes["transcripts"] += _write(
        dialog_dir / "transcriptions" / f"{dlg.name}.txt",
        "".join(f"{utt_ids[j]} [{starts[j]:08.4f}-{ends[j]:08.4f}]: {texts[j]}\n" for j in order))
    record = {
        "dialog": dlg.name, "synthetic": dlg.synthetic, "session": dlg.session, "wearer": dlg.wearer,
        "mocap": bool(dlg.mocap and fps > 0), "length": length,
        "bytes": int(sum(nbytes.values())), "bytes_by_kind": dict(sorted(nbytes.items())),
        "utterances": [{"id": utt_ids[j], "synthetic_id": str(corpus.utterance_id[r]),
                        "start": starts[j], "end": ends[j], "code": labels[j]["code"],
                        "latent": [round(float(latent[r][0]), 6), round(float(latent[r][1]), 6)],
                        "coloured": coloured[j], "text": texts[j]}
                       for j, r in enumerate(dlg.rows)],
    }
    state = out / ".render"
    _write(state / f"{dlg.name}.json", json.dumps(record, indent=1) + "\n")
    _write(state / f"{dlg.name}.completed", "")
    return record


def _render_job(args) -> dict:
    out, p, opt, index = args
    return _render_dialog(Path(out), p, opt, index)


# ----------------------------------------------------------------------------- the entry point
def render_iemocap(out, params: SyntheticParams = SyntheticParams(), *, sr: int = 16000,
                   dialog_wavs: bool = True, dialog_mocap: bool = False, speech: str = "synth",
                   mocap_fps: float = 120.0, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Write the synthetic corpus `params` as an IEMOCAP_full_release tree rooted at `out`.

    Args:
      out: the release root (gets ``Session1`` .. ``Session5``, ``render.json``, ``.render/``).
      params: the synthetic corpus (`emojax.data.synthetic.generate`).
      sr: audio sample rate (IEMOCAP: 16 kHz).
      dialog_wavs: also write ``dialog/wav/<dialog>.wav`` (2 channels).
      dialog_mocap: also write the dialog-level ``dialog/MOCAP_*`` files.
      speech: ``"synth"`` (the source-filter synthesiser) or ``"espeak"`` (espeak-ng on PATH).
      mocap_fps: frame rate of the MoCap files; 0 writes no MoCap.
      workers: processes rendering dialogs in parallel (output identical to ``workers=1``).
      progress: a tqdm bar over dialogs.

    Returns the summary: dialogs, utterances, audio_seconds (sum of end - start), dialog_seconds,
    codes (summary-code counts), label_sets (counts per class of ``ang_hapexc_neu_sad`` and
    ``ang_exc_neu_sad``), bytes and bytes_by_kind of the whole tree, rendered/skipped dialogs of this
    call, wall_s, audio_s_per_wall_s (over the dialogs rendered now) and mb_per_audio_hour.
    """
    if speech not in ("synth", "espeak"):
        raise ValueError(f"speech={speech!r}: use 'synth' or 'espeak'")
    if speech == "espeak" and shutil.which("espeak-ng") is None:
        raise RuntimeError("speech='espeak' needs the espeak-ng binary on PATH "
                           "(Debian: apt-get install espeak-ng); use speech='synth'")
    if sr < 8000:
        raise ValueError(f"sr={sr}: need at least 8000 Hz")
    if mocap_fps < 0:
        raise ValueError(f"mocap_fps={mocap_fps}: must be >= 0")
    out = Path(out)
    opt = _Options(sr=int(sr), dialog_wavs=bool(dialog_wavs), dialog_mocap=bool(dialog_mocap),
                   speech=speech, mocap_fps=float(mocap_fps))
    settings = {"format": FORMAT_VERSION, "params": dataclasses.asdict(params),
                "options": dataclasses.asdict(opt)}
    state = out / ".render"
    settings_path = state / "settings.json"
    if settings_path.exists():
        old = json.loads(settings_path.read_text())
        if old != json.loads(json.dumps(settings)):
            diff = sorted(f"{sec}.{k}" for sec in ("params", "options")
                          for k in set(old.get(sec, {})) | set(settings[sec])
                          if old.get(sec, {}).get(k) != json.loads(json.dumps(settings[sec])).get(k))
            raise ValueError(f"{out}: already holds a render with other settings "
                             f"({', '.join(diff) or 'format'}); use an empty folder")
    else:
        _write(settings_path, json.dumps(settings, indent=1, sort_keys=True) + "\n")
    plan = _plan(params)
    done = [d for d in plan if (state / f"{d.name}.completed").exists()
            and (state / f"{d.name}.json").exists()]
    done_names = {d.name for d in done}
    todo = [d for d in plan if d.name not in done_names]
    t0 = time.perf_counter()
    records: dict[str, dict] = {}
    from tqdm.auto import tqdm
    bar = tqdm(total=len(plan), initial=len(done), desc="render IEMOCAP", unit="dialog",
               disable=not progress)
    jobs = [(str(out), params, opt, d.index) for d in todo]
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")               # the parent may hold JAX threads
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as ex:
            for rec in ex.map(_render_job, jobs):
                records[rec["dialog"]] = rec
                bar.update(1)
    else:
        for job in jobs:
            rec = _render_job(job)
            records[rec["dialog"]] = rec
            bar.update(1)
    bar.close()
    wall = time.perf_counter() - t0
    for d in done:
        records[d.name] = json.loads((state / f"{d.name}.json").read_text())
    ordered = [records[d.name] for d in plan]
    utts = [u for r in ordered for u in r["utterances"]]
    codes = collections.Counter(u["code"] for u in utts)
    audio_s = float(sum(u["end"] - u["start"] for u in utts))
    by_kind: dict[str, int] = collections.Counter()
    for r in ordered:
        by_kind.update(r["bytes_by_kind"])
    rendered_s = float(sum(u["end"] - u["start"] for d in todo for u in records[d.name]["utterances"]))
    summary = {
        "dialogs": len(ordered), "utterances": len(utts), "audio_seconds": round(audio_s, 3),
        "dialog_seconds": round(float(sum(r["length"] for r in ordered)), 3),
        "codes": dict(sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "label_sets": {name: {c: sum(n for code, n in codes.items() if m.get(code) == c)
                              for c in dict.fromkeys(m.values())}
                       for name, m in LABEL_SETS.items()},
        "bytes": int(sum(by_kind.values())), "bytes_by_kind": dict(sorted(by_kind.items())),
        "mb_per_audio_hour": round(sum(by_kind.values()) / 1e6 / max(audio_s / 3600, 1e-9), 1),
    }
    sidecar = {**settings, "channels": {"0": "F", "1": "M"}, "mocap_fps": opt.mocap_fps,
               "no_mocap": [d.name for d in plan if not d.mocap], "summary": summary,
               "dialogs": {r["dialog"]: r for r in ordered}}
    _write(out / "render.json", json.dumps(sidecar, indent=1) + "\n")
    _write(out / "README.txt", "Synthetic IEMOCAP_full_release-layout corpus rendered by emojax "
           "(emojax.data.render). Not the licensed IEMOCAP data: speech, labels and motion capture are "
           "generated from the embedded synthetic corpus; render.json records how.\n")
    return {**summary, "rendered": len(todo), "skipped": len(done), "wall_s": round(wall, 3),
            "audio_s_per_wall_s": round(rendered_s / wall, 1) if todo and wall > 0 else None}


def main(argv=None) -> None:
    import argparse
    ap = argparse.ArgumentParser(description="Render the synthetic corpus as an IEMOCAP_full_release tree.")
    ap.add_argument("out")
    ap.add_argument("--spec", default="", help="synthetic settings, e.g. scale=0.1,seed=3")
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--mocap-fps", type=float, default=120.0)
    ap.add_argument("--dialog-mocap", action="store_true")
    ap.add_argument("--no-dialog-wavs", action="store_true")
    ap.add_argument("--speech", default="synth", choices=("synth", "espeak"))
    a = ap.parse_args(argv)
    from emojax.data.synthetic import parse_spec
    p = parse_spec(a.spec)
    if a.scale is not None:
        p = dataclasses.replace(p, scale=a.scale)
    s = render_iemocap(a.out, p, dialog_wavs=not a.no_dialog_wavs, dialog_mocap=a.dialog_mocap,
                       speech=a.speech, mocap_fps=a.mocap_fps, workers=a.workers)
    print(json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
