"""emojax command line: list | config | prepare | render | features | reproduce | analyze | bench. Intentionally thin: parse,
call, print. It names no paper: experiments come from the registry (`emojax.experiments`)."""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


WORKERS_HELP = ("local processes that compute the pieces, each pinned to its cores, with the "
                "numbers of one process (default auto = $EMOJAX_WORKERS or one per core on a "
                "CPU, at most 8; 1 on a GPU/TPU)")


def build_config(name: str, config_file: str | None, corpus: str | None, sets: list[str]):
    """Run contract: Config defaults < :quick < --config FILE < --corpus < --set.

    Returns (module, base name, variant, cfg, whether it is the full default run).
    """
    from emojax import config as C
    from emojax import experiments
    base, _, variant = name.partition(":")
    if variant not in ("", "quick"):
        raise ValueError(f"{name!r}: the only variant is ':quick'")
    base = experiments.ALIASES.get(base, base)
    mod = experiments.get(base)
    cfg = mod.Config()
    if variant == "quick":
        cfg = C.override(cfg, mod.QUICK)
    if config_file:
        cfg = C.override(cfg, C.load_yaml(config_file))
    if corpus:
        cfg = C.override(cfg, {"corpus": corpus})
    if sets:
        cfg = C.override(cfg, C.parse_sets(sets))
    default = not (variant or config_file or corpus or sets)
    return mod, base, variant, cfg, default


def default_workdir(mod, base: str, variant: str, cfg) -> Path:
    """``runs/NAME[-quick]``, plus the corpus when it is not the experiment's own (two corpora
    never share a workdir): e.g. ``runs/NAME-quick-my.csv-1a2b3c``."""
    from emojax import config as C
    name = f"{base}{'-quick' if variant else ''}"
    own = C.override(mod.Config(), mod.QUICK) if variant else mod.Config()
    corpus = getattr(cfg, "corpus", None)
    if corpus is not None and corpus != getattr(own, "corpus", None):
        slug = re.sub(r"[^A-Za-z0-9.=,]+", "-", Path(corpus.split(",")[0]).name or corpus)[-32:]
        name += f"-{slug.strip('-')}-{hashlib.sha1(corpus.encode()).hexdigest()[:6]}"
    return Path("runs") / name


def _refresh_readmes(publish: Path | None) -> None:
    """After publishing into the committed results/, regenerate the README tables from them (the
    README must always match results/; a test checks it)."""
    if publish is not None and publish.parent == ROOT / "results" and (ROOT / "README.md").is_file():
        from emojax.experiments import report
        report.main()


def _print_summaries(mod, results: Path) -> None:
    for name in getattr(mod, "SUMMARY", ()):
        if (results / name).is_file():
            print((results / name).read_text())


def _workers(args, fn, name: str) -> dict:
    """``{"workers": N}`` for a run or analysis that computes pieces in local processes
    (`emojax.experiments.pool`; default ``auto``: one per core on a CPU); an explicit
    ``--workers`` > 1 for one that does not is an error."""
    import inspect

    from emojax.experiments import pool
    if "workers" in inspect.signature(fn).parameters:
        return {"workers": pool.resolve(args.workers)}
    if args.workers is not None and pool.resolve(args.workers) > 1:
        raise ValueError(f"{name} computes in this process only; drop --workers")
    return {}


def cmd_reproduce(args) -> int:
    from emojax import experiments, parallel
    parallel.initialize(args.coordinator, args.num_processes, args.process_id,
                        detect=args.distributed)
    mod, base, variant, cfg, default = build_config(args.name, args.config, args.corpus, args.set)
    if parallel.count() > 1 and not getattr(mod, "DISTRIBUTED", False):
        shared = ", ".join(n for n in experiments.names()
                           if getattr(experiments.get(n), "DISTRIBUTED", False))
        raise ValueError(f"{base} runs in one process (its models are trained one at a time); "
                         f"several processes share the work of: {shared}")
    workdir = Path(args.workdir) if args.workdir else default_workdir(mod, base, variant, cfg)
    publish = (ROOT / "results" / experiments.publish_name(base)
               if default and (ROOT / "results").is_dir() else None)
    if args.publish:          # a study or control, published under its own name
        publish = ROOT / "results" / args.publish
    if not parallel.is_main():   # process 0 writes and reports
        doc = mod.run(cfg, workdir, publish=None, progress=False)
        return 0 if doc else 1
    import inspect
    kw = {"fresh": args.fresh} if "fresh" in inspect.signature(mod.run).parameters else {}
    if args.fresh and not kw:
        raise ValueError(f"{base}: this experiment does not support --fresh")
    kw.update(_workers(args, mod.run, base))
    doc = mod.run(cfg, workdir, publish=publish, progress=not args.no_progress, **kw)
    _print_summaries(mod, workdir / "results")
    _refresh_readmes(publish)
    print(f"results: {workdir / 'results'}" + (f" (published to {publish})" if publish else ""))
    return 0 if doc else 1


def cmd_analyze(args) -> int:
    from emojax import config as C
    from emojax import experiments
    from emojax.experiments.runner import read_json
    workdir = Path(args.workdir)
    run_json = workdir / "results" / "run.json"
    if not run_json.is_file():
        raise ValueError(f"{workdir}: no finished run here (results/run.json missing); "
                         "run `emojax reproduce NAME --workdir DIR` first")
    meta = read_json(run_json, "run record")
    name = meta.get("experiment") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        raise ValueError(f"{run_json}: not a run record (no experiment name)")
    mod = experiments.get(name) if name else None
    if mod is None or not hasattr(mod, "analyze"):
        raise ValueError(f"{workdir}: experiment {name!r} has no analysis (emojax list)")
    overrides = C.parse_sets(args.set)
    if args.mode:
        overrides["analysis.mode"] = args.mode
    publish = ROOT / "results" / args.publish if args.publish else None
    mod.analyze(workdir, overrides=overrides, publish=publish, progress=not args.no_progress,
                **_workers(args, mod.analyze, name))
    _refresh_readmes(publish)
    _print_summaries(mod, workdir / "results")
    return 0


def _measured(name: str, mod) -> str:
    """"full run N min on DEVICE" from the committed results/ record, if it is this experiment's."""
    import json

    from emojax import experiments
    record = ROOT / "results" / experiments.publish_name(name) / getattr(mod, "RECORD", "run.json")
    try:
        doc = json.loads(record.read_text())
    except (OSError, ValueError):
        return "full run not measured yet"
    meta = doc.get("meta", doc)
    if meta.get("experiment") not in {name, *(a for a, n in experiments.ALIASES.items() if n == name)}:
        return "full run not measured yet"
    sec = meta.get("wall_s_total", meta.get("wall_s", float("nan")))
    return f"full run {sec / 60:.1f} min on {meta.get('device', '?')}"


def cmd_list(args) -> int:
    from emojax import experiments
    for name in experiments.names():
        mod = experiments.get(name)
        print(f"{name:22s} {mod.DESCRIPTION} ({_measured(name, mod)})")
    return 0


def cmd_config(args) -> int:
    from emojax import config as C
    mod, base, variant, cfg, _ = build_config(args.name, None, args.corpus, args.set)
    what = "the same code path at tiny size (what the tests run)" if variant else mod.DESCRIPTION
    file = f"configs/{base}{'_quick' if variant else ''}.yaml"
    print(C.to_yaml(cfg, header=f"{base}{':' + variant if variant else ''}: {what}\n"
                               f"emojax reproduce {base} --config {file}  (generated by emojax "
                               f"config {args.name})"), end="")
    return 0


def cmd_prepare(args) -> int:
    from emojax.data import iemocap
    if args.corpus != "iemocap":
        raise ValueError(f"prepare: unknown corpus {args.corpus!r}; known: iemocap")
    written = iemocap.prepare_iemocap(args.path, args.out, progress=not args.no_progress)
    for what, path in written.items():
        print(f"{what}: {path}")
    return 0


def cmd_render(args) -> int:
    from emojax.data import render, synthetic
    spec = args.corpus
    if not spec.startswith("synthetic"):
        raise ValueError(f"render: only the embedded corpus renders (synthetic[:k=v,...]), not {spec!r}")
    params = synthetic.parse_spec(spec.partition(":")[2])
    summary = render.render_iemocap(args.out, params, workers=args.workers or os.cpu_count() or 1,
                                    speech=args.speech,
                                    progress=not args.no_progress)
    print(f"rendered {summary.get('utterances', '?')} utterances "
          f"({summary.get('audio_seconds', 0) / 3600:.2f} h of audio) into {args.out}")
    return 0


def cmd_features(args) -> int:
    from emojax import config as C
    from emojax import data
    from emojax.features import extract
    corpus = data.load(args.corpus)
    options = C.parse_sets(args.option)
    report = extract.extract_corpus(corpus, args.set, args.out, options=options,
                                    workers=args.workers, resample=args.resample,
                                    progress=not args.no_progress)
    print(f"{report['extracted']} of {report['utterances']} utterances: {report['computed']} "
          f"computed, {report['reused']} reused; {report['audio_seconds'] / 3600:.2f} h of audio in "
          f"{report['wall_seconds']:.1f} s" + (f" ({report['realtime_factor']:.0f}x real time)"
                                               if report["realtime_factor"] else ""))
    if report["skipped"]:
        print(f"skipped {report['skipped']} files ({report['skipped_reasons']}): see "
              f"{Path(args.out) / 'skipped.csv'}")
    print(f"frames: {Path(args.out) / 'index.csv'}; functionals: {report.get('functionals', '-')}")
    return 0


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e).splitlines()[0] if str(e) else e.__class__.__name__


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="emojax", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the experiments, each with what it does and its measured time"
                   ).set_defaults(func=cmd_list)
    c = sub.add_parser("config", help="the resolved settings of NAME[:quick] as YAML")
    c.add_argument("name")
    c.add_argument("--corpus")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    c.set_defaults(func=cmd_config)
    r = sub.add_parser("reproduce", help="reproduce a paper's table (NAME or NAME:quick)")
    r.add_argument("name", help="an experiment of `emojax list`, optionally with :quick")
    r.add_argument("--corpus", help="synthetic[:k=v,...] (default) or table:PATH.csv[,ignore=a+b]")
    r.add_argument("--config", help="a YAML file of settings (see configs/)")
    r.add_argument("--workdir", help="where checkpoints, caches and results go "
                                     "(default runs/NAME[-quick][-CORPUS])")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set train.l2=0.001 (repeatable)")
    r.add_argument("--fresh", action="store_true",
                   help="discard the work an earlier run left in the workdir")
    r.add_argument("--publish", metavar="NAME",
                   help="also publish to results/NAME (controls and studies; the default run "
                        "publishes to results/EXPERIMENT by itself)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--workers", metavar="N|auto", help=WORKERS_HELP)
    d = r.add_argument_group("several processes (jax.distributed; detected by itself on a TPU "
                             "pod slice and under srun)")
    d.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    d.add_argument("--num-processes", type=int, metavar="N")
    d.add_argument("--process-id", type=int, metavar="I", help="this process, 0 .. N-1")
    d.add_argument("--distributed", action="store_true",
                   help="start jax.distributed from the environment where emojax does not see a "
                        "cluster by itself (e.g. a TPU VM pod slice: its metadata server)")
    r.set_defaults(func=cmd_reproduce)
    a = sub.add_parser("analyze", help="re-run a finished run's analysis from its checkpoints")
    a.add_argument("workdir", help="the --workdir of a finished `emojax reproduce`")
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an analysis setting, e.g. --set analysis.theta=0.05 (repeatable)")
    a.add_argument("--mode", choices=("auto", "fwd", "rev"),
                   help="shorthand for --set analysis.mode=MODE: Jacobian by forward (jacfwd) or "
                        "reverse mode; auto picks the cheaper")
    a.add_argument("--publish", metavar="NAME", help="also publish to results/NAME")
    a.add_argument("--no-progress", action="store_true", help="no progress bars")
    a.add_argument("--workers", metavar="N|auto", help=WORKERS_HELP)
    a.set_defaults(func=cmd_analyze)
    pr = sub.add_parser("prepare", help="read a corpus's own layout into a manifest, integrity report "
                        "and split files (prepare iemocap PATH --out DIR)")
    pr.add_argument("corpus", help="the corpus kind: iemocap")
    pr.add_argument("path", help="the corpus root, e.g. .../IEMOCAP_full_release")
    pr.add_argument("--out", required=True, help="where utterances.csv, integrity.json, folds.csv go")
    pr.add_argument("--no-progress", action="store_true")
    pr.set_defaults(func=cmd_prepare)
    rd = sub.add_parser("render", help="write the embedded corpus as audio, labels, transcripts and "
                        "MoCap in the IEMOCAP layout")
    rd.add_argument("out", help="the tree's root (an IEMOCAP_full_release-like folder)")
    rd.add_argument("--corpus", default="synthetic:scale=0.2", help="synthetic[:k=v,...]")
    rd.add_argument("--speech", default="synth", choices=("synth", "espeak"))
    rd.add_argument("--workers", type=int, default=None)
    rd.add_argument("--no-progress", action="store_true")
    rd.set_defaults(func=cmd_render)
    fe = sub.add_parser("features", help="frame descriptors and functionals for every utterance's "
                        "audio (cached by content, resumable)")
    fe.add_argument("--corpus", required=True, help="iemocap:PATH (raw tree or prepared dir), ...")
    from emojax.features.sets import SETS                 # numpy only: light
    fe.add_argument("--set", required=True, help="a feature set: " + ", ".join(SETS))
    fe.add_argument("--out", required=True)
    fe.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="a set option, e.g. --option mode=fixed (repeatable)")
    fe.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    fe.add_argument("--resample", action="store_true",
                    help="resample files at another rate instead of skipping them")
    fe.add_argument("--no-progress", action="store_true")
    fe.set_defaults(func=cmd_features)
    sub.add_parser("bench", add_help=False,
                   help="time emojax against Flax and PyTorch (emojax bench --help)")
    argv = sys.argv[1:] if argv is None else argv
    from emojax.runtime import devices_for_kernel, keep_freed_memory
    keep_freed_memory()                            # large XLA host buffers reused, not re-faulted
    devices_for_kernel()                           # before JAX starts: EMOJAX_LSTM_KERNEL
    try:
        if argv[:1] == ["bench"]:                  # its own options: emojax.bench parses them
            if (os.cpu_count() or 1) >= 2 and "features" not in argv:
                from emojax.runtime import cpu_devices
                cpu_devices(2)                     # emojax_directions: a core per direction
            from emojax.bench import main as bench_main
            return bench_main(argv[1:])
        args = p.parse_args(argv)
        if args.cmd in ("reproduce", "analyze"):
            from emojax.runtime import enable_compilation_cache, track_compile_time
            enable_compilation_cache()
            track_compile_time()
        return args.func(args)
    except (ValueError, OSError) as e:             # bad input, bad state, a failed write: one line
        print(f"emojax: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emojax: interrupted; finished pieces are saved, rerun the same command to resume",
              file=sys.stderr)
        return 130


def entry() -> None:
    """The `emojax` console script: `main`, then exit even if a library left a thread running
    (a failed background write must never keep the process alive)."""
    try:
        code = main()
    except SystemExit as e:                    # argparse's usage errors
        code = e.code if isinstance(e.code, int) else 2
    except BaseException:                      # a bug: show it, then still exit
        import traceback
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
