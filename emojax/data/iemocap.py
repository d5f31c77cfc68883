"""A user's IEMOCAP_full_release as a `Corpus`, and its prepared manifest (lhotse-style recipe).

``prepare_iemocap(root, out)`` reads the release tree once and writes ``out/utterances.csv``,
``out/integrity.json`` and ``out/folds.csv``; later steps read the manifest (`load_prepared`), not
the raw tree. `load` accepts either. No path is built in: IEMOCAP is licensed, the user brings it.

The layout read (shared/IEMOCAP_FORMAT.md; ``<d>`` a dialog, ``<u>`` an utterance)::

    IEMOCAP_full_release/
      Session{1..5}/
        dialog/EmoEvaluation/<d>.txt          the labels, read by regex; only this folder level
                                              (Categorical/, Attribute/, Self-evaluation/ hold
                                              per-evaluator files that are listed, not read);
                                              macOS ``._*`` stubs are listed as skipped
        dialog/transcriptions/<d>.txt         ``<u> [006.2901-008.2357]: text`` one line per turn
        dialog/wav/<d>.wav                    the whole dialog, 2 channels (existence checked)
        sentences/wav/<d>/<u>.wav             16 kHz int16 mono; only the header is read (duration)
        sentences/MOCAP_{rotated,head,hand}/<d>/<u>.txt
                                              the marker wearer's motion during turn <u> (both
                                              speakers' turns); 2 header lines, then 167 / 8 / 20
                                              space-separated columns (`read_mocap`)

An EmoEvaluation file is a header line ``% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]``
and blocks separated by empty lines; each block is a summary line (TAB-separated)::

    [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]
    C-E2:	Neutral;	()                          categorical votes: one or more labels each
    C-F1:	Frustration; Other;	(curious)          ending in ';' (or none), then a (comment)
    A-E3:	val 3; act 2; dom  2;	()             dimensional votes; dominance may be absent
    A-F1:	val 3; act 2; dom  1;	()

Raters ``E<n>`` are external evaluators, ``F<n>`` / ``M<n>`` the actors' self-evaluations (marked
``"self": true`` in ``votes``; the summary V/A/D are the mean over the non-self raters). Blocks
are not in time order: utterances are sorted by start time within a dialog (turns overlap) and
``turn`` is that rank. The speaker is ``Ses<NN>`` + the letter of the utterance id's *last*
component (``Ses01F_impro01_M000`` -> ``Ses01M``), never the dialog's letter, which names the
actor wearing the MoCap markers (``wearer``). Dialog names may carry suffixes
(``Ses03M_impro05a``, ``Ses05M_script01_1b``) and ids may hold ``XX`` (``Ses03F_impro06_FXX0``).

A malformed EmoEvaluation line raises `IemocapError` with one line naming the file, the line
number and the text. Everything else that is odd -- a missing wav or transcript line, a
transcript time that disagrees with EmoEvaluation, a non-matching transcript line, skipped files,
``XX`` ids, dialogs without MoCap, summary V/A/D that are not the mean of the votes -- is kept,
and listed with its reason in the integrity report beside the counts found vs documented.

``has_mocap`` follows the synthetic corpus's meaning: the utterance's *speaker* is the marker
wearer and the three sentence MoCap files exist (Wöllmer's sequences); ``mocap_files`` says only
that the files exist (they show the wearer, also during the other speaker's turns: Tripathi).

Folds (``folds.csv``, `folds`): leave-one-session-out and leave-one-speaker-out, fold k testing
the k-th session / speaker in sorted order. Each fold's validation speakers come from its
*training* speakers only, by a fixed rule (`VALIDATION_RULE`).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import re
import struct
import wave
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from emojax.data.corpus import Corpus
from emojax.data.labels import IEMOCAP_LABEL_SET_COUNTS, IEMOCAP_LABEL_SETS, iemocap_classes

__all__ = [
    "IemocapError", "CategoricalVote", "DimensionalVote", "Evaluation", "TranscriptLine",
    "read_evaluation", "read_transcription", "read_mocap", "mocap_path", "read_iemocap",
    "prepare_iemocap", "load_prepared", "load", "folds", "speaker_of", "parse_utterance_id",
    "DOCUMENTED", "MOCAP_STREAMS", "MANIFEST_COLUMNS", "FOLD_COLUMNS", "VALIDATION_RULE",
    "SAMPLE_RATE",
]

SAMPLE_RATE = 16000           # sentence wavs: 16 kHz, int16, mono (IEMOCAP_FORMAT.md §5)
MOCAP_STREAMS = {             # stream -> (folder, columns incl. Frame# and Time) (§6)
    "rotated": ("MOCAP_rotated", 167),
    "head": ("MOCAP_head", 8),
    "hand": ("MOCAP_hand", 20),
}

# Counts of the full release (IEMOCAP_FORMAT.md §2, §3, §5); the integrity report compares with them.
DOCUMENTED: dict[str, Any] = {
    "utterances": 10039,
    "dialogs": 151,
    "sessions": {
        "Ses01": {"utterances": 1819, "dialogs": 28},
        "Ses02": {"utterances": 1811, "dialogs": 30},
        "Ses03": {"utterances": 2136, "dialogs": 32},
        "Ses04": {"utterances": 2103, "dialogs": 30},
        "Ses05": {"utterances": 2170, "dialogs": 31},
    },
    "codes": {"xxx": 2507, "fru": 1849, "neu": 1708, "ang": 1103, "sad": 1084, "exc": 1041,
              "hap": 595, "sur": 107, "fea": 40, "oth": 3, "dis": 2},
    "label_sets": dict(IEMOCAP_LABEL_SET_COUNTS),
    "types": {"impro": 4784, "script": 5255},      # TSA, single-source
    "genders": {"F": 4941, "M": 5098},              # of the speaker; TSA, single-source
}

# The prepared manifest: DESIGN.md's record columns in order, then votes and what else the corpus
# carries, then one column per label set (the class, or empty where the code is excluded).
MANIFEST_COLUMNS = (
    "utterance_id", "session", "dialog", "speaker", "gender", "turn", "start", "end",
    "valence", "activation", "dominance", "category", "transcript", "wav", "has_mocap",
    "votes", "wearer", "mocap_files", "duration", *IEMOCAP_LABEL_SETS,
)
_REQUIRED_MANIFEST = MANIFEST_COLUMNS[:16]          # the record columns and votes
FOLD_COLUMNS = ("utterance_id", "session", "speaker", "session_fold", "session_fold_validation",
                "speaker_fold", "speaker_fold_validation")

VALIDATION_RULE = (
    "Validation speakers come from the fold's training speakers only. Sessions are taken in sorted "
    "order, cyclically; 'next session' is the next one that has training speakers. "
    "Leave-one-speaker-out, test speaker Ses<k><G>: the speaker of the other gender in the next "
    "session (Ses01F -> Ses02M, Ses05M -> Ses01F). Leave-one-session-out, fold k (k-th session in "
    "sorted order, 0-based): one speaker of the next session, female for even k and male for odd "
    "k (alternating, so the folds are balanced). Where the wanted gender is absent, the first "
    "speaker of that session by name; where no speaker would be left for training, none.")

_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
_NUM = r"\d+(?:\.\d*)?"
_SUMMARY_RE = re.compile(
    rf"^\[\s*(?P<start>{_NUM})\s*-\s*(?P<end>{_NUM})\s*\]\s+(?P<id>\S+)\s+(?P<code>[A-Za-z]+)\s+"
    rf"\[\s*(?P<v>{_NUM})\s*,\s*(?P<a>{_NUM})\s*,\s*(?P<d>{_NUM})\s*\]$")
_CLINE_RE = re.compile(r"^C-(?P<rater>[A-Za-z]+\d*):(?P<rest>.*)$")
_ALINE_RE = re.compile(
    rf"^A-(?P<rater>[A-Za-z]+\d*):\s*val\s*(?P<val>{_NUM})?\s*;\s*act\s*(?P<act>{_NUM})?\s*;"
    rf"\s*(?:dom\s*(?P<dom>{_NUM})?\s*;?)?\s*(?:\((?P<comment>.*)\))?$")
_SELF_RE = re.compile(r"^[FM]\d+$")
_EXTERNAL_RE = re.compile(r"^E\d+$")
_DIALOG_RE = re.compile(r"^Ses(?P<session>\d\d)(?P<wearer>[FM])_(?P<rest>\w+)$")
_TYPE_RE = re.compile(r"^(?P<type>impro|script)\d\d")
_TURN_RE = re.compile(r"^(?P<letter>[FM])(?P<count>[0-9X]{3})$")
_TRANSCRIPT_RE = re.compile(
    rf"^(?P<id>\S+)\s+\[\s*(?P<start>{_NUM})\s*-\s*(?P<end>{_NUM})\s*\]:\s?(?P<text>.*)$")
_TIME_TOLERANCE = 1e-3        # s; both files print the same %.4f time
_DURATION_TOLERANCE = 0.01    # s; sentence wav vs end - start (samples = floor((end-start) * 16000))


class IemocapError(ValueError):
    """The release cannot be read; the one-line message names the file, the line and the text."""


# ------------------------------------------------------------------------------------------------
# Ids


def parse_utterance_id(utterance_id: str, dialog: str | None = None) -> tuple[str, str, str]:
    """``"Ses01F_impro01_M000"`` -> (dialog ``"Ses01F_impro01"``, speaker letter ``"M"``, count ``"000"``).

    The dialog is everything before the last ``_``; `dialog`, when given, must be that prefix.
    Raises `ValueError` when the last component is not ``[FM]`` + three digits or ``X``.
    """
    head, sep, last = utterance_id.rpartition("_")
    m = _TURN_RE.match(last)
    if not sep or m is None or _DIALOG_RE.match(head) is None:
        raise ValueError(f"utterance id {utterance_id!r} is not <dialog>_<F|M><NNN>")
    if dialog is not None and head != dialog:
        raise ValueError(f"utterance id {utterance_id!r} does not belong to dialog {dialog!r}")
    return head, m.group("letter"), m.group("count")


def speaker_of(utterance_id: str) -> str:
    """``Ses<NN>`` + the letter of the id's LAST component: ``Ses01F_impro01_M000`` -> ``Ses01M``."""
    dialog, letter, _ = parse_utterance_id(utterance_id)
    return dialog[:5] + letter


# ------------------------------------------------------------------------------------------------
# EmoEvaluation


@dataclasses.dataclass(frozen=True)
class CategoricalVote:
    """``C-<rater>:<labels>(<comment>)``; `labels` may be empty (``C-F2:\\t;\\t()``)."""
    rater: str
    labels: tuple[str, ...]
    comment: str
    self_rating: bool
    line: int = 0


@dataclasses.dataclass(frozen=True)
class DimensionalVote:
    """``A-<rater>: val v; act a; dom  d;(<comment>)``; a missing value is None."""
    rater: str
    valence: float | None
    activation: float | None
    dominance: float | None
    comment: str
    self_rating: bool
    line: int = 0


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One EmoEvaluation block: the summary line and the votes under it (`line` is 1-based)."""
    utterance_id: str
    start: float
    end: float
    code: str
    valence: float
    activation: float
    dominance: float
    categorical: tuple[CategoricalVote, ...]
    dimensional: tuple[DimensionalVote, ...]
    line: int


def _number(s: str | None) -> float | None:
    if s is None:
        return None
    v = float(s)
    return int(v) if v.is_integer() and "." not in s else v


def _lines(text: str) -> list[str]:
    """Lines split on \\n, \\r\\n or \\r only, so that line numbers match an editor's."""
    return re.split(r"\r\n|\r|\n", text)


def _decode(data: bytes, where: str, odd: list | None) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if odd is not None:
            odd.append(_odd("not_utf8", where, f"byte {data[e.start]:#04x} at offset {e.start} is "
                                                "not UTF-8; read as Latin-1"))
        return data.decode("latin-1")


def read_evaluation(path: str | Path, *, text: str | None = None,
                    where: str | None = None) -> list[Evaluation]:
    """Parse one ``dialog/EmoEvaluation/<dialog>.txt``, in file order.

    The dialog is the file's stem; every utterance id must be ``<dialog>_<F|M><NNN>``.
    Raises `IemocapError` (``FILE:LINE: ... : 'text'``) on a missing header, a line that is not
    a summary, ``C-`` or ``A-`` line, a vote before any summary line, end before start, or a
    repeated utterance id.
    """
    path = Path(path)
    where = where or str(path)
    if text is None:
        try:
            text = _decode(path.read_bytes(), where, None)
        except OSError as e:
            raise IemocapError(f"{where}: cannot read: {e.strerror or e}") from None
    dialog = path.stem
    lines = _lines(text)
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise IemocapError(f"{where}:1: empty file (expected the header {_HEADER!r})")
    if not lines[first].lstrip().startswith("%"):
        raise IemocapError(f"{where}:{first + 1}: expected the header {_HEADER!r}, got "
                           f"{lines[first]!r}")
    out: list[Evaluation] = []
    seen: dict[str, int] = {}
    block: dict[str, Any] | None = None

    def close():
        if block is not None:
            out.append(Evaluation(categorical=tuple(block.pop("cat")),
                                  dimensional=tuple(block.pop("dim")), **block))

    for i in range(first + 1, len(lines)):
        raw, lineno = lines[i], i + 1
        line = raw.strip()
        if not line:
            continue
        bad = lambda why: IemocapError(f"{where}:{lineno}: {why}: {raw!r}")  # noqa: E731
        if line.startswith("["):
            m = _SUMMARY_RE.match(line)
            if m is None:
                raise bad("malformed summary line (expected '[START - END]<TAB>ID<TAB>code<TAB>"
                          "[V, A, D]')")
            uid = m.group("id")
            try:
                parse_utterance_id(uid, dialog)
            except ValueError as e:
                raise bad(str(e)) from None
            if uid in seen:
                raise bad(f"utterance {uid} already has a block on line {seen[uid]}")
            seen[uid] = lineno
            start, end = float(m.group("start")), float(m.group("end"))
            if end < start:
                raise bad(f"end {end} is before start {start}")
            close()
            block = dict(utterance_id=uid, start=start, end=end, code=m.group("code"),
                         valence=float(m.group("v")), activation=float(m.group("a")),
                         dominance=float(m.group("d")), line=lineno, cat=[], dim=[])
        elif line.startswith("C-"):
            m = _CLINE_RE.match(line)
            if m is None:
                raise bad("malformed categorical line (expected 'C-<rater>:<TAB>Label; ...<TAB>"
                          "(comment)')")
            if block is None:
                raise bad("categorical vote before any summary line")
            rest = m.group("rest")
            labels_part, paren, comment = rest.partition("(")
            if paren:
                comment = comment.rstrip()
                if not comment.endswith(")"):
                    raise bad("malformed categorical line (comment '(' is not closed)")
                comment = comment[:-1]
            labels = tuple(s.strip() for s in labels_part.split(";") if s.strip())
            rater = m.group("rater")
            block["cat"].append(CategoricalVote(rater, labels, comment.strip(),
                                                bool(_SELF_RE.match(rater)), lineno))
        elif line.startswith("A-"):
            m = _ALINE_RE.match(line)
            if m is None:
                raise bad("malformed dimensional line (expected 'A-<rater>:<TAB>val v; act a; "
                          "dom  d;<TAB>(comment)')")
            if block is None:
                raise bad("dimensional vote before any summary line")
            rater = m.group("rater")
            block["dim"].append(DimensionalVote(
                rater, _number(m.group("val")), _number(m.group("act")), _number(m.group("dom")),
                (m.group("comment") or "").strip(), bool(_SELF_RE.match(rater)), lineno))
        elif line.startswith("%"):
            raise bad("a second header line")
        else:
            raise bad("not a summary, 'C-' or 'A-' line")
    close()
    return out


# ------------------------------------------------------------------------------------------------
# Transcriptions


@dataclasses.dataclass(frozen=True)
class TranscriptLine:
    utterance_id: str
    start: float
    end: float
    text: str
    line: int


def read_transcription(path: str | Path, *, text: str | None = None
                       ) -> tuple[list[TranscriptLine], list[tuple[int, str]]]:
    """Parse ``dialog/transcriptions/<dialog>.txt``: (matching lines, [(line, text) of the others]).

    A line matches ``<id> [<start>-<end>]: <text>``; blank lines are neither. The text is kept as
    written (``[LAUGHTER]`` and other bracketed tokens included), trailing whitespace removed.
    """
    if text is None:
        text = _decode(Path(path).read_bytes(), str(path), None)
    matched, unmatched = [], []
    for i, raw in enumerate(_lines(text)):
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _TRANSCRIPT_RE.match(line)
        if m is None:
            unmatched.append((i + 1, line))
        else:
            matched.append(TranscriptLine(m.group("id"), float(m.group("start")),
                                          float(m.group("end")), m.group("text"), i + 1))
    return matched, unmatched


# ------------------------------------------------------------------------------------------------
# Audio and MoCap


def _wav_info(path: Path) -> tuple[int, int, int, int]:
    """(sample rate, channels, bytes per sample, frames) from the header; no samples are read."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
    except (wave.Error, EOFError) as err:
        # e.g. WAVE_FORMAT_EXTENSIBLE, which `wave` refuses before Python 3.12: walk the chunks.
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise IemocapError(f"{path}: not a RIFF/WAVE file ({err})") from None
            fmt = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    raise IemocapError(f"{path}: no data chunk ({err})") from None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    body = f.read(size + (size & 1))
                    _, channels, rate, _, align, _ = struct.unpack("<HHIIHH", body[:16])
                    fmt = (rate, channels, align // max(channels, 1))
                elif cid == b"data":
                    if fmt is None:
                        raise IemocapError(f"{path}: data chunk before fmt chunk") from None
                    return fmt[0], fmt[1], fmt[2], size // max(fmt[1] * fmt[2], 1)
                else:
                    f.seek(size + (size & 1), os.SEEK_CUR)


def _stream_of(path: Path) -> str | None:
    for stream, (folder, _) in MOCAP_STREAMS.items():
        if folder in path.parts:
            return stream
    return None


def _mocap_names(h1: list[str], h2: list[str], d: int) -> tuple[str, ...]:
    if 3 * (len(h1) - 2) == d and len(h1) > 2:
        return tuple(f"{m}_{a}" for m in h1[2:] for a in "XYZ")   # CH1_X CH1_Y ... (rotated, hand)
    if len(h2) == d:
        return tuple(h2)                                  # X01 Y01 Z01 ... (rotated)
    if len(h1) == d + 2:
        return tuple(h1[2:])                              # Frame# Time pitch roll ... (head)
    if len(h1) == d:
        return tuple(h1)
    if 3 * (len(h1) - 2) == d:
        return tuple(f"{m}_{a}" for m in h1[2:] for a in "XYZ")
    return tuple(f"v{j:03d}" for j in range(d))


def read_mocap(path: str | Path, columns: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a MoCap text file (dialog- or sentence-level): (frame_numbers, times, values, names).

    Two header lines, then one frame per line, fields separated by spaces: ``Frame# Time v1 ...``.
    `columns` is the number of fields per row including Frame# and Time; by default it is the
    stream's documented count (167 rotated / 8 head / 20 hand, from the folder name), otherwise
    the first data row's. ``NaN`` (a lost marker) is kept as NaN.

    Returns frame_numbers (T,) int64, times (T,) float64, values (T, columns - 2) float64 and the
    value names (from the header line that fits, else ``v000...``). Raises `IemocapError` naming
    the file and line of a short file or a row with the wrong number of fields or a non-number.
    """
    path = Path(path)
    if columns is None:
        stream = _stream_of(path)
        columns = MOCAP_STREAMS[stream][1] if stream else None
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as e:
        raise IemocapError(f"{path}: cannot read: {e.strerror or e}") from None
    lines = text.splitlines()
    if len(lines) < 2:
        raise IemocapError(f"{path}:{len(lines) + 1}: expected 2 header lines, the file has "
                           f"{len(lines)} line(s)")
    h1, h2 = lines[0].split(), lines[1].split()
    fast = _mocap_fast(lines[2:], columns)
    if fast is not None:                                  # well-formed: numpy's C parser
        d = fast.shape[1] - 2
        frame = fast[:, 0]
        if np.array_equal(frame, np.round(frame)):
            return (frame.astype(np.int64), fast[:, 1].copy(), fast[:, 2:].copy(),
                    _mocap_names(h1, h2, d))
    rows, frames = [], []                                 # otherwise find the bad line
    for i in range(2, len(lines)):
        tokens = lines[i].split()
        if not tokens:
            continue
        if columns is None:
            columns = len(tokens)
        if len(tokens) != columns:
            raise IemocapError(f"{path}:{i + 1}: {len(tokens)} fields, expected {columns}: "
                               f"{lines[i][:80]!r}")
        try:
            frame = float(tokens[0])
            vals = [float(t) for t in tokens[1:]]
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise IemocapError(f"{path}:{i + 1}: {bad!r} is not a number: {lines[i][:80]!r}") from None
        if not frame.is_integer():
            raise IemocapError(f"{path}:{i + 1}: frame number {tokens[0]!r} is not an integer")
        frames.append(int(frame))
        rows.append(vals)
    d = (columns if columns is not None else 2) - 2
    arr = np.asarray(rows, np.float64).reshape(len(rows), d + 1)
    return (np.asarray(frames, np.int64), arr[:, 0].copy(), arr[:, 1:].copy(),
            _mocap_names(h1, h2, d))


def _mocap_fast(lines: list[str], columns: int | None) -> np.ndarray | None:
    """The data rows parsed by numpy, or None when any row is malformed (the slow path names it)."""
    body = [ln for ln in lines if ln.strip()]
    if not body:
        return None
    try:
        arr = np.loadtxt(body, dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    if columns is not None and arr.shape[1] != columns:
        return None
    return arr


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _session_folder(dialog: str) -> str:
    return f"Session{int(dialog[3:5])}"


def mocap_path(root: str | Path, utterance_id: str, stream: str = "rotated") -> Path:
    """``root/Session<N>/sentences/MOCAP_<stream>/<dialog>/<utterance>.txt`` (it may not exist)."""
    dialog, _, _ = parse_utterance_id(utterance_id)
    return (Path(root) / _session_folder(dialog) / "sentences" / MOCAP_STREAMS[stream][0] / dialog
            / f"{utterance_id}.txt")


# ------------------------------------------------------------------------------------------------
# The whole release


def _odd(kind: str, item: str, reason: str, utterance: str | None = None) -> dict[str, str]:
    out = {"kind": kind, "item": item, "reason": reason}
    if utterance is not None:
        out["utterance"] = utterance
    return out


def _listdir(path: Path) -> list[str] | None:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _mean4(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(sum(xs) / len(xs), 4) if xs else None


def _votes_json(ev: Evaluation) -> str:
    return json.dumps({
        "categorical": [{"rater": c.rater, "self": c.self_rating, "labels": list(c.labels),
                         "comment": c.comment} for c in ev.categorical],
        "dimensional": [{"rater": a.rater, "self": a.self_rating, "val": a.valence,
                         "act": a.activation, "dom": a.dominance, "comment": a.comment}
                        for a in ev.dimensional],
    }, separators=(",", ":"), ensure_ascii=False)


def _session_dirs(root: Path) -> list[tuple[int, Path]]:
    out = []
    for name in _listdir(root) or []:
        m = re.match(r"^Session(\d+)$", name)
        if m and (root / name).is_dir():
            out.append((int(m.group(1)), root / name))
    return sorted(out)


def _check_votes(ev: Evaluation, where: str, odd: list) -> None:
    uid = ev.utterance_id
    letter = uid.rpartition("_")[2][0]
    session = int(uid[3:5])
    for vote in (*ev.categorical, *ev.dimensional):
        r = vote.rater
        if not vote.self_rating and not _EXTERNAL_RE.match(r):
            odd.append(_odd("unknown_rater", f"{where}:{vote.line}",
                            f"rater {r!r} of {uid} is neither E<n> nor a self-evaluation "
                            f"F<n>/M<n>; counted as external", uid))
        elif vote.self_rating and (r[0] != letter or int(r[1:]) != session):
            odd.append(_odd("self_rater_mismatch", f"{where}:{vote.line}",
                            f"self-evaluation {r} on {uid}, whose speaker is {letter}{session}", uid))
    for a in ev.dimensional:
        missing = [k for k, v in (("val", a.valence), ("act", a.activation), ("dom", a.dominance))
                   if v is None]
        if missing:
            odd.append(_odd("dimensional_vote_incomplete", f"{where}:{a.line}",
                            f"A-{a.rater} of {uid} has no {'/'.join(missing)} value", uid))
    if not any(not c.self_rating for c in ev.categorical):
        odd.append(_odd("no_categorical_votes", f"{where}:{ev.line}",
                        f"{uid} has no non-self categorical vote", uid))
    ext = [a for a in ev.dimensional if not a.self_rating]
    if not ext:
        odd.append(_odd("no_dimensional_votes", f"{where}:{ev.line}",
                        f"{uid} has no non-self dimensional vote", uid))
        return
    for name in ("valence", "activation", "dominance"):
        summary, mean = getattr(ev, name), _mean4([getattr(a, name) for a in ext])
        if mean is not None and abs(mean - summary) > 5e-5 + 1e-9:
            odd.append(_odd("vad_mismatch", f"{where}:{ev.line}",
                            f"{uid}: summary {name} {summary:.4f} is not the mean {mean:.4f} of "
                            f"the non-self dimensional votes", uid))
    for name, v in (("valence", ev.valence), ("activation", ev.activation),
                    ("dominance", ev.dominance)):
        if not 1.0 <= v <= 5.0:
            odd.append(_odd("vad_out_of_range", f"{where}:{ev.line}",
                            f"{uid}: {name} {v:.4f} is outside 1..5", uid))


class _Reader:
    """State of one pass over a release: the odd items, the content digest, counters."""

    def __init__(self, root: Path):
        self.root = root
        self.odd: list[dict[str, str]] = []
        self.digest = hashlib.sha256()
        self.n_unmatched = 0

    def rel(self, path: Path) -> str:
        return _rel(path, self.root)

    def note(self, kind: str, item: str | Path, reason: str, utterance: str | None = None) -> None:
        item = self.rel(item) if isinstance(item, Path) else item
        self.odd.append(_odd(kind, item, reason, utterance))

    def text(self, path: Path) -> str:
        """The file's text; its name and bytes go into the content fingerprint."""
        data = path.read_bytes()
        rel = self.rel(path).encode()
        self.digest.update(len(rel).to_bytes(8, "little") + rel + len(data).to_bytes(8, "little"))
        self.digest.update(data)
        return _decode(data, self.rel(path), self.odd)

    def dialogs(self) -> list[tuple[str, Path, Path]]:
        """(dialog, session folder, EmoEvaluation file), from ``Session*/dialog/EmoEvaluation/*.txt``."""
        out = []
        for number, sdir in _session_dirs(self.root):
            edir = sdir / "dialog" / "EmoEvaluation"
            names = _listdir(edir)
            if names is None:
                self.note("session_without_emoevaluation", sdir,
                          "no dialog/EmoEvaluation folder: the session's utterances are missing")
                continue
            for name in names:
                p = edir / name
                if name.startswith("._"):
                    self.note("skipped_appledouble", p, "macOS AppleDouble stub, not read")
                elif p.is_dir():
                    self.note("skipped_folder", p, "per-evaluator subfolder, not read (the dialog "
                                                   "file holds every vote)")
                elif not name.endswith(".txt"):
                    self.note("skipped_file", p, "not a .txt file")
                elif not _DIALOG_RE.match(p.stem):
                    self.note("skipped_file", p, "name is not a dialog (Ses<NN><F|M>_...)")
                else:
                    if int(p.stem[3:5]) != number:
                        self.note("session_mismatch", p, f"dialog {p.stem} lies in {sdir.name}")
                    out.append((p.stem, sdir, p))
        return sorted(out, key=lambda t: (int(t[0][3:5]), t[0]))

    def transcripts(self, dialog: str, sdir: Path, by_id: dict[str, Evaluation]
                    ) -> dict[str, TranscriptLine] | None:
        tpath = sdir / "dialog" / "transcriptions" / f"{dialog}.txt"
        if not tpath.is_file():
            self.note("missing_transcript_file", tpath,
                      f"no transcription file: {len(by_id)} utterances without transcript")
            return None
        trel = self.rel(tpath)
        matched, unmatched = read_transcription(tpath, text=self.text(tpath))
        self.n_unmatched += len(unmatched)
        for lineno, line in unmatched:
            self.note("unmatched_transcript_line", f"{trel}:{lineno}",
                      f"not '<id> [start-end]: text', ignored: {line!r}")
        out: dict[str, TranscriptLine] = {}
        for t in matched:
            where, uid = f"{trel}:{t.line}", t.utterance_id
            ev = by_id.get(uid)
            if ev is None:
                self.note("extra_transcript_line", where,
                          f"{uid} has no EmoEvaluation block, ignored", uid)
            elif uid in out:
                self.note("duplicate_transcript_line", where,
                          f"{uid} already on line {out[uid].line}; the first is kept", uid)
            else:
                out[uid] = t
                if (abs(t.start - ev.start) > _TIME_TOLERANCE
                        or abs(t.end - ev.end) > _TIME_TOLERANCE):
                    self.note("transcript_time", where,
                              f"[{t.start:.4f}-{t.end:.4f}] here, [{ev.start:.4f} - {ev.end:.4f}] "
                              f"in EmoEvaluation (used)", uid)
        for uid in by_id:
            if uid not in out:
                self.note("missing_transcript_line", tpath, f"no line for {uid}; transcript ''",
                          uid)
        return out

    def sentence_wavs(self, dialog: str, sdir: Path, by_id: dict[str, Evaluation]
                      ) -> dict[str, tuple[str, float]]:
        """{utterance: (wav path relative to root, duration in s)} for the wavs present."""
        wdir = sdir / "sentences" / "wav" / dialog
        names = _listdir(wdir)
        if names is None:
            self.note("missing_wav_folder", wdir,
                      f"no sentence wav folder: {len(by_id)} utterances without audio")
            names = []
        out = {}
        for name in names:
            p, uid = wdir / name, name[:-4]
            if name.startswith("._"):
                self.note("skipped_appledouble", p, "macOS AppleDouble stub, not read")
            elif not name.endswith(".wav"):
                self.note("extra_file", p, "not a .wav file")
            elif uid not in by_id:
                self.note("extra_wav", p, f"{uid} has no EmoEvaluation block", uid)
            else:
                try:
                    rate, channels, width, nframes = _wav_info(p)
                except (IemocapError, OSError, struct.error) as e:
                    self.note("bad_wav", p, f"header unreadable ({e}); wav ''", uid)
                    continue
                duration = nframes / rate if rate else math.nan
                if (rate, channels, width) != (SAMPLE_RATE, 1, 2):
                    self.note("bad_wav", p, f"{rate} Hz, {channels} channel(s), {8 * width}-bit; "
                                            f"expected 16000 Hz mono 16-bit", uid)
                expected = by_id[uid].end - by_id[uid].start
                if not abs(duration - expected) <= _DURATION_TOLERANCE:
                    self.note("wav_duration", p, f"{duration:.4f} s, but EmoEvaluation gives "
                                                 f"{expected:.4f} s", uid)
                out[uid] = (self.rel(p), duration)
        for uid in by_id:
            if uid not in out and not (wdir / f"{uid}.wav").is_file():
                self.note("missing_wav", wdir / f"{uid}.wav",
                          "no sentence wav; the utterance is kept with wav ''", uid)
        return out

    def mocap(self, dialog: str, sdir: Path, by_id: dict[str, Evaluation]) -> dict[str, bool]:
        """{utterance: all three sentence MoCap files exist}; one folder listing per stream."""
        present: dict[str, set[str] | None] = {}
        for stream, (folder, _) in MOCAP_STREAMS.items():
            names = _listdir(sdir / "sentences" / folder / dialog)
            present[stream] = None if names is None else {
                n[:-4] for n in names if n.endswith(".txt") and not n.startswith("._")}
        if all(v is None for v in present.values()):
            self.note("dialog_without_mocap", f"{self.rel(sdir)}/sentences/MOCAP_*/{dialog}",
                      "no sentence-level MoCap folder for this dialog")
            return {uid: False for uid in by_id}
        out = {}
        for uid in by_id:
            missing = [s for s, names in present.items() if names is None or uid not in names]
            if missing:
                self.note("partial_mocap", mocap_path(self.root, uid, missing[0]),
                          f"no {'/'.join(missing)} MoCap file", uid)
            out[uid] = not missing
        return out

    def dialog(self, dialog: str, sdir: Path, epath: Path) -> list[dict[str, Any]]:
        """The utterance rows of one dialog, in file order (sorted later)."""
        erel = self.rel(epath)
        evals = read_evaluation(epath, text=self.text(epath), where=str(epath))
        if not evals:
            self.note("empty_dialog", epath, "no utterance blocks")
        for ev in evals:
            _check_votes(ev, erel, self.odd)
        by_id = {ev.utterance_id: ev for ev in evals}
        transcripts = self.transcripts(dialog, sdir, by_id)
        dwav = sdir / "dialog" / "wav" / f"{dialog}.wav"
        if not dwav.is_file():
            self.note("missing_dialog_wav", dwav, "no whole-dialog wav")
        wavs = self.sentence_wavs(dialog, sdir, by_id)
        mocap = self.mocap(dialog, sdir, by_id)
        wearer = dialog[5]
        rows = []
        for uid, ev in by_id.items():
            _, letter, count = parse_utterance_id(uid)
            if "X" in count:
                self.note("xx_id", f"{erel}:{ev.line}", "XX in place of digits; kept", uid)
            t = (transcripts or {}).get(uid)
            wav, duration = wavs.get(uid, ("", math.nan))
            rows.append(dict(
                utterance_id=uid, session=dialog[:5], dialog=dialog, speaker=dialog[:5] + letter,
                gender=letter, start=ev.start, end=ev.end, valence=ev.valence,
                activation=ev.activation, dominance=ev.dominance, category=ev.code,
                transcript=t.text if t is not None else "", wav=wav,
                has_mocap=mocap[uid] and letter == wearer, mocap_files=mocap[uid],
                wearer=wearer, duration=duration, votes=_votes_json(ev)))
        return rows


def read_iemocap(root: str | Path, *, progress: bool = False) -> tuple[Corpus, dict[str, Any]]:
    """Read an IEMOCAP_full_release tree: (Corpus, integrity report).

    The Corpus has one row per EmoEvaluation summary line, sorted by (session, dialog, start, end,
    id); ``turn`` is the rank by start time within the dialog. features (N, 0); ``category`` the
    corpus's code (``neu``, ``xxx``, ...); valence/activation from the summary line; ``gender`` the
    speaker's letter; ``wav`` and ``transcript`` ("" where missing; wav relative to `root`);
    extras ``dominance``, ``start``, ``end`` (float64), ``has_mocap``, ``mocap_files`` (bool),
    ``wearer`` (the dialog's letter), ``duration`` (s, of the sentence wav; NaN where missing) and
    ``votes`` (a JSON string per utterance: every categorical and dimensional vote, self-evaluations
    ``"self": true``). params: kind, root, content (sha256 of the EmoEvaluation and transcription
    files read, names and bytes; not the wavs), label_sets.

    The integrity report (a JSON-able dict): ``found`` vs ``documented`` counts, ``differences``
    (each count that differs, named), ``odd`` (every skipped or odd item: kind, item, reason and,
    where one is concerned, utterance), ``odd_counts``, ``unmatched_transcript_lines``,
    ``label_set_classes``, ``ok`` (no count differs).

    Raises `IemocapError` when `root` has no ``Session<N>`` folder or an EmoEvaluation line is
    malformed.
    """
    root = Path(root).resolve()
    if not _session_dirs(root):
        raise IemocapError(f"{root}: no Session1..Session5 folders; point at the "
                           f"IEMOCAP_full_release folder (the one holding Session1 ... Session5)")
    reader = _Reader(root)
    dialogs = reader.dialogs()
    iterator: Iterable = dialogs
    if progress:
        from tqdm import tqdm
        iterator = tqdm(dialogs, desc="IEMOCAP dialogs", unit="dialog")
    rows = [r for d in iterator for r in reader.dialog(*d)]

    # order by (session, dialog, start, end, id); turn = rank by start time within the dialog
    rows.sort(key=lambda r: (r["session"], r["dialog"], r["start"], r["end"], r["utterance_id"]))
    turn, prev = 0, None
    for r in rows:
        turn = turn + 1 if r["dialog"] == prev else 0
        r["turn"], prev = turn, r["dialog"]
    for r in rows:
        if r["category"] not in DOCUMENTED["codes"]:
            reader.note("unknown_code", r["utterance_id"],
                        f"code {r['category']!r} is not among the documented codes",
                        r["utterance_id"])
    corpus = _corpus_from_rows(rows, name=f"iemocap:{root}", params={
        "kind": "iemocap", "root": str(root), "content": reader.digest.hexdigest(),
        "label_sets": list(IEMOCAP_LABEL_SETS)})
    return corpus, _integrity(corpus, dialogs, reader.odd, reader.n_unmatched)


def _corpus_from_rows(rows: list[dict[str, Any]], name: str, params: dict[str, Any]) -> Corpus:
    col = lambda k, dt=None: np.asarray([r[k] for r in rows], dtype=dt)  # noqa: E731
    s = lambda k: np.asarray([r[k] for r in rows], dtype=str) if rows else np.zeros(0, "<U1")  # noqa: E731
    extras = {"dominance": col("dominance", np.float64), "start": col("start", np.float64),
              "end": col("end", np.float64), "has_mocap": col("has_mocap", bool),
              "wearer": s("wearer"), "votes": s("votes")}
    for k, dt in (("mocap_files", bool), ("duration", np.float64)):
        if all(k in r for r in rows):
            extras[k] = col(k, dt)
    return Corpus(
        name=name, features=np.zeros((len(rows), 0), np.float32), feature_names=(),
        utterance_id=s("utterance_id"), session=s("session"), dialog=s("dialog"),
        speaker=s("speaker"), turn=col("turn", np.int64),
        valence=col("valence", np.float64), activation=col("activation", np.float64),
        category=s("category"), gender=s("gender"), wav=s("wav"), transcript=s("transcript"),
        params=params, extras=extras)


def _dialog_type(dialog: str) -> str:
    m = _TYPE_RE.match(dialog.split("_", 1)[1])
    return m.group("type") if m else "other"


def _integrity(corpus: Corpus, dialogs, odd: list, n_unmatched: int) -> dict[str, Any]:
    codes = Counter(corpus.category.tolist())
    sessions: dict[str, dict[str, int]] = {}
    for s in sorted(set(DOCUMENTED["sessions"]) | set(corpus.session.tolist())):
        sessions[s] = {"utterances": int((corpus.session == s).sum()),
                       "dialogs": sum(1 for d, _, _ in dialogs if d[:5] == s)}
    classes = {name: Counter(c for c in iemocap_classes(corpus.category, name) if c is not None)
               for name in IEMOCAP_LABEL_SETS}
    types = Counter(_dialog_type(d) for d in corpus.dialog.tolist())
    found = {
        "utterances": len(corpus),
        "dialogs": len(dialogs),
        "sessions": sessions,
        "codes": {c: codes.get(c, 0) for c in [*DOCUMENTED["codes"],
                                                *sorted(set(codes) - set(DOCUMENTED["codes"]))]},
        "label_sets": {name: sum(v.values()) for name, v in classes.items()},
        "types": {t: types.get(t, 0) for t in [*DOCUMENTED["types"],
                                               *sorted(set(types) - set(DOCUMENTED["types"]))]},
        "genders": {g: int((corpus.gender == g).sum()) for g in DOCUMENTED["genders"]},
        "speakers": {s: int((corpus.speaker == s).sum()) for s in corpus.speakers},
    }
    differences = []

    def compare(key: str, f: Any, d: Any) -> None:
        if isinstance(d, dict) or isinstance(f, dict):
            f, d = f if isinstance(f, dict) else {}, d if isinstance(d, dict) else {}
            for k in [*d, *[k for k in f if k not in d]]:
                compare(f"{key}.{k}", f.get(k, 0), d.get(k, 0))
        elif f != d:
            differences.append({"count": key, "found": f, "documented": d,
                                "message": f"{key}: found {f}, documented {d}"})

    for key in DOCUMENTED:
        compare(key, found[key], DOCUMENTED[key])
    return {
        "root": corpus.params["root"],
        "content": corpus.params["content"],
        "ok": not differences,
        "found": found,
        "documented": DOCUMENTED,
        "differences": differences,
        "label_set_classes": {n: dict(sorted(c.items())) for n, c in classes.items()},
        "unmatched_transcript_lines": n_unmatched,
        "odd_counts": dict(sorted(Counter(o["kind"] for o in odd).items())),
        "odd": odd,
    }


# ------------------------------------------------------------------------------------------------
# Folds


def _next_sessions(sessions: list[str], s: str) -> list[str]:
    i = sessions.index(s)
    return [sessions[(i + j) % len(sessions)] for j in range(1, len(sessions) + 1)]


def _pick_validation(train: set[str], speakers_by_session: dict[str, list[str]],
                     sessions: list[str], after: str, gender: str) -> list[str]:
    for s in _next_sessions(sessions, after):
        cands = [sp for sp in speakers_by_session[s] if sp in train]
        if not cands:
            continue
        pick = next((sp for sp in cands if sp.endswith(gender)), cands[0])
        return [pick] if len(train) > 1 else []
    return []


def folds(corpus: Corpus) -> dict[str, list[dict[str, Any]]]:
    """The leave-one-session-out and leave-one-speaker-out folds, with validation speakers.

    Returns ``{"session": [...], "speaker": [...]}``, fold k testing the k-th session / speaker in
    sorted order (the order of `emojax.data.splits.leave_one_speaker_out`); each fold a dict
    ``fold``, ``test`` (the session or speaker), ``test_speakers``, ``validation_speakers``,
    ``train_speakers`` (what is left for fitting). The validation speakers follow
    `VALIDATION_RULE` and are never test speakers.
    """
    speakers = corpus.speakers
    by_session: dict[str, list[str]] = {}
    for sp, se in sorted(set(zip(corpus.speaker.tolist(), corpus.session.tolist()))):
        by_session.setdefault(se, []).append(sp)
    sessions = sorted(by_session)
    out: dict[str, list[dict[str, Any]]] = {"session": [], "speaker": []}
    for k, s in enumerate(sessions):
        test = by_session[s]
        train = set(speakers) - set(test)
        val = _pick_validation(train, by_session, sessions, s, "F" if k % 2 == 0 else "M")
        out["session"].append({"fold": k, "test": s, "test_speakers": test,
                               "validation_speakers": val,
                               "train_speakers": sorted(train - set(val))})
    session_of = {sp: se for se, sps in by_session.items() for sp in sps}
    for k, sp in enumerate(speakers):
        train = set(speakers) - {sp}
        other = "M" if sp.endswith("F") else "F"
        val = _pick_validation(train, by_session, sessions, session_of[sp], other)
        out["speaker"].append({"fold": k, "test": sp, "test_speakers": [sp],
                               "validation_speakers": val,
                               "train_speakers": sorted(train - set(val))})
    return out


# ------------------------------------------------------------------------------------------------
# The prepared manifest


def _write_atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(header))
    w.writerows(rows)
    return buf.getvalue()


def _manifest_rows(corpus: Corpus) -> list[list[str]]:
    ex = corpus.extras
    sets = {n: iemocap_classes(corpus.category, n) for n in IEMOCAP_LABEL_SETS}
    f4 = lambda x: f"{x:.4f}"  # noqa: E731  (the release prints %.4f: exact round trip)
    rows = []
    for i in range(len(corpus)):
        dur = float(ex["duration"][i])
        rows.append([
            corpus.utterance_id[i], corpus.session[i], corpus.dialog[i], corpus.speaker[i],
            corpus.gender[i], int(corpus.turn[i]), f4(ex["start"][i]), f4(ex["end"][i]),
            f4(corpus.valence[i]), f4(corpus.activation[i]), f4(ex["dominance"][i]),
            corpus.category[i], corpus.transcript[i], corpus.wav[i], int(ex["has_mocap"][i]),
            ex["votes"][i], ex["wearer"][i], int(ex["mocap_files"][i]),
            "" if math.isnan(dur) else repr(dur),
            *(sets[n][i] or "" for n in IEMOCAP_LABEL_SETS)])
    return rows


def prepare_iemocap(root: str | Path, out: str | Path, *, progress: bool = True) -> dict[str, Path]:
    """Read the release at `root` once and write the prepared manifest to `out`.

    Writes (each atomically: a temporary file, then `os.replace`):

    - ``out/utterances.csv``: one row per utterance, columns `MANIFEST_COLUMNS` -- DESIGN.md's
      record (utterance_id, session, dialog, speaker, gender, turn, start, end, valence,
      activation, dominance, category, transcript, wav, has_mocap), then votes, wearer,
      mocap_files, duration, and one column per label set named after it (``ang_hapexc_neu_sad``,
      ``ang_exc_neu_sad``) holding the class or "" where the code is excluded;
    - ``out/integrity.json``: the report of `read_iemocap`, plus ``params`` and ``folds`` (the
      rule and each fold's test / validation speakers);
    - ``out/folds.csv``: `FOLD_COLUMNS`, per utterance the leave-one-session-out fold and the
      leave-one-speaker-out fold in which it is tested, with that fold's validation speakers
      (``+``-joined).

    Returns {"utterances": path, "integrity": path, "folds": path}. `progress` shows a tqdm bar.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus, integrity = read_iemocap(root, progress=progress)
    fl = folds(corpus)
    integrity = {**integrity, "params": corpus.params, "label_sets": {
        n: {"classes": sorted(set(m.values())), "codes": m,
            "documented": IEMOCAP_LABEL_SET_COUNTS[n]} for n, m in IEMOCAP_LABEL_SETS.items()},
        "folds": {"rule": VALIDATION_RULE, **fl}}
    paths = {
        "utterances": _write_atomic(out / "utterances.csv",
                                    _csv_text(MANIFEST_COLUMNS, _manifest_rows(corpus))),
        "integrity": _write_atomic(out / "integrity.json",
                                   json.dumps(integrity, indent=1, ensure_ascii=False) + "\n"),
    }
    fold_of = {p: {} for p in fl}
    for p, fs in fl.items():
        for f in fs:
            for sp in f["test_speakers"]:
                fold_of[p][sp] = f
    frows = []
    for i in range(len(corpus)):
        sf, kf = fold_of["session"][corpus.speaker[i]], fold_of["speaker"][corpus.speaker[i]]
        frows.append([corpus.utterance_id[i], corpus.session[i], corpus.speaker[i], sf["fold"],
                      "+".join(sf["validation_speakers"]), kf["fold"],
                      "+".join(kf["validation_speakers"])])
    paths["folds"] = _write_atomic(out / "folds.csv", _csv_text(FOLD_COLUMNS, frows))
    return paths


def load_prepared(directory: str | Path) -> Corpus:
    """Read ``directory/utterances.csv`` (written by `prepare_iemocap`) back into a `Corpus`.

    The columns of DESIGN.md's record and ``votes`` are required; ``wearer`` (else the dialog's
    letter), ``mocap_files``, ``duration`` and the label-set columns are optional, a label-set
    column must agree with ``category``. Other columns are not read and are named in
    ``params["ignored_columns"]``. params come from ``integrity.json`` when present (root,
    content), plus ``prepared`` and the manifest's sha256. Raises `IemocapError` naming the file,
    line (the header is line 1), column and value of the first bad cell.
    """
    directory = Path(directory)
    path = directory / "utterances.csv"
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IemocapError(f"{where}: cannot read: {e.strerror or e} (run `emojax prepare "
                           f"iemocap PATH --out {directory}` first)") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        lineno = data[:e.start].count(b"\n") + 1
        raise IemocapError(f"{where}:{lineno}: not UTF-8 (byte {data[e.start]:#04x})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise IemocapError(f"{where}:1: empty file (expected the header {','.join(MANIFEST_COLUMNS)})"
                           ) from None
    missing = [c for c in _REQUIRED_MANIFEST if c not in header]
    if missing:
        raise IemocapError(f"{where}:1: missing column(s) {', '.join(missing)}")
    dup = [c for c, n in Counter(header).items() if n > 1]
    if dup:
        raise IemocapError(f"{where}:1: column {dup[0]!r} appears twice")
    idx = {c: j for j, c in enumerate(header)}
    ignored = [c for c in header if c not in MANIFEST_COLUMNS]
    rows: list[dict[str, Any]] = []
    seen_id: dict[str, int] = {}
    seen_turn: dict[tuple[str, int], int] = {}
    line = 1
    for record in reader:
        line = reader.line_num
        if not record or all(not c.strip() for c in record):
            continue
        if len(record) != len(header):
            raise IemocapError(f"{where}:{line}: {len(record)} fields, the header has {len(header)}")
        cell = lambda c: record[idx[c]]  # noqa: E731

        def fail(c: str, why: str):
            return IemocapError(f"{where}:{line}: column {c!r}: {cell(c)!r} {why}")

        def num(c: str, lo: float | None = None, hi: float | None = None, empty_nan=False) -> float:
            s = cell(c)
            if not s and empty_nan:
                return math.nan
            try:
                v = float(s)
            except ValueError:
                raise fail(c, "is not a number") from None
            if not math.isfinite(v):
                raise fail(c, "is not a finite number")
            if lo is not None and not lo <= v <= hi:
                raise fail(c, f"is outside {lo:g}..{hi:g}")
            return v

        def flag(c: str) -> bool:
            s = cell(c).strip().lower()
            if s not in ("0", "1", "true", "false"):
                raise fail(c, "is not 0 or 1")
            return s in ("1", "true")

        r: dict[str, Any] = {}
        for c in ("utterance_id", "session", "dialog", "speaker", "category"):
            if not cell(c):
                raise fail(c, "is empty")
            r[c] = cell(c)
        if r["utterance_id"] in seen_id:
            raise fail("utterance_id", f"is a duplicate of line {seen_id[r['utterance_id']]}")
        seen_id[r["utterance_id"]] = line
        if cell("gender") not in ("F", "M"):
            raise fail("gender", "is not F or M")
        r["gender"] = cell("gender")
        if not re.fullmatch(r"[0-9]+", cell("turn")):
            raise fail("turn", "is not a non-negative integer")
        r["turn"] = int(cell("turn"))
        key = (r["dialog"], r["turn"])
        if key in seen_turn:
            raise fail("turn", f"repeats turn {r['turn']} of dialog {r['dialog']} (line "
                               f"{seen_turn[key]})")
        seen_turn[key] = line
        r["start"], r["end"] = num("start"), num("end")
        if r["end"] < r["start"]:
            raise fail("end", f"is before start {r['start']}")
        for c in ("valence", "activation", "dominance"):
            r[c] = num(c, 1.0, 5.0)
        r["transcript"], r["wav"] = cell("transcript"), cell("wav")
        r["has_mocap"] = flag("has_mocap")
        if cell("votes"):
            try:
                json.loads(cell("votes"))
            except json.JSONDecodeError as e:
                raise fail("votes", f"is not JSON ({e.msg})") from None
        r["votes"] = cell("votes")
        if "wearer" in idx:
            if cell("wearer") not in ("F", "M"):
                raise fail("wearer", "is not F or M")
            r["wearer"] = cell("wearer")
        else:
            r["wearer"] = r["dialog"][5:6]
        if "mocap_files" in idx:
            r["mocap_files"] = flag("mocap_files")
        if "duration" in idx:
            r["duration"] = num("duration", empty_nan=True)
        for name in IEMOCAP_LABEL_SETS:
            if name in idx:
                want = iemocap_classes([r["category"]], name)[0] or ""
                if cell(name) != want:
                    raise fail(name, f"disagrees with category {r['category']!r} (expected "
                                     f"{want!r})")
        rows.append(r)
    params: dict[str, Any] = {"kind": "iemocap", "root": None, "content": None}
    ipath = directory / "integrity.json"
    if ipath.is_file():
        try:
            report = json.loads(ipath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IemocapError(f"{ipath}: not JSON: {e}") from None
        params.update({k: v for k, v in report.get("params", {}).items()
                       if k in ("root", "content", "label_sets")})
    params.update({"prepared": str(directory), "manifest_sha256": hashlib.sha256(data).hexdigest(),
                   "ignored_columns": ignored})
    params.setdefault("label_sets", list(IEMOCAP_LABEL_SETS))
    if params["content"] is None:
        params["content"] = params["manifest_sha256"]
    return _corpus_from_rows(rows, name=f"iemocap:{directory}", params=params)


def load(path: str | Path) -> Corpus:
    """A raw IEMOCAP_full_release root (has ``Session1``...) or a prepared dir (has utterances.csv).

    A folder holding ``IEMOCAP_full_release/`` is accepted too. The raw tree's integrity report is
    not returned here: use `read_iemocap` or `prepare_iemocap` to see it.
    """
    path = Path(path)
    if (path / "utterances.csv").is_file():
        return load_prepared(path)
    if _session_dirs(path):
        return read_iemocap(path)[0]
    if (path / "IEMOCAP_full_release").is_dir() and _session_dirs(path / "IEMOCAP_full_release"):
        return read_iemocap(path / "IEMOCAP_full_release")[0]
    if not path.exists():
        raise IemocapError(f"{path}: no such folder")
    raise IemocapError(f"{path}: neither an IEMOCAP_full_release folder (Session1 ... Session5) "
                       f"nor a prepared folder (utterances.csv from `emojax prepare iemocap`)")
