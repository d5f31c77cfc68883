"""The audio front end end to end: wav files in the IEMOCAP layout -> features -> a speaker-
independent classifier, per feature set and per IEMOCAP label set.

  emojax reproduce frontend            # renders the embedded corpus (synthetic:scale=0.2) as audio
  emojax reproduce frontend:quick      # a tiny render (what the tests run)
  emojax reproduce frontend --corpus iemocap:PATH   # a user's IEMOCAP_full_release (or prepared dir)

Steps, each resumable in the workdir:

1. ``tree/``: `emojax.data.render.render_iemocap` writes the embedded corpus as an
   IEMOCAP_full_release tree (skipped for ``iemocap:PATH``);
2. ``prepared/``: `emojax.data.iemocap.prepare_iemocap` reads it back like the real thing
   (utterances.csv, integrity.json, folds.csv);
3. ``features/<set>/``: `emojax.features.extract.extract_corpus` for every set in ``sets``;
4. for each label set (``ang_hapexc_neu_sad``, ``ang_exc_neu_sad``; DESIGN.md "Label sets") and
   feature set: leave-one-session-out folds; functionals z-scored with training statistics; a
   linear SVM (balanced class weights, since UA is the metric) whose C is chosen on the fold's
   validation speakers (`iemocap.folds`: training speakers only), refitted on all training
   speakers; WA, UA, macro-F1 per fold. Chance UA is 1/4 (a constant prediction's UA).

Writes WORKDIR/results/table_frontend.{json,md} and run.json; the default run publishes them to
results/frontend/. This is a check that the rendered audio carries the emotion and that emojax hears
it, not a paper's table: there are no paper numbers.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from emojax.config import check

DESCRIPTION = ("the audio front end end to end: rendered IEMOCAP-layout audio -> prepare -> "
               "features -> speaker-independent SVM, UA per label set")
PAPER: dict = {}
SUMMARY = ("table_frontend.md",)
RECORD = "run.json"
LABEL_SETS = ("ang_hapexc_neu_sad", "ang_exc_neu_sad")


@dataclasses.dataclass(frozen=True)
class Config:
    corpus: str = "synthetic:scale=0.2"       # ~2,100 utterances, ~2.3 h of audio when rendered
    sets: tuple[str, ...] = ("woellmer2012", "mirsamadi2017", "chernykh2018")
    label_sets: tuple[str, ...] = LABEL_SETS
    grid: tuple[float, ...] = (0.001, 0.01, 0.1)   # C of the linear SVM, chosen on validation UA
    max_folds: int | None = None
    workers: int | None = None
    seed: int = 0

    def __post_init__(self):
        from emojax.features.sets import SETS
        for s in self.sets:
            check("sets", s, choices=tuple(SETS))
        for s in self.label_sets:
            check("label_sets", s, choices=LABEL_SETS)
        if not self.grid or any(c <= 0 for c in self.grid):
            raise ValueError(f"setting 'grid': {self.grid} must be positive values of C")
        if self.max_folds is not None:
            check("max_folds", self.max_folds, at_least=1)


QUICK = {"corpus": "synthetic:scale=0.04", "sets": ["chernykh2018"], "max_folds": 2,
         "grid": [0.01]}


def _tree(cfg: Config, workdir: Path, progress: bool) -> tuple[Path, dict | None]:
    """The IEMOCAP-layout root to read, rendering the embedded corpus (with MoCap) when asked for."""
    from emojax.experiments.framelevel import audio_tree
    return audio_tree(cfg.corpus, workdir, workers=cfg.workers, progress=progress,
                      what="frontend", full=True)


def classify(corpus, x: np.ndarray, label_set: str, cfg: Config) -> list[dict]:
    """Per leave-one-session-out fold: scores of the SVM on `x` (rows = corpus utterances)."""
    from emojax.baselines import svm
    from emojax.data import iemocap
    from emojax.data.labels import iemocap_classes
    from emojax.features.normalise import zscore_apply, zscore_fit
    from emojax.train.metrics import scores
    classes = iemocap_classes(corpus.category, label_set)
    keep = np.array([c is not None for c in classes])
    names = sorted({c for c in classes[keep]})
    y = np.full(len(corpus), -1, np.int32)
    y[keep] = np.searchsorted(names, classes[keep].astype(str))
    folds = iemocap.folds(corpus)["session"]
    out = []
    for f in folds[:cfg.max_folds]:
        test = keep & np.isin(corpus.speaker, f["test_speakers"])
        val = keep & np.isin(corpus.speaker, f["validation_speakers"])
        train = keep & ~test & ~val
        mu, sd = zscore_fit(x[train | val])
        z = zscore_apply(x, mu, sd)
        pred, info = svm.fit_predict(z[train], y[train], z[val], y[val], z[test], grid=cfg.grid,
                                     seed=cfg.seed, select="ua", class_weight="balanced")
        s = scores(y[test], pred, len(names))
        out.append({**s, **info, "fold": f["fold"], "test": f["test"], "n_test": int(test.sum()),
                    "n_train": int(train.sum()), "classes": names})
    return out


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False) -> dict:
    from emojax.data import iemocap
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, write_atomic
    from emojax.features import extract
    from emojax.features.pipeline import _read_functionals
    t0 = time.time()
    with open_workdir(workdir, fresh=fresh) as wd:
        root, rendered = _tree(cfg, wd.path, progress)
        prepared = wd.path / "prepared"
        iemocap.prepare_iemocap(root, prepared, progress=progress)
        integrity = json.loads((prepared / "integrity.json").read_text())
        corpus = iemocap.load_prepared(prepared)
        records, extraction = [], {}
        for name in cfg.sets:
            rep = extract.extract_corpus(corpus, name, wd.path / "features" / name,
                                         workers=cfg.workers, progress=progress)
            extraction[name] = {k: rep.get(k) for k in ("info", "rate", "extracted", "computed",
                                                         "skipped", "skipped_reasons", "audio_seconds",
                                                         "wall_seconds", "realtime_factor")}
            values, fnames = _read_functionals(Path(rep["functionals"]))
            have = np.isin(corpus.utterance_id, list(values))
            sub = corpus.subset(np.flatnonzero(have))
            x = np.stack([values[u] for u in sub.utterance_id]).astype(np.float64)
            for ls in cfg.label_sets:
                folds = classify(sub, x, ls, cfg)
                for metric in ("ua", "wa", "f1"):
                    v = [f[metric] for f in folds]
                    records.append({"task": "emotion4", "classifier": "svm", "metric": metric,
                                    "features": name, "label_set": ls, "protocol": "leave_one_session_out",
                                    "mean": float(np.mean(v)),
                                    "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                                    "folds": v, "chance": 0.25 if metric == "ua" else None})
                records[-3]["fold_details"] = folds
        meta = R.run_meta(
            "frontend", cfg, corpus, wall_s=time.time() - t0,
            rendered={k: v for k, v in (rendered or {}).items()
                      if not isinstance(v, (list, dict)) or k == "codes"},
            integrity={k: integrity.get(k) for k in ("ok", "found", "documented", "differences",
                                                     "odd_counts")},
            extraction=extraction)
        doc = {"meta": meta, "records": records, "paper": []}
        res = wd.path / "results"
        res.mkdir(exist_ok=True)
        write_atomic(res / "table_frontend.json", json.dumps(doc, indent=2, default=str) + "\n")
        write_atomic(res / "table_frontend.md", to_markdown(doc))
        write_atomic(res / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
        if publish is not None:
            publish.mkdir(parents=True, exist_ok=True)
            for f in ("table_frontend.json", "table_frontend.md", "run.json"):
                write_atomic(publish / f, (res / f).read_text())
    return doc


def to_markdown(doc: dict) -> str:
    m = doc["meta"]
    lines = ["# The audio front end end to end", "",
             f"Corpus `{m['config']['corpus']}`: rendered audio in the IEMOCAP layout, read back by `emojax "
             "prepare iemocap`; leave-one-session-out; linear SVM on z-scored functionals, C chosen "
             "on validation UA (training speakers only). Mean ± std over folds, %. Chance UA = 25 %.",
             "", "| features | label set | UA | WA | F1 | real-time factor |", "|---|---|---|---|---|---|"]
    by = {}
    for r in doc["records"]:
        by.setdefault((r["features"], r["label_set"]), {})[r["metric"]] = r
    for (feat, ls), d in by.items():
        rtf = m["extraction"][feat].get("realtime_factor")
        cell = lambda k: f"{100 * d[k]['mean']:.1f} ± {100 * d[k]['std']:.1f}"  # noqa: E731
        lines.append(f"| {feat} | {ls} | {cell('ua')} | {cell('wa')} | {cell('f1')} | "
                     + (f"{rtf:.0f}x |" if rtf else "cached |"))
    found = m["integrity"].get("found") or {}
    lines += ["", f"Utterances: {found.get('utterances')}; label sets: {found.get('label_sets')}."]
    return "\n".join(lines) + "\n"


def readme_section(results: Path) -> list[str]:
    """README lines from results/frontend/: the classifier table and the front end's speed."""
    base = Path(results) / "frontend"
    lines = []
    table = base / "table_frontend.json"
    if table.is_file():
        doc = json.loads(table.read_text())
        md = to_markdown(doc).splitlines()
        lines += ["### The audio front end end to end (`emojax reproduce frontend`)", "",
                  *md[2:], f"Full run: {doc['meta']['wall_s'] / 60:.1f} min.", ""]
    speed = sorted(base.glob("features-*.json"))
    for path in speed:
        from emojax.bench.features import to_markdown as bench_md
        md = bench_md(json.loads(path.read_text())).splitlines()
        lines += [f"### Feature extraction speed (`emojax bench --suite features --out results/frontend`)",
                  "", *md[2:], ""]
    return lines
