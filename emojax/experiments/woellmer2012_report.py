"""Wöllmer et al. 2012's views of its records: Table 1 (one renderer, for table1.md and the
README), the §5.2 context summary, and results/woellmer2012/README.md — all generated from the
records the runs wrote, never from hand-copied numbers."""
from __future__ import annotations

import json
from pathlib import Path

from emojax.experiments import results as R

TITLE = "Wöllmer et al. 2012, Table 1"
CONTROL = ("woellmer2012_rho0", "Control: no temporal dependence (`synthetic:rho=0`)")


def _names():
    from emojax.experiments.woellmer2012 import CLASSIFIER_NAMES
    return CLASSIFIER_NAMES


def f1_table(doc: dict, *, digits: int, paper_std: bool, p_columns) -> list[str]:
    """The Table-1 grid: one row per task, one F1 column per classifier (mean ± std, the paper's
    number in brackets), then one p-value column per ``(b, header, format)`` of `p_columns`."""
    names = _names()
    f1 = [r for r in doc["records"] if r["metric"] == "f1"]
    paper = R.index(doc.get("paper", []), "task", "classifier")
    tests = R.index(doc["tests"], "task", "b")

    def pct(m, s):
        return f"{100 * m:.{digits}f} ± {100 * s:.{digits}f}"

    def cell(r):
        p = paper.get((r["task"], r["classifier"]))
        if p is None:
            return pct(r["mean"], r["std"])
        return pct(r["mean"], r["std"]) + (f" [{pct(p['mean'], p['std'])}]" if paper_std
                                           else f" [{100 * p['mean']:.{digits}f}]")
    extra = [(header, lambda t, b=b, fmt=fmt: format(tests[(t, b)]["p"], fmt) if (t, b) in tests
              else "—") for b, header, fmt in p_columns]
    return R.pivot(f1, "task", "classifier", cell, col_name=lambda c: names.get(c, c), extra=extra)


def table1_markdown(doc: dict) -> str:
    """WORKDIR/results/table1.md: F1 with both tests, then UA / WA, then the normality checks."""
    names = _names()
    records, tests, meta = doc["records"], doc["tests"], doc["meta"]
    lines = [f"# {TITLE} — corpus `{meta['config']['corpus']}`", "",
             "Unweighted (macro) F1 [%], mean ± std over "
             f"{len(records[0]['folds'])} leave-one-speaker-out folds; "
             "paper's numbers (IEMOCAP, audio-visual) in brackets.", ""]
    lines += f1_table(doc, digits=2, paper_std=True,
                      p_columns=[("blstm_shuffled", "p (BLSTM vs shuffled)", ".3g"),
                                 ("svm", "p (BLSTM vs SVM, ours)", ".3g")])
    at = R.index(records, "task", "classifier", "metric")
    pct = lambda r: f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f}"  # noqa: E731
    rows = [[t, names.get(c, c), pct(at[(t, c, "ua")]), pct(at[(t, c, "wa")])]
            for t in dict.fromkeys(r["task"] for r in records)
            for c in dict.fromkeys(r["classifier"] for r in records)]
    lines += ["", "UA / WA [%]:", ""] + R.markdown_table(["task", "classifier", "UA", "WA"], rows)
    sw = [t for t in tests if t["b"] == "blstm_shuffled"]
    if sw:
        lines += ["", "Paired t-tests over folds (two-sided) on F1; Shapiro–Wilk p on the paired "
                  "differences: " + ", ".join(f"{t['task']} {t['shapiro_p']:.2f}" for t in sw) + "."]
    return "\n".join(lines) + "\n"


def write_table1(outdir: Path, fold_results, meta, paper, classifiers) -> dict:
    """table1.{json,md,csv} and run.json in `outdir`."""
    outdir.mkdir(parents=True, exist_ok=True)
    records = R.fold_records(fold_results, classifiers)
    pairs = [(a, b, src) for a, b, src in (("blstm", "blstm_shuffled", "paper"), ("blstm", "svm", "ours"))
             if a in classifiers and b in classifiers]
    tests = R.paired_tests(fold_results, pairs)
    prec = [{"task": t, "classifier": c, "metric": "f1", "mean": m / 100, "std": s / 100,
             "source": "paper"} for t, row in paper.items() for c, (m, s) in row.items()]
    doc = {"meta": meta, "records": records, "tests": tests, "paper": prec}
    (outdir / "table1.json").write_text(json.dumps(doc, indent=1))
    (outdir / "run.json").write_text(json.dumps(meta, indent=1))
    (outdir / "table1.md").write_text(table1_markdown(doc))
    R.write_csv(outdir / "table1.csv", ["task", "classifier", "metric", "mean", "std", "folds"],
                ([r["task"], r["classifier"], r["metric"], f"{r['mean']:.6f}", f"{r['std']:.6f}",
                  " ".join(f"{v:.6f}" for v in r["folds"])] for r in records))
    return doc


# ----------------------------------------------------------------------------- README sections
def _table1_section(path: Path, title: str) -> list[str]:
    doc = json.loads(path.read_text())
    meta = doc["meta"]
    n_folds = len(next(r for r in doc["records"] if r["metric"] == "f1")["folds"])
    wall = meta.get("wall_s_total", meta["wall_s"])      # resumed runs: every part's time
    return [f"**{title}** — corpus `{meta['config']['corpus']}`, {n_folds} folds, "
            f"{wall / 60:.1f} min on `{meta['device']}`. Macro-F1 [%] mean ± std; "
            "paper (IEMOCAP) in brackets.", ""] + f1_table(
        doc, digits=1, paper_std=False,
        p_columns=[("blstm_shuffled", "p (BLSTM vs shuffled)", ".2g")]) + [""]


def _pos(v: dict) -> str:
    return v.get("position", "ge10")


def _context_section(path: Path) -> list[str]:
    s = json.loads(path.read_text())
    any_v = next(iter(s.values()))
    theta, pos = any_v.get("theta", 0.03), _pos(any_v)
    ctx = path.with_name("context.json")
    rec = json.loads(ctx.read_text())["meta"].get("recommended_estimator", "paper") if ctx.is_file() else "paper"
    out = ["**Context used (Wöllmer §5.2)** — mean relevant past / future utterances at "
           f"θ = {100 * theta:g} %, output steps with ≥ {pos[2:]} predecessors, "
           f"{100 * any_v.get('level', 0.95):g} % interval over test sequences"
           + (" and training seeds" if any_v.get("seeds", 1) > 1 else " (one training seed)")
           + " in brackets"
           + ("; for the smoother, its count at the ends of its decay's bootstrap interval over the "
              "training speakers" if any(v.get("estimator") == "smoother" for v in s.values())
              else "")
           + "; lag-1 relative sensitivity; fitted decay. "
           + (f"Per task the recommended estimator `{rec}` first, then the paper's count (README, "
              "\"Context you can trust\"); " if rec != "paper" else "The paper's count; ")
           + ("the smoother's shuffled rows are outside its model (a context that does not decay "
              "with distance): read the networks there; " if rec == "smoother" else "")
           + "`truth`: the oracle of the task's latent dimensions.", ""]

    def cell(v, side):
        lo, hi = v.get(f"{side}_{pos}_low"), v.get(f"{side}_{pos}_high")
        ci = f" [{lo:.1f}, {hi:.1f}]" if lo is not None and not v["condition"].startswith("oracle") else ""
        return f"{v[f'{side}_{pos}']:.1f}{ci}"
    rows = []
    est = lambda v: v.get("estimator", "paper")  # noqa: E731
    # per task: the recommended estimator, the paper's, then the truth (the oracle of the latent
    # dimensions the task's labels follow)
    for v in sorted(s.values(), key=lambda v: (v["task"], v["condition"].startswith("oracle"),
                                               v["condition"], est(v) != rec)):
        rows.append([v["task"], v["condition"],
                     "truth" if v["condition"].startswith("oracle") else est(v),
                     cell(v, "past"), cell(v, "future"), f"{v['lag1']:.2f}", f"{v['decay']:.2f}"])
    return out + R.markdown_table(["task", "condition", "estimator", "past", "future", "lag-1",
                                   "decay"], rows) + [""]


def readme_section(results: Path) -> list[str]:
    """The top-level README's lines for this paper."""
    lines = []
    for name, title in (("woellmer2012", TITLE), CONTROL):
        if (results / name / "table1.json").is_file():
            lines += _table1_section(results / name / "table1.json", title)
    if (results / "woellmer2012" / "context_summary.json").is_file():
        lines += _context_section(results / "woellmer2012" / "context_summary.json")
    if (results / "woellmer2012" / "context_study.json").is_file():
        lines += _scorecard_section(results / "woellmer2012" / "context_study.json")
        lines += _checks_section(results)
    return lines


CHECKS = "woellmer2012_smoother_choice"    # the smoother's choosing and never-used study runs


def _checks_section(results: Path, est: str = "smoother") -> list[str]:
    """The smoother on every corpus seed it was checked on: the study's own set and each run in
    results/woellmer2012_smoother_choice/ (its choosing runs, the never-used ones, and the
    ``*earlier_checks*`` runs: seeds that checked another target before, never used to choose
    this one), with what it was fitted to (``analysis.smoother_target``), and per target the fresh points pooled (the
    study's and the never-used runs of one fit)."""
    runs = [("the study's", results / "woellmer2012" / "context_study.json")]
    runs += [("choosing" if "choose" in f.parent.name else
              "never used for this target" if "earlier_checks" in f.parent.name else "never used", f)
             for f in sorted((results / CHECKS).glob("*/context_study.json"))]
    keys = ("within_1", "covered", "resolved", "within_1_resolved")
    rows, pools = [], {}
    for role, f in runs:
        meta = json.loads(f.read_text())["meta"]
        c, card = meta["config"], meta.get("scorecard", {})
        v, v5 = card.get(f"all/{est}"), card.get(f"all, rho >= 0.5/{est}")
        if v is None:
            continue
        fits = c["analysis"].get("smoother_draws", 1)
        target = c["analysis"].get("smoother_target", "classes")
        rows.append([f.parent.name if role != "the study's" else "woellmer2012 (the study)",
                     role, target, ", ".join(str(s) for s in c["seeds"]),
                     ", ".join(str(s) for s in c["statespace_seeds"]) or "–", str(fits),
                     str(v["points"]),
                     f"{R.share(v['within_1'])} ({R.share(v5['within_1']) if v5 else '–'})",
                     R.share(v.get("covered")), R.share(v.get("resolved")),
                     R.share(v.get("within_1_resolved"))])
        if role != "choosing" and fits == 1 and all(k in v for k in keys):
            pool = pools.setdefault(target, {k: [0.0, 0] for k in keys + ("within_1_rho",)})
            for k in keys[:3]:
                pool[k][0] += v[k] * v["points"]
                pool[k][1] += v["points"]
            if v5:
                pool["within_1_rho"][0] += v5["within_1"] * v5["points"]
                pool["within_1_rho"][1] += v5["points"]
            sure = round(v["resolved"] * v["points"])            # points resolved to ±1
            pool["within_1_resolved"][0] += v["within_1_resolved"] * sure if sure else 0
            pool["within_1_resolved"][1] += sure
    if not rows:
        return []
    for target, pool in pools.items():
        n = pool["within_1"][1]
        got = {k: round(a) for k, (a, _) in pool.items()}
        rows.append([f"**fresh points pooled ({target})**", "the study's and never used, one fit",
                     target, "", "", "1", str(n),
                     f"{got['within_1']} of {n} ({R.share(got['within_1'] / n, 1)}); "
                     f"rho ≥ 0.5: {got['within_1_rho']} of {pool['within_1_rho'][1]}",
                     f"{got['covered']} of {n}", f"{got['resolved']} of {n}",
                     f"{got['within_1_resolved']} of {pool['within_1_resolved'][1]}"])
    return [f"**The recommended `{est}` on every corpus seed it was checked on** (rho × "
            "signal-to-noise grid of the study, `results/woellmer2012/` and "
            f"`results/{CHECKS}/`; fitted to the ratings behind the classes or to the classes "
            "(`analysis.smoother_target`); within ±1 of the truth, in brackets at rho ≥ 0.5; the "
            "interval holding the truth; resolved to ±1 and within ±1 among those):", ""
            ] + R.markdown_table(
        ["run", "role", "fitted to", "embedded seeds", "statespace seeds", "fits", "points",
         "within ±1", "interval holds the truth", "resolved to ±1", "within ±1 where resolved"],
        rows) + [""]


def _scorecard_section(path: Path) -> list[str]:
    """The study's scorecard: per estimator (the recommended first) and corpus, how often the
    count is within ±1 of the truth, how well it ranks the points, how often its interval holds
    the truth or is resolved to ±1, and how often a resolved count is within ±1."""
    doc = json.loads(path.read_text())
    card = doc["meta"].get("scorecard")
    if not card:
        return []
    rec = doc["meta"].get("recommended_estimator", "paper")
    c = doc["meta"]["config"]
    out = [f"**Can the count be trusted? (`emojax reproduce woellmer2012_study`)** — past context "
           f"of the {c['task']} BLSTM against the exact truth, rho {c['rhos']} × signal-to-noise "
           f"{c['snrs']} (embedded, seeds {c['seeds']}, {c['sequences']} sequences) and "
           f"{c['statespace_snrs']} (statespace, seeds {c['statespace_seeds']}); "
           + (f"the embedded corpus at {c['sizes']} sequences (rho {c['size_rhos']}, snr "
              f"{c['size_snr']}; `results/woellmer2012/`, Figs. 7–8); " if c.get("sizes") else "")
           + f"{c['folds']} folds per point; "
           f"{doc['meta'].get('wall_s_total', doc['meta']['wall_s']) / 60:.0f} min.", ""]
    rows = sorted(card.values(), key=lambda v: (v["estimator"] != rec, v["estimator"], v["corpus"]))
    out += R.markdown_table(["estimator", "corpus", "points", "within ±1 of the truth",
                             "mean error", "Spearman (measured, true)", "interval holds the truth",
                             "resolved to ±1", "within ±1 where resolved"],
                            [[v["estimator"] + (" (recommended)" if v["estimator"] == rec else ""),
                              v["corpus"], str(v["points"]), f"{100 * v['within_1']:.0f} %",
                              f"{v['mean_error']:+.2f}", f"{v['spearman']:.2f}",
                              R.share(v.get("covered")), R.share(v.get("resolved")),
                              R.share(v.get("within_1_resolved"))]
                             for v in rows])
    return out + [""]


def _records(path: Path):
    return json.loads(path.read_text())["records"] if path.is_file() else []


def results_readme(results: Path) -> str | None:
    """results/woellmer2012/README.md: the paper's findings beside ours, number by number."""
    d = results / "woellmer2012"
    if not (d / "table1.json").is_file():
        return None
    meta = json.loads((d / "table1.json").read_text())["meta"]
    cfg = meta["config"]
    lines = ["# Wöllmer et al. 2012 on the embedded corpus", "",
             "Generated by `python -m emojax.experiments.report` from the files in this folder, which "
             "`emojax reproduce woellmer2012` (Table 1 and the context analysis) and `emojax reproduce "
             "woellmer2012_study` (the study) wrote. Nothing here is edited by hand.", "",
             f"Model: {json.dumps(cfg.get('model', {}))}; training: {json.dumps(cfg['train'])}; "
             "corpus parameters in `run.json`.", ""]
    lines += _table1_section(d / "table1.json", "Table 1")
    if (results / CONTROL[0] / "table1.json").is_file():
        lines += _table1_section(results / CONTROL[0] / "table1.json",
                                 "Control: `--corpus synthetic:rho=0` (no temporal dependence)")
    summary = json.loads((d / "context_summary.json").read_text()) if (d / "context_summary.json").is_file() else {}
    recs = _records(d / "context.json")
    if summary:
        task = "cluster5" if "cluster5/ordered" in summary else next(iter(summary)).split("/")[0]
        any_v = next(iter(summary.values()))
        theta, pos = any_v.get("theta", 0.03), _pos(any_v)

        def early_future(cond):
            v = [r["future"] for r in recs if r["task"] == task and r["condition"] == cond
                 and r.get("estimator", "paper") == "paper" and r["theta"] == theta and isinstance(r["position"], int) and r["position"] < 5]
            return sum(v) / len(v) if v else float("nan")

        def g(cond, key):
            v = summary.get(f"{task}/{cond}")
            return (f"{v[key]:.2f}" if key in ("lag1", "decay") else f"{v[key]:.1f}") if v else "—"
        tasks = sorted({k.split("/")[0] for k in summary})
        past = f"past_{pos}"
        ordered = [summary[f"{t}/ordered"][past] for t in tasks if f"{t}/ordered" in summary] or [float("nan")]
        shuffled = [summary[f"{t}/shuffled"][past] for t in tasks if f"{t}/shuffled" in summary] or [float("nan")]
        lines += [f"## Context (§5.2), task `{task}`, θ = {100 * theta:g} %", ""]
        lines += R.markdown_table(["finding", "paper (IEMOCAP)", "ours: BLSTM", "ours: oracle"], [
            [f"past utterances used once ≥ 8 (ours: ≥ {pos[2:]}) are available", "7–8",
             g("ordered", past), g("oracle", past)],
            ["future utterances used early in a sequence (positions 1–5)", "≈ 8",
             f"{early_future('ordered'):.1f}", f"{early_future('oracle'):.1f}"],
            ["past utterances with shuffled training", "≈ 6 (fewer than ordered)",
             g("shuffled", past), g("oracle_shuffled", past)],
            ["lag-1 relative sensitivity, ordered / shuffled", "—",
             f"{g('ordered', 'lag1')} / {g('shuffled', 'lag1')}",
             f"{g('oracle', 'lag1')} / {g('oracle_shuffled', 'lag1')}"],
            ["past context across the five tasks (ordered; shuffled)", "similar",
             f"{min(ordered):.1f}–{max(ordered):.1f}; {min(shuffled):.1f}–{max(shuffled):.1f}",
             "task-independent"]])
        lines += ["", f"The shuffled oracle weights every other utterance equally, at {g('oracle_shuffled', 'lag1')} "
                  f"of the self-weight (lag-1 column): where that is above {theta:g} its count is the "
                  "whole sequence, so compare ordered and shuffled by lag-1 and decay, not by the count.", ""]
        lines += _context_section(d / "context_summary.json")
        for fig in ("fig1_jacobian.png", "fig2_context_position.png", "fig3_context_threshold.png"):
            if (d / fig).is_file():
                lines += [f"![{fig}]({fig})", ""]
    if (d / "context_causes.md").is_file():
        lines += ["## " + (d / "context_causes.md").read_text().lstrip("# "), ""]
        if (d / "fig5_causes.png").is_file():
            lines += ["![fig5](fig5_causes.png)", ""]
    if (d / "context_study.md").is_file():
        from emojax.experiments.woellmer2012_study import readme_lines
        lines += readme_lines(d)
    return "\n".join(lines) + "\n"
