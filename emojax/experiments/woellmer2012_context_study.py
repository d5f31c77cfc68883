"""Beyond the paper: how much of a measured "context" belongs to the data, how much to the training.

  emojax reproduce woellmer2012_context          # ~20 min on 2 CPU cores; configs/woellmer2012_context.yaml
  emojax reproduce woellmer2012_context:quick    # seconds (what the tests run)

On the embedded corpus the true context is known (the Bayes-optimal smoother, `oracle_sensitivity`).
Each study point trains the Wöllmer BLSTM on one task for the first ``folds`` leave-one-speaker-out
folds and measures the mean past context at θ = 3 % over output steps with >= 10 predecessors, beside
the oracle's on the same test sequences:

- ``rho`` sweep: the corpus' AR(1) coefficient, over several corpus seeds (does measured context rise
  with the true context?);
- ``l2``, ``forget_bias`` and ``scale`` (corpus size) sweeps at the default rho.

Writes WORKDIR/results/context_study.{json,csv,md} and fig4_context_vs_training.png; the default run
publishes them to results/woellmer2012/.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from emojax.train.fit import TrainConfig


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
    train: TrainConfig = TrainConfig()
    seed: int = 0


SUMMARY = "context_study.md"
QUICK = {"folds": 1, "scale": 0.2, "rhos": [0.5, 0.9], "seeds": [0], "l2s": [0.01],
         "forget_biases": [0.0], "scales": [0.2], "train": {"hidden": 16, "max_epochs": 3, "patience": 1}}


def points(cfg: Config) -> list[dict]:
    """Every study point: the corpus and training settings that differ from the defaults."""
    base = {"rho": cfg.rho, "seed": 0, "scale": cfg.scale, "l2": cfg.train.l2,
            "forget_bias": cfg.train.forget_bias}
    out = [{**base, "sweep": "rho", "rho": r, "seed": s} for r in cfg.rhos for s in cfg.seeds]
    out += [{**base, "sweep": "l2", "l2": v} for v in cfg.l2s]
    out += [{**base, "sweep": "forget_bias", "forget_bias": v} for v in cfg.forget_biases]
    out += [{**base, "sweep": "scale", "scale": v} for v in cfg.scales]
    return out


def _key(p: dict) -> str:
    """Points with the same settings (e.g. the default in every sweep) are trained once."""
    return "_".join(f"{k}={p[k]}" for k in ("rho", "seed", "scale", "l2", "forget_bias"))


def run_point(cfg: Config, p: dict) -> dict:
    """Train and measure one study point; returns its BLSTM and oracle context figures."""
    from emojax import data
    from emojax.analysis import context as ctx
    from emojax.data import splits
    from emojax.data.synthetic import oracle_sensitivity, params_of
    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.woellmer2012_context import MIN_PRED, THETA, model_sensitivities
    from emojax.train.batching import bucket_length
    from emojax.train.metrics import scores
    train = dataclasses.replace(cfg.train, l2=p["l2"], forget_bias=p["forget_bias"])
    wcfg = W.Config(corpus=f"synthetic:rho={p['rho']},seed={p['seed']},scale={p['scale']}",
                    tasks=(cfg.task,), classifiers=("blstm",), train=train, seed=cfg.seed)
    corpus = W.load_corpus(wcfg)
    seqs = data.sequences(corpus)
    spk = np.array([corpus.speaker[s[0]] for s in seqs])
    groups = splits.leave_one_speaker_out(spk)[:cfg.folds]
    sp = params_of(corpus)
    S_model, S_oracle, f1 = [], [], []
    for f, group in enumerate(groups):
        prep = W.prepare_fold(corpus, seqs, spk, cfg.task, group, wcfg, f)
        width = bucket_length(prep["selected"].size)
        params, logits, _ = W.train_blstm(prep, seqs, wcfg, width, seed=cfg.seed * 7919 + f * 31)
        test = [s for s, part in zip(seqs, prep["part"]) if part == "test"]
        S_model += model_sensitivities(params, [prep["X"][s] for s in test], width)
        S_oracle += [oracle_sensitivity(sp, corpus.extras["dialog_turn"][s]) for s in test]
        pred = np.concatenate([lg.argmax(-1) for lg in logits])
        f1.append(scores(np.concatenate([prep["y"][s] for s in test]), pred,
                         prep["n_classes"])["f1"])
    out = {**p, "task": cfg.task, "folds": len(groups), "f1": float(np.mean(f1))}
    for name, S in (("ordered", S_model), ("oracle", S_oracle)):
        th = ctx.context_vs_threshold(S, [THETA], min_predecessors=MIN_PRED)
        offs, prof = ctx.sensitivity_profile(S, 20)
        lam, lag1 = ctx.decay_rate(offs, prof, max_distance=10)
        out[name] = {"past": float(th["past_ge"][0]), "future": float(th["future_ge"][0]),
                     "lag1": float(lag1), "decay": float(lam)}
    return out


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True) -> dict:
    from tqdm.auto import tqdm

    from emojax.experiments.results import publish as publish_dir
    from emojax.experiments.results import versions
    t0 = time.time()
    workdir = Path(workdir)
    (workdir / "points").mkdir(parents=True, exist_ok=True)
    results = []
    for p in tqdm(points(cfg), desc="context study", disable=not progress, unit="point"):
        path = workdir / "points" / f"{_key(p)}.json"
        if not path.exists():                                      # resume: finished points kept
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(run_point(cfg, p)))
            tmp.replace(path)
        results.append({**json.loads(path.read_text()), "sweep": p["sweep"]})
    import jax
    meta = {"experiment": "woellmer2012_context", "config": dataclasses.asdict(cfg),
            "device": str(jax.devices()[0]), "command": "emojax reproduce woellmer2012_context",
            "versions": versions(), "wall_s": round(time.time() - t0, 1), "theta": 0.03,
            "position": "ge10"}
    outdir = workdir / "results"
    outdir.mkdir(parents=True, exist_ok=True)
    records = []
    for r in results:
        for cond in ("ordered", "oracle"):
            records.append({"task": r["task"], "condition": cond, "theta": 0.03, "position": "ge10",
                            **{k: r[k] for k in ("sweep", "rho", "seed", "scale", "l2",
                                                 "forget_bias", "folds")},
                            **r[cond], **({"f1": r["f1"]} if cond == "ordered" else {})})
    (outdir / "context_study.json").write_text(json.dumps({"meta": meta, "records": records},
                                                          indent=1))
    with open(outdir / "context_study.csv", "w", newline="") as f:
        cols = ["sweep", "rho", "seed", "scale", "l2", "forget_bias", "condition", "past",
                "future", "lag1", "decay", "f1"]
        w = csv.writer(f)
        w.writerow(cols)
        for r in records:
            w.writerow([r.get(c, "") for c in cols])
    (outdir / "context_study.md").write_text(markdown(results))
    fig4(results, outdir / "fig4_context_vs_training.png")
    if publish is not None:
        publish_dir(outdir, publish)
    return {"meta": meta, "records": records}


def markdown(results: list[dict]) -> str:
    lines = ["# What the measured context depends on (embedded corpus, θ = 3 %, steps with >= 10 "
             "predecessors)", "",
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


def fig4(results: list[dict], path: Path) -> None:
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
    axes[0][0].set_ylabel("past utterances at 3 % (steps >= 10)")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
