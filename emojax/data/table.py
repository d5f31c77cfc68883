"""A user's utterance table (CSV) as a `Corpus` (shared/DESIGN.md, "Corpora and the utterance record").

The utterance table is emojax's exchange format for utterance-level features, e.g. openSMILE
functionals. One row per utterance:

- required columns ``dialog``, ``turn`` (an integer: the utterance's order within its dialog) and
  ``speaker``; optional ``session`` (default ``"all"``) and ``utterance_id`` (default
  ``f"{dialog}_{speaker}_{turn}"``);
- labels: ``valence`` and/or ``activation`` (numbers in [1, 5]) and/or ``category`` (a class name) --
  at least one of them;
- the other columns of the utterance record (`METADATA_COLUMNS`: ``gender``, ``start``, ``end``,
  ``dominance``, ``votes``, ``transcript``, ``wav``, ``has_mocap``) are metadata, never features,
  and are not read;
- **every other column is a feature and must be numeric** (finite, non-empty); a column that is not
  a feature (a file name, a free-text note) must be named in ``ignore``, on the command line
  ``table:PATH,ignore=a+b``.

Nothing is silently dropped, coerced or reordered: the corpus's arrays follow the file's row order,
and any cell that cannot be read raises `TableError`, whose one-line message names the file, the
CSV line (1-based; the header is line 1), the column and the value::

    my.csv:17: column 'f3': 'abc' is not a number

Structural problems (no header, a missing required column, a row with the wrong number of fields)
are reported first; then the first bad cell in file order.

The delimiter is ``,`` unless the header line holds more ``;`` or tabs than commas (openSMILE's
csvSink writes ``;``). A UTF-8 byte-order mark is accepted. Blank lines are skipped.
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import io
import math
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from emojax.data.corpus import METADATA_COLUMNS, Corpus

__all__ = ["TableError", "load_table", "parse_table_spec", "check_speakers",
           "REQUIRED_COLUMNS", "LABEL_COLUMNS", "DEFAULT_SESSION"]

REQUIRED_COLUMNS = ("dialog", "turn", "speaker")
LABEL_COLUMNS = ("valence", "activation", "category")
DEFAULT_SESSION = "all"
RATING_RANGE = (1.0, 5.0)
SPEC_OPTIONS = ("ignore",)

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_SPEC_RE = re.compile(r"(?P<path>.*?)(?P<opts>(?:,[A-Za-z_][A-Za-z0-9_]*=[^,]*)*)\Z", re.DOTALL)
_MAX_LISTED = 20  # columns listed in a message before "... (N more)"


class TableError(ValueError):
    """A user's utterance table cannot be read; the message names file, line, column and value."""


# ------------------------------------------------------------------------------------------------
# The spec


def parse_table_spec(spec: str) -> tuple[Path, list[str]]:
    """Parse the part of a corpus spec after ``table:``.

    ``"my.csv"`` -> ``(Path("my.csv"), [])``; ``"my.csv,ignore=name+file"`` ->
    ``(Path("my.csv"), ["name", "file"])``. A path may itself contain commas (only trailing
    ``,key=value`` segments are options). Raises `TableError` on an empty path, an unknown or
    repeated option, or an empty column name in ``ignore``.
    """
    m = _SPEC_RE.match(spec)
    assert m is not None  # the pattern matches every string
    path, opts = m.group("path").strip(), m.group("opts")
    if not path:
        raise TableError(f"table spec {spec!r}: no path (expected table:PATH.csv or "
                         f"table:PATH.csv,ignore=a+b)")
    ignore: list[str] | None = None
    for seg in opts.split(",")[1:]:
        key, _, value = seg.partition("=")
        if key not in SPEC_OPTIONS:
            raise TableError(f"table spec {spec!r}: unknown option {key!r} "
                             f"(known: {', '.join(SPEC_OPTIONS)})")
        if ignore is not None:
            raise TableError(f"table spec {spec!r}: option 'ignore' given twice "
                             f"(join the columns with '+': ignore=a+b)")
        names = [n.strip() for n in value.split("+")]
        if not value.strip() or any(not n for n in names):
            raise TableError(f"table spec {spec!r}: empty column name in ignore={value!r} "
                             f"(expected ignore=a+b)")
        ignore = names
    return Path(path), list(ignore or [])


# ------------------------------------------------------------------------------------------------
# Reading


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _read_rows(path: Path, where: str) -> tuple[bytes, list[str], list[list[str]], list[int]]:
    """Bytes, header, data rows (cells stripped) and each row's 1-based starting line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TableError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise TableError(f"{where}: is a directory, not a CSV file") from None
    except OSError as e:
        raise TableError(f"{where}: cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise TableError(f"{where}:{line}: not UTF-8 text (byte {data[e.start]:#04x} at offset "
                         f"{e.start}); save the table as UTF-8 CSV") from None
    if not text.strip():
        raise TableError(f"{where}: file is empty (expected a CSV header line naming the columns "
                         f"dialog, turn, speaker, a label and the features)")
    first = next(ln for ln in text.splitlines() if ln.strip())
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    prev = 0
    try:
        for record in reader:
            start, prev = prev + 1, reader.line_num
            if not record or all(not c.strip() for c in record):
                continue  # blank line
            cells = [c.strip() for c in record]
            if header is None:
                header = cells
            else:
                rows.append(cells)
                lines.append(start)
    except csv.Error as e:
        raise TableError(f"{where}:{prev + 1}: malformed CSV: {e}") from None
    assert header is not None
    return data, header, rows, lines


def _check_header(header: list[str], ignore: Sequence[str], where: str) -> None:
    if all(_is_number(h) for h in header if h):
        raise TableError(f"{where}:1: no header line: line 1 holds only numbers "
                         f"({_listing(header[:5])}{', ...' if len(header) > 5 else ''}); the first "
                         f"line must name the columns (dialog, turn, speaker, a label, the features)")
    for j, name in enumerate(header):
        if not name:
            raise TableError(f"{where}:1: column {j + 1} has no name in the header (a pandas index? "
                             f"write the table with index=False)")
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise TableError(f"{where}:1: column {name!r} appears twice in the header "
                             f"(fields {seen[name] + 1} and {j + 1})")
        seen[name] = j
    lower = {m.lower(): m for m in METADATA_COLUMNS}
    for name in header:
        meta = lower.get(name.lower())
        if meta is not None and meta != name and name not in ignore:
            raise TableError(f"{where}:1: column {name!r} looks like the record column {meta!r} "
                             f"but names are case-sensitive; rename it to {meta!r} (or add it to "
                             f"ignore=) so it is not read as a feature")
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        if not set(header) & set(METADATA_COLUMNS) and any(_is_number(h) for h in header):
            raise TableError(f"{where}:1: no header line: line 1 looks like data "
                             f"({_listing(header[:5])}{', ...' if len(header) > 5 else ''}) and "
                             f"names none of the record's columns; the first line must name the "
                             f"columns (dialog, turn, speaker, a label, the features)")
        c = missing[0]
        by_lower = {h.lower(): h for h in header}
        close = difflib.get_close_matches(c, list(by_lower), n=1, cutoff=0.6)
        hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
        raise TableError(f"{where}:1: missing required column {c!r}{hint}; the required columns are "
                         f"{', '.join(REQUIRED_COLUMNS)}; the header has {len(header)} columns: "
                         f"{_listing(header)}")
    for name in ignore:
        if name not in seen:
            raise TableError(f"{where}:1: ignore= names column {name!r}, which is not in the header "
                             f"(columns: {_listing(header)})")
        if name in REQUIRED_COLUMNS:
            raise TableError(f"{where}:1: ignore= names the required column {name!r}")
    if not any(c in seen and c not in ignore for c in LABEL_COLUMNS):
        raise TableError(f"{where}:1: no label column: the table needs 'valence', 'activation' or "
                         f"'category' (columns: {_listing(header)})")


def _parse_rating(s: str, where: str, line: int, col: str) -> float:
    if not s:
        raise TableError(f"{where}:{line}: column {col!r}: empty value (every utterance needs a "
                         f"{col} rating in [1, 5])")
    try:
        v = float(s)
    except ValueError:
        raise TableError(f"{where}:{line}: column {col!r}: {s!r} is not a number") from None
    if not math.isfinite(v):
        raise TableError(f"{where}:{line}: column {col!r}: {s!r} is not a finite number")
    lo, hi = RATING_RANGE
    if not lo <= v <= hi:
        raise TableError(f"{where}:{line}: column {col!r}: {s!r} is outside [1, 5]")
    return v


def _parse_records(header, rows, lines, ignore, where):
    """Validate and read the non-feature columns row by row; stop at the first error.

    Returns (columns dict, error or None, line of the error or None).
    """
    idx = {name: j for j, name in enumerate(header)}
    has = lambda c: c in idx and c not in ignore  # noqa: E731
    n = len(rows)
    out: dict[str, list] = {k: [] for k in ("utterance_id", "session", "dialog", "speaker", "turn")}
    labels = [c for c in LABEL_COLUMNS if has(c)]
    for c in labels:
        out[c] = []
    first_key: dict[tuple[str, str, int], int] = {}
    first_id: dict[str, int] = {}
    dialog_session: dict[str, tuple[str, int]] = {}
    try:
        for i in range(n):
            row, line = rows[i], lines[i]
            for c in ("dialog", "speaker") + (("session",) if has("session") else ()) + (
                    ("utterance_id",) if has("utterance_id") else ()):
                if not row[idx[c]]:
                    raise TableError(f"{where}:{line}: column {c!r}: empty value")
            dialog, speaker = row[idx["dialog"]], row[idx["speaker"]]
            s = row[idx["turn"]]
            if not _INT_RE.match(s):
                what = "empty value" if not s else f"{s!r} is not an integer"
                raise TableError(f"{where}:{line}: column 'turn': {what} (the turn is the "
                                 f"utterance's integer order within its dialog)")
            turn = int(s)
            key = (dialog, speaker, turn)
            if key in first_key:
                raise TableError(f"{where}:{line}: columns 'dialog', 'speaker', 'turn': duplicate "
                                 f"utterance (dialog {dialog!r}, speaker {speaker!r}, turn {turn}) "
                                 f"on lines {first_key[key]} and {line}")
            first_key[key] = line
            session = row[idx["session"]] if has("session") else DEFAULT_SESSION
            if dialog in dialog_session and dialog_session[dialog][0] != session:
                prev_session, prev_line = dialog_session[dialog]
                raise TableError(f"{where}:{line}: column 'session': dialog {dialog!r} is in session "
                                 f"{session!r} here but in session {prev_session!r} on line "
                                 f"{prev_line}")
            dialog_session.setdefault(dialog, (session, line))
            uid = row[idx["utterance_id"]] if has("utterance_id") else f"{dialog}_{speaker}_{turn}"
            if uid in first_id:
                raise TableError(f"{where}:{line}: column 'utterance_id': duplicate utterance id "
                                 f"{uid!r} on lines {first_id[uid]} and {line}")
            first_id[uid] = line
            for c in labels:
                s = row[idx[c]]
                if c == "category":
                    if not s:
                        raise TableError(f"{where}:{line}: column 'category': empty value (every "
                                         f"utterance needs a class name)")
                    out[c].append(s)
                else:
                    out[c].append(_parse_rating(s, where, line, c))
            out["utterance_id"].append(uid)
            out["session"].append(session)
            out["dialog"].append(dialog)
            out["speaker"].append(speaker)
            out["turn"].append(turn)
    except TableError as e:
        return out, e, line
    return out, None, None


def _parse_features(header, rows, lines, feat_cols, ignore, where, spec_path):
    """(N, F) float32 features; or the first bad cell's error (in file order) and its line."""
    idx = {name: j for j, name in enumerate(header)}
    fidx = [idx[c] for c in feat_cols]
    n = len(rows)
    x = np.empty((n, len(fidx)), np.float64)
    for i in range(n):
        row = rows[i]
        try:
            x[i] = [float(row[j]) for j in fidx]
        except ValueError:
            for k, j in enumerate(fidx):
                if not _is_number(row[j]):
                    return None, _bad_feature(header, rows, lines, i, feat_cols, k, ignore, where,
                                              spec_path), lines[i]
            raise  # pragma: no cover - float() failed on a cell that _is_number accepts
    def first_nonfinite(arr, why):
        """(None, TableError, line) for the first non-finite cell of `arr` in file order, or None."""
        bad = np.argwhere(~np.isfinite(arr))
        if not len(bad):
            return None
        i, k = bad[0]
        return None, TableError(f"{where}:{lines[i]}: column {feat_cols[k]!r}: "
                                f"{rows[i][fidx[k]]!r} is {why}"), lines[i]

    err = first_nonfinite(x, "not a finite number (features must be finite)")
    if err:
        return err
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    err = first_nonfinite(x32, "outside the float32 range (features are stored as float32)")
    if err:
        return err
    return x32, None, None


def _bad_feature(header, rows, lines, i, feat_cols, k, ignore, where, spec_path) -> TableError:
    idx = {name: j for j, name in enumerate(header)}
    col = feat_cols[k]
    s = rows[i][idx[col]]
    line = lines[i]
    if not s:
        return TableError(f"{where}:{line}: column {col!r}: empty value (features must be numbers; "
                          f"nothing is filled in or dropped)")

    def is_text(c: str) -> bool:
        vals = [r[idx[c]] for r in rows]
        return any(vals) and all(not v or not _is_number(v) for v in vals)

    msg = f"{where}:{line}: column {col!r}: {s!r} is not a number"
    if is_text(col):
        text_cols = [c for c in feat_cols if is_text(c)]
        names = "+".join(list(ignore) + text_cols)
        which = (f"column {col!r} holds text on every row" if len(text_cols) == 1 else
                 f"columns {_listing(text_cols)} hold text on every row")
        msg += (f"; {which} -- if not a feature, skip it with the spec "
                f"table:{spec_path},ignore={names}")
    return TableError(msg)


def load_table(path: str | Path, *, ignore: Sequence[str] = ()) -> Corpus:
    """Read a user's utterance table (CSV) into a `Corpus`, validating every cell.

    Args:
      path: the CSV file.
      ignore: columns that are neither features nor metadata (e.g. openSMILE's ``name``); they are
        not read. Each must be in the header; the required columns cannot be ignored; an ignored
        label column is not used as a label.

    Returns:
      A `Corpus` named ``table:PATH`` whose arrays follow the file's row order: features (N, F)
      float32 in header order, valence/activation float64 (None when absent), category str (None
      when absent), turn int64, the rest str arrays. ``params`` = {kind, path, sha256 of the file's
      bytes, n_utterances, n_features, ignored}.

    Raises:
      TableError: with a one-line message ``PATH:LINE: column 'C': ...`` (see the module doc).
    """
    path = Path(path)
    where = str(path)
    ignore = list(dict.fromkeys(str(c).strip() for c in ignore))
    data, header, rows, lines = _read_rows(path, where)
    _check_header(header, ignore, where)
    for row, line in zip(rows, lines):
        if len(row) != len(header):
            raise TableError(f"{where}:{line}: row has {len(row)} fields but the header has "
                             f"{len(header)} (a stray or missing delimiter, or an unquoted value "
                             f"containing one?)")
    meta = set(METADATA_COLUMNS)
    feat_cols = [c for c in header if c not in meta and c not in ignore]
    if not feat_cols:
        raise TableError(f"{where}:1: no feature columns: every column is metadata, a label or "
                         f"ignored (columns: {_listing(header)})")
    if not rows:
        raise TableError(f"{where}:2: no utterances: the table has a header but no rows")

    cols, err_m, line_m = _parse_records(header, rows, lines, ignore, where)
    x, err_f, line_f = _parse_features(header, rows, lines, feat_cols, ignore, where, where)
    errors = [(ln, e) for ln, e in ((line_m, err_m), (line_f, err_f)) if e is not None]
    if errors:
        raise min(errors, key=lambda t: t[0])[1]

    as_str = lambda v: np.asarray(v, dtype=str)  # noqa: E731
    as_f64 = lambda c: np.asarray(cols[c], np.float64) if c in cols else None  # noqa: E731
    corpus = Corpus(
        name=f"table:{path}",
        features=x,
        feature_names=tuple(feat_cols),
        utterance_id=as_str(cols["utterance_id"]),
        session=as_str(cols["session"]),
        dialog=as_str(cols["dialog"]),
        speaker=as_str(cols["speaker"]),
        turn=np.asarray(cols["turn"], np.int64),
        valence=as_f64("valence"),
        activation=as_f64("activation"),
        category=as_str(cols["category"]) if "category" in cols else None,
        params={"kind": "table", "path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
                "n_utterances": len(rows), "n_features": len(feat_cols), "ignored": list(ignore)},
    )
    check_speakers(corpus, 1)
    return corpus


def check_speakers(corpus: Corpus, min_utterances: int = 1, *,
                   speakers: Iterable[str] | None = None) -> None:
    """Check every speaker has at least `min_utterances` utterances.

    `speakers` is the set expected (e.g. ``original.speakers`` when `corpus` is a filtered subset);
    by default the speakers present in `corpus`. Raises `TableError` naming the first short speaker
    (sorted by name) and its count.
    """
    counts = Counter(corpus.speaker.tolist())
    expected = sorted(set(speakers) if speakers is not None else counts)
    for s in expected:
        if counts.get(s, 0) < min_utterances:
            raise TableError(f"{corpus.name}: speaker {s!r} has {counts.get(s, 0)} utterance(s), "
                             f"fewer than the {min_utterances} required")


def write_table(corpus: Corpus, path: str | Path) -> Path:
    """Write `corpus` as an utterance table that `load_table` reads back (export / exchange)."""
    path = Path(path)
    label_cols = [c for c in LABEL_COLUMNS if getattr(corpus, c) is not None]
    header = ["utterance_id", "session", "dialog", "speaker", "turn", *label_cols,
              *corpus.feature_names]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(len(corpus)):
            labels = [getattr(corpus, c)[i] for c in label_cols]
            w.writerow([corpus.utterance_id[i], corpus.session[i], corpus.dialog[i],
                        corpus.speaker[i], int(corpus.turn[i]), *labels,
                        *(repr(float(v)) for v in corpus.features[i])])
    return path
