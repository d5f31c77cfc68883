"""Independent pieces of work in local worker processes, each pinned to its share of the cores.

On a CPU, one process training one utterance-level BLSTM (batch 8 × 48 steps, 128 cells per
direction) keeps about 1.3 of a 2-core VM's cores busy (6.3 ms per step unpinned, 8.0 ms on one
core): the per-step matmuls are small, and XLA splits only part of each step over its threads.
Two processes, each pinned to one core, train two such models at once, 1.6× the throughput of
one (measured on whole folds; README, "Speed and scale"). So the fold runner
(`emojax.experiments.runner.run_pieces`) and the Wöllmer analysis hand their pieces to
``workers`` processes here; on a GPU or TPU one process keeps the device (``auto`` gives 1 there).

**The same numbers.** XLA's CPU thread pool size sets how a contraction's sum is split, so a
worker pinned to one core would otherwise compute in another float order than the parent. Every
worker runs XLA with the parent's thread count (``NPROC``, which XLA reads instead of the core
count) while pinned to its own cores, so a piece computed by any worker has the bits of the same
piece computed in one process (tested; ``workers`` is not a setting that shapes results, and
finished pieces are reused whatever the count).

A worker builds its state once from a *spec*, ``(module, function, args)``: the module-level
``function(*args)`` returns ``compute(keys, bar) -> iterator of (key, result)``, the same contract
as `run_pieces`' compute. Args are pickled (frozen dataclass configs, paths). Workers start with
``spawn``, never ``fork`` (JAX's threads do not survive a fork).
"""
from __future__ import annotations

import os
import queue
import time
import traceback
from typing import Iterator

WORKERS_ENV = "EMOJAX_WORKERS"
AUTO_MAX = 8                      # ``auto``'s ceiling (see `resolve`)


def schedulable_cores() -> list[int]:
    """The cores this process may run on (its affinity), or ``range(cpu_count)`` where the OS
    has no affinity call."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:                          # macOS, Windows
        return list(range(os.cpu_count() or 1))


def resolve(workers: int | str | None) -> int:
    """The number of worker processes: an int ≥ 1 as given; ``"auto"`` or None reads
    ``$EMOJAX_WORKERS`` (an int or ``auto``), and ``auto`` means one per schedulable core, at most
    `AUTO_MAX`, on a CPU backend in a single-process run, else 1 (an accelerator, or
    `emojax.parallel`'s processes). Each worker holds its own corpus and XLA runtime (about
    360 MB for the Wöllmer run) and runs the parent's thread count on its share of the cores, so
    many workers on a large machine oversubscribe each share; only 2 cores were measured."""
    if workers is None:
        workers = os.environ.get(WORKERS_ENV, "auto")
    if isinstance(workers, str):
        if workers.strip().lower() != "auto":
            try:
                workers = int(workers)
            except ValueError:
                raise ValueError(f"workers {workers!r}: give a whole number of processes (1 = this "
                                 f"process only) or 'auto' (also ${WORKERS_ENV})") from None
        else:
            import jax
            if jax.default_backend() != "cpu" or jax.process_count() > 1:
                return 1
            return min(len(schedulable_cores()), AUTO_MAX)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers {workers!r}: give a whole number of processes ≥ 1 or 'auto'")
    return workers


def core_sets(n: int, cores: list[int] | None = None) -> list[list[int]]:
    """The cores of each of `n` workers: contiguous, as even as possible, every core used; with
    more workers than cores, workers share cores round-robin."""
    cores = schedulable_cores() if cores is None else list(cores)
    if n >= len(cores):
        return [[cores[i % len(cores)]] for i in range(n)]
    bounds = [round(i * len(cores) / n) for i in range(n + 1)]
    return [cores[bounds[i]:bounds[i + 1]] for i in range(n)]


def _timed(compute, keys):
    """``(key, result, seconds)`` for each piece that ``compute(keys, None)`` yields."""
    t0 = time.time()
    for key, result in compute(keys, None):
        yield key, result, round(time.time() - t0, 2)
        t0 = time.time()


def _spawnable() -> bool:
    """Whether ``spawn`` can start workers: it re-imports the parent's main script, which must
    then be a file (a script piped to ``python -`` is not; a notebook or ``python -c`` has none)."""
    import sys
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return main is None or os.path.exists(main)


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """Stop this worker once its parent is gone (killed by SIGTERM or SIGKILL, which give the
    parent no chance to stop it): nobody would store what it computes, and it holds the cores."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def _worker(index: int, cores: list[int], spec, options: dict, todo, done) -> None:
    """One worker: pin, build the compute function from `spec`, then compute groups of keys from
    `todo` until a None arrives; report each result, every failure and the compile time to `done`.
    It stops by itself when the parent process dies (`_exit_with_parent`)."""
    import threading
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cores)
        from emojax import runtime
        runtime.keep_freed_memory()
        if options.get("compilation_cache"):
            runtime.enable_compilation_cache()
        runtime.track_compile_time()
        import importlib
        module, function, args = spec
        compute = getattr(importlib.import_module(module), function)(*args)
        while (keys := todo.get()) is not None:
            for key, result, sec in _timed(compute, keys):
                done.put(("result", index, key, result, sec))
        done.put(("exit", index, runtime.compile_seconds(), None, None))
    except KeyboardInterrupt:
        pass
    except BaseException as e:                      # sent to the parent, which raises it there
        kind = ("ValueError" if isinstance(e, ValueError) else "OSError" if isinstance(e, OSError)
                else e.__class__.__name__)
        done.put(("error", index, kind, str(e), traceback.format_exc()))


def width(workers: int, n_groups: int) -> int:
    """How many processes `compute` runs `n_groups` groups in with `workers` asked for (1 where
    it cannot spawn processes and computes here)."""
    n = min(workers, n_groups)
    if n <= 1:
        return max(n, 0)
    return n if _spawnable() else 1


def compute(spec, groups: list[list[str]], workers: int, *, stats: dict | None = None,
            poll_s: float = 1.0) -> Iterator[tuple[str, object, float]]:
    """Compute every group of keys in `workers` processes; yield ``(key, result, seconds)`` as
    each piece is done (completion order). A failure in a worker stops the others and is raised
    here: a `ValueError` or `OSError` (bad input or state, a failed write: one line for the user)
    as the same, anything else as a RuntimeError carrying the worker's traceback. `stats` (if given) receives
    ``workers``, ``cores`` (per worker) and ``threads`` (XLA's, per worker); the workers' compile
    time is added to this process's (`emojax.runtime.compile_seconds`)."""
    import multiprocessing as mp
    n = min(workers, len(groups))
    if n == 0:
        return
    if n == 1 or not _spawnable():                  # compute here, with the same contract
        import importlib
        module, function, args = spec
        fn = getattr(importlib.import_module(module), function)(*args)
        for keys in groups:
            yield from _timed(fn, keys)
        if stats is not None:
            stats.update({"workers": 1})
        return
    from emojax.runtime import cache_enabled
    ctx = mp.get_context("spawn")
    todo, done = ctx.Queue(), ctx.Queue()
    for g in groups:
        todo.put(list(g))
    for _ in range(n):
        todo.put(None)
    threads = os.environ.get("NPROC") or str(len(schedulable_cores()))
    sets = core_sets(n)
    procs = [ctx.Process(target=_worker, args=(i, sets[i], spec,
                                               {"compilation_cache": cache_enabled()}, todo, done),
                         daemon=True, name=f"emojax-worker-{i}") for i in range(n)]
    before = os.environ.get("NPROC")
    os.environ["NPROC"] = threads                   # inherited: XLA's thread count, as here
    try:
        for p in procs:
            p.start()
    finally:
        if before is None:
            os.environ.pop("NPROC", None)
        else:
            os.environ["NPROC"] = before
    finished = 0
    try:
        while finished < n:
            try:
                kind, i, a, b, c = done.get(timeout=poll_s)
            except queue.Empty:
                dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
                if dead:
                    code = dead[0].exitcode
                    why = (f"killed by signal {-code}, e.g. out of memory" if code < 0 else
                           f"exit code {code}; its messages above say why")
                    raise RuntimeError(f"{dead[0].name} stopped ({why}); finished pieces are "
                                       "saved, rerun the same command to resume (or give fewer "
                                       "workers)")
                continue
            if kind == "result":
                yield a, b, c
            elif kind == "exit":
                finished += 1
                from emojax.runtime import add_compile_seconds
                add_compile_seconds(a["seconds"], a["count"])      # run.json's compile: all of it
            else:
                if a in ("ValueError", "OSError"):        # bad input or state: one line
                    raise (ValueError if a == "ValueError" else OSError)(b)
                raise RuntimeError(f"emojax-worker-{i} failed: {a}: {b}\n{c}")
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
        for q in (todo, done):
            q.cancel_join_thread()
            q.close()
    if stats is not None:
        stats.update({"workers": n, "cores": sets, "threads": int(threads)})
