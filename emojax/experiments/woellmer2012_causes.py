"""Beyond the paper: why the sequential-Jacobian count overestimates the true context.

  emojax reproduce woellmer2012_causes         # ~2 min on 2 quiet CPU cores; configs/woellmer2012_causes.yaml
  emojax reproduce woellmer2012_causes:quick   # seconds (what the tests run)

Each candidate cause is measured on corpora whose true context is known, with no temporal
structure (rho = 0, truth 0) and with some (rho = 0.9), on both known-answer corpora, by counting
the past context (θ = 3 %, steps with >= 10 predecessors) of the valence BLSTM's test sequences in
several ways:

| row | what it isolates |
| --- | --- |
| ``init_fb0`` / ``init_fb-2`` | a freshly initialised BLSTM of the paper's size (no training), forget-gate bias 0 (the model's default) or -2: the context the architecture shows before learning anything |
| ``paper`` | the trained BLSTM, the paper's count (mean over ``seeds`` training seeds; their spread in ``seed_sd``, ``seed_min``, ``seed_max``) |
| ``seed_mean_jacobian`` | the signed Jacobian averaged over the seeds before |J| and counting (does seed noise inflate the count?) |
| ``self_reference`` | the threshold taken of S[t, t] instead of the row maximum (mean over the seeds) |
| ``l2_features`` | features combined by the root sum of squares instead of Σ|J| (does a sum over many low-signal features build a floor?) (mean over the seeds) |
| ``signal_features`` | Σ|J| over the features that carry signal only (informative and redundant ones; statespace: the strong half) (mean over the seeds) |
| ``memoryless`` | the probe BLSTM trained from a near-memoryless start (forget-gate bias ``analysis.memoryless_forget_bias``; its own size and training, ``analysis.memoryless_{hidden,lr,l2,by_length}``) |
| ``directional`` | the paper's BLSTMs read per direction: the past against the forward direction's own maximum (the current input reaches the output through both directions, a past one through one: does the row maximum halve the past?) (mean over the seeds) |
| ``memoryless_directional`` | the memoryless probe read per direction |
| ``memoryless_long`` | the memoryless probe trained longer (``long_patience``, ``long_max_epochs``; Adam's step ``long_lr``, by default the probe's own): does the training budget cap the memory it learns? |

Beside them, the macro F1 of the paper's BLSTM and of a classifier on the Bayes-optimal smoother's
estimate (``f1_oracle``: a model using exactly the true context): where the BLSTM falls short of
it, it has not learned the context the truth counts. Fig. 6 draws the mean past sensitivity
profile (relative to the reference step) of the truth and of the main readings per corpus.

Writes WORKDIR/results/context_causes.{json,md,csv} and fig5_causes.png; the default run publishes
them to results/woellmer2012/.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from emojax.config import check
from emojax.experiments.woellmer2012_analysis import AnalysisConfig, network_settings
from emojax.models.woellmer import ModelConfig
from emojax.train.fit import TrainConfig

DESCRIPTION = "beyond Wöllmer 2012: why the context count overestimates (init memory, seeds, features, reference)"
PUBLISH_AS = "woellmer2012"
PAPER: dict = {}
ROWS = ("truth", "init_fb0", "init_fb-2", "paper", "seed_mean_jacobian", "self_reference",
        "l2_features", "signal_features", "memoryless", "directional", "memoryless_directional",
        "memoryless_long")
PROFILE_ROWS = ("truth", "paper", "directional", "memoryless", "memoryless_directional",
                "memoryless_long")            # Fig. 6
MAX_LAG = 10


@dataclasses.dataclass(frozen=True)
class Config:
    task: str = "valence3"
    folds: int = 2
    seeds: int = 3                       # training seeds of the paper's BLSTM per fold
    corpora: tuple[str, ...] = ("synthetic:rho=0,seed=20,sequences=100",
                                "synthetic:rho=0.9,seed=20,sequences=100",
                                "synthetic:rho=0.9,snr=0.25,seed=20,sequences=100",
                                "statespace:rho=0,seed=20", "statespace:rho=0.9,seed=20")
    # the `memoryless_long` row's training: more patience and epochs than the probe's own; Adam's
    # step long_lr (None: the probe's own, analysis.memoryless_lr or train.lr)
    long_lr: float | None = None
    long_patience: int = 30
    long_max_epochs: int = 200
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    seed: int = 0

    def __post_init__(self):
        from emojax.data.labels import WOELLMER_TASKS
        check("task", self.task, choices=WOELLMER_TASKS)
        check("folds", self.folds, at_least=1)
        check("seeds", self.seeds, at_least=2)
        if self.long_lr is not None:
            check("long_lr", self.long_lr, positive=True)
        check("long_patience", self.long_patience, at_least=1)
        check("long_max_epochs", self.long_max_epochs, at_least=1)
        if not self.corpora:
            raise ValueError("setting 'corpora': give at least one corpus with a known answer")
        for c in self.corpora:
            if c.split(":")[0] not in ("synthetic", "statespace"):
                raise ValueError(f"setting 'corpora': {c!r} has no known answer; use synthetic:... "
                                 "or statespace:...")

    def long_training(self, base: TrainConfig) -> TrainConfig:
        """`base` (the probe's own training) with the `memoryless_long` row's budget (and step,
        where ``long_lr`` is given)."""
        return dataclasses.replace(base, lr=base.lr if self.long_lr is None else self.long_lr,
                                   patience=self.long_patience,
                                   max_epochs=self.long_max_epochs)


SUMMARY = ("context_causes.md",)
RECORD = "context_causes.json"
QUICK = {"folds": 1, "seeds": 2, "corpora": ["synthetic:rho=0.9,seed=0,sequences=30"],
         "model": {"hidden": 16}, "train": {"max_epochs": 3, "patience": 1}, "long_max_epochs": 4,
         "long_patience": 2}


def _jacobians(params, xs, width, mode):
    """Per sequence, on the host: ``J (T, K, T, 2, F_real)``, the parts carried by the first
    layer's forward and backward directions (their sum is the whole Jacobian)."""
    from emojax.experiments.woellmer2012_analysis import jacobian_batches
    out = []
    for chunk, J in jacobian_batches(params, xs, width, mode=mode, directions=True):
        J = np.asarray(J)
        out += [J[j, :len(x), :, :len(x)] for j, x in enumerate(chunk)]
    return out


def _whole(J):
    """The whole Jacobian ``(T, K, T, F)`` from its per-direction parts."""
    return J[..., 0, :] + J[..., 1, :]


def _per_direction(J):
    """S (2, T, T): Σ|J| of each direction's part (`emojax.analysis.context`'s per-direction S)."""
    return np.stack([np.abs(J[..., d, :]).sum(axis=(1, 3)) for d in (0, 1)])


def _abs_sum(J, cols=None):
    A = np.abs(J if cols is None else J[..., cols])
    return A.sum(axis=(1, 3))


def _count(S_list, acfg, reference="max"):
    """Mean past count at θ over steps with >= N predecessors; `reference` "max" (the paper's
    row maximum) or "self" (S[t, t])."""
    from emojax.analysis import context as ctx
    if reference == "max":
        return float(ctx.context_vs_threshold(S_list, [acfg.theta],
                                              min_predecessors=acfg.min_predecessors)["past_ge"][0])
    # scale each row so that its diagonal is its maximum: then the row-max rule is the self rule
    scaled = []
    for S in S_list:
        d = np.diagonal(S)[:, None]
        R = np.where((S >= acfg.theta * d) & (d > 0), 1.0, 0.0)
        np.fill_diagonal(R, 2.0)
        scaled.append(R)
    return float(ctx.context_vs_threshold(scaled, [0.5], min_predecessors=acfg.min_predecessors)["past_ge"][0])


def _signal_columns(corpus, selected):
    """Positions (within the fold's selected features) of the features that carry signal."""
    names = np.asarray(corpus.feature_names)[selected]
    if corpus.params.get("kind") == "synthetic":
        return np.flatnonzero([n.startswith(("inf", "red")) for n in names])
    from emojax.data.statespace import params_of
    strong = params_of(corpus).features - params_of(corpus).features // 2
    return np.flatnonzero([int(n[1:]) < strong for n in names])


def diagnose(cfg: Config, spec: str, progress=None) -> dict:
    """Every row of the module's table for one corpus, the two F1s and the rows' past profiles."""
    import jax

    from emojax import data
    from emojax.analysis import context as ctx
    from emojax.data.batching import bucket_length
    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.woellmer2012_analysis import (TASK_DIMS, _oracle, estimator_config,
                                                          oracle_f1, seed_offset)
    from emojax.models import woellmer as model
    from emojax.train.metrics import scores
    a = cfg.analysis
    wcfg = W.Config(corpus=spec, tasks=(cfg.task,), classifiers=("blstm",), seed=cfg.seed,
                    model=cfg.model, train=cfg.train, analysis=a)
    corpus = W.load_corpus(wcfg)
    seqs = data.sequences(corpus)
    spk, groups = W.folds_of(dataclasses.replace(wcfg, max_folds=cfg.folds), corpus, seqs, "folds")
    oracle = _oracle(corpus)
    S = {r: [] for r in ROWS}
    per_seed, per_l2, per_sig, per_dir = ([[] for _ in range(cfg.seeds)] for _ in range(4))
    f1, f1_oracle = [], []
    memoryless = estimator_config(wcfg, "memoryless")
    for f, group in enumerate(groups):
        prep = W.prepare_fold(corpus, seqs, spk, cfg.task, group, wcfg, f)
        width = bucket_length(prep["selected"].size)
        test = [s for s, part in zip(seqs, prep["part"]) if part == "test"]
        xs = [prep["X"][s] for s in test]
        y_test = np.concatenate([prep["y"][s] for s in test])
        S["truth"] += [oracle(corpus.extras["dialog_turn"][s], dims=TASK_DIMS.get(cfg.task, (0, 1)))
                       for s in test]
        f1_oracle.append(oracle_f1(corpus, prep, seqs, cfg.task))
        for fb in (0.0, -2.0):
            init = model.init_from(dataclasses.replace(cfg.model, forget_bias=fb),
                                   jax.random.PRNGKey(cfg.seed * 7919 + f * 31), width,
                                   prep["n_classes"])
            S[f"init_fb{fb:g}"] += [_abs_sum(_whole(J)) for J in _jacobians(init, xs, width, a.mode)]
        Js = []
        for k in range(cfg.seeds):
            params, logits, _ = W.train_blstm(prep, seqs, wcfg, width,
                                              cfg.seed * 7919 + f * 31 + seed_offset("paper", k),
                                              progress)
            if k == 0:
                pred = np.concatenate([lg.argmax(-1) for lg in logits])
                f1.append(scores(y_test, pred, prep["n_classes"])["f1"])
            J_k = _jacobians(params, xs, width, a.mode)
            Js.append([_whole(J) for J in J_k])
            per_seed[k] += [_abs_sum(J) for J in Js[-1]]
            per_dir[k] += [_per_direction(J) for J in J_k]
        sig = _signal_columns(corpus, prep["selected"])
        for k, J_k in enumerate(Js):               # every seed, so rows compare with `paper`
            per_l2[k] += [np.sqrt((J ** 2).sum(axis=(1, 3))) for J in J_k]
            per_sig[k] += [_abs_sum(J, sig) for J in J_k]
        for i in range(len(xs)):
            S["seed_mean_jacobian"].append(_abs_sum(sum(J[i] for J in Js) / len(Js)))
        seed = cfg.seed * 7919 + f * 31 + seed_offset("memoryless", 0)
        params, _, _ = W.train_blstm(prep, seqs, memoryless, width, seed, progress)
        J_m = _jacobians(params, xs, width, a.mode)
        S["memoryless"] += [_abs_sum(_whole(J)) for J in J_m]
        S["memoryless_directional"] += [_per_direction(J) for J in J_m]
        params, _, _ = W.train_blstm(prep, seqs, dataclasses.replace(
            memoryless, train=cfg.long_training(memoryless.train)), width, seed, progress)
        S["memoryless_long"] += [_abs_sum(_whole(J)) for J in _jacobians(params, xs, width, a.mode)]
    seed_counts = [_count(s, a) for s in per_seed]
    out = {"spec": spec, "corpus": corpus.params["kind"], "rho": corpus.params["rho"],
           "folds": len(groups), "n_sequences": len(S["truth"]),
           "seed_counts": seed_counts, "seed_sd": float(np.std(seed_counts, ddof=1)),
           "seed_min": float(min(seed_counts)), "seed_max": float(max(seed_counts)),
           "f1": float(np.mean(f1)), "f1_oracle": float(np.mean(f1_oracle))}
    for r in ROWS:
        if r == "paper":
            out[r] = float(np.mean(seed_counts))
        elif r == "self_reference":
            out[r] = float(np.mean([_count(s, a, reference="self") for s in per_seed]))
        elif r in ("l2_features", "signal_features", "directional"):
            per = {"l2_features": per_l2, "signal_features": per_sig, "directional": per_dir}[r]
            out[r] = float(np.mean([_count(s, a) for s in per]))
        else:
            out[r] = _count(S[r], a)
    pooled = {"paper": [m for s in per_seed for m in s], "directional": [m for s in per_dir for m in s]}
    out["profiles"] = {}
    for r in PROFILE_ROWS:
        offs, prof = ctx.sensitivity_profile(pooled.get(r, S[r]), MAX_LAG)
        out["profiles"][r] = [float(v) if np.isfinite(v) else None      # lags 1..MAX_LAG
                              for v in prof[:MAX_LAG][::-1]]
    return out


def corpus_computer(cfg: Config):
    """The fold runner's compute over the corpora (also built in worker processes)."""
    def compute(keys, bar):
        for k in keys:
            yield k, diagnose(cfg, k, bar)
    return compute


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False, workers: int = 1) -> dict:
    """Every corpus diagnosed (a piece each), then the tables and Figs. 5-6; `workers` > 1
    diagnoses the corpora in that many local processes (`emojax.experiments.pool`)."""
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    t0 = time.time()
    pieces = {spec: {"experiment": "woellmer2012_causes", "corpus": spec, "task": cfg.task,
                     "folds": cfg.folds, "seeds": cfg.seeds, "seed": cfg.seed,
                     "model": dataclasses.asdict(cfg.model), "train": dataclasses.asdict(cfg.train),
                     "analysis": network_settings(cfg.analysis)}
              for spec in cfg.corpora}
    with open_workdir(workdir, fresh=fresh) as wd:
        done, stats = run_pieces(wd, pieces, corpus_computer(cfg), desc="context causes",
                                 unit="corpus", progress=progress, workers=workers,
                                 spec=(__name__, "corpus_computer", (cfg,)))
        results = [done[s] for s in cfg.corpora]
        wall = round(time.time() - t0, 1)
        meta = R.run_meta("woellmer2012_causes", cfg, wall_s=wall, pieces=stats,
                          wall_s_total=round(wall + stats["reused_s"], 1),
                          command="emojax reproduce woellmer2012_causes",
                          theta=cfg.analysis.theta, position=cfg.analysis.position)
        out = wd.results
        out.mkdir(parents=True, exist_ok=True)
        records = [{"task": cfg.task, "condition": "oracle" if row == "truth" else "ordered",
                    "measure": row, "theta": cfg.analysis.theta, "position": cfg.analysis.position,
                    "corpus": r["spec"], "rho": r["rho"], "past": r[row],
                    **({k: r[k] for k in ("seed_counts", "seed_sd", "seed_min", "seed_max", "f1")}
                       if row == "paper" else {}),
                    **({"f1": r["f1_oracle"]} if row == "truth" else {}),
                    **({"profile": r["profiles"][row]} if row in r.get("profiles", {}) else {})}
                   for r in results for row in ROWS]
        (out / "context_causes.json").write_text(json.dumps({"meta": meta, "records": records},
                                                            indent=1))
        R.write_csv(out / "context_causes.csv", ["corpus", *ROWS, "seed_sd", "f1", "f1_oracle"],
                    ([r["spec"], *(f"{r[row]:.3f}" for row in ROWS), f"{r['seed_sd']:.3f}",
                      f"{r['f1']:.4f}", f"{r['f1_oracle']:.4f}"] for r in results))
        (out / "context_causes.md").write_text(markdown(results, cfg, meta["wall_s_total"]))
        fig5(results, out / "fig5_causes.png", cfg.analysis)
        fig6(results, out / "fig6_profiles.png", cfg.analysis)
        if publish is not None:
            R.publish(out, publish)
    return {"meta": meta, "records": records}


def markdown(results: list[dict], cfg: Config, wall: float) -> str:
    a = cfg.analysis
    lines = [f"# Why the count overestimates: past context (θ = {100 * a.theta:g} %, steps with >= "
             f"{a.min_predecessors} predecessors) measured several ways", "",
             f"Task `{cfg.task}`, {cfg.folds} folds per corpus, {cfg.seeds} training seeds for the "
             "paper's BLSTM (seed spread: sd, min–max). Rows: see `emojax.experiments."
             "woellmer2012_causes`.", "",
             "| corpus | " + " | ".join(ROWS) + " | seed sd (min–max) | F1 | F1 oracle |",
             "|" + "---|" * (len(ROWS) + 4)]
    for r in results:
        lines.append(f"| {r['spec']} | " + " | ".join(f"{r[row]:.2f}" for row in ROWS)
                     + f" | {r['seed_sd']:.2f} ({r['seed_min']:.2f}–{r['seed_max']:.2f}) | "
                     f"{100 * r['f1']:.1f} | {100 * r['f1_oracle']:.1f} |")
    lines += ["", f"Mean past profile S[t, t-d] / reference (d = 1..{MAX_LAG}; the reference is the "
              "current step: of the whole row, or of the forward direction for the per-direction "
              "readings), Fig. 6:", "",
              "| corpus | reading | " + " | ".join(f"d={d}" for d in range(1, 6)) + " |",
              "|---|---|" + "---|" * 5]
    for r in results:
        for row in PROFILE_ROWS:
            if row in r.get("profiles", {}):
                lines.append(f"| {r['spec']} | {row} | "
                             + " | ".join("–" if v is None else f"{v:.3f}"
                                          for v in r["profiles"][row][:5]) + " |")
    lines += ["", f"Whole run: {wall / 60:.1f} min."]
    return "\n".join(lines) + "\n"


def fig5(results: list[dict], path: Path, acfg: AnalysisConfig) -> None:
    """One group of bars per corpus: every measure's count, the truth as a line."""
    from emojax.analysis.plots import _plt
    plt = _plt()
    rows = [r for r in ROWS if r != "truth"]
    fig, ax = plt.subplots(figsize=(1.6 + 2.2 * len(results), 4.2))
    w = 0.8 / len(rows)
    for j, row in enumerate(rows):
        x = np.arange(len(results)) + (j - len(rows) / 2 + 0.5) * w
        ax.bar(x, [r[row] for r in results], w, label=row, color=plt.cm.tab20(j))
    for i, r in enumerate(results):
        ax.plot([i - 0.45, i + 0.45], [r["truth"]] * 2, "k-", lw=2,
                label="truth" if i == 0 else None)
        ax.errorbar(i + (rows.index("paper") - len(rows) / 2 + 0.5) * w, r["paper"],
                    yerr=[[r["paper"] - r["seed_min"]], [r["seed_max"] - r["paper"]]],
                    fmt="none", ecolor="k", capsize=2)
    ax.set_xticks(range(len(results)), [r["spec"].replace(",", "\n", 1) for r in results], fontsize=7)
    ax.set(ylabel=f"past context (θ = {100 * acfg.theta:g} %, >= {acfg.min_predecessors} before)",
           title="Why the count overestimates: one bar per measure, truth as a black line")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig6(results: list[dict], path: Path, acfg: AnalysisConfig) -> None:
    """One panel per corpus: the mean past profile of the truth and of each reading, log scale,
    the threshold θ as a line (a lag counts where its row's value is at least θ)."""
    from emojax.analysis.plots import _plt
    plt = _plt()
    with_profiles = [r for r in results if r.get("profiles")]
    if not with_profiles:
        return
    fig, axes = plt.subplots(1, len(with_profiles), figsize=(3.6 * len(with_profiles), 3.6),
                             squeeze=False, sharey=True)
    lags = np.arange(1, MAX_LAG + 1)
    for ax, r in zip(axes[0], with_profiles):
        for j, row in enumerate(PROFILE_ROWS):
            prof = np.asarray([np.nan if v is None else v for v in r["profiles"].get(row, [])])
            if not prof.size:
                continue
            ok = prof > 0
            style = ({"color": "k", "lw": 2} if row == "truth"
                     else {"color": f"C{j}", "lw": 1.2, "marker": "o", "ms": 3})
            ax.semilogy(lags[ok], prof[ok], "-", label=row, **style)
        ax.axhline(acfg.theta, color="0.5", ls="--", lw=0.8, label=f"θ = {100 * acfg.theta:g} %")
        ax.set(xlabel="utterances back (d)", title=r["spec"].replace(",", " ", 1), ylim=(1e-3, 1.2))
        ax.title.set_fontsize(7)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean S[t, t-d] / reference")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
