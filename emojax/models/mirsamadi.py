"""Mirsamadi et al. 2017: frame-level BLSTM with temporal pooling (Table 3) and the frame-DNN with
fixed statistics (Table 2), on raw spectra (``spectral257``) or hand-crafted LLDs (32-d).

    params = init(key, 257, 4, lld_layers=2, pooling="attention")
    apply = model_fn(pooling="attention", lld_layers=2)      # one function per structure
    logits, aux = apply(params, xs, mask)                    # (..., K); aux["alpha"] (..., T)
    logits, aux = apply(params, xs, mask, key=k)             # training: 50 % dropout

Structure, per frame ``x_t (F)`` of ``xs (..., T, F)`` with prefix ``mask (..., T)``:

- LLD learning (Fig. 1(a), raw spectra only): ``lld_layers`` dense ReLU layers of 512 units;
  hand-crafted LLDs (``lld_layers=0``) feed the BLSTM directly (§3).
- temporal aggregation (Table 3): a BLSTM of 128 cells per direction, then ``pooling``:
  ``framewise`` (Fig. 1(b): a softmax at every frame, trained on the utterance's label at every
  valid frame; an utterance's posterior is the mean of its frames' posteriors), ``final_frame``
  (Fig. 1(c): the forward state at the last valid frame and the backward state at the first),
  ``mean`` (Fig. 1(d)), ``attention`` (Fig. 1(e), eq. 1-2: α_t = softmax over valid frames of
  u·y_t, z = Σ α_t y_t) or ``attention_mlp`` (Fig. 1(f): a deeper score, u·tanh(W y_t + b));
  then one dense softmax layer.
- Table 2's DNN (``rnn=False``): the LLD layers, then differentiable statistics over the valid
  frames (``stats`` = ``mean``, ``mean_min_max`` or ``full`` = mean, std, min, max, range, skewness,
  kurtosis; `emojax.nn.pooling.stats_pool`), then the softmax layer.

Dropout 50 % "on all layers during training" (§3): on the output of every hidden layer (each LLD
layer; the BLSTM, through the pooled vector the softmax layer reads; the DNN's statistics), never on
the raw input features. Outputs are logits; ``framewise`` returns (..., T, K) per frame.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from emojax.nn import lstm as L
from emojax.nn import pooling as P
from emojax.nn.dense import dense, dropout, init_dense, relu_dense

POOLINGS = ("framewise", "final_frame", "mean", "attention", "attention_mlp")
LLD_UNITS = 512        # §3: "ReLU dense layers with 512 nodes for LLD learning"
HIDDEN = 128           # §3: "BLSTM recurrent layers with 128 memory cells"
DROPOUT = 0.5          # §3: "50 % dropout on all layers during training"
ATTENTION_HIDDEN = 64  # the deeper attention model's width (Fig. 1(f) gives none)


def init(key: jax.Array, in_dim: int, n_classes: int, *, lld_layers: int = 0,
         lld_units: int = LLD_UNITS, hidden: int = HIDDEN, pooling: str = "attention",
         rnn: bool = True, stats: str = "mean", forget_bias: float = 1.0) -> dict:
    """``{"lld": [dense...], "blstm": [1 layer], "att": attention, "out": dense}`` (RNN) or
    ``{"lld": [...], "out": dense (lld_units * S, K)}`` (the DNN, ``rnn=False``)."""
    if rnn and pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    if not rnn and stats not in P.STATS:
        raise ValueError(f"stats {stats!r}: use one of {', '.join(P.STATS)}")
    keys = jax.random.split(key, lld_layers + 3)
    lld, d = [], in_dim
    for k in keys[:lld_layers]:
        lld.append(init_dense(k, d, lld_units))
        d = lld_units
    if not rnn:
        return {"lld": lld, "out": init_dense(keys[-1], d * len(P.stat_names(stats)), n_classes)}
    params = {"lld": lld, "blstm": L.init_blstm(keys[-3], d, hidden, forget_bias=forget_bias),
              "out": init_dense(keys[-1], 2 * hidden, n_classes)}
    if pooling.startswith("attention"):
        params["att"] = P.init_attention(keys[-2], 2 * hidden,
                                         ATTENTION_HIDDEN if pooling == "attention_mlp" else None)
    return params


def _keys(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def _lld(params, xs, keys, rate):
    for p, k in zip(params["lld"], keys):
        xs = dropout(k, relu_dense(p, xs), rate)                  # (..., T, F) -> (..., T, 512)
    return xs


@functools.lru_cache(maxsize=None)
def model_fn(pooling: str = "attention", *, rnn: bool = True, stats: str = "mean",
             rate: float = DROPOUT):
    """The ``apply(params, xs, mask, key=None) -> (logits, aux)`` of one structure (one function
    object per structure, so compiled steps are reused)."""
    if rnn and pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}: use one of {', '.join(POOLINGS)}")

    def apply(params: dict, xs: jax.Array, mask: jax.Array, key: jax.Array | None = None):
        n = len(params["lld"])
        ks = _keys(key, n + 1)
        h = _lld(params, xs, ks[:n], rate)
        if not rnn:                                                # Table 2's DNN
            z = P.stats_pool(h, mask, stats)                       # (..., T, U) -> (..., U * S)
            return dense(params["out"], dropout(ks[n], z, rate)), {}
        y = L.blstm(params["blstm"], h, mask)                      # (..., T, 2H)
        aux = {}
        if pooling == "framewise":
            return dense(params["out"], dropout(ks[n], y, rate)), aux   # (..., T, K)
        if pooling == "final_frame":
            z = P.final_frame(y, mask)
        elif pooling == "mean":
            z = P.mean_pool(y, mask)
        else:
            z, aux["alpha"] = P.attention(params["att"], y, mask)   # (..., 2H), (..., T)
        return dense(params["out"], dropout(ks[n], z, rate)), aux
    apply.__name__ = f"mirsamadi_{pooling if rnn else 'dnn_' + stats}"
    return apply


def utterance_posteriors(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Frame-wise model: the utterance posterior = the mean of the valid frames' softmax,
    ``(..., T, K) -> (..., K)``."""
    return P.mean_pool(jax.nn.softmax(logits, -1), mask)
