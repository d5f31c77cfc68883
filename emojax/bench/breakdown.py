"""`emojax bench --suite breakdown`: where one BLSTM train step's time goes, against the matmul floor.

For a train case of `emojax.bench.cases` (default the frame-level ones, ``chernykh`` and
``mirsamadi``), each row times one part of what the step runs, at the case's shapes (N = batch
sequences, T steps, H cells, both directions and every layer):

- ``step``: the whole emojax train step (the bench's ``emojax`` row), ``step_directions`` (the
  same with the ``directions`` kernel: a core per direction) and ``torch`` beside it;
- ``projection``: the hoisted input projections ``x W_x + b`` (one matmul per direction and layer);
- ``loop``: the scans alone — T steps carrying (h, c) and emitting h, with an add for a body;
- ``loop_matmul``: the same scans with the recurrent matmul ``h W_h`` in the body, and ``tanh``
  so the state stays bounded: the floor of any scan-based LSTM step on this machine;
- ``recurrence``: the primal scan as training runs it (`emojax.nn.lstm._primal_scan` with the
  tangent coefficients);
- ``recurrence_vjp``: that scan and its reverse-mode transpose (``jax.vjp`` of
  `emojax.nn.lstm._recurrence`, cotangent applied);
- ``matmul_floor``: the recurrent matmuls' FLOPs (forward, and twice that backward) at the
  measured peak of one large matmul — what a perfectly efficient kernel would need.

Rows are timed interleaved (`emojax.bench.timing`); the record says the share of ``step``. Every
direction and layer gets its own inputs (XLA would otherwise merge identical scans).
"""
from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from emojax.bench import peers
from emojax.bench.cases import CASES, Problem
from emojax.bench.timing import matmul_peak_gflops, prepare_call, time_interleaved
from emojax.nn import lstm as L

DEFAULT_CASES = ("chernykh", "mirsamadi")


def _dims(pb: Problem) -> list[int]:
    """Input width of each layer."""
    return [pb.feats if layer == 0 else 2 * pb.hidden for layer in range(pb.layers)]


def _parts(pb: Problem) -> dict:
    """Zero-argument calls (each blocks) of the parts of one train step at the case's shapes."""
    N, T, H = pb.batch, pb.steps, pb.hidden
    rng = np.random.default_rng(0)
    runs = 2 * pb.layers                                   # scans per step: directions × layers

    def arr(*shape, scale=1.0):
        return jnp.asarray((scale * rng.standard_normal(shape)).astype(np.float32))
    # distinct inputs for every direction and layer: XLA would merge identical computations
    ws = [arr(H, 4 * H, scale=0.5 / np.sqrt(H)) for _ in range(runs)]
    ys = [arr(T, N, 4 * H) for _ in range(runs)]
    xs = [arr(T, N, d + 1) for d in _dims(pb) for _ in range(2)]
    wx = [arr(d + 1, 4 * H) for d in _dims(pb) for _ in range(2)]

    def each(f):                                           # every direction and layer
        return jax.jit(lambda ws, ys: [f(w, y, r % 2 == 1) for r, (w, y) in enumerate(zip(ws, ys))])

    def loop(ws, ys, rev):
        def body(c, y):
            h = c[0] + y[:, :H]
            return (h, c[1]), h
        z = jnp.zeros((N, H), ys.dtype)
        return jax.lax.scan(body, (z, z), ys, reverse=rev)[1]

    def loop_matmul(ws, ys, rev):
        def body(c, y):
            h = jnp.tanh((y + c[0] @ ws)[:, :H])
            return (h, c[1]), h
        z = jnp.zeros((N, H), ys.dtype)
        return jax.lax.scan(body, (z, z), ys, reverse=rev)[1]

    def primal(ws, ys, rev):
        return L._primal_scan(ws, None, ys, rev, 1, True)

    ct = arr(T, N, H)

    def vjp(ws, ys, rev):
        out, back = jax.vjp(lambda w, y: L._recurrence(w, None, y, rev, 1), ws, ys)
        return back(ct)

    def block(f, *a):
        return lambda: jax.block_until_ready(f(*a))

    proj = jax.jit(lambda xs, wx: [x @ w for x, w in zip(xs, wx)])
    parts = {"step": peers.emojax_train(pb)}
    if peers.available("emojax_directions"):
        parts["step_directions"] = peers.emojax_train(pb, kernel="directions")
    if peers.available("torch"):
        parts["torch"] = peers.torch_train(pb)
    parts.update({"projection": block(proj, xs, wx),
                  "loop": block(each(loop), ws, ys),
                  "loop_matmul": block(each(loop_matmul), ws, ys),
                  "recurrence": block(each(primal), ws, ys),
                  "recurrence_vjp": block(each(vjp), ws, ys)})
    flops = 2.0 * N * H * 4 * H * T * runs                # recurrent matmuls, forward
    return parts, flops


def _impl(part: str) -> str:
    """The record's ``impl`` (DESIGN.md's bench records): ``emojax`` for the whole step, ``torch``,
    else ``emojax_<part>``."""
    return {"step": "emojax", "torch": "torch", "step_directions": "emojax_directions"}.get(
        part, f"emojax_{part}")


def run(cases=DEFAULT_CASES, *, repeats: int = 20, budget_s: float = 60.0, quick: bool = False,
        out: Path | None = None, log=print) -> dict:
    """Time the parts of every case; write ``OUT/breakdown-<device>.{json,md}`` when `out` is given."""
    from emojax.bench.report import run_meta
    peak_n = 512 if quick else 2048
    peak = matmul_peak_gflops(peak_n, 3 if quick else 10)
    meta = run_meta(quick=quick, repeats=repeats, budget_s=budget_s, peak=peak, peak_n=peak_n)
    records = []
    for case in cases:
        pb = CASES[case][0](quick)
        parts, flops = _parts(pb)
        log(f"[bench] breakdown {case}: {', '.join(parts)}")
        prep = {k: prepare_call(f, repeats, budget_s) for k, f in parts.items()}
        timed = time_interleaved(parts, {k: p["repeats"] for k, p in prep.items()})
        step = timed["step"]["median_ms"]
        floor = {"matmul_floor_fwd": flops / peak / 1e6, "matmul_floor_train": 3 * flops / peak / 1e6}
        for k, t in timed.items():
            records.append({"case": case, "impl": _impl(k), "part": k, **t,
                            "compile_s": prep[k]["compile_s"], "share_of_step": t["median_ms"] / step})
        for k, ms in floor.items():
            records.append({"case": case, "impl": _impl(k), "part": k, "median_ms": ms,
                            "computed": True, "share_of_step": ms / step})
        meta["cases"][case] = {"describe": pb.describe(),
                               "recurrent_gflop_fwd": flops / 1e9}
    doc = {"meta": meta, "records": records}
    if out is not None:
        from emojax.bench.report import write_suite
        write_suite(out, "breakdown", doc, to_markdown(doc))
    return doc


def to_markdown(doc: dict) -> str:
    m = doc["meta"]
    lines = [f"# emojax bench: where a train step's time goes ({m['device']})", "",
             f"{m['device_description']}; f32 matmul peak (jitted {m['matmul_peak_n']}², JAX) "
             f"{m['matmul_peak_gflops']:.1f} GFLOP/s. emojax commit {m['emojax_commit']}, "
             f"run {m['date']}. Parts: `emojax.bench.breakdown` (each scan row covers both "
             "directions of every layer; `matmul_floor_*` are the recurrent matmuls' FLOPs at that "
             "peak, not timings).", ""]
    for case, info in m["cases"].items():
        lines += [f"## {case}", "", info["describe"], "",
                  "| part | median ms | min–max ms | share of step |", "|---|---:|---:|---:|"]
        for r in (r for r in doc["records"] if r["case"] == case):
            rng = (f"{r['min_ms']:.2f}–{r['max_ms']:.2f}" if "min_ms" in r else "–")
            lines.append(f"| {r['part']} | {r['median_ms']:.2f} | {rng} | "
                         f"{100 * r['share_of_step']:.0f} % |")
        lines.append("")
    return "\n".join(lines)


def main(cases, *, quick: bool, repeats: int, budget_s: float, out: Path) -> int:
    t0 = time.perf_counter()
    doc = run(cases or DEFAULT_CASES, repeats=repeats, budget_s=budget_s, quick=quick, out=out)
    print(to_markdown(doc))
    print(f"wrote {out}/breakdown-{doc['meta']['device']}.* in {time.perf_counter() - t0:.0f} s")
    return 0
