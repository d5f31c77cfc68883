"""Beyond the paper: is the measured context the true one? Over rho x signal-to-noise x corpus seeds.

  emojax reproduce woellmer2012_study          # ~9 min on 2 quiet CPU cores; configs/woellmer2012_study.yaml
  emojax reproduce woellmer2012_study:quick    # seconds (what the tests run)

On corpora with a known answer the true context is exact (the Bayes-optimal smoother's
sensitivity, counted like the network's). Each study point trains the Wöllmer BLSTM on one task for
the first ``folds`` leave-one-speaker-out folds and counts the mean past context at θ
(``analysis.theta``, 3 %) over output steps with >= 10 predecessors, by every estimator of
``analysis.estimators`` (the paper's count, the memoryless-start probe, both read per direction,
and the first-order smoother fitted without a network), with its 95 % interval (over test
sequences; the smoother's, its count at the ends of its decay's bootstrap interval), beside the
truth on the same test sequences:

- the embedded corpus (`emojax.data.synthetic`) over ``rhos`` x ``snrs`` x ``seeds``, at
  ``sequences`` speaker sequences (fewer than the default corpus: the study's cost);
- the second known-answer corpus (`emojax.data.statespace`: 60 sequences, 40 features of which
  half weak) over ``rhos`` x ``statespace_snrs`` x ``statespace_seeds``;
- the embedded corpus's size: ``sizes`` sequences at ``size_rhos`` x ``size_snr`` (weak signal),
  where the error of the grid is largest: does it shrink with more data to learn from (Fig. 7)?
- optional training sweeps at the default corpus (``l2s``, ``forget_biases``, ``scales``).

Corpus seeds of the default config were never used while an estimator was chosen or examined
(the memoryless probe was chosen on statespace seeds 0-2 and embedded seed 0, checked on embedded
seed 10 and statespace seeds 10-11; its size and training on embedded seeds 1, 2 and 20, checked on
embedded seed 14 and statespace seeds 14-15; the per-direction reading was examined on embedded
seeds 1-2; the smoother was chosen on embedded seeds 1, 2 and 20 and checked on embedded seed 16
and statespace seeds 16-17, its interval chosen on embedded seeds 1-5 and 20 and statespace seeds
0-5 and checked on embedded seeds 18-19 and statespace seeds 18-21, and both checked again on
embedded seeds 21-26 and statespace seeds 22-33; its rating target was chosen on embedded seeds 1,
2 and 20 and statespace seeds 0-5 and checked beside the classes on embedded seeds 27-34 and
statespace seeds 34-49; the causes use seed 20).
Writes WORKDIR/results/context_study.{json,csv,md}, fig4_measured_vs_true.png,
fig7_context_vs_size.png and, for the corpus-size sweep,
context_assumed.{json,md} and fig8_assumed_rho.png (none with ``assumed_rhos=[]``); the default
run publishes them to
results/woellmer2012/.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from emojax.config import check
from emojax.experiments.woellmer2012_analysis import AnalysisConfig
from emojax.models.woellmer import ModelConfig
from emojax.train.fit import TrainConfig

DESCRIPTION = "beyond Wöllmer 2012: measured vs true context over rho x signal-to-noise x corpus seeds, two corpora"
PUBLISH_AS = "woellmer2012"        # its tables and Fig. 4 sit beside the paper's in results/
PAPER: dict = {}                   # a study beyond the paper: no paper numbers


@dataclasses.dataclass(frozen=True)
class Config:
    task: str = "valence3"
    folds: int = 2                            # leave-one-speaker-out folds per point
    rhos: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95)
    snrs: tuple[float, ...] = (0.25, 1.0, 4.0)          # embedded corpus: `snr` (1 = default)
    seeds: tuple[int, ...] = (12,)                       # embedded corpus seeds
    sequences: int = 100                                 # embedded corpus size (the default corpus: 150)
    statespace_snrs: tuple[float, ...] = (0.07,)
    statespace_seeds: tuple[int, ...] = (12, 13)
    # corpus size: the embedded corpus at each of ``sizes`` sequences (rho in ``size_rhos``, snr
    # ``size_snr``, corpus ``seeds``): does the error where the true context is long and the signal
    # weak shrink as the network gets more data to learn it from?
    sizes: tuple[int, ...] = (100, 300, 900)
    size_rhos: tuple[float, ...] = (0.0, 0.9, 0.95)
    size_snr: float = 0.25
    # for each point of that sweep, the exact smoother's classifier and those of smoothers that
    # assume another rho: how much F1 and cross-entropy a shorter or longer context costs (Fig. 8;
    # none with assumed_rhos=[])
    assumed_rhos: tuple[float, ...] = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97)
    # optional training sweeps at the default embedded corpus (rho 0.9, seed 0, full size)
    l2s: tuple[float, ...] = ()
    forget_biases: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    analysis: AnalysisConfig = AnalysisConfig(
        estimators=("paper", "memoryless", "smoother", "directional", "memoryless_directional"))
    seed: int = 0

    def __post_init__(self):
        from emojax.data.labels import WOELLMER_TASKS
        check("task", self.task, choices=WOELLMER_TASKS)
        check("folds", self.folds, at_least=1)
        if not self.rhos:
            raise ValueError("setting 'rhos': give at least one value")
        for r in self.rhos:
            check("rhos", r, at_least=0.0, below=1.0)
        for v in tuple(self.snrs) + tuple(self.statespace_snrs):
            check("snrs", v, positive=True)
        check("sequences", self.sequences, at_least=10)
        for n in self.sizes:
            check("sizes", n, at_least=10)
        for r in self.size_rhos:
            check("size_rhos", r, at_least=0.0, below=1.0)
        check("size_snr", self.size_snr, positive=True)
        for r in self.assumed_rhos:
            check("assumed_rhos", r, at_least=0.0, below=1.0)
        for v in self.l2s:
            check("l2s", v, at_least=0.0)
        for v in self.scales:
            check("scales", v, positive=True)
        check("seed", self.seed, at_least=0)


SUMMARY = ("context_study.md",)
RECORD = "context_study.json"
QUICK = {"folds": 1, "rhos": [0.5, 0.9], "snrs": [1.0], "seeds": [0], "sequences": 30,
         "sizes": [30, 60], "size_rhos": [0.9],
         "statespace_snrs": [0.07], "statespace_seeds": [0], "model": {"hidden": 16},
         "train": {"max_epochs": 3, "patience": 1}}


def points(cfg: Config) -> list[dict]:
    """Every study point: its corpus spec and the training settings that differ from the defaults."""
    base = {"l2": cfg.train.l2, "forget_bias": cfg.model.forget_bias}
    def embedded(sweep, r, v, s, n):
        return {**base, "sweep": sweep, "corpus": "synthetic", "rho": r, "snr": v, "seed": s,
                "sequences": n, "spec": f"synthetic:rho={r},snr={v},seed={s},sequences={n}"}
    out = [embedded("rho_snr", r, v, s, cfg.sequences)
           for r in cfg.rhos for v in cfg.snrs for s in cfg.seeds]
    out += [{**base, "sweep": "rho_snr", "corpus": "statespace", "rho": r, "snr": v, "seed": s,
             "spec": f"statespace:rho={r},snr={v},seed={s}"}
            for r in cfg.rhos for v in cfg.statespace_snrs for s in cfg.statespace_seeds]
    out += [embedded("sequences", r, cfg.size_snr, s, n)
            for r in cfg.size_rhos for s in cfg.seeds for n in cfg.sizes]
    default = {**base, "corpus": "synthetic", "rho": 0.9, "snr": 1.0, "seed": 0}
    for sweep, key, values in (("l2", "l2", cfg.l2s), ("forget_bias", "forget_bias", cfg.forget_biases),
                               ("scale", "scale", cfg.scales)):
        for v in values:
            p = {**default, "sweep": sweep, key: v}
            p["spec"] = f"synthetic:rho=0.9,seed=0,scale={p.get('scale', 1.0)}"
            out.append(p)
    return out


def _key(p: dict) -> str:
    """Points with the same settings are trained once."""
    return f"{p['spec']}_l2={p['l2']}_fb={p['forget_bias']}"


def _point_config(cfg: Config, p: dict):
    """The Wöllmer experiment's settings of one study point."""
    from emojax.experiments import woellmer2012 as W
    return W.Config(corpus=p["spec"], tasks=(cfg.task,), classifiers=("blstm",), seed=cfg.seed,
                    model=dataclasses.replace(cfg.model, forget_bias=p["forget_bias"]),
                    train=dataclasses.replace(cfg.train, l2=p["l2"]), analysis=cfg.analysis)


def _settings(cfg: Config, p: dict) -> dict:
    from emojax.analysis import smoother
    from emojax.experiments.woellmer2012_analysis import estimator_config
    w = _point_config(cfg, p)
    a = cfg.analysis                        # what the study uses of the analysis settings
    probe = estimator_config(w, "memoryless")     # the probe's model and training, as trained
    return {"experiment": "woellmer2012_study", "corpus": w.corpus, "task": cfg.task,
            "folds": cfg.folds, "seed": cfg.seed, "model": dataclasses.asdict(w.model),
            "train": dataclasses.asdict(w.train),
            "analysis": {"theta": a.theta, "position": a.position, "mode": a.mode,
                         "estimators": list(a.estimators), "seeds": a.seeds, "level": a.level,
                         # (a point fitted to the classes keys as before the setting existed)
                         **({"smoother_draws": a.smoother_draws, "smoother": smoother.constants(),
                             **({"smoother_target": a.smoother_target}
                                if a.smoother_target != "classes" else {})}
                            if "smoother" in a.estimators else {}),
                         "probe_model": dataclasses.asdict(probe.model),
                         "probe_train": dataclasses.asdict(probe.train)}}


def run_point(cfg: Config, p: dict, progress=None) -> dict:
    """Train and measure one study point: per estimator its context figures and interval, and the
    truth's, on the same test sequences."""
    from emojax import data
    from emojax.data.batching import bucket_length
    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.woellmer2012_analysis import (
        NETWORK, TASK_DIMS, _oracle, by_network, context_figures, draws, estimator_config,
        extend_ends, interval, oracle_f1, read_estimators, seed_offset, smoother_readings,
        split_ends)
    from emojax.train.metrics import scores
    wcfg = _point_config(cfg, p)
    a = cfg.analysis
    corpus = W.load_corpus(wcfg)
    seqs = data.sequences(corpus)
    spk, groups = W.folds_of(dataclasses.replace(wcfg, max_folds=cfg.folds), corpus, seqs, "folds")
    oracle = _oracle(corpus)
    S_est = {e: [[] for _ in range(draws(a, NETWORK[e]))] for e in a.estimators}
    ends: dict = {}                         # estimator -> {"low": [S], "high": [S]}
    S_true, f1, f1_oracle = [], [], []
    networks = by_network(a.estimators)
    for f, group in enumerate(groups):
        prep = W.prepare_fold(corpus, seqs, spk, cfg.task, group, wcfg, f)
        width = bucket_length(prep["selected"].size)
        test = [s for s, part in zip(seqs, prep["part"]) if part == "test"]
        xs = [prep["X"][s] for s in test]
        for net, ests in networks.items():
            if net == "smoother":
                for k in range(draws(a, net)):
                    main, at_ends = split_ends(smoother_readings(
                        prep, seqs, corpus.speaker, [len(s) for s in test], k,
                        cfg.seed * 7919 + f * 31, a.level, a.smoother_target))
                    S_est["smoother"][k] += main["smoother"]
                    for est, sides in at_ends.items():
                        extend_ends(ends, est, sides)
                continue
            ncfg = estimator_config(wcfg, ests[0])
            for k in range(a.seeds):
                seed = cfg.seed * 7919 + f * 31 + seed_offset(ests[0], k)
                params, logits, _ = W.train_blstm(prep, seqs, ncfg, width, seed, progress)
                for est, S in read_estimators(params, xs, width, ests, mode=a.mode).items():
                    S_est[est][k] += S
                if net == "paper" and k == 0:
                    pred = np.concatenate([lg.argmax(-1) for lg in logits])
                    f1.append(scores(np.concatenate([prep["y"][s] for s in test]), pred,
                                     prep["n_classes"])["f1"])
        f1_oracle.append(oracle_f1(corpus, prep, seqs, cfg.task))
        dims = TASK_DIMS.get(cfg.task, (0, 1))
        S_true += [oracle(corpus.extras["dialog_turn"][s], dims=dims) for s in test]
    out = {**{k: v for k, v in p.items() if k != "sweep"}, "task": cfg.task, "folds": len(groups),
           "f1": float(np.mean(f1)) if f1 else None,
           "f1_oracle": None if None in f1_oracle else float(np.mean(f1_oracle)),
           "n_sequences": len(S_true)}
    v = context_figures(S_true, a)
    out["truth"] = {k: v[k] for k in ("past", "future", "lag1", "decay")}
    for est, per_seed in S_est.items():
        pooled = [S for seed in per_seed for S in seed]
        v, ci = context_figures(pooled, a), interval(per_seed, a, ends=ends.get(est))
        out[est] = {**{k: v[k] for k in ("past", "future", "lag1", "decay")},
                    **{k: ci[k] for k in ("past_low", "past_high", "future_low", "future_high")}}
    return out


def scorecard(results: list[dict], estimators) -> dict:
    """Per estimator and corpus: the share of points within ±1 of the truth, the mean error, the
    Spearman rank correlation of measured and true past context (the rho x snr grid only), the
    share of points whose interval holds the truth, the share whose interval is resolved to ±1
    (`emojax.analysis.context.resolved`) and the share within ±1 among those (NaN where there are
    none)."""
    from scipy.stats import spearmanr

    from emojax.analysis import context as ctx
    out = {}
    grid = [r for r in results if r.get("sweep", "rho_snr") == "rho_snr"]
    scopes = {c: [r for r in grid if r["corpus"] == c] for c in sorted({r["corpus"] for r in grid})}
    scopes["all"] = grid
    scopes["all, rho >= 0.5"] = [r for r in grid if r["rho"] >= 0.5]     # the grid
    for corpus, rs in scopes.items():
        truth = np.array([r["truth"]["past"] for r in rs])
        for est in estimators:
            m = np.array([r[est]["past"] for r in rs])
            rho = spearmanr(m, truth)[0] if len(rs) > 2 and np.ptp(truth) > 0 else float("nan")
            near = np.abs(m - truth) <= 1
            lo, hi = (np.array([r[est][k] for r in rs]) for k in ("past_low", "past_high"))
            ok = ctx.resolved(m, lo, hi)
            out[f"{corpus}/{est}"] = {"corpus": corpus, "estimator": est, "points": len(rs),
                                      "within_1": float(np.mean(near)),
                                      "mean_error": float(np.mean(m - truth)),
                                      "spearman": float(rho),
                                      "covered": float(np.mean((lo <= truth) & (truth <= hi))),
                                      "resolved": float(np.mean(ok)),
                                      "within_1_resolved": float(np.mean(near[ok])) if ok.any()
                                      else float("nan")}
    return out


def size_scorecard(results: list[dict], estimators) -> dict:
    """The ``sequences`` sweep pooled per estimator and corpus size (over its rhos and seeds): the
    share of points within ±1 of the truth, the mean error and mean absolute error, and the share
    resolved to ±1 (`emojax.analysis.context.resolved`): how much data a count needs to be right."""
    from emojax.analysis import context as ctx
    sweep = [r for r in results if r.get("sweep") == "sequences"]
    out = {}
    for n in sorted({r["sequences"] for r in sweep}):
        rs = [r for r in sweep if r["sequences"] == n]
        truth = np.array([r["truth"]["past"] for r in rs])
        for est in estimators:
            m = np.array([r[est]["past"] for r in rs])
            lo, hi = (np.array([r[est][k] for r in rs]) for k in ("past_low", "past_high"))
            out[f"{n}/{est}"] = {"sequences": n, "estimator": est, "points": len(rs),
                                 "within_1": float(np.mean(np.abs(m - truth) <= 1)),
                                 "mean_error": float(np.mean(m - truth)),
                                 "mean_abs_error": float(np.mean(np.abs(m - truth))),
                                 "resolved": float(np.mean(ctx.resolved(m, lo, hi)))}
    return out


ASSUMED = "assumed_rho_"   # the piece key prefix of a point's assumed-rho smoothers


def assumed_rho(cfg: Config, p: dict) -> list[dict]:
    """One point of the ``sequences`` sweep, no training: for its exact smoother and for smoothers
    that assume each rho of ``assumed_rhos`` instead, the past context they use (counted like the
    truth, on the point's test sequences) and the F1 and cross-entropy of a classifier on their
    estimate (`emojax.experiments.woellmer2012_analysis.estimate_scores`, fitted on the training
    speakers), means over the point's folds."""
    from emojax import data
    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.woellmer2012_analysis import (
        TASK_DIMS, _oracle, context_figures, estimate_scores, oracle_estimates)
    wcfg = _point_config(cfg, p)
    corpus = W.load_corpus(wcfg)
    seqs = data.sequences(corpus)
    spk, groups = W.folds_of(dataclasses.replace(wcfg, max_folds=cfg.folds), corpus, seqs, "folds")
    preps = [W.prepare_fold(corpus, seqs, spk, cfg.task, g, wcfg, f) for f, g in enumerate(groups)]
    turns, dims = corpus.extras["dialog_turn"], TASK_DIMS.get(cfg.task, (0, 1))
    out = []
    for r in sorted({float(v) for v in cfg.assumed_rhos} | {float(p["rho"])}):
        Z, oracle = oracle_estimates(corpus, seqs, cfg.task, {"rho": r}), _oracle(corpus, {"rho": r})
        got = [estimate_scores(Z, prep, seqs) for prep in preps]
        S = [oracle(turns[s], dims=dims) for prep in preps
             for s, part in zip(seqs, prep["part"]) if part == "test"]
        out.append({"assumed_rho": r, "exact": r == float(p["rho"]),
                    "past": context_figures(S, cfg.analysis)["past"],
                    "f1": float(np.mean([g["f1"] for g in got])),
                    "xent": float(np.mean([g["xent"] for g in got]))})
    return out


def _assumed_settings(cfg: Config, p: dict) -> dict:
    a = cfg.analysis
    return {"experiment": "woellmer2012_study", "kind": "assumed_rho",
            "corpus": _point_config(cfg, p).corpus, "task": cfg.task, "folds": cfg.folds,
            "seed": cfg.seed, "assumed_rhos": sorted(cfg.assumed_rhos),
            "analysis": {"theta": a.theta, "position": a.position}}


def pieces_of(cfg: Config) -> dict[str, dict]:
    """The study's pieces, {key: settings}: every point, and with ``assumed_rhos`` each point of the
    ``sequences`` sweep's assumed-rho smoothers (none with ``assumed_rhos=[]``)."""
    pts = points(cfg)
    pieces = {_key(p): _settings(cfg, p) for p in pts}
    if cfg.assumed_rhos:
        pieces.update({ASSUMED + _key(p): _assumed_settings(cfg, p) for p in pts
                       if p["sweep"] == "sequences"})
    return pieces


def assumed_curves(pts: list[dict], results: list[dict], done: dict, ests, ident) -> list[dict]:
    """Per point of the ``sequences`` sweep that has its assumed-rho smoothers in `done`, its
    identity (`ident`), truth, estimators' counts and those smoothers. A grid point whose corpus
    is a sweep point's (same key) is not one of them: the sweep is."""
    return [{**{k: r.get(k) for k in ident}, "truth": r["truth"]["past"],
             **{e: r[e]["past"] for e in ests}, "smoothers": done[ASSUMED + _key(p)]}
            for p, r in zip(pts, results)
            if p["sweep"] == "sequences" and ASSUMED + _key(p) in done]


def point_computer(cfg: Config):
    """The fold runner's compute over study points and their assumed-rho smoothers (also built in
    worker processes)."""
    by_key = {_key(p): p for p in points(cfg)}

    def compute(keys, bar):
        for k in keys:
            if k.startswith(ASSUMED):
                yield k, assumed_rho(cfg, by_key[k[len(ASSUMED):]])
            else:
                yield k, run_point(cfg, by_key[k], bar)
    return compute


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False, workers: int = 1) -> dict:
    """Every point of the grid (a piece each), then the scorecard, tables and Fig. 4; `workers`
    > 1 computes the points in that many local processes (`emojax.experiments.pool`)."""
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    t0 = time.time()
    pts = points(cfg)
    pieces = pieces_of(cfg)
    with open_workdir(workdir, fresh=fresh) as wd:
        done, stats = run_pieces(wd, pieces, point_computer(cfg), desc="context study",
                                 unit="point", progress=progress, workers=workers,
                                 spec=(__name__, "point_computer", (cfg,)))
        results = [{**done[_key(p)], "sweep": p["sweep"], "sequences": p.get("sequences")}
                   for p in pts]
        wall = round(time.time() - t0, 1)
        meta = R.run_meta("woellmer2012_study", cfg, wall_s=wall, pieces=stats,
                          wall_s_total=round(wall + stats["reused_s"], 1),
                          command="emojax reproduce woellmer2012_study",
                          theta=cfg.analysis.theta, position=cfg.analysis.position)
        outdir = wd.results
        outdir.mkdir(parents=True, exist_ok=True)
        ests = list(cfg.analysis.estimators)
        card = scorecard(results, ests)
        meta["recommended_estimator"] = cfg.analysis.recommended
        meta["scorecard"] = card
        meta["size_scorecard"] = size_scorecard(results, ests)
        records = []
        ident = ("sweep", "corpus", "rho", "snr", "seed", "sequences", "l2", "forget_bias", "folds",
                 "n_sequences")
        for r in results:
            base = {"task": r["task"], "theta": cfg.analysis.theta,
                    "position": cfg.analysis.position, **{k: r.get(k) for k in ident}}
            records.append({**base, "condition": "oracle", "estimator": "paper", **r["truth"],
                            **({"f1": r["f1_oracle"]} if r.get("f1_oracle") is not None else {})})
            for est in ests:
                records.append({**base, "condition": "ordered", "estimator": est, **r[est],
                                **({"f1": r["f1"]} if est == "paper" and r.get("f1") is not None
                                   else {})})
        (outdir / "context_study.json").write_text(json.dumps({"meta": meta, "records": records},
                                                              indent=1))
        cols = list(ident) + ["condition", "estimator", "past", "past_low", "past_high", "future",
                              "lag1", "decay", "f1"]
        R.write_csv(outdir / "context_study.csv", cols, ([r.get(c, "") for c in cols] for r in records))
        (outdir / "context_study.md").write_text(markdown(results, cfg.analysis, card, meta))
        fig4(results, outdir / "fig4_measured_vs_true.png", cfg.analysis)
        fig7(results, outdir / "fig7_context_vs_size.png", cfg.analysis)
        curves = assumed_curves(pts, results, done, ests, ident)
        if curves:
            (outdir / "context_assumed.json").write_text(json.dumps(
                {"meta": {"experiment": "woellmer2012_study", "analysis": "assumed_rho",
                          "task": cfg.task, "theta": cfg.analysis.theta,
                          "position": cfg.analysis.position, "estimators": ests,
                          "recommended_estimator": cfg.analysis.recommended},
                 "records": curves}, indent=1))
            (outdir / "context_assumed.md").write_text(assumed_markdown(curves, cfg.analysis))
            fig8(curves, outdir / "fig8_assumed_rho.png", cfg.analysis)
        else:                                   # none asked for: no earlier run's left behind
            for name in ("context_assumed.json", "context_assumed.md", "fig8_assumed_rho.png"):
                for d in (outdir, publish) if publish is not None else (outdir,):
                    (d / name).unlink(missing_ok=True)
        if publish is not None:
            R.publish(outdir, publish)
    return {"meta": meta, "records": records}


def readme_lines(d: Path) -> list[str]:
    """results/woellmer2012/README.md's section for the study (published beside the paper's)."""
    smeta = json.loads((d / "context_study.json").read_text())["meta"]
    lines = ["## " + (d / "context_study.md").read_text().lstrip("# "),
             f"Written by `{smeta.get('command', 'emojax reproduce woellmer2012_study')}` on "
             f"`{smeta.get('device', '?')}` in {smeta.get('wall_s_total', smeta['wall_s']):.0f} s; "
             f"{smeta['config']['folds']} folds per point.", ""]
    for fig in ("fig4_measured_vs_true.png", "fig4_context_vs_training.png"):
        if (d / fig).is_file():
            lines += [f"![fig4]({fig})", ""]
            break
    if (d / "fig7_context_vs_size.png").is_file():
        lines += ["![fig7](fig7_context_vs_size.png)", ""]
    if (d / "context_assumed.md").is_file():
        lines += ["## " + (d / "context_assumed.md").read_text().lstrip("# "), ""]
        if (d / "fig8_assumed_rho.png").is_file():
            lines += ["![fig8](fig8_assumed_rho.png)", ""]
    return lines


def _where(acfg: AnalysisConfig) -> str:
    return f"θ = {100 * acfg.theta:g} %, steps with >= {acfg.min_predecessors} predecessors"


def markdown(results: list[dict], acfg: AnalysisConfig, card: dict, meta: dict) -> str:
    from emojax.experiments import results as R
    ests = [acfg.recommended] + [e for e in acfg.estimators if e != acfg.recommended]
    pct = f"{100 * acfg.level:g} %"
    lines = [f"# Measured vs true context ({_where(acfg)})", "",
             f"Past context of the BLSTM on corpora whose true context is known, by estimator "
             f"(`{acfg.recommended}` recommended), with the {pct} interval over test sequences and "
             "training seeds (the smoother's: its count at the ends of its decay's bootstrap "
             "interval over the training speakers); truth: the Bayes-optimal smoother's count on "
             "the same test sequences "
             "and the task's latent dimension. F1: the paper's BLSTM; F1 oracle: a classifier on the "
             "smoother's estimate (what a model using exactly the true context reaches).", "",
             f"Resolved: the count's {pct} interval lies within ±1 of it (the data rule out "
             "every value farther away); the last column is the share within ±1 of the truth "
             "among those points. The networks' intervals leave out their bias (they cover "
             "sequences and seeds only), so theirs can be narrow and wrong.", "",
             "| estimator | corpus | points | within ±1 of the truth | mean error | Spearman (measured, true) "
             "| interval holds the truth | resolved to ±1 | within ±1 where resolved |",
             "|---|---|---|---|---|---|---|---|---|"]
    for v in sorted(card.values(), key=lambda v: (ests.index(v["estimator"]), v["corpus"])):
        lines.append(f"| {v['estimator']} | {v['corpus']} | {v['points']} | "
                     f"{100 * v['within_1']:.0f} % | {v['mean_error']:+.2f} | {v['spearman']:.2f} | "
                     f"{R.share(v.get('covered'))} | {R.share(v.get('resolved'))} | "
                     f"{R.share(v.get('within_1_resolved'))} |")
    head = "| sweep | corpus | rho | snr | seed | sequences | truth | " + " | ".join(
        f"{e} past [{pct}] | {e} error" for e in ests) + " | F1 | F1 oracle |"
    lines += ["", head, "|" + "---|" * (9 + 2 * len(ests))]

    def pct_or_dash(v):
        return "–" if v is None else f"{100 * v:.1f}"
    for r in results:
        t = r["truth"]["past"]
        cells = " | ".join(f"{r[e]['past']:.2f} [{r[e]['past_low']:.2f}, {r[e]['past_high']:.2f}] | "
                           f"{r[e]['past'] - t:+.2f}" for e in ests)
        lines.append(f"| {r['sweep']} | {r['corpus']} | {r['rho']} | {r['snr']} | {r['seed']} | "
                     f"{r.get('sequences') or '–'} | {t:.2f} | {cells} | {pct_or_dash(r.get('f1'))} | "
                     f"{pct_or_dash(r.get('f1_oracle'))} |")
    sized = meta.get("size_scorecard") or {}
    if sized:
        snr = next(r["snr"] for r in results if r.get("sweep") == "sequences")
        lines += ["", f"Corpus size (the `sequences` sweep, snr {snr:g}, its rhos and seeds pooled):",
                  "", "| estimator | sequences | points | within ±1 of the truth | mean error | "
                  "mean abs. error | resolved to ±1 |", "|---|---|---|---|---|---|---|"]
        for v in sorted(sized.values(), key=lambda v: (ests.index(v["estimator"]), v["sequences"])):
            lines.append(f"| {v['estimator']} | {v['sequences']} | {v['points']} | "
                         f"{R.share(v['within_1'])} | {v['mean_error']:+.2f} | "
                         f"{v['mean_abs_error']:.2f} | {R.share(v['resolved'])} |")
    lines += ["", f"Whole study: {R.run_minutes(meta, 'points')}."]
    return "\n".join(lines) + "\n"


def fig4(results: list[dict], path: Path, acfg: AnalysisConfig) -> None:
    """Measured against true past context, one panel per estimator, the identity line and ±1."""
    from emojax.analysis.plots import _plt
    plt = _plt()
    ests = [acfg.recommended] + [e for e in acfg.estimators if e != acfg.recommended]
    grid = [r for r in results if r.get("sweep", "rho_snr") == "rho_snr"] or results
    top = max(max(r["truth"]["past"], *(r[e]["past_high"] for e in ests)) for r in grid) + 1
    fig, axes = plt.subplots(1, len(ests), figsize=(4.6 * len(ests), 4.4), squeeze=False)
    marks = {"synthetic": "o", "statespace": "s"}
    for ax, est in zip(axes[0], ests):
        ax.plot([0, top], [0, top], "k-", lw=0.8, label="identity")
        ax.fill_between([0, top], [-1, top - 1], [1, top + 1], color="0.85", label="±1")
        snrs = sorted({r["snr"] for r in grid})
        for r in grid:
            t, m = r["truth"]["past"], r[est]
            c = f"C{snrs.index(r['snr'])}"
            ax.errorbar(t, m["past"], yerr=[[m["past"] - m["past_low"]], [m["past_high"] - m["past"]]],
                        fmt=marks.get(r["corpus"], "^"), color=c, ms=5, capsize=2)
        for i, v in enumerate(snrs):
            ax.plot([], [], "o", color=f"C{i}", label=f"snr {v:g}")
        for c, mk in marks.items():
            ax.plot([], [], mk, color="0.4", label=c)
        ax.set(xlim=(-0.5, top), ylim=(-0.5, top), xlabel="true past context (oracle)",
               ylabel="measured past context", title=f"estimator: {est}")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Measured vs true context ({_where(acfg)})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig7(results: list[dict], path: Path, acfg: AnalysisConfig) -> None:
    """The ``sequences`` sweep: measured minus true past context against the corpus size, one
    panel per rho, a line per estimator, the ±1 band shaded; nothing without that sweep."""
    from emojax.analysis.plots import _plt
    sweep = [r for r in results if r.get("sweep") == "sequences"]
    if not sweep:
        return
    plt = _plt()
    ests = [acfg.recommended] + [e for e in acfg.estimators if e != acfg.recommended]
    rhos = sorted({r["rho"] for r in sweep})
    fig, axes = plt.subplots(1, len(rhos), figsize=(4.4 * len(rhos), 3.8), squeeze=False,
                             sharey=True)
    for ax, rho in zip(axes[0], rhos):
        rs = sorted((r for r in sweep if r["rho"] == rho), key=lambda r: (r["seed"], r["sequences"]))
        sizes = sorted({r["sequences"] for r in rs})
        ax.axhspan(-1, 1, color="0.88", label="±1")
        ax.axhline(0, color="k", lw=0.8)
        seeds = sorted({r["seed"] for r in rs})
        for i, est in enumerate(ests):
            for seed in seeds:
                pts = [r for r in rs if r["seed"] == seed]
                n = [r["sequences"] for r in pts]
                err = [r[est]["past"] - r["truth"]["past"] for r in pts]
                lo = [r[est]["past_low"] - r["truth"]["past"] for r in pts]
                hi = [r[est]["past_high"] - r["truth"]["past"] for r in pts]
                ax.plot(n, err, "o-", color=f"C{i}",
                        label=est if seed == seeds[0] and rho == rhos[0] else None)
                ax.fill_between(n, lo, hi, color=f"C{i}", alpha=0.15)
        t = sorted(r["truth"]["past"] for r in rs)        # many points: the range only
        truths = (", ".join(f"{v:.1f}" for v in t) if len(t) <= 3
                  else f"{t[0]:.1f}–{t[-1]:.1f} over {len(t)} points")
        ax.set(xscale="log", xticks=sizes, xticklabels=[str(v) for v in sizes],
               xlabel="speaker sequences in the corpus", title=f"rho {rho:g} (truth {truths})")
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("measured − true past context")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Error against corpus size, snr {sweep[0]['snr']:g}\n({_where(acfg)})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def assumed_markdown(curves: list[dict], acfg: AnalysisConfig) -> str:
    """context_assumed.md: per point of the ``sequences`` sweep, the smoothers' context, F1 and
    cross-entropy beside the exact one's, and what the estimators measured."""
    ests = [acfg.recommended] + [e for e in acfg.estimators if e != acfg.recommended]
    lines = [f"# Does the data pin the context down? ({_where(acfg)})", "",
             "For each point of the corpus-size sweep: the Bayes-optimal smoother (exact) and "
             "smoothers that assume another rho, each read like the truth, with the F1 and "
             "cross-entropy (nats per utterance) of a classifier on its estimate (fitted on the "
             "training speakers, scored on the same test sequences as the networks). Where a "
             "much shorter context costs little, the labels (all that training sees) give little "
             "evidence for the longer one: compare the estimators' counts, listed below.", ""]
    head = ["rho", "sequences", "assumed rho", "past context", "F1", "ΔF1", "cross-entropy",
            "Δ cross-entropy"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in curves:
        exact = next(v for v in c["smoothers"] if v["exact"])
        for v in c["smoothers"]:
            lines.append(
                f"| {c['rho']} | {c['sequences']} | {v['assumed_rho']:g}{' (exact)' if v['exact'] else ''} | "
                f"{v['past']:.2f} | {100 * v['f1']:.1f} | {100 * (v['f1'] - exact['f1']):+.1f} | "
                f"{v['xent']:.4f} | {v['xent'] - exact['xent']:+.4f} |")
    lines += ["", "Measured on the same points (past context): " + "; ".join(
        f"rho {c['rho']}, {c['sequences']} sequences: truth {c['truth']:.2f}, " + ", ".join(
            f"{e} {c[e]:.2f}" for e in ests) for c in curves) + "."]
    return "\n".join(lines) + "\n"


def fig8(curves: list[dict], path: Path, acfg: AnalysisConfig) -> None:
    """F1 and cross-entropy of the smoothers' classifiers against the context they use, one column
    per rho, a line per corpus size; the exact smoother ringed, the estimators' counts dashed."""
    from emojax.analysis.plots import _plt
    plt = _plt()
    ests = [acfg.recommended] + [e for e in acfg.estimators if e != acfg.recommended]
    rhos = sorted({c["rho"] for c in curves if c["rho"] > 0}) or sorted({c["rho"] for c in curves})
    fig, axes = plt.subplots(2, len(rhos), figsize=(4.6 * len(rhos), 6.4), squeeze=False)
    sizes = sorted({c["sequences"] for c in curves})
    for j, rho in enumerate(rhos):
        for c in (c for c in curves if c["rho"] == rho):
            col = f"C{sizes.index(c['sequences'])}"
            xs = [v["past"] for v in c["smoothers"]]
            for i, key in enumerate(("f1", "xent")):
                ys = [100 * v[key] if key == "f1" else v[key] for v in c["smoothers"]]
                axes[i][j].plot(xs, ys, "o-", color=col, ms=3, label=f"{c['sequences']} sequences")
                ex = next(v for v in c["smoothers"] if v["exact"])
                axes[i][j].plot(ex["past"], 100 * ex[key] if key == "f1" else ex[key], "o",
                                mfc="none", mec="k", ms=9)
                if c["sequences"] == sizes[-1]:
                    for k, e in enumerate(ests[:2]):
                        axes[i][j].axvline(c[e], color="0.3", ls=("--", ":")[k], lw=1,
                                           label=f"{e} ({c['sequences']})" if i == 0 else None)
        axes[0][j].set(title=f"rho {rho:g}", ylabel="F1 [%]")
        axes[1][j].set(xlabel="past context of the smoother (count)", ylabel="cross-entropy [nats]")
        for i in (0, 1):
            axes[i][j].grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"What a shorter or longer context costs (ringed: the exact smoother)\n({_where(acfg)})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
