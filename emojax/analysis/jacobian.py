"""The sequential Jacobian and its projections (Graves 2008; Wöllmer et al. 2012 §5.2).

For one sequence ``xs (T, F)`` and a model's outputs ``y (T, K)``, the sequential Jacobian is

    J[t, k, t', i] = ∂y_k^t / ∂x_i^{t'}                                       (T, K, T, F)

and its projection ``S[t, t'] = Σ_k Σ_i |J[t, k, t', i]|`` (Wöllmer Fig. 1c: summed over the input
features and the output classes) says how much the output at step ``t`` depends on the input at
step ``t'``. A model is any ``model(params, xs (T, F), mask (T,) bool) -> (outputs (T, K), aux)``
with single-sequence semantics; its outputs are logits, and by default the Jacobian is taken of the
softmax posteriors, the network outputs Wöllmer and Graves differentiate.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp

Model = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]
MODES = ("auto", "fwd", "rev")
OUTPUTS = ("softmax", "logits")


def _pick_mode(T: int, K: int, F: int) -> str:
    """``"rev"`` when there are fewer outputs than inputs (T·K < T·F: at most T·K VJPs beat T·F JVPs)."""
    return "rev" if T * K < T * F else "fwd"


@partial(jax.jit, static_argnames=("model", "mode", "outputs", "scale_by_output"))
def sequential_jacobian(model: Model, params: Any, xs: jax.Array, mask: jax.Array, *,
                        mode: str = "auto", outputs: str = "softmax",
                        scale_by_output: bool = False) -> jax.Array:
    """``J (T, K, T, F)`` with ``J[t, k, t', i] = ∂y_k^t / ∂x_i^{t'}`` for ONE sequence.

    xs: (T, F) inputs; mask: (T,) prefix mask of valid steps.
    outputs: ``"softmax"`` differentiates the posteriors ``softmax(logits)``, ``"logits"`` the raw
        model outputs.
    scale_by_output: multiply by ``y_k^t`` (the convention of RNNLIB's Jacobian output, Graves 2008).
    mode: ``"fwd"`` (``jax.jacfwd``, T·F JVPs; the design card's reference), ``"rev"``
        (reverse mode: ``jax.jacrev``'s T·K VJPs, or T·(K-1) for softmax outputs via
        `_softmax_jacrev`) or ``"auto"`` (`_pick_mode`). All give the same J.

    Rows (output steps) and columns (input steps) at padded positions are zero. Jitted, with
    ``model``, ``mode``, ``outputs`` and ``scale_by_output`` static (``model`` must be hashable: a
    module-level function or a `functools.partial` of one; a fresh lambda per call recompiles).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if outputs not in OUTPUTS:
        raise ValueError(f"outputs must be one of {OUTPUTS}, got {outputs!r}")
    mask = mask.astype(bool)

    def y(x):
        logits = model(params, x, mask)[0]                                  # (T, K)
        return jax.nn.softmax(logits, axis=-1) if outputs == "softmax" else logits

    out = y(xs)                                                             # shapes + scaling
    T, K = out.shape
    if mode == "auto":
        mode = _pick_mode(T, K, xs.shape[-1])
    if mode == "rev" and outputs == "softmax" and K > 1:
        J = _softmax_jacrev(lambda x: model(params, x, mask)[0], xs)
    else:
        J = (jax.jacfwd if mode == "fwd" else jax.jacrev)(y)(xs)             # (T, K, T, F)
    if scale_by_output:
        J = J * out[:, :, None, None]
    keep = mask[:, None, None, None] & mask[None, None, :, None]           # (T, 1, T, 1)
    return jnp.where(keep, J, 0.0)


def _softmax_jacrev(logits_fn: Callable, xs: jax.Array) -> jax.Array:
    """Reverse-mode Jacobian of ``softmax(logits_fn(xs))`` (T, K, T, F) from T·(K-1) VJPs, not T·K.

    With ``d_j = l_j - l_{K-1}`` (so ``d_{K-1} = 0``) the softmax Jacobian is exactly
    ``∂y_k = y_k (∂d_k - Σ_j y_j ∂d_j)``: the Jacobian of the K-1 logit differences per step is all
    it needs, a (K-1)/K share of `jax.jacrev`'s VJPs (4/5 for 5 classes, 1/2 for 2).
    """
    logits, vjp = jax.vjp(logits_fn, xs)                                    # (T, K)
    T, K = logits.shape
    eye_t = jnp.eye(T, dtype=logits.dtype)[:, None, :, None]                # (T, 1, T, 1)
    diff = jnp.eye(K, dtype=logits.dtype)[:K - 1] - jnp.eye(K, dtype=logits.dtype)[K - 1:]
    cts = (eye_t * diff[None, :, None, :]).reshape(T * (K - 1), T, K)       # e_{t,j} - e_{t,K-1}
    D = jax.vmap(lambda c: vjp(c)[0])(cts).reshape((T, K - 1) + xs.shape)  # (T, K-1, T, F)
    D = jnp.concatenate([D, jnp.zeros_like(D[:, :1])], axis=1)              # d_{K-1} = 0
    y = jax.nn.softmax(logits, axis=-1)                                     # (T, K)
    mean = jnp.einsum("tk,tk...->t...", y, D)                               # Σ_j y_j ∂d_j
    return y[:, :, None, None] * (D - mean[:, None])


# Sequences per vmapped chunk in `batched_sequential_jacobian` (its ``chunk="auto"``): forward mode
# carries T·F tangents per sequence (B=16, T=30, F=200, H=128 in one vmap tries to allocate ~27 GB);
# reverse mode over the emojax bench batch (B=16) was fastest in one vmap (CPU, 2 cores: 174 ms
# against 178-185 ms in chunks of 8, 4 or 2); larger batches are mapped in chunks of 16.
AUTO_CHUNK = {"fwd": 2, "rev": 16}


@partial(jax.jit, static_argnames=("model", "mode", "outputs", "scale_by_output", "chunk"))
def batched_sequential_jacobian(model: Model, params: Any, xs: jax.Array, mask: jax.Array, *,
                                mode: str = "auto", outputs: str = "softmax",
                                scale_by_output: bool = False,
                                chunk: int | str | None = "auto") -> jax.Array:
    """`sequential_jacobian` for a padded batch: ``xs (B, T, F), mask (B, T) -> J (B, T, K, T, F)``.

    ``jax.lax.map`` over chunks of ``chunk`` sequences, each chunk one ``jax.vmap`` (``None``: the
    whole batch in one vmap; ``"auto"``: `AUTO_CHUNK` for the mode), jitted with the same static
    arguments. Chunks bound memory and keep the working set small.
    """
    one = partial(sequential_jacobian, model, mode=mode, outputs=outputs,
                  scale_by_output=scale_by_output)
    if chunk == "auto":
        T, F = xs.shape[-2:]
        K = jax.eval_shape(lambda: model(params, xs[0], mask[0])[0]).shape[-1]
        chunk = AUTO_CHUNK[_pick_mode(T, K, F) if mode == "auto" else mode]
    if chunk is None or chunk >= xs.shape[0]:
        return jax.vmap(one, in_axes=(None, 0, 0))(params, xs, mask)
    return jax.lax.map(lambda a: one(params, *a), (xs, mask), batch_size=chunk)


def sensitivity(J: jax.Array, *, reduce: str = "sum", predicted: jax.Array | None = None) -> jax.Array:
    """Project ``J (T, K, T, F)`` to ``S (T, T)``: sensitivity of output step t to input step t'.

    reduce: ``"sum"`` gives ``S[t, t'] = Σ_k Σ_i |J[t, k, t', i]|`` (Wöllmer 2012 Fig. 1c, summed
        over the input features and output classes); ``"max"`` takes ``max_{k,i} |J|`` instead.
    predicted: optional (T,) int class per output step; then only the row ``k = predicted[t]``
        enters (the sensitivity of the decision actually made).
    Works on a leading batch axis too (``J (B, T, K, T, F) -> (B, T, T)``) when ``predicted`` is None.
    """
    if reduce not in ("sum", "max"):
        raise ValueError(f"reduce must be 'sum' or 'max', got {reduce!r}")
    A = jnp.abs(J)
    if predicted is not None:
        T = A.shape[0]
        A = A[jnp.arange(T), jnp.asarray(predicted)][:, None]                # (T, 1, T, F)
    op = jnp.sum if reduce == "sum" else jnp.max
    return op(A, axis=(-3, -1))


def normalise_by_diagonal(S: jax.Array) -> jax.Array:
    """``S[t, t'] / S[t, t]`` per row (Wöllmer Fig. 1c's normalisation to the current step).

    Rows whose diagonal is zero (padded steps) stay zero instead of dividing by zero.
    Shape (..., T, T) -> (..., T, T).
    """
    d = jnp.diagonal(S, axis1=-2, axis2=-1)[..., :, None]                   # (..., T, 1)
    return jnp.where(d > 0, S / jnp.where(d > 0, d, 1.0), 0.0)
