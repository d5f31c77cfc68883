"""`emojax bench --suite coupled`: the coupled LSTM's scan against a BLSTM layer of the same width.

Hsu & Wu's coupled cells run two LSTMs side by side (audio, visual) that exchange cell states at
every step, so per step they do the work of a BLSTM layer's two directions plus the exchange. Each
case times, interleaved (`emojax.bench.timing`), at the same N sequences, T steps, H cells and F
inputs per cell (per direction):

- ``blstm``: one bidirectional layer (`emojax.nn.lstm.blstm`, emojax's fused scan);
- ``coupled``: `emojax.nn.coupled.coupled_lstm` (eq. 3);
- ``aclstm``: the same with per-step consistency scores (eq. 5);

each forward only (``*_fwd``) and as a training computation (value and gradient of a sum over the
outputs with respect to the parameters, ``*_train``). The record's ``ratio_to_blstm`` is the row's
median over the BLSTM's in the same mode: the issue's bound is 2.
"""
from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from emojax.bench.timing import prepare_call, time_interleaved
from emojax.nn import coupled as C
from emojax.nn import lstm as L

# (name, N, T, F, H): the ACLSTM's own shape (16 clips of up to 8 segments, 3 x 128 audio + visual
# inputs) and a long one where the per-step cost dominates
CASES = {"segments": (16, 8, 128, 128), "long": (32, 256, 64, 128)}
QUICK = {"segments": (4, 8, 16, 16), "long": (4, 32, 16, 16)}


def _calls(N: int, T: int, F: int, H: int) -> dict:
    k = jax.random.PRNGKey(0)
    kb, kc, kx, kv, ks = jax.random.split(k, 5)
    blstm_p = L.init_blstm(kb, F, H)
    coupled_p = C.init_coupled(kc, F, F, H)
    xa = jax.random.normal(kx, (N, T, F))
    xv = jax.random.normal(kv, (N, T, F))
    s = jax.random.uniform(ks, (N, T))
    mask = jnp.ones((N, T), bool)

    def f_blstm(p):
        return jnp.sum(L.blstm(p, xa, mask))

    def f_coupled(p):
        ha, hv = C.coupled_lstm(p, xa, xv, mask)
        return jnp.sum(ha) + jnp.sum(hv)

    def f_aclstm(p):
        ha, hv = C.coupled_lstm(p, xa, xv, mask, s=s)
        return jnp.sum(ha) + jnp.sum(hv)
    out = {}
    for name, fn, p in (("blstm", f_blstm, blstm_p), ("coupled", f_coupled, coupled_p),
                        ("aclstm", f_aclstm, coupled_p)):
        fwd, train = jax.jit(fn), jax.jit(jax.value_and_grad(fn))
        out[f"{name}_fwd"] = (lambda f=fwd, q=p: jax.block_until_ready(f(q)))
        out[f"{name}_train"] = (lambda f=train, q=p: jax.block_until_ready(f(q)))
    return out


def run(cases=tuple(CASES), *, repeats: int = 20, budget_s: float = 60.0, quick: bool = False,
        out: Path | None = None, log=print) -> dict:
    from emojax.bench.report import run_meta
    meta = run_meta(quick=quick, repeats=repeats, budget_s=budget_s, peak=None, peak_n=None)
    records = []
    for case in cases:
        N, T, F, H = (QUICK if quick else CASES)[case]
        calls = _calls(N, T, F, H)
        log(f"[bench] coupled {case}: N={N} T={T} F={F} H={H}")
        prep = {k: prepare_call(f, repeats, budget_s) for k, f in calls.items()}
        timed = time_interleaved(calls, {k: p["repeats"] for k, p in prep.items()})
        for k, t in timed.items():
            mode = k.split("_")[1]
            records.append({"case": f"coupled_{case}", "impl": f"emojax_{k}", **t,
                            "compile_s": prep[k]["compile_s"], "ms_per_step": t["median_ms"] / T,
                            "ratio_to_blstm": t["median_ms"] / timed[f"blstm_{mode}"]["median_ms"]})
        meta["cases"][f"coupled_{case}"] = {"N": N, "T": T, "F": F, "H": H}
    doc = {"meta": meta, "records": records}
    if out is not None:
        from emojax.bench.report import write_suite
        write_suite(out, "coupled", doc, to_markdown(doc))
    return doc


def to_markdown(doc: dict) -> str:
    m = doc["meta"]
    lines = [f"# emojax bench: the coupled LSTM against a BLSTM layer ({m['device']})", "",
             f"{m['device_description']}; emojax commit {m['emojax_commit']}, run {m['date']}. "
             "Same N, T, H and inputs per cell/direction; `train` = value and gradient "
             "(`emojax.bench.coupled`).", "",
             "| case | row | median ms | min–max ms | ms per step | ratio to BLSTM |",
             "|---|---|---:|---:|---:|---:|"]
    for r in doc["records"]:
        c = m["cases"][r["case"]]
        lines.append(f"| {r['case']} (N={c['N']}, T={c['T']}, F={c['F']}, H={c['H']}) | "
                     f"{r['impl'].removeprefix('emojax_')} | {r['median_ms']:.2f} | "
                     f"{r['min_ms']:.2f}–{r['max_ms']:.2f} | {r['ms_per_step']:.3f} | "
                     f"{r['ratio_to_blstm']:.2f} |")
    return "\n".join(lines)


def main(cases, *, quick: bool, repeats: int, budget_s: float, out: Path) -> int:
    t0 = time.perf_counter()
    doc = run(cases or tuple(CASES), repeats=repeats, budget_s=budget_s, quick=quick, out=out)
    print(to_markdown(doc))
    print(f"wrote {out}/coupled-{doc['meta']['device']}.* in {time.perf_counter() - t0:.0f} s")
    return 0
