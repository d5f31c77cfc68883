"""The fold runner every experiment and study uses: pieces of work keyed by what made them.

A *piece* is one unit of saved work (a fold of a task, a study point): a JSON record under
``WORKDIR/pieces/<key>.json`` plus whatever checkpoints it wrote under ``WORKDIR/checkpoints/``.
Each record carries the *settings* that shaped it (the experiment's config minus what only selects
pieces, the corpus's content fingerprint — generator parameters or the file's sha256 — and the
piece's own coordinates) and their fingerprint. A rerun reuses a piece only when its fingerprint
matches; a finished piece made with other settings stops the run with one line naming what differs
and the two ways out (another ``--workdir``, or ``--fresh`` to discard the old work). Records are
written atomically (temporary file, then rename) after their checkpoints, so a killed run leaves
either a whole piece or none. One run at a time holds a workdir (an advisory lock on
``WORKDIR/.lock``): a second run says so in one line and exits.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

PIECES, CHECKPOINTS, RESULTS, PROBES = "pieces", "checkpoints", "results", "probes"


def fingerprint(settings: dict) -> str:
    """sha256 of the settings' canonical JSON (sorted keys), first 16 hex digits."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differences(old: dict, new: dict, limit: int = 4) -> str:
    """``"train.l2: 0.01 -> 0.5, seed: 0 -> 7"`` (the first `limit` differing settings)."""
    a, b = _flatten(old), _flatten(new)
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k, "<unset>") != b.get(k, "<unset>")]
    parts = [f"{k}: {_short(a.get(k, '<unset>'))} -> {_short(b.get(k, '<unset>'))}" for k in keys[:limit]]
    return ", ".join(parts) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _short(v) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s if len(s) <= 40 else s[:18] + "…" + s[-18:]


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file and a rename: never a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_json(path: Path, what: str = "record") -> dict:
    """A JSON file, or one line naming it and saying how to recover if it is unreadable."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: unreadable {what} ({e.__class__.__name__}: {e}); delete it and "
                         "rerun the same command to recompute that piece") from None


class Workdir:
    """A run's directory: ``pieces/``, ``checkpoints/``, ``results/`` and the lock.

    In a run of several processes (`emojax.parallel`) only process 0 writes here; the others read
    the same pieces and checkpoints and write their (identical) results to a private folder,
    `results` (``writer=False``).
    """

    def __init__(self, path: Path, *, results: Path | None = None):
        self.path = Path(path)
        self._results = results

    @property
    def writer(self) -> bool:
        """Whether this process writes the workdir's pieces and checkpoints."""
        return self._results is None

    @property
    def pieces(self) -> Path:
        return self.path / PIECES

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def results(self) -> Path:
        return self._results or self.path / RESULTS

    def piece_path(self, key: str) -> Path:
        return self.pieces / f"{key}.json"

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / name

    @property
    def probes(self) -> Path:
        """Models an analysis trains besides the run's own (a cache: keyed by fingerprint, a lost
        or unreadable one is trained again)."""
        return self.path / PROBES

    def probe(self, name: str) -> Path:
        return self.probes / name



def _check_writable(path: Path) -> None:
    """Fail now, with the path, if the directory cannot be written (a read-only mount, a full disk,
    or root on a read-only file system), rather than after the first piece's work."""
    probe = path / f".write-test-{os.getpid()}"
    probe.write_text("")
    probe.unlink()


@contextlib.contextmanager
def open_workdir(path: Path, *, fresh: bool = False) -> Iterator[Workdir]:
    """Create (or reuse) the workdir and hold its lock for the duration of the run.

    `fresh` discards the pieces, checkpoints, probes and results left by earlier runs.
    In a run of several processes, process 0 does all of that; the others wait until it has, and
    get a `Workdir` that does not write here (see `Workdir`).
    """
    from emojax import parallel
    path = Path(path)
    if not parallel.is_main():
        import tempfile
        parallel.raise_together(None)                  # process 0 has locked (and cleared) it
        parallel.raise_together(None if (path / PIECES).is_dir() else (
            f"{path}: this process (of {parallel.count()}) does not see the workdir process 0 "
            "made; a run of several processes needs a --workdir on a file system they all share"))
        with tempfile.TemporaryDirectory(prefix="emojax-process-") as tmp:
            yield Workdir(path, results=Path(tmp) / RESULTS)
        return
    lock, error = None, None
    try:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path}: --workdir is a file, not a directory")
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / ".lock", "a+")
        try:
            import fcntl
        except ImportError:                      # not POSIX: no advisory locks, no protection
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.seek(0)
                holder = lock.read().strip() or "?"
                raise ValueError(f"{path}: another emojax run (pid {holder}) is using this "
                                 "workdir; wait for it to finish or give another --workdir") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        _check_writable(path)
        wd = Workdir(path)
        if fresh:
            for sub in (wd.pieces, wd.checkpoints, wd.results, wd.probes):
                shutil.rmtree(sub, ignore_errors=True)
        for sub in (wd.pieces, wd.checkpoints):
            sub.mkdir(exist_ok=True)
    except (ValueError, OSError) as e:
        error = e
    try:
        if parallel.count() > 1:                 # the others learn of a failure, or may look now
            parallel.raise_together(str(error) if error else None)
            parallel.raise_together(None)        # ... and whether they see the workdir
        if error:
            raise error
        yield wd
    finally:
        if lock is not None:
            lock.close()                         # closing releases the lock


def load_pieces(wd: Workdir, pieces: dict[str, dict], *, missing_ok: bool = False
                ) -> tuple[dict[str, object], dict[str, float], dict[str, float]]:
    """The finished pieces among `pieces` ({key: settings}) whose settings match: (records by key,
    compute seconds by key, each piece's share of its run's wall time by key: its seconds over the
    worker processes computing beside it, NaN where the piece predates that record). A piece made
    with other settings stops with one line; one whose declared checkpoints
    (``record["checkpoints"]``) are gone is left to recompute, with a warning.
    With ``missing_ok=False`` every piece must be there (for an analysis of a finished run)."""
    import sys
    done, seconds, shares = {}, {}, {}
    for key, settings in pieces.items():
        path = wd.piece_path(key)
        if not path.exists():
            if missing_ok:
                continue
            raise ValueError(f"{path}: missing; this run is not finished — rerun the same "
                             "`emojax reproduce` command to complete it")
        saved = read_json(path)
        if not isinstance(saved, dict) or "record" not in saved or "fingerprint" not in saved:
            raise ValueError(f"{path}: not a piece record of this emojax (an older run?); delete "
                             f"it, or use --fresh to discard the workdir's old work")
        if saved["fingerprint"] != fingerprint(json.loads(json.dumps(settings, default=str))):
            raise ValueError(
                f"{wd.path}: finished work here was made with other settings "
                f"({differences(saved.get('settings', {}), settings)}); give another --workdir, "
                "or --fresh to discard it")
        record = saved["record"]      # what compute yielded: a dict, or a list (the study's curves)
        declared = record.get("checkpoints", []) if isinstance(record, dict) else []
        gone = [c for c in declared if not wd.checkpoint(c).exists()]
        if gone:
            if not missing_ok:
                raise ValueError(f"{wd.checkpoint(gone[0])}: missing; rerun the same `emojax "
                                 "reproduce` command to recompute that piece")
            print(f"emojax: warning: {wd.checkpoint(gone[0])} is missing; recomputing {key}",
                  file=sys.stderr)
            continue
        done[key] = record
        seconds[key] = float(saved.get("seconds", 0.0))
        shares[key] = seconds[key] / saved["workers"] if "workers" in saved else float("nan")
    return done, seconds, shares


def run_pieces(wd: Workdir, pieces: dict[str, dict], compute: Callable, *,
               group: Callable[[str], object] = lambda key: key, desc: str = "", unit: str = "piece",
               progress: bool = True, workers: int = 1, spec=None
               ) -> tuple[dict[str, object], dict]:
    """Reuse finished pieces whose settings match; compute the rest; return (records by key, stats).

    stats: ``reused`` / ``computed`` piece counts, ``reused_s`` (what the reused pieces cost the
    earlier runs that made them, in wall time: each piece's seconds over the number of worker
    processes that computed beside it; a piece stored before that number was, at this run's
    count) and ``compute_s`` (every piece's compute seconds, all runs, summed over processes);
    with workers, also ``workers`` / ``cores`` / ``threads`` (`emojax.experiments.pool`).

    pieces: {key: settings} in run order. compute(keys, bar) computes the pieces `keys` (those of
    one `group`, e.g. the folds of a task trained as one program) and yields ``(key, record)`` as
    each is done; the runner stores every record with its settings, fingerprint and seconds.
    With ``workers > 1`` and a `spec` (`emojax.experiments.pool`: a module-level function that
    builds the same compute in a fresh process), the groups are computed by that many worker
    processes instead, with the same numbers; this process still writes every record.
    """
    from tqdm.auto import tqdm
    from emojax import parallel
    pieces = {k: json.loads(json.dumps(v, default=str)) for k, v in pieces.items()}   # as saved
    done, seconds, shares = load_pieces(wd, pieces, missing_ok=True)
    todo = parallel.agree([k for k in pieces if k not in done])   # process 0's view, everywhere
    for k in todo:
        done.pop(k, None)
        seconds.pop(k, None)
    parallel.raise_together(
        f"{wd.path}: process 0 reuses pieces this process cannot read; a run of several "
        "processes needs a --workdir on a file system they all share"
        if set(pieces) - set(done) - set(todo) else None)
    groups: dict[object, list[str]] = {}
    for k in todo:
        groups.setdefault(group(k), []).append(k)
    bar = tqdm(total=len(pieces), initial=len(done), desc=desc, unit=unit,
               disable=not progress or not parallel.is_main())
    pool_stats: dict = {}

    def store(key, record, sec, width=1):
        if key not in pieces:
            raise RuntimeError(f"compute returned an unknown piece {key!r}")
        if wd.writer:
            write_atomic(wd.piece_path(key), json.dumps(
                {"fingerprint": fingerprint(pieces[key]), "settings": pieces[key],
                 "seconds": round(sec, 2), "workers": width, "record": record}))
        done[key], seconds[key] = record, sec
        bar.update(1)
    try:
        if workers > 1 and spec is not None and len(groups) > 1:
            from emojax.experiments import pool
            width = pool.width(workers, len(groups))
            bar.set_description(f"{desc} ({width} workers)")
            for key, record, sec in pool.compute(spec, list(groups.values()), workers,
                                                 stats=pool_stats):
                store(key, record, sec, width)
            groups = {}
        for keys in groups.values():
            bar.set_description(f"{desc} {keys[0]}" if len(keys) == 1 else f"{desc} {len(keys)} {unit}s")
            t0 = time.time()
            out = list(compute(keys, bar)) if len(keys) > 1 else None
            for key, record in out if out is not None else compute(keys, bar):
                store(key, record, (time.time() - t0) / (len(keys) if out is not None else 1))
                t0 = time.time() if out is None else t0
    finally:
        bar.close()
    parallel.barrier("emojax-pieces-written")        # process 0's records and checkpoints are there
    missing = [k for k in pieces if k not in done]
    if missing:
        raise RuntimeError(f"pieces not computed: {missing}")
    reused = [k for k in pieces if k not in todo]
    from emojax.experiments import pool                    # what this run's pool would be
    width_now = (max(1, pool.width(workers, len({group(k) for k in pieces}))) if spec is not None
                 else 1)
    return {k: done[k] for k in pieces}, {
        "reused": len(reused), "computed": len(todo),
        "reused_s": round(sum(shares[k] if shares[k] == shares[k] else seconds[k] / width_now
                              for k in reused), 1),
        "compute_s": round(sum(seconds.values()), 1), **pool_stats}
