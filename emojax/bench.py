"""`emojax bench`: time emojax's BLSTM kernels against Flax and PyTorch on the same inputs.

Run::

    emojax bench                                   # all cases, 20 repeats, writes results/bench/
    emojax bench --cases blstm_utt,mirsamadi --repeats 50 --out /tmp/bench
    python -c "from emojax.bench import main; main(['--quick'])"   # tiny shapes, 3 repeats

What is measured (in one process, on one device, with identical inputs and initial weights for every
implementation; all sequences are full length, so every implementation does the same work):

- ``blstm_utt``: one train step (forward + backward + Adam update) of the Wöllmer utterance-level
  BLSTM: batch 16 × 30 steps × 200 features, 128 cells per direction, 5 classes, softmax per step,
  masked cross-entropy.
- ``chernykh``: the same train step, batch 32 × 78 frames × 34 features, two BLSTM layers of 128,
  5 classes, softmax per frame.
- ``mirsamadi``: batch 32 × 500 frames × 32 features, one BLSTM of 128, mean pooling over the valid
  frames, 4 classes, one label per sequence.
- ``jacobian_seq`` / ``jacobian_batch``: the full sequential Jacobian ``∂softmax(y_t)/∂x_t'``
  (T, K, T, F) of the ``blstm_utt`` model for one 30-step sequence / for its batch of 16.

Implementations (rows): ``emojax`` (`emojax.nn.lstm` kernels, `emojax.train.step.make_steps`,
``optax.adam``), ``flax`` (``flax.linen``: ``nn.Bidirectional`` of two ``nn.RNN(nn.OptimizedLSTMCell)``
with ``seq_lengths``, jitted step, ``optax.adam``), ``torch`` (``torch.nn.LSTM(bidirectional=True,
batch_first=True)`` on padded full-length batches, no packing, ``torch.optim.Adam``). Jacobians:
``emojax`` (``mode="auto"``, i.e. reverse mode), ``emojax_jacfwd``, ``torch`` (``torch.func.jacrev``,
``vmap`` over the batch), ``torch_autograd`` (``torch.autograd.functional.jacobian(vectorize=True)``).
A peer that is not installed is skipped and said so, never faked; torch is imported lazily.

Per row: ``compile_s`` (the first call: tracing + compilation + one run), then 2 warm-up calls, then
the median / min / max over ``--repeats`` timed calls (``jax.block_until_ready`` for JAX). The timed
calls of a case's rows are interleaved in 5 rounds (`time_interleaved`), so a drift of a shared
machine hits every row alike. A row whose single call is slow gets fewer repeats so it stays inside
``--budget`` seconds (at least 3; the record's ``repeats`` says how many). Derived: ``seqs_per_s`` (batch / median), ``gflops`` for the
train steps from an analytic count of the LSTM matmuls (2·F·4H + 2·H·4H FLOPs per step per direction
and layer, ×3 for forward + backward), as a fraction of the measured f32 peak of a jitted 2048×2048
matmul (``meta.matmul_peak_gflops``), and on the emojax row ``speedup_vs_<impl>`` = peer median /
emojax median for every other library's row.

Output: ``OUT/<device>.json`` (format: shared/DESIGN.md, "Result records") and ``OUT/<device>.md``.

Adding a case: write one function ``quick -> Problem`` (shapes, inputs and weights) and add one
``CASES`` entry naming it and its ``(impl, builder)`` list; a builder takes the Problem and returns a
zero-argument callable that runs one step, blocks until it is done, and returns its result.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from emojax.analysis import jacobian as jac
from emojax.models import woellmer
from emojax.nn import lstm as L
from emojax.runtime import allocator_state, keep_freed_memory, source_commit
from emojax.train.losses import seq_cross_entropy, step_cross_entropy
from emojax.train.step import make_steps

LR = 1e-3                 # Adam learning rate, the same in every implementation
WARMUPS = 2
QUICK_REPEATS = 3


# ----------------------------------------------------------------------------- problems
@dataclasses.dataclass(frozen=True)
class Problem:
    """Shapes plus the shared inputs and initial weights (numpy, emojax layout) of one case.

    head: ``"frame"`` = softmax per step with per-step labels; ``"mean"`` = mean over valid frames,
    one label per sequence. single: the Jacobian cases take one sequence (`sequential_jacobian`)
    rather than a batch (`batched_sequential_jacobian`).
    """
    batch: int
    steps: int
    feats: int
    hidden: int
    classes: int
    layers: int = 1
    head: str = "frame"
    single: bool = False
    seed: int = 0

    @cached_property
    def data(self) -> dict:
        rng = np.random.default_rng(self.seed)
        B, T = self.batch, self.steps
        xs = rng.standard_normal((B, T, self.feats)).astype(np.float32)
        label_shape = (B, T) if self.head == "frame" else (B,)
        ys = rng.integers(0, self.classes, label_shape).astype(np.int32)
        mask = np.ones((B, T), bool)                      # full length: equal work everywhere
        params = woellmer.init(jax.random.PRNGKey(self.seed), self.feats, self.classes,
                               hidden=self.hidden, layers=self.layers)
        return {"xs": xs, "ys": ys, "mask": mask, "params": jax.tree.map(np.asarray, params)}

    def train_flops(self) -> float:
        """FLOPs of one train step: LSTM matmuls only, 2·F·4H + 2·H·4H per step, direction, layer; ×3."""
        H, per_step = self.hidden, 0
        for layer in range(self.layers):
            F = self.feats if layer == 0 else 2 * H
            per_step += 2 * (2 * F * 4 * H + 2 * H * 4 * H)          # two directions
        return 3.0 * self.batch * self.steps * per_step

    def describe(self) -> str:
        head = "softmax per step" if self.head == "frame" else "mean pooling, one label"
        return (f"batch {self.batch} × {self.steps} steps × {self.feats} features, "
                f"{self.layers}×BLSTM {self.hidden}/direction, {self.classes} classes, {head}")


def blstm_utt(quick: bool) -> Problem:
    return Problem(4, 6, 8, 8, 5) if quick else Problem(16, 30, 200, 128, 5)


def chernykh(quick: bool) -> Problem:
    return Problem(4, 7, 6, 8, 5, layers=2) if quick else Problem(32, 78, 34, 128, 5, layers=2)


def mirsamadi(quick: bool) -> Problem:
    return (Problem(4, 9, 6, 8, 4, head="mean") if quick
            else Problem(32, 500, 32, 128, 4, head="mean"))


def jacobian_seq(quick: bool) -> Problem:
    return dataclasses.replace(blstm_utt(quick), batch=1, single=True)


def jacobian_batch(quick: bool) -> Problem:
    return blstm_utt(quick)


# ----------------------------------------------------------------------------- emojax
def mean_pool_apply(params: dict, xs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """Mirsamadi-style head: BLSTM, mean over valid frames, dense: (..., T, F) -> logits (..., K)."""
    h = L.blstm(params["blstm"], xs, mask)                              # (..., T, 2H)
    m = mask.astype(h.dtype)[..., None]                                  # (..., T, 1)
    pooled = (h * m).sum(-2) / jnp.maximum(m.sum(-2), 1.0)               # (..., 2H)
    b = params["out"]["b"]
    return pooled @ params["out"]["w"] + b.reshape((1,) * (pooled.ndim - 1) + b.shape), {}


def emojax_train(pb: Problem) -> Callable[[], Any]:
    d = pb.data
    params = jax.tree.map(jnp.asarray, d["params"])
    opt = optax.adam(LR)
    state = [params, opt.init(params)]
    xs, ys, mask = (jnp.asarray(d[k]) for k in ("xs", "ys", "mask"))
    key = jax.random.PRNGKey(0)
    if pb.head == "frame":
        step, _ = make_steps(woellmer.apply, step_cross_entropy, opt)
        batch = {"x": xs, "y_step": ys, "mask": mask}
    else:
        step, _ = make_steps(mean_pool_apply, seq_cross_entropy, opt)
        batch = {"x": xs, "y_seq": ys, "mask": mask}
    call = lambda p, o: step(p, o, key, batch)

    def run():
        p, o, loss = call(*state)
        state[:] = [p, o]
        return jax.block_until_ready((p, o, loss))[2]
    return run


def emojax_jacobian(mode: str) -> Callable[[Problem], Callable[[], Any]]:
    def build(pb: Problem):
        d = pb.data
        params = jax.tree.map(jnp.asarray, d["params"])
        xs, mask = jnp.asarray(d["xs"]), jnp.asarray(d["mask"])
        if pb.single:
            f = lambda: jac.sequential_jacobian(woellmer.apply, params, xs[0], mask[0],
                                                mode=mode)
        else:
            f = lambda: jac.batched_sequential_jacobian(woellmer.apply, params, xs, mask, mode=mode)
        return lambda: jax.block_until_ready(f())
    return build


# ----------------------------------------------------------------------------- flax
def _flax_module(pb: Problem):
    import flax.linen as nn

    class FlaxBLSTM(nn.Module):
        """``nn.Bidirectional`` of two ``nn.RNN(nn.OptimizedLSTMCell)`` per layer, dense head."""
        hidden: int
        layers: int
        classes: int
        head: str

        @nn.compact
        def __call__(self, xs, mask):                                  # (B, T, F), (B, T)
            lengths = mask.sum(-1)
            h = xs
            for layer in range(self.layers):
                fwd = nn.RNN(nn.OptimizedLSTMCell(self.hidden, name=f"fwd{layer}"))
                bwd = nn.RNN(nn.OptimizedLSTMCell(self.hidden, name=f"bwd{layer}"),
                             reverse=True, keep_order=True)
                h = nn.Bidirectional(fwd, bwd)(h, seq_lengths=lengths)   # (B, T, 2H)
            if self.head == "mean":
                m = mask.astype(h.dtype)[..., None]
                h = (h * m).sum(1) / jnp.maximum(m.sum(1), 1.0)          # (B, 2H)
            return nn.Dense(self.classes, name="out")(h)

    return FlaxBLSTM(pb.hidden, pb.layers, pb.classes, pb.head)


def to_flax_params(params: dict) -> dict:
    """emojax weights (``w_x (F, 4H)``, ``w_h``, ``b``; gates i, f, g, o) in Flax's per-gate layout."""
    out = {"out": {"kernel": params["out"]["w"], "bias": params["out"]["b"]}}
    for layer, p in enumerate(params["blstm"]):
        for direction in ("fwd", "bwd"):
            q = p[direction]
            H = q["w_h"].shape[0]
            cell = {}
            for g, gate in enumerate("ifgo"):
                cols = slice(g * H, (g + 1) * H)
                cell[f"i{gate}"] = {"kernel": q["w_x"][:, cols]}
                cell[f"h{gate}"] = {"kernel": q["w_h"][:, cols], "bias": q["b"][cols]}
            out[f"{direction}{layer}"] = cell
    return {"params": jax.tree.map(jnp.asarray, out)}


def flax_train(pb: Problem) -> Callable[[], Any]:
    model = _flax_module(pb)
    d = pb.data
    params = to_flax_params(d["params"])
    opt = optax.adam(LR)
    state = [params, opt.init(params)]
    xs, ys, mask = (jnp.asarray(d[k]) for k in ("xs", "ys", "mask"))

    def loss_fn(params, xs, ys, mask):
        logits = model.apply(params, xs, mask)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, ys)
        if pb.head == "mean":
            return ce.mean()
        m = mask.astype(ce.dtype)
        return (ce * m).sum() / jnp.maximum(m.sum(), 1.0)

    @jax.jit
    def step(params, opt_state, xs, ys, mask):
        loss, grads = jax.value_and_grad(loss_fn)(params, xs, ys, mask)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def run():
        p, o, loss = step(*state, xs, ys, mask)
        state[:] = [p, o]
        return jax.block_until_ready((p, o, loss))[2]
    return run


# ----------------------------------------------------------------------------- torch
def _torch():
    """Import torch lazily (an optional peer), using every core."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def torch_device() -> str:
    """``cuda`` when JAX runs on a GPU and torch can too; otherwise ``cpu``."""
    torch = _torch()
    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def to_torch_model(pb: Problem):
    """``nn.LSTM(bidirectional, batch_first)`` + ``nn.Linear`` holding the Problem's initial weights."""
    torch = _torch()
    params = pb.data["params"]
    lstm = torch.nn.LSTM(pb.feats, pb.hidden, num_layers=pb.layers, bidirectional=True,
                         batch_first=True)
    lin = torch.nn.Linear(2 * pb.hidden, pb.classes)
    with torch.no_grad():
        for layer, p in enumerate(params["blstm"]):
            for direction, suffix in (("fwd", ""), ("bwd", "_reverse")):
                q = p[direction]
                getattr(lstm, f"weight_ih_l{layer}{suffix}").copy_(torch.tensor(q["w_x"].T))
                getattr(lstm, f"weight_hh_l{layer}{suffix}").copy_(torch.tensor(q["w_h"].T))
                getattr(lstm, f"bias_ih_l{layer}{suffix}").copy_(torch.tensor(q["b"]))
                getattr(lstm, f"bias_hh_l{layer}{suffix}").zero_()
        lin.weight.copy_(torch.tensor(params["out"]["w"].T))
        lin.bias.copy_(torch.tensor(params["out"]["b"]))
    dev = torch_device()
    return lstm.to(dev), lin.to(dev), dev


def torch_train(pb: Problem) -> Callable[[], Any]:
    torch = _torch()
    lstm, lin, dev = to_torch_model(pb)
    d = pb.data
    xs = torch.tensor(d["xs"], device=dev)
    ys = torch.tensor(d["ys"], dtype=torch.long, device=dev)
    mask = torch.tensor(d["mask"], dtype=torch.float32, device=dev)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(lin.parameters()), lr=LR)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def run():
        opt.zero_grad(set_to_none=True)
        h = lstm(xs)[0]                                                   # (B, T, 2H)
        if pb.head == "mean":
            m = mask[..., None]
            loss = torch.nn.functional.cross_entropy(lin((h * m).sum(1) / m.sum(1).clamp(min=1.0)), ys)
        else:
            logits = lin(h)
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, pb.classes), ys.reshape(-1),
                                                   reduction="none")
            m = mask.reshape(-1)
            loss = (ce * m).sum() / m.sum().clamp(min=1.0)
        loss.backward()
        opt.step()
        sync()
        return loss.detach()
    return run


def _torch_softmax_model(pb: Problem, fused: bool):
    """(torch, f, xs, ctx, sync): ``f`` maps one sequence (T, F) -> softmax outputs (T, K), or a batch
    (B, T, F) -> (B, T, K) with ``batched=True``; ``ctx()`` turns the fused RNN kernels (oneDNN on
    the CPU, cuDNN on the GPU) on or off for the call."""
    torch = _torch()
    lstm, lin, dev = to_torch_model(pb)
    for p in list(lstm.parameters()) + list(lin.parameters()):
        p.requires_grad_(False)

    def f(x, batched=False):
        x = x if batched else x[None]               # run nn.LSTM batched (B=1): vmap needs that form
        # zero initial state computed FROM x, so that under vmap it is batched like x (nn.LSTM's own
        # zeros are not, and its unfused kernel then writes batched values into an unbatched buffer)
        z = (x[:, :1, :1] * 0).reshape(1, -1, 1).expand(2 * pb.layers, x.shape[0], pb.hidden)
        y = torch.softmax(lin(lstm(x, (z, z))[0]), dim=-1)
        return y if batched else y[0]

    xs = torch.tensor(pb.data["xs"], device=dev)
    backend = torch.backends.cudnn if dev == "cuda" else torch.backends.mkldnn

    @contextlib.contextmanager
    def ctx():                                      # (mkldnn.flags() warns about Intel-GPU TF32)
        old, backend.enabled = backend.enabled, fused
        try:
            yield
        finally:
            backend.enabled = old
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    return torch, f, xs, ctx, sync


def torch_jacobian_func(pb: Problem, fused: bool = False) -> Callable[[], Any]:
    """``torch.func.jacrev`` of one sequence; ``torch.func.vmap`` of it over the batch.

    Unfused by default: functorch has no batching rule for the fused RNN kernels (on the CPU it
    falls back to a per-sample loop, 50× slower; cuDNN's fails outright)."""
    torch, f, xs, ctx, sync = _torch_softmax_model(pb, fused)
    jf = torch.func.jacrev(f)
    g = (lambda: jf(xs[0])) if pb.single else (lambda: torch.func.vmap(jf)(xs))
    return _torch_call(g, ctx, sync)


def torch_jacobian_autograd(pb: Problem, fused: bool = False) -> Callable[[], Any]:
    """``torch.autograd.functional.jacobian(vectorize=True)``; for a batch, of the outputs summed
    over the batch (sequences are independent, so this is exact: (T, K, B, T, F) -> (B, T, K, T, F))."""
    torch, f, xs, ctx, sync = _torch_softmax_model(pb, fused)
    J_ = torch.autograd.functional.jacobian
    if pb.single:
        g = lambda: J_(f, xs[0], vectorize=True)
    else:
        g = lambda: J_(lambda x: f(x, batched=True).sum(0), xs,
                       vectorize=True).permute(2, 0, 1, 3, 4)
    return _torch_call(g, ctx, sync)


def _torch_call(g, ctx, sync) -> Callable[[], Any]:
    """One timed call of `g` inside torch's context manager, synchronised (CUDA is asynchronous)."""
    def run():
        with ctx():
            J = g()
        sync()
        return J
    return run


# ----------------------------------------------------------------------------- registry
Builder = Callable[[Problem], Callable[[], Any]]
TRAIN: list[tuple[str, Builder]] = [("emojax", emojax_train), ("flax", flax_train),
                                    ("torch", torch_train)]
JACOBIAN: list[tuple[str, Builder]] = [("emojax", emojax_jacobian("auto")),
                                       ("emojax_jacfwd", emojax_jacobian("fwd")),
                                       ("torch", torch_jacobian_func),
                                       ("torch_autograd", torch_jacobian_autograd)]
CASES: dict[str, tuple[Callable[[bool], Problem], list[tuple[str, Builder]]]] = {
    "blstm_utt": (blstm_utt, TRAIN),
    "chernykh": (chernykh, TRAIN),
    "mirsamadi": (mirsamadi, TRAIN),
    "jacobian_seq": (jacobian_seq, JACOBIAN),
    "jacobian_batch": (jacobian_batch, JACOBIAN),
}
PEERS = {"flax": "flax", "torch": "torch"}      # impl prefix -> module that must be importable


def available(impl: str) -> bool:
    mod = PEERS.get(impl.split("_")[0])
    return mod is None or importlib.util.find_spec(mod) is not None


# ----------------------------------------------------------------------------- timing
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


def device_description() -> str:
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        return f"{dev.device_kind} ({dev.platform}, {jax.device_count()} device(s))"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores (CPU)"


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


def versions() -> dict:
    import jaxlib
    v = {"python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
         "numpy": np.__version__, "optax": optax.__version__}
    for mod in ("flax", "torch"):
        if importlib.util.find_spec(mod) is not None:
            v[mod] = __import__(mod).__version__
    return v


# ----------------------------------------------------------------------------- the run
def run_case(name: str, quick: bool, repeats: int, budget_s: float, peak: float,
             log=print) -> tuple[list[dict], list[str], Problem]:
    """All implementations of one case: (records, notes about skipped rows, the problem)."""
    make_problem, impls = CASES[name]
    pb = make_problem(quick)
    records, notes, fns = [], [], {}
    load = OtherLoad()
    for impl, build in impls:
        if not available(impl):
            notes.append(f"`{impl}` skipped: {PEERS[impl.split('_')[0]]} is not installed")
            continue
        log(f"[bench] {name}/{impl}: compile + warm-up ...", file=sys.stderr, flush=True)
        try:
            with warnings.catch_warnings(record=True) as caught:    # e.g. torch vmap fallbacks
                warnings.simplefilter("always")
                fn = build(pb)
                records.append({"case": name, "impl": impl, **prepare_call(fn, repeats, budget_s)})
                fns[impl] = fn
            for msg in dict.fromkeys(str(w.message).split(" (Triggered")[0] for w in caught):
                notes.append(f"`{impl}` warned: {msg}")
        except Exception as e:          # a broken peer must not sink the others; emojax must work
            if impl.startswith("emojax"):
                raise
            notes.append(f"`{impl}` failed: {type(e).__name__}: {e}")
    log(f"[bench] {name}: timing {', '.join(fns)} in {ROUNDS} interleaved rounds ...",
        file=sys.stderr, flush=True)
    failed: dict[str, Exception] = {}
    timed = time_interleaved(fns, {r["impl"]: r["repeats"] for r in records}, errors=failed)
    for impl, e in failed.items():     # a peer that broke while timed; emojax must work
        if impl.startswith("emojax"):
            raise e
        notes.append(f"`{impl}` failed while timed: {type(e).__name__}: {e}")
    records = [r for r in records if r["impl"] in timed]
    other = load.cores() if jax.default_backend() == "cpu" else None  # (GPU host: driver work)
    for r in records:
        r.update(timed[r["impl"]])
        if other is not None:
            r["other_load_cores"] = other
        r["seqs_per_s"] = pb.batch / (r["median_ms"] / 1e3)
        if impls is TRAIN:
            r["gflops"] = pb.train_flops() / (r["median_ms"] / 1e3) / 1e9
            r["peak_frac"] = r["gflops"] / peak
    ours = next((r for r in records if r["impl"] == "emojax"), None)
    if ours is not None:
        for r in records:
            if not r["impl"].startswith("emojax"):
                ours[f"speedup_vs_{r['impl']}"] = r["median_ms"] / ours["median_ms"]
    return records, notes, pb


def to_markdown(doc: dict) -> str:
    meta = doc["meta"]
    v = meta["versions"]
    lines = [f"# emojax bench: {meta['device']}", "",
             (f"{meta['device_description']}; f32 matmul peak (jitted 2048², JAX) "
              f"{meta['matmul_peak_gflops']:.1f} GFLOP/s; torch on `{meta.get('torch_device', '-')}` "
              f"with {meta.get('torch_threads', '-')} threads."),
             "Versions: " + ", ".join(f"{k} {v[k]}" for k in v)
             + (f"; emojax commit {meta['emojax_commit']}" if meta.get("emojax_commit") else "")
             + f". Run {meta.get('date', '?')}.",
             ("Host allocator: freed memory kept for reuse (glibc mallopt, `emojax.runtime."
              "keep_freed_memory`; every implementation in this process benefits alike)."
              if meta.get("host_allocator") == "kept" else "Host allocator: system default."),
             f"{'QUICK shapes (a smoke test, not a benchmark). ' if meta['quick'] else ''}"
             f"Times per call: median (min–max) of up to {meta['repeats']} calls, interleaved "
             f"across the rows of a case in {meta.get('rounds', 1)} rounds, after "
             f"{meta['warmups']} warm-ups; compile = the first call. All sequences are full length "
             "(mask all true); torch runs padded batches without packing. GFLOP/s counts the LSTM "
             "matmuls only (2·F·4H + 2·H·4H per step, direction and layer, ×3 for a train step). "
             "'emojax ×' = this row's median / emojax's median (>1: emojax is faster)."
             + (" 'other' = cores kept busy by other processes while the case ran."
                if meta["device"] == "cpu" else "")]
    if meta["device"] != "cpu":
        tf = meta.get("torch_tf32", {})
        lines.append(f"Precision: JAX default matmul precision {meta.get('jax_default_matmul_precision')} "
                     "(XLA may run f32 matmuls as TF32 on this GPU: a peak above the FP32 rate says "
                     f"it did); torch TF32 for matmul {tf.get('matmul', '-')}, "
                     f"for cuDNN {tf.get('cudnn', '-')}.")
    other = meta.get("other_load_cores")
    if other is not None and other > 0.1 * (meta.get("cpu_count") or 1):
        lines.append(f"**The machine was busy**: other processes kept {other} of its "
                     f"{meta.get('cpu_count')} cores busy on average during this run (per row: the "
                     "'other' column), so CPU timings are noisy; the min column is the least disturbed.")
    lines.append("")
    for case, info in meta["cases"].items():
        recs = [r for r in doc["records"] if r["case"] == case]
        ours = next((r for r in recs if r["impl"] == "emojax"), None)
        cpu = meta["device"] == "cpu"                 # 'other': CPU load by other processes
        lines += [f"## {case}", "", info["shape"], "",
                  "| impl | median ms | min–max ms | compile s | seqs/s | GFLOP/s | % peak | emojax × |"
                  + (" other |" if cpu else ""),
                  "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if cpu else "")]
        for r in recs:
            g = f"{r['gflops']:.1f}" if "gflops" in r else "–"
            pk = f"{100 * r['peak_frac']:.1f}" if "peak_frac" in r else "–"
            sp = f"{r['median_ms'] / ours['median_ms']:.2f}" if ours else "–"
            n = f" (n={r['repeats']})" if r["repeats"] != meta["repeats"] else ""
            lines.append(f"| {r['impl']} | {r['median_ms']:.2f}{n} | {r['min_ms']:.2f}–{r['max_ms']:.2f}"
                         f" | {r['compile_s']:.2f} | {r['seqs_per_s']:.1f} | {g} | {pk} | {sp} |"
                         + (f" {r.get('other_load_cores', '–')} |" if cpu else ""))
        lines += [f"- {n}" for n in info["notes"]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="emojax bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", default=",".join(CASES),
                   help=f"comma-separated subset of {', '.join(CASES)} (default: all)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per row (default 20; 3 with --quick)")
    p.add_argument("--out", default="results/bench", help="output folder (default results/bench)")
    p.add_argument("--quick", action="store_true", help="tiny shapes and 3 repeats (a smoke test)")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds of timed calls per row before repeats are cut (min 3; default 120)")
    args = p.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases:
        p.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    repeats = args.repeats if args.repeats is not None else (QUICK_REPEATS if args.quick else 20)
    if repeats < 1:
        p.error("--repeats must be >= 1")

    keep_freed_memory()                      # as the CLI does; EMOJAX_MALLOC=system opts out
    t_start, load = time.perf_counter(), OtherLoad()
    peak = matmul_peak_gflops(512 if args.quick else 2048, 3 if args.quick else 10)
    device = jax.default_backend()
    meta = {"device": device, "device_description": device_description(), "versions": versions(),
            "matmul_peak_gflops": peak, "matmul_peak_n": 512 if args.quick else 2048,
            "quick": args.quick, "repeats": repeats, "warmups": WARMUPS, "rounds": ROUNDS,
            "budget_s": args.budget,
            "cpu_count": os.cpu_count(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "host_allocator": allocator_state(), "emojax_commit": source_commit(),
            "cases": {}}
    if importlib.util.find_spec("torch") is not None:
        meta["torch_device"] = torch_device()
        torch = _torch()
        meta["torch_threads"] = torch.get_num_threads()
        if meta["torch_device"] == "cuda":           # TF32 settings decide f32 GPU speed
            meta["torch_tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32,
                                  "cudnn": torch.backends.cudnn.allow_tf32}
    if device != "cpu":
        meta["jax_default_matmul_precision"] = str(jax.config.jax_default_matmul_precision)
    records = []
    for case in cases:
        recs, notes, pb = run_case(case, args.quick, repeats, args.budget, peak)
        records += recs
        shape = pb.describe() + (" (one sequence)" if pb.single else "")
        if CASES[case][1] is JACOBIAN:
            shape = (f"Sequential Jacobian of the softmax outputs, (T, K, T, F) per sequence, of the "
                     f"blstm_utt model: {shape}. Batched emojax maps over chunks of "
                     f"{jac.AUTO_CHUNK['rev']} (rev) / {jac.AUTO_CHUNK['fwd']} (jacfwd: memory) "
                     "sequences. The torch rows run nn.LSTM with its fused kernel (oneDNN on "
                     "the CPU, cuDNN on the GPU) switched off: functorch has no batching rule for it "
                     "(on the CPU jacrev then loops per cotangent, ~50× slower; on the GPU it fails). "
                     "torch_autograd of a batch differentiates the outputs summed over the batch "
                     "(exact, as sequences are independent). No GFLOP/s: the work depends on the mode.")
        meta["cases"][case] = {"shape": shape, "notes": notes,
                               **({"train_gflop": pb.train_flops() / 1e9} if CASES[case][1] is TRAIN else {})}
    meta["total_s"] = time.perf_counter() - t_start
    if device == "cpu":
        meta["other_load_cores"] = load.cores()
    doc = {"meta": meta, "records": records}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{device}.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = to_markdown(doc)
    (out / f"{device}.md").write_text(md + "\n")
    print(md)
    print(f"wrote {out / f'{device}.json'} and {out / f'{device}.md'} in {meta['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
