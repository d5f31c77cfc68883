"""emojax command line: reproduce | analyze | bench. Intentionally thin: parse, call, print."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXPERIMENTS = ("woellmer2012", "woellmer2012_context")
ROOT = Path(__file__).resolve().parents[1]


def _experiment(name: str):
    if name == "woellmer2012":
        from emojax.experiments import woellmer2012
        return woellmer2012
    if name == "woellmer2012_context":
        from emojax.experiments import woellmer2012_context_study
        return woellmer2012_context_study
    raise ValueError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")


def build_config(name: str, config_file: str | None, corpus: str | None, sets: list[str]):
    """Run contract: Config defaults < :quick < --config FILE < --corpus < --set."""
    from emojax import config as C
    base, _, variant = name.partition(":")
    if variant not in ("", "quick"):
        raise ValueError(f"{name!r}: the only variant is ':quick'")
    mod = _experiment(base)
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


def _refresh_readmes(publish: Path | None) -> None:
    """After publishing into the committed results/, regenerate the README tables from them (the
    README must always match results/; a test checks it)."""
    if publish is not None and publish.parent == ROOT / "results" and (ROOT / "README.md").is_file():
        from emojax.experiments import report
        report.main()


def cmd_reproduce(args) -> int:
    mod, base, variant, cfg, default = build_config(args.name, args.config, args.corpus, args.set)
    workdir = Path(args.workdir or f"runs/{base}{'-quick' if variant else ''}")
    target = "woellmer2012" if base == "woellmer2012_context" else base   # studies publish beside
    publish = ROOT / "results" / target if default and (ROOT / "results").is_dir() else None
    if args.publish:          # a study or control, published under its own name
        publish = ROOT / "results" / args.publish
    doc = mod.run(cfg, workdir, publish=publish, progress=not args.no_progress)
    print((workdir / "results" / mod.SUMMARY).read_text())
    if base == "woellmer2012" and cfg.analysis:
        from emojax.experiments import woellmer2012_context as A
        A.analyze(workdir, publish=publish, progress=not args.no_progress)
        print((workdir / "results" / "context.md").read_text())
    _refresh_readmes(publish)
    print(f"results: {workdir / 'results'}" + (f" (published to {publish})" if publish else ""))
    return 0 if doc else 1


def cmd_analyze(args) -> int:
    from emojax.experiments import woellmer2012_context as A
    workdir = Path(args.workdir)
    if not (workdir / "results" / "run.json").is_file():
        raise ValueError(f"{workdir}: no finished run here (results/run.json missing); "
                         "run `emojax reproduce woellmer2012 --workdir DIR` first")
    publish = ROOT / "results" / args.publish if args.publish else None
    A.analyze(workdir, progress=not args.no_progress, mode=args.mode, publish=publish)
    _refresh_readmes(publish)
    print((workdir / "results" / "context.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="emojax", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reproduce", help="reproduce a paper's table (NAME or NAME:quick)")
    r.add_argument("name", help=f"one of {', '.join(EXPERIMENTS)}, optionally with :quick")
    r.add_argument("--corpus", help="synthetic[:k=v,...] (default) or table:PATH.csv[,ignore=a+b]")
    r.add_argument("--config", help="a YAML file of settings (see configs/)")
    r.add_argument("--workdir", help="where checkpoints, caches and results go (default runs/NAME)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set train.l2=0.001 (repeatable)")
    r.add_argument("--publish", metavar="NAME",
                   help="also publish to results/NAME (controls and studies; the default run "
                        "publishes to results/EXPERIMENT by itself)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_reproduce)
    a = sub.add_parser("analyze", help="sequential-Jacobian context analysis of a finished run")
    a.add_argument("workdir", help="the --workdir of a finished `emojax reproduce woellmer2012`")
    a.add_argument("--mode", default="auto", choices=("auto", "fwd", "rev"),
                   help="Jacobian by forward (jacfwd) or reverse (jacrev) mode; auto picks the cheaper")
    a.add_argument("--publish", metavar="NAME", help="also publish to results/NAME")
    a.add_argument("--no-progress", action="store_true", help="no progress bars")
    a.set_defaults(func=cmd_analyze)
    sub.add_parser("bench", add_help=False,
                   help="time emojax against Flax and PyTorch (emojax bench --help)")
    argv = sys.argv[1:] if argv is None else argv
    from emojax.runtime import keep_freed_memory
    keep_freed_memory()                            # large XLA host buffers reused, not re-faulted
    if argv[:1] == ["bench"]:                      # its own options: emojax.bench parses them
        from emojax.bench import main as bench_main
        return bench_main(argv[1:])
    args = p.parse_args(argv)
    from emojax.runtime import enable_compilation_cache, track_compile_time
    enable_compilation_cache()
    track_compile_time()
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:   # bad input: one clear line, not a traceback
        print(f"emojax: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emojax: interrupted; finished folds are saved, rerun the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
