"""The second known-answer corpus (`emojax.data.statespace`): shape, and its information-form
oracle against the covariance form and against the data it generates."""
import numpy as np
import pytest

from emojax import data
from emojax.data import statespace as SS
from emojax.data.corpus import sequences


def test_shape_and_spec():
    c = data.load("statespace:rho=0.8,seed=2,speakers=4,per_speaker=2")
    seqs = sequences(c)
    assert len(seqs) == 8 and c.features.shape[1] == 40
    assert all(20 <= len(s) <= 45 for s in seqs)
    thirds = c.valence * 3                                        # means of 3 integer ratings
    assert np.allclose(thirds, np.rint(thirds)) and c.valence.min() >= 1 and c.valence.max() <= 5
    for bad in ("rho=1", "snr=0", "speakers=2", "what=1"):
        with pytest.raises(ValueError):
            SS.parse_spec(bad)


def test_information_form_equals_covariance_form():
    p = SS.StateSpaceParams(rho=0.7, snr=0.1, features=6)
    T, A = 12, SS.loadings(p)
    C = p.rho ** np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    Cz, Ab = np.kron(C, np.eye(2)), np.kron(np.eye(T), A)
    gain = Cz @ Ab.T @ np.linalg.inv(Ab @ Cz @ Ab.T + np.eye(T * 6) / p.snr)
    np.testing.assert_allclose(SS.smoother_matrix(p, T).reshape(2 * T, -1), gain, atol=1e-12)


def test_smoother_mse_beats_single_utterance_and_matches_theory():
    p = SS.StateSpaceParams(rho=0.9, speakers=3, per_speaker=4)
    c = SS.generate(p)
    err, single = 0.0, 0.0
    A = SS.loadings(p)
    for s in sequences(c):
        x, z = c.features[s].astype(np.float64), c.extras["latent"][s]
        est = np.einsum("akbi,bi->ak", SS.smoother_matrix(p, len(s)), x)
        err += ((est - z) ** 2).sum()
        one = np.linalg.solve(np.eye(2) + p.snr * A.T @ A, p.snr * A.T @ x.T).T
        single += ((one - z) ** 2).sum()
    assert err < 0.6 * single


def test_oracle_context_rises_with_rho():
    counts = []
    for rho in (0.0, 0.5, 0.9):
        S = SS.oracle_sensitivity(SS.StateSpaceParams(rho=rho), np.arange(40), dims=(0,))
        counts.append(int((S[30, :30] >= 0.03 * S[30].max()).sum()))
    assert counts[0] == 0 and counts[0] < counts[1] < counts[2]
