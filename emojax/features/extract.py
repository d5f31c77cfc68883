"""Feature extraction over a whole corpus: parallel, cached by content, resumable, never silent.

`extract_corpus(corpus, set_name, out)` computes the frame descriptors of every utterance's audio
and writes, under `out`:

- ``frames/<key>.npy``: the (T, D) float32 descriptors of one file, where ``key`` hashes the file's
  bytes together with the set, its options and `VERSION`: the same audio under another name is
  found again, and any change of settings computes afresh. Each file is written atomically, so an
  interrupted run resumes where it stopped (finished files are reused).
- ``index.csv``: utterance_id, wav, key, frames (one row per extracted utterance).
- ``skipped.csv``: utterance_id, wav, reason, detail: every file that could not be used and why.
- ``features.json``: the set, descriptor names, frame rate, how they were computed (`info`), the
  counts, wall time and real-time factor.
- ``functionals.csv`` (``functionals=True``): the utterance table (DESIGN.md's CSV): the record's
  metadata, then the functionals of every descriptor over the utterance's frames.

Work is spread over processes (``workers``; default: the CPU count) with a progress bar.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from emojax.features import sets

VERSION = 1            # bump when a set's numbers change: every cached frame file is recomputed


def spawn_context():
    """Worker processes are spawned, never forked: the parent may hold JAX's threads."""
    import multiprocessing
    return multiprocessing.get_context("spawn")


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def single_threaded_workers():
    """Processes started inside get one BLAS thread each (spawned children read these variables
    when numpy loads): N workers with N BLAS threads each oversubscribe the cores, measured 4x
    slower than one process on 2 cores for the chernykh2018 set."""
    old = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def set_fingerprint(set_name: str, options: dict, *, sr: int, resample: bool, info: dict) -> str:
    """What makes a file's frames: the set, its options, the rate it is read at, and how the set
    computed them here (`info` of a probe: e.g. which pitch back end ``pitch="auto"`` chose and
    Praat's version), so installing or removing a back end never serves stale frames."""
    return json.dumps({"set": set_name, "options": options, "version": VERSION, "sr": sr,
                       "resample": resample, "info": info}, sort_keys=True, default=str)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _one(task: tuple) -> dict:
    """Worker: one file -> {"key", "frames", "seconds", "cached"} or {"reason", "detail"}.

    Never raises for a file: whatever goes wrong with one file (a Praat error included) is that
    file's reason, so one bad file cannot stop a corpus run (and every rerun) at the same place."""
    from emojax.features.audio import AudioError, read_audio
    path, set_name, options, sr, resample, frames_dir, min_samples, fingerprint = task
    if path is None:
        return {"reason": "missing", "detail": "the corpus names no audio file for it"}
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        return {"reason": "missing" if isinstance(e, FileNotFoundError) else "unreadable",
                "detail": f"{path}: {e.strerror or e}"}
    key = hashlib.sha1(raw + fingerprint.encode()).hexdigest()[:20]
    target = Path(frames_dir) / f"{key}.npy"
    try:
        x, file_sr = read_audio(path, sr=sr, resample=resample, min_samples=min_samples)
    except AudioError as e:
        return {"reason": e.reason, "detail": str(e)}
    seconds = x.size / file_sr
    if target.is_file():
        try:
            arr = np.load(target)
            return {"key": key, "frames": int(arr.shape[0]), "seconds": seconds, "cached": True}
        except (OSError, ValueError):
            pass                                          # a damaged cache file: compute again
    if sets.info(set_name).integer_pcm:                   # as pyAudioAnalysis reads a file
        x = np.round(x * 32768.0).clip(-32768, 32767).astype(np.int16)
    try:
        frames = np.asarray(sets.extract(set_name, x, file_sr, **options).frames, np.float32)
    except Exception as e:  # noqa: BLE001 - any failure on one file is that file's reason
        return {"reason": "extraction", "detail": f"{path}: {type(e).__name__}: {e}".splitlines()[0]}
    if not np.isfinite(frames).all():
        t, d = np.argwhere(~np.isfinite(frames))[0]
        return {"reason": "nonfinite_features", "detail": f"{path}: {set_name} gave a non-finite "
                f"value at frame {t}, descriptor {d}"}
    _atomic_save(target, frames)
    return {"key": key, "frames": int(frames.shape[0]), "seconds": seconds, "cached": False}


def _describe(set_name: str, options: dict, sr: int) -> dict:
    """Names, rate and info of a set, from a short probe signal (a file's result can be cached)."""
    t = np.arange(int(sr * 1.0)) / sr
    probe = 0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    fr = sets.extract(set_name, probe + 1e-3 * np.random.default_rng(0).standard_normal(t.size),
                      sr, **options)
    return {"names": list(fr.names), "rate": fr.rate, "info": fr.info}


def extract_corpus(corpus, set_name: str, out, *, options: dict | None = None, sr: int = 16000,
                   resample: bool = False, workers: int | None = None, functionals: bool = True,
                   progress: bool = True) -> dict:
    """Extract set `set_name` for every utterance of `corpus` that has a wav; returns the report
    (also written to ``out/features.json``). Paths are relative to ``corpus.params["root"]``."""
    if corpus.wav is None:
        raise ValueError(f"{corpus.name}: the corpus carries no audio paths (wav)")
    info = sets.info(set_name)
    options = {**info.options, **(options or {})}
    sets.function(set_name)                                   # a missing extra fails here, once
    out = Path(out)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    if corpus.params.get("root") is None:
        raise ValueError(f"{corpus.name}: the corpus does not say where its audio lives (no root; "
                         "re-run `emojax prepare` on the corpus folder)")
    root = Path(corpus.params["root"])
    min_samples = int(round(info.window_s * sr))
    desc = _describe(set_name, options, sr)
    fingerprint = set_fingerprint(set_name, options, sr=sr, resample=resample, info=desc["info"])
    tasks = [(str(root / w) if w else None, set_name, options, sr, resample, str(frames_dir),
              min_samples, fingerprint) for w in corpus.wav]
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    results: list[dict] = []
    from tqdm.auto import tqdm
    bar = tqdm(total=len(tasks), desc=f"features {set_name}", unit="file", disable=not progress)
    if workers == 1:
        for t in tasks:
            results.append(_one(t))
            bar.update()
    else:
        with single_threaded_workers(), ProcessPoolExecutor(workers, mp_context=spawn_context()) as ex:
            for r in ex.map(_one, tasks, chunksize=max(1, min(32, len(tasks) // (4 * workers) or 1))):
                results.append(r)
                bar.update()
    bar.close()
    wall = time.perf_counter() - t0
    index, skipped = [], []
    for uid, wav, r in zip(corpus.utterance_id, corpus.wav, results):
        if "reason" in r:
            skipped.append({"utterance_id": uid, "wav": wav, "reason": r["reason"], "detail": r["detail"]})
        else:
            index.append({"utterance_id": uid, "wav": wav, "key": r["key"], "frames": r["frames"]})
    _write_csv(out / "index.csv", index, ("utterance_id", "wav", "key", "frames"))
    _write_csv(out / "skipped.csv", skipped, ("utterance_id", "wav", "reason", "detail"))
    audio_s = sum(r.get("seconds", 0.0) for r in results if "key" in r)
    computed = [r for r in results if r.get("cached") is False]
    compute_audio_s = sum(r["seconds"] for r in computed)
    report = {"set": set_name, "options": options, "version": VERSION, **desc,
              "corpus": corpus.name, "utterances": len(tasks), "extracted": len(index),
              "computed": len(computed), "reused": len(index) - len(computed),
              "skipped": len(skipped), "skipped_reasons": _count(s["reason"] for s in skipped),
              "audio_seconds": round(audio_s, 2), "wall_seconds": round(wall, 2), "workers": workers,
              "realtime_factor": round(compute_audio_s / wall, 1) if computed and wall > 0 else None}
    if functionals:
        report["functionals"] = str(write_functionals(corpus, out, index, desc["names"], desc["rate"]))
    _atomic_text(out / "features.json", json.dumps(report, indent=2) + "\n")
    return report


def _count(items) -> dict:
    out: dict = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def _write_csv(path: Path, rows: list[dict], fields: tuple[str, ...]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    _atomic_text(path, buf.getvalue())


def load_frames(out, utterance_ids=None) -> dict[str, np.ndarray]:
    """{utterance_id: (T, D) frames} from an extraction directory (all, or those asked for)."""
    out = Path(out)
    with open(out / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    want = None if utterance_ids is None else set(utterance_ids)
    return {r["utterance_id"]: np.load(out / "frames" / f"{r['key']}.npy")
            for r in rows if want is None or r["utterance_id"] in want}


VOICED_ONLY = ("f0", "d_f0")     # pitch is 0 Hz where unvoiced: its functionals take voiced frames


def descriptor_mask(frames: np.ndarray, names) -> np.ndarray:
    """(T, D) valid frames per descriptor: every frame, but only voiced ones (``f0 > 0``) for the
    pitch track and its delta (an utterance with no voiced frame keeps every frame)."""
    names = list(names)
    mask = np.ones(frames.shape, bool)
    if "f0" in names:
        voiced = frames[:, names.index("f0")] > 0
        if voiced.any():
            for n in VOICED_ONLY:
                if n in names:
                    mask[:, names.index(n)] = voiced
    return mask


def write_functionals(corpus, out: Path, index: list[dict], names: list[str], rate: float) -> Path:
    """The utterance table of the extracted utterances: metadata, then the functionals of every
    descriptor over the utterance's frames (pitch over voiced frames: `descriptor_mask`). A set
    that gives one row per utterance (``rate == 0``: openSMILE's own functionals) is written as it is."""
    from emojax.features import functionals as FN
    keep = {r["utterance_id"]: r["key"] for r in index}
    rows = [i for i, u in enumerate(corpus.utterance_id) if u in keep]
    values, fnames = [], list(names)
    for i in rows:
        uid = corpus.utterance_id[i]
        arr = np.load(out / "frames" / f"{keep[uid]}.npy")
        if rate == 0:
            values.append(arr.reshape(-1))
            continue
        try:
            v, fnames = FN.functionals(arr, descriptor_mask(arr, names), names=names)
        except ValueError as e:
            raise ValueError(f"{uid} ({corpus.wav[i]}): {e}") from None
        values.append(v)
    matrix = np.stack(values) if values else np.zeros((0, 0), np.float32)
    path = out / "functionals.csv"
    FN.write_utterance_table(path, metadata_rows(corpus, rows), matrix, fnames if values else [])
    return path


def metadata_rows(corpus, rows) -> list[dict]:
    """The utterance record's metadata columns for the utterances at `rows` (DESIGN.md)."""
    out = []
    for i in rows:
        r = {"utterance_id": corpus.utterance_id[i], "session": corpus.session[i],
             "dialog": corpus.dialog[i], "speaker": corpus.speaker[i], "turn": int(corpus.turn[i])}
        if corpus.gender is not None:
            r["gender"] = corpus.gender[i]
        for k in ("start", "end", "dominance", "has_mocap"):
            if k in corpus.extras:
                r[k] = corpus.extras[k][i]
        if corpus.valence is not None:
            r["valence"] = corpus.valence[i]
        if corpus.activation is not None:
            r["activation"] = corpus.activation[i]
        if corpus.category is not None:
            r["category"] = corpus.category[i]
        if corpus.wav is not None:
            r["wav"] = corpus.wav[i]
        out.append(r)
    return out
