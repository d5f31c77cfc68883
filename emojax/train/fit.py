"""The one training engine: M models trained together, each with its own data, seed, L2 and early
stopping; M = 1 is fold-by-fold training.

Each model has its own items (its fold's training and validation sequences, `emojax.data.batching`),
its own batch order and noise keys (fixed by its seed), its own L2 weight, and keeps its best
parameters by validation loss. With M > 1 the models share one program: per step their batches
are stacked to (M, B, T, ...) at the longest bucket among them, a model whose epoch has no batch
left (or which has stopped) gets an all-masked batch and keeps its parameters and optimiser state
(a `where`), and the model axis can be sharded over devices. With M = 1 the program is the plain
jitted step of `emojax.train.step.make_steps` (no model axis, L2 a constant), so fold-by-fold runs
pay nothing for the generality. M > 1 equals M = 1 model by model up to float summation order
(tests check 1e-5), except that Gaussian input noise (``input_noise > 0``) is drawn for the padded
shape, so its draws differ (same distribution).
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from emojax.data import batching
from emojax.parallel import gather
from emojax.train.step import eval_step, make_optimizer, make_steps, update_step


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The optimiser's settings (the model's own are the model module's `ModelConfig`)."""
    optimizer: str = "adam"    # the paper names no optimiser; Adam is ours, "sgd" (momentum) as RNNLIB
    lr: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 8        # sequences per batch
    max_epochs: int = 100
    patience: int = 10         # epochs without a better validation loss before stopping
    # L2 on weight matrices (the paper names no regulariser). 0.01 had the lowest validation loss of
    # {0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2} (valence, folds 0-2, validation speakers only); l2_grid
    # re-selects it per fold instead.
    l2: float = 0.01
    # if given: one model per value, trained together (stacked, so equal to separate runs up to
    # float summation order); the best validation loss wins
    l2_grid: tuple[float, ...] = ()
    input_noise: float = 0.0
    # Frame-level models: batches of similar length (sorted by length, then the batches shuffled),
    # so a batch pads little; and time padded to a multiple of `quantum` steps (one compiled step
    # per multiple). The utterance-level defaults (random batches, 16) keep earlier runs' numbers.
    by_length: bool = False
    quantum: int = 16

    def __post_init__(self):
        from emojax.config import check
        check("train.optimizer", self.optimizer, choices=("adam", "sgd", "adadelta"))
        check("train.lr", self.lr, positive=True)
        check("train.momentum", self.momentum, at_least=0.0, below=1.0)
        check("train.batch_size", self.batch_size, at_least=1)
        check("train.max_epochs", self.max_epochs, at_least=1)
        check("train.patience", self.patience, at_least=0)
        check("train.l2", self.l2, at_least=0.0)
        for v in self.l2_grid:
            check("train.l2_grid", v, at_least=0.0)
        check("train.input_noise", self.input_noise, at_least=0.0)
        check("train.quantum", self.quantum, at_least=1)


def epoch_order(rng: np.random.Generator, lengths: np.ndarray, batch_size: int,
                by_length: bool) -> np.ndarray:
    """The order in which one epoch visits the items: a random permutation; with `by_length`
    that permutation sorted by length (ties stay random), cut into batches, the full batches
    shuffled (a short last batch stays last, so batch i is still items [i·B, (i+1)·B))."""
    perm = rng.permutation(len(lengths))
    if not by_length:
        return perm
    srt = perm[np.argsort(np.asarray(lengths)[perm], kind="stable")]
    full = len(srt) // batch_size
    chunks = [srt[i * batch_size:(i + 1) * batch_size] for i in range(full)]
    rest = srt[full * batch_size:]
    return np.concatenate([chunks[j] for j in rng.permutation(full)] + [rest])


def stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree, m: int):
    return [jax.tree.map(lambda x: x[i], tree) for i in range(m)]


def shard_models(tree, mesh=None):
    """Place the leading (model) axis of every leaf across all devices (a 1-D `Mesh`), those of
    every process in a multi-process run (`emojax.parallel`); the axis must divide evenly."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    mesh = mesh or Mesh(np.array(jax.devices()), ("models",))
    spec = NamedSharding(mesh, PartitionSpec("models"))
    return jax.tree.map(lambda x: jax.device_put(np.asarray(x), spec), tree)


@jax.jit
def _keep_better(better, new, old):
    """Per model: the new parameters where `better`, else the old (one program, any sharding)."""
    return jax.tree.map(
        lambda n, o: jnp.where(better.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), new, old)


@partial(jax.jit, static_argnums=1)
def _chain(key, n: int):
    def one(k, _):
        k, sub = jax.random.split(k)
        return k, (k, sub)
    return jax.lax.scan(one, key, None, length=n)[1]


def split_chain(key, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` steps of ``key, sub = jax.random.split(key)``: (the key after them, the n subs
    (n, 2)) as host arrays, with the bits of that loop (tested) in one device call instead of 2n;
    the chain runs to a multiple of 16 links (few compiles) and the extra ones are dropped."""
    if n == 0:
        return key, None
    ks, subs = (np.asarray(a) for a in _chain(jnp.asarray(key), -(-n // 16) * 16))
    return ks[n - 1], subs[:n]


_PROGRAMS: dict = {}


def programs(apply: Callable, loss_fn: Callable, cfg: TrainConfig, stacked: bool):
    """(optimizer, train step, eval step), compiled once per model, loss and optimiser settings:
    folds and tasks reuse them. Stacked: ``step(params, opt, keys, batch, l2s, active)`` over a
    leading model axis; single: ``step(params, opt, key, batch)`` with ``cfg.l2`` built in."""
    key = (apply, loss_fn, cfg.optimizer, cfg.lr, cfg.momentum, cfg.input_noise,
           None if stacked else cfg.l2)
    if key not in _PROGRAMS:
        opt = make_optimizer(cfg.optimizer, cfg.lr, cfg.momentum)
        if stacked:
            one = update_step(apply, loss_fn, opt, input_noise=cfg.input_noise)
            _PROGRAMS[key] = (opt, jax.jit(jax.vmap(one)), jax.jit(jax.vmap(eval_step(apply, loss_fn))))
        else:
            _PROGRAMS[key] = (opt, *make_steps(apply, loss_fn, opt, l2=cfg.l2,
                                               input_noise=cfg.input_noise))
    return _PROGRAMS[key]


def evaluate(apply: Callable, loss_fn: Callable, cfg: TrainConfig, params, item_lists: list,
             width: int, stacked: bool | None = None):
    """Per model: (mean loss over its labelled units, [outputs of each item, unpadded]).

    `params` is one model's pytree (M = 1) or the models stacked on a leading axis.
    """
    M = len(item_lists)
    stacked = M > 1 if stacked is None else stacked
    _, _, ev = programs(apply, loss_fn, cfg, stacked)
    B, q = cfg.batch_size, cfg.quantum
    totals, counts = np.zeros(M), np.zeros(M)
    outputs = [[] for _ in range(M)]
    # by_length: evaluate in length order (little padding), outputs returned in the given order
    orders = [np.argsort([len(it["x"]) for it in items], kind="stable") if cfg.by_length
              else np.arange(len(items)) for items in item_lists]
    item_lists = [[items[j] for j in o] for items, o in zip(item_lists, orders)]
    n_batches = max(-(-len(items) // B) for items in item_lists)
    for i in range(n_batches):
        chunk = [items[i * B:(i + 1) * B] for items in item_lists]
        if stacked:
            loss, weight, out = ev(params, batching.stack_batches(chunk, B, width, q))
        else:                                       # on the host: no device op per batch
            loss, weight, out = ev(params, batching.pad_batch(chunk[0], B, width, q))
            loss, weight, out = (np.asarray(v)[None] for v in (loss, weight, out))
        loss, weight, out = gather((loss, weight, out))      # numpy, also from other processes
        loss, weight = np.asarray(loss, np.float64), np.asarray(weight, np.float64)
        per_step = out.ndim >= 4                   # (M, B, T, K) per step; (M, B, K) per sequence
        for m, items in enumerate(chunk):
            if items:
                totals[m] += float(loss[m]) * weight[m]
                counts[m] += weight[m]
            outputs[m] += [out[m, b, :len(it["x"])] if per_step else out[m, b]
                           for b, it in enumerate(items)]
    restored = []
    for o, outs in zip(orders, outputs):
        back = [None] * len(outs)
        for pos, j in enumerate(o):
            back[j] = outs[pos]
        restored.append(back)
    return totals / np.maximum(counts, 1e-12), restored


def fit(apply: Callable, loss_fn: Callable, inits: list, cfg: TrainConfig, train: list, val: list,
        width: int, seeds: list[int], *, l2s: list[float] | None = None, shard: bool = False,
        progress=None) -> tuple[list, list[dict]]:
    """Train M = len(inits) models; returns ([best params per model], [info per model]).

    train[m], val[m]: model m's items; every init must already take `width` inputs (a model
    module pads its own layout with its `pad_inputs`); seeds[m] fixes model
    m's batch order and noise keys; l2s[m] its L2 weight (default ``cfg.l2``). Early stopping on
    each model's validation loss (patience ``cfg.patience``); info holds best_epoch, epochs,
    val_loss, history (validation loss per epoch) and l2.
    """
    M = len(inits)
    l2s = [float(v) for v in (l2s if l2s is not None else [cfg.l2] * M)]
    stacked = M > 1
    if shard and stacked and M % jax.device_count():
        # the model axis must divide over the devices: train copies of the last model alongside
        # (their results are dropped), rather than leave devices idle or refuse
        extra = jax.device_count() - M % jax.device_count()
        params, infos = fit(apply, loss_fn, inits + inits[-1:] * extra, cfg, train + train[-1:] * extra,
                            val + val[-1:] * extra, width, seeds + seeds[-1:] * extra,
                            l2s=l2s + l2s[-1:] * extra, shard=True, progress=progress)
        return params[:M], infos[:M]
    if not stacked and l2s[0] != cfg.l2:
        cfg = dataclasses.replace(cfg, l2=l2s[0])
    opt, step, _ = programs(apply, loss_fn, cfg, stacked)
    params = stack(inits) if stacked else inits[0]
    opt_state = jax.vmap(opt.init)(params) if stacked else opt.init(params)
    if shard and stacked:
        params, opt_state = shard_models(params), shard_models(opt_state)
    rngs = [np.random.default_rng(s) for s in seeds]
    keys = [jax.random.PRNGKey(s) for s in seeds]
    best_loss, best_epoch = np.full(M, np.inf), np.zeros(M, int)
    best_params = params
    stopped = np.zeros(M, bool)
    history = [[] for _ in range(M)]
    epochs_run = np.zeros(M, int)
    B, q = cfg.batch_size, cfg.quantum
    lengths = [np.array([len(it["x"]) for it in items]) for items in train]
    for epoch in range(cfg.max_epochs):
        orders = [epoch_order(rngs[m], lengths[m], B, cfg.by_length) for m in range(M)]
        # a key per real step of each model, split in a chain as ever (one device call per epoch)
        subs = []
        for m in range(M):
            n = 0 if stopped[m] else -(-len(train[m]) // B)
            keys[m], sub = split_chain(keys[m], n)
            subs.append(sub)
        for i in range(max(-(-len(train[m]) // B) for m in range(M))):
            chunk, active, step_keys = [], np.zeros(M, bool), []
            for m in range(M):
                idx = orders[m][i * B:(i + 1) * B]
                active[m] = idx.size > 0 and not stopped[m]
                chunk.append([train[m][j] for j in idx] if active[m] else None)
                step_keys.append(subs[m][i] if active[m] else keys[m])
            if stacked:
                # host arrays: with models spread over processes, jit places them itself
                params, opt_state, _ = step(params, opt_state, np.stack(step_keys),
                                            batching.stack_batches(chunk, B, width, q),
                                            np.asarray(l2s, np.float32), active)
            else:
                params, opt_state, _ = step(params, opt_state, step_keys[0],
                                            batching.pad_batch(chunk[0], B, width, q))
        val_loss, _ = evaluate(apply, loss_fn, cfg, params, val, width, stacked)
        running = ~stopped
        epochs_run[running] += 1
        for m in np.flatnonzero(running):
            history[m].append(round(float(val_loss[m]), 5))
        better = running & (val_loss < best_loss)
        best_loss = np.where(better, val_loss, best_loss)
        best_epoch = np.where(better, epoch, best_epoch)
        if stacked:
            best_params = _keep_better(better, params, best_params)
        elif better[0]:
            best_params = params
        stopped |= running & (epoch - best_epoch >= cfg.patience)
        if progress is not None:
            progress.set_postfix(epoch=epoch, val_loss=f"{float(val_loss.min()):.3f}",
                                 running=int((~stopped).sum()))
        if stopped.all():
            break
    infos = [{"best_epoch": int(best_epoch[m]), "epochs": int(epochs_run[m]),
              "val_loss": float(best_loss[m]), "history": history[m], "l2": l2s[m]}
             for m in range(M)]
    return (unstack(gather(best_params), M) if stacked else [best_params]), infos


def fit_select_l2(apply: Callable, loss_fn: Callable, init, cfg: TrainConfig, train: list,
                  val: list, width: int, seed: int, progress=None) -> tuple[dict, dict]:
    """One model per value of ``cfg.l2_grid`` (or one with ``cfg.l2``), trained together; the one
    with the lowest validation loss is kept. info: its fit info, the chosen l2 and every value's
    validation loss (``l2_tried``)."""
    grid = [float(v) for v in (cfg.l2_grid or (cfg.l2,))]
    M = len(grid)
    params, infos = fit(apply, loss_fn, [init] * M, cfg, [train] * M, [val] * M, width,
                        [seed] * M, l2s=grid, progress=progress)
    best = int(np.argmin([i["val_loss"] for i in infos]))
    tried = {str(v): round(i["val_loss"], 5) for v, i in zip(grid, infos)}
    return params[best], {**infos[best], "l2_tried": tried}
