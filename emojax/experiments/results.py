"""Tables and run records: tidy JSON records (DESIGN.md "Result records"), Markdown and CSV views."""
from __future__ import annotations

import csv
import dataclasses
import json
import platform
import shutil
from importlib import metadata
from pathlib import Path

from emojax.analysis.stats import mean_std, paired_test

METRICS = ("f1", "ua", "wa")
NAMES = {"svm": "SVM", "blstm": "BLSTM", "blstm_shuffled": "BLSTM (shuffled)"}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("emojax", "jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def run_meta(cfg, corpus, *, wall_s: float, fold_results: list[dict], **extra) -> dict:
    import jax

    from emojax.runtime import allocator_state, compile_seconds, source_commit
    return {
        "experiment": "woellmer2012", "config": dataclasses.asdict(cfg), "corpus": corpus.params,
        "n_utterances": len(corpus), "versions": versions(), "device": str(jax.devices()[0]),
        "seed": cfg.seed, "wall_s": round(wall_s, 1), "compile": compile_seconds(),
        "jax_compilation_cache_dir": jax.config.jax_compilation_cache_dir,
        "emojax_commit": source_commit(), "host_allocator": allocator_state(),
        "cfs_features": {f"{r['task']}/fold{r['fold']:02d}": r["n_features"] for r in fold_results},
        **extra,
    }


def table_records(fold_results: list[dict], classifiers) -> tuple[list[dict], list[dict]]:
    """Per (task, classifier, metric): mean ± std over folds, and the paired tests."""
    tasks = list(dict.fromkeys(r["task"] for r in fold_results))
    records, tests = [], []
    for task in tasks:
        rs = sorted((r for r in fold_results if r["task"] == task), key=lambda r: r["fold"])
        for clf in classifiers:
            for m in METRICS:
                folds = [r["scores"][clf][m] for r in rs]
                mean, std = mean_std(folds)
                records.append({"task": task, "classifier": clf, "metric": m, "mean": mean,
                                 "std": std, "folds": folds, "source": "ours"})
        pairs = [("blstm", "blstm_shuffled", "paper"), ("blstm", "svm", "ours")]
        for a, b, src in pairs:
            if a in classifiers and b in classifiers:
                fa = [r["scores"][a]["f1"] for r in rs]
                fb = [r["scores"][b]["f1"] for r in rs]
                tests.append({"task": task, "a": a, "b": b, "metric": "f1", **paired_test(fa, fb),
                              "source": src})
    return records, tests


def paper_records(paper: dict) -> list[dict]:
    return [{"task": t, "classifier": c, "metric": "f1", "mean": m / 100, "std": s / 100,
             "source": "paper"} for t, row in paper.items() for c, (m, s) in row.items()]


def _pct(mean, std):
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def markdown(records, tests, paper, meta) -> str:
    f1 = {(r["task"], r["classifier"]): r for r in records if r["metric"] == "f1"}
    tasks = list(dict.fromkeys(r["task"] for r in records))
    clfs = list(dict.fromkeys(r["classifier"] for r in records))
    pap = {(r["task"], r["classifier"]): r for r in paper}
    lines = [f"# Wöllmer et al. 2012, Table 1 — corpus `{meta['config']['corpus']}`", "",
             "Unweighted (macro) F1 [%], mean ± std over "
             f"{len(records[0]['folds'])} leave-one-speaker-out folds; "
             "paper's numbers (IEMOCAP, audio-visual) in brackets.", "",
             "| task | " + " | ".join(NAMES.get(c, c) for c in clfs) + " | p (BLSTM vs shuffled) | p (BLSTM vs SVM, ours) |",
             "|---|" + "---|" * (len(clfs) + 2)]
    tmap = {(t["task"], t["b"]): t for t in tests}
    for task in tasks:
        cells = []
        for c in clfs:
            r = f1[(task, c)]
            cell = _pct(r["mean"], r["std"])
            if (task, c) in pap:
                cell += f" [{_pct(pap[(task, c)]['mean'], pap[(task, c)]['std'])}]"
            cells.append(cell)
        ps = [f"{tmap[(task, b)]['p']:.3g}" if (task, b) in tmap else "—"
              for b in ("blstm_shuffled", "svm")]
        lines.append(f"| {task} | " + " | ".join(cells) + f" | {ps[0]} | {ps[1]} |")
    lines += ["", "UA / WA [%]:", "", "| task | classifier | UA | WA |", "|---|---|---|---|"]
    byk = {(r["task"], r["classifier"], r["metric"]): r for r in records}
    for task in tasks:
        for c in clfs:
            ua, wa = byk[(task, c, "ua")], byk[(task, c, "wa")]
            lines.append(f"| {task} | {NAMES.get(c, c)} | {_pct(ua['mean'], ua['std'])} | "
                         f"{_pct(wa['mean'], wa['std'])} |")
    sw = [t for t in tests if t["b"] == "blstm_shuffled"]
    if sw:
        lines += ["", "Paired t-tests over folds (two-sided) on F1; Shapiro–Wilk p on the paired "
                  "differences: " + ", ".join(f"{t['task']} {t['shapiro_p']:.2f}" for t in sw) + "."]
    return "\n".join(lines) + "\n"


def write_table1(outdir: Path, fold_results, meta, paper, classifiers) -> dict:
    outdir.mkdir(parents=True, exist_ok=True)
    records, tests = table_records(fold_results, classifiers)
    prec = paper_records(paper)
    doc = {"meta": meta, "records": records, "tests": tests, "paper": prec}
    (outdir / "table1.json").write_text(json.dumps(doc, indent=1))
    (outdir / "run.json").write_text(json.dumps(meta, indent=1))
    (outdir / "table1.md").write_text(markdown(records, tests, prec, meta))
    with open(outdir / "table1.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "classifier", "metric", "mean", "std", "folds"])
        for r in records:
            w.writerow([r["task"], r["classifier"], r["metric"], f"{r['mean']:.6f}",
                        f"{r['std']:.6f}", " ".join(f"{v:.6f}" for v in r["folds"])])
    return doc


def publish(src: Path, dst: Path) -> None:
    """Copy a run's results (tables, figures, run.json; never checkpoints) to the committed results/."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_file():
            shutil.copy2(p, dst / p.name)
