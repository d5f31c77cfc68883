"""Local worker processes (`emojax.experiments.pool`): scheduling, pinning, failures, resume,
and the same bits as one process."""
import json
import os

import pytest

from emojax.experiments import pool
from emojax.experiments.runner import open_workdir, run_pieces

HELPERS = "pool_helpers"
needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"),
                                    reason="no CPU affinity on this OS")


def test_core_sets_cover_every_core_evenly():
    assert pool.core_sets(2, [0, 1]) == [[0], [1]]
    assert pool.core_sets(3, [0, 1, 2, 3, 4, 5, 6]) == [[0, 1], [2, 3, 4], [5, 6]]
    assert pool.core_sets(1, [4, 5]) == [[4, 5]]
    assert pool.core_sets(3, [0, 1]) == [[0], [1], [0]]         # more workers than cores: shared


def test_resolve(monkeypatch):
    assert pool.resolve(3) == 3 and pool.resolve("2") == 2
    monkeypatch.setenv(pool.WORKERS_ENV, "auto")
    assert pool.resolve(None) == min(len(pool.schedulable_cores()), pool.AUTO_MAX)   # a CPU here
    monkeypatch.setenv(pool.WORKERS_ENV, "1")
    assert pool.resolve(None) == 1
    for bad in ("two", 0, "-1", True):
        with pytest.raises(ValueError, match="workers"):
            pool.resolve(bad)


@needs_affinity
def test_every_piece_once_each_worker_pinned():
    stats = {}
    out = list(pool.compute((HELPERS, "doubler", ()), [[str(i)] for i in range(7)], 2, stats=stats))
    assert sorted(k for k, _, _ in out) == sorted(str(i) for i in range(7))
    assert all(r["double"] == 2 * int(k) for k, r, _ in out)
    assert stats["workers"] == 2 and stats["threads"] == len(pool.schedulable_cores())
    seen = {r["pid"]: tuple(r["cores"]) for _, r, _ in out}
    assert os.getpid() not in seen                 # computed by the workers, each on its share
    assert set(seen.values()) <= {tuple(c) for c in stats["cores"]}


def test_a_bad_input_in_a_worker_is_one_line_here():
    with pytest.raises(ValueError, match=r"piece 3: bad value 'x' in row 3"):
        list(pool.compute((HELPERS, "doubler", ("3",)), [[str(i)] for i in range(6)], 2))
    with pytest.raises(OSError, match=r"No space left on device: '/tmp/run/pieces/2.json'"):
        list(pool.compute((HELPERS, "doubler", (None, None, "2")), [[str(i)] for i in range(4)], 2))


def test_a_killed_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"exit code 9.*rerun the same command to resume"):
        list(pool.compute((HELPERS, "doubler", (None, "2")), [[str(i)] for i in range(4)], 2,
                          poll_s=0.2))


def test_run_pieces_with_workers_writes_here_and_resumes(tmp_path):
    pieces = {str(i): {"i": i} for i in range(5)}

    def here(keys, bar):                           # never called: the workers compute
        raise AssertionError("computed in this process")
    with open_workdir(tmp_path) as wd:
        recs, stats = run_pieces(wd, pieces, here, workers=2, spec=(HELPERS, "doubler", ()),
                                 progress=False)
    assert [r["double"] for r in recs.values()] == [0, 2, 4, 6, 8]
    assert stats["computed"] == 5 and stats["workers"] == 2
    saved = json.loads((tmp_path / "pieces" / "3.json").read_text())
    assert saved["record"]["double"] == 6 and saved["settings"] == {"i": 3}
    with open_workdir(tmp_path) as wd:             # a rerun reuses every piece, whatever workers
        recs2, stats2 = run_pieces(wd, pieces, here, workers=1, progress=False)
    assert recs2 == recs and stats2["reused"] == 5 and stats2["computed"] == 0
    # the reused pieces' wall time: each piece's seconds over the 2 workers that computed it
    for k in pieces:
        path = tmp_path / "pieces" / f"{k}.json"
        saved = json.loads(path.read_text())
        assert saved["workers"] == pool.width(2, 5)
        path.write_text(json.dumps({**saved, "seconds": 4.0}))     # known seconds: 5 x 4 s
    with open_workdir(tmp_path) as wd:
        _, stats3 = run_pieces(wd, pieces, here, workers=1, progress=False)
    assert stats3["reused_s"] == 20.0 / pool.width(2, 5)


def test_reused_seconds_of_pieces_stored_without_their_worker_count(tmp_path):
    """A piece stored before its worker count was counts at this run's count: one process here."""
    pieces = {"a": {"i": 0}, "b": {"i": 1}}
    (tmp_path / "pieces").mkdir()
    from emojax.experiments.runner import fingerprint
    for k, sec in (("a", 3.0), ("b", 5.0)):
        (tmp_path / "pieces" / f"{k}.json").write_text(json.dumps(
            {"fingerprint": fingerprint(pieces[k]), "settings": pieces[k], "seconds": sec,
             "record": [k]}))                      # a list record (the study's curves) too
    with open_workdir(tmp_path) as wd:
        recs, stats = run_pieces(wd, pieces, None, progress=False)
    assert recs == {"a": ["a"], "b": ["b"]} and stats["reused_s"] == 8.0
    with open_workdir(tmp_path) as wd:             # this run's pool: 2 workers over 2 groups
        _, stats = run_pieces(wd, pieces, None, workers=2, spec=(HELPERS, "doubler", ()),
                              progress=False)
    assert stats["reused_s"] == 8.0 / pool.width(2, 2)


@needs_affinity
@pytest.mark.skipif(len(pool.schedulable_cores()) < 2, reason="one core: workers cannot be pinned apart")
def test_workers_compute_the_bits_of_one_process():
    """Two workers, each pinned to one core, train at the Wöllmer shape and end with parameters
    bit-identical to the same training in this (unpinned) process."""
    keys = ["1", "2"]
    here = dict((k, h) for k, h in pool_helpers_trainer()(keys, None))
    there = {k: h for k, h, _ in pool.compute((HELPERS, "trainer", ()), [[k] for k in keys], 2)}
    assert there == here


def pool_helpers_trainer():
    import pool_helpers
    return pool_helpers.trainer()


def test_reproduction_with_workers_equals_one_process(tmp_path):
    """`emojax reproduce --workers 2`: the folds and the analysis's probes computed by two
    workers give the records, Table 1 and context.json of one process."""
    from emojax import cli
    runs = {}
    for n in ("1", "2"):
        wd = tmp_path / f"w{n}"
        assert cli.main(["reproduce", "woellmer2012:quick", "--workdir", str(wd), "--no-progress",
                         "--set", "tasks=[valence3]", "--workers", n,
                         "--set", "analysis.estimators=[paper,memoryless,smoother]"]) == 0
        runs[n] = wd
    one, two = runs["1"], runs["2"]
    for piece in sorted((one / "pieces").glob("*.json")):
        assert json.loads(piece.read_text())["record"] == \
            json.loads((two / "pieces" / piece.name).read_text())["record"], piece.name
    assert (one / "results" / "table1.md").read_bytes() == (two / "results" / "table1.md").read_bytes()
    assert json.loads((one / "results" / "context.json").read_text())["records"] == \
        json.loads((two / "results" / "context.json").read_text())["records"]
    assert sorted(p.name for p in (two / "probes").iterdir()) == \
        sorted(p.name for p in (one / "probes").iterdir())
    meta = json.loads((two / "results" / "run.json").read_text())
    assert meta["pieces"]["workers"] == 2 and meta["compile"]["count"] > 0


def test_cli_rejects_bad_workers(tmp_path, capsys):
    from emojax import cli
    assert cli.main(["reproduce", "woellmer2012:quick", "--workdir", str(tmp_path),
                     "--workers", "many"]) == 2
    assert "workers 'many'" in capsys.readouterr().err
    assert cli.main(["reproduce", "mirsamadi2017:quick", "--workdir", str(tmp_path / "m"),
                     "--workers", "2"]) == 2
    assert "drop --workers" in capsys.readouterr().err


def test_a_script_on_stdin_computes_in_its_own_process():
    """`spawn` cannot re-import a main script piped to ``python -``: the pieces are computed in
    that process instead, with the same results."""
    import subprocess
    import sys
    from pathlib import Path
    script = ("from emojax.experiments import pool\n"
              "out = list(pool.compute(('pool_helpers', 'doubler', ()), [['1'], ['2']], 2))\n"
              "print(sorted((k, r['double']) for k, r, _ in out))\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    got = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                         env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "[('1', 2), ('2', 4)]"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_workers_stop_when_their_parent_is_killed(tmp_path):
    """A run killed from outside (SIGKILL: no cleanup in the parent) leaves no worker computing:
    each notices its parent is gone and exits within seconds."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    def alive(pid):
        try:
            return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
        except FileNotFoundError:
            return False
    script = ("import sys\nfrom emojax.experiments import pool\n"
              "if __name__ == '__main__':\n"
              f"    list(pool.compute(('pool_helpers', 'sleeper', ({str(tmp_path)!r},)), "
              "[['a'], ['b']], 2))\n")
    (tmp_path / "run.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    parent = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], env=env)
    try:
        deadline = time.time() + 120
        while not ((tmp_path / "a").exists() and (tmp_path / "b").exists()):
            assert time.time() < deadline and parent.poll() is None, "the workers never started"
            time.sleep(0.2)
        pids = [int((tmp_path / k).read_text()) for k in ("a", "b")]
        assert all(alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 15
        while any(alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.2)
        assert not any(alive(p) for p in pids), "workers outlived their killed parent"
    finally:
        parent.kill()
