"""Many models in one program: folds, conditions and seeds trained together by `jax.vmap`.

Each of M models has its own data (its fold's training and validation sequences), its own seed,
batch order, L2 weight and early stopping; what they share is the program. Per step the M batches
are stacked to (M, B, T, F) with T the longest bucket among them (padding is masked and never
reaches a valid output), a model whose epoch has no batch left, or which has stopped, gets an
all-masked batch and keeps its parameters and optimiser state unchanged (a `where`), and each model
keeps its best parameters by a `where` on its own validation loss. The stacked axis can be sharded
over devices (`shard_models`). The result equals `emojax.train.fit.fit` run model by model, up to
float summation order (tests check 1e-5), except that Gaussian input noise (``input_noise > 0``) is
drawn for the padded shape, so its draws differ (same distribution).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from emojax.train import batching
from emojax.train.fit import TrainConfig
from emojax.train.step import make_optimizer, masked_cross_entropy, training_loss


def stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree, m: int):
    return [jax.tree.map(lambda x: x[i], tree) for i in range(m)]


def pad_inputs(params, width: int):
    """Zero-pad every first layer's ``w_x`` rows to `width` (extra inputs are zero: no effect)."""
    def pad(layer):
        out = {}
        for d, p in layer.items():
            w = p["w_x"]
            out[d] = {**p, "w_x": jnp.pad(w, ((0, width - w.shape[0]), (0, 0)))}
        return out
    return {**params, "blstm": [pad(params["blstm"][0])] + list(params["blstm"][1:])}


def shard_models(tree, mesh=None):
    """Place the leading (model) axis of every leaf across all devices (a 1-D `Mesh`)."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    mesh = mesh or Mesh(np.array(jax.devices()), ("models",))
    spec = NamedSharding(mesh, PartitionSpec("models"))
    return jax.tree.map(lambda x: jax.device_put(x, spec), tree)


def _make_stacked_steps(apply, cfg: TrainConfig):
    opt = make_optimizer(cfg.optimizer, cfg.lr, cfg.momentum)

    def loss_fn(params, key, xs, ys, mask, l2):
        return training_loss(apply, params, key, xs, ys, mask, l2=l2, input_noise=cfg.input_noise)

    def one(params, opt_state, key, xs, ys, mask, l2, active):
        loss, grads = jax.value_and_grad(loss_fn)(params, key, xs, ys, mask, l2)
        updates, new_state = opt.update(grads, opt_state, params)
        new_params = jax.tree.map(lambda p, u: p + u, params, updates)
        keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
        return (jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_state, opt_state),
                loss)

    def ev(params, xs, ys, mask):
        logits = apply(params, xs, mask)[0]
        ce = masked_cross_entropy(logits, ys, mask) * mask.sum()
        return ce, logits

    return opt, jax.jit(jax.vmap(one)), jax.jit(jax.vmap(ev))


def _stack_batches(per_model, batch_size, width, quantum=16):
    """[[(X, y), ...] or None per model] -> xs (M, B, T, F), ys (M, B, T), mask (M, B, T)."""
    longest = max((len(y) for seqs in per_model if seqs for _, y in seqs), default=1)
    T = batching.bucket_length(longest, quantum)
    M = len(per_model)
    xs = np.zeros((M, batch_size, T, width), np.float32)
    ys = np.zeros((M, batch_size, T), np.int32)
    mask = np.zeros((M, batch_size, T), bool)
    for m, seqs in enumerate(per_model):
        for b, (x, y) in enumerate(seqs or []):
            xs[m, b, :len(y), :x.shape[1]] = x
            ys[m, b, :len(y)] = y
            mask[m, b, :len(y)] = True
    return xs, ys, mask


def evaluate_stacked(ev, params, seq_lists, batch_size, width):
    """Per model: (mean loss over its utterances, [logits (T_i, K) per sequence])."""
    M = len(seq_lists)
    n_batches = max(-(-len(s) // batch_size) for s in seq_lists)
    totals, counts = np.zeros(M), np.zeros(M)
    logits_out = [[] for _ in range(M)]
    for i in range(n_batches):
        chunk = [s[i * batch_size:(i + 1) * batch_size] for s in seq_lists]
        xs, ys, mask = _stack_batches(chunk, batch_size, width)
        ce, logits = ev(params, xs, ys, mask)
        totals += np.asarray(ce)
        counts += mask.sum(axis=(1, 2))
        logits = np.asarray(logits)
        for m, c in enumerate(chunk):
            logits_out[m] += [logits[m, b, :len(y)] for b, (_, y) in enumerate(c)]
    return totals / np.maximum(counts, 1), logits_out


def fit_stacked(apply, init_params: list, cfg: TrainConfig, train: list, val: list, width: int,
                seeds: list[int], l2s: list[float] | None = None, shard: bool = False,
                progress=None):
    """Train M models at once; returns ([best params per model], [info per model]).

    train[m], val[m]: model m's sequences [(X, y), ...]; init_params[m] may have fewer input rows
    than `width` (padded with zeros); seeds[m] fixes model m's batch order and noise keys exactly as
    `fit(..., seed=seeds[m])` would.
    """
    M = len(init_params)
    l2s = np.asarray(l2s if l2s is not None else [cfg.l2] * M, np.float32)
    opt, step, ev = _make_stacked_steps(apply, cfg)
    params = stack([pad_inputs(p, width) for p in init_params])
    opt_state = jax.vmap(opt.init)(params)
    if shard:
        params, opt_state = shard_models(params), shard_models(opt_state)
    rngs = [np.random.default_rng(s) for s in seeds]
    keys = [jax.random.PRNGKey(s) for s in seeds]
    best_loss = np.full(M, np.inf)
    best_epoch = np.zeros(M, int)
    best_params = params
    stopped = np.zeros(M, bool)
    history = [[] for _ in range(M)]
    epochs_run = np.zeros(M, int)
    for epoch in range(cfg.max_epochs):
        orders = [rngs[m].permutation(len(train[m])) for m in range(M)]
        n_steps = max(-(-len(train[m]) // cfg.batch_size) for m in range(M))
        for i in range(n_steps):
            chunk, active, step_keys = [], np.zeros(M, bool), []
            for m in range(M):
                idx = orders[m][i * cfg.batch_size:(i + 1) * cfg.batch_size]
                on = idx.size > 0 and not stopped[m]
                chunk.append([train[m][j] for j in idx] if on else None)
                active[m] = on
                if on:                       # a key per real step, as `fit` splits it
                    keys[m], sub = jax.random.split(keys[m])
                else:
                    sub = keys[m]
                step_keys.append(sub)
            xs, ys, mask = _stack_batches(chunk, cfg.batch_size, width)
            params, opt_state, _ = step(params, opt_state, jnp.stack(step_keys), xs, ys, mask,
                                        jnp.asarray(l2s), jnp.asarray(active))
        val_loss, _ = evaluate_stacked(ev, params, val, cfg.batch_size, width)
        running = ~stopped
        epochs_run[running] += 1
        for m in np.flatnonzero(running):
            history[m].append(round(float(val_loss[m]), 5))
        better = running & (val_loss < best_loss)
        best_loss = np.where(better, val_loss, best_loss)
        best_epoch = np.where(better, epoch, best_epoch)
        sel = jnp.asarray(better)
        best_params = jax.tree.map(
            lambda new, old: jnp.where(sel.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
            params, best_params)
        stopped |= running & (epoch - best_epoch >= cfg.patience)
        if progress is not None:
            progress.set_postfix(epoch=epoch, running=int((~stopped).sum()))
        if stopped.all():
            break
    infos = [{"best_epoch": int(best_epoch[m]), "epochs": int(epochs_run[m]),
              "val_loss": float(best_loss[m]), "history": history[m], "l2": float(l2s[m])}
             for m in range(M)]
    return best_params, infos, ev


def config_for_stacking(cfg: TrainConfig) -> TrainConfig:
    """Stacked training needs one L2 per model, not a grid (a grid is more stacked models)."""
    return dataclasses.replace(cfg, l2_grid=())
