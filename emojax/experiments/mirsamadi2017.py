"""Mirsamadi et al. 2017, Tables 2 and 3: learned vs hand-crafted LLDs with fixed statistics (DNN vs
RBF SVM), and frame-wise / final-frame / mean-pool / attention BLSTMs on raw spectra and on LLDs;
Fig. 2 (attention weights over the waveform).

  emojax reproduce mirsamadi2017          # the embedded corpus rendered as audio (synthetic:scale=0.06)
  emojax reproduce mirsamadi2017:quick    # a tiny render, the same code path (what the tests run)
  emojax reproduce mirsamadi2017 --corpus iemocap:PATH    # a user's IEMOCAP_full_release

Writes WORKDIR/results/table2.{json,md}, table3.{json,md}, fig2_attention.png,
fig_confusion_attention.png and run.json (with the frame context); the full default run publishes them to
results/mirsamadi2017/.

Protocol:
- labels ``ang_hapexc_neu_sad``: the paper says "happy"; emojax reads it as happiness merged with
  excitement (5,531 IEMOCAP utterances), the common choice; ``label_set=ang_exc_neu_sad`` is the
  other reading;
- 5-fold leave-one-session-out ("four sessions for training, the remaining one for testing"); the
  paper reports one split and does not say how it chose epochs — here early stopping uses a
  validation speaker carved from the training sessions, and the SVM's (C, γ) too;
- features: ``spectral257`` (257 FFT magnitudes) and ``mirsamadi2017`` (F0, voicing probability,
  energy, ZCR, 12 MFCCs and their deltas: 32 LLDs), 25 ms windows at 100 frames/s, normalised by
  the mean and std of the *neutral* training frames (``normalisation=neutral_global``, the paper's
  sentence read literally; `emojax.features.normalise`);
- models (`emojax.models.mirsamadi`): two 512-unit ReLU layers learn LLDs from the raw spectra
  only; BLSTM 128 per direction; 50 % dropout; Adam (the paper names no optimiser), batches of 32
  sequences of similar length, early stopping on validation loss; cross-entropy without class
  weights (the paper weights only the SVM's costs);
- SVM: RBF kernel, class-balanced costs, on the same statistics of the LLDs as the DNN pools
  (mean; mean, min, max; full = mean, std, min, max, range, skewness, kurtosis: Table 2's footnote).

Size. The default run fits 30 minutes (26.2 measured) on this project's 2-core CPU VM as measured on 2026-12-02,
when its f32 matmul peak was ~120 GFLOP/s (a quarter of the 440 measured on 2026-11-23): the
corpus is smaller than the other experiments' (scale 0.06: 714 utterances, 390 of the four
classes), and Table 3 has the LLD rows only. ``--set features=[spectral,lld]`` adds the raw-spectrum
rows of Table 3 (each model ~3x an LLD model: ~90 more minutes on that machine), and
``--corpus synthetic:scale=0.2`` a corpus of the others' size.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np

from emojax.config import check
from emojax.train.fit import TrainConfig

DESCRIPTION = ("Mirsamadi et al. 2017, Tables 2-3: learned vs hand-crafted LLDs (DNN vs RBF SVM) "
               "and frame-wise / final-frame / mean / attention BLSTM pooling, WA/UA")
LABEL_SETS = ("ang_hapexc_neu_sad", "ang_exc_neu_sad")
FEATURES = {"spectral": "spectral257", "lld": "mirsamadi2017"}
STATS = ("mean", "mean_min_max", "full")
POOLINGS = ("framewise", "final_frame", "mean", "attention")
POOLING_NAMES = {"framewise": "RNN frame-wise", "final_frame": "RNN final frame",
                 "mean": "RNN mean pool", "attention": "RNN weighted pool with attention",
                 "attention_mlp": "RNN attention (MLP score)"}
STAT_NAMES = {"mean": "Mean", "mean_min_max": "Mean, Min, Max", "full": "Full"}
# Mirsamadi et al. 2017 (fractions, copied once). Table 2: (features, classifier, stats) -> (WA, UA);
# Table 3: (features, pooling) -> (WA, UA).
PAPER_TABLE_2 = {("spectral", "dnn", "mean"): (0.564, 0.534),
                 ("spectral", "dnn", "mean_min_max"): (0.593, 0.549),
                 ("spectral", "dnn", "full"): (0.583, 0.544),
                 ("lld", "svm", "mean"): (0.533, 0.493),
                 ("lld", "svm", "mean_min_max"): (0.554, 0.529),
                 ("lld", "svm", "full"): (0.578, 0.557)}
PAPER_TABLE_3 = {("spectral", "framewise"): (0.577, 0.538), ("spectral", "final_frame"): (0.544, 0.497),
                 ("spectral", "mean"): (0.569, 0.553), ("spectral", "attention"): (0.618, 0.563),
                 ("lld", "framewise"): (0.572, 0.516), ("lld", "final_frame"): (0.530, 0.549),
                 ("lld", "mean"): (0.627, 0.572), ("lld", "attention"): (0.635, 0.588)}
PAPER = {"table2": PAPER_TABLE_2, "table3": PAPER_TABLE_3}
SUMMARY = ("table2.md", "table3.md")
CONTEXT_UTTERANCES = 30        # test utterances of the first fold whose frame context is measured
RECORD = "run.json"


@dataclasses.dataclass(frozen=True)
class Config:
    corpus: str = "synthetic:scale=0.06"
    label_set: str = "ang_hapexc_neu_sad"
    protocol: str = "session"
    normalisation: str = "neutral_global"
    table2: tuple[str, ...] = STATS                  # statistics of Table 2 (DNN and SVM)
    table3: tuple[str, ...] = POOLINGS               # poolings of Table 3 ("attention_mlp" too)
    # Table 3's feature types: the LLD rows by default; "spectral" adds the raw-spectrum rows (the
    # 2 x 512 ReLU layers on every frame: 3x the cost of an LLD model; see the module docstring)
    features: tuple[str, ...] = ("lld",)
    hidden: int = 128
    lld_units: int = 512
    dropout: float = 0.5
    train: TrainConfig = TrainConfig(batch_size=32, lr=1e-3, max_epochs=25, patience=4, l2=0.0,
                                     by_length=True, quantum=50)
    svm_grid: tuple[float, ...] = (1.0, 10.0)        # C of the RBF SVM (γ = "scale"), on val UA
    max_folds: int | None = None
    workers: int | None = None
    examples: int = 2                                # test utterances drawn in Fig. 2
    seed: int = 0

    def __post_init__(self):
        from emojax.experiments.framelevel import PROTOCOLS
        from emojax.features.normalise import KINDS
        check("label_set", self.label_set, choices=LABEL_SETS)
        check("protocol", self.protocol, choices=PROTOCOLS)
        check("normalisation", self.normalisation, choices=KINDS)
        for s in self.table2:
            check("table2", s, choices=STATS)
        for p in self.table3:
            check("table3", p, choices=tuple(POOLING_NAMES))
        for f in self.features:
            check("features", f, choices=tuple(FEATURES))
        check("hidden", self.hidden, at_least=1)
        check("lld_units", self.lld_units, at_least=1)
        check("dropout", self.dropout, at_least=0.0, below=1.0)
        if self.max_folds is not None:
            check("max_folds", self.max_folds, at_least=1)


QUICK = {"corpus": "synthetic:scale=0.04", "max_folds": 2, "hidden": 8, "lld_units": 16,
         "features": ["spectral", "lld"],
         "train": {"max_epochs": 2, "patience": 1, "quantum": 600}, "table2": ["full"],
         "table3": ["framewise", "attention"], "svm_grid": [1.0]}


# ----------------------------------------------------------------------------- models of a fold
def models_of(cfg: Config) -> list[tuple[str, str, str]]:
    """[(table, features, variant)]: Table 2's DNN on spectra and SVM on LLDs per statistic;
    Table 3's poolings per feature type."""
    out = [("table2", "spectral", f"dnn_{s}") for s in cfg.table2]
    out += [("table2", "lld", f"svm_{s}") for s in cfg.table2]
    out += [("table3", f, p) for f in cfg.features for p in cfg.table3]
    return out


def prepare_fold(fc, idx, y, names, part: dict, cfg: Config, kinds) -> dict:
    """Each feature type's frames normalised with statistics of the fold's training speakers."""
    from emojax.features import normalise
    corpus = fc.corpus
    fit_rows = part["train"][idx] | part["val"][idx]
    labels = np.array(names)[y]
    z = {}
    for kind in kinds:
        frames = [fc.frames[FEATURES[kind]][i] for i in idx]
        stats = normalise.fit(cfg.normalisation, frames, corpus.speaker[idx], train_mask=fit_rows,
                              labels=labels, neutral="neu")
        z[kind] = normalise.apply(stats, frames, corpus.speaker[idx])
    where = {p: np.flatnonzero(part[m][idx]) for p, m in
             (("train", "train"), ("val", "val"), ("test", "test_mask"))}
    return {"z": z, "y": y, "where": where}


def numpy_stats(x: np.ndarray, stats: str) -> np.ndarray:
    """The SVM's statistics of one utterance's LLDs ``(T, D) -> (D * S,)``, in the layout of
    `emojax.nn.pooling.stats_pool` (population std, excess kurtosis)."""
    from scipy import stats as st
    x = np.asarray(x, np.float64)
    parts = {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0),
             "range": x.max(0) - x.min(0)}
    flat = np.ptp(x, 0) < 1e-12
    with np.errstate(all="ignore"):
        parts["skewness"] = np.where(flat, 0.0, st.skew(x, 0))
        parts["kurtosis"] = np.where(flat, 0.0, st.kurtosis(x, 0))
    from emojax.nn.pooling import stat_names
    return np.concatenate([parts[n] for n in stat_names(stats)])


def _items(prep, kind: str, which: str, framewise: bool) -> list[dict]:
    out = []
    for j in prep["where"][which]:
        x = prep["z"][kind][j]
        out.append({"x": x, "y_step": np.full(len(x), prep["y"][j], np.int32)} if framewise
                   else {"x": x, "y_seq": prep["y"][j]})
    return out


def _seed(cfg: Config, fold: int, key: str) -> int:
    import zlib
    return cfg.seed * 7919 + fold * 31 + zlib.crc32(key.encode()) % 1000


def attention_weights(apply, params, items: list[dict], width: int, cfg: TrainConfig) -> list:
    """α (T_i,) of each item from the model's aux (batched like `emojax.train.fit.evaluate`)."""
    import jax

    from emojax.data.batching import pad_batch
    run = jax.jit(lambda p, x, m: apply(p, x, m)[1]["alpha"])
    order = np.argsort([len(it["x"]) for it in items], kind="stable")
    back = [None] * len(items)
    B = cfg.batch_size
    for i in range(0, len(order), B):
        chunk = [items[j] for j in order[i:i + B]]
        b = pad_batch(chunk, B, width, cfg.quantum)
        alpha = np.asarray(run(params, b["x"], b["mask"]))
        for r, j in enumerate(order[i:i + B]):
            back[j] = alpha[r, :len(items[j]["x"])]
    return back


def run_fold(fc, idx, y, names, part: dict, cfg: Config, keys: list[str], ckpt_dir, progress=None,
             prep: dict | None = None):
    """Yield ``(key, record)`` for each model `keys` names, as each is trained (`prep`: the fold's
    normalised frames, `prepare_fold`, when the caller keeps them between models)."""
    import jax

    from emojax.experiments.framelevel import fold_base, predict, score, train
    from emojax.models import mirsamadi as model
    from emojax.train.checkpoint import save_params
    from emojax.train.losses import seq_cross_entropy, step_cross_entropy
    K = len(names)
    todo = [tuple(k.split("-")[1:]) for k in keys]
    kinds = sorted({f for _, f, _ in todo} | {"lld" for t, _, v in todo if v.startswith("svm")})
    if prep is None or not set(kinds) <= set(prep["z"]):
        prep = prepare_fold(fc, idx, y, names, part, cfg, kinds)
    test = prep["where"]["test"]
    y_test = y[test]
    base = fold_base(part, prep["where"], fc.corpus, idx, y, names)
    rng = np.random.default_rng(cfg.seed + part["fold"])
    examples = sorted(rng.choice(test.size, min(cfg.examples, test.size), replace=False).tolist())
    for key, (table, kind, variant) in zip(keys, todo):
        t0 = time.time()
        rec = {**base, "table": table, "features": kind, "variant": variant}
        if variant.startswith("svm_"):
            from emojax.baselines import svm
            from emojax.features.normalise import zscore_apply, zscore_fit
            stats = variant[4:]
            X = np.stack([numpy_stats(prep["z"]["lld"][j], stats) for j in range(idx.size)])
            fit_rows = np.concatenate([prep["where"]["train"], prep["where"]["val"]])
            mu, sd = zscore_fit(X[fit_rows])
            X = zscore_apply(X, mu, sd)
            w = prep["where"]
            pred, info = svm.fit_predict_rbf(X[w["train"]], y[w["train"]], X[w["val"]], y[w["val"]],
                                             X[w["test"]], grid=tuple((c, "scale") for c in cfg.svm_grid),
                                             seed=cfg.seed, select="ua", class_weight="balanced")
            rec.update(score(y_test, pred, K), pred=np.asarray(pred).tolist(), info=info)
        else:
            dnn = variant.startswith("dnn_")
            framewise = variant == "framewise"
            width = prep["z"][kind][0].shape[1]
            lld_layers = 2 if kind == "spectral" else 0
            seed = _seed(cfg, part["fold"], key)
            init = model.init(jax.random.PRNGKey(seed), width, K, lld_layers=lld_layers,
                              lld_units=cfg.lld_units, hidden=cfg.hidden,
                              pooling="mean" if dnn else variant, rnn=not dnn,
                              stats=variant[4:] if dnn else "mean")
            apply = model.model_fn("mean" if dnn else variant, rnn=not dnn,
                                   stats=variant[4:] if dnn else "mean", rate=cfg.dropout)
            loss = step_cross_entropy if framewise else seq_cross_entropy
            params, info = train(apply, loss, init, cfg.train, _items(prep, kind, "train", framewise),
                                 _items(prep, kind, "val", framewise), width, seed, progress)
            test_items = _items(prep, kind, "test", framewise)
            outputs = predict(apply, loss, cfg.train, params, test_items, width)
            if framewise:          # the mean of the frames' posteriors (host-side: no compile per length)
                from scipy.special import softmax
                post = [softmax(np.asarray(o), -1).mean(0) for o in outputs]
            else:
                post = outputs
            pred = np.array([int(np.argmax(p)) for p in post])
            rec.update(score(y_test, pred, K), pred=pred.tolist(),
                       info={k: v for k, v in info.items() if k != "history"})
            if variant.startswith("attention"):
                alpha = attention_weights(apply, params, test_items, width, cfg.train)
                rec["alpha"] = {str(i): np.round(alpha[i], 5).tolist() for i in examples}
                rec["attention_summary"] = attention_on_segments(
                    alpha, fc, idx[test], fc.rates[FEATURES[kind]])
            if ckpt_dir is not None:
                name = key
                save_params(ckpt_dir / name, params)
                rec["checkpoints"] = [name]
        rec["seconds"] = round(time.time() - t0, 2)
        yield key, rec


def coloured_segments(fc) -> dict[str, tuple[float, float]]:
    """{utterance_id: (start, end) s} of the planted emotional segments of a rendered corpus
    (``render.json``); empty for a real corpus."""
    root = fc.corpus.params.get("root")
    path = Path(root) / "render.json" if root else None
    if path is None or not path.is_file():
        return {}
    doc = json.loads(path.read_text())
    out = {}
    for d in doc.get("dialogs", {}).values():
        for u in d.get("utterances", []):
            if u.get("coloured"):
                out[u["id"]] = tuple(u["coloured"])
    return out


def attention_on_segments(alpha: list, fc, test_idx, rate: float) -> dict:
    """Where attention sits in utterances whose emotion the renderer planted in one segment: the
    attention mass inside the segment vs the segment's share of the frames (1 = no preference)."""
    seg = coloured_segments(fc)
    mass, share = [], []
    for a, i in zip(alpha, test_idx):
        s = seg.get(str(fc.corpus.utterance_id[i]))
        if s is None or len(a) == 0:
            continue
        t = (np.arange(len(a)) + 0.5) / rate
        inside = (t >= s[0]) & (t < s[1])
        if inside.any() and not inside.all():
            mass.append(float(a[inside].sum()))
            share.append(float(inside.mean()))
    if not mass:
        return {"n": 0}
    return {"n": len(mass), "mass_inside": round(float(np.mean(mass)), 4),
            "share_inside": round(float(np.mean(share)), 4),
            "ratio": round(float(np.mean(mass) / np.mean(share)), 3)}


def frame_context(wd, folds, fc, idx, y, names, parts, cfg: Config, preps: dict) -> dict:
    """Beyond the paper: which frames the attention models' decisions depend on
    (`emojax.experiments.frame_context.utterance_context`), per feature type, on the first fold's
    test utterances, from the checkpoints; with the planted segments of a rendered corpus."""
    import jax

    from emojax.experiments.frame_context import utterance_context
    from emojax.models import mirsamadi as model
    from emojax.train.checkpoint import load_params
    out = {}
    seg = coloured_segments(fc)
    for kind in cfg.features:
        rec = next((r for r in sorted(folds, key=lambda r: r["fold"]) if r["variant"] == "attention"
                    and r["features"] == kind and r.get("checkpoints")), None)
        if rec is None:
            continue
        part = next(p for p in parts if p["fold"] == rec["fold"])
        prep = preps.get(rec["fold"])
        if prep is None or kind not in prep["z"]:
            prep = prepare_fold(fc, idx, y, names, part, cfg, [kind])
        width = prep["z"][kind][0].shape[1]
        like = model.init(jax.random.PRNGKey(0), width, len(names),
                          lld_layers=2 if kind == "spectral" else 0, lld_units=cfg.lld_units,
                          hidden=cfg.hidden, pooling="attention")
        params = load_params(wd.checkpoint(rec["checkpoints"][0]), like)
        apply = model.model_fn("attention", rate=cfg.dropout)
        test = prep["where"]["test"][:CONTEXT_UTTERANCES]
        xs = [prep["z"][kind][j] for j in test]
        uids = fc.corpus.utterance_id[idx][test]
        items = [{"x": x, "y_seq": 0} for x in xs]
        alphas = attention_weights(apply, params, items, width, cfg.train)
        hop = 1.0 / fc.rates[FEATURES[kind]]
        res = utterance_context(apply, params, xs, hop_s=hop, quantum=100,
                                segments=[seg.get(str(u)) for u in uids], alphas=alphas)
        res.pop("_profiles")
        out[kind] = {"model": "attention", "fold": rec["fold"], **res}
    return out


# ----------------------------------------------------------------------------- the experiment
def piece_settings(cfg: Config, fc) -> dict:
    c = dataclasses.asdict(cfg)
    for k in ("table2", "table3", "features", "max_folds", "workers", "examples", "corpus"):
        c.pop(k)
    content = {k: v for k, v in fc.corpus.params.items()
               if k not in ("path", "root", "prepared", "front_end_report")}
    return {"experiment": "mirsamadi2017", "config": c, "corpus": content,
            "features": {s: fc.extraction[s]["info"] for s in FEATURES.values()},
            "n_utterances": len(fc.corpus)}


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False) -> dict:
    from emojax.experiments import framelevel as FL
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    t0 = time.time()
    with open_workdir(workdir, fresh=fresh) as wd:
        fc = FL.frame_corpus(cfg.corpus, wd.path, tuple(FEATURES.values()), workers=cfg.workers,
                             progress=progress, what="mirsamadi2017")
        idx, y, names = FL.labelled(fc.corpus, cfg.label_set)
        parts = FL.fold_parts(fc.corpus, cfg.protocol, cfg.max_folds)
        base = piece_settings(cfg, fc)
        pieces = {f"fold{p['fold']:02d}-{t}-{f}-{v}": {**base, "fold": p["fold"], "model": [t, f, v]}
                  for p in parts for t, f, v in models_of(cfg)}

        preps: dict[int, dict] = {}            # one fold's normalised frames, kept between its models
        kinds = sorted(set(cfg.features) | ({"lld"} if cfg.table2 else set())
                       | ({"spectral"} if cfg.table2 else set()))

        def compute(keys, bar):                # one model: its piece is saved as soon as it is done
            fold = int(keys[0][4:6])
            part = next(p for p in parts if p["fold"] == fold)
            if fold not in preps:
                preps.clear()
                preps[fold] = prepare_fold(fc, idx, y, names, part, cfg, kinds)
            yield from run_fold(fc, idx, y, names, part, cfg, keys, wd.checkpoints, bar,
                                prep=preps[fold])

        records, stats = run_pieces(wd, pieces, compute, desc="mirsamadi2017", unit="model",
                                    progress=progress)
        shutil.rmtree(wd.results, ignore_errors=True)
        wd.results.mkdir()
        folds = list(records.values())
        timing = {}
        for r in folds:
            timing.setdefault(f"{r['features']}/{r['variant']}", []).append(r["seconds"])
        meta = R.run_meta("mirsamadi2017", cfg, fc.corpus, wall_s=time.time() - t0, pieces=stats,
                          label_set=cfg.label_set, classes=names, n_labelled=int(idx.size),
                          protocol=FL.PROTOCOL_NAMES[cfg.protocol],
                          seconds_per_fold={k: round(float(np.mean(v)), 1) for k, v in timing.items()},
                          extraction=fc.extraction,
                          integrity={k: fc.integrity.get(k) for k in ("ok", "found", "documented")})
        # a rerun that reuses finished models: their compute seconds from the runs that made them
        meta["wall_s_total"] = round(meta["wall_s"] + stats["reused_s"], 1)
        meta["frame_context"] = frame_context(wd, folds, fc, idx, y, names, parts, cfg, preps)
        doc = write_tables(wd.results, folds, meta, cfg, fc, names)
        if publish is not None:
            R.publish(wd.results, publish)
    return doc


def records_of(folds: list[dict], cfg: Config) -> dict[str, list[dict]]:
    from emojax.experiments import framelevel as FL
    common = {"task": "emotion4", "label_set": cfg.label_set,
              "protocol": FL.PROTOCOL_NAMES[cfg.protocol]}
    out = {"table2": [], "table3": []}
    for r in FL.summarise([r for r in folds if r["table"] == "table2"], ("features", "variant"),
                          **common):
        clf, stats = r.pop("variant").split("_", 1)
        out["table2"].append({**r, "classifier": clf, "stats": stats})
    for r in FL.summarise([r for r in folds if r["table"] == "table3"], ("features", "variant"),
                          **common):
        v = r.pop("variant")
        out["table3"].append({**r, "classifier": v, "pooling": v})
    return out


def paper_records() -> dict[str, list[dict]]:
    t2 = [{"task": "emotion4", "features": f, "classifier": c, "stats": s, "metric": m, "mean": v,
           "folds": [], "source": "paper"}
          for (f, c, s), (wa, ua) in PAPER_TABLE_2.items() for m, v in (("wa", wa), ("ua", ua))]
    t3 = [{"task": "emotion4", "features": f, "classifier": p, "pooling": p, "metric": m, "mean": v,
           "folds": [], "source": "paper"}
          for (f, p), (wa, ua) in PAPER_TABLE_3.items() for m, v in (("wa", wa), ("ua", ua))]
    return {"table2": t2, "table3": t3}


def _cell(r) -> str:
    return "—" if r is None else f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}"


def _intro(meta: dict) -> str:
    return (f"Corpus `{meta['config']['corpus']}`, label set `{meta['label_set']}` "
            f"({meta['n_labelled']} utterances; classes {', '.join(meta['classes'])}; 'happy' read "
            f"as happiness + excitement unless the label set says otherwise), {meta['protocol']}; "
            "mean ± std over folds, %. Paper: IEMOCAP, one session held out.")


def table2_markdown(doc: dict) -> str:
    by = {(r["features"], r["classifier"], r["stats"], r["metric"]): r for r in doc["records"]}
    lines = ["# Mirsamadi et al. 2017, Table 2: learned vs hand-crafted LLDs", "", _intro(doc["meta"]), "",
             "| features | classifier | HSFs | WA | UA | F1 | paper WA | paper UA |",
             "|---|---|---|---|---|---|---|---|"]
    for (f, c, s), (pw, pu) in PAPER_TABLE_2.items():
        if (f, c, s, "ua") not in by:
            continue
        lines.append(f"| {'raw spectral' if f == 'spectral' else 'emotion LLDs'} | {c.upper()} | "
                     f"{STAT_NAMES[s]} | {_cell(by[f, c, s, 'wa'])} | {_cell(by[f, c, s, 'ua'])} | "
                     f"{_cell(by[f, c, s, 'f1'])} | {100 * pw:.1f} | {100 * pu:.1f} |")
    if doc.get("tests"):
        from emojax.experiments import framelevel as FL
        lines += ["", "Paired over folds:", *FL.tests_markdown(doc["tests"])]
    return "\n".join(lines) + "\n"


def table3_markdown(doc: dict) -> str:
    from emojax.experiments import framelevel as FL
    from emojax.experiments import results as R
    by = {(r["features"], r["pooling"], r["metric"]): r for r in doc["records"]}
    m = doc["meta"]
    lines = ["# Mirsamadi et al. 2017, Table 3: temporal aggregation", "", _intro(m), "",
             "| features | temporal aggregation | WA | UA | F1 | paper WA | paper UA |",
             "|---|---|---|---|---|---|---|"]
    feats = list(dict.fromkeys(r["features"] for r in doc["records"]))
    pools = list(dict.fromkeys(r["pooling"] for r in doc["records"]))
    for f in feats:
        for p in pools:
            if (f, p, "ua") not in by:
                continue
            pw, pu = PAPER_TABLE_3.get((f, p), (None, None))
            paper = f"{100 * pw:.1f} | {100 * pu:.1f}" if pw is not None else "— | —"
            lines.append(f"| {'raw spectral' if f == 'spectral' else 'emotion LLDs'} | "
                         f"{POOLING_NAMES[p]} | {_cell(by[f, p, 'wa'])} | {_cell(by[f, p, 'ua'])} | "
                         f"{_cell(by[f, p, 'f1'])} | {paper} |")
    if doc.get("tests"):
        lines += ["", "Paired over folds:", *FL.tests_markdown(doc["tests"])]
    att = m.get("attention_on_segments") or {}
    for f, s in att.items():
        if s.get("n"):
            lines.append("")
            lines.append(f"Attention ({f}) on the planted emotional segments of {s['n']} test "
                         f"utterances: {100 * s['mass_inside']:.1f} % of the weight on "
                         f"{100 * s['share_inside']:.1f} % of the frames (×{s['ratio']:.2f}).")
    for f, c in (m.get("frame_context") or {}).items():
        if c.get("frames_used") is None:
            continue
        line = (f"Beyond the paper ({f}, attention, fold {c['fold']}, {c['n']} test utterances): "
                f"at θ = 3 % the decision depends on {c['frames_used']:.0f} frames "
                f"({c['ms_used']:.0f} ms, {100 * c['share_of_frames']:.0f} % of the utterance)")
        if c.get("segments"):
            line += (f"; on the {c['segments']} planted emotional segments it puts "
                     f"{100 * c['sensitivity_inside']:.1f} % of its sensitivity on "
                     f"{100 * c['frames_inside']:.1f} % of the frames (×{c['sensitivity_ratio']:.2f})")
        lines += ["", line + "."]
    lines += ["", f"Full run (both tables): {R.run_minutes(m)}; mean seconds per fold and "
              "model: " + ", ".join(f"{k} {v}" for k, v in m["seconds_per_fold"].items()) + "."]
    return "\n".join(lines) + "\n"


def write_tables(res: Path, folds: list[dict], meta: dict, cfg: Config, fc, names) -> dict:
    from emojax.experiments import framelevel as FL
    from emojax.experiments import results as R
    from emojax.experiments.runner import write_atomic
    recs, paper = records_of(folds, cfg), paper_records()
    att = {}
    for f in cfg.features:
        rs = [r["attention_summary"] for r in folds
              if r["variant"] == "attention" and r["features"] == f and r.get("attention_summary", {}).get("n")]
        if rs:
            n = sum(r["n"] for r in rs)
            mass = sum(r["mass_inside"] * r["n"] for r in rs) / n
            share = sum(r["share_inside"] * r["n"] for r in rs) / n
            att[f] = {"n": n, "mass_inside": round(mass, 4), "share_inside": round(share, 4),
                      "ratio": round(mass / share, 3)}
    meta["attention_on_segments"] = att
    conf = {f"{r['features']}/{r['variant']}": None for r in folds}
    for k in conf:
        f, v = k.split("/")
        conf[k] = FL.pooled_confusion([r for r in folds if r["features"] == f and r["variant"] == v])
    docs = {}
    for t in ("table2", "table3"):
        if not recs[t]:
            continue
        if t == "table3":
            pairs = [({"pooling": "attention"}, {"pooling": "mean"}),
                     ({"pooling": "mean"}, {"pooling": "final_frame"}),
                     ({"pooling": "mean"}, {"pooling": "framewise"})]
            tests = [x for f in cfg.features for x in FL.paired(recs[t], pairs, features=f)]
        else:
            pairs = [({"classifier": "dnn", "stats": s}, {"classifier": "svm", "stats": s})
                     for s in cfg.table2]
            tests = FL.paired(recs[t], pairs)
        docs[t] = {"meta": meta, "records": recs[t], "paper": paper[t], "tests": tests}
        write_atomic(res / f"{t}.json", R.records_json(meta, recs[t], paper=paper[t], tests=tests,
                                                       confusion={k: v for k, v in conf.items()}))
        write_atomic(res / f"{t}.md", (table2_markdown if t == "table2" else table3_markdown)(docs[t]))
    write_atomic(res / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
    try:
        figures(res, folds, conf, fc, names, cfg)
    except ImportError:
        pass
    return {"meta": meta, "records": recs["table2"] + recs["table3"], "paper": paper}


def figures(res: Path, folds, conf, fc, names, cfg: Config) -> None:
    from emojax.analysis import plots
    for k in ("lld/attention", "spectral/attention"):
        if k in conf:
            plots.confusion_matrix(np.asarray(conf[k]), names, res / "fig_confusion_attention.png",
                                   title=f"{k}, all folds")
            break
    att = [r for r in folds if r["variant"] == "attention" and r.get("alpha")]
    if not att:
        return
    r = sorted(att, key=lambda r: (r["fold"], r["features"] != "lld"))[0]
    from emojax.features.audio import read_audio
    plt = plots._plt()
    seg = coloured_segments(fc)
    ex = list(r["alpha"])
    root = Path(fc.corpus.params.get("root", "."))
    row_of = {u: i for i, u in enumerate(fc.corpus.utterance_id)}
    fig, axes = plt.subplots(2, len(ex), figsize=(5.5 * len(ex), 4), squeeze=False)
    rate = fc.rates[FEATURES[r["features"]]]
    for c, i in enumerate(ex):
        u = r["utterance_id"][int(i)]
        wav = fc.corpus.wav[row_of[u]]
        try:
            sig, sr = read_audio(root / wav)
        except Exception:
            sig, sr = np.zeros(1), 16000
        axes[0, c].plot(np.arange(len(sig)) / sr, sig, lw=0.3, color="0.3")
        axes[0, c].set(title=f"{u} ({names[r['truth'][int(i)]]})", xlim=(0, len(sig) / sr))
        a = np.asarray(r["alpha"][i])
        axes[1, c].plot((np.arange(len(a)) + 0.5) / rate, a, color="C3")
        axes[1, c].set(xlabel="time (s)", ylabel="α(t)", xlim=(0, len(sig) / sr))
        if u in seg:
            for ax in axes[:, c]:
                ax.axvspan(*seg[u], color="C2", alpha=0.15, lw=0)
    fig.suptitle(f"attention weights ({r['features']}, fold {r['fold']}); green: the planted "
                 "emotional segment")
    fig.tight_layout()
    fig.savefig(res / "fig2_attention.png", dpi=110)
    plt.close(fig)


def readme_section(results: Path) -> list[str]:
    base = Path(results) / "mirsamadi2017"
    lines = []
    for t, fn in (("table2", table2_markdown), ("table3", table3_markdown)):
        path = base / f"{t}.json"
        if path.is_file():
            doc = json.loads(path.read_text())
            md = fn(doc).splitlines()
            head = "### Mirsamadi et al. 2017 (`emojax reproduce mirsamadi2017`)" if not lines else None
            lines += ([head, ""] if head else []) + [f"**{md[0][2:]}**", "", *md[4:], ""]
    return lines
