"""Several processes through jax.distributed (`emojax.parallel`): two CPU processes on this machine
give the same tables as one, only process 0 writes, a rerun resumes; flags are checked."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from emojax import parallel
from emojax.cli import main

# one task, three folds, one BLSTM condition: 3 stacked models over 2 devices (so the model axis
# is padded to 4), no analysis (its Jacobians run in every process alike, not sharded)
SETS = ["--set", "tasks=[valence3]", "--set", "max_folds=3", "--set", "classifiers=[svm,blstm]",
        "--set", "analysis.enabled=false", "--set", "batched=true"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(workdir, timeout=400):
    port = _free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "EMOJAX_CACHE": "off",
           "EMOJAX_DISTRIBUTED_TIMEOUT": "120"}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "emojax.cli", "reproduce", "woellmer2012:quick", *SETS,
         "--workdir", str(workdir), "--no-progress", "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", str(i)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    return outs


def test_two_processes_give_the_one_process_tables_and_only_process_0_writes(tmp_path, capsys):
    two, one = tmp_path / "two", tmp_path / "one"
    outs = _two_processes(two)
    assert "results:" in outs[0] and "results:" not in outs[1]     # process 0 reports
    run = json.loads((two / "results" / "run.json").read_text())
    assert run["processes"] == 2 and run["devices"] == 2
    pieces = json.loads((two / "pieces" / "valence3_fold02.json").read_text())
    assert pieces["record"]["info"]["blstm"]["sharded"] is True
    assert main(["reproduce", "woellmer2012:quick", *SETS, "--workdir", str(one),
                 "--no-progress"]) == 0
    assert json.loads((one / "pieces" / "valence3_fold02.json").read_text()
                      )["record"]["info"]["blstm"]["sharded"] is False
    a = json.loads((one / "results" / "table1.json").read_text())
    b = json.loads((two / "results" / "table1.json").read_text())
    assert a["records"] == b["records"] and a["tests"] == b["tests"]
    assert (one / "results" / "table1.md").read_text() == (two / "results" / "table1.md").read_text()
    # the same checkpoints: one writer, nothing partial; the trained weights agree to round-off
    from emojax.train.checkpoint import load_params
    names = sorted(p.name for p in (two / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (one / "checkpoints").iterdir()) and len(names) == 3
    for n in names:
        pa, pb = load_params(one / "checkpoints" / n), load_params(two / "checkpoints" / n)
        fa = np.concatenate([np.ravel(v) for v in jax_leaves(pa)])
        fb = np.concatenate([np.ravel(v) for v in jax_leaves(pb)])
        np.testing.assert_allclose(fa, fb, rtol=0, atol=1e-5)
    # a rerun of the two resumes every piece (process 0 decides, the other follows)
    before = (two / "results" / "table1.md").read_text()
    _two_processes(two)
    run = json.loads((two / "results" / "run.json").read_text())
    assert run["pieces"]["reused"] == 3 and run["pieces"]["computed"] == 0
    assert (two / "results" / "table1.md").read_text() == before


def jax_leaves(tree):
    import jax
    return jax.tree.leaves(tree)


def test_one_process_is_the_identity():
    assert parallel.count() == 1 and parallel.is_main()
    assert parallel.agree({"a": [1, 2]}) == {"a": [1, 2]}
    out = parallel.gather({"x": np.arange(3.0)})
    np.testing.assert_array_equal(out["x"], np.arange(3.0))
    parallel.barrier("nothing to wait for")


@pytest.mark.parametrize("args, needle", [
    (["--coordinator", "127.0.0.1:1"], "go together"),
    (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"], "--process-id 2"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
])
def test_bad_process_flags_are_one_line(args, needle, tmp_path, capsys):
    assert main(["reproduce", "woellmer2012:quick", "--workdir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_clusters_are_detected_from_their_environment(monkeypatch):
    for k in ("SLURM_STEP_ID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "TPU_WORKER_HOSTNAMES"):
        monkeypatch.delenv(k, raising=False)
    assert not parallel.cluster_detected()
    monkeypatch.setenv("SLURM_NTASKS", "4")            # an sbatch script, outside srun: not yet
    assert not parallel.cluster_detected()
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    assert parallel.cluster_detected()
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")    # srun of one task
    assert not parallel.cluster_detected()
    for k in ("SLURM_STEP_ID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("TPU_WORKER_HOSTNAMES", "t1v-0")
    assert not parallel.cluster_detected()
    monkeypatch.setenv("TPU_WORKER_HOSTNAMES", "t1v-0,t1v-1")
    assert parallel.cluster_detected()


def test_experiments_that_train_one_model_at_a_time_refuse_several_processes(monkeypatch, tmp_path,
                                                                              capsys):
    monkeypatch.setattr(parallel, "initialize", lambda *a, **k: {"processes": 2, "process": 0})
    monkeypatch.setattr(parallel, "count", lambda: 2)
    assert main(["reproduce", "chernykh2018:quick", "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "runs in one process" in err and "woellmer2012" in err and len(err.strip().splitlines()) == 1
