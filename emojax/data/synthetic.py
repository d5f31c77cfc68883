"""The embedded synthetic corpus: IEMOCAP-shaped dyadic dialogs with a known linear-Gaussian truth.

Shape (DESIGN.md "The embedded synthetic corpus"): 5 sessions x 2 speakers (``Ses01F``, ``Ses01M``,
...), ``dialogs_per_session`` = 30 dialogs per session (times ``scale``), both speakers talking in
interleaved turns. One speaker per dialog wears the face markers (``has_mocap``), alternating F/M;
that speaker's utterances (15–60 per dialog, mean ≈ 33) are Wöllmer's sequences, so a
leave-one-speaker-out fold holds ≈ 500 test and ≈ 4,500 training utterances.

Generative model, per (dialog, speaker) turn sequence t = 0..T-1, latent z_t = (valence, activation):

    z_t   = sqrt(1-c) a_t + sqrt(c) u_{τ(t)}              a: AR(1) over the speaker's own turns, coef rho
                                                           u: AR(1) over dialog turns τ, coef sqrt(rho)
                                                           c = ``coupling`` (interlocutor coupling; 0 = off)
    y_t   = z_t + v_t,          v_t ~ N(0, expr_sd² I)      expressed state (acoustic evidence)
    x_t   = D (G y_t + n_t) + o  n_t ~ N(0, Σ_n)            features: 40 informative (random loadings),
                                                           60 redundant (mixtures of informative ones),
                                                           100 noise (with per-speaker offsets)
    rating = clip(round(3 + label_gain z_t + N(0, annot_sd²)), 1, 5), averaged over 2–3 annotators.

``snr`` divides the expression and informative-feature noise sds by sqrt(snr), ``informative``
sets the share of informative features and ``sequences`` the number of speaker sequences: the axes
besides ``rho`` that move the true context, each keeping the oracle exact.

All processes are stationary with unit variance. Because the model is linear-Gaussian, the
Bayes-optimal smoother E[z_t | x_0..T-1] is linear in the features and its sensitivity to every
utterance — the **oracle context** — is exact (`oracle_sensitivity`). The default ``rho`` = 0.9 with
``expr_sd`` = 1.0 puts the oracle's past context at a 3 % threshold at ≈ 7–8 utterances, like
Wöllmer et al. 2012's measured BLSTM context.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from emojax.data.corpus import Corpus

N_SESSIONS = 5


@dataclasses.dataclass(frozen=True)
class SyntheticParams:
    rho: float = 0.9               # AR(1) coefficient of the latent state across a speaker's turns
    seed: int = 0
    scale: float = 1.0             # multiplies the number of dialogs (context studies need ~1,000 sequences)
    dialogs_per_session: int = 30
    min_len: int = 15              # utterances of the marker-wearer per dialog: 15..60, mean ≈ 33
    max_len: int = 60
    coupling: float = 0.0          # share of the latent state driven by a dialog-level process (interlocutor)
    expr_sd: float = 1.0           # expression noise: how far the voice departs from the felt state
    feat_sd: float = 1.0           # noise of the informative features
    n_informative: int = 40
    n_redundant: int = 60
    n_noise: int = 100
    speaker_sd: float = 0.5        # per-speaker offsets of the noise features (speaker nuisance)
    label_gain: float = 1.3        # rating = 3 + label_gain * z + annotator noise
    annot_sd: float = 0.5
    min_annotators: int = 2
    max_annotators: int = 3
    # The axes that move the true context besides rho (0 keeps the settings above):
    snr: float = 1.0               # multiplies the signal-to-noise ratio of the expression and of
                                   # every informative feature (noise sds divided by sqrt(snr))
    informative: float = 0.0       # share of the features that are informative (0.2 = 40 of 200;
                                   # redundant ones 1.5x as many, the rest noise)
    sequences: int = 0             # marker-wearer sequences in all (5 sessions; replaces scale)

    @property
    def n_features(self) -> int:
        return self.n_informative + self.n_redundant + self.n_noise

    @property
    def kinds(self) -> tuple[int, int, int]:
        """(informative, redundant, noise) feature counts after the ``informative`` share."""
        if not self.informative:
            return self.n_informative, self.n_redundant, self.n_noise
        F = self.n_features
        ni = max(1, int(round(self.informative * F)))
        nr = min(int(round(1.5 * ni)), F - ni)
        return ni, nr, F - ni - nr

    @property
    def expr_noise(self) -> float:
        return self.expr_sd / np.sqrt(self.snr)

    @property
    def feat_noise(self) -> float:
        return self.feat_sd / np.sqrt(self.snr)

    @property
    def n_dialogs(self) -> int:
        """Dialogs per session."""
        if self.sequences:
            return max(1, int(round(self.sequences / N_SESSIONS)))
        return max(1, int(round(self.dialogs_per_session * self.scale)))


def parse_settings(rest: str, cls, name: str) -> dict:
    """``rho=0.9,seed=3`` -> {field: typed value} of the dataclass `cls`; unknown keys and bad
    values raise ValueError naming corpus `name`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kw = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, val = item.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"{name} corpus: bad setting {item!r}; known: {', '.join(fields)}")
        typ = type(getattr(cls(), key))
        try:
            kw[key] = typ(val) if typ is not int else int(float(val)) if float(val).is_integer() else int(val)
        except ValueError:
            raise ValueError(f"{name} corpus: {key}={val!r} is not a {typ.__name__}") from None
    return kw


def parse_spec(rest: str) -> SyntheticParams:
    """``rho=0.9,seed=3,scale=2`` -> SyntheticParams; unknown keys and bad values raise ValueError."""
    kw = parse_settings(rest, SyntheticParams, "synthetic")
    p = SyntheticParams(**kw)
    if not 0.0 <= p.rho < 1.0:
        raise ValueError(f"synthetic corpus: rho={p.rho} must be in [0, 1)")
    if not 0.0 <= p.coupling <= 1.0:
        raise ValueError(f"synthetic corpus: coupling={p.coupling} must be in [0, 1]")
    if p.scale <= 0:
        raise ValueError(f"synthetic corpus: scale={p.scale} must be > 0")
    if p.snr <= 0:
        raise ValueError(f"synthetic corpus: snr={p.snr} must be > 0")
    if not (p.informative == 0 or 3 <= round(p.informative * p.n_features) and p.informative <= 0.4):
        raise ValueError(f"synthetic corpus: informative={p.informative} must give at least 3 "
                         f"informative features of {p.n_features} and be <= 0.4 (redundant ones "
                         "take 1.5x as many), or be 0 for n_informative")
    if p.sequences < 0:
        raise ValueError(f"synthetic corpus: sequences={p.sequences} must be >= 0")
    return p


# ----------------------------------------------------------------------------- feature map
@dataclasses.dataclass(frozen=True)
class FeatureMap:
    """x = D (G y + n) + o with n ~ N(0, Σ_n); everything the oracle needs."""
    G: np.ndarray        # (F, 2)
    mix: np.ndarray      # (n_redundant, n_informative) redundant = mix @ informative + noise
    D: np.ndarray        # (F,) per-feature scale
    o: np.ndarray        # (F,) per-feature offset
    noise_cov: np.ndarray  # (F, F) Σ_n

    def gls(self) -> np.ndarray:
        """(P (2, F), R (2, 2)): the GLS estimate ŷ = P (x - o) of y from x, and its noise covariance."""
        Gs = self.D[:, None] * self.G
        Ns = self.D[:, None] * self.noise_cov * self.D[None, :]
        Ni = np.linalg.inv(Ns)
        R = np.linalg.inv(Gs.T @ Ni @ Gs)
        return R @ Gs.T @ Ni, R


def _feature_map(p: SyntheticParams, rng: np.random.Generator) -> FeatureMap:
    ni, nr, nn = p.kinds
    G_inf = rng.normal(0, 1, (ni, 2)) * rng.uniform(0.2, 1.0, (ni, 1))   # varied strength
    mix = np.zeros((nr, ni))
    for r in range(nr):                                                   # each mixes 2-3 informative
        cols = rng.choice(ni, size=rng.integers(2, 4), replace=False)
        mix[r, cols] = rng.normal(0, 1, cols.size)
    red_sd = 0.3 * p.feat_noise
    G = np.concatenate([G_inf, mix @ G_inf, np.zeros((nn, 2))])
    F = ni + nr + nn
    cov = np.zeros((F, F))
    fs2 = p.feat_noise ** 2
    cov[:ni, :ni] = fs2 * np.eye(ni)
    cov[ni:ni + nr, :ni] = fs2 * mix
    cov[:ni, ni:ni + nr] = fs2 * mix.T
    cov[ni:ni + nr, ni:ni + nr] = fs2 * mix @ mix.T + red_sd ** 2 * np.eye(nr)
    cov[ni + nr:, ni + nr:] = np.eye(nn)
    D = np.exp(rng.normal(0, 1, F))             # features live on their own scales (z-norm undoes it)
    o = rng.normal(0, 3, F)
    return FeatureMap(G=G, mix=mix, D=D, o=o, noise_cov=cov)


# ----------------------------------------------------------------------------- generation
def _ar1(rng, n: int, coef: float) -> np.ndarray:
    """Stationary unit-variance AR(1), shape (n, 2)."""
    out = np.empty((n, 2))
    out[0] = rng.normal(size=2)
    innov = np.sqrt(1 - coef ** 2)
    for t in range(1, n):
        out[t] = coef * out[t - 1] + innov * rng.normal(size=2)
    return out


@functools.lru_cache(maxsize=8)
def generate(p: SyntheticParams = SyntheticParams()) -> Corpus:
    """The corpus for parameters `p`, deterministic in ``p.seed`` (a second call hits the cache)."""
    rng = np.random.default_rng(p.seed)
    fmap = _feature_map(p, rng)
    ni, nr, nn = p.kinds
    spk_offsets = {}
    cols = {k: [] for k in ("utterance_id", "session", "dialog", "speaker", "turn", "has_mocap",
                            "dialog_turn")}
    latent, feats, val, act = [], [], [], []
    n_dialogs = p.n_dialogs
    for s in range(1, N_SESSIONS + 1):
        for g in "FM":
            spk_offsets[f"Ses{s:02d}{g}"] = rng.normal(0, p.speaker_sd, nn)
        for d in range(n_dialogs):
            wearer = "F" if d % 2 == 0 else "M"
            other = "M" if wearer == "F" else "F"
            dialog = f"Ses{s:02d}{wearer}_dlg{d:03d}"
            n_w = int(np.clip(round(p.min_len + rng.gamma(2.0, 10.0)), p.min_len, p.max_len))
            n_o = int(np.clip(n_w + rng.integers(-3, 4), 1, None))
            # interleave the two speakers' turns (a random merge keeps each speaker's order)
            who = np.array([wearer] * n_w + [other] * n_o)
            rng.shuffle(who)
            u = _ar1(rng, who.size, np.sqrt(p.rho))             # dialog-level (interlocutor) process
            for g in (wearer, other):
                tau = np.flatnonzero(who == g)
                a = _ar1(rng, tau.size, p.rho)
                z = np.sqrt(1 - p.coupling) * a + np.sqrt(p.coupling) * u[tau]
                y = z + p.expr_noise * rng.normal(size=z.shape)
                n_inf = p.feat_noise * rng.normal(size=(tau.size, ni))
                n_red = n_inf @ fmap.mix.T + 0.3 * p.feat_noise * rng.normal(size=(tau.size, nr))
                n_noise = rng.normal(size=(tau.size, nn)) + spk_offsets[f"Ses{s:02d}{g}"][None]
                x = y @ fmap.G.T + np.concatenate([n_inf, n_red, n_noise], axis=1)
                feats.append(fmap.D[None] * x + fmap.o[None])
                k = rng.integers(p.min_annotators, p.max_annotators + 1)
                ratings = np.clip(np.rint(3 + p.label_gain * z[None] + p.annot_sd
                                          * rng.normal(size=(k,) + z.shape)), 1, 5).mean(0)
                val.append(ratings[:, 0])
                act.append(ratings[:, 1])
                latent.append(z)
                speaker = f"Ses{s:02d}{g}"
                for i, t in enumerate(tau):
                    cols["utterance_id"].append(f"{dialog}_{g}{i:03d}")
                    cols["session"].append(f"Ses{s:02d}")
                    cols["dialog"].append(dialog)
                    cols["speaker"].append(speaker)
                    cols["turn"].append(int(t))
                    cols["has_mocap"].append(g == wearer)
                    cols["dialog_turn"].append(int(t))
    names = ([f"inf{i:03d}" for i in range(ni)] + [f"red{i:03d}" for i in range(nr)]
             + [f"noise{i:03d}" for i in range(nn)])
    params = {"kind": "synthetic", **dataclasses.asdict(p)}
    corpus = Corpus(
        name="synthetic", features=np.concatenate(feats).astype(np.float32),
        feature_names=tuple(names),
        utterance_id=np.array(cols["utterance_id"]), session=np.array(cols["session"]),
        dialog=np.array(cols["dialog"]), speaker=np.array(cols["speaker"]),
        turn=np.array(cols["turn"], np.int64), valence=np.concatenate(val),
        activation=np.concatenate(act), params=params,
        extras={"has_mocap": np.array(cols["has_mocap"]), "latent": np.concatenate(latent),
                "dialog_turn": np.array(cols["dialog_turn"], np.int64)})
    return corpus


def params_of(corpus: Corpus) -> SyntheticParams:
    """The generating parameters of a synthetic corpus (from ``corpus.params``)."""
    keys = {f.name for f in dataclasses.fields(SyntheticParams)}
    return SyntheticParams(**{k: v for k, v in corpus.params.items() if k in keys})


def marker_wearers(corpus: Corpus) -> Corpus:
    """Wöllmer's view: only the marker-wearing speaker's utterances of each dialog.

    A corpus read from the IEMOCAP layout names each dialog's wearer (``extras["wearer"]``, the
    dialog id's letter): the wearer's turns are kept even where the MoCap files are missing."""
    if "wearer" in corpus.extras and corpus.gender is not None:
        return corpus.subset(np.flatnonzero(corpus.gender == corpus.extras["wearer"]))
    if "has_mocap" not in corpus.extras:
        return corpus
    return corpus.subset(np.flatnonzero(corpus.extras["has_mocap"]))


# ----------------------------------------------------------------------------- the oracle
def latent_cov(p: SyntheticParams, dialog_turns: np.ndarray, *, shuffled: bool = False) -> np.ndarray:
    """Prior covariance (T, T) of one latent dimension over a speaker's turns at `dialog_turns`.

    With ``shuffled=True`` the order is unknown: every pair of distinct utterances has the average
    covariance over the sequence's pairs (an exchangeable prior), which is what the best linear
    estimator can still use when utterances arrive in random order.
    """
    T = dialog_turns.size
    own = np.arange(T)
    C = (1 - p.coupling) * p.rho ** np.abs(own[:, None] - own[None, :]) \
        + p.coupling * np.sqrt(p.rho) ** np.abs(dialog_turns[:, None] - dialog_turns[None, :])
    if shuffled and T > 1:
        off = (C.sum() - np.trace(C)) / (T * (T - 1))
        C = np.full((T, T), off) + (1 - off) * np.eye(T)
    return C


@functools.lru_cache(maxsize=8)
def _gls(p: SyntheticParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(o (F,), P (2, F), R (2, 2)) of the corpus's feature map (`FeatureMap.gls`), drawn as
    `generate` draws it first; once per parameters (read-only), not per sequence."""
    fmap = _feature_map(p, np.random.default_rng(p.seed))
    out = (fmap.o, *fmap.gls())
    for a in out:
        a.setflags(write=False)
    return out


def smoother_weights(p: SyntheticParams, dialog_turns: np.ndarray, *, shuffled: bool = False):
    """The Bayes-optimal smoother of one sequence: E[z | x] = W ŷ, ŷ_t = P (x_t - o).

    Returns W (T, 2, T, 2), P (2, F) (read-only, shared by every call with these parameters:
    `_gls`) and the posterior covariance (T, 2, T, 2). With C the latent
    prior (`latent_cov`) and N = expr_sd² I₂ + R the noise of ŷ: W = (C ⊗ I₂)(C ⊗ I₂ + I ⊗ N)⁻¹.
    """
    _, P, R = _gls(p)
    C = latent_cov(p, np.asarray(dialog_turns), shuffled=shuffled)
    T = C.shape[0]
    N = p.expr_noise ** 2 * np.eye(2) + R
    prior = np.kron(C, np.eye(2))                              # (2T, 2T), index 2t+k
    W = prior @ np.linalg.inv(prior + np.kron(np.eye(T), N))
    post = prior - W @ prior
    return W.reshape(T, 2, T, 2), P, post.reshape(T, 2, T, 2)


def oracle_estimate(p: SyntheticParams, x: np.ndarray, dialog_turns: np.ndarray, **kw) -> np.ndarray:
    """E[z_t | x_0..T-1] (T, 2) for one sequence's features `x` (T, F) as `generate` wrote them."""
    W, P, _ = smoother_weights(p, dialog_turns, **kw)
    yhat = (x - _gls(p)[0][None]) @ P.T                        # (T, F) -> (T, 2)
    return np.einsum("akbl,bl->ak", W, yhat)


def oracle_sensitivity(p: SyntheticParams, dialog_turns: np.ndarray, *, shuffled: bool = False,
                       dims: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """S[t, t'] = Σ_{k,i} |∂ E[z_k^t | x] / ∂ x_i^{t'}| of the Bayes-optimal smoother, (T, T).

    The sensitivity to the features of utterance t' is W_{tt'} P (`smoother_weights`). The class
    posteriors are functions of E[z_t | x] (both latent dimensions share one temporal prior), so
    this is the oracle against which a classifier's sequential Jacobian is read. ``dims`` picks
    the latent dimensions a task's labels depend on (valence 0, activation 1; both by default).
    """
    W, P, _ = smoother_weights(p, dialog_turns, shuffled=shuffled)
    J = np.einsum("akbl,lf->akbf", W[:, list(dims)], P)         # (T, len(dims), T, F)
    return np.abs(J).sum(axis=(1, 3))
