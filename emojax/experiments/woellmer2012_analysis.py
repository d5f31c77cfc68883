"""Wöllmer et al. 2012 §5.2, Figs. 1–3: how many past and future utterances the trained BLSTMs use.

  emojax analyze runs/woellmer2012        # re-run from saved checkpoints, no retraining
  emojax analyze runs/woellmer2012 --set analysis.theta=0.05 --set analysis.mode=rev
  (`emojax reproduce woellmer2012` runs it after training.)

For every test sequence of every fold, task and condition (ordered, shuffled) the sequential
Jacobian of the softmax outputs is projected to S[t, t'] (summed over the real input features and
the output classes), and the past/future utterances whose sensitivity is >= θ of the row's maximum
are counted. On the embedded corpus the exact Bayes-optimal smoother gives the same counts for the
truth (the *oracle*; ``oracle_shuffled`` for utterances in random order); other corpora have none.

Writes WORKDIR/results/: context.json (DESIGN.md records), context_position.csv,
context_threshold.csv, context_profile.csv, context_summary.json, fig1_jacobian.png,
fig2_context_position.png, fig3_context_threshold.png and context.md.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from emojax import data
from emojax.config import check

MAX_OFFSET = 20
# The paper's reading of its Figs. 2-3 (§5.2, §6), for the side-by-side table.
PAPER_CONTEXT = {"past_ordered": "7-8 (once >= 8 are available)", "future_early": "about 8",
                 "past_shuffled": "about 6 (fewer than ordered)", "across_tasks": "similar"}


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """The §5.2 analysis' settings (`emojax reproduce` and `emojax analyze` both take them)."""
    enabled: bool = True              # run it after training
    theta: float = 0.03               # §5.2: an utterance is relevant at >= 3 % of the row maximum
    thetas: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 11))   # Fig. 3: 1..10 %
    position: str = "ge10"            # the summary's output steps: "ge<N>" = >= N predecessors
    mode: str = "auto"                # Jacobian by "fwd" (jacfwd), "rev" (VJPs) or the cheaper

    def __post_init__(self):
        check("analysis.theta", self.theta, positive=True, at_most=1.0)
        for t in self.thetas:
            check("analysis.thetas", t, positive=True, at_most=1.0)
        check("analysis.mode", self.mode, choices=("auto", "fwd", "rev"))
        if not re.fullmatch(r"ge\d+", self.position):
            raise ValueError(f"setting 'analysis.position': {self.position!r} is not ge<N> "
                             "(output steps with at least N predecessors), e.g. ge10")

    @property
    def min_predecessors(self) -> int:
        return int(self.position[2:])


def _test_sequences(corpus, fold_rec, order_seqs):
    """(X (T_i, F_sel), dialog_turns) for the fold's test sequences, normalised as in training."""
    mu, sd = np.asarray(fold_rec["mu"]), np.asarray(fold_rec["sd"])
    sel = np.asarray(fold_rec["selected"])
    test = set(fold_rec["test_speakers"])
    out = []
    for s in order_seqs:
        if corpus.speaker[s[0]] in test:
            x = ((corpus.features[s] - mu[None]) / sd[None])[:, sel].astype(np.float32)
            out.append((x, s))
    return out


def model_sensitivities(params, xs_list, width: int, *, mode: str = "auto", batch: int = 16):
    """S (T_i, T_i) per sequence for the Wöllmer BLSTM, computed in padded batches.

    Inputs are zero-padded to `width` columns (the fold's compiled width). The padding columns
    reach no output (their inputs are zero), but their derivatives are not zero: their first-layer
    weights are untrained initial values (shrunk by L2). So S sums |J| over the real features
    only: the first ``x.shape[1]`` columns.
    """
    import jax.numpy as jnp

    from emojax.analysis.jacobian import batched_sequential_jacobian, sensitivity
    from emojax.data.batching import pad_batch
    from emojax.models import woellmer as model
    out = []
    for i in range(0, len(xs_list), batch):
        chunk = xs_list[i:i + batch]
        b = pad_batch([{"x": x} for x in chunk], batch, width)
        n_real = max(x.shape[1] for x in chunk)
        # chunked per mode inside (forward mode holds T*F tangents per sequence)
        J = batched_sequential_jacobian(model.apply, params, jnp.asarray(b["x"]),
                                        jnp.asarray(b["mask"]), mode=mode)
        S = np.asarray(sensitivity(J[..., :n_real]))                     # (B, T, T)
        out += [S[j, :len(x), :len(x)] for j, x in enumerate(chunk)]
    return out


def analyze_workdir(wd, cfg, corpus, fold_records: list[dict], *, progress: bool = True) -> dict:
    """Context records, curves and figures from the checkpoints of the folds `fold_records` of a
    finished run in `wd` (an open `emojax.experiments.runner.Workdir`), with ``cfg.analysis``."""
    import jax
    from tqdm.auto import tqdm

    from emojax.experiments import woellmer2012 as W
    from emojax.models import woellmer as model
    from emojax.train.checkpoint import load_params
    folds = {(r["task"], r["fold"]): r for r in fold_records}
    if not folds:
        raise ValueError(f"{wd.path}: no finished folds to analyse")
    seqs = data.sequences(corpus)
    shuffled_seqs = W.shuffle_within(seqs, cfg.seed + 1000)
    synth = corpus.params.get("kind") == "synthetic"
    conditions = [c for c in W.BLSTMS if c in cfg.classifiers]
    S_by = {}                                   # (task, condition) -> [S per test sequence]
    example = None                              # (J, S, x) of one 30-utterance sequence for Fig. 1
    units = [(t, f, c) for (t, f) in sorted(folds) for c in conditions]
    for task, f, clf in tqdm(units, desc="sequential Jacobians", disable=not progress, unit="model"):
        rec = folds[(task, f)]
        order = seqs if clf == "blstm" else shuffled_seqs
        test = _test_sequences(corpus, rec, order)
        width = rec["width"]
        like = model.init_from(cfg.model, jax.random.PRNGKey(0), width, rec["n_classes"])
        params = load_params(wd.checkpoint(W.checkpoint_name(task, f, clf)), like)
        S = model_sensitivities(params, [x for x, _ in test], width, mode=cfg.analysis.mode)
        cond = "ordered" if clf == "blstm" else "shuffled"
        S_by.setdefault((task, cond), []).extend(S)
        if example is None and clf == "blstm" and task == _fig1_task(cfg):
            example = _fig1_example(params, test, width)
    if synth:
        from emojax.data.synthetic import oracle_sensitivity, params_of
        sp = params_of(corpus)
        test_spk = {s for r in folds.values() for s in r["test_speakers"]}
        turns = [corpus.extras["dialog_turn"][s] for s in seqs if corpus.speaker[s[0]] in test_spk]
        oracle = [oracle_sensitivity(sp, t) for t in turns]
        oracle_sh = [oracle_sensitivity(sp, t, shuffled=True) for t in turns]
        for task in sorted({t for t, _ in folds}, key=list(cfg.tasks).index):
            S_by[(task, "oracle")] = oracle
            S_by[(task, "oracle_shuffled")] = oracle_sh
    return _write(wd.results, cfg, corpus, S_by, example)


def _fig1_task(cfg) -> str:
    return "cluster5" if "cluster5" in cfg.tasks else cfg.tasks[0]


def _fig1_example(params, test, width):
    """The sequential Jacobian of the first test sequence with 30 utterances (else the longest)."""
    import jax.numpy as jnp

    from emojax.analysis.jacobian import sequential_jacobian
    from emojax.models import woellmer as model
    xs = [x for x, _ in test]
    pick = next((x for x in xs if len(x) == 30), max(xs, key=len))
    pad = np.zeros((len(pick), width), np.float32)
    pad[:, :pick.shape[1]] = pick
    J = sequential_jacobian(model.apply, params, jnp.asarray(pad), jnp.ones(len(pick), bool))
    return np.asarray(J)[:, :, :, :pick.shape[1]]


def context_figures(S: list, acfg: AnalysisConfig) -> dict:
    """Mean past/future context at θ over the position rule's steps and over all steps, lag-1
    relative sensitivity and the fitted decay of the past profile, for the matrices `S`."""
    from emojax.analysis import context as ctx
    th = ctx.context_vs_threshold(S, [acfg.theta], min_predecessors=acfg.min_predecessors)
    offs, prof = ctx.sensitivity_profile(S, MAX_OFFSET)[:2]
    lam, lag1 = ctx.decay_rate(offs, prof, max_distance=10)
    return {"past": float(th["past_ge"][0]), "future": float(th["future_ge"][0]),
            "past_all": float(th["past_all"][0]), "future_all": float(th["future_all"][0]),
            "lag1": float(lag1), "decay": float(lam)}


def summarise(S_by: dict, acfg: AnalysisConfig) -> dict:
    """Per (task, condition): `context_figures`, keyed ``past_<position>`` etc."""
    pos = acfg.position
    out = {}
    for (task, cond), S in S_by.items():
        v = context_figures(S, acfg)
        out[f"{task}/{cond}"] = {
            "task": task, "condition": cond, "n_sequences": len(S),
            f"past_{pos}": v["past"], f"future_{pos}": v["future"],
            "past_all": v["past_all"], "future_all": v["future_all"],
            "lag1": v["lag1"], "decay": v["decay"], "theta": acfg.theta, "position": pos}
    return out


def _write(outdir: Path, cfg, corpus, S_by, example) -> dict:
    from emojax.analysis import context as ctx
    from emojax.analysis import plots
    from emojax.experiments import results as R
    acfg = cfg.analysis
    outdir.mkdir(parents=True, exist_ok=True)
    thetas = sorted(set(acfg.thetas) | {acfg.theta})
    records = []
    for (task, cond), S in S_by.items():
        records += ctx.context_records(S, task=task, condition=cond, thetas=thetas,
                                       min_predecessors=acfg.min_predecessors)
    meta = {"experiment": "woellmer2012", "analysis": "sequential_jacobian", "corpus": corpus.params,
            "config": {"tasks": list(cfg.tasks), "model": dataclasses.asdict(cfg.model),
                       "train": dataclasses.asdict(cfg.train), "analysis": dataclasses.asdict(acfg)},
            "thetas": thetas, "oracle": corpus.params.get("kind") == "synthetic"}
    (outdir / "context.json").write_text(R.records_json(meta, records))
    summary = summarise(S_by, acfg)
    (outdir / "context_summary.json").write_text(json.dumps(summary, indent=1))
    cols = ["task", "condition", "theta", "position", "past", "future", "n"]
    row = lambda r: [r["task"], r["condition"], r["theta"], r["position"],  # noqa: E731
                     f"{r['past']:.4f}", f"{r['future']:.4f}", r["n"]]
    R.write_csv(outdir / "context_position.csv", cols,
                (row(r) for r in records if r["theta"] == acfg.theta and isinstance(r["position"], int)))
    R.write_csv(outdir / "context_threshold.csv", cols,
                (row(r) for r in records if not isinstance(r["position"], int)))
    profile = []
    for (task, cond), S in S_by.items():
        offs, prof = ctx.sensitivity_profile(S, MAX_OFFSET)[:2]
        profile += [[task, cond, int(o), f"{p:.6f}"] for o, p in zip(offs, prof)]
    R.write_csv(outdir / "context_profile.csv", ["task", "condition", "offset", "relative_sensitivity"],
                profile)
    fig_task = _fig1_task(cfg)
    if example is not None:
        plots.fig1_jacobian(example, outdir / "fig1_jacobian.png", task=fig_task, theta=acfg.theta)
    plots.fig2_context_position(records, outdir / "fig2_context_position.png", task=fig_task,
                                theta=acfg.theta)
    plots.fig3_context_threshold(records, outdir / "fig3_context_threshold.png")
    (outdir / "context.md").write_text(context_markdown(summary, corpus, acfg))
    return {"records": records, "summary": summary}


def context_markdown(summary: dict, corpus, acfg: AnalysisConfig) -> str:
    from emojax.experiments.results import markdown_table
    pos = acfg.position
    lines = ["# Wöllmer et al. 2012 §5.2 — context used by the BLSTM", "",
             f"Corpus `{corpus.name}`. Counts of past/future utterances whose sensitivity is at "
             f"least {100 * acfg.theta:g} % of the row maximum; `{pos}` = output steps with at least "
             f"{acfg.min_predecessors} predecessors; lag-1 = mean S[t, t-1] / S[t, t]; decay = fitted "
             "geometric rate of the past profile.", ""]
    lines += markdown_table(
        ["task", "condition", f"past ({pos})", f"future ({pos})", "past (all)", "future (all)",
         "lag-1", "decay", "sequences"],
        [[v["task"], v["condition"], f"{v['past_' + pos]:.2f}", f"{v['future_' + pos]:.2f}",
          f"{v['past_all']:.2f}", f"{v['future_all']:.2f}", f"{v['lag1']:.3f}", f"{v['decay']:.3f}",
          str(v["n_sequences"])] for v in summary.values()])
    lines += ["", "The paper (IEMOCAP, five clusters, Fig. 2; §6): " + "; ".join(
        f"{k.replace('_', ' ')}: {v}" for k, v in PAPER_CONTEXT.items()) + "."]
    if corpus.params.get("kind") != "synthetic":
        lines += ["", "No oracle: the true context of this corpus is unknown."]
    return "\n".join(lines) + "\n"
