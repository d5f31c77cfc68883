"""Pure, jit-compiled train and eval steps for any model ``apply(params, xs, mask)``.

A model maps a padded batch ``xs (B, T, F), mask (B, T)`` to ``(logits (B, T, K), aux)`` and one
sequence (no leading axis) likewise; emojax's models take any leading axes (`emojax.nn.lstm`), so a
batch is one program with B sequences in each recurrent matmul, not a vmap of one sequence.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax


def masked_cross_entropy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean cross-entropy over valid steps: logits (B, T, K), labels (B, T), mask (B, T)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    m = mask.astype(logits.dtype)
    return (ce * m).sum() / jnp.maximum(m.sum(), 1.0)


def l2_penalty(params) -> jax.Array:
    """Σ w² over weight matrices (ndim >= 2); biases and peepholes are not decayed."""
    return sum(jnp.sum(p ** 2) for p in jax.tree.leaves(params) if p.ndim >= 2)


def training_loss(apply: Callable, params, key, xs, ys, mask, *, l2=0.0, input_noise: float = 0.0):
    """Masked cross-entropy of ``apply``'s logits + ``l2 · Σ w²``, with optional Gaussian input noise
    on the non-zero inputs (a regulariser of the RNNLIB era, Graves 2008). ``l2`` may be traced (one
    per stacked model); a Python 0 skips the penalty."""
    if input_noise > 0:
        xs = xs + input_noise * jax.random.normal(key, xs.shape, xs.dtype) * (xs != 0)
    loss = masked_cross_entropy(apply(params, xs, mask)[0], ys, mask)
    if isinstance(l2, (int, float)) and l2 == 0:
        return loss
    return loss + l2 * l2_penalty(params)


def make_steps(apply: Callable, optimizer: optax.GradientTransformation, *, l2: float = 0.0,
               input_noise: float = 0.0):
    """(train_step, eval_step), both jitted.

    train_step(params, opt_state, key, xs, ys, mask) -> (params, opt_state, loss)
    eval_step(params, xs, ys, mask) -> (loss, logits)        # loss without the L2 term
    """
    def loss_fn(params, key, xs, ys, mask):
        return training_loss(apply, params, key, xs, ys, mask, l2=l2, input_noise=input_noise)

    @jax.jit
    def train_step(params, opt_state, key, xs, ys, mask):
        loss, grads = jax.value_and_grad(loss_fn)(params, key, xs, ys, mask)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def eval_step(params, xs, ys, mask):
        logits = apply(params, xs, mask)[0]
        return masked_cross_entropy(logits, ys, mask), logits

    return train_step, eval_step


def make_optimizer(name: str, lr: float, momentum: float = 0.9) -> optax.GradientTransformation:
    """Adam (our stated choice: the paper names none) or SGD with momentum (as RNNLIB trained)."""
    if name == "adam":
        return optax.adam(lr)
    if name == "sgd":
        return optax.sgd(lr, momentum=momentum)
    raise ValueError(f"optimizer {name!r}: use 'adam' or 'sgd'")
