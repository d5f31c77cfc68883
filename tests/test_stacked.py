"""The one engine: many models in one program equal the same models trained one by one (M = 1);
sharding changes nothing; batches are dicts and the loss is a parameter."""
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from emojax.models import woellmer as model
from emojax.train.fit import TrainConfig, fit
from emojax.train.losses import step_cross_entropy as CE

# input_noise=0: noise draws depend on the padded shape, so only the noiseless path is bit-comparable
CFG = TrainConfig(max_epochs=5, patience=2, batch_size=3, l2=0.01)


def toy_data(seed, n_seqs, F, K=3):
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_seqs):
        T = int(rng.integers(3, 20))
        x = rng.normal(size=(T, F)).astype(np.float32)
        seqs.append({"x": x, "y_step": (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 1)})
    return seqs


def test_stacked_equals_one_by_one():
    widths, seeds = [4, 6, 5], [3, 11, 7]
    trains = [toy_data(s, 7 + i, w) for i, (s, w) in enumerate(zip(seeds, widths))]
    vals = [toy_data(s + 100, 3, w) for s, w in zip(seeds, widths)]
    inits = [model.init(jax.random.PRNGKey(s), w, 3, hidden=8) for s, w in zip(seeds, widths)]
    best, infos = fit(model.apply, CE, [model.pad_inputs(p, 16) for p in inits], CFG, trains, vals,
                      16, seeds)
    for m, p in enumerate(best):
        (ref,), (info,) = fit(model.apply, CE, [inits[m]], CFG, [trains[m]], [vals[m]], widths[m],
                              [seeds[m]])
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
    base = C.override(W.Config(), {**W.QUICK, "tasks": ["valence3"], "analysis.enabled": False,
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
        from emojax.train.fit import fit
        from emojax.train.losses import step_cross_entropy as CE
        assert jax.device_count() == 8, jax.devices()
        seeds = list(range(8))
        trains = [toy_data(s, 5, 4) for s in seeds]
        vals = [toy_data(s + 50, 2, 4) for s in seeds]
        inits = [model.init(jax.random.PRNGKey(s), 4, 3, hidden=8) for s in seeds]
        import emojax.train.fit as F
        placed, shard_models = [], F.shard_models
        def spy(tree, mesh=None):              # the trained models come back as host arrays
            out = shard_models(tree, mesh)
            placed.append(len(jax.tree.leaves(out)[0].sharding.device_set))
            return out
        F.shard_models = spy
        one, _ = fit(model.apply, CE, inits, CFG, trains, vals, 4, seeds, shard=False)
        many, _ = fit(model.apply, CE, inits, CFG, trains, vals, 4, seeds, shard=True)
        assert placed == [8, 8], placed        # parameters and optimiser state over 8 devices
        # 5 models over 8 devices: padded with copies of the last, which are dropped
        five, _ = fit(model.apply, CE, inits[:5], CFG, trains[:5], vals[:5], 4, seeds[:5], shard=True)
        assert len(five) == 5
        for a, b in zip(jax.tree.leaves(one[:5]), jax.tree.leaves(five)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        print("ok")
    """ % os.path.dirname(__file__))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


def test_one_model_is_the_plain_jitted_step():
    """M = 1 runs `make_steps`' program: the same parameters as a hand-written loop over it."""
    import optax

    from emojax.data.batching import batches
    from emojax.train.step import make_steps
    train, val = toy_data(1, 6, 4), toy_data(2, 2, 4)
    init = model.init(jax.random.PRNGKey(0), 4, 3, hidden=8)
    cfg = TrainConfig(max_epochs=2, patience=5, batch_size=3, l2=0.01)
    (got,), (info,) = fit(model.apply, CE, [init], cfg, [train], [val], 4, [5])
    step, _ = make_steps(model.apply, CE, optax.adam(cfg.lr), l2=cfg.l2)
    params, state = init, optax.adam(cfg.lr).init(init)
    rng, key = np.random.default_rng(5), jax.random.PRNGKey(5)
    best = None
    from emojax.train.fit import evaluate
    for epoch in range(2):
        for b in batches(train, 3, 4, rng):
            key, sub = jax.random.split(key)
            params, state, _ = step(params, state, sub, b)
        loss = evaluate(model.apply, CE, cfg, params, [val], 4)[0][0]
        if best is None or loss < best[0]:
            best = (loss, params)
    assert info["val_loss"] == best[0]
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(best[1])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sequence_level_loss_trains_a_pooled_model():
    """A loss over one label per sequence, with class weights, through the same engine."""
    from emojax.models import pooled
    from emojax.train.losses import class_weights, seq_cross_entropy

    rng = np.random.default_rng(0)
    def data(n):
        out = []
        for _ in range(n):
            y = int(rng.integers(0, 2))
            out.append({"x": rng.normal(y * 1.5, 1.0, size=(int(rng.integers(4, 12)), 3)).astype(np.float32),
                        "y_seq": y})
        return out
    train, val = data(40), data(12)
    w = class_weights([it["y_seq"] for it in train], 2)
    loss = lambda out, batch: seq_cross_entropy(out, batch, class_weights=w)  # noqa: E731
    init = pooled.init(jax.random.PRNGKey(0), 3, 2, hidden=8)
    cfg = TrainConfig(max_epochs=15, patience=15, batch_size=8, l2=0.0, lr=1e-2)
    (params,), (info,) = fit(pooled.apply, loss, [init], cfg, [train], [val], 3, [0])
    assert info["history"][-1] < info["history"][0]          # it learns
    from emojax.train.fit import evaluate
    _, (outs,) = evaluate(pooled.apply, loss, cfg, params, [val], 3)
    assert all(o.shape == (2,) for o in outs)
    acc = np.mean([o.argmax() == it["y_seq"] for o, it in zip(outs, val)])
    assert acc >= 0.75


def test_split_chain_has_the_bits_of_the_split_loop():
    """The keys of an epoch, split in one device call, equal ``key, sub = split(key)`` per step."""
    from emojax.train.fit import split_chain
    for n in (1, 5, 16, 17, 40):
        key = jax.random.PRNGKey(n)
        subs = []
        for _ in range(n):
            key, sub = jax.random.split(key)
            subs.append(np.asarray(sub))
        last, got = split_chain(jax.random.PRNGKey(n), n)
        np.testing.assert_array_equal(got, np.stack(subs))
        np.testing.assert_array_equal(last, np.asarray(key))
    key = jax.random.PRNGKey(3)
    assert split_chain(key, 0)[0] is key
