"""Sensitivities use the real feature columns only: zero-padded input columns, whatever weights
they meet, change no count (the padding-column fix)."""
import jax
import jax.numpy as jnp
import numpy as np

from emojax.analysis.context import context_counts
from emojax.experiments.woellmer2012_analysis import model_sensitivities
from emojax.models import woellmer as model


def test_padding_columns_do_not_move_counts():
    F, width = 5, 16
    params = model.init(jax.random.PRNGKey(0), F, 3, hidden=8, forget_bias=0.0)
    padded = model.pad_inputs(params, width)
    rng = np.random.default_rng(0)
    loud = {d: {**p, "w_x": p["w_x"].at[F:].set(jnp.asarray(rng.normal(0, 3.0, (width - F, p["w_x"].shape[1])),
                                                                   jnp.float32))}
            for d, p in padded["blstm"][0].items()}
    loud = {**padded, "blstm": [loud]}                  # padding rows far from zero (untrained)
    xs = [rng.normal(size=(T, F)).astype(np.float32) for T in (12, 20, 7)]
    ref = model_sensitivities(params, xs, F)             # no padding columns at all
    got = model_sensitivities(loud, xs, width)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        for th in (0.01, 0.03, 0.1):
            for u, v in zip(context_counts(a, th), context_counts(b, th)):
                np.testing.assert_array_equal(u, v)
    # the forward pass never sees the padding columns: the outputs agree too
    x = np.zeros((12, width), np.float32)
    x[:, :F] = xs[0]
    np.testing.assert_allclose(model.apply(loud, x, np.ones(12, bool))[0],
                               model.apply(params, xs[0], np.ones(12, bool))[0], rtol=1e-5, atol=1e-6)


def test_readings_match_model_sensitivities():
    """One Jacobian pass for both readings gives what two separate passes give."""
    from emojax.experiments.woellmer2012_analysis import readings
    params = model.init(jax.random.PRNGKey(3), 16, 3, hidden=6, forget_bias=0.0)
    xs = [np.random.default_rng(i).normal(size=(n, 5)).astype(np.float32)
          for i, n in enumerate((7, 12, 3))]
    got = readings(params, xs, 16, batch=2)
    for key, directions in (("whole", False), ("directions", True)):
        for a, b in zip(got[key], model_sensitivities(params, xs, 16, directions=directions)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
