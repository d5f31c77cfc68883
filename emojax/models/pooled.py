"""Mirsamadi et al. 2017's mean-pool baseline: a BLSTM whose frame outputs are mean-pooled over the
valid frames, then one dense layer.

One label per sequence: frame features ``xs (..., T, F)`` -> BLSTM frame outputs ``(..., T, 2H)``
-> mean over the valid frames ``(..., 2H)`` (`emojax.nn.pooling.mean_pool`) -> logits ``(..., K)``.
Padded frames change nothing: the BLSTM zeroes them and the pooling skips them.
"""
from __future__ import annotations

import jax

from emojax.models import woellmer
from emojax.nn import lstm as L
from emojax.nn.pooling import mean_pool


def init(key: jax.Array, in_dim: int, n_classes: int, *, hidden: int = 128, layers: int = 1,
         forget_bias: float = 1.0, peephole: bool = False) -> dict:
    """``{"blstm": [layers], "out": {"w" (2H, K), "b" (K,)}}``: the layout (and, for one key, the
    values) of `emojax.models.woellmer.init`, whose per-step head here reads the pooled vector."""
    return woellmer.init(key, in_dim, n_classes, hidden=hidden, layers=layers,
                         forget_bias=forget_bias, peephole=peephole)


def apply(params: dict, xs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """``xs (..., T, F), mask (..., T) -> logits (..., K)`` for one sequence (no leading axes) or a
    batch; aux is empty (nothing to plot)."""
    h = L.blstm(params["blstm"], xs, mask)                        # (..., T, F) -> (..., T, 2H)
    pooled = mean_pool(h, mask)                                    # (..., T, 2H) -> (..., 2H)
    b = params["out"]["b"]
    return pooled @ params["out"]["w"] + b.reshape((1,) * (pooled.ndim - 1) + b.shape), {}
