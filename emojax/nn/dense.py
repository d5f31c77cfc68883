"""Dense layers and dropout as pure functions: ``x (..., F) -> (..., U)``, any leading axes.

    p = init_dense(key, 257, 512)             # {"w": (F, U), "b": (U,)}
    y = relu_dense(p, x)                      # max(0, x W + b)
    y = dropout(key, y, 0.5)                  # inverted dropout: kept units scaled by 1/(1 - rate)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def init_dense(key: jax.Array, in_dim: int, units: int, dtype=jnp.float32) -> dict:
    """``w (F, U)`` ~ U(-sqrt(6/(F+U)), +sqrt(6/(F+U))) (Glorot uniform, Keras' default) and
    ``b (U,)`` = 0."""
    lim = float(np.sqrt(6.0 / (in_dim + units)))
    return {"w": jax.random.uniform(key, (in_dim, units), dtype, -lim, lim),
            "b": jnp.zeros((units,), dtype)}


def dense(p: dict, x: jax.Array) -> jax.Array:
    """``x W + b``: ``(..., F) -> (..., U)``."""
    return x @ p["w"] + p["b"].reshape((1,) * (x.ndim - 1) + p["b"].shape)


def relu_dense(p: dict, x: jax.Array) -> jax.Array:
    return jax.nn.relu(dense(p, x))


def keep_mask(key: jax.Array, shape: tuple[int, ...], keep: float) -> jax.Array:
    """Bernoulli(`keep`) booleans of `shape`: the murmur3 finaliser (fmix32) of a counter offset
    by one 32-bit draw from `key`, compared with ``keep · 2^32``. A few integer ops per element:
    ~20x faster on a CPU than ``jax.random.bernoulli`` (threefry per element), which made dropout
    on (32, 300, 512) activations cost as much as the dense layers themselves."""
    seed = jax.random.bits(key, (), jnp.uint32)
    h = jax.lax.iota(jnp.uint32, int(np.prod(shape))).reshape(shape) * np.uint32(0x9E3779B1) + seed
    h = h ^ (h >> 16)
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * np.uint32(0xC2B2AE35)
    h = h ^ (h >> 16)
    return h < np.uint32(min(int(round(keep * 2.0 ** 32)), 2 ** 32 - 1))


def dropout(key: jax.Array | None, x: jax.Array, rate: float) -> jax.Array:
    """Inverted dropout: each unit kept with probability ``1 - rate`` (`keep_mask`) and scaled by
    ``1/(1 - rate)``, so evaluation (``key=None``) is the identity. ``rate`` is a Python float."""
    if key is None or rate <= 0.0:
        return x
    if rate >= 1.0:
        raise ValueError(f"dropout rate {rate} must be below 1")
    return jnp.where(keep_mask(key, x.shape, 1.0 - rate), x / (1.0 - rate), 0.0)
