"""Pooling of frame outputs over the valid frames of a padded sequence, as pure functions.

Inputs are frame outputs ``h (..., T, D)`` with a ``mask (..., T)`` (True = a real frame): one
sequence (no leading axes) or a batch (any leading axes), like `emojax.nn.lstm`. The mask need
not be a prefix mask.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def mean_pool(h: jax.Array, mask: jax.Array) -> jax.Array:
    """The mean of the valid frames: ``h (..., T, D), mask (..., T) -> (..., D)``.

    ``pooled = Σ_t m_t h_t / max(Σ_t m_t, 1)`` (Mirsamadi et al. 2017, the mean-pool baseline).
    Padded frames never count, whatever they hold (NaN and inf included), and get zero gradient;
    a row with no valid frame pools to zeros, not NaN.
    """
    if mask.shape != h.shape[:-1]:
        raise ValueError(f"mask {mask.shape} must be h's shape without the feature axis, "
                         f"h {h.shape} -> {h.shape[:-1]}")
    m = mask.astype(bool)[..., None]                                     # (..., T, 1)
    total = jnp.where(m, h, 0.0).sum(-2)                                 # (..., T, D) -> (..., D)
    count = m.sum(-2).astype(total.dtype)                                # (..., 1)
    return total / jnp.maximum(count, 1.0)                               # (..., D)
