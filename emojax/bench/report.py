"""What `emojax bench` writes: the run's meta (device, versions, settings), each case's
description, and ``OUT/<device>.json`` (records: shared/DESIGN.md, "Result records") beside
``OUT/<device>.md``, the same numbers as one markdown table per case."""
from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import platform
from pathlib import Path

import jax
import numpy as np
import optax

from emojax.analysis import jacobian as jac
from emojax.bench.cases import CASES, Problem
from emojax.bench.peers import JACOBIAN, TRAIN, import_torch, torch_device
from emojax.bench.timing import ROUNDS, WARMUPS
from emojax.runtime import allocator_state, source_commit


def device_description() -> str:
    """The accelerator's kind, or the CPU's model name and core count."""
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


def versions() -> dict:
    """Versions of python and of the libraries timed (a peer that is not installed is left out)."""
    import jaxlib
    v = {"python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
         "numpy": np.__version__, "optax": optax.__version__}
    for mod in ("flax", "torch"):
        if importlib.util.find_spec(mod) is not None:
            v[mod] = __import__(mod).__version__
    return v


def run_meta(*, quick: bool, repeats: int, budget_s: float, peak: float, peak_n: int) -> dict:
    """The meta of a run, before its cases (``meta["cases"]``, filled by `case_info`) are run."""
    device = jax.default_backend()
    meta = {"device": device, "device_description": device_description(), "versions": versions(),
            "matmul_peak_gflops": peak, "matmul_peak_n": peak_n,
            "quick": quick, "repeats": repeats, "warmups": WARMUPS, "rounds": ROUNDS,
            "budget_s": budget_s,
            "cpu_count": os.cpu_count(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "host_allocator": allocator_state(), "emojax_commit": source_commit(),
            "jax_devices": len(jax.local_devices()),
            "cases": {}}
    if importlib.util.find_spec("torch") is not None:
        meta["torch_device"] = torch_device()
        torch = import_torch()
        meta["torch_threads"] = torch.get_num_threads()
        if meta["torch_device"] == "cuda":           # TF32 settings decide f32 GPU speed
            meta["torch_tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32,
                                  "cudnn": torch.backends.cudnn.allow_tf32}
    if device != "cpu":
        meta["jax_default_matmul_precision"] = str(jax.config.jax_default_matmul_precision)
    return meta


def write_suite(out: Path, stem: str, doc: dict, markdown: str) -> None:
    """A suite's records and their Markdown as ``OUT/<stem>-<device>.{json,md}``."""
    out.mkdir(parents=True, exist_ok=True)
    dev = doc["meta"]["device"]
    (out / f"{stem}-{dev}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / f"{stem}-{dev}.md").write_text(markdown + "\n")


def case_info(case: str, pb: Problem, notes: list[str]) -> dict:
    """``meta["cases"][case]``: the shape in words, the notes on skipped rows, the train GFLOP."""
    shape = pb.describe() + (" (one sequence)" if pb.single else "")
    rows = CASES[case][1]
    if rows is JACOBIAN:
        shape = (f"Sequential Jacobian of the softmax outputs, (T, K, T, F) per sequence, of the "
                 f"blstm_utt model: {shape}. Batched emojax maps over chunks of "
                 f"{jac.AUTO_CHUNK['rev']} (rev) / {jac.AUTO_CHUNK['fwd']} (jacfwd: memory) "
                 "sequences. The torch rows run nn.LSTM with its fused kernel (oneDNN on "
                 "the CPU, cuDNN on the GPU) switched off: functorch has no batching rule for it "
                 "(on the CPU jacrev then loops per cotangent, ~50× slower; on the GPU it fails). "
                 "torch_autograd of a batch differentiates the outputs summed over the batch "
                 "(exact, as sequences are independent). No GFLOP/s: the work depends on the mode.")
    return {"shape": shape, "notes": notes,
            **({"train_gflop": pb.train_flops() / 1e9} if rows is TRAIN else {})}


def to_markdown(doc: dict) -> str:
    """``OUT/<device>.md``: the run's settings in prose, then one table per case."""
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
              if meta.get("host_allocator") == "kept" else "Host allocator: system default.")
             + (f" JAX sees the CPU as {meta['jax_devices']} devices (`emojax.runtime.cpu_devices`): "
                "every JAX row runs on the first, `emojax_directions` puts a layer's two directions "
                "on two (`emojax.nn.lstm.directions_layer`)."
                if meta.get("device") == "cpu" and meta.get("jax_devices", 1) > 1 else ""),
             f"{'QUICK shapes (a smoke test, not a benchmark). ' if meta['quick'] else ''}"
             f"Times per call: median (min–max) of up to {meta['repeats']} calls, interleaved "
             f"across the rows of a case in {meta.get('rounds', 1)} rounds, after "
             f"{meta['warmups']} warm-ups; compile = the first call. All sequences are full length "
             "(mask all true); torch runs padded batches without packing. GFLOP/s counts the LSTM "
             "matmuls only (2·F·4H + 2·H·4H per step, direction and layer, ×3 for a train step; "
             "heads and Adam not counted). "
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


def write(doc: dict, out: Path) -> tuple[Path, Path, str]:
    """``out/<device>.json`` and ``out/<device>.md``: (their paths, the markdown)."""
    device = doc["meta"]["device"]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{device}.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = to_markdown(doc)
    (out / f"{device}.md").write_text(md + "\n")
    return out / f"{device}.json", out / f"{device}.md", md
