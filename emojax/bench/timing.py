"""How `emojax bench` times a call: compile + warm-ups, interleaved timed rounds, the machine's
matmul peak and the load other processes put on it. Library-agnostic: a call is any zero-argument
function that blocks until its work is done."""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

WARMUPS = 2
ROUNDS = 5                # timed calls are spread over this many interleaved rounds


def prepare_call(fn: Callable[[], Any], repeats: int, budget_s: float) -> dict:
    """First call (compile_s) and warm-ups; how many timed calls fit the budget (at least 3)."""
    t0 = time.perf_counter()
    fn()
    compile_s = time.perf_counter() - t0
    warm = []
    for _ in range(WARMUPS):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    n = repeats
    if warm and min(warm) * repeats > budget_s:
        n = max(3, min(repeats, int(budget_s / min(warm))))
    return {"compile_s": compile_s, "repeats": n}


def time_interleaved(fns: dict[str, Callable[[], Any]], repeats: dict[str, int],
                     rounds: int = ROUNDS, errors: dict[str, Exception] | None = None) -> dict[str, dict]:
    """Timed calls of every implementation, interleaved: in each of ``rounds`` rounds every
    implementation runs its share of its ``repeats`` calls in turn. A slow drift of the machine
    (other tenants, clocks) then lands on all rows alike instead of on whichever row ran during it,
    so the ratios between rows are fair. Returns median / min / max ms per implementation.

    With ``errors`` (a dict), an implementation that raises is dropped from the timing and its
    exception stored there; without it the exception propagates."""
    times = {k: [] for k in fns}
    for r in range(rounds):
        for k, fn in fns.items():
            if errors is not None and k in errors:
                continue
            share = repeats[k] // rounds + (1 if r < repeats[k] % rounds else 0)
            try:
                for _ in range(share):
                    t0 = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t0)
            except Exception as e:
                if errors is None:
                    raise
                errors[k] = e
    return {k: {"median_ms": 1e3 * statistics.median(ts), "min_ms": 1e3 * min(ts),
                "max_ms": 1e3 * max(ts)} for k, ts in times.items() if ts and k not in (errors or {})}


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Best-of-``repeats`` f32 GFLOP/s of a jitted n×n @ n×n matmul on JAX's default device."""
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        mm(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


class OtherLoad:
    """How many cores OTHER processes kept busy between start and `cores()`: /proc/stat's busy time
    minus this process's own CPU time, over the wall time (Linux; None elsewhere). Timings taken
    while other work runs on the machine are noisy, and this says how noisy."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as f:
                ticks = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
        t = os.times()
        return busy, t.user + t.system, time.perf_counter()

    def cores(self) -> float | None:
        end = self._read()
        if self.start is None or end is None or end[2] <= self.start[2]:
            return None
        (b0, o0, w0), (b1, o1, w1) = self.start, end
        return round(max(0.0, ((b1 - b0) - (o1 - o0)) / (w1 - w0)), 2)
