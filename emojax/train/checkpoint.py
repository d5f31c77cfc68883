"""Orbax checkpoints of parameter pytrees (one directory per trained model), written synchronously.

The synchronous `orbax.checkpoint.Checkpointer` is used on purpose: an async save that fails (a
read-only or full disk) fails in a background thread, and a process can then hang at exit. Here a
failed save raises `OSError` naming the path, in the caller's thread, before the run goes on.

In a run of several processes (`emojax.parallel`) every process holds the same host parameters;
process 0 alone writes them, and each process reads on its own (no cross-process barrier).
"""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np


def _checkpointer():
    import orbax.checkpoint as ocp

    from emojax import parallel
    if parallel.count() == 1:
        return ocp.Checkpointer(ocp.StandardCheckpointHandler())
    me = jax.process_index()
    alone = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
    return ocp.Checkpointer(ocp.StandardCheckpointHandler(multiprocessing_options=alone),
                            multiprocessing_options=alone)


def save_params(path: Path, params) -> None:
    """Write `params` to `path` (replacing an earlier or partial one); numpy leaves on the host.
    Processes other than 0 of a multi-process run write nothing."""
    from emojax import parallel
    if not parallel.is_main():
        return
    path = Path(path).absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _checkpointer().save(path, jax.tree.map(np.asarray, params), force=True)
    except OSError:
        raise
    except Exception as e:                       # orbax / tensorstore wrap the OS error
        raise OSError(f"{path}: could not write the checkpoint ({e.__class__.__name__}: "
                      f"{str(e).splitlines()[0] if str(e) else ''})") from None


def load_params(path: Path, like=None):
    """Read parameters saved by `save_params`; `like` (a pytree of the same structure) fixes types.

    A missing checkpoint raises FileNotFoundError; an unreadable one (truncated, emptied metadata)
    one ValueError naming the path.
    """
    import orbax.checkpoint as ocp
    path = Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint here")
    try:
        if like is not None:
            like = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return _checkpointer().restore(path, like)
    except Exception as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        raise ValueError(f"{path}: unreadable checkpoint ({e.__class__.__name__}: {first}); "
                         "delete it and rerun the same command to recompute it") from None
