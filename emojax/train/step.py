"""Pure, jit-compiled train and eval steps for any model and any loss.

A model maps a padded batch ``x (B, T, F), mask (B, T)`` to ``(outputs, aux)`` and one sequence
(no leading axis) likewise; a model with dropout also takes ``key=`` (a PRNG key while training,
None when evaluating: `takes_key`); emojax's models take any leading axes (`emojax.nn.lstm`), so a batch is
one program with B sequences in each recurrent matmul, not a vmap of one sequence. A loss
(`emojax.train.losses`) maps ``(outputs, batch) -> (mean, weight)``.
"""
from __future__ import annotations

import inspect
from typing import Callable

import jax
import jax.numpy as jnp
import optax


def l2_penalty(params) -> jax.Array:
    """Σ w² over weight matrices (ndim >= 2); biases and peepholes are not decayed."""
    return sum(jnp.sum(p ** 2) for p in jax.tree.leaves(params) if p.ndim >= 2)


def takes_key(apply: Callable) -> bool:
    """Whether the model takes a ``key=`` argument (dropout): it then gets one while training."""
    try:
        return "key" in inspect.signature(apply).parameters
    except (TypeError, ValueError):
        return False


def training_loss(apply: Callable, loss_fn: Callable, params, key, batch: dict, *, l2=0.0,
                  input_noise: float = 0.0):
    """``loss_fn``'s mean over the batch + ``l2 · Σ w²``, with optional Gaussian input noise on the
    non-zero inputs (a regulariser of the RNNLIB era, Graves 2008). ``l2`` may be traced (one per
    stacked model); a Python 0 skips the penalty. A model that `takes_key` gets
    ``fold_in(key, 1)`` for its dropout (the noise keeps `key` itself, as before)."""
    xs = batch["x"]
    if input_noise > 0:
        xs = xs + input_noise * jax.random.normal(key, xs.shape, xs.dtype) * (xs != 0)
    extra = {"key": jax.random.fold_in(key, 1)} if takes_key(apply) else {}
    loss = loss_fn(apply(params, xs, batch["mask"], **extra)[0], batch)[0]
    if isinstance(l2, (int, float)) and l2 == 0:
        return loss
    return loss + l2 * l2_penalty(params)


def update_step(apply: Callable, loss_fn: Callable, optimizer: optax.GradientTransformation, *,
                input_noise: float = 0.0):
    """The un-jitted step of one model: ``(params, opt_state, key, batch, l2, active) ->
    (params, opt_state, loss)``; with ``active`` False nothing changes (a stacked model at rest)."""
    def step(params, opt_state, key, batch, l2, active):
        loss, grads = jax.value_and_grad(
            lambda p: training_loss(apply, loss_fn, p, key, batch, l2=l2, input_noise=input_noise)
        )(params)
        updates, new_state = optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
        return jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_state, opt_state), loss
    return step


def eval_step(apply: Callable, loss_fn: Callable):
    """The un-jitted evaluation of one model: ``(params, batch) -> (loss, weight, outputs)``."""
    def step(params, batch):
        outputs = apply(params, batch["x"], batch["mask"])[0]
        loss, weight = loss_fn(outputs, batch)
        return loss, weight, outputs
    return step


def make_steps(apply: Callable, loss_fn: Callable, optimizer: optax.GradientTransformation, *,
               l2: float = 0.0, input_noise: float = 0.0):
    """(train_step, eval_step) of one model, both jitted.

    train_step(params, opt_state, key, batch) -> (params, opt_state, loss)
    eval_step(params, batch) -> (loss, weight, outputs)        # loss without the L2 term
    """
    from emojax.nn.lstm import train_kernel, use_kernel
    kernel = train_kernel()                       # e.g. cuDNN on a CUDA GPU (emojax.nn.lstm.blstm)

    def model(*args, **kw):                      # the model traced with that kernel
        with use_kernel(kernel):
            return apply(*args, **kw)
    try:
        model.__signature__ = inspect.signature(apply)      # `takes_key` reads it
    except (TypeError, ValueError):                         # not introspectable: no key, as before
        model.__signature__ = inspect.signature(lambda params, xs, mask: None)
    one = update_step(model, loss_fn, optimizer, input_noise=input_noise)

    @jax.jit
    def train_step(params, opt_state, key, batch):
        return one(params, opt_state, key, batch, l2, True)

    return train_step, jax.jit(eval_step(model, loss_fn))


def make_optimizer(name: str, lr: float, momentum: float = 0.9) -> optax.GradientTransformation:
    """Adam (our stated choice where a paper names none), SGD with momentum (as RNNLIB trained) or
    Adadelta (Keras' settings; Tripathi et al. 2019's LSTMs, with ``lr`` 1.0 as Keras' default)."""
    if name == "adam":
        return optax.adam(lr)
    if name == "sgd":
        return optax.sgd(lr, momentum=momentum)
    if name == "adadelta":                     # Keras' Adadelta (Tripathi 2019): rho 0.95, eps 1e-7
        return optax.adadelta(lr, rho=0.95, eps=1e-7)
    raise ValueError(f"optimizer {name!r}: use 'adam', 'sgd' or 'adadelta'")
