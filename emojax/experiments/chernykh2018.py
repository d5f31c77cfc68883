"""Chernykh & Prikhodko 2018, Table 1: dummy, frame-wise forest, one-label BLSTM and CTC BLSTM on
34 pyAudioAnalysis short-term features; best-path vs beam decoding; Table 2 and Fig. 6b (the
model's errors against the evaluators' dissent).

  emojax reproduce chernykh2018          # the embedded corpus rendered as audio (synthetic:scale=0.2)
  emojax reproduce chernykh2018:quick    # a tiny render, the same code path (what the tests run)
  emojax reproduce chernykh2018 --corpus iemocap:PATH    # a user's IEMOCAP_full_release

Writes WORKDIR/results/table1.{json,md}, table2.md + errors.json, fig4_posteriors.png,
fig6_confusion.png, fig6b_dissent.png and run.json; the full default run publishes them to
results/chernykh2018/.

Protocol (emojax's; the paper's is stated beside it):
- labels ``ang_exc_neu_sad`` (the paper's four classes: 4,936 IEMOCAP utterances; its dummy WA of
  35 % is the neutral share);
- 5-fold leave-one-session-out (the paper's "grouped cross-validation" by speaker pair); 10-fold
  leave-one-speaker-out with ``protocol=speaker``; the seed code split speakers at random and chose
  epochs on the test folds — here early stopping and the forest's depth are chosen on a
  validation speaker carved from the training sessions (`emojax.data.iemocap.folds`);
- features: the ``chernykh2018`` set (pyAudioAnalysis' 34 short-term features, 200 ms windows,
  100 ms hop, `emojax.features.pyaa` in ``compat`` mode), z-scored with the training speakers'
  frame statistics; every utterance padded or truncated to 78 frames, lengths kept
  (``model.keep_length=false``: the paper's one-label model, which read the padding);
- models (`emojax.models.chernykh`): two BLSTM layers of 128 per direction (the paper's figures give
  no widths), Adam (lr 1e-3, as the paper), batches of 32, early stopping on the validation loss;
  CTC blank last (Keras, as the paper) and `emojax.train.losses.ctc` with infeasible alignments
  zeroed; a CTC decode becomes one class by `emojax.nn.decoding.decode_to_class`: of the decoded
  labels, the one with the largest summed frame posterior; an empty decode falls back to the class
  with the largest summed frame posterior;
- frame-wise baseline (`emojax.baselines.forest`): the two loudest frames (frame energy, i.e.
  spectral power by Parseval) of each training utterance carry its label; a random forest labels
  every frame; majority vote;
- Table 2 / Fig. 6b read the categorical votes: a dissenting evaluator is a non-self evaluator
  whose labels do not contain the utterance's final label.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from pathlib import Path

import numpy as np

from emojax.config import check
from emojax.models.chernykh import ModelConfig
from emojax.train.fit import TrainConfig

DESCRIPTION = ("Chernykh & Prikhodko 2018, Table 1: dummy / frame-wise forest / one-label / CTC "
               "BLSTM on 34 frame features; best-path vs beam decoding; errors vs evaluator dissent")
LABEL_SETS = ("ang_exc_neu_sad", "ang_hapexc_neu_sad")
CLASSIFIERS = ("dummy", "framewise_rf", "one_label", "ctc")
CLASSIFIER_NAMES = {"dummy": "Dummy", "framewise_rf": "Frame-wise (forest)",
                    "one_label": "One-label", "ctc": "CTC"}
DECODERS = ("best_path", "beam")
# Chernykh & Prikhodko 2018, Table 1 (overall accuracy = WA, mean class accuracy = UA), and
# Table 2 (residual accuracy), copied once; fractions.
PAPER_TABLE_1 = {"dummy": (0.35, 0.25), "framewise_rf": (0.45, 0.41), "one_label": (0.51, 0.49),
                 "ctc": (0.54, 0.54), "human": (0.69, 0.70)}
PAPER_TABLE_2 = {"considered_ratio": {"ang": 0.17, "exc": 0.22, "neu": 0.36, "sad": 0.39},
                 "model_accuracy": {"ang": 0.51, "exc": 0.73, "neu": 0.71, "sad": 0.74}}
PAPER = {"table1": PAPER_TABLE_1, "table2": PAPER_TABLE_2}
SUMMARY = ("table1.md", "table2.md")
CONTEXT_UTTERANCES = 20        # test utterances of the first fold whose frame context is measured
RECORD = "run.json"
SET = "chernykh2018"


@dataclasses.dataclass(frozen=True)
class Config:
    corpus: str = "synthetic:scale=0.2"        # rendered as audio: ~2,100 utterances, ~2.2 h
    label_set: str = "ang_exc_neu_sad"         # the paper's four classes
    protocol: str = "session"                  # 5-fold leave-one-session-out; "speaker": 10-fold
    classifiers: tuple[str, ...] = CLASSIFIERS
    decoders: tuple[str, ...] = DECODERS
    beam: int = 8                              # prefix beam search width (the paper states none)
    model: ModelConfig = ModelConfig()
    # the paper: Adam; batch size, epochs and stopping are ours (early stopping on validation loss)
    train: TrainConfig = TrainConfig(batch_size=32, lr=1e-3, max_epochs=60, patience=8, l2=0.0)
    forest_trees: int = 100
    forest_depths: tuple[int, ...] = (0, 8)    # chosen on validation UA; 0 = unlimited
    max_folds: int | None = None
    workers: int | None = None
    examples: int = 4                          # test utterances of fold 0 drawn in Fig. 4
    seed: int = 0

    def __post_init__(self):
        check("label_set", self.label_set, choices=LABEL_SETS)
        from emojax.experiments.framelevel import PROTOCOLS
        check("protocol", self.protocol, choices=PROTOCOLS)
        if not self.classifiers:
            raise ValueError("setting 'classifiers': give at least one")
        for c in self.classifiers:
            check("classifiers", c, choices=CLASSIFIERS)
        for d in self.decoders:
            check("decoders", d, choices=DECODERS)
        check("beam", self.beam, at_least=1)
        check("forest_trees", self.forest_trees, at_least=1)
        for d in self.forest_depths:
            check("forest_depths", d, at_least=0)
        if self.max_folds is not None:
            check("max_folds", self.max_folds, at_least=1)
        check("examples", self.examples, at_least=0)


QUICK = {"corpus": "synthetic:scale=0.04", "max_folds": 2, "model": {"hidden": 16},
         "train": {"max_epochs": 3, "patience": 1}, "forest_trees": 10, "forest_depths": [8],
         "beam": 4, "examples": 2}


# ----------------------------------------------------------------------------- one fold
@functools.lru_cache(maxsize=None)
def ctc_loss_fn(blank: int):
    """`emojax.train.losses.ctc` with a fixed blank (one function per blank: steps compile once)."""
    from emojax.train.losses import ctc

    def loss(logits, batch):
        return ctc(logits, batch, blank=blank, zero_infinity=True)
    return loss


def prepare_fold(fc, idx, y, part: dict, cfg: Config) -> dict:
    """The fold's frames z-scored with its training speakers' frame statistics (train + validation)."""
    from emojax.features import normalise
    corpus = fc.corpus
    frames = [fc.frames[SET][i] for i in idx]
    fit_rows = part["train"][idx] | part["val"][idx]
    stats = normalise.fit("global", frames, corpus.speaker[idx], train_mask=fit_rows)
    z = normalise.apply(stats, frames, corpus.speaker[idx])
    where = {p: np.flatnonzero(part[m][idx]) for p, m in
             (("train", "train"), ("val", "val"), ("test", "test_mask"))}
    return {"z": z, "raw": frames, "y": y, "where": where}


def _items(prep, which: str, cfg: Config, head: str) -> list[dict]:
    from emojax.models.chernykh import fix_length
    keep = cfg.model.keep_length or head == "ctc"      # CTC always keeps the real length (Fig. 9)
    out = []
    for j in prep["where"][which]:
        x = fix_length(prep["z"][j], cfg.model.frames, keep)
        out.append({"x": x, "labels": np.array([prep["y"][j]])} if head == "ctc"
                   else {"x": x, "y_seq": prep["y"][j]})
    return out


def _seed(cfg: Config, fold: int, clf: str) -> int:
    return cfg.seed * 7919 + fold * 31 + CLASSIFIERS.index(clf)


def run_fold(fc, idx, y, names, part: dict, cfg: Config, classifiers, ckpt_dir: Path | None,
             progress=None, prep: dict | None = None):
    """Yield ``(classifier, record)`` for each of `classifiers` of one fold as it is done (`prep`:
    the fold's normalised frames, `prepare_fold`, when the caller keeps them between models)."""
    import jax

    from emojax.experiments.framelevel import fold_base, predict, score, train
    from emojax.models import chernykh as model
    from emojax.nn import decoding
    from emojax.train.checkpoint import save_params
    from emojax.train.losses import seq_cross_entropy
    K = len(names)
    prep = prep or prepare_fold(fc, idx, y, part, cfg)
    test = prep["where"]["test"]
    y_test = y[test]
    base = fold_base(part, prep["where"], fc.corpus, idx, y, names)
    width = fc.frames[SET][0].shape[1]
    rng = np.random.default_rng(cfg.seed + part["fold"])
    examples = sorted(rng.choice(test.size, min(cfg.examples, test.size), replace=False).tolist())
    for clf in classifiers:
        t0 = time.time()
        rec = {**base, "classifier": clf}
        if clf == "dummy":
            from emojax.baselines import majority
            pred = majority.fit_predict(y[prep["where"]["train"]], test.size)
            rec.update(score(y_test, pred, K), pred=pred.tolist())
        elif clf == "framewise_rf":
            from emojax.baselines import forest
            e = fc.names[SET].index("energy")
            pick = lambda w: [prep["raw"][j] for j in prep["where"][w]]  # noqa: E731
            loud = lambda w: [prep["raw"][j][:, e] for j in prep["where"][w]]  # noqa: E731
            pred, probs, info = forest.fit_predict_select(
                pick("train"), loud("train"), y[prep["where"]["train"]], pick("test"),
                pick("val"), loud("val"), y[prep["where"]["val"]],
                grid=tuple({"max_depth": d or None} for d in cfg.forest_depths),
                n_estimators=cfg.forest_trees, seed=_seed(cfg, part["fold"], clf), select="ua")
            rec.update(score(y_test, pred, K), pred=np.asarray(pred).tolist(), info=info,
                       examples={str(i): np.asarray(probs[i]).round(4).tolist() for i in examples})
        else:
            head = "ctc" if clf == "ctc" else "one_label"
            seed = _seed(cfg, part["fold"], clf)
            init = model.init_from(cfg.model, jax.random.PRNGKey(seed), width, K, head)
            if head == "ctc":
                blank = model.blank_index(cfg.model, K)
                apply, loss = model.apply_ctc, ctc_loss_fn(blank)
            else:
                apply, loss = model.apply_one_label, seq_cross_entropy
            params, info = train(apply, loss, init, cfg.train, _items(prep, "train", cfg, head),
                                 _items(prep, "val", cfg, head), width, seed, progress)
            outputs = predict(apply, loss, cfg.train, params, _items(prep, "test", cfg, head), width)
            info = {k: v for k, v in info.items() if k != "history"}
            if head == "one_label":
                pred = np.array([int(np.argmax(o)) for o in outputs])
                rec.update(score(y_test, pred, K), pred=pred.tolist(), info=info)
            else:
                rec.update(info=info, decoders={})
                logits = [np.asarray(o) for o in outputs]
                T = max(len(lg) for lg in logits)
                L = np.stack([np.pad(lg, ((0, T - len(lg)), (0, 0))) for lg in logits])
                M = np.arange(T)[None] < np.array([len(lg) for lg in logits])[:, None]
                post = np.asarray(decoding.label_posteriors(L, M, blank=blank))     # (N, K)
                for dec in cfg.decoders:
                    if dec == "best_path":
                        labs = np.asarray(decoding.best_path(L, M, blank=blank)[0])
                    else:
                        labs = decoding.beam_search_batch(L, M, beam=cfg.beam, blank=blank)
                    labs = [np.asarray(lab)[np.asarray(lab) >= 0] for lab in labs]
                    pred = np.array([decoding.decode_to_class(lab, p, blank=blank)
                                     for lab, p in zip(labs, post)])
                    rec["decoders"][dec] = {**score(y_test, pred, K), "pred": pred.tolist(),
                                            "empty": int(sum(lab.size == 0 for lab in labs)),
                                            "multiple": int(sum(len(set(lab.tolist())) > 1
                                                                for lab in labs))}
                first = cfg.decoders[0] if cfg.decoders else None
                if first:
                    rec.update({k: rec["decoders"][first][k] for k in
                                ("ua", "wa", "f1", "confusion", "pred")})
                sm = lambda a: np.exp(a - a.max(-1, keepdims=True))  # noqa: E731
                rec["examples"] = {str(i): (sm(logits[i]) / sm(logits[i]).sum(-1, keepdims=True)
                                            ).round(4).tolist() for i in examples}
                rec["blank"] = blank
            if ckpt_dir is not None:
                name = f"fold{part['fold']:02d}_{clf}"
                save_params(ckpt_dir / name, params)
                rec["checkpoints"] = [name]
        rec["seconds"] = round(time.time() - t0, 2)
        yield clf, rec


# ----------------------------------------------------------------------------- the experiment
def piece_settings(cfg: Config, fc) -> dict:
    c = dataclasses.asdict(cfg)
    for k in ("classifiers", "max_folds", "workers", "examples", "corpus"):
        c.pop(k)
    content = {k: v for k, v in fc.corpus.params.items()
               if k not in ("path", "root", "prepared", "front_end_report")}
    return {"experiment": "chernykh2018", "config": c, "corpus": content,
            "features": fc.extraction[SET]["info"], "n_utterances": len(fc.corpus)}


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False) -> dict:
    from emojax.experiments import framelevel as FL
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    t0 = time.time()
    with open_workdir(workdir, fresh=fresh) as wd:
        fc = FL.frame_corpus(cfg.corpus, wd.path, (SET,), workers=cfg.workers, progress=progress,
                             what="chernykh2018")
        idx, y, names = FL.labelled(fc.corpus, cfg.label_set)
        parts = FL.fold_parts(fc.corpus, cfg.protocol, cfg.max_folds)
        base = piece_settings(cfg, fc)
        pieces = {f"fold{p['fold']:02d}_{c}": {**base, "fold": p["fold"], "classifier": c}
                  for p in parts for c in cfg.classifiers}

        preps: dict[int, dict] = {}            # one fold's normalised frames, kept between its models

        def compute(keys, bar):                # one model: its piece is saved as soon as it is done
            fold = int(keys[0][4:6])
            part = next(p for p in parts if p["fold"] == fold)
            if fold not in preps:
                preps.clear()
                preps[fold] = prepare_fold(fc, idx, y, part, cfg)
            for clf, rec in run_fold(fc, idx, y, names, part, cfg, [k.split("_", 1)[1] for k in keys],
                                     wd.checkpoints, bar, prep=preps[fold]):
                yield f"fold{fold:02d}_{clf}", rec

        records, stats = run_pieces(wd, pieces, compute, desc="chernykh2018", unit="model",
                                    progress=progress)
        shutil.rmtree(wd.results, ignore_errors=True)
        wd.results.mkdir()
        folds = list(records.values())
        timing = {c: round(float(np.mean([r["seconds"] for r in folds if r["classifier"] == c])), 1)
                  for c in cfg.classifiers}
        meta = R.run_meta("chernykh2018", cfg, fc.corpus, wall_s=time.time() - t0, pieces=stats,
                          label_set=cfg.label_set, classes=names, n_labelled=int(idx.size),
                          protocol=FL.PROTOCOL_NAMES[cfg.protocol], seconds_per_fold=timing,
                          extraction=fc.extraction,
                          integrity={k: fc.integrity.get(k) for k in ("ok", "found", "documented")})
        # a rerun that reuses finished models: their compute seconds from the runs that made them
        meta["wall_s_total"] = round(meta["wall_s"] + stats["reused_s"], 1)
        meta["frame_context"] = frame_context(wd, folds, fc, idx, y, names, parts, cfg)
        doc = write_tables(wd.results, folds, meta, cfg, fc, idx, y, names)
        if publish is not None:
            R.publish(wd.results, publish)
    return doc


def frame_context(wd, folds, fc, idx, y, names, parts, cfg: Config) -> dict:
    """Beyond the paper: the CTC model's frame context (`emojax.experiments.frame_context`) on the
    first fold's test utterances, from its checkpoint; {} without a CTC model."""
    import jax

    from emojax.experiments.frame_context import ctc_context
    from emojax.models import chernykh as model
    from emojax.models.chernykh import fix_length
    from emojax.train.checkpoint import load_params
    rec = next((r for r in folds if r["classifier"] == "ctc" and r.get("checkpoints")), None)
    if rec is None:
        return {}
    like = model.init_from(cfg.model, jax.random.PRNGKey(0), fc.frames[SET][0].shape[1],
                           len(names), "ctc")
    params = load_params(wd.checkpoint(rec["checkpoints"][0]), like)
    part = next(p for p in parts if p["fold"] == rec["fold"])
    prep = prepare_fold(fc, idx, y, part, cfg)
    test = prep["where"]["test"][:CONTEXT_UTTERANCES]
    xs = [fix_length(prep["z"][j], cfg.model.frames) for j in test]
    hop = fc.extraction[SET].get("rate") and 1.0 / fc.extraction[SET]["rate"]
    out = ctc_context(model.apply_ctc, params, xs, hop_s=hop, length=cfg.model.frames)
    return {"model": "ctc", "fold": rec["fold"], "utterances": len(xs), "hop_s": hop,
            "mean_frames": round(float(np.mean([len(x) for x in xs])), 1),
            "thetas": {str(k): v for k, v in out.items()}}


def table1_records(folds: list[dict], cfg: Config) -> list[dict]:
    from emojax.experiments import framelevel as FL
    common = {"task": "emotion4", "features": SET, "label_set": cfg.label_set,
              "protocol": FL.PROTOCOL_NAMES[cfg.protocol]}
    recs = FL.summarise([r for r in folds if r["classifier"] != "ctc"], ("classifier",), **common)
    ctc = [r for r in folds if r["classifier"] == "ctc"]
    for dec in cfg.decoders if ctc else ():
        rows = [{**r["decoders"][dec], "fold": r["fold"]} for r in ctc]
        recs += [{"classifier": "ctc", "decoder": dec, **x}
                 for x in FL.summarise(rows, (), **common)]
    return recs


def paper_records() -> list[dict]:
    out = []
    for clf, (wa, ua) in PAPER_TABLE_1.items():
        for m, v in (("wa", wa), ("ua", ua)):
            out.append({"task": "emotion4", "classifier": clf, "metric": m, "mean": v,
                        "folds": [], "label_set": "ang_exc_neu_sad", "source": "paper"})
    return out


def dissent(corpus, idx, names) -> tuple[np.ndarray, list[list[str]]]:
    """Per labelled utterance: the number of dissenting (non-self) evaluators and their answers as
    class names of the label set (answers outside it dropped; None when the votes are unknown)."""
    from emojax.data.labels import IEMOCAP_LABEL_SETS
    votes = corpus.extras.get("votes")
    n = np.full(idx.size, -1)
    answers: list[list[str]] = [[] for _ in idx]
    if votes is None:
        return n, answers
    for row, i in enumerate(idx):
        try:
            cat = json.loads(str(votes[i]) or "{}").get("categorical", [])
        except json.JSONDecodeError:
            continue
        final = str(corpus.category[i])
        raters = [c for c in cat if not c.get("self")]
        if not raters:
            continue
        codes = [[str(lab).strip()[:3].lower() for lab in c.get("labels", [])] for c in raters]
        dissenters = [cs for cs in codes if final not in cs]
        n[row] = len(dissenters)
        mapping = next(m for k, m in IEMOCAP_LABEL_SETS.items() if set(m.values()) >= set(names))
        answers[row] = [mapping[c[0]] for c in dissenters if c and c[0] in mapping]
    return n, answers


def error_structure(folds: list[dict], fc, idx, y, names) -> dict:
    """Table 2 (residual accuracy) and Fig. 6b (error by class and number of dissenting evaluators)
    of the CTC model (first decoder), from the votes; empty when the corpus has no votes."""
    ctc = [r for r in folds if r["classifier"] == "ctc"]
    if not ctc:
        return {}
    n_dis, answers = dissent(fc.corpus, idx, names)
    row_of = {u: j for j, u in enumerate(fc.corpus.utterance_id[idx])}
    considered, coincide = {c: [0, 0] for c in names}, {c: [0, 0] for c in names}
    grid: dict[tuple[str, int], list[int]] = {}
    for r in ctc:
        for u, t, p in zip(r["utterance_id"], r["truth"], r["pred"]):
            j = row_of[u]
            if n_dis[j] < 0:
                continue
            c = names[t]
            cell = grid.setdefault((c, int(n_dis[j])), [0, 0])
            cell[0] += int(p != t)
            cell[1] += 1
            if n_dis[j] > 0:
                considered[c][1] += int(n_dis[j])
                considered[c][0] += len(answers[j])
                if p != t and answers[j]:
                    coincide[c][1] += 1
                    coincide[c][0] += int(names[p] in answers[j])
    share = lambda a: round(a[0] / a[1], 4) if a[1] else None  # noqa: E731
    return {"considered_ratio": {c: share(v) for c, v in considered.items()},
            "model_accuracy": {c: share(v) for c, v in coincide.items()},
            "n_errors_with_dissent": {c: v[1] for c, v in coincide.items()},
            "chance": round(1 / (len(names) - 1), 4),
            "error_by_dissent": [{"class": c, "dissenting": k, "error": round(e / n, 4), "n": n}
                                 for (c, k), (e, n) in sorted(grid.items())]}


def write_tables(res: Path, folds: list[dict], meta: dict, cfg: Config, fc, idx, y, names) -> dict:
    from emojax.experiments import framelevel as FL
    from emojax.experiments import results as R
    from emojax.experiments.runner import write_atomic
    recs = table1_records(folds, cfg)
    conf = {c: FL.pooled_confusion([r for r in folds if r["classifier"] == c])
            for c in cfg.classifiers}
    ctc = {"classifier": "ctc", "decoder": cfg.decoders[0]} if cfg.decoders else None
    pairs = [(ctc, {"classifier": "framewise_rf"}), (ctc, {"classifier": "one_label"}),
             ({"classifier": "one_label"}, {"classifier": "framewise_rf"}),
             ({"classifier": "framewise_rf"}, {"classifier": "dummy"})]
    tests = FL.paired(recs, [(a, b) for a, b in pairs if a is not None])
    doc = {"meta": meta, "records": recs, "paper": paper_records(), "confusion": conf,
           "tests": tests}
    write_atomic(res / "table1.json", R.records_json(meta, recs, paper=doc["paper"],
                                                     confusion=conf, tests=tests))
    write_atomic(res / "table1.md", table1_markdown(doc, cfg))
    es = error_structure(folds, fc, idx, y, names)
    if es:
        write_atomic(res / "errors.json", json.dumps({"meta": {"experiment": "chernykh2018"},
                                                      "ours": es, "paper": PAPER_TABLE_2}, indent=1))
        write_atomic(res / "table2.md", table2_markdown(es))
    write_atomic(res / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
    try:
        figures(res, folds, conf, es, names, cfg)
    except ImportError:                                   # matplotlib missing: tables only
        pass
    return doc


def _cell(r) -> str:
    return f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}"


def table1_markdown(doc: dict, cfg: Config) -> str:
    from emojax.experiments import framelevel as FL
    from emojax.experiments import results as R
    m = doc["meta"]
    by = {(r["classifier"], r.get("decoder"), r["metric"]): r for r in doc["records"]}
    lines = ["# Chernykh & Prikhodko 2018, Table 1", "",
             f"Corpus `{m['config']['corpus']}`, label set `{cfg.label_set}` ({m['n_labelled']} "
             f"utterances, classes {', '.join(m['classes'])}), {m['protocol']} "
             f"({len(doc['records'][0]['folds'])} folds); mean ± std over folds, %. Paper: "
             "IEMOCAP, 5-fold grouped by speaker pair.", "",
             "| method | decoder | WA | UA | F1 | paper WA | paper UA |", "|---|---|---|---|---|---|---|"]
    for clf in cfg.classifiers:
        decs = [d for d in cfg.decoders] if clf == "ctc" else [None]
        for d in decs:
            if (clf, d, "ua") not in by:
                continue
            pw, pu = PAPER_TABLE_1[clf]
            lines.append(f"| {CLASSIFIER_NAMES[clf]} | {d or '—'} | {_cell(by[clf, d, 'wa'])} | "
                         f"{_cell(by[clf, d, 'ua'])} | {_cell(by[clf, d, 'f1'])} | {100 * pw:.0f} | "
                         f"{100 * pu:.0f} |")
    pw, pu = PAPER_TABLE_1["human"]
    lines.append(f"| Human (the paper's listeners) | — | — | — | — | {100 * pw:.0f} | {100 * pu:.0f} |")
    if doc.get("tests"):
        lines += ["", "Paired over folds:", *FL.tests_markdown(doc["tests"])]
    fc = m.get("frame_context") or {}
    th = (fc.get("thetas") or {}).get("0.03")
    if th:
        lines += ["", f"Beyond the paper: at θ = 3 % the CTC model's frame outputs depend on "
                  f"{th['past']:.1f} past and {th['future']:.1f} future frames ({th['past_ms']:.0f} / "
                  f"{th['future_ms']:.0f} ms; mean over the valid frames of {fc['utterances']} test "
                  f"utterances of fold {fc['fold']}, {fc['mean_frames']} frames long on average)."]
    lines += ["", f"Full run: {R.run_minutes(m)}; mean seconds per fold and model: "
              + ", ".join(f"{k} {v}" for k, v in m["seconds_per_fold"].items()) + "."]
    return "\n".join(lines) + "\n"


def table2_markdown(es: dict) -> str:
    names = list(es["considered_ratio"])
    pct = lambda v: "—" if v is None else f"{100 * v:.0f} %"  # noqa: E731
    lines = ["# Chernykh & Prikhodko 2018, Table 2: residual accuracy of the CTC model", "",
             "Considered ratio: the share of dissenting evaluators' answers that fall in the four "
             "classes. Model accuracy: among the CTC model's errors on utterances with such an "
             f"answer, how often it names that answer (chance {pct(es['chance'])}).", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
             "| considered ratio (ours) | " + " | ".join(pct(es["considered_ratio"][c]) for c in names) + " |",
             "| model accuracy (ours) | " + " | ".join(pct(es["model_accuracy"][c]) for c in names) + " |",
             "| errors with a dissenting answer | " + " | ".join(str(es["n_errors_with_dissent"][c]) for c in names) + " |"]
    paper_names = {"ang": "ang", "exc": "exc", "hapexc": "exc", "neu": "neu", "sad": "sad"}
    for row in ("considered_ratio", "model_accuracy"):
        lines.append(f"| {row.replace('_', ' ')} (paper) | " + " | ".join(
            pct(PAPER_TABLE_2[row].get(paper_names.get(c, c))) for c in names) + " |")
    return "\n".join(lines) + "\n"


def figures(res: Path, folds, conf, es, names, cfg: Config) -> None:
    from emojax.analysis import plots
    plt = plots._plt()
    if "ctc" in conf:
        plots.confusion_matrix(np.asarray(conf["ctc"]), names, res / "fig6_confusion.png",
                               title="CTC (first decoder), all folds")
    if es.get("error_by_dissent"):
        ks = sorted({e["dissenting"] for e in es["error_by_dissent"]})
        M = np.full((len(names), len(ks)), np.nan)
        for e in es["error_by_dissent"]:
            M[names.index(e["class"]), ks.index(e["dissenting"])] = e["error"]
        fig, ax = plt.subplots(figsize=(1.2 * len(ks) + 2, 3))
        im = ax.imshow(M, cmap="Reds", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(M):
            if np.isfinite(v):
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center")
        ax.set(xticks=range(len(ks)), xticklabels=ks, yticks=range(len(names)), yticklabels=names,
               xlabel="dissenting evaluators", title="CTC error, %")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(res / "fig6b_dissent.png", dpi=110)
        plt.close(fig)
    ctc = next((r for r in folds if r["classifier"] == "ctc" and r["fold"] == folds[0]["fold"]), None)
    rf = next((r for r in folds if r["classifier"] == "framewise_rf" and r["fold"] == folds[0]["fold"]), None)
    if ctc is None or not ctc.get("examples"):
        return
    ex = list(ctc["examples"])
    fig, axes = plt.subplots(len(ex), 2, figsize=(11, 2.2 * len(ex)), squeeze=False)
    for row, i in enumerate(ex):
        truth = names[ctc["truth"][int(i)]]
        p = np.asarray(ctc["examples"][i])
        b = ctc["blank"]
        cls = [k for k in range(p.shape[1]) if k != b]
        for c, k in zip(names, cls):
            axes[row, 0].plot(p[:, k], label=c)
        axes[row, 0].plot(p[:, b], "k:", label="blank")
        axes[row, 0].set(ylim=(0, 1), ylabel=f"true: {truth}")
        if rf is not None and i in rf.get("examples", {}):
            q = np.asarray(rf["examples"][i])
            for c in range(q.shape[1]):
                axes[row, 1].plot(q[:, c], label=names[c])
            axes[row, 1].set(ylim=(0, 1))
    axes[0, 0].set_title("CTC frame posteriors")
    axes[0, 1].set_title("frame-wise forest posteriors")
    axes[0, 0].legend(fontsize=7, ncol=5)
    axes[-1, 0].set_xlabel("frame (100 ms hop)")
    axes[-1, 1].set_xlabel("frame (100 ms hop)")
    fig.tight_layout()
    fig.savefig(res / "fig4_posteriors.png", dpi=110)
    plt.close(fig)


def readme_section(results: Path) -> list[str]:
    base = Path(results) / "chernykh2018"
    path = base / "table1.json"
    if not path.is_file():
        return []
    from emojax import config as C
    doc = json.loads(path.read_text())
    cfg = C.override(Config(), doc["meta"]["config"])
    md = table1_markdown(doc, cfg).splitlines()
    lines = ["### Chernykh & Prikhodko 2018 (`emojax reproduce chernykh2018`)", "", *md[2:], ""]
    t2 = base / "table2.md"
    if t2.is_file():
        md2 = t2.read_text().splitlines()
        lines += [f"**{md2[0][2:]}**", "", *md2[2:], ""]
    return lines
