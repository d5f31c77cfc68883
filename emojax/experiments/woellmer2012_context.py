"""Wöllmer et al. 2012 §5.2, Figs. 1–3: how many past and future utterances the trained BLSTMs use.

  emojax analyze runs/woellmer2012        # re-run from saved checkpoints, no retraining
  (`emojax reproduce woellmer2012` runs it after training.)

For every test sequence of every fold, task and condition (ordered, shuffled) the sequential
Jacobian of the softmax outputs is projected to S[t, t'] (summed over input features and output
classes), and the past/future utterances whose sensitivity is >= θ of the row's maximum are counted.
On the embedded corpus the exact Bayes-optimal smoother gives the same counts for the truth (the
*oracle*; ``oracle_shuffled`` for utterances in random order); other corpora have no oracle.

Writes WORKDIR/results/: context.json (DESIGN.md records), context_position.csv,
context_threshold.csv, context_profile.csv, context_summary.json, fig1_jacobian.png,
fig2_context_position.png, fig3_context_threshold.png and context.md.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from emojax import data

THETAS = tuple(round(0.01 * i, 2) for i in range(1, 11))   # Fig. 3: 1 .. 10 %
THETA = 0.03                                               # §5.2: the 3 % threshold
MIN_PRED = 10                                              # "ge10": steps with >= 10 predecessors
MAX_OFFSET = 20
# The paper's reading of its Figs. 2-3 (§5.2, §6), for the side-by-side table.
PAPER_CONTEXT = {"past_ordered": "7-8 (once >= 8 are available)", "future_early": "about 8",
                 "past_shuffled": "about 6 (fewer than ordered)", "across_tasks": "similar"}


def _load_run(workdir: Path):
    from emojax import config as C
    from emojax.experiments import woellmer2012 as W
    run = json.loads((workdir / "results" / "run.json").read_text())
    cfg = C.override(W.Config(), run["config"])
    folds = {}
    for p in sorted((workdir / "folds").glob("*.json")):
        r = json.loads(p.read_text())
        folds[(r["task"], r["fold"])] = r
    return cfg, folds


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
    """S (T_i, T_i) per sequence for the Wöllmer BLSTM, computed in padded batches."""
    import jax.numpy as jnp

    from emojax.analysis.jacobian import batched_sequential_jacobian, sensitivity
    from emojax.models import woellmer as model
    from emojax.train.batching import pad_batch
    out = []
    for i in range(0, len(xs_list), batch):
        chunk = xs_list[i:i + batch]
        xs, _, mask = pad_batch([(x, np.zeros(len(x), np.int32)) for x in chunk], batch, width)
        # chunked per mode inside (forward mode holds T*F tangents per sequence)
        J = batched_sequential_jacobian(model.apply, params, jnp.asarray(xs), jnp.asarray(mask),
                                        mode=mode)
        S = np.asarray(sensitivity(J))                                   # (B, T, T)
        out += [S[b, :len(x), :len(x)] for b, x in enumerate(chunk)]
    return out


def analyze(workdir: Path, *, publish: Path | None = None, progress: bool = True,
            mode: str = "auto") -> dict:
    """Compute context records, curves and figures from a finished run's checkpoints."""
    import jax
    from tqdm.auto import tqdm

    from emojax.experiments import woellmer2012 as W
    from emojax.models import woellmer as model
    from emojax.train.checkpoint import load_params
    workdir = Path(workdir)
    cfg, folds = _load_run(workdir)
    corpus = W.load_corpus(cfg)
    seqs = data.sequences(corpus)
    shuffled_seqs = W.shuffle_within(seqs, cfg.seed + 1000)
    synth = corpus.params.get("kind") == "synthetic"
    conditions = [c for c in ("blstm", "blstm_shuffled") if c in cfg.classifiers]
    S_by = {}                                   # (task, condition) -> [S per test sequence]
    example = None                              # (J, S, x) of one 30-utterance sequence for Fig. 1
    units = [(t, f, c) for (t, f) in sorted(folds) for c in conditions]
    for task, f, clf in tqdm(units, desc="sequential Jacobians", disable=not progress, unit="model"):
        rec = folds[(task, f)]
        order = seqs if clf == "blstm" else shuffled_seqs
        test = _test_sequences(corpus, rec, order)
        width = rec["width"]
        like = model.init(jax.random.PRNGKey(0), width, rec["n_classes"], hidden=cfg.train.hidden,
                          layers=cfg.train.layers, peephole=cfg.train.peephole)
        params = load_params(workdir / "checkpoints" / f"{task}_fold{f:02d}_{clf}", like)
        S = model_sensitivities(params, [x for x, _ in test], width, mode=mode)
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
        for task in cfg.tasks:
            S_by[(task, "oracle")] = oracle
            S_by[(task, "oracle_shuffled")] = oracle_sh
    return _write(workdir / "results", cfg, corpus, S_by, example, publish)


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


def records_json(meta: dict, records: list[dict]) -> str:
    """{"meta", "records"} with one record per line: diffable, and a tenth of indent=1's size."""
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    return f'{{"meta": {json.dumps(meta)},\n"records": [\n{body}\n]}}\n'


def summarise(S_by: dict) -> dict:
    """Per (task, condition): mean past/future at 3 % (all steps, ge10), lag-1 and decay rate."""
    from emojax.analysis import context as ctx
    out = {}
    for (task, cond), S in S_by.items():
        th = ctx.context_vs_threshold(S, [THETA], min_predecessors=MIN_PRED)
        offs, prof = ctx.sensitivity_profile(S, MAX_OFFSET)[:2]
        lam, lag1 = ctx.decay_rate(offs, prof, max_distance=10)
        out[f"{task}/{cond}"] = {
            "task": task, "condition": cond, "n_sequences": len(S),
            "past_ge10": float(th["past_ge"][0]), "future_ge10": float(th["future_ge"][0]),
            "past_all": float(th["past_all"][0]), "future_all": float(th["future_all"][0]),
            "lag1": float(lag1), "decay": float(lam)}
    return out


def _write(outdir: Path, cfg, corpus, S_by, example, publish) -> dict:
    from emojax.analysis import context as ctx
    from emojax.analysis import plots
    from emojax.experiments.results import publish as publish_dir
    outdir.mkdir(parents=True, exist_ok=True)
    records = []
    for (task, cond), S in S_by.items():
        records += ctx.context_records(S, task=task, condition=cond, thetas=THETAS,
                                       min_predecessors=MIN_PRED)
    meta = {"experiment": "woellmer2012", "analysis": "sequential_jacobian", "corpus": corpus.params,
            "config": {"tasks": list(cfg.tasks), "train": cfg.train.__dict__},
            "thetas": list(THETAS), "oracle": corpus.params.get("kind") == "synthetic"}
    (outdir / "context.json").write_text(records_json(meta, records))
    summary = summarise(S_by)
    (outdir / "context_summary.json").write_text(json.dumps(summary, indent=1))
    with open(outdir / "context_position.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "condition", "theta", "position", "past", "future", "n"])
        for r in records:
            if r["theta"] == THETA and isinstance(r["position"], int):
                w.writerow([r["task"], r["condition"], r["theta"], r["position"],
                            f"{r['past']:.4f}", f"{r['future']:.4f}", r["n"]])
    with open(outdir / "context_threshold.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "condition", "theta", "position", "past", "future", "n"])
        for r in records:
            if not isinstance(r["position"], int):
                w.writerow([r["task"], r["condition"], r["theta"], r["position"],
                            f"{r['past']:.4f}", f"{r['future']:.4f}", r["n"]])
    with open(outdir / "context_profile.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "condition", "offset", "relative_sensitivity"])
        for (task, cond), S in S_by.items():
            offs, prof = ctx.sensitivity_profile(S, MAX_OFFSET)[:2]
            for o, p in zip(offs, prof):
                w.writerow([task, cond, int(o), f"{p:.6f}"])
    fig_task = _fig1_task(cfg)
    if example is not None:
        plots.fig1_jacobian(example, outdir / "fig1_jacobian.png", task=fig_task)
    plots.fig2_context_position(records, outdir / "fig2_context_position.png", task=fig_task,
                                theta=THETA)
    plots.fig3_context_threshold(records, outdir / "fig3_context_threshold.png")
    (outdir / "context.md").write_text(context_markdown(summary, corpus))
    if publish is not None:
        publish_dir(outdir, publish)
    return {"records": records, "summary": summary}


def context_markdown(summary: dict, corpus) -> str:
    lines = ["# Wöllmer et al. 2012 §5.2 — context used by the BLSTM", "",
             f"Corpus `{corpus.name}`. Counts of past/future utterances whose sensitivity is at "
             f"least 3 % of the row maximum; `ge10` = output steps with at least {MIN_PRED} "
             "predecessors; lag-1 = mean S[t, t-1] / S[t, t]; decay = fitted geometric rate of the "
             "past profile.", "",
             "| task | condition | past (ge10) | future (ge10) | past (all) | future (all) | lag-1 | decay | sequences |",
             "|---|---|---|---|---|---|---|---|---|"]
    for v in summary.values():
        lines.append(f"| {v['task']} | {v['condition']} | {v['past_ge10']:.2f} | {v['future_ge10']:.2f} | "
                     f"{v['past_all']:.2f} | {v['future_all']:.2f} | {v['lag1']:.3f} | "
                     f"{v['decay']:.3f} | {v['n_sequences']} |")
    lines += ["", "The paper (IEMOCAP, five clusters, Fig. 2; §6): " + "; ".join(
        f"{k.replace('_', ' ')}: {v}" for k, v in PAPER_CONTEXT.items()) + "."]
    if corpus.params.get("kind") != "synthetic":
        lines += ["", "No oracle: the true context of this corpus is unknown."]
    return "\n".join(lines) + "\n"
