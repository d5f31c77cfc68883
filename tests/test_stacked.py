"""Many models in one program equal the same models trained one by one; sharding changes nothing."""
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from emojax.models import woellmer as model
from emojax.train.fit import TrainConfig, fit
from emojax.train.stacked import fit_stacked, unstack

# input_noise=0: noise draws depend on the padded shape, so only the noiseless path is bit-comparable
CFG = TrainConfig(hidden=8, max_epochs=5, patience=2, batch_size=3, l2=0.01)


def toy_data(seed, n_seqs, F, K=3):
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_seqs):
        T = int(rng.integers(3, 20))
        x = rng.normal(size=(T, F)).astype(np.float32)
        seqs.append((x, (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 1)))
    return seqs


def test_stacked_equals_one_by_one():
    widths, seeds = [4, 6, 5], [3, 11, 7]
    trains = [toy_data(s, 7 + i, w) for i, (s, w) in enumerate(zip(seeds, widths))]
    vals = [toy_data(s + 100, 3, w) for s, w in zip(seeds, widths)]
    inits = [model.init(jax.random.PRNGKey(s), w, 3, hidden=8) for s, w in zip(seeds, widths)]
    best, infos, _ = fit_stacked(model.apply, inits, CFG, trains, vals, 16, seeds)
    for m, p in enumerate(unstack(best, 3)):
        ref, info = fit(model.apply, inits[m], CFG, trains[m], vals[m], widths[m], seeds[m])
        assert info["best_epoch"] == infos[m]["best_epoch"] and info["epochs"] == infos[m]["epochs"]
        np.testing.assert_allclose(info["val_loss"], infos[m]["val_loss"], rtol=1e-5)
        w = widths[m]
        np.testing.assert_allclose(p["blstm"][0]["fwd"]["w_x"][:w], ref["blstm"][0]["fwd"]["w_x"],
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(p["blstm"][0]["fwd"]["w_x"][w:], 0.0)   # padding untouched
        np.testing.assert_allclose(p["out"]["w"], ref["out"]["w"], rtol=1e-4, atol=1e-5)


def test_batched_reproduction_equals_fold_by_fold(tmp_path):
    from emojax import config as C
    from emojax.experiments import woellmer2012 as W
    base = C.override(W.Config(), {**W.QUICK, "tasks": ["valence3"], "analysis": False,
                                   "classifiers": ["blstm", "blstm_shuffled"]})
    a = W.run(base, tmp_path / "loop", progress=False)
    b = W.run(C.override(base, {"batched": True}), tmp_path / "batched", progress=False)
    for ra, rb in zip(a["records"], b["records"]):
        assert (ra["task"], ra["classifier"], ra["metric"]) == (rb["task"], rb["classifier"], rb["metric"])
        np.testing.assert_allclose(ra["folds"], rb["folds"], atol=1e-5)


@pytest.mark.skipif(sys.platform == "win32", reason="subprocess env")
def test_eight_simulated_devices_equal_one(tmp_path):
    code = textwrap.dedent("""
        import jax, numpy as np, sys
        sys.path.insert(0, %r)
        from test_stacked import CFG, toy_data
        from emojax.models import woellmer as model
        from emojax.train.stacked import fit_stacked
        assert jax.device_count() == 8, jax.devices()
        seeds = list(range(8))
        trains = [toy_data(s, 5, 4) for s in seeds]
        vals = [toy_data(s + 50, 2, 4) for s in seeds]
        inits = [model.init(jax.random.PRNGKey(s), 4, 3, hidden=8) for s in seeds]
        one, _, _ = fit_stacked(model.apply, inits, CFG, trains, vals, 16, seeds, shard=False)
        many, _, _ = fit_stacked(model.apply, inits, CFG, trains, vals, 16, seeds, shard=True)
        assert len(many["out"]["w"].sharding.device_set) == 8
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        print("ok")
    """ % os.path.dirname(__file__))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]
