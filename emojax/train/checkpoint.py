"""Orbax checkpoints of parameter pytrees (one directory per trained model)."""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np


def save_params(path: Path, params) -> None:
    """Write `params` to `path` (overwriting a stale partial one); numpy leaves on the host."""
    import orbax.checkpoint as ocp
    path = Path(path).absolute()
    ckpt = ocp.StandardCheckpointer()
    ckpt.save(path, jax.tree.map(np.asarray, params), force=True)
    ckpt.wait_until_finished()


def load_params(path: Path, like=None):
    """Read parameters saved by `save_params`; `like` (a pytree of the same structure) fixes types."""
    import orbax.checkpoint as ocp
    path = Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint here")
    ckpt = ocp.StandardCheckpointer()
    return ckpt.restore(path, like) if like is not None else ckpt.restore(path)
