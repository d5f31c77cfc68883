"""A second synthetic corpus with a known answer, generated differently from the embedded one.

The embedded corpus (`emojax.data.synthetic`) is IEMOCAP-shaped: 200 features in three kinds,
expression noise shared by all features, the oracle by generalised least squares. A method checked
only there may be tuned to its quirks, so context estimators are also checked here, on a small
corpus built the way an outsider would build one:

    z_t = rho z_{t-1} + sqrt(1 - rho²) w_t              (valence, activation), unit variance, per
                                                         speaker sequence; w_t ~ N(0, I₂)
    x_t = A z_t + e_t,  e_t ~ N(0, σ² I)                 ``features`` features: the first half with
                                                         loadings N(0, 1), the second half weak
                                                         (loadings N(0, ``weak``²)); σ² = 1 / snr
    rating = clip(round(3 + gain z_t + N(0, annot_sd²)), 1, 5), averaged over 3 annotators

``speakers`` speakers with ``per_speaker`` sequences each of 20–45 utterances (60 sequences by
default), no session or dialog structure beyond that. The Bayes-optimal smoother of each latent
dimension is computed here in *information form*, ``E[z | x] = (C⁻¹ ⊗ ... + I ⊗ AᵀΣ⁻¹A)⁻¹ (I ⊗ AᵀΣ⁻¹) x``,
an algorithm independent of `emojax.data.synthetic`'s covariance form, and its sensitivity to every
utterance is the oracle (`oracle_sensitivity`).

Spec: ``statespace:rho=0.9,seed=0,snr=0.5,...`` (`emojax.data.load`).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from emojax.data.corpus import Corpus


@dataclasses.dataclass(frozen=True)
class StateSpaceParams:
    rho: float = 0.9
    seed: int = 0
    snr: float = 0.07              # 1 / σ² of each feature's noise (loadings are O(1))
    features: int = 40
    weak: float = 0.1              # loading scale of the second half of the features
    speakers: int = 10
    per_speaker: int = 6           # sequences per speaker (60 in all)
    min_len: int = 20
    max_len: int = 45
    gain: float = 1.2
    annot_sd: float = 0.5
    annotators: int = 3


def parse_spec(rest: str) -> StateSpaceParams:
    """``rho=0.9,seed=3`` -> StateSpaceParams; unknown keys and bad values raise ValueError."""
    from emojax.data.synthetic import parse_settings
    p = StateSpaceParams(**parse_settings(rest, StateSpaceParams, "statespace"))
    if not 0.0 <= p.rho < 1.0:
        raise ValueError(f"statespace corpus: rho={p.rho} must be in [0, 1)")
    if p.snr <= 0:
        raise ValueError(f"statespace corpus: snr={p.snr} must be > 0")
    if p.features < 2 or p.speakers < 3 or p.per_speaker < 1 or not 1 <= p.min_len <= p.max_len:
        raise ValueError("statespace corpus: need features >= 2, speakers >= 3, per_speaker >= 1, "
                         f"1 <= min_len <= max_len (got {p})")
    return p


def loadings(p: StateSpaceParams) -> np.ndarray:
    """A (F, 2), drawn from a stream of its own (``[seed, 7]``), so the oracle redraws them
    without generating the corpus."""
    rng = np.random.default_rng([p.seed, 7])
    strong = p.features - p.features // 2
    scale = np.r_[np.ones(strong), np.full(p.features - strong, p.weak)]
    return rng.normal(size=(p.features, 2)) * scale[:, None]


@functools.lru_cache(maxsize=8)
def generate(p: StateSpaceParams = StateSpaceParams()) -> Corpus:
    rng = np.random.default_rng([p.seed, 11])
    A = loadings(p)
    sd = 1.0 / np.sqrt(p.snr)
    rows, feats, val, act, latent = [], [], [], [], []
    for s in range(p.speakers):
        spk = f"S{s:02d}"
        for d in range(p.per_speaker):
            T = int(rng.integers(p.min_len, p.max_len + 1))
            z = np.empty((T, 2))
            z[0] = rng.normal(size=2)
            for t in range(1, T):
                z[t] = p.rho * z[t - 1] + np.sqrt(1 - p.rho ** 2) * rng.normal(size=2)
            feats.append(z @ A.T + sd * rng.normal(size=(T, p.features)))
            r = np.clip(np.rint(3 + p.gain * z[None] + p.annot_sd
                                * rng.normal(size=(p.annotators, T, 2))), 1, 5).mean(0)
            val.append(r[:, 0])
            act.append(r[:, 1])
            latent.append(z)
            rows += [(f"{spk}_d{d}_{t:03d}", f"{spk}_d{d}", spk, t) for t in range(T)]
    ids, dialogs, speakers, turns = (np.array(c) for c in zip(*rows))
    return Corpus(
        name="statespace", features=np.concatenate(feats).astype(np.float32),
        feature_names=tuple(f"f{i:02d}" for i in range(p.features)), utterance_id=ids,
        session=speakers.copy(), dialog=dialogs, speaker=speakers, turn=turns.astype(np.int64),
        valence=np.concatenate(val), activation=np.concatenate(act),
        params={"kind": "statespace", **dataclasses.asdict(p)},
        extras={"latent": np.concatenate(latent), "dialog_turn": turns.astype(np.int64)})


def params_of(corpus: Corpus) -> StateSpaceParams:
    keys = {f.name for f in dataclasses.fields(StateSpaceParams)}
    return StateSpaceParams(**{k: v for k, v in corpus.params.items() if k in keys})


def smoother_matrix(p: StateSpaceParams, T: int) -> np.ndarray:
    """M (T, 2, T, F): ``E[z_t,k | x] = Σ M[t,k,t',i] x_t',i`` (information form, see module doc).

    The two latent dimensions are independent a priori but share the observations, so the
    posterior couples them; the full (2T × 2T) precision is solved at once."""
    A = loadings(p)
    prec_obs = p.snr * A.T @ A                                       # AᵀΣ⁻¹A, (2, 2)
    lags = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    C = p.rho ** lags                                                # AR(1) prior, unit variance
    Q = np.kron(np.linalg.inv(C), np.eye(2)) + np.kron(np.eye(T), prec_obs)   # index 2t+k
    B = np.kron(np.eye(T), p.snr * A.T)                              # (2T, T·F)
    return np.linalg.solve(Q, B).reshape(T, 2, T, A.shape[0])


def oracle_sensitivity(p: StateSpaceParams, dialog_turns: np.ndarray, *, shuffled: bool = False,
                       dims: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """S[t, t'] = Σ_{k ∈ dims, i} |∂E[z_k^t | x] / ∂x_i^{t'}| (T, T) for a sequence of the corpus.

    ``shuffled`` is not modelled here (the order is always known): it raises."""
    if shuffled:
        raise ValueError("statespace corpus: no shuffled oracle")
    M = smoother_matrix(p, len(dialog_turns))
    return np.abs(M[:, list(dims)]).sum(axis=(1, 3))
