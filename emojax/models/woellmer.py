"""Wöllmer et al. 2012: a BLSTM over the sequence of a speaker's utterances, softmax per utterance.

128 memory blocks per direction with one cell each (§5.1); inputs are the CFS-selected utterance
features; outputs are one posterior per utterance and class.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from emojax.nn import lstm as L


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The model's settings (the optimiser's are `emojax.train.fit.TrainConfig`)."""
    hidden: int = 128          # Wöllmer 2012 §5.1: 128 memory blocks per direction, one cell each
    layers: int = 1
    # Initial forget-gate bias: it shapes the learned memory span (see results/woellmer2012/README).
    # 0 as in RNNLIB, which initialises every weight and bias uniformly around 0; on validation loss
    # (valence, folds 0-2) 0 beat 1 and 2: 0.6685 / 0.6814 / 0.6983.
    forget_bias: float = 0.0
    peephole: bool = False

    def __post_init__(self):
        from emojax.config import check
        check("model.hidden", self.hidden, at_least=1)
        check("model.layers", self.layers, at_least=1)
        check("model.forget_bias", self.forget_bias)


def init(key: jax.Array, in_dim: int, n_classes: int, *, hidden: int = 128, layers: int = 1,
         forget_bias: float = 1.0, peephole: bool = False) -> dict:
    k_rnn, k_out = jax.random.split(key)
    lim = 1.0 / np.sqrt(2 * hidden)
    return {
        "blstm": L.init_blstm(k_rnn, in_dim, hidden, layers=layers, forget_bias=forget_bias,
                              peephole=peephole),
        "out": {"w": jax.random.uniform(k_out, (2 * hidden, n_classes), jnp.float32, -lim, lim),
                "b": jnp.zeros((n_classes,), jnp.float32)},
    }


def init_from(cfg: ModelConfig, key: jax.Array, in_dim: int, n_classes: int) -> dict:
    return init(key, in_dim, n_classes, **dataclasses.asdict(cfg))


def apply(params: dict, xs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """``xs (..., T, F), mask (..., T) -> logits (..., T, K)`` for one sequence (no leading axes)
    or a batch; aux is empty (nothing to plot)."""
    h = L.blstm(params["blstm"], xs, mask)                        # (..., T, F) -> (..., T, 2H)
    b = params["out"]["b"]
    return h @ params["out"]["w"] + b.reshape((1,) * (h.ndim - 1) + b.shape), {}


def pad_inputs(params: dict, width: int) -> dict:
    """Zero rows appended to every first-layer ``w_x`` up to `width` inputs: zero inputs through
    zero weights, so the model computes the same function (models of several folds then stack)."""
    def pad(w):
        return jnp.pad(w, ((0, width - w.shape[0]), (0, 0)))
    first = {d: {**p, "w_x": pad(p["w_x"])} for d, p in params["blstm"][0].items()}
    return {**params, "blstm": [first] + list(params["blstm"][1:])}


def crop_inputs(params: dict, width: int) -> dict:
    """The inverse of `pad_inputs`: the first `width` input rows of the first layer."""
    first = {d: {**p, "w_x": p["w_x"][:width]} for d, p in params["blstm"][0].items()}
    return {**params, "blstm": [first] + list(params["blstm"][1:])}


def apply_directions(params: dict, xs2: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """`apply` with the first layer's two directions reading separate inputs: ``xs2 (..., T, 2F)``
    = [input of the forward LSTM, input of the backward LSTM]. With both halves equal it computes
    `apply`'s logits; its Jacobian with respect to each half is the sensitivity carried by that
    direction (the two add up to `apply`'s), which `emojax.analysis.context` counts per side."""
    F = xs2.shape[-1] // 2
    first = params["blstm"][0]
    h = jnp.concatenate([L.lstm(first["fwd"], xs2[..., :F], mask),
                         L.lstm(first["bwd"], xs2[..., F:], mask, reverse=True)], -1)
    for p in params["blstm"][1:]:
        h = L.bilstm_layer(p, h, mask)
    b = params["out"]["b"]
    return h @ params["out"]["w"] + b.reshape((1,) * (h.ndim - 1) + b.shape), {}
