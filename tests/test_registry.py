"""Adding a paper is one module and one registry line: a toy experiment, registered in a few lines,
runs through the real CLI — list, config, reproduce, analyze — and its results render."""
import dataclasses
import json
import types

from emojax import cli, experiments
from emojax.experiments import report


def toy_module() -> types.ModuleType:
    """A whole experiment: settings, paper numbers, run (through the fold runner), analyze, README."""
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces

    @dataclasses.dataclass(frozen=True)
    class Config:
        n: int = 3
        seed: int = 0

    def run(cfg, workdir, *, publish=None, progress=True, fresh=False):
        with open_workdir(workdir, fresh=fresh) as wd:
            pieces = {f"fold{i}": {"n": cfg.n, "seed": cfg.seed, "fold": i} for i in range(cfg.n)}
            recs, stats = run_pieces(wd, pieces, lambda keys, bar: ((k, {"fold": k, "f1": 0.5}) for k in keys),
                                     progress=progress)
            meta = R.run_meta("toy", cfg, wall_s=0.0, pieces=stats)
            (wd.results).mkdir(exist_ok=True)
            (wd.results / "run.json").write_text(json.dumps(meta))
            (wd.results / "toy.md").write_text(f"# toy: {len(recs)} folds\n")
        return {"records": list(recs.values())}

    def analyze(workdir, *, overrides=None, publish=None, progress=True):
        (workdir / "results" / "toy_analysis.md").write_text("# analysed\n")
        return {}

    mod = types.ModuleType("toy")
    mod.__dict__.update(DESCRIPTION="a toy experiment", Config=Config, QUICK={"n": 2}, PAPER={},
                        run=run, analyze=analyze, SUMMARY=("toy.md", "toy_analysis.md"),
                        readme_section=lambda results: ["**toy** section", ""])
    return mod


def test_a_registered_toy_experiment_runs_through_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(experiments.REGISTRY, "toy", toy_module())
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "a toy experiment" in out and "woellmer2012" in out
    assert cli.main(["config", "toy:quick"]) == 0
    assert "n: 2" in capsys.readouterr().out
    wd = tmp_path / "wd"
    assert cli.main(["reproduce", "toy:quick", "--workdir", str(wd), "--no-progress"]) == 0
    assert "# toy: 2 folds" in capsys.readouterr().out
    assert len(list((wd / "pieces").glob("*.json"))) == 2
    assert cli.main(["analyze", str(wd)]) == 0                  # dispatched on run.json's name
    assert "# analysed" in capsys.readouterr().out
    assert "**toy** section" in report.block(tmp_path)        # its README section renders


def test_list_shows_measured_times_and_unknown_names_are_one_line(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    woellmer = next(line for line in lines if line.startswith("woellmer2012 "))
    assert "min on" in woellmer
    assert cli.main(["reproduce", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown experiment 'nope'" in err[0]


def test_no_paper_names_below_the_experiments():
    """The CLI, training, kernels and data layers dispatch on no paper."""
    import pathlib
    import re
    root = pathlib.Path(cli.__file__).parent
    files = [root / "cli.py", *(root / "train").glob("*.py"), *(root / "nn").glob("*.py"),
             *(root / "data").glob("*.py")]
    hits = [f"{f.name}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if re.search(r"""["']woellmer|import woellmer|woellmer2012\b""", line)
            and "WOELLMER_TASKS" not in line and not line.lstrip().startswith("#")]
    assert not hits, hits
