"""The embedded corpus: IEMOCAP shape, determinism, and its oracle agreeing with its own data."""
import dataclasses

import numpy as np
import pytest

from emojax.data import synthetic as S
from emojax.data.corpus import sequences

SMALL = S.SyntheticParams(scale=0.2, seed=4)


@pytest.fixture(scope="module")
def full():
    return S.marker_wearers(S.generate(S.SyntheticParams()))


def test_iemocap_shape(full):
    spk = full.speakers
    assert len(spk) == 10 and spk[0] == "Ses01F" and spk[-1] == "Ses05M"
    lengths = np.array([len(s) for s in sequences(full)])
    assert lengths.min() >= 15 and lengths.max() <= 60 and 28 <= lengths.mean() <= 38
    per_speaker = np.array([(full.speaker == s).sum() for s in spk])
    # Wöllmer 2012 §5.1: 498 ± 60 test / 4475 ± 61 training utterances per fold
    assert 400 <= per_speaker.mean() <= 600
    assert 4000 <= (len(full) - per_speaker).mean() <= 5000
    assert full.features.shape[1] == 200 and full.features.dtype == np.float32
    for r in (full.valence, full.activation):
        assert r.min() >= 1 and r.max() <= 5


def test_deterministic_and_seeded():
    a = S.generate(SMALL)
    b = S.generate.__wrapped__(SMALL)                # bypass the cache
    np.testing.assert_array_equal(a.features, b.features)
    c = S.generate(dataclasses.replace(SMALL, seed=5))
    assert not np.array_equal(a.features[:50], c.features[:50])


def test_parse_spec():
    p = S.parse_spec("rho=0.5,seed=3,scale=2")
    assert (p.rho, p.seed, p.scale) == (0.5, 3, 2.0)
    for bad in ("rho=1.5", "nope=1", "rho", "seed=x"):
        with pytest.raises(ValueError):
            S.parse_spec(bad)


def test_oracle_mse_matches_its_posterior_variance():
    """The smoother applied to generated features has the MSE its posterior covariance predicts,
    and beats the single-utterance estimate: generator and oracle describe the same model."""
    p = dataclasses.replace(SMALL, coupling=0.3)
    c = S.marker_wearers(S.generate(p))
    err, theory, single = [], [], []
    for s in sequences(c):
        x, z, dt = c.features[s].astype(np.float64), c.extras["latent"][s], c.extras["dialog_turn"][s]
        err.append(((S.oracle_estimate(p, x, dt) - z) ** 2).sum())
        _, _, post = S.smoother_weights(p, dt)
        theory.append(np.einsum("akak->", post))
        e1 = np.stack([S.oracle_estimate(p, x[i:i + 1], dt[i:i + 1])[0] for i in range(len(s))])
        single.append(((e1 - z) ** 2).sum())
    n = 2 * len(c)
    assert abs(sum(err) / n - sum(theory) / n) < 0.03
    assert sum(err) < 0.7 * sum(single)


def test_oracle_context_grows_with_rho_and_matches_design():
    counts = []
    for rho in (0.5, 0.8, 0.9, 0.95):
        Sx = S.oracle_sensitivity(dataclasses.replace(S.SyntheticParams(), rho=rho), np.arange(40) * 2)
        rel = Sx[30] / Sx[30, 30]
        counts.append(int((rel[:30] >= 0.03).sum()))
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert 6 <= counts[2] <= 9          # default rho: ≈ 7–8 past utterances at 3 % (the paper's figure)


def test_shuffled_oracle_weights_others_equally():
    Sx = S.oracle_sensitivity(S.SyntheticParams(), np.arange(20) * 2, shuffled=True)
    off = Sx[~np.eye(20, dtype=bool)]
    np.testing.assert_allclose(off, off.mean(), rtol=1e-6)
    assert off.mean() < 0.1 * np.diag(Sx).mean()


def test_new_axes_parse_and_shape_the_corpus():
    p = S.parse_spec("snr=4,informative=0.1,sequences=20")
    assert p.kinds == (20, 30, 150) and p.n_dialogs == 4
    assert p.expr_noise == pytest.approx(0.5) and p.feat_noise == pytest.approx(0.5)
    assert S.SyntheticParams().kinds == (40, 60, 100)                   # defaults unchanged
    c = S.marker_wearers(S.generate(dataclasses.replace(SMALL, sequences=15, informative=0.1)))
    assert len(sequences(c)) == 15 and c.features.shape[1] == 200
    for bad in ("snr=0", "informative=0.5", "informative=0.005", "sequences=-1"):
        with pytest.raises(ValueError):
            S.parse_spec(bad)


def test_oracle_tracks_snr_and_the_generator():
    """More signal shortens the true context; the smoother on generated data still has the MSE its
    posterior predicts at a low snr and a small informative share (generator and oracle agree)."""
    ctx = []
    for snr in (0.25, 1.0, 4.0):
        Sx = S.oracle_sensitivity(S.SyntheticParams(rho=0.9, snr=snr), np.arange(40), dims=(0,))
        ctx.append(int((Sx[30, :30] >= 0.03 * Sx[30].max()).sum()))
    assert ctx[0] > ctx[1] > ctx[2]
    p = dataclasses.replace(SMALL, snr=0.3, informative=0.05)
    c = S.marker_wearers(S.generate(p))
    err, theory = 0.0, 0.0
    for s in sequences(c):
        x, z, dt = c.features[s].astype(np.float64), c.extras["latent"][s], c.extras["dialog_turn"][s]
        err += ((S.oracle_estimate(p, x, dt) - z) ** 2).sum()
        theory += np.einsum("akak->", S.smoother_weights(p, dt)[2])
    assert abs(err - theory) / theory < 0.08
