"""Beyond the papers: how much *frame* context the frame-level models use (the sequential Jacobian,
Wöllmer 2012 §5.2, moved from utterances to frames), and whether it sits where the emotion is.

- `ctc_context`: per-frame outputs (the CTC model): ``S[t, t'] = Σ_k Σ_i |∂y_k^t / ∂x_i^t'|``
  (`emojax.analysis.jacobian`), then the past and future frames with ``S >= θ · max_t' S[t, t']``
  (`emojax.analysis.context.context_counts`), averaged over the valid frames of each utterance
  and over utterances; in frames and in milliseconds (× the hop).
- `utterance_context`: one output per utterance (the attention model): ``s_t = Σ_k Σ_i
  |∂y_k / ∂x_i^t|``; the frames with ``s_t >= θ · max s`` are the frames it uses; on a rendered
  corpus, the share of Σ s_t inside the planted emotional segment against the segment's share of
  the frames (1 = no preference), beside the attention weights' share.
"""
from __future__ import annotations

import numpy as np


def ctc_context(apply, params, xs: list[np.ndarray], *, hop_s: float, thetas=(0.01, 0.03, 0.1),
                length: int | None = None) -> dict:
    """{theta: {"past", "future" (mean frames), "past_ms", "future_ms", "n"}} over utterances `xs`
    (each (T_i, F), padded to `length` frames so one program serves them all)."""
    import jax.numpy as jnp

    from emojax.analysis.context import context_counts
    from emojax.analysis.jacobian import sensitivity, sequential_jacobian
    T = length or max(len(x) for x in xs)
    out = {float(th): {"past": [], "future": []} for th in thetas}
    for x in xs:
        n = min(len(x), T)
        pad = np.zeros((T, x.shape[1]), np.float32)
        pad[:n] = x[:n]
        mask = np.arange(T) < n
        S = np.asarray(sensitivity(sequential_jacobian(apply, params, jnp.asarray(pad),
                                                       jnp.asarray(mask))))
        for th in out:
            past, future = context_counts(S, th, n)
            out[th]["past"].append(float(past[:n].mean()))
            out[th]["future"].append(float(future[:n].mean()))
    res = {}
    for th, v in out.items():
        p, f = np.mean(v["past"]), np.mean(v["future"])
        res[th] = {"past": round(float(p), 2), "future": round(float(f), 2),
                   "past_ms": round(float(p * hop_s * 1000), 0),
                   "future_ms": round(float(f * hop_s * 1000), 0), "n": len(v["past"])}
    return res


def _utterance_sensitivity(apply):
    import jax

    @jax.jit
    def s(params, x, mask):
        J = jax.jacrev(lambda z: jax.nn.softmax(apply(params, z, mask)[0], -1))(x)   # (K, T, F)
        return jax.numpy.abs(J).sum((0, 2)) * mask                                    # (T,)
    return s


def utterance_context(apply, params, xs: list[np.ndarray], *, hop_s: float, quantum: int = 50,
                      theta: float = 0.03, segments: list | None = None,
                      alphas: list | None = None) -> dict:
    """Frames the utterance decision depends on (θ of the maximum), and on a rendered corpus the
    share of sensitivity (and of attention) inside the planted segment (`segments[i]` = (start, end)
    seconds or None)."""
    s_fn = _utterance_sensitivity(apply)
    used, share_s, share_a, share_t, profiles = [], [], [], [], []
    for i, x in enumerate(xs):
        n = len(x)
        T = max(quantum, -(-n // quantum) * quantum)
        pad = np.zeros((T, x.shape[1]), np.float32)
        pad[:n] = x
        s = np.asarray(s_fn(params, pad, np.arange(T) < n))[:n]
        profiles.append(s)
        if s.max() <= 0:
            continue
        used.append(int((s >= theta * s.max()).sum()))
        seg = segments[i] if segments else None
        if seg is not None:
            t = (np.arange(n) + 0.5) * hop_s
            inside = (t >= seg[0]) & (t < seg[1])
            if inside.any() and not inside.all():
                share_s.append(float(s[inside].sum() / s.sum()))
                share_t.append(float(inside.mean()))
                if alphas is not None and alphas[i] is not None:
                    share_a.append(float(np.asarray(alphas[i])[inside].sum()))
    res = {"theta": theta, "n": len(used),
           "frames_used": round(float(np.mean(used)), 1) if used else None,
           "ms_used": round(float(np.mean(used)) * hop_s * 1000, 0) if used else None,
           "share_of_frames": round(float(np.mean([u / len(p) for u, p in zip(used, profiles)
                                                   if len(p)])), 3) if used else None}
    if share_t:
        res.update({"segments": len(share_t),
                    "sensitivity_inside": round(float(np.mean(share_s)), 4),
                    "frames_inside": round(float(np.mean(share_t)), 4),
                    "sensitivity_ratio": round(float(np.mean(share_s) / np.mean(share_t)), 3)})
        if share_a:
            res["attention_inside"] = round(float(np.mean(share_a)), 4)
    res["_profiles"] = profiles
    return res
