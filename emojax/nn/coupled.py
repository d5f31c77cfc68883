"""The coupled LSTM and the attentively-coupled LSTM (Hsu & Wu), and the neural tensor network that
scores audio-visual consistency, as pure functions over parameter pytrees.

    p = init_coupled(key, in_a=256, in_v=128, hidden=128)
    ha, hv = coupled_lstm(p, xa, xv, mask)                         # eq. 3: (..., T, H) each
    ha, hv = coupled_lstm(p, xa, xv, mask, s=s, weighting="both")  # eq. 5, s (..., T) in [0, 1]
    q = init_ntn(key, 128, 128, rank=5)
    s = ntn_score(q, fa, fv)                                       # (...,) in [0, 1]

Two LSTM cells run side by side, cell A on the audio inputs ``xa (..., T, Fa)`` and cell V on the
visual ones ``xv (..., T, Fv)``. Each cell's gates (i, f, g, o, ordered as `emojax.nn.lstm`) see its
own input and its own previous hidden state; the cells meet in the cell-state update (Hsu & Wu
eq. 3, after Su et al.'s cell-coupled LSTM)::

    c_A^t = i_A ⊙ g_A + f_A ⊙ (½ c_A^{t-1} + ½ c_V^{t-1})           (and V with A and V swapped)
    h_A^t = o_A ⊙ tanh(c_A^t)                                        (eq. 4)

The attentively-coupled form weights the previous cell states by the consistency of the previous
segment, w^{t-1} = 1 / (1 + s^{t-1}) with s in [0, 1] (so w in [0.5, 1]):

- ``weighting="both"`` (eq. 5 as printed): ``f ⊙ (w c_own^{t-1} + w c_other^{t-1})``;
- ``weighting="counterpart"`` (the paper's text: the own state "completely passed in", only the
  counterpart's weighted): ``f ⊙ (½ c_own^{t-1} + w c_other^{t-1})``. Keeping eq. 3's ½ on the own
  state is emojax's reading (so that s = 1 gives eq. 3 in both forms); "completely passed in" could
  also be read as weight 1.

Both reduce to eq. 3 where s = 1 (w = ½). ``s=None`` is eq. 3. Masks are prefix masks; outputs at
padded steps are zero (a forward-only recurrence never reads them into valid steps).

The neural tensor network (Socher et al.; Qiu & Huang, Hsu & Wu eq. 1) with tensor dimension R::

    r = tanh(a^T M^{[1:R]} v + V [a; v] + b)        (R,)
    s = σ(u · r + c)                                 the consistency score, in [0, 1]

`ntn_logit` is ``u · r + c`` (trained with a logistic loss against "the audio and visual labels of
the segment agree"); the σ bounds the score so the attention weight stays in [0.5, 1].
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from emojax.nn.lstm import init_lstm

Params = dict[str, Any]
WEIGHTINGS = ("both", "counterpart")


def init_coupled(key: jax.Array, in_a: int, in_v: int, hidden: int, *, forget_bias: float = 1.0
                 ) -> Params:
    """``{"a": lstm, "v": lstm}``, each `emojax.nn.lstm.init_lstm` (torch's uniform init)."""
    ka, kv = jax.random.split(key)
    return {"a": init_lstm(ka, in_a, hidden, forget_bias=forget_bias),
            "v": init_lstm(kv, in_v, hidden, forget_bias=forget_bias)}


def _gates(z: jax.Array):
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    return jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zg), jax.nn.sigmoid(zo)


def coupled_cell(params: Params, carry, za: jax.Array, zv: jax.Array, w_own, w_other):
    """One step of both cells from their hoisted input projections ``za, zv (..., 4H)``.

    carry = (h_a, c_a, h_v, c_v), each (..., H); w_own, w_other (..., 1) or scalars weigh the
    previous cell states (eq. 3: ½ and ½)."""
    ha, ca, hv, cv = carry
    ia, fa, ga, oa = _gates(za + ha @ params["a"]["w_h"])
    iv, fv, gv, ov = _gates(zv + hv @ params["v"]["w_h"])
    ca_new = ia * ga + fa * (w_own * ca + w_other * cv)
    cv_new = iv * gv + fv * (w_own * cv + w_other * ca)
    return oa * jnp.tanh(ca_new), ca_new, ov * jnp.tanh(cv_new), cv_new


def _affine(p: Params, x: jax.Array) -> jax.Array:
    return x @ p["w_x"] + p["b"].reshape((1,) * (x.ndim - 1) + (-1,))


def coupling_weights(s: jax.Array | None, weighting: str = "both"):
    """(w_own, w_other) per step from the consistency scores ``s (..., T)``: the weight of step t
    uses s^{t-1} (step 0 has no previous state; its weights are irrelevant and set to ½)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting {weighting!r}: use one of {', '.join(WEIGHTINGS)}")
    if s is None:
        return 0.5, 0.5
    prev = jnp.concatenate([jnp.ones_like(s[..., :1]), s[..., :-1]], axis=-1)   # s^{t-1}; s^{-1} = 1
    w = 1.0 / (1.0 + prev)
    return (w if weighting == "both" else jnp.full_like(w, 0.5)), w


def coupled_lstm(params: Params, xa: jax.Array, xv: jax.Array, mask: jax.Array,
                 s: jax.Array | None = None, weighting: str = "both"):
    """Both cells over ``T`` steps: ``(ha, hv)``, each (..., T, H), zero at padded steps."""
    H = params["a"]["w_h"].shape[0]
    za = _affine(params["a"], xa)                                    # (..., T, 4H), hoisted
    zv = _affine(params["v"], xv)
    w_own, w_other = coupling_weights(s, weighting)
    lead = za.shape[:-2]

    def tm(x):                                                       # (..., T, D) -> (T, ..., D)
        return jnp.moveaxis(x, -2, 0)

    def per_step(w):
        if isinstance(w, float):
            return jnp.full(za.shape[:-1] + (1,), w, za.dtype)
        return w[..., None].astype(za.dtype)
    xs = (tm(za), tm(zv), tm(per_step(w_own)), tm(per_step(w_other)))
    zero = jnp.zeros(lead + (H,), za.dtype)

    def step(carry, inp):
        a, v, wo, wc = inp
        new = coupled_cell(params, carry, a, v, wo, wc)
        return new, (new[0], new[2])
    _, (ha, hv) = jax.lax.scan(step, (zero, zero, zero, zero), xs)
    m = mask[..., None].astype(za.dtype)
    return jnp.moveaxis(ha, 0, -2) * m, jnp.moveaxis(hv, 0, -2) * m


# ----------------------------------------------------------------------------- neural tensor network
def init_ntn(key: jax.Array, in_a: int, in_v: int, rank: int = 5, dtype=jnp.float32) -> Params:
    """``M (R, Fa, Fv)``, ``V (Fa + Fv, R)``, ``b (R,)``, ``u (R,)``, ``c ()``; Glorot-like scales."""
    km, kv, ku = jax.random.split(key, 3)
    sm = float(np.sqrt(1.0 / (in_a * in_v)) * np.sqrt(in_a + in_v) / 2)
    lim = float(np.sqrt(6.0 / (in_a + in_v + rank)))
    return {"M": sm * jax.random.normal(km, (rank, in_a, in_v), dtype) / np.sqrt(rank),
            "V": jax.random.uniform(kv, (in_a + in_v, rank), dtype, -lim, lim),
            "b": jnp.zeros((rank,), dtype),
            "u": jax.random.uniform(ku, (rank,), dtype, -1.0, 1.0),
            "c": jnp.zeros((), dtype)}


def ntn_logit(params: Params, fa: jax.Array, fv: jax.Array) -> jax.Array:
    """``u · tanh(a^T M v + V[a; v] + b) + c``: ``fa (..., Fa), fv (..., Fv) -> (...)``."""
    bilinear = jnp.einsum("...i,rij,...j->...r", fa, params["M"], fv)
    lin = jnp.concatenate([fa, fv], -1) @ params["V"]
    r = jnp.tanh(bilinear + lin + params["b"].reshape((1,) * (lin.ndim - 1) + (-1,)))
    return r @ params["u"] + params["c"]


def ntn_score(params: Params, fa: jax.Array, fv: jax.Array) -> jax.Array:
    """The consistency score σ(`ntn_logit`) in [0, 1]."""
    return jax.nn.sigmoid(ntn_logit(params, fa, fv))
