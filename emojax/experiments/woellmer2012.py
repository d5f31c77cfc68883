"""Wöllmer et al. 2012, Table 1: SVM vs BLSTM vs BLSTM on shuffled utterances; 5 tasks; 10-fold LOSO.

  emojax reproduce woellmer2012          # embedded corpus, 5 tasks x 10 folds + context analysis
                                         # (8 min on a 2-core CPU VM, cold compile cache,
                                         # 2 workers; the smoother: a closed-form fit; the
                                         # memoryless probes, on request, add a quarter)
  emojax reproduce woellmer2012:quick    # seconds; the same code path at tiny size (what tests run)
  emojax reproduce woellmer2012 --corpus table:my.csv   # a user's utterance table

Writes WORKDIR/results/table1.{json,md,csv} and run.json, the paper's numbers beside ours, and the
§5.2 context analysis (`emojax.experiments.woellmer2012_analysis`); the full default run also
publishes them to results/woellmer2012/.

Where emojax departs from the paper (which does not say):
- optimiser: Adam (lr 1e-3), batches of 8 sequences, early stopping on the validation loss of two
  training speakers (patience 10); the paper used RNNLIB, whose settings it does not report;
- regularisation and initialisation: L2 0.01 on weight matrices and forget-gate bias 0, both chosen
  on validation loss (see `emojax.train.fit.TrainConfig`, `emojax.models.woellmer.ModelConfig`);
  the paper names neither;
- CFS scores feature–class correlation with Hall's prior-weighted point-biserial correlation on
  continuous features (Weka discretises first); on the embedded corpus it keeps 28-45 of 200
  features for the level tasks and 4-12 for the cluster tasks (the paper: 66-224 of thousands);
- SVM: a linear SVM whose C is chosen on the same validation speakers;
- the embedded corpus has 200 utterance features standing in for the paper's audio-visual functionals.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from emojax import data
from emojax.config import check
from emojax.data import labels as L
from emojax.data import splits
from emojax.experiments.woellmer2012_analysis import AnalysisConfig
from emojax.models.woellmer import ModelConfig
from emojax.train.fit import TrainConfig

DESCRIPTION = "Wöllmer et al. 2012, Table 1 + §5.2 context: utterance-level BLSTM, 5 tasks, 10-fold LOSO"
# Wöllmer et al. 2012, Table 1: mean ± std of unweighted F1 [%] over 10 folds (copied once).
PAPER_TABLE_1 = {
    "valence3":    {"svm": (61.61, 4.75), "blstm": (65.12, 5.13), "blstm_shuffled": (59.71, 4.51)},
    "activation3": {"svm": (51.29, 3.84), "blstm": (54.90, 5.02), "blstm_shuffled": (52.10, 6.86)},
    "cluster3":    {"svm": (67.86, 5.36), "blstm": (72.35, 5.10), "blstm_shuffled": (67.86, 5.08)},
    "cluster4":    {"svm": (57.03, 6.05), "blstm": (62.80, 6.69), "blstm_shuffled": (59.27, 6.40)},
    "cluster5":    {"svm": (48.34, 7.58), "blstm": (54.60, 5.85), "blstm_shuffled": (51.68, 6.48)},
}
PAPER = {"table1": PAPER_TABLE_1}
CLASSIFIERS = ("svm", "blstm", "blstm_shuffled")
CLASSIFIER_NAMES = {"svm": "SVM", "blstm": "BLSTM", "blstm_shuffled": "BLSTM (shuffled)"}
TASKS = L.WOELLMER_TASKS + ("category",)
BLSTMS = ("blstm", "blstm_shuffled")


@dataclasses.dataclass(frozen=True)
class Config:
    corpus: str = "synthetic"
    tasks: tuple[str, ...] = L.WOELLMER_TASKS
    classifiers: tuple[str, ...] = CLASSIFIERS
    folds: int | None = None          # None: one fold per speaker (10 on IEMOCAP / the embedded corpus)
    max_folds: int | None = None      # run only the first N folds (quick runs)
    val_speakers: float = 0.25        # share of training speakers held out for early stopping / SVM C
    cfs: bool = True                  # §4: CFS on each training fold (kept 66-224 features in the paper)
    cfs_max_stale: int = 5
    seed: int = 0
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    svm_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
    analysis: AnalysisConfig = AnalysisConfig()   # §5.2 after training (emojax analyze WORKDIR)
    # train all folds and both conditions of a task as one program: equal to fold-by-fold up to
    # float summation order (and a fold's numbers then depend on which folds trained together)
    batched: bool = False

    def __post_init__(self):
        if not self.tasks:
            raise ValueError("setting 'tasks': give at least one task")
        for t in self.tasks:
            check("tasks", t, choices=TASKS)
        if not self.classifiers:
            raise ValueError("setting 'classifiers': give at least one classifier")
        for c in self.classifiers:
            check("classifiers", c, choices=CLASSIFIERS)
        if self.folds is not None:
            check("folds", self.folds, at_least=2)
        if self.max_folds is not None:
            check("max_folds", self.max_folds, at_least=1)
        check("seed", self.seed, at_least=0)
        check("val_speakers", self.val_speakers, positive=True, below=1.0)
        check("cfs_max_stale", self.cfs_max_stale, at_least=1)
        if "svm" in self.classifiers and not self.svm_grid:
            raise ValueError("setting 'svm_grid': give at least one C for the SVM")
        for c in self.svm_grid:
            check("svm_grid", c, positive=True)


QUICK = {"corpus": "synthetic:scale=0.2", "tasks": ["valence3", "cluster3"], "max_folds": 2,
         "model": {"hidden": 16}, "train": {"max_epochs": 4, "patience": 2}}
SUMMARY = ("table1.md", "context.md")   # what `emojax reproduce` prints
# Several processes (`emojax.parallel`) share the work with ``batched=true``: a task's stacked BLSTMs
# (folds × conditions) are sharded over every process's devices; tested equal to a one-process run.
DISTRIBUTED = True
RECORD = "run.json"                     # its meta holds the run's wall time (`emojax list`)


# ----------------------------------------------------------------------------- one fold of one task
def shuffle_within(seqs: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """The shuffled control: each sequence's utterance order randomly permuted (fixed by seed)."""
    rng = np.random.default_rng(seed)
    return [s[rng.permutation(len(s))] for s in seqs]


def _label_columns(task: str) -> str:
    return {"valence3": "valence", "activation3": "activation", "category": "category"}.get(
        task, "valence and activation")


def prepare_fold(corpus, seqs, seq_speaker, task, test_speakers, cfg: Config, fold: int):
    """Everything the classifiers of one fold share, fitted on training speakers only."""
    from emojax.features.normalise import zscore_apply, zscore_fit
    from emojax.features.selection import cfs_select
    test_set = set(test_speakers)
    train_spk = sorted(set(seq_speaker.tolist()) - test_set)
    val_spk = set(splits.validation_speakers(train_spk, cfg.val_speakers, cfg.seed + fold))
    part = np.array(["test" if s in test_set else "val" if s in val_spk else "train"
                     for s in seq_speaker])
    idx = {p: np.concatenate([seqs[i] for i in np.flatnonzero(part == p)]) for p in
           ("train", "val", "test")}
    fit_idx = np.concatenate([idx["train"], idx["val"]])          # every training speaker
    y, n_classes, fitted = L.task_labels(task, corpus.valence, corpus.activation, corpus.category,
                                         fit_idx, seed=cfg.seed)
    present = np.unique(y[fit_idx])
    if present.size < 2:
        where = corpus.params.get("path", corpus.name)
        raise ValueError(f"{where}: task {task} (column {_label_columns(task)}) has a single class "
                         f"({present.tolist()}) among the training speakers of fold {fold}; it "
                         "cannot be learned — drop it with --set tasks=[...]")
    mu, sd = zscore_fit(corpus.features[fit_idx])
    X = zscore_apply(corpus.features, mu, sd)
    selected = (cfs_select(X[fit_idx], y[fit_idx], max_stale=cfg.cfs_max_stale) if cfg.cfs
                else np.arange(X.shape[1]))
    if selected.size == 0:
        selected = np.arange(X.shape[1])
    return {"part": part, "idx": idx, "y": y, "n_classes": n_classes, "fitted": fitted,
            "ratings": task_ratings(task, corpus), "mu": mu, "sd": sd, "selected": selected,
            "X": X[:, selected], "val_speakers": sorted(val_spk)}


def task_ratings(task: str, corpus) -> np.ndarray | None:
    """The ratings a task's classes are cut from, ``(N, D)`` (valence3: valence; activation3:
    activation; a cluster task: both), or None (a category task)."""
    cols = {"valence3": ("valence",), "activation3": ("activation",)}.get(
        task, ("valence", "activation") if task.startswith("cluster") else ())
    got = [getattr(corpus, c) for c in cols]
    if not cols or any(v is None for v in got):
        return None
    return np.stack([np.asarray(v, np.float64) for v in got], axis=1)


def _items(prep, seqs, which):
    """The fold's sequences of one part as batch items: utterance features and one label each."""
    return [{"x": prep["X"][s], "y_step": prep["y"][s]} for s, p in zip(seqs, prep["part"])
            if p == which]


def _fold_record(prep, task, fold, test_speakers, cfg: Config) -> dict:
    """The fold's record, with the SVM baseline scored (the BLSTMs are added by `_score_blstm`)."""
    from emojax.data.batching import bucket_length
    from emojax.train.metrics import scores
    K, y, idx = prep["n_classes"], prep["y"], prep["idx"]
    out = {"task": task, "fold": fold, "test_speakers": list(test_speakers),
           "val_speakers": prep["val_speakers"], "n_train": int(idx["train"].size + idx["val"].size),
           "n_test": int(idx["test"].size), "n_features": int(prep["selected"].size),
           # the selected features, zero-padded to a multiple of 16: few compiles
           "width": bucket_length(prep["selected"].size),
           "selected": prep["selected"].tolist(), "mu": prep["mu"].tolist(),
           "sd": prep["sd"].tolist(), "n_classes": K, **prep["fitted"], "scores": {}, "info": {}}
    if "svm" in cfg.classifiers:
        from emojax.baselines import svm
        pred, info = svm.fit_predict(prep["X"][idx["train"]], y[idx["train"]], prep["X"][idx["val"]],
                                     y[idx["val"]], prep["X"][idx["test"]], grid=cfg.svm_grid,
                                     seed=cfg.seed)
        out["scores"]["svm"] = scores(y[idx["test"]], pred, K)
        out["info"]["svm"] = info
    return out


def _condition(seqs, clf: str, cfg: Config, fold: int):
    """(sequences in the order the classifier sees them, its training seed)."""
    run_seqs = seqs if clf == "blstm" else shuffle_within(seqs, cfg.seed + 1000)
    return run_seqs, cfg.seed * 7919 + fold * 31 + (clf == "blstm_shuffled")


def checkpoint_name(task: str, fold: int, clf: str) -> str:
    return f"{task}_fold{fold:02d}_{clf}"


def _score_blstm(out, prep, clf, run_seqs, params, logits, info, ckpt_dir):
    from emojax.train.checkpoint import save_params
    from emojax.train.metrics import scores
    test_seqs = [s for s, p in zip(run_seqs, prep["part"]) if p == "test"]
    pred = np.concatenate([lg.argmax(-1) for lg in logits])
    truth = np.concatenate([prep["y"][s] for s in test_seqs])
    out["scores"][clf] = scores(truth, pred, prep["n_classes"])
    out["info"][clf] = info
    if ckpt_dir is not None:
        name = checkpoint_name(out["task"], out["fold"], clf)
        save_params(ckpt_dir / name, params)
        out.setdefault("checkpoints", []).append(name)      # the runner checks they still exist


def train_blstm(prep, seqs, cfg: Config, width: int, seed: int, progress=None):
    """Train one utterance-level BLSTM on `seqs` (already shuffled for the control) with the one
    engine (M = 1, or one model per ``train.l2_grid`` value); (params, test logits, info)."""
    import jax

    from emojax.models import woellmer as model
    from emojax.train.fit import evaluate, fit_select_l2
    from emojax.train.losses import step_cross_entropy
    init = model.init_from(cfg.model, jax.random.PRNGKey(seed), width, prep["n_classes"])
    params, info = fit_select_l2(model.apply, step_cross_entropy, init, cfg.train,
                                 _items(prep, seqs, "train"), _items(prep, seqs, "val"), width, seed,
                                 progress)
    _, (logits,) = evaluate(model.apply, step_cross_entropy, cfg.train, params,
                            [_items(prep, seqs, "test")], width)
    return params, logits, info


def run_folds(corpus, seqs, seq_speaker, task, folds, cfg: Config, ckpt_dir: Path | None = None,
              progress=None) -> list[dict]:
    """Folds of one task: the SVM per fold, and every BLSTM model (folds × conditions) trained by
    the one engine, `emojax.train.fit.fit`: all of them as one vmapped program when ``batched``,
    else model by model (M = 1). Both give the same numbers up to float summation order."""
    import jax

    from emojax.models import woellmer as model
    from emojax.train.fit import evaluate, fit, stack
    from emojax.train.losses import step_cross_entropy
    t = cfg.train
    if cfg.batched and t.l2_grid:
        raise ValueError("setting 'train.l2_grid' is not supported with batched=true; give train.l2")
    preps, outs, models = [], [], []
    for fold, group in folds:
        prep = prepare_fold(corpus, seqs, seq_speaker, task, group, cfg, fold)
        preps.append(prep)
        outs.append(_fold_record(prep, task, fold, group, cfg))
        for clf in (c for c in BLSTMS if c in cfg.classifiers):
            run_seqs, seed = _condition(seqs, clf, cfg, fold)
            models.append((len(preps) - 1, clf, run_seqs, seed))
    items = lambda i, rs, part: _items(preps[i], rs, part)  # noqa: E731
    init = lambda i, seed: model.init_from(cfg.model, jax.random.PRNGKey(seed),  # noqa: E731
                                           outs[i]["width"], preps[i]["n_classes"])
    if not cfg.batched:
        for i, clf, rs, seed in models:
            params, logits, info = train_blstm(preps[i], rs, cfg, outs[i]["width"], seed, progress)
            _score_blstm(outs[i], preps[i], clf, rs, params, logits, info, ckpt_dir)
        return outs
    if not models:
        return outs
    width = max(o["width"] for o in outs)
    shard = jax.device_count() > 1        # over every device, those of other processes too
    best, infos = fit(model.apply, step_cross_entropy,
                      [model.pad_inputs(init(i, seed), width) for i, _, _, seed in models], t,
                      [items(i, rs, "train") for i, _, rs, _ in models],
                      [items(i, rs, "val") for i, _, rs, _ in models], width,
                      [seed for *_, seed in models], shard=shard, progress=progress)
    _, logits = evaluate(model.apply, step_cross_entropy, t, stack(best),
                         [items(i, rs, "test") for i, _, rs, _ in models], width)
    for (i, clf, rs, _), p, lg, info in zip(models, best, logits, infos):
        info["sharded"] = shard
        p = model.crop_inputs(p, outs[i]["width"])             # back to the fold's own inputs
        _score_blstm(outs[i], preps[i], clf, rs, p, lg, info, ckpt_dir)
    return outs


# ----------------------------------------------------------------------------- the experiment
def load_corpus(cfg: Config, progress: bool = False):
    """The marker wearers' utterances of the corpus, with features. A corpus that carries audio
    but no utterance features (``iemocap:PATH``) gets the paper's audio-visual front end: the
    functionals of the `woellmer2012` descriptors and, where the wearer's face MoCap exists, of
    30 PFA-selected face-marker coordinates + deltas (`emojax.features.pipeline`)."""
    from emojax.data.synthetic import marker_wearers
    corpus = marker_wearers(data.load(cfg.corpus))
    if corpus.features.shape[1] == 0 and corpus.wav is not None:
        from emojax.features.pipeline import utterance_features
        visual = bool(np.any(corpus.extras.get("has_mocap", False)))
        corpus = utterance_features(corpus, audio=("woellmer2012",), visual=visual,
                                    progress=progress)
    return corpus


def piece_settings(cfg: Config, corpus) -> dict:
    """What shapes a fold's numbers: every setting but those that only pick pieces (tasks,
    max_folds) or run after training (analysis), and the corpus's content."""
    c = dataclasses.asdict(cfg)
    for k in ("tasks", "max_folds", "analysis", "corpus"):
        c.pop(k)
    # the corpus by content: the same bytes reached by another path resume
    content = {k: v for k, v in corpus.params.items()
               if k not in ("path", "root", "prepared", "front_end_report")}
    return {"experiment": "woellmer2012", "config": c, "corpus": content}


def plan(cfg: Config, corpus):
    """(sequences, speaker of each, test speakers per fold, {piece key: settings}) of a run."""
    seqs = data.sequences(corpus)
    seq_speaker, groups = folds_of(cfg, corpus, seqs)
    base = piece_settings(cfg, corpus)
    pieces = {f"{task}_fold{f:02d}": {**base, "task": task, "fold": f, "test_speakers": g}
              for task in cfg.tasks for f, g in enumerate(groups)}
    return seqs, seq_speaker, groups, pieces


def folds_of(cfg: Config, corpus, seqs, max_name: str = "max_folds"):
    """(speaker of each sequence, [test speakers of each fold to run]); bad fold settings stop here."""
    seq_speaker = np.array([corpus.speaker[s[0]] for s in seqs])
    n_spk = len(set(seq_speaker.tolist()))
    if n_spk < 3:
        raise ValueError(f"{corpus.name}: leave-one-speaker-out needs at least 3 speakers "
                         f"(test, validation, training); the corpus has {n_spk}")
    if cfg.folds is not None and cfg.folds > n_spk:
        raise ValueError(f"setting 'folds': {cfg.folds} folds need {cfg.folds} speakers; "
                         f"{corpus.name} has {n_spk}")
    groups = splits.leave_one_speaker_out(seq_speaker, cfg.folds)
    if cfg.max_folds is not None and cfg.max_folds > len(groups):
        raise ValueError(f"setting {max_name!r}: {cfg.max_folds} > the {len(groups)} folds of "
                         f"{corpus.name}")
    for g in groups:
        left = n_spk - len(g)                          # training speakers of this fold
        n_val = len(splits.validation_speakers([str(i) for i in range(left)], cfg.val_speakers, 0))
        if left - n_val < 1:
            raise ValueError(f"settings 'folds'/'val_speakers': a fold tests {len(g)} of {n_spk} "
                             f"speakers and validates on {n_val}, leaving none to train on")
    return seq_speaker, groups[:cfg.max_folds]


def _computer(cfg: Config, corpus, seqs, seq_speaker, groups, checkpoints: Path | None):
    """The fold runner's compute: (task, fold) pieces of one task -> their records."""
    def compute(keys, bar):
        task = keys[0].split("_fold")[0]
        todo = [(int(k.split("_fold")[1]), groups[int(k.split("_fold")[1])]) for k in keys]
        for rec in run_folds(corpus, seqs, seq_speaker, task, todo, cfg, checkpoints, bar):
            yield f"{task}_fold{rec['fold']:02d}", rec
    return compute


def worker_computer(cfg: Config, checkpoints: str):
    """`_computer` built afresh in a worker process (`emojax.experiments.pool`): the corpus is
    loaded again there (generated, or read from its cached features)."""
    corpus = load_corpus(cfg)
    seqs, seq_speaker, groups, _ = plan(cfg, corpus)
    return _computer(cfg, corpus, seqs, seq_speaker, groups, Path(checkpoints))


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False, workers: int = 1) -> dict:
    """Train and evaluate every (task, fold), reusing finished folds made with the same settings;
    write Table 1; then the §5.2 analysis (``analysis.enabled``). `workers` > 1 computes the
    pieces (and the analysis's models) in that many local processes with the same numbers
    (`emojax.experiments.pool`)."""
    from emojax.experiments import results as R
    from emojax.experiments import woellmer2012_report as report
    from emojax import parallel
    from emojax.experiments.runner import open_workdir, run_pieces
    if parallel.count() > 1 and not cfg.batched:
        raise ValueError("several processes share a task's models only when they train as one "
                         "program: add --set batched=true")
    from emojax.nn.lstm import train_kernel
    if cfg.batched and train_kernel() == "directions":
        raise ValueError("EMOJAX_LSTM_KERNEL=directions puts a layer's directions on the devices "
                         "that batched=true spreads its models over; use one of the two")
    t0 = time.time()
    corpus = load_corpus(cfg, progress)
    cfg = tasks_for(cfg, corpus)
    seqs, seq_speaker, groups, pieces = plan(cfg, corpus)

    with open_workdir(workdir, fresh=fresh) as wd:
        records, stats = run_pieces(
            wd, pieces, _computer(cfg, corpus, seqs, seq_speaker, groups, wd.checkpoints),
            group=(lambda k: k.split("_fold")[0]) if cfg.batched else (lambda k: k),
            desc="woellmer2012", unit="fold", progress=progress, workers=workers,
            spec=(__name__, "worker_computer", (cfg, str(wd.checkpoints))))
        fold_results = list(records.values())
        shutil.rmtree(wd.results, ignore_errors=True)       # only this run's files, nothing stale
        meta = R.run_meta("woellmer2012", cfg, corpus, wall_s=time.time() - t0, pieces=stats,
                          n_sequences=len(seqs),
                          cfs_features={f"{r['task']}/fold{r['fold']:02d}": r["n_features"]
                                        for r in fold_results})

        def tables():
            meta["wall_s"] = round(time.time() - t0, 1)
            meta["wall_s_total"] = round(meta["wall_s"] + stats["reused_s"], 1)
            return report.write_table1(wd.results, fold_results, meta, PAPER_TABLE_1,
                                       cfg.classifiers)
        doc = tables()                                 # written before the analysis can fail
        if cfg.analysis.enabled:
            from emojax.experiments import woellmer2012_analysis as A
            A.analyze_workdir(wd, cfg, corpus, fold_results, progress=progress, workers=workers)
            doc = tables()                             # wall time: training, tables and analysis
        if publish is not None:
            R.publish(wd.results, publish)
    return doc


def tasks_for(cfg: Config, corpus) -> Config:
    """A table with only `category` runs one task, `category` (DESIGN.md "Conventions")."""
    if corpus.valence is None and corpus.activation is None:
        return dataclasses.replace(cfg, tasks=("category",))
    return cfg


def config_from_run(run_config: dict) -> Config:
    from emojax import config as C
    return C.override(Config(), {k: v for k, v in run_config.items()})


def analyze(workdir: Path, *, overrides: dict | None = None, publish: Path | None = None,
            progress: bool = True, workers: int = 1) -> dict:
    """§5.2 from a finished run's checkpoints (the run's models are not retrained); `overrides`
    are ``analysis.*`` settings, e.g. ``{"analysis.theta": 0.05, "analysis.mode": "rev"}``."""
    from emojax import config as C
    from emojax.experiments import results as R
    from emojax.experiments import woellmer2012_analysis as A
    from emojax.experiments.runner import load_pieces, open_workdir, read_json
    workdir = Path(workdir)
    path = workdir / "results" / "run.json"
    run_json = read_json(path, "run record")
    if not isinstance(run_json, dict) or not isinstance(run_json.get("config"), dict):
        raise ValueError(f"{path}: not a run record (no config); rerun `emojax reproduce`")
    cfg = config_from_run(run_json["config"])
    if overrides:
        bad = [k for k in overrides if not k.startswith("analysis.")]
        if bad:
            raise ValueError(f"emojax analyze takes only analysis.* settings; got {', '.join(bad)}")
        cfg = C.override(cfg, overrides)
    corpus = load_corpus(cfg)
    cfg = tasks_for(cfg, corpus)
    *_, pieces = plan(cfg, corpus)
    with open_workdir(workdir) as wd:
        # the run's own folds, checked against the corpus and settings as they are now
        records = load_pieces(wd, pieces)[0]
        out = A.analyze_workdir(wd, cfg, corpus, list(records.values()), progress=progress,
                                workers=workers)
        if publish is not None:
            R.publish(wd.results, publish)
    return out


# ----------------------------------------------------------------------------- README sections
def readme_section(results: Path) -> list[str]:
    """The README's lines for this paper, from the committed results/ (nothing hand-copied)."""
    from emojax.experiments import woellmer2012_report as report
    return report.readme_section(results)


def results_readme(results: Path) -> str | None:
    from emojax.experiments import woellmer2012_report as report
    return report.results_readme(results)
