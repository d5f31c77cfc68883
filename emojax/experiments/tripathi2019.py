"""Tripathi, Tripathi & Beigi 2019, Tables 1-5: speech, text and MoCap models on IEMOCAP's four
classes (ang / exc / neu / sad), and their fusion at the last layer.

  emojax reproduce tripathi2019          # the embedded corpus rendered with audio, transcripts, MoCap
  emojax reproduce tripathi2019:quick    # a tiny render, the same code path (what the tests run)
  emojax reproduce tripathi2019 --corpus iemocap:PATH    # a user's IEMOCAP_full_release

Writes WORKDIR/results/tables.{json,md}, fig_fusion.png and run.json; the full default run
publishes them to results/tripathi2019/.

Inputs per utterance (§3; `emojax.models.tripathi` packs them into one array):
- speech: the 34 pyAudioAnalysis short-term features of Chernykh 2018 (the ``chernykh2018`` set:
  0.2 s windows, 0.1 s hop), the first 100 frames, zero-padded; z-scored with the training
  frames' statistics (ours; the paper does not say);
- text: the transcript's words, a tokenizer fitted on the training transcripts only
  (`emojax.features.text`), at most ``max_words`` (500) tokens; GloVe-300 vectors from the file
  ``glove`` names, else random embeddings (said in the table);
- MoCap: the sentence files of the marker-wearer (face ``MOCAP_rotated`` 165 values, ``MOCAP_hand``
  18, ``MOCAP_head`` 6), each split into 200 consecutive chunks and averaged, concatenated to
  (200, 189), z-scored with the training chunks. An utterance without MoCap files (IEMOCAP's
  Ses05M_script01_1b) is counted in ``meta.missing_mocap``: MoCap-only models leave it out of
  their training and of their test scores (their records say how many), the fused model gets
  zeros and a flag for it.

Protocols (both reported; the paper's was not speaker-independent for Tables 1, 3, 4):
- ``session`` (default): 5-fold leave-one-session-out, Session 5 first (the paper's fused model's
  test set); the next session (cyclically) is the validation split for early stopping;
- ``paper``: the paper's single-modality protocol, a random 20 % of the utterances as the reported
  split (speaker-dependent), ``paper_splits`` (3) seeds; early stopping on a random 10 % of the
  rest (the authors' public code chose the epoch on the reported split; ours never sees it).

The fused model and its three branches (``CORE``) run on every fold; the other models of Tables 1,
3, 4 on the first ``zoo_folds`` (1: the paper's single split), to keep the default run near an
hour on a 2-core CPU; ``--set zoo_folds=5`` runs them all.

Optimisers as the paper (Adadelta, Keras' lr 1.0, for the LSTMs and the speech MLP; Adam for the
convolutional and dense models and the fused model); batches of 32, early stopping on the
validation loss. Every model has the paper's widths and dropout, except the fused one (§5.1's
random search over the speech and text LSTM widths, the fusion width and dropout): in every fold,
``hpo_trials`` candidates (the paper's values first, then random draws) are trained on the fold's
training split and the one with the lowest validation loss is kept, so no test utterance chooses.
Table 2's improvised-only row trains and tests Speech_Model4 on the improvised dialogs only.
The authors' public code also zeroed the chroma features; emojax does not.
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

DESCRIPTION = ("Tripathi et al. 2019, Tables 1-5: speech, text and MoCap models and their last-layer "
               "fusion, four IEMOCAP classes, speaker-independent and the paper's protocol")
SET = "chernykh2018"
LABEL_SET = "ang_exc_neu_sad"
PROTOCOLS = ("session", "paper")
PROTOCOL_NAMES = {"session": "leave_one_session_out", "paper": "random_20_percent"}
MODALITY = {**{m: "speech" for m in ("speech_mlp", "speech_lstm", "speech_att", "speech_batt")},
            **{m: "text" for m in ("text_cnn", "text_lstm", "text_lstm128")},
            **{m: "mocap" for m in ("head_lstm", "head_dense", "hand_lstm", "hand_dense",
                                    "face_lstm", "face_conv", "mocap_conv")}, "fusion": "fusion"}
PAPER_NAMES = {"speech_mlp": "Speech_Model1", "speech_lstm": "Speech_Model2",
               "speech_att": "Speech_Model3", "speech_batt": "Speech_Model4",
               "text_cnn": "Text_Model1", "text_lstm": "Text_Model2", "text_lstm128": "Text_Model3",
               "head_lstm": "Head_Model1", "head_dense": "Head_Model2", "hand_lstm": "Hand_Model1",
               "hand_dense": "Hand_Model2", "face_lstm": "Face_Model1", "face_conv": "Face_Model2",
               "mocap_conv": "Mocap_Model1", "fusion": "Text + Speech + Mocap"}
# Tripathi et al. 2019, Tables 1, 3, 4, 5 (accuracy) and Table 2 (Speech_Model4, improvised only /
# all), copied once; fractions.
PAPER_ACCURACY = {"speech_mlp": 0.506, "speech_lstm": 0.5132, "speech_att": 0.5415,
                  "speech_batt": 0.5565, "text_cnn": 0.6255, "text_lstm": 0.6468,
                  "text_lstm128": 0.6478, "head_lstm": 0.3775, "head_dense": 0.4028,
                  "hand_lstm": 0.3370, "hand_dense": 0.3694, "face_lstm": 0.4899,
                  "face_conv": 0.4858, "mocap_conv": 0.5111, "fusion": 0.7104}
PAPER_IMPROVISED = 0.6272
PAPER = {"accuracy": PAPER_ACCURACY, "table2_improvised": PAPER_IMPROVISED}
SUMMARY = ("tables.md",)
RECORD = "run.json"
MODELS = tuple(PAPER_NAMES)
CORE = ("speech_batt", "text_lstm", "mocap_conv", "fusion")   # Table 5's model and its branches
HPO_SPACE = {"speech_hidden": (64, 128, 256), "text_hidden": (128, 256, 512),
             "fusion": (128, 256, 512), "rate": (0.1, 0.2, 0.3, 0.5)}


@dataclasses.dataclass(frozen=True)
class Config:
    corpus: str = "synthetic:scale=0.1"        # rendered: ~1,100 utterances (~520 of the 4 classes)
    protocols: tuple[str, ...] = PROTOCOLS
    models: tuple[str, ...] = MODELS
    # the fused model and its three branches run on every fold; the other models of Tables 1, 3, 4
    # on the first `zoo_folds` (session protocol: Session 5 first, the paper's test session)
    zoo_folds: int = 1
    paper_splits: int = 3                      # random 20 % splits of the paper protocol
    improvised: bool = True                    # Table 2's improvised-only Speech_Model4
    glove: str = ""                            # a GloVe text file (300-d); "" = random embeddings
    max_words: int = 500
    text_dim: int = 300
    hpo_trials: int = 2                        # the fused model's candidates per fold
    train: TrainConfig = TrainConfig(batch_size=32, lr=1e-3, max_epochs=25, patience=3, l2=0.0)
    adadelta_lr: float = 1.0                   # Keras' default
    max_folds: int | None = None
    workers: int | None = None
    seed: int = 0

    def __post_init__(self):
        for p in self.protocols:
            check("protocols", p, choices=PROTOCOLS)
        if not self.protocols or not self.models:
            raise ValueError("settings 'protocols' and 'models': give at least one of each")
        for m in self.models:
            check("models", m, choices=MODELS)
        check("max_words", self.max_words, at_least=1)
        check("text_dim", self.text_dim, at_least=1)
        check("hpo_trials", self.hpo_trials, at_least=1)
        check("zoo_folds", self.zoo_folds, at_least=0)
        check("paper_splits", self.paper_splits, at_least=1)
        check("adadelta_lr", self.adadelta_lr, positive=True)
        if self.max_folds is not None:
            check("max_folds", self.max_folds, at_least=1)


QUICK = {"corpus": "synthetic:scale=0.04", "max_folds": 2, "text_dim": 16, "hpo_trials": 1,
         "models": ["speech_mlp", "speech_batt", "text_cnn", "text_lstm", "head_dense",
                    "mocap_conv", "fusion"],
         "train": {"max_epochs": 2, "patience": 1}}


# ----------------------------------------------------------------------------- data
def mocap_chunks(corpus, root: Path, cache: Path, progress: bool = True) -> dict[str, np.ndarray]:
    """{utterance id: (200, 189)} for every utterance whose three sentence MoCap files exist,
    cached in `cache` (an .npz; recomputed when the utterances or the corpus' content fingerprint
    — generator parameters or the manifest's sha256 — differ)."""
    from emojax.experiments.runner import fingerprint
    from tqdm.auto import tqdm

    from emojax.data.iemocap import mocap_path, read_mocap
    from emojax.features.visual import chunk_means
    ids = [str(u) for u in corpus.utterance_id]
    key = fingerprint({k: v for k, v in corpus.params.items()
                       if k not in ("path", "root", "prepared", "front_end_report")})
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if list(z["ids"]) == ids and "key" in z and str(z["key"]) == key:
                chunks = z["chunks"]              # read once: each z[...] reads the whole array
                return {u: chunks[i] for i, u in enumerate(z["present"]) if u}
    present, chunks = [], []
    for u in tqdm(ids, desc="MoCap chunks", disable=not progress):
        paths = [mocap_path(root, u, s) for s in ("rotated", "hand", "head")]
        if not all(p.is_file() for p in paths):
            present.append("")
            chunks.append(np.zeros((200, 189), np.float32))
            continue
        parts = [chunk_means(read_mocap(p)[2]) for p in paths]
        present.append(u)
        chunks.append(np.concatenate(parts, 1))
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, ids=np.array(ids), present=np.array(present), chunks=np.stack(chunks),
             key=np.array(key))
    tmp.replace(cache)
    return {u: c for u, c in zip(present, chunks) if u}


@dataclasses.dataclass
class Data:
    corpus: object           # the labelled utterances
    y: np.ndarray
    names: list[str]
    speech: list
    mocap: dict
    transcripts: list[str]
    improvised: np.ndarray
    info: dict


def load_data(cfg: Config, wd, progress: bool) -> Data:
    from emojax.experiments import framelevel as FL
    fc = FL.frame_corpus(cfg.corpus, wd.path, (SET,), workers=cfg.workers, progress=progress,
                         what="tripathi2019", mocap=True)
    idx, y, names = FL.labelled(fc.corpus, LABEL_SET)
    corpus = fc.corpus.subset(idx)
    root = Path(fc.corpus.params.get("root") or wd.path / "tree")
    mocap = mocap_chunks(corpus, root, wd.path / "mocap_chunks.npz", progress)
    transcripts = [str(t) for t in corpus.transcript] if corpus.transcript is not None \
        else [""] * len(corpus)
    improvised = np.array(["impro" in str(d) for d in corpus.dialog])
    info = {"n_labelled": len(corpus), "classes": names, "extraction": fc.extraction[SET],
            "missing_mocap": int(len(corpus) - sum(str(u) in mocap for u in corpus.utterance_id)),
            "missing_mocap_dialogs": sorted({str(d) for d, u in zip(corpus.dialog, corpus.utterance_id)
                                             if str(u) not in mocap}),
            "empty_transcripts": int(sum(not t.strip() for t in transcripts)),
            "improvised": int(improvised.sum()),
            "integrity": {k: fc.integrity.get(k) for k in ("ok", "found", "documented")}}
    return Data(corpus, y, names, [fc.frames[SET][i] for i in idx], mocap, transcripts,
                improvised, info)


def splits(data: Data, protocol: str, seed: int, max_folds: int | None,
           subset: np.ndarray | None = None, paper_splits: int = 5) -> list[dict]:
    """Boolean masks ``train``, ``val``, ``test`` per fold (`protocol`, module docstring); the
    session folds start with the last session (the paper's test session)."""
    n = len(data.y)
    keep = np.ones(n, bool) if subset is None else subset
    out = []
    if protocol == "session":
        sessions = sorted(set(str(s) for s in data.corpus.session))
        sessions = sessions[-1:] + sessions[:-1]
        for f, s in enumerate(sessions[:max_folds]):
            v = sessions[(f + 1) % len(sessions)]
            test = keep & (data.corpus.session == s)
            val = keep & (data.corpus.session == v)
            out.append({"fold": f, "test_name": s, "train": keep & ~test & ~val, "val": val,
                        "test": test})
        return out
    for f in range(min(paper_splits, max_folds or paper_splits)):
        rng = np.random.default_rng(seed * 1000 + f)
        ix = rng.permutation(np.flatnonzero(keep))
        n_test = int(round(0.2 * ix.size))
        n_val = int(round(0.1 * (ix.size - n_test)))
        masks = [np.zeros(n, bool) for _ in range(3)]
        masks[0][ix[n_test + n_val:]] = True
        masks[1][ix[n_test:n_test + n_val]] = True
        masks[2][ix[:n_test]] = True
        out.append({"fold": f, "test_name": f"random{f}", "train": masks[0], "val": masks[1],
                    "test": masks[2]})
    return out


def fold_items(data: Data, part: dict, cfg: Config):
    """(packed items per split, vocabulary size, embeddings or None, layout) of one fold."""
    from emojax.features import text as TX
    from emojax.models import tripathi as M
    tr = part["train"]
    vocab = TX.fit_vocab([data.transcripts[i] for i in np.flatnonzero(tr)])
    tokens = TX.encode(data.transcripts, vocab, cfg.max_words)
    emb = TX.glove_matrix(cfg.glove, vocab, seed=cfg.seed) if cfg.glove else None
    longest = max(len(t) for t in tokens)
    lay = M.Layout(text_dim=emb.shape[1] if emb is not None else cfg.text_dim,
                   text_steps=min(cfg.max_words, -(-longest // 16) * 16))
    frames = np.concatenate([data.speech[i][:lay.speech_frames] for i in np.flatnonzero(tr)])
    mu, sd = frames.mean(0), frames.std(0) + 1e-6
    ids = [str(u) for u in data.corpus.utterance_id]
    have = np.array([u in data.mocap for u in ids])
    mo = np.concatenate([data.mocap[ids[i]] for i in np.flatnonzero(tr & have)]) if (tr & have).any() \
        else np.zeros((1, 189))
    mmu, msd = mo.mean(0), mo.std(0) + 1e-6
    packed = [M.pack((data.speech[i] - mu) / sd, tokens[i],
                     (data.mocap[ids[i]] - mmu) / msd if have[i] else None, lay)
              for i in range(len(ids))]
    return packed, len(vocab) + 2, emb, lay, have


def _seed(cfg: Config, protocol: str, fold: int, model: str) -> int:
    return cfg.seed * 7919 + PROTOCOLS.index(protocol) * 1009 + fold * 31 + MODELS.index(model)


def train_model(kind, data, part, prep, cfg: Config, sizes, seed, progress=None, keep=None):
    """Train `kind` on the fold's training split (early-stopped on validation); test outputs."""
    import jax

    from emojax.experiments.framelevel import predict, train
    from emojax.models import tripathi as M
    from emojax.train.losses import seq_cross_entropy
    packed, vocab, emb, lay, have = prep
    keep = np.ones(len(packed), bool) if keep is None else keep
    if MODALITY[kind] == "mocap":                 # MoCap-only models need MoCap
        keep = keep & have
    items = lambda m: [{"x": packed[i], "y_seq": int(data.y[i])}  # noqa: E731
                       for i in np.flatnonzero(m & keep)]
    tcfg = cfg.train
    if M.OPTIMIZER.get(kind) == "adadelta":
        tcfg = dataclasses.replace(tcfg, optimizer="adadelta", lr=cfg.adadelta_lr)
    apply = M.model_fn(kind, lay, float(sizes.rate))
    init = M.init(jax.random.PRNGKey(seed), kind, lay, len(data.names), vocab=vocab, sizes=sizes,
                  embeddings=emb)
    params, info = train(apply, seq_cross_entropy, init, tcfg, items(part["train"]),
                         items(part["val"]), lay.width, seed, progress)
    test = np.flatnonzero(part["test"] & keep)
    outs = predict(apply, seq_cross_entropy, tcfg, params, items(part["test"]), lay.width)
    return test, np.stack(outs) if outs else np.zeros((0, len(data.names))), info


def trial_sizes(cfg: Config, protocol: str, fold: int) -> list:
    """The fused model's candidate hyper-parameters in one fold: the paper's (`Sizes()`), then
    ``hpo_trials - 1`` drawn at random from `HPO_SPACE` (seeded by protocol and fold)."""
    from emojax.models import tripathi as M
    rng = np.random.default_rng(_seed(cfg, protocol, fold, "fusion") + 17)
    out = [M.Sizes()]
    for _ in range(max(cfg.hpo_trials, 1) - 1):
        out.append(M.Sizes(**{k: type(v[0])(rng.choice(v)) for k, v in HPO_SPACE.items()}))
    return out


def run_piece(data, prep, part, protocol, kind, cfg, progress=None, subset="all") -> dict:
    """One model in one fold. Every model has the paper's widths and dropout (`Sizes()`), except
    the fused one: its candidates (`trial_sizes`) are each trained on the fold's training split,
    and the one with the lowest validation loss is kept (the paper's random search, §5.1, done
    inside every fold on that fold's validation split, so no test utterance ever chooses)."""
    from emojax.experiments.framelevel import score
    from emojax.models import tripathi as M
    t0 = time.time()
    keep = data.improvised if subset == "improvised" else None
    seed = _seed(cfg, protocol, part["fold"], kind)
    candidates = trial_sizes(cfg, protocol, part["fold"]) if kind == "fusion" else [M.Sizes()]
    trials = []
    for t, sizes in enumerate(candidates):
        idx, logits, info = train_model(kind, data, part, prep, cfg, sizes, seed + 7 * t, progress, keep)
        trials.append((info["val_loss"], t, idx, logits, info, sizes))
    _, chosen, idx, logits, info, sizes = min(trials, key=lambda r: (r[0], r[1]))
    pred = logits.argmax(-1) if len(idx) else np.zeros(0, int)
    scores = score(data.y[idx], pred, len(data.names)) if len(idx) else {}
    rec = {"fold": part["fold"], "test": part["test_name"], "protocol": protocol, "model": kind,
           "modality": MODALITY[kind], "subset": subset, "n_test": int(len(idx)),
           "n_test_without_mocap": int((part["test"] & ~prep[4]).sum()),
           "epochs": info["epochs"], "best_epoch": info["best_epoch"],
           **scores, "seconds": round(time.time() - t0, 1)}
    if kind == "fusion":
        rec["search"] = {"chosen": chosen, "sizes": dataclasses.asdict(sizes),
                         "trials": [{**dataclasses.asdict(r[5]), "val_loss": round(r[0], 5)}
                                    for r in trials]}
    return rec


# ----------------------------------------------------------------------------- the experiment
def piece_settings(cfg: Config, data: Data) -> dict:
    c = dataclasses.asdict(cfg)
    # what only selects pieces (or shapes one model's own: hpo_trials, in the fusion pieces)
    for k in ("protocols", "models", "improvised", "max_folds", "workers", "corpus", "zoo_folds",
              "paper_splits", "hpo_trials"):
        c.pop(k)
    content = {k: v for k, v in data.corpus.params.items()
               if k not in ("path", "root", "prepared", "front_end_report")}
    return {"experiment": "tripathi2019", "config": c, "corpus": content,
            "features": data.info["extraction"]["info"], "n_utterances": len(data.y)}


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False) -> dict:
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    from emojax.models import tripathi as M
    t0 = time.time()
    with open_workdir(workdir, fresh=fresh) as wd:
        data = load_data(cfg, wd, progress)
        base = piece_settings(cfg, data)
        parts = {p: splits(data, p, cfg.seed, cfg.max_folds, paper_splits=cfg.paper_splits)
                 for p in cfg.protocols}
        pieces = {}
        for p in cfg.protocols:
            for part in parts[p]:
                for m in cfg.models:
                    if m not in CORE and part["fold"] >= cfg.zoo_folds:
                        continue
                    pieces[f"{p}_fold{part['fold']}_{m}_all"] = {
                        **base, "protocol": p, "fold": part["fold"], "model": m, "subset": "all",
                        **({"hpo_trials": cfg.hpo_trials} if m == "fusion" else {})}
        if cfg.improvised and "speech_batt" in cfg.models:
            for part in splits(data, "session", cfg.seed, cfg.max_folds, data.improvised):
                pieces[f"session_fold{part['fold']}_speech_batt_improvised"] = {
                    **base, "protocol": "session", "fold": part["fold"], "model": "speech_batt",
                    "subset": "improvised"}
        cache: dict = {}

        def compute(keys, bar):
            for key in keys:
                s = pieces[key]
                sub = data.improvised if s["subset"] == "improvised" else None
                ck = (s["protocol"], s["fold"], s["subset"])
                part = splits(data, s["protocol"], cfg.seed, cfg.max_folds, sub,
                              paper_splits=cfg.paper_splits)[s["fold"]]
                if ck not in cache:
                    cache.clear()
                    cache[ck] = fold_items(data, part, cfg)
                yield key, run_piece(data, cache[ck], part, s["protocol"], s["model"], cfg, bar,
                                     s["subset"])

        records, stats = run_pieces(wd, pieces, compute, desc="tripathi2019", unit="model",
                                    progress=progress)
        shutil.rmtree(wd.results, ignore_errors=True)
        wd.results.mkdir()
        folds = list(records.values())
        timing = {m: round(float(np.mean([r["seconds"] for r in folds if r["model"] == m])), 1)
                  for m in cfg.models}
        search = {k: r["search"] for k, r in records.items() if "search" in r}
        meta = R.run_meta("tripathi2019", cfg, data.corpus, wall_s=time.time() - t0, pieces=stats,
                          label_set=LABEL_SET, search=search,
                          seconds_per_fold=timing, embeddings="glove" if cfg.glove else "random",
                          **data.info)
        meta["wall_s_total"] = round(meta["wall_s"] + stats["reused_s"], 1)
        meta["empty_test"] = [k for k, r in records.items() if r["n_test"] == 0]
        doc = write_tables(wd.results, folds, meta, cfg)
        if publish is not None:
            R.publish(wd.results, publish)
    return doc


def table_records(folds: list[dict]) -> list[dict]:
    """Mean ± std over the folds that had test utterances (a MoCap-only model on a fold whose test
    utterances all lack MoCap has none: `run` lists those in ``meta.empty_test``)."""
    from emojax.experiments.framelevel import summarise
    folds = [r for r in folds if r["n_test"] > 0]
    recs = summarise(folds, ("protocol", "model", "subset", "modality"), metrics=("wa", "ua", "f1"),
                     task="emotion4")
    for r in recs:
        r["classifier"] = r["modality"]
        r["protocol"] = PROTOCOL_NAMES[r["protocol"]]
    return recs


def paper_records() -> list[dict]:
    out = [{"task": "emotion4", "classifier": MODALITY[m], "model": m, "metric": "wa", "mean": v,
            "folds": [], "subset": "all", "source": "paper"}            # the paper gives no std
           for m, v in PAPER_ACCURACY.items()]
    out.append({"task": "emotion4", "classifier": "speech", "model": "speech_batt", "metric": "wa",
                "mean": PAPER_IMPROVISED, "folds": [], "subset": "improvised", "source": "paper"})
    return out


def write_tables(res: Path, folds: list[dict], meta: dict, cfg: Config) -> dict:
    from emojax.experiments import framelevel as FL
    from emojax.experiments.results import records_json
    from emojax.experiments.runner import write_atomic
    recs = table_records(folds)
    tests = []
    for p in cfg.protocols:                  # fusion against each of its branches, fold by fold
        tests += FL.paired(recs, [({"model": "fusion"}, {"model": b}) for b in CORE[:-1]],
                           metric="wa", protocol=PROTOCOL_NAMES[p], subset="all")
    doc = {"meta": meta, "records": recs, "tests": tests, "paper": paper_records()}
    write_atomic(res / "tables.json", records_json(meta, recs, tests=tests, paper=doc["paper"]))
    write_atomic(res / "tables.md", to_markdown(doc, cfg))
    write_atomic(res / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
    _figure(res / "fig_fusion.png", recs)
    return doc


def _cell(r) -> str:
    if not r:
        return "—"
    if len(r["folds"]) == 1:
        return f"{100 * r['mean']:.1f} (n = 1)"
    return f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} (n = {len(r['folds'])})"


def to_markdown(doc: dict, cfg: Config) -> str:
    m = doc["meta"]
    by = {(r["protocol"], r["model"], r["subset"], r["metric"]): r for r in doc["records"]}
    prots = [PROTOCOL_NAMES[p] for p in cfg.protocols]
    lines = ["# Tripathi et al. 2019, Tables 1-5: speech, text, MoCap and their fusion", "",
             f"Corpus `{m['config']['corpus']}`: {m['n_labelled']} utterances of "
             f"{', '.join(m['classes'])} ({m['label_set']}); {m['missing_mocap']} without MoCap "
             f"({', '.join(m['missing_mocap_dialogs']) or 'none'}: left out of the MoCap-only models, "
             f"zeros and a flag in the fused one); {m['embeddings']} word embeddings. Accuracy, mean "
             "± std over folds (n = folds), %; leave_one_session_out = speaker-independent, "
             "random_20_percent = the paper's speaker-dependent random split. The paper's numbers "
             "are IEMOCAP's.", "",
             "| table | model | modality | paper | " + " | ".join(prots) + " |",
             "|---|---|---|---|" + "---|" * len(prots)]
    table_of = {"speech": "1", "text": "3", "mocap": "4", "fusion": "5"}
    for mod in ("speech", "text", "mocap", "fusion"):
        for k in (k for k in cfg.models if MODALITY[k] == mod):
            cells = [_cell(by.get((p, k, "all", "wa"))) for p in prots]
            lines.append(f"| {table_of[mod]} | {PAPER_NAMES[k]} (`{k}`) | {mod} | "
                         f"{100 * PAPER_ACCURACY[k]:.1f} | " + " | ".join(cells) + " |")
    imp = by.get(("leave_one_session_out", "speech_batt", "improvised", "wa"))
    if imp:
        lines.append(f"| 2 | Speech_Model4, improvised only | speech | {100 * PAPER_IMPROVISED:.1f} | "
                     + " | ".join(_cell(imp) if p == "leave_one_session_out" else "—" for p in prots) + " |")
    if m.get("empty_test"):
        lines += ["", "Not scored (none of the fold's test utterances has MoCap): "
                  + ", ".join(m["empty_test"]) + "."]
    if doc.get("tests"):
        from emojax.experiments.framelevel import tests_markdown
        lines += ["", "Fusion against each of its branches (accuracy, same folds):"]
        for p in prots:
            lines += [f"- {p}:", *("  " + t for t in tests_markdown(
                [t for t in doc["tests"] if t.get("protocol") == p]))]
    if m.get("search"):
        picks = [v["chosen"] for v in m["search"].values()]
        n = len(next(iter(m["search"].values()))["trials"])
        lines += ["", f"Fused model's hyper-parameters: in each fold {n} "
                  "candidates (the paper's widths, then random draws of the speech and text LSTM "
                  "widths, the fusion width and dropout), the lowest validation loss kept: the "
                  f"paper's were kept in {sum(c == 0 for c in picks)} of {len(picks)} folds."]
    from emojax.experiments.results import run_minutes
    lines += ["", f"Run: {run_minutes(m)} on {m['device']}; mean seconds per fold and model: "
              + ", ".join(f"{k} {v}" for k, v in m["seconds_per_fold"].items()) + "."]
    return "\n".join(lines) + "\n"


def _figure(path: Path, recs: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in recs if r["metric"] == "wa" and r["subset"] == "all"]
    prots = sorted({r["protocol"] for r in rows})
    fig, ax = plt.subplots(figsize=(9, 3.8))
    models = list(dict.fromkeys(r["model"] for r in rows))
    xs = np.arange(len(models))
    for j, p in enumerate(prots):
        vals = {r["model"]: r for r in rows if r["protocol"] == p}
        ax.bar(xs + (j - (len(prots) - 1) / 2) * 0.38, [100 * vals[k]["mean"] if k in vals else 0 for k in models],
               0.38, yerr=[100 * vals[k]["std"] if k in vals else 0 for k in models], label=p, capsize=2)
    ax.scatter(xs, [100 * PAPER_ACCURACY[k] for k in models], marker="_", s=300, color="k",
               label="paper (IEMOCAP)", zorder=3)
    ax.set_xticks(xs, models, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def readme_section(results: Path) -> list[str]:
    table = Path(results) / "tripathi2019" / "tables.md"
    if not table.is_file():
        return []
    md = table.read_text().splitlines()
    return ["### Tripathi et al. 2019, Tables 1-5 (`emojax reproduce tripathi2019`)", "", *md[2:], ""]
