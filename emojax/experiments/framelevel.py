"""What the frame-level experiments (Chernykh 2018, Mirsamadi 2017) share: audio -> frames ->
labelled, speaker-independent folds -> trained models -> scores.

- `audio_tree`: the IEMOCAP-layout root to read, rendering the embedded corpus when asked for;
- `frame_corpus`: ``prepare iemocap`` + `emojax.features.extract.extract_corpus` per feature set,
  every step resumable in the workdir; the corpus of utterances that have frames of every set;
- `labelled`: one IEMOCAP label set (DESIGN.md "Label sets"): the utterances it keeps and classes;
- `fold_parts`: the protocol's folds (``session``: 5-fold leave-one-session-out, the default;
  ``speaker``: 10-fold leave-one-speaker-out) with the validation speakers carved from the
  training speakers (`emojax.data.iemocap.folds`), as boolean masks;
- `train`: one model by the one engine (`emojax.train.fit.fit`), early-stopped on the validation
  speakers; `predict`: its outputs on items;
- `summarise`: per-fold scores -> tidy records (mean ± std over folds, ddof 1).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

PROTOCOLS = ("session", "speaker")
PROTOCOL_NAMES = {"session": "leave_one_session_out", "speaker": "leave_one_speaker_out"}


def audio_tree(spec: str, workdir: Path, *, workers: int | None = None, progress: bool = True,
               what: str = "this experiment", full: bool = False, mocap: bool = False
               ) -> tuple[Path, dict | None]:
    """(root of an IEMOCAP_full_release tree, render summary or None): ``iemocap:PATH`` is read
    as it is; ``synthetic[:k=v,...]`` is rendered as audio into ``workdir/tree`` (resumable), the
    sentence wavs and labels only: no MoCap, no dialog wavs (the same audio, measured identical
    file by file, in half the time and a tenth of the disk); ``mocap=True`` adds the sentence MoCap;
    ``full=True`` renders everything."""
    kind, _, rest = spec.partition(":")
    if kind == "iemocap":
        return Path(rest.split(",")[0]), None
    if kind != "synthetic":
        raise ValueError(f"{what}: corpus {spec!r} must be synthetic[:k=v,...] (rendered as "
                         "audio) or iemocap:PATH (a user's IEMOCAP_full_release or prepared folder)")
    from emojax.data import render, synthetic
    summary = render.render_iemocap(Path(workdir) / "tree", synthetic.parse_spec(rest),
                                    **({} if full else {"dialog_wavs": False} if mocap
                                       else {"dialog_wavs": False, "mocap_fps": 0}),
                                    workers=workers or 2, progress=progress)
    return Path(workdir) / "tree", summary


@dataclasses.dataclass
class FrameCorpus:
    """The prepared corpus (utterances with frames of every set) and each set's frames, aligned."""
    corpus: object
    frames: dict[str, list[np.ndarray]]
    names: dict[str, tuple[str, ...]]
    rates: dict[str, float]
    extraction: dict[str, dict]
    rendered: dict | None
    integrity: dict


def frame_corpus(spec: str, workdir: Path, sets, *, workers: int | None = None,
                 progress: bool = True, what: str = "this experiment", mocap: bool = False
                 ) -> FrameCorpus:
    import json

    from emojax.data import iemocap
    from emojax.features import extract
    workdir = Path(workdir)
    root, rendered = audio_tree(spec, workdir, workers=workers, progress=progress, what=what,
                                mocap=mocap)
    prepared = workdir / "prepared"
    if (root / "utterances.csv").is_file():           # already a prepared folder
        prepared = root
    else:
        iemocap.prepare_iemocap(root, prepared, progress=progress)
    integrity = json.loads((prepared / "integrity.json").read_text()) \
        if (prepared / "integrity.json").is_file() else {}
    corpus = iemocap.load_prepared(prepared)
    frames, names, rates, extraction = {}, {}, {}, {}
    for name in sets:
        out = workdir / "features" / name
        rep = extract.extract_corpus(corpus, name, out, workers=workers, functionals=False,
                                     progress=progress)
        extraction[name] = {k: rep.get(k) for k in ("info", "rate", "extracted", "computed",
                                                     "skipped", "skipped_reasons", "audio_seconds",
                                                     "wall_seconds", "realtime_factor")}
        frames[name] = extract.load_frames(out)
        names[name] = tuple(rep["names"])
        rates[name] = float(rep["rate"])
    have = np.array([all(u in frames[s] for s in sets) for u in corpus.utterance_id])
    corpus = corpus.subset(np.flatnonzero(have))
    aligned = {s: [frames[s][u] for u in corpus.utterance_id] for s in sets}
    return FrameCorpus(corpus, aligned, names, rates, extraction, rendered, integrity)


def labelled(corpus, label_set: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(indices of the utterances `label_set` keeps, their class indices, class names sorted)."""
    from emojax.data.labels import iemocap_classes
    classes = iemocap_classes(corpus.category, label_set)
    keep = np.flatnonzero([c is not None for c in classes])
    names = sorted({str(c) for c in classes[keep]})
    y = np.searchsorted(names, classes[keep].astype(str)).astype(np.int32)
    return keep, y, names


def fold_parts(corpus, protocol: str = "session", max_folds: int | None = None) -> list[dict]:
    """Per fold: ``fold``, ``test`` (session or speaker), speakers, and boolean masks over the
    corpus ``train`` (training speakers minus validation), ``val``, ``test_mask``."""
    from emojax.data import iemocap
    if protocol not in PROTOCOLS:
        raise ValueError(f"setting 'protocol': {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    out = []
    for f in iemocap.folds(corpus)[protocol][:max_folds]:
        test = np.isin(corpus.speaker, f["test_speakers"])
        val = np.isin(corpus.speaker, f["validation_speakers"])
        if not val.any():
            raise ValueError(f"fold {f['fold']} ({f['test']}): no validation speaker among the "
                             "training speakers; the corpus needs at least 3 speakers")
        out.append({**f, "train": ~test & ~val, "val": val, "test_mask": test})
    return out


def train(apply, loss_fn, init, cfg, train_items: list, val_items: list, width: int, seed: int,
          progress=None) -> tuple[dict, dict]:
    """One model trained by `emojax.train.fit.fit`, its best epoch chosen on `val_items`."""
    from emojax.train.fit import fit
    params, infos = fit(apply, loss_fn, [init], cfg, [train_items], [val_items], width, [seed],
                        progress=progress)
    return params[0], infos[0]


def predict(apply, loss_fn, cfg, params, items: list, width: int) -> list[np.ndarray]:
    """The model's outputs for each item (per step ones cut to the item's length)."""
    from emojax.train.fit import evaluate
    return evaluate(apply, loss_fn, cfg, params, [items], width)[1][0]


def fold_base(part: dict, where: dict, corpus, idx, y, names) -> dict:
    """What every record of a fold carries: the fold, its speakers and sizes, the test utterances
    and their true classes (`where`: positions in `idx` of the train / val / test utterances)."""
    test = where["test"]
    return {"fold": part["fold"], "test": part["test"], "val_speakers": part["validation_speakers"],
            "n_train": int(where["train"].size), "n_val": int(where["val"].size),
            "n_test": int(test.size), "classes": list(names),
            "utterance_id": corpus.utterance_id[idx][test].tolist(), "truth": y[test].tolist()}


def score(y_true, y_pred, n_classes: int) -> dict:
    """WA, UA, macro-F1 and the confusion matrix (rows: truth)."""
    from emojax.train.metrics import confusion, scores
    return {**scores(y_true, y_pred, n_classes),
            "confusion": confusion(y_true, y_pred, n_classes).tolist()}


def summarise(fold_records: list[dict], keys: tuple[str, ...], metrics=("ua", "wa", "f1"),
              **common) -> list[dict]:
    """One record per (values of `keys`, metric): mean ± std over the folds (ddof 1) and the
    fold values; `common` keys are added to every record."""
    from emojax.analysis.stats import mean_std
    groups: dict[tuple, list[dict]] = {}
    for r in fold_records:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for vals, rs in groups.items():
        rs = sorted(rs, key=lambda r: r["fold"])
        for m in metrics:
            folds = [float(r[m]) for r in rs]
            mean, std = mean_std(folds)
            out.append({**dict(zip(keys, vals)), "metric": m, "mean": mean, "std": std,
                        "folds": folds, "source": "ours", **common})
    return out


def pooled_confusion(fold_records: list[dict]) -> list[list[int]]:
    """The confusion matrices of the folds summed (rows: truth, columns: prediction)."""
    return np.sum([np.asarray(r["confusion"]) for r in fold_records], axis=0).tolist()


def paired(records: list[dict], pairs, metric: str = "ua", **keys) -> list[dict]:
    """Paired t-tests over folds (`emojax.analysis.stats.paired_test`) between summary records
    (`summarise`) of the same `metric`: each pair is two dicts of identifying keys, e.g.
    ``({"classifier": "ctc", "decoder": "best_path"}, {"classifier": "framewise_rf"})``."""
    from emojax.analysis.stats import paired_test

    def find(sel):
        hits = [r for r in records if r["metric"] == metric
                and all(r.get(k) == v for k, v in {**keys, **sel}.items())]
        return hits[0] if len(hits) == 1 else None
    out = []
    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra is None or rb is None or len(ra["folds"]) != len(rb["folds"]):
            continue
        name = lambda sel: "/".join(str(v) for v in sel.values())  # noqa: E731
        out.append({"task": ra["task"], "a": name(a), "b": name(b), "metric": metric, **keys,
                    **paired_test(ra["folds"], rb["folds"]),
                    "wins": int(sum(x > y for x, y in zip(ra["folds"], rb["folds"]))),
                    "folds": len(ra["folds"])})
    return out


def tests_markdown(tests: list[dict]) -> list[str]:
    """One line per paired test: ``a > b in w of n folds, t = .., p = ..``."""
    return [f"- {t['a']} vs {t['b']} ({t['metric'].upper()}"
            + "".join(f", {k} {t[k]}" for k in ("features",) if k in t)
            + f"): higher in {t['wins']} of {t['folds']} folds, paired t = {t['t']:.2f}, "
            f"p = {t['p']:.3f}" for t in tests]
