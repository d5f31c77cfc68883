"""The BLSTM of `emojax.nn.lstm` through cuDNN (``jax.experimental.rnn``), for CUDA GPUs.

Same inputs, parameters and outputs as `emojax.nn.lstm.blstm`: ``layers`` is emojax's list of
``{"fwd", "bwd"}`` parameter dicts (``w_x (F, 4H)``, ``w_h (H, 4H)``, ``b (4H,)``, gates
(i, f, g, o) as torch and cuDNN), ``xs (..., T, F)`` and a prefix ``mask (..., T)``. cuDNN takes
one flat weight vector (`pack`): per pseudo-layer (forward 0, backward 0, forward 1, ...) ``W_ih =
w_x.T`` and ``W_hh = w_h.T``, then every pseudo-layer's ``b_ih = b`` and ``b_hh = 0``. Sequence
lengths come from the mask, so the backward direction starts at each sequence's last valid step,
as emojax's scan does; outputs at padded steps are zeroed.

What cuDNN's op cannot do, the scan kernel does (`emojax.nn.lstm.blstm` picks): peepholes, forward-
mode differentiation (``jax.jacfwd``: the op has only a custom VJP) and ``jax.vmap`` (no batching
rule: stacked models, ``jax.jacrev``'s vmapped pullbacks). ``reference=True`` runs ``jax.experimental.rnn.lstm_ref``, the
module's pure-JAX reference of the same op on the same packed weights, which is how the packing
is tested on a CPU.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Params = dict[str, Any]


def pack(layers: list[Params]) -> jax.Array:
    """emojax's BLSTM parameters as cuDNN's flat weight vector (see the module docstring)."""
    if any("peep" in d for layer in layers for d in (layer["fwd"], layer["bwd"])):
        raise ValueError("cuDNN's LSTM has no peepholes; use the scan kernel for this model")
    dirs = [layer[d] for layer in layers for d in ("fwd", "bwd")]
    mats = [m for p in dirs for m in (p["w_x"].T.ravel(), p["w_h"].T.ravel())]
    biases = [v for p in dirs for v in (p["b"], jnp.zeros_like(p["b"]))]
    return jnp.concatenate(mats + biases)


def blstm(layers: list[Params], xs: jax.Array, mask: jax.Array, *,
          reference: bool = False) -> jax.Array:
    """``(..., T, F) -> (..., T, 2H)`` by cuDNN (or its reference); padded outputs are zero."""
    from jax.experimental import rnn
    lead, (T, F) = xs.shape[:-2], xs.shape[-2:]
    H, L = layers[0]["fwd"]["w_h"].shape[0], len(layers)
    x = xs.reshape((-1, T, F)).astype(layers[0]["fwd"]["w_x"].dtype)
    m = mask.reshape((-1, T)).astype(bool)
    # cuDNN needs every length >= 1; an all-padding row (a batch's filler) runs one step, then
    # its outputs are zeroed with the rest of the padding
    lengths = jnp.maximum(m.sum(-1), 1).astype(jnp.int32)
    h0 = jnp.zeros((2 * L, x.shape[0], H), x.dtype)
    weights = pack(layers)
    if reference:                     # the same flat weights, unpacked by the module itself
        y, _, _ = rnn.lstm_ref(x, h0, h0, *rnn.unpack_lstm_weights(weights, F, H, L, True),
                               lengths, F, H, L, 0.0, True)
    else:
        y, _, _ = rnn.lstm(x, h0, h0, weights, lengths, F, H, L, 0.0, True)
    return jnp.where(m[..., None], y, 0.0).reshape(lead + (T, 2 * H))
