"""Beyond the paper: how much of a measured "context" belongs to the data, how much to the training.

  emojax reproduce woellmer2012_study          # ~20 min on 2 CPU cores; configs/woellmer2012_study.yaml
  emojax reproduce woellmer2012_study:quick    # seconds (what the tests run)

On the embedded corpus the true context is known (the Bayes-optimal smoother, `oracle_sensitivity`).
Each study point trains the Wöllmer BLSTM on one task for the first ``folds`` leave-one-speaker-out
folds and measures the mean past context at θ (``analysis.theta``, 3 %) over output steps with
>= 10 predecessors (``analysis.position``), beside the oracle's on the same test sequences:

- ``rho`` sweep: the corpus' AR(1) coefficient, over several corpus seeds (does measured context rise
  with the true context?);
- ``l2``, ``forget_bias`` and ``scale`` (corpus size) sweeps at the default rho.

Writes WORKDIR/results/context_study.{json,csv,md} and fig4_context_vs_training.png; the default run
publishes them to results/woellmer2012/.
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

DESCRIPTION = "beyond Wöllmer 2012: measured vs true (oracle) context over rho, L2, forget bias, corpus size"
PUBLISH_AS = "woellmer2012"        # its tables and Fig. 4 sit beside the paper's in results/
PAPER: dict = {}                   # a study beyond the paper: no paper numbers


@dataclasses.dataclass(frozen=True)
class Config:
    task: str = "valence3"
    folds: int = 3                            # leave-one-speaker-out folds per point
    rho: float = 0.9                          # the default corpus' rho, where training sweeps run
    scale: float = 1.0                        # the default corpus size of every sweep but `scale`
    rhos: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
    seeds: tuple[int, ...] = (0, 1, 2)        # corpus seeds of the rho sweep
    l2s: tuple[float, ...] = (0.0, 0.001, 0.01, 0.03)
    forget_biases: tuple[float, ...] = (0.0, 1.0, 2.0)
    scales: tuple[float, ...] = (1.0, 2.0, 4.0)
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    seed: int = 0

    def __post_init__(self):
        from emojax.data.labels import WOELLMER_TASKS
        check("task", self.task, choices=WOELLMER_TASKS)
        check("folds", self.folds, at_least=1)
        for name in ("rhos", "seeds", "l2s", "forget_biases", "scales"):
            if not getattr(self, name):
                raise ValueError(f"setting {name!r}: give at least one value")
        check("rho", self.rho, at_least=0.0, below=1.0)
        for r in self.rhos:
            check("rhos", r, at_least=0.0, below=1.0)
        for v in self.l2s:
            check("l2s", v, at_least=0.0)
        check("scale", self.scale, positive=True)
        for v in self.scales:
            check("scales", v, positive=True)
        check("seed", self.seed, at_least=0)


SUMMARY = ("context_study.md",)
RECORD = "context_study.json"
QUICK = {"folds": 1, "scale": 0.2, "rhos": [0.5, 0.9], "seeds": [0], "l2s": [0.01],
         "forget_biases": [0.0], "scales": [0.2], "model": {"hidden": 16},
         "train": {"max_epochs": 3, "patience": 1}}


def points(cfg: Config) -> list[dict]:
    """Every study point: the corpus and training settings that differ from the defaults."""
    base = {"rho": cfg.rho, "seed": 0, "scale": cfg.scale, "l2": cfg.train.l2,
            "forget_bias": cfg.model.forget_bias}
    out = [{**base, "sweep": "rho", "rho": r, "seed": s} for r in cfg.rhos for s in cfg.seeds]
    out += [{**base, "sweep": "l2", "l2": v} for v in cfg.l2s]
    out += [{**base, "sweep": "forget_bias", "forget_bias": v} for v in cfg.forget_biases]
    out += [{**base, "sweep": "scale", "scale": v} for v in cfg.scales]
    return out


def _key(p: dict) -> str:
    """Points with the same settings (e.g. the default in every sweep) are trained once."""
    return "_".join(f"{k}={p[k]}" for k in ("rho", "seed", "scale", "l2", "forget_bias"))


def _point_config(cfg: Config, p: dict):
    """The Wöllmer experiment's settings of one study point."""
    from emojax.experiments import woellmer2012 as W
    return W.Config(corpus=f"synthetic:rho={p['rho']},seed={p['seed']},scale={p['scale']}",
                    tasks=(cfg.task,), classifiers=("blstm",), seed=cfg.seed,
                    model=dataclasses.replace(cfg.model, forget_bias=p["forget_bias"]),
                    train=dataclasses.replace(cfg.train, l2=p["l2"]), analysis=cfg.analysis)


def _settings(cfg: Config, p: dict) -> dict:
    w = _point_config(cfg, p)
    a = cfg.analysis                        # what the study uses of the analysis settings
    return {"experiment": "woellmer2012_study", "corpus": w.corpus, "task": cfg.task,
            "folds": cfg.folds, "seed": cfg.seed, "model": dataclasses.asdict(w.model),
            "train": dataclasses.asdict(w.train),
            "analysis": {"theta": a.theta, "position": a.position, "mode": a.mode}}


def run_point(cfg: Config, p: dict, progress=None) -> dict:
    """Train and measure one study point; returns its BLSTM and oracle context figures."""
    from emojax import data
    from emojax.data.batching import bucket_length
    from emojax.data.synthetic import oracle_sensitivity, params_of
    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.woellmer2012_analysis import context_figures, model_sensitivities
    from emojax.train.metrics import scores
    wcfg = _point_config(cfg, p)
    corpus = W.load_corpus(wcfg)
    seqs = data.sequences(corpus)
    spk, groups = W.folds_of(dataclasses.replace(wcfg, max_folds=cfg.folds), corpus, seqs, "folds")
    sp = params_of(corpus)
    S_model, S_oracle, f1 = [], [], []
    for f, group in enumerate(groups):
        prep = W.prepare_fold(corpus, seqs, spk, cfg.task, group, wcfg, f)
        width = bucket_length(prep["selected"].size)
        params, logits, _ = W.train_blstm(prep, seqs, wcfg, width, cfg.seed * 7919 + f * 31, progress)
        test = [s for s, part in zip(seqs, prep["part"]) if part == "test"]
        S_model += model_sensitivities(params, [prep["X"][s] for s in test], width,
                                       mode=cfg.analysis.mode)
        S_oracle += [oracle_sensitivity(sp, corpus.extras["dialog_turn"][s]) for s in test]
        pred = np.concatenate([lg.argmax(-1) for lg in logits])
        f1.append(scores(np.concatenate([prep["y"][s] for s in test]), pred,
                         prep["n_classes"])["f1"])
    out = {**{k: v for k, v in p.items() if k != "sweep"}, "task": cfg.task, "folds": len(groups),
           "f1": float(np.mean(f1))}
    for name, S in (("ordered", S_model), ("oracle", S_oracle)):
        v = context_figures(S, cfg.analysis)
        out[name] = {k: v[k] for k in ("past", "future", "lag1", "decay")}
    return out


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False) -> dict:
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    t0 = time.time()
    pts = points(cfg)
    pieces = {_key(p): _settings(cfg, p) for p in pts}
    by_key = {_key(p): p for p in pts}
    with open_workdir(workdir, fresh=fresh) as wd:
        def compute(keys, bar):
            for k in keys:
                yield k, run_point(cfg, by_key[k], bar)
        done, stats = run_pieces(wd, pieces, compute, desc="context study", unit="point",
                                 progress=progress)
        results = [{**done[_key(p)], "sweep": p["sweep"]} for p in pts]
        wall = round(time.time() - t0, 1)
        meta = R.run_meta("woellmer2012_study", cfg, wall_s=wall, pieces=stats,
                          wall_s_total=round(wall + stats["reused_s"], 1),
                          command="emojax reproduce woellmer2012_study",
                          theta=cfg.analysis.theta, position=cfg.analysis.position)
        outdir = wd.results
        outdir.mkdir(parents=True, exist_ok=True)
        records = []
        for r in results:
            for cond in ("ordered", "oracle"):
                records.append({"task": r["task"], "condition": cond, "theta": cfg.analysis.theta,
                                "position": cfg.analysis.position,
                                **{k: r[k] for k in ("sweep", "rho", "seed", "scale", "l2",
                                                     "forget_bias", "folds")},
                                **r[cond], **({"f1": r["f1"]} if cond == "ordered" else {})})
        (outdir / "context_study.json").write_text(json.dumps({"meta": meta, "records": records},
                                                              indent=1))
        cols = ["sweep", "rho", "seed", "scale", "l2", "forget_bias", "condition", "past",
                "future", "lag1", "decay", "f1"]
        R.write_csv(outdir / "context_study.csv", cols, ([r.get(c, "") for c in cols] for r in records))
        (outdir / "context_study.md").write_text(markdown(results, cfg.analysis))
        fig4(results, outdir / "fig4_context_vs_training.png", cfg.analysis)
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
    if (d / "fig4_context_vs_training.png").is_file():
        lines += ["![fig4](fig4_context_vs_training.png)", ""]
    return lines


def _where(acfg: AnalysisConfig) -> str:
    return f"θ = {100 * acfg.theta:g} %, steps with >= {acfg.min_predecessors} predecessors"


def markdown(results: list[dict], acfg: AnalysisConfig) -> str:
    lines = [f"# What the measured context depends on (embedded corpus, {_where(acfg)})", "",
             "| sweep | rho | seed | scale | l2 | forget bias | BLSTM past | oracle past | difference | "
             "BLSTM lag-1 | oracle lag-1 | BLSTM decay | oracle decay | F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        m, o = r["ordered"], r["oracle"]
        lines.append(f"| {r['sweep']} | {r['rho']} | {r['seed']} | {r['scale']} | {r['l2']} | "
                     f"{r['forget_bias']} | {m['past']:.2f} | {o['past']:.2f} | "
                     f"{m['past'] - o['past']:+.2f} | {m['lag1']:.2f} | {o['lag1']:.2f} | "
                     f"{m['decay']:.2f} | {o['decay']:.2f} | {100 * r['f1']:.1f} |")
    return "\n".join(lines) + "\n"


def fig4(results: list[dict], path: Path, acfg: AnalysisConfig) -> None:
    """Measured past context vs rho, L2, forget-gate bias and corpus size; the oracle as a line."""
    from emojax.analysis.plots import _plt
    plt = _plt()
    sweeps = [s for s in ("rho", "l2", "forget_bias", "scale") if any(r["sweep"] == s for r in results)]
    fig, axes = plt.subplots(1, len(sweeps), figsize=(4.2 * len(sweeps), 3.6), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps):
        rs = [r for r in results if r["sweep"] == sweep]
        xs = sorted({r[sweep] for r in rs})
        for cond, style in (("ordered", "C0-o"), ("oracle", "k:s")):
            mean = [np.mean([r[cond]["past"] for r in rs if r[sweep] == x]) for x in xs]
            sd = [np.std([r[cond]["past"] for r in rs if r[sweep] == x]) for x in xs]
            ax.errorbar(xs, mean, yerr=sd, fmt=style, capsize=3,
                        label="BLSTM" if cond == "ordered" else "oracle")
        if sweep == "l2" and 0.0 in xs and len(xs) > 1:
            ax.set_xscale("symlog", linthresh=min(x for x in xs if x > 0))
        ax.set(xlabel={"rho": "corpus rho", "l2": "L2", "forget_bias": "forget-gate bias init",
                       "scale": "corpus size (x default)"}[sweep], title=f"vs {sweep}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"past utterances ({_where(acfg)})", fontsize=8)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
