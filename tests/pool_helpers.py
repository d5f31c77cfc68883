"""Module-level pieces for `emojax.experiments.pool`'s tests: a worker imports them by name."""
import hashlib
import os


def doubler(fail_on: str | None = None, die_on: str | None = None, disk_full_on: str | None = None):
    """compute(keys) -> (key, {"double", "pid", "cores"}); a ValueError at `fail_on`, an OSError
    at `disk_full_on`, a hard exit (as if killed) at `die_on`."""
    def compute(keys, bar):
        for key in keys:
            if key == fail_on:
                raise ValueError(f"piece {key}: bad value 'x' in row 3")
            if key == disk_full_on:
                raise OSError(28, "No space left on device", f"/tmp/run/pieces/{key}.json")
            if key == die_on:
                os._exit(9)
            yield key, {"double": 2 * int(key), "pid": os.getpid(),
                        "cores": sorted(os.sched_getaffinity(0))}
    return compute


def trainer():
    """compute(keys) -> (key, sha256 of the parameters after 12 Adam steps of the utterance-level
    BLSTM at the Wöllmer run's shape, batch 8 × 48 steps × 48 inputs, 128 cells; data from the
    key as seed). At this shape XLA's thread count changes the float sums (`pool` module doc)."""
    import jax
    import numpy as np

    from emojax.data import batching
    from emojax.models import woellmer as model
    from emojax.train.fit import TrainConfig, programs
    from emojax.train.losses import step_cross_entropy
    opt, step, _ = programs(model.apply, step_cross_entropy, TrainConfig(), False)

    def compute(keys, bar):
        for key in keys:
            rng = np.random.default_rng(int(key))
            items = [{"x": rng.normal(size=(int(rng.integers(30, 46)), 48)).astype(np.float32),
                      "y_step": rng.integers(0, 3, 46)} for _ in range(8)]
            for it in items:
                it["y_step"] = it["y_step"][:len(it["x"])]
            params = model.init(jax.random.PRNGKey(int(key)), 48, 3, forget_bias=0.0)
            state = opt.init(params)
            for i in range(12):
                batch = batching.pad_batch(items[i % 2::2] + items[(i + 1) % 2::2], 8, 48, 16)
                params, state, _ = step(params, state, jax.random.PRNGKey(i), batch)
            h = hashlib.sha256()
            for leaf in jax.tree.leaves(params):
                h.update(np.asarray(leaf).tobytes())
            yield key, h.hexdigest()
    return compute


def sleeper(pid_dir: str):
    """compute(keys): writes the worker's pid to ``pid_dir/KEY`` and sleeps a minute per key."""
    def compute(keys, bar):
        import time
        for key in keys:
            with open(os.path.join(pid_dir, key), "w") as f:
                f.write(str(os.getpid()))
            time.sleep(60)
            yield key, {}
    return compute
