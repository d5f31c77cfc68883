"""Several processes as one run, through ``jax.distributed``: who starts it, who writes, what is shared.

A run of N processes (hosts of a TPU pod slice, tasks of a Slurm job, or processes started by hand)
executes the same program in every process. The stacked models of a fit (`emojax.train.fit`,
``shard=True``) are placed across *all* processes' devices, so each process trains its share and
the per-step batches are assembled identically everywhere (they are cheap and deterministic).
Everything a run writes — piece records, checkpoints, tables, figures, published results — is
written by process 0 only; the others read the same workdir (which must therefore be on a file
system all processes see) and keep their copies of results in a private temporary folder. Where
the processes must take the same branch (which pieces a rerun reuses), process 0 decides and
the others follow (`agree`).

On the CPU, cross-process collectives use gloo (set here before the backend starts).
"""
from __future__ import annotations

import json
import os

import numpy as np

_STATE = {"initialized": False}


def cluster_detected() -> bool:
    """Whether the environment describes a multi-process job that ``jax.distributed.initialize()``
    can configure by itself: a Slurm job step of several tasks (``srun``), or a multi-host TPU pod
    slice."""
    env = os.environ
    if env.get("SLURM_STEP_ID") is not None and int(env.get("SLURM_STEP_NUM_TASKS",
                                                            env.get("SLURM_NTASKS", "1")) or 1) > 1:
        return True
    hosts = env.get("TPU_WORKER_HOSTNAMES", "")
    return len([h for h in hosts.split(",") if h.strip()]) > 1


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, detect: bool = False) -> dict:
    """Start ``jax.distributed`` when asked to (all three arguments; or ``detect``: from the
    environment, e.g. a TPU VM pod slice found through its metadata server) or when
    `cluster_detected`; otherwise do nothing (one process). Must run before JAX touches a device.
    Returns ``{"processes", "process"}``.

    Bad or partial flags stop with one line; so does a coordinator that does not answer in time.
    """
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise ValueError("--coordinator, --num-processes and --process-id go together (give all "
                         "three, or none on a TPU pod slice or under srun)")
    if all(given):
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise ValueError(f"--process-id {process_id} must be in [0, --num-processes "
                             f"{num_processes})")
        if ":" not in coordinator:
            raise ValueError(f"--coordinator {coordinator!r}: give HOST:PORT, e.g. 127.0.0.1:12355")
    elif not (detect or cluster_detected()):
        return {"processes": 1, "process": 0}
    if _STATE["initialized"]:
        return info()
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kw = ({"coordinator_address": coordinator, "num_processes": num_processes,
           "process_id": process_id} if all(given) else {})
    timeout = int(os.environ.get("EMOJAX_DISTRIBUTED_TIMEOUT", "300"))
    try:
        jax.distributed.initialize(initialization_timeout=timeout, **kw)
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"jax.distributed could not start ({e.__class__.__name__}: {first}); "
                         f"check --coordinator {coordinator or '(from the environment)'} is "
                         "reachable from every process") from None
    _STATE["initialized"] = True
    return info()


def info() -> dict:
    import jax
    return {"processes": jax.process_count(), "process": jax.process_index()}


def count() -> int:
    """Processes in this run, as JAX sees them (1 without ``jax.distributed``)."""
    import jax
    return jax.process_count()


def is_main() -> bool:
    """Whether this process writes (process 0, or the only one)."""
    import jax
    return jax.process_index() == 0


def raise_together(error: str | None) -> None:
    """Every process calls this at the same point with its own error (or None); if any process
    has one, every process raises — its own message, or one naming the process that failed — so
    none is left waiting in a collective the others never reach."""
    if count() == 1:
        if error:
            raise ValueError(error)
        return
    import jax
    from jax.experimental import multihost_utils
    flags = np.asarray(multihost_utils.process_allgather(np.int32(error is not None)))
    if error:
        raise ValueError(error)
    if flags.any():
        raise ValueError(f"process {int(np.flatnonzero(flags)[0])} of this run stopped with an "
                         f"error (see its output); process {jax.process_index()} stops too")


def gather(tree):
    """The pytree as numpy arrays on every process, also where its leaves span other processes'
    devices (then a cross-process all-gather; every process must call this at the same point)."""
    import jax

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)
    return jax.tree.map(one, tree)


def agree(value):
    """Process 0's `value` (anything JSON can carry) on every process; the value itself with one
    process. Every process must call this at the same point."""
    if count() == 1:
        return value
    from jax.experimental import multihost_utils
    data = np.frombuffer(json.dumps(value).encode(), np.uint8) if is_main() else np.zeros(0, np.uint8)
    n = int(multihost_utils.broadcast_one_to_all(np.int32(data.size)))
    buf = np.zeros(n, np.uint8)
    buf[:data.size] = data[:n]
    out = np.asarray(multihost_utils.broadcast_one_to_all(buf), np.uint8)
    return json.loads(out.tobytes().decode())


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier called `name` (no-op with one process)."""
    if count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
