"""Tidy result records (DESIGN.md "Result records") and their views: JSON, CSV, Markdown tables.

Generic: nothing here knows a paper. A record is one number with the keys that identify it
(``task``, ``classifier``, ``metric``, ``mean``, ``std``, ``folds``, …, any more axes a table has);
experiments build their records and render their own sections with these helpers.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from emojax.analysis.stats import mean_std, paired_test

METRICS = ("f1", "ua", "wa")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("emojax", "jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def run_meta(experiment: str, cfg, corpus=None, *, wall_s: float, **extra) -> dict:
    """run.json: what ran, on what, with which settings, how long (DESIGN.md "Run contract")."""
    import jax

    from emojax.runtime import allocator_state, compile_seconds, source_commit
    cfg_dict = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    meta = {"experiment": experiment, "config": cfg_dict}
    if corpus is not None:
        meta.update({"corpus": corpus.params, "n_utterances": len(corpus)})
    meta.update({
        "versions": versions(), "device": str(jax.devices()[0]),
        "seed": cfg_dict.get("seed"), "wall_s": round(wall_s, 1),
        "compile": compile_seconds(), "jax_compilation_cache_dir": jax.config.jax_compilation_cache_dir,
        "emojax_commit": source_commit(), "host_allocator": allocator_state(), **extra})
    if jax.process_count() > 1:
        meta.update({"processes": jax.process_count(), "devices": jax.device_count()})
    from emojax.nn.lstm import kernel_in_use
    if kernel_in_use() != "scan":                 # the default's records stay as they were
        meta["lstm_kernel"] = kernel_in_use()
    return meta


def fold_records(fold_results: list[dict], classifiers, metrics=METRICS) -> list[dict]:
    """Per (task, classifier, metric): mean ± std over the folds (sample std, ddof = 1)."""
    tasks = list(dict.fromkeys(r["task"] for r in fold_results))
    out = []
    for task in tasks:
        rs = sorted((r for r in fold_results if r["task"] == task), key=lambda r: r["fold"])
        for clf in classifiers:
            for m in metrics:
                folds = [r["scores"][clf][m] for r in rs]
                mean, std = mean_std(folds)
                out.append({"task": task, "classifier": clf, "metric": m, "mean": mean,
                            "std": std, "folds": folds, "source": "ours"})
    return out


def paired_tests(fold_results: list[dict], pairs, metric: str = "f1") -> list[dict]:
    """Paired t-tests over folds for each (a, b, source) in `pairs` (both must have scores)."""
    tasks = list(dict.fromkeys(r["task"] for r in fold_results))
    out = []
    for task in tasks:
        rs = sorted((r for r in fold_results if r["task"] == task), key=lambda r: r["fold"])
        for a, b, src in pairs:
            fa = [r["scores"][a][metric] for r in rs]
            fb = [r["scores"][b][metric] for r in rs]
            out.append({"task": task, "a": a, "b": b, "metric": metric, **paired_test(fa, fb),
                        "source": src})
    return out


def index(records: Iterable[dict], *keys: str) -> dict:
    """{(r[k] for k in keys): r}; a single key gives plain (not tuple) keys."""
    return {(r[keys[0]] if len(keys) == 1 else tuple(r[k] for k in keys)): r for r in records}


def run_minutes(m: dict, reused: str = "models") -> str:
    """A run's wall time from its meta; for a rerun that reused finished pieces (`reused` names
    them), with theirs counted (`emojax.experiments.runner.run_pieces`'s ``reused_s``)."""
    total, wall = m.get("wall_s_total", m["wall_s"]), m["wall_s"]
    if total - wall < 1:
        return f"{wall / 60:.1f} min"
    return (f"{total / 60:.1f} min ({wall / 60:.1f} min in the last run, which reused finished "
            f"{reused})")


def share(v, digits: int = 0) -> str:
    """A share as ``"84 %"`` (`digits` decimals); ``"–"`` where it is missing or NaN."""
    return "–" if v is None or v != v else f"{100 * v:.{digits}f} %"


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def pivot(records: list[dict], row: str, col: str, cell: Callable[[dict], str], *,
          row_label: str | None = None, col_name: Callable[[str], str] = str,
          extra: list[tuple[str, Callable[[str], str]]] = ()) -> list[str]:
    """A Markdown table with one row per value of `row`, one column per value of `col` (in order of
    first appearance), `cell(record)` in each, and `extra` columns computed from the row value."""
    rows = list(dict.fromkeys(r[row] for r in records))
    cols = list(dict.fromkeys(r[col] for r in records))
    at = index(records, row, col)
    header = [row_label or row] + [col_name(c) for c in cols] + [h for h, _ in extra]
    body = [[str(rv)] + [cell(at[(rv, c)]) if (rv, c) in at else "—" for c in cols]
            + [f(rv) for _, f in extra] for rv in rows]
    return markdown_table(header, body)


def csv_text(columns: list[str], rows: Iterable[list]) -> str:
    """One CSV writer for every table and curve: a header, then the rows as given."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def write_csv(path: Path, columns: list[str], rows: Iterable[list]) -> None:
    path.write_bytes(csv_text(columns, rows).encode())


def records_json(meta: dict, records: list[dict], **more) -> str:
    """{"meta", "records", ...} with one record per line: diffable, and a tenth of indent=1's size."""
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    tail = "".join(f',\n"{k}": {json.dumps(v)}' for k, v in more.items())
    return f'{{"meta": {json.dumps(meta)},\n"records": [\n{body}\n]{tail}}}\n'


def publish(src: Path, dst: Path) -> None:
    """Copy a run's results (tables, figures, run.json; never checkpoints) to the committed results/."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_file():
            shutil.copy2(p, dst / p.name)
