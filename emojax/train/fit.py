"""The fit loop: epochs over padded batches, early stopping on validation loss, best parameters kept."""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from emojax.train import batching
from emojax.train.step import make_optimizer, make_steps


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    hidden: int = 128          # Wöllmer 2012 §5.1: 128 memory blocks per direction, one cell each
    layers: int = 1
    # Initial forget-gate bias: it shapes the learned memory span (see results/woellmer2012/README).
    # 0 as in RNNLIB, which initialises every weight and bias uniformly around 0; on validation loss
    # (valence, folds 0-2) 0 beat 1 and 2: 0.6685 / 0.6814 / 0.6983.
    forget_bias: float = 0.0
    peephole: bool = False
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
    l2_grid: tuple[float, ...] = ()   # if given: one model per value, the best validation loss wins
    input_noise: float = 0.0


_STEPS = {}


def _steps(apply, cfg: TrainConfig):
    """Compiled steps, cached per (model, optimiser settings): folds and tasks reuse them."""
    key = (apply, cfg.optimizer, cfg.lr, cfg.momentum, cfg.l2, cfg.input_noise)
    if key not in _STEPS:
        _STEPS[key] = make_steps(apply, make_optimizer(cfg.optimizer, cfg.lr, cfg.momentum),
                                 l2=cfg.l2, input_noise=cfg.input_noise)
    return _STEPS[key]


def evaluate(apply, cfg, params, seqs, width):
    """(mean validation loss over utterances, [logits (T_i, K) per sequence])."""
    _, eval_step = _steps(apply, cfg)
    total, count, out = 0.0, 0, []
    for i in range(0, len(seqs), cfg.batch_size):
        chunk = seqs[i:i + cfg.batch_size]
        xs, ys, mask = batching.pad_batch(chunk, cfg.batch_size, width)
        loss, logits = eval_step(params, xs, ys, mask)
        n = int(mask.sum())
        total, count = total + float(loss) * n, count + n
        logits = np.asarray(logits)
        out += [logits[b, :len(y)] for b, (_, y) in enumerate(chunk)]
    return total / max(count, 1), out


def fit_select_l2(apply, init_params, cfg: TrainConfig, train, val, width: int, seed: int,
                  progress=None) -> tuple[dict, dict]:
    """`fit` once per value of ``cfg.l2_grid`` (or once with ``cfg.l2``); keep the model with the
    lowest validation cross-entropy. The chosen value and every candidate's loss go into info."""
    grid = cfg.l2_grid or (cfg.l2,)
    best = None
    tried = {}
    for l2 in grid:
        params, info = fit(apply, init_params, dataclasses.replace(cfg, l2=float(l2), l2_grid=()),
                           train, val, width, seed, progress)
        tried[str(l2)] = round(info["val_loss"], 5)
        if best is None or info["val_loss"] < best[1]["val_loss"]:
            best = (params, {**info, "l2": float(l2)})
    return best[0], {**best[1], "l2_tried": tried}


def fit(apply, init_params, cfg: TrainConfig, train, val, width: int, seed: int,
        progress=None) -> tuple[dict, dict]:
    """Train on `train` sequences [(X, y), ...], early-stop on `val`; return (best params, info)."""
    train_step, _ = _steps(apply, cfg)
    opt = make_optimizer(cfg.optimizer, cfg.lr, cfg.momentum)
    params, opt_state = init_params, opt.init(init_params)
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    best = (np.inf, params, 0)
    history = []
    for epoch in range(cfg.max_epochs):
        for xs, ys, mask in batching.batches(train, cfg.batch_size, width, rng):
            key, sub = jax.random.split(key)
            params, opt_state, _ = train_step(params, opt_state, sub, xs, ys, mask)
        val_loss, _ = evaluate(apply, cfg, params, val, width)
        history.append(round(val_loss, 5))
        if val_loss < best[0]:
            best = (val_loss, params, epoch)
        if progress is not None:
            progress.set_postfix(epoch=epoch, val_loss=f"{val_loss:.3f}", best=best[2])
        if epoch - best[2] >= cfg.patience:
            break
    return best[1], {"best_epoch": best[2], "epochs": len(history), "val_loss": best[0],
                     "history": history}
