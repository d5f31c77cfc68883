"""A run never reports numbers it did not compute for its settings, never hangs, and answers every
bad input in one line — each case of the "Reliability" issue through the real CLI."""
import contextlib
import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emojax import cli
from emojax.data import synthetic
from emojax.data.table import write_table

TINY = ["--set", "tasks=[valence3]", "--set", "max_folds=1", "--set", "classifiers=[blstm]",
        "--set", "model.hidden=8", "--set", "train.max_epochs=2", "--no-progress",
        "--set", "analysis.estimators=[paper,memoryless,smoother]"]    # the probe: on request


def emojax(*args):
    return cli.main(["reproduce", "woellmer2012:quick", *args])


def one_line(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    wd = tmp_path_factory.mktemp("finished")
    assert emojax("--workdir", str(wd), *TINY) == 0
    return wd


def test_other_settings_never_reuse_finished_work(finished, capsys):
    capsys.readouterr()
    before = (finished / "results" / "table1.csv").read_bytes()
    assert emojax("--workdir", str(finished), *TINY, "--set", "train.l2=0.5", "--set", "seed=7") == 2
    line = one_line(capsys, "train.l2: 0.01 -> 0.5", "seed: 0 -> 7", "--fresh", "--workdir")
    assert str(finished) in line
    assert emojax("--workdir", str(finished), *TINY, "--set", "model.hidden=4") == 2
    one_line(capsys, "model.hidden: 8 -> 4")
    assert (finished / "results" / "table1.csv").read_bytes() == before     # nothing rewritten
    # the same settings still resume (and the table is the same bytes)
    assert emojax("--workdir", str(finished), *TINY) == 0
    assert (finished / "results" / "table1.csv").read_bytes() == before
    meta = json.loads((finished / "results" / "run.json").read_text())
    assert meta["pieces"] == {**meta["pieces"], "reused": 1, "computed": 0}
    assert meta["wall_s_total"] == pytest.approx(meta["wall_s"] + meta["pieces"]["reused_s"], abs=0.2)


def test_fresh_recomputes_for_the_new_settings(tmp_path, capsys):
    wd = tmp_path / "wd"
    assert emojax("--workdir", str(wd), *TINY, "--set", "analysis.enabled=false") == 0
    assert emojax("--workdir", str(wd), *TINY, "--set", "analysis.enabled=false",
                  "--set", "train.l2=0.5", "--fresh") == 0
    doc = json.loads((wd / "results" / "table1.json").read_text())
    assert doc["meta"]["config"]["train"]["l2"] == 0.5 and doc["meta"]["pieces"]["computed"] == 1
    piece = json.loads(next((wd / "pieces").glob("*.json")).read_text())
    assert piece["settings"]["config"]["train"]["l2"] == 0.5


def test_another_table_never_reuses_work(tmp_path, capsys):
    tables = []
    for seed in (1, 2):
        c = synthetic.marker_wearers(synthetic.generate(synthetic.SyntheticParams(scale=0.1, seed=seed)))
        tables.append(write_table(c, tmp_path / f"t{seed}.csv"))
    wd = tmp_path / "wd"
    args = [*TINY, "--set", "analysis.enabled=false"]
    assert emojax("--corpus", f"table:{tables[0]}", "--workdir", str(wd), *args) == 0
    capsys.readouterr()
    assert emojax("--corpus", f"table:{tables[1]}", "--workdir", str(wd), *args) == 2
    one_line(capsys, "corpus.sha256")
    # default workdirs differ by corpus, so two tables never collide there
    dirs = {cli.default_workdir(*cli.build_config(f"woellmer2012:quick", None, f"table:{t}", [])[:4])
            for t in tables}
    assert len(dirs) == 2
    assert cli.default_workdir(*cli.build_config("woellmer2012:quick", None, None, [])[:4]) == \
        Path("runs/woellmer2012-quick")


def test_a_second_run_on_a_locked_workdir_says_so(finished, capsys):
    capsys.readouterr()
    with open(finished / ".lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.seek(0), f.truncate(), f.write("4242"), f.flush()
        assert emojax("--workdir", str(finished), *TINY) == 2
    one_line(capsys, "another emojax run (pid 4242)", str(finished))


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_a_failing_save_ends_the_process_quickly(tmp_path):
    """Checkpoints land where nothing can be written: the run ends within seconds, one line."""
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "checkpoints").symlink_to("/proc/self")       # a directory no one (not even root) can write
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "emojax.cli", "reproduce", "woellmer2012:quick",
                          "--workdir", str(wd), *TINY], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "EMOJAX_CACHE": "off"})
    took = time.time() - t0
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "checkpoints/valence3_fold00_blstm" in lines[0] and "Traceback" not in out.stderr, lines
    assert took < 30, took
    assert not list((wd / "pieces").glob("*.json"))     # no piece recorded without its checkpoint


def test_corrupt_state_is_named(tmp_path, finished, capsys):
    import shutil
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    piece = next((wd / "pieces").glob("*.json"))
    piece.write_text(piece.read_text()[:40])
    capsys.readouterr()
    assert emojax("--workdir", str(wd), *TINY) == 2
    one_line(capsys, str(piece), "delete it")
    shutil.rmtree(wd)
    shutil.copytree(finished, wd)
    ckpt = next((wd / "checkpoints").iterdir())
    data = max((p for p in ckpt.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 3])
    assert cli.main(["analyze", str(wd), "--no-progress"]) == 2
    one_line(capsys, str(ckpt), "unreadable checkpoint", "delete it")
    shutil.rmtree(wd)
    shutil.copytree(finished, wd)
    ckpt = next((wd / "checkpoints").iterdir())
    (ckpt / "_METADATA").write_text("")
    assert cli.main(["analyze", str(wd), "--no-progress"]) == 2
    one_line(capsys, str(ckpt), "unreadable checkpoint")


@pytest.mark.parametrize("setting, needle", [
    ("max_folds=-1", "'max_folds': -1 must be >= 1"),
    ("max_folds=0", "'max_folds': 0 must be >= 1"),
    ("train.l2=-5", "'train.l2': -5.0 must be >= 0"),
    ("folds=100", "100 folds need 100 speakers"),
    ("tasks=[]", "'tasks': give at least one task"),
    ("tasks=[valence9]", "'tasks': 'valence9' is not one of"),
    ("train.lr=0", "'train.lr': 0.0 must be > 0"),
    ("analysis.theta=2", "'analysis.theta': 2.0 must be <= 1.0"),
    ("model.hidden=0", "'model.hidden': 0 must be >= 1"),
    ("seed=-1", "'seed': -1 must be >= 0"),
    ("val_speakers=0.95", "leaving none to train on"),
    ("tasks=null", "'tasks': give a list"),
])
def test_nonsense_settings_are_one_line(setting, needle, tmp_path, capsys):
    assert emojax("--workdir", str(tmp_path / "wd"), "--set", setting, "--no-progress") == 2
    one_line(capsys, needle)
    assert not (tmp_path / "wd" / "pieces").exists() or not list((tmp_path / "wd" / "pieces").iterdir())


def test_scalars_and_yaml_1_1_floats_are_understood():
    *_, cfg, _ = cli.build_config("woellmer2012", None, None,
                                  ["svm_grid=0.1", "train.l2=1e-3", "tasks=valence3"])
    assert cfg.svm_grid == (0.1,) and cfg.train.l2 == 0.001 and cfg.tasks == ("valence3",)


def test_a_deleted_checkpoint_is_recomputed(tmp_path, finished, capsys):
    import shutil
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    shutil.rmtree(next((wd / "checkpoints").iterdir()))
    capsys.readouterr()
    assert emojax("--workdir", str(wd), *TINY) == 0
    assert "is missing; recomputing valence3_fold00" in capsys.readouterr().err
    meta = json.loads((wd / "results" / "run.json").read_text())
    assert meta["pieces"]["computed"] == 1
    assert (wd / "results" / "table1.csv").read_bytes() == (finished / "results" / "table1.csv").read_bytes()


def test_paths_that_are_not_what_they_should_be(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert emojax("--workdir", str(f), "--no-progress") == 2
    one_line(capsys, str(f), "is a file")
    assert emojax("--config", str(tmp_path), "--workdir", str(tmp_path / "wd")) == 2
    one_line(capsys, str(tmp_path))
    assert cli.main(["analyze", str(tmp_path / "nothing")]) == 2
    one_line(capsys, "no finished run here")
    if Path("/proc/self").is_dir():                  # a workdir that cannot be created, even by root
        assert emojax("--workdir", "/proc/self/emojax-wd", "--no-progress") == 2
        one_line(capsys, "/proc/self/emojax-wd")


def test_a_label_with_one_class_names_file_task_and_column(tmp_path, capsys):
    c = synthetic.marker_wearers(synthetic.generate(synthetic.SyntheticParams(scale=0.1, seed=1)))
    import dataclasses

    import numpy as np
    c = dataclasses.replace(c, valence=np.full(len(c), 3.0))
    csv = write_table(c, tmp_path / "flat.csv")
    assert emojax("--corpus", f"table:{csv}", "--workdir", str(tmp_path / "wd"), *TINY) == 2
    one_line(capsys, str(csv), "valence3", "column valence", "single class")


def test_kill_9_and_resume_give_byte_identical_tables(tmp_path):
    """A run killed (SIGKILL) after its first finished fold resumes to the same bytes as a run that
    was never interrupted."""
    import signal
    args = [sys.executable, "-m", "emojax.cli", "reproduce", "woellmer2012:quick", *TINY,
            "--set", "max_folds=2", "--set", "analysis.enabled=false"]
    env = {**os.environ, "EMOJAX_CACHE": "off"}
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    subprocess.run([*args, "--workdir", str(whole)], check=True, env=env, timeout=300,
                   capture_output=True)
    p = subprocess.Popen([*args, "--workdir", str(cut)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not list((cut / "pieces").glob("*.json")) and p.poll() is None and time.time() - t0 < 300:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert len(list((cut / "pieces").glob("*.json"))) == 1, "killed too late to test a resume"
    subprocess.run([*args, "--workdir", str(cut)], check=True, env=env, timeout=300,
                   capture_output=True)
    for name in ("table1.csv", "table1.md"):
        assert (cut / "results" / name).read_bytes() == (whole / "results" / name).read_bytes()
    meta = json.loads((cut / "results" / "run.json").read_text())
    assert meta["pieces"]["reused"] == 1 and meta["pieces"]["computed"] == 1


@contextlib.contextmanager
def _counting_training():
    """Count the BLSTMs trained inside the block (woellmer2012.train_blstm wrapped): yields the
    list that grows by one per training."""
    from emojax.experiments import woellmer2012 as W
    real, calls = W.train_blstm, []

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)
    W.train_blstm = counting
    try:
        yield calls
    finally:
        W.train_blstm = real


def test_analysis_probes_are_a_cache(tmp_path, finished, capsys):
    """The memoryless probes live in probes/, keyed by fingerprint: `emojax analyze` reuses them
    (no training), and retrains one that was lost, with the same numbers."""
    import shutil
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    probes = sorted((wd / "probes").iterdir())
    assert probes and all("_memoryless_s0_" in p.name for p in probes)
    before = json.loads((wd / "results" / "context.json").read_text())["records"]
    with _counting_training() as calls:
        assert cli.main(["analyze", str(wd), "--no-progress"]) == 0
        assert not calls
        shutil.rmtree(probes[0])
        assert cli.main(["analyze", str(wd), "--no-progress"]) == 0
        assert len(calls) == 1
    after = json.loads((wd / "results" / "context.json").read_text())["records"]
    assert after == before


def test_analysis_reads_the_same_networks_per_direction(tmp_path, finished):
    """`emojax analyze --set analysis.estimators=[...]` with the per-direction readings trains
    nothing (they read the run's checkpoints and the kept probes) and adds their records; the
    paper's and the memoryless counts are unchanged."""
    import shutil
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    before = json.loads((wd / "results" / "context.json").read_text())["records"]
    with _counting_training() as calls:
        assert cli.main(["analyze", str(wd), "--no-progress", "--set",
                         "analysis.estimators=[paper,memoryless,smoother,directional,"
                         "memoryless_directional]"]) == 0
    assert not calls
    doc = json.loads((wd / "results" / "context.json").read_text())
    after = doc["records"]
    assert {r["estimator"] for r in after} == {"paper", "memoryless", "smoother", "directional",
                                               "memoryless_directional"}
    assert [r for r in after if r["estimator"] in ("paper", "memoryless", "smoother")] == before
    assert "memoryless_directional" in doc["meta"]["estimators"]


def test_analysis_smoother_draws_train_no_network(tmp_path, finished):
    """`analysis.smoother_draws=3` refits the smoother on bootstrap resamples (its records carry
    3 fits, a mean over them and an interval around it) and trains no network; the paper's and
    the memoryless counts are unchanged."""
    import shutil
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    before = json.loads((wd / "results" / "context.json").read_text())["records"]
    with _counting_training() as calls:
        assert cli.main(["analyze", str(wd), "--no-progress", "--set",
                         "analysis.smoother_draws=3"]) == 0
    assert not calls
    after = json.loads((wd / "results" / "context.json").read_text())["records"]
    assert [r for r in after if r["estimator"] != "smoother"] == \
        [r for r in before if r["estimator"] != "smoother"]
    means = [r for r in after if r["estimator"] == "smoother" and r["position"] == "ge10"]
    assert means and all(r["seeds"] == 3 and r["past_low"] <= r["past"] <= r["past_high"]
                         for r in means)
    assert "3 fits" in (wd / "results" / "context.md").read_text()


def test_analysis_smoother_target_refits_only_the_smoother(tmp_path, finished, capsys):
    """`analysis.smoother_target` switches what the smoother is fitted to (the ratings behind the
    classes or the classes) without training a network; the other estimators' records are
    unchanged, the context meta names the target, and a bad value is one clear line."""
    import shutil
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    out = {}
    for target in ("rating", "classes"):
        with _counting_training() as calls:
            assert cli.main(["analyze", str(wd), "--no-progress", "--set",
                             f"analysis.smoother_target={target}"]) == 0
        assert not calls
        doc = json.loads((wd / "results" / "context.json").read_text())
        assert doc["meta"]["config"]["analysis"]["smoother_target"] == target
        out[target] = doc["records"]
    rest = [[r for r in out[t] if r["estimator"] != "smoother"] for t in out]
    assert rest[0] == rest[1] and rest[0]
    assert [r for r in out["rating"] if r["estimator"] == "smoother"] != \
        [r for r in out["classes"] if r["estimator"] == "smoother"]
    assert cli.main(["analyze", str(wd), "--no-progress", "--set",
                     "analysis.smoother_target=labels"]) != 0
    assert "'analysis.smoother_target': 'labels' is not one of rating, classes" in \
        capsys.readouterr().err


def test_analysis_probe_settings_retrain_only_the_probes(tmp_path, finished):
    """The probe's own size and training settings (`analysis.memoryless_{hidden,lr,by_length}`)
    are part of its fingerprint: `emojax analyze` with them trains every probe anew, once (the
    second analyze loads them into the smaller model's shapes), beside the old ones, and leaves
    the paper's count alone."""
    import shutil

    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.woellmer2012_analysis import (AnalysisConfig, estimator_model,
                                                          estimator_train)
    wd = tmp_path / "copy"
    shutil.copytree(finished, wd)
    before = json.loads((wd / "results" / "context.json").read_text())["records"]
    n_probes = len(list((wd / "probes").iterdir()))
    args = ["analyze", str(wd), "--no-progress", "--set", "analysis.memoryless_hidden=4",
            "--set", "analysis.memoryless_lr=0.01", "--set", "analysis.memoryless_by_length=false"]
    with _counting_training() as calls:
        assert cli.main(args) == 0
        assert len(calls) == n_probes
        assert cli.main(args) == 0                  # reused: loaded as hidden-4 models
        assert len(calls) == n_probes
    assert len(list((wd / "probes").iterdir())) == 2 * n_probes     # the old ones are kept
    after = json.loads((wd / "results" / "context.json").read_text())["records"]
    paper = lambda recs: [r for r in recs if r["estimator"] == "paper"]  # noqa: E731
    assert paper(after) == paper(before) and after != before
    # the settings reach the probe's network only
    a, cfg = AnalysisConfig(memoryless_hidden=4, memoryless_lr=0.01), W.Config()
    assert estimator_model(cfg.model, a, "memoryless").hidden == 4
    assert estimator_model(cfg.model, a, "directional") == cfg.model
    assert estimator_train(cfg.train, a, "memoryless_directional").lr == 0.01
    assert estimator_train(cfg.train, a, "paper") == cfg.train
    # a probe L2 is the L2 it trains with, also where the run selects its own from a grid
    grid = dataclasses.replace(cfg.train, l2_grid=(0.1, 0.01))
    got = estimator_train(grid, AnalysisConfig(memoryless_l2=0.0), "memoryless")
    assert (got.l2, got.l2_grid) == (0.0, ())
    assert estimator_train(grid, AnalysisConfig(), "memoryless").l2_grid == (0.1, 0.01)
    with pytest.raises(ValueError, match="memoryless_by_length"):
        AnalysisConfig(memoryless_by_length=1)
