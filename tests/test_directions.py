"""The ``directions`` LSTM kernel (`emojax.nn.lstm.directions_layer`): a layer's two directions on two
devices give the scan kernel's outputs, gradients, forward-mode Jacobians and vmapped outputs; the
CLI and the bench make two CPU devices for it."""
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from emojax.nn import lstm as L
from emojax import runtime

CODE = textwrap.dedent("""
    import numpy as np, jax, jax.numpy as jnp
    from emojax.nn import lstm as L
    assert jax.device_count() == 2
    params = L.init_blstm(jax.random.PRNGKey(0), 5, 6, layers=2, peephole=%s)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 9, 5)).astype(np.float32)
    mask = np.arange(9)[None] < np.array([9, 4, 0])[:, None]
    w = rng.standard_normal((3, 9, 12)).astype(np.float32)
    loss = lambda p, x: jnp.sum(L.blstm(p, x, mask) * w)
    stacked = jax.tree.map(lambda t: jnp.stack([t, 2 * t]), params)
    def everything():
        return (L.blstm(params, xs, mask), jax.grad(loss, (0, 1))(params, xs),
                jax.jacfwd(lambda x: L.blstm(params, x, mask[0]))(xs[0]),
                jax.vmap(lambda p: L.blstm(p, xs, mask))(stacked))
    with L.use_kernel("scan"):
        want = everything()
    with L.use_kernel("directions"):
        got = everything()
        assert "shard_map" in str(jax.make_jaxpr(L.blstm)(params, xs, mask))
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("ok")
""")


@pytest.mark.parametrize("peephole", [False, True])
def test_two_devices_give_the_scan_kernels_numbers(peephole):
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = subprocess.run([sys.executable, "-c", CODE % peephole], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


def test_one_device_says_what_the_kernel_needs():
    params = L.init_blstm(jax.random.PRNGKey(0), 3, 4)
    xs, mask = np.zeros((2, 5, 3), np.float32), np.ones((2, 5), bool)
    if len(jax.local_devices()) >= 2:
        pytest.skip("this process has two devices")
    with L.use_kernel("directions"), pytest.raises(ValueError, match="needs two devices"):
        L.blstm(params, xs, mask)
    with pytest.raises(ValueError, match="use one of"):
        with L.use_kernel("fast"):
            pass


def test_cpu_devices_sets_the_flag_only_before_jax_starts(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    jax.devices()                                  # this process's backend has started
    assert runtime.cpu_devices(2) is False and "XLA_FLAGS" not in os.environ
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert runtime.cpu_devices(2) is True          # the user's own flag is kept
    code = ("import os; from emojax import runtime; assert runtime.cpu_devices(2); import jax; "
            "assert jax.device_count() == 2, jax.devices(); print('ok')")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "JAX_PLATFORMS": "cpu"}, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_batched_runs_refuse_the_directions_kernel(tmp_path, capsys):
    from emojax.cli import main
    with L.use_kernel("directions"):
        rc = main(["reproduce", "woellmer2012:quick", "--workdir", str(tmp_path),
                   "--set", "batched=true"])
    err = capsys.readouterr().err
    assert rc == 2 and "use one of the two" in err and len(err.strip().splitlines()) == 1
