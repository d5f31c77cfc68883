"""`emojax bench`: time emojax's BLSTM kernels and CTC loss against Flax, optax and PyTorch.

Run::

    emojax bench                                   # all cases, 20 repeats, writes results/bench/
    emojax bench --cases blstm_utt,mirsamadi --repeats 50 --out /tmp/bench
    python -c "from emojax.bench import main; main(['--quick'])"   # tiny shapes, 3 repeats

What is measured (in one process, on one device, with identical inputs and initial weights for every
implementation; all sequences are full length, so every implementation does the same work):

- ``blstm_utt``: one train step (forward + backward + Adam update) of the Wöllmer utterance-level
  BLSTM: batch 16 × 30 steps × 200 features, 128 cells per direction, 5 classes, softmax per step,
  masked cross-entropy.
- ``chernykh``: one train step of Chernykh & Prikhodko 2018's CTC model (`emojax.models.chernykh`,
  ``apply_ctc``): batch 32 × 78 frames × 34 features, two BLSTM layers of 128, a dense layer per
  frame -> 4 emotions + the blank (last), CTC loss with one label per sequence (mean over the batch).
- ``mirsamadi``: one train step of Mirsamadi et al. 2017's attention model on the 32 hand-crafted
  LLDs (`emojax.models.mirsamadi`, ``model_fn("attention")``, no LLD layers): batch 32 × 500 frames
  × 32 features, one BLSTM of 128, attention pooling (α = softmax over the valid frames of u·y_t,
  z = Σ α_t y_t), 50 % dropout on z (the paper's rate, applied in every implementation), a dense
  layer -> 4 classes, one label per sequence.
- ``jacobian_seq`` / ``jacobian_batch``: the full sequential Jacobian ``∂softmax(y_t)/∂x_t'``
  (T, K, T, F) of the ``blstm_utt`` model for one 30-step sequence / for its batch of 16.
- ``ctc``: the CTC loss (mean over the batch) and its gradient w.r.t. the logits, log-softmax
  included, no model: batch 32 × 78 frames × 5 classes (the ``chernykh`` output layer: 4 emotions
  and the blank), labels of length 1..2, all inputs full length.

Implementations (rows) of the train steps: ``emojax`` (the model from `emojax.models`:
`emojax.models.woellmer` for ``blstm_utt``, ``chernykh.apply_ctc``,
``mirsamadi.model_fn("attention")``; on the `emojax.nn` kernels; `emojax.train.step.make_steps`
with the losses of `emojax.train.losses`, ``optax.adam``), ``flax`` (``flax.linen``:
``nn.Bidirectional`` of two ``nn.RNN(nn.OptimizedLSTMCell)`` per layer with ``seq_lengths``, the
same head (``nn.Dense`` per frame, or attention pooling + ``nn.Dropout`` + ``nn.Dense``),
``optax.ctc_loss`` for CTC, jitted step, ``optax.adam``), ``torch`` (``torch.nn.LSTM(num_layers,
bidirectional=True, batch_first=True)`` on padded full-length batches, no packing, the same head
with ``nn.Dropout`` in train mode, ``F.ctc_loss`` on ``log_softmax`` in the (T, B, K+1) layout for
CTC, ``torch.optim.Adam``). Every row starts from the same weights (converted from emojax's);
dropout draws each library's own masks (fresh ones every step). Jacobians:
``emojax`` (``mode="auto"``, i.e. reverse mode), ``emojax_jacfwd``, ``torch`` (``torch.func.jacrev``,
``vmap`` over the batch), ``torch_autograd`` (``torch.autograd.functional.jacobian(vectorize=True)``).
CTC: ``emojax`` (`emojax.nn.ctc.ctc_loss_batch`) and ``optax`` (``optax.ctc_loss``), jitted
``value_and_grad``; ``torch`` (``F.ctc_loss`` + ``backward``) and ``torch_1thread`` (the same on one
thread: on a shared CPU torch's all-core OpenMP barrier can cost ~30 ms a call).
A peer that is not installed is skipped and said so, never faked; torch is imported lazily.

Per row: ``compile_s`` (the first call: tracing + compilation + one run), then 2 warm-up calls, then
the median / min / max over ``--repeats`` timed calls (``jax.block_until_ready`` for JAX). The timed
calls of a case's rows are interleaved in 5 rounds (`time_interleaved`), so a drift of a shared
machine hits every row alike. A row whose single call is slow gets fewer repeats so it stays inside
``--budget`` seconds (at least 3; the record's ``repeats`` says how many). Derived: ``seqs_per_s``
(batch / median), ``gflops`` for the train steps only (not the Jacobians, not ``ctc``) from an
analytic count of the LSTM matmuls only (2·F·4H + 2·H·4H FLOPs per step per direction and layer,
×3 for forward + backward; the heads — dense layers, attention pooling, CTC — and Adam are not
counted), as a fraction of the measured f32 peak of a jitted 2048×2048 matmul
(``meta.matmul_peak_gflops``), and on the emojax row ``speedup_vs_<impl>`` = peer median / emojax
median for every other library's row.

Output: ``OUT/<device>.json`` (format: shared/DESIGN.md, "Result records") and ``OUT/<device>.md``.

The package: `emojax.bench.cases` (the `Problem` of each case and the `CASES` table),
`emojax.bench.peers` (the implementations timed; every emojax model comes from `emojax.models`),
`emojax.bench.timing` (compile, warm-ups, interleaved rounds, matmul peak, other load),
`emojax.bench.report` (meta, JSON and markdown) and, here, `run_case` and `main`.

Adding a case: write one function ``quick -> Problem`` (shapes, inputs and weights) in `cases` and
add one ``CASES`` entry naming it and its ``(impl, builder)`` list; a builder (`peers`) takes the
Problem and returns a zero-argument callable that runs one step, blocks until it is done, and
returns its result.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import jax

from emojax.bench.cases import CASES, Problem
from emojax.bench.peers import JACOBIAN, PEERS, TRAIN, available, unavailable
from emojax.bench.report import case_info, run_meta, to_markdown, write
from emojax.bench.timing import (ROUNDS, WARMUPS, OtherLoad, matmul_peak_gflops, prepare_call,
                                 time_interleaved)
from emojax.runtime import keep_freed_memory

__all__ = ["main", "run_case", "CASES", "Problem", "TRAIN", "JACOBIAN", "PEERS", "available",
           "to_markdown", "prepare_call", "time_interleaved", "QUICK_REPEATS", "ROUNDS", "WARMUPS"]

QUICK_REPEATS = 3


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
            notes.append(f"`{impl}` skipped: {unavailable(impl)}")
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


def main(argv: list[str] | None = None) -> int:
    """``emojax bench [options]``: run the cases, write OUT/<device>.{json,md}, print the markdown."""
    p = argparse.ArgumentParser(prog="emojax bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", choices=("models", "features", "breakdown", "coupled"), default="models",
                   help="models: the BLSTM kernels (default); features: the audio front end "
                        "against pyAudioAnalysis, librosa, Praat and openSMILE (OUT/features-<device>.*); "
                        "breakdown: where a train step's time goes, against the matmul floor "
                        "(OUT/breakdown-<device>.*); coupled: Hsu & Wu's coupled LSTM against a "
                        "BLSTM layer of the same width (OUT/coupled-<device>.*; its records are not of "
                        "DESIGN.md's bench cases: publish them with --out results/aclstm)")
    p.add_argument("--cases", default=None,
                   help=f"comma-separated subset of {', '.join(CASES)} (default: all of the suite)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per row (default 20; 3 with --quick)")
    p.add_argument("--out", default="results/bench", help="output folder (default results/bench)")
    p.add_argument("--quick", action="store_true", help="tiny shapes and 3 repeats (a smoke test)")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds of timed calls per row before repeats are cut (min 3; default 120)")
    args = p.parse_args(argv)
    if args.suite == "features":
        from emojax.bench import features as FB
        known = FB.CASES
    elif args.suite == "breakdown":
        known = [c for c, (_, impls) in CASES.items() if impls is TRAIN]
    elif args.suite == "coupled":
        from emojax.bench import coupled as CB
        known = list(CB.CASES)
    else:
        known = CASES
    if args.suite == "breakdown" and not args.cases:
        from emojax.bench.breakdown import DEFAULT_CASES
        args.cases = ",".join(DEFAULT_CASES)
    cases = [c.strip() for c in (args.cases or ",".join(known)).split(",") if c.strip()]
    unknown = [c for c in cases if c not in known]
    if unknown or not cases:
        p.error(f"unknown case(s) {unknown}; choose from {', '.join(known)}")
    repeats = args.repeats if args.repeats is not None else (QUICK_REPEATS if args.quick else 20)
    if repeats < 1:
        p.error("--repeats must be >= 1")
    if args.suite == "features":
        doc = FB.run(cases, quick=args.quick, repeats=repeats, budget_s=args.budget,
                     out=Path(args.out))
        print(FB.to_markdown(doc))
        return 0

    keep_freed_memory()                      # as the CLI does; EMOJAX_MALLOC=system opts out
    if args.suite == "coupled":
        return CB.main(cases, quick=args.quick, repeats=repeats, budget_s=args.budget,
                       out=Path(args.out))
    if args.suite == "breakdown":
        from emojax.bench import breakdown
        return breakdown.main(cases, quick=args.quick, repeats=repeats, budget_s=args.budget,
                              out=Path(args.out))
    t_start, load = time.perf_counter(), OtherLoad()
    peak_n = 512 if args.quick else 2048
    peak = matmul_peak_gflops(peak_n, 3 if args.quick else 10)
    meta = run_meta(quick=args.quick, repeats=repeats, budget_s=args.budget, peak=peak,
                    peak_n=peak_n)
    records = []
    for case in cases:
        recs, notes, pb = run_case(case, args.quick, repeats, args.budget, peak)
        records += recs
        meta["cases"][case] = case_info(case, pb, notes)
    meta["total_s"] = time.perf_counter() - t_start
    if meta["device"] == "cpu":
        meta["other_load_cores"] = load.cores()
    json_path, md_path, md = write({"meta": meta, "records": records}, Path(args.out))
    print(md)
    print(f"wrote {json_path} and {md_path} in {meta['total_s']:.0f} s")
    return 0

