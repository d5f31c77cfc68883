"""From a corpus that carries audio (and MoCap) to one with utterance features: the front end that
`emojax reproduce ... --corpus iemocap:PATH` runs before an utterance-level experiment.

`utterance_features(corpus, audio=("woellmer2012",), visual=True)`:

1. for every audio set, `extract.extract_corpus` (frames cached by content under ``cache``; an
   interrupted run resumes), then the functionals of every descriptor over the utterance;
2. with ``visual``, for every utterance whose speaker wears the face markers (``has_mocap``): the
   46 face markers of ``MOCAP_rotated`` framed like the audio (`visual.face_frames`, 50 ms / 25 ms),
   each coordinate z-scored, principal feature analysis to 30 coordinates + deltas
   (`visual.pfa_fit`, `pfa_apply`), and the same functionals. The z-scoring and PFA use no
   labels, but they are fitted on the frames of every utterance of the corpus, test speakers
   included: a transductive, corpus-level choice of marker coordinates (the paper does not say;
   a per-fold fit would change the feature columns per fold).
3. The corpus keeps the utterances that have every requested feature; each utterance dropped is
   named in ``params["front_end"]["dropped"]`` and, with its reason, in
   ``params["front_end_report"]["dropped"]`` (never silently).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from emojax.features import extract
from emojax.features.extract import single_threaded_workers, spawn_context

VISUAL_VERSION = 1


def default_cache(corpus) -> Path:
    """``$EMOJAX_CACHE/features/<corpus content>`` (a fresh temporary folder when the cache is off)."""
    from emojax.runtime import cache_dir
    if os.environ.get("EMOJAX_CACHE", "").lower() == "off":
        return Path(tempfile.mkdtemp(prefix="emojax-features-"))
    content = str(corpus.params.get("content") or corpus.name)
    return cache_dir() / "features" / hashlib.sha1(content.encode()).hexdigest()[:16]


def _read_functionals(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """{utterance_id: values} and the feature names of a functionals.csv written by `extract`."""
    from emojax.data.corpus import METADATA_COLUMNS
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        feat = [i for i, h in enumerate(header) if h not in METADATA_COLUMNS]
        uid = header.index("utterance_id")
        rows = {r[uid]: np.array([float(r[i]) for i in feat], np.float32) for r in reader}
    return rows, [header[i] for i in feat]


def _face(task) -> tuple[str, np.ndarray | None, str]:
    """Worker: one utterance's face frames (T, 138), or None and the reason."""
    from emojax.data.iemocap import IemocapError, read_mocap
    from emojax.features.visual import face_frames
    uid, path = task
    try:
        _, _, values, names = read_mocap(path)
        return uid, face_frames(values, _marker_names(names, values.shape[1])).astype(np.float32), ""
    except (IemocapError, ValueError, OSError) as e:
        return uid, None, str(e).splitlines()[0]


def _marker_names(names, width: int) -> list[str]:
    """Marker names for `face_frames` from the file's value names: ``CH1_X CH1_Y CH1_Z ...`` (the
    marker names of its first header line, `iemocap.read_mocap`) -> ``CH1 ...``."""
    names = list(names)
    if len(names) == width and width % 3 == 0:
        markers = [n.rsplit("_", 1)[0] for n in names[::3]]
        if all(names[3 * i + j] == f"{m}_{a}" for i, m in enumerate(markers)
               for j, a in enumerate("XYZ")):
            return markers
    raise ValueError(f"the MoCap header does not name its markers (x, y, z per marker); got "
                     f"{names[:6]}...")


def visual_features(corpus, cache: Path, *, workers: int | None = None, progress: bool = True,
                    k: int = 30, seed: int = 0) -> tuple[dict[str, np.ndarray], list[str], dict]:
    """{utterance_id: functionals of the PFA-selected face coordinates + deltas}, names, report."""
    from emojax.data.iemocap import mocap_path
    from emojax.features import functionals as FN
    from emojax.features import visual as V
    root = Path(corpus.params.get("root") or ".")
    wear = corpus.extras.get("has_mocap")
    idx = np.flatnonzero(wear) if wear is not None else np.arange(len(corpus))
    tasks = [(corpus.utterance_id[i], str(mocap_path(root, corpus.utterance_id[i]))) for i in idx]
    def stat(path):
        try:
            st = os.stat(path)
            return [st.st_size, st.st_mtime_ns]
        except OSError:
            return None
    key = hashlib.sha1(json.dumps([VISUAL_VERSION, k, seed, str(root.resolve()),
                                   V.FRAMING, [(u, stat(p)) for u, p in tasks]]).encode()).hexdigest()[:16]
    done = cache / f"visual-{key}.npz"
    if done.is_file():
        z = np.load(done, allow_pickle=False)
        ids, values = z["ids"].tolist(), z["values"]
        report = json.loads(str(z["report"]))
        return dict(zip(ids, values)), z["names"].tolist(), report
    from tqdm.auto import tqdm
    faces, dropped = {}, []
    with single_threaded_workers(), ProcessPoolExecutor(workers or os.cpu_count() or 1,
                                                        mp_context=spawn_context()) as ex:
        for uid, fr, why in tqdm(ex.map(_face, tasks, chunksize=16), total=len(tasks),
                                 desc="face MoCap", unit="file", disable=not progress):
            if fr is None:
                dropped.append({"utterance_id": uid, "reason": why})
            else:
                faces[uid] = fr
    if len(faces) < 2:
        raise ValueError(f"{corpus.name}: {len(faces)} utterances with readable face MoCap; "
                         "visual features need more")
    allf = np.concatenate(list(faces.values()))
    mu, sd = allf.mean(0), allf.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    normed = {u: (f - mu) / sd for u, f in faces.items()}
    selected = V.pfa_fit(list(normed.values()), k=k, seed=seed)
    names = V.pfa_names(selected)
    ids = list(normed)
    values, fnames = FN.utterance_functionals([V.pfa_apply(normed[u], selected) for u in ids],
                                              names=[f"face_{n}" for n in names])
    report = {"utterances": len(ids), "selected": [V.FACE_COORDINATES[i] for i in selected],
              "dropped": dropped}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{done.name}.{os.getpid()}.tmp.npz"
    np.savez(tmp, ids=np.array(ids), values=values.astype(np.float32), names=np.array(fnames),
             report=np.array(json.dumps(report)))
    os.replace(tmp, done)
    return dict(zip(ids, values.astype(np.float32))), list(fnames), report


def utterance_features(corpus, *, audio=("woellmer2012",), visual: bool = False,
                       cache: Path | None = None, workers: int | None = None,
                       progress: bool = True):
    """The corpus with utterance features: functionals of each audio set (and the face), joined."""
    cache = Path(cache) if cache is not None else default_cache(corpus)
    blocks, info, dropped = [], {"audio": {}}, []
    for name in audio:
        rep = extract.extract_corpus(corpus, name, cache / name, workers=workers,
                                     progress=progress)
        values, names = _read_functionals(Path(rep["functionals"]))
        blocks.append((values, names))
        info["audio"][name] = {k: rep[k] for k in ("info", "rate", "extracted", "skipped",
                                                   "skipped_reasons", "realtime_factor")}
        with open(cache / name / "skipped.csv", newline="") as f:
            dropped += [{"utterance_id": r["utterance_id"], "reason": f"{name}: {r['detail']}"}
                        for r in csv.DictReader(f)]
    if visual:
        values, names, rep = visual_features(corpus, cache, workers=workers, progress=progress)
        blocks.append((values, names))
        info["visual"] = {"utterances": rep["utterances"], "selected": rep["selected"]}
        dropped += [{"utterance_id": d["utterance_id"], "reason": f"face MoCap: {d['reason']}"}
                    for d in rep["dropped"]]
    if not blocks:
        raise ValueError("utterance_features: ask for at least one audio set or visual")
    have = [u for u in corpus.utterance_id if all(u in b[0] for b in blocks)]
    keep, named = set(have), {d["utterance_id"] for d in dropped}
    for u in corpus.utterance_id:
        if u not in keep and u not in named:
            dropped.append({"utterance_id": u, "reason": "no face MoCap (not the marker wearer, "
                            "or the dialog has none)" if visual else "no features"})
    idx = np.flatnonzero(np.isin(corpus.utterance_id, have))
    sub = corpus.subset(idx)
    x = np.concatenate([np.stack([b[0][u] for u in sub.utterance_id]) for b in blocks], 1)
    names = tuple(n for b in blocks for n in b[1])
    info["kept"] = len(idx)
    info["dropped"] = sorted(d["utterance_id"] for d in dropped)
    info["features_sha256"] = hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()
    for rep in info["audio"].values():          # timings vary run to run: the report, not the record
        rep.pop("realtime_factor", None)
    params = {**sub.params, "front_end": info,
              "front_end_report": {"cache": str(cache), "dropped": dropped}}
    return dataclasses.replace(sub, features=x.astype(np.float32), feature_names=names,
                               params=params)
