"""Wöllmer et al. 2012: a BLSTM over the sequence of a speaker's utterances, softmax per utterance.

128 memory blocks per direction with one cell each (§5.1); inputs are the CFS-selected utterance
features; outputs are one posterior per utterance and class.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from emojax.nn import lstm as L


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


def apply(params: dict, xs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """``xs (..., T, F), mask (..., T) -> logits (..., T, K)`` for one sequence (no leading axes)
    or a batch; aux is empty (nothing to plot)."""
    h = L.blstm(params["blstm"], xs, mask)                        # (..., T, F) -> (..., T, 2H)
    b = params["out"]["b"]
    return h @ params["out"]["w"] + b.reshape((1,) * (h.ndim - 1) + b.shape), {}
