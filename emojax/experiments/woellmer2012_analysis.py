"""Wöllmer et al. 2012 §5.2, Figs. 1–3: how many past and future utterances the trained BLSTMs use.

  emojax analyze runs/woellmer2012        # re-run from saved checkpoints, no retraining
  emojax analyze runs/woellmer2012 --set analysis.theta=0.05 --set analysis.mode=rev
  (`emojax reproduce woellmer2012` runs it after training.)

For every test sequence of every fold, task and condition (ordered, shuffled) the sequential
Jacobian of the softmax outputs is projected to S[t, t'] (summed over the real input features and
the output classes), and the past/future utterances whose sensitivity is >= θ of the row's maximum
are counted. On the embedded corpus the exact Bayes-optimal smoother gives the same counts for the
truth (the *oracle*; ``oracle_shuffled`` for utterances in random order); other corpora have none.

Writes WORKDIR/results/: context.json (DESIGN.md records), context_position.csv,
context_threshold.csv, context_profile.csv, context_summary.json, fig1_jacobian.png,
fig2_context_position.png, fig3_context_threshold.png and context.md.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from emojax import data
from emojax.config import check

MAX_OFFSET = 20
# The paper's reading of its Figs. 2-3 (§5.2, §6), for the side-by-side table.
PAPER_CONTEXT = {"past_ordered": "7-8 (once >= 8 are available)", "future_early": "about 8",
                 "past_shuffled": "about 6 (fewer than ordered)", "across_tasks": "similar"}


# The estimators of the context a BLSTM uses (context.json's `estimator`). All count, per output
# step, the past/future utterances whose summed |sequential Jacobian| is >= θ of the row maximum;
# they differ in the network whose Jacobian is read and in how it is read:
ESTIMATORS = {
    # Wöllmer §5.2: the BLSTM of Table 1 itself.
    "paper": "the trained BLSTM of Table 1 (Wöllmer §5.2)",
    # A BLSTM of the same kind on the same data, but started with its forget gates nearly shut
    # (bias `memoryless_forget_bias`): an LSTM initialised with forget bias 0 already depends on
    # ~5 past utterances at 3 % before any training (f = 0.5 per step), and training on data with no
    # temporal structure removes only part of that; started near-memoryless, the probe holds only
    # the memory the data pays for (results/woellmer2012/README.md, "Why the count overestimates").
    # Where the true context is long and the signal weak it counts short (context_study.md, Fig. 7:
    # -2.5 and -4.3 at truths 13.7 and 18.6 with 900 sequences); a smoother whose context is that
    # much shorter loses only 0.002-0.02 nats of cross-entropy per utterance (context_assumed.md,
    # Fig. 8), and the labels are all training sees. The probe is smaller than the paper's BLSTM
    # (32 memory blocks per direction) and trained with larger steps on batches of similar length
    # (`AnalysisConfig`): chosen on embedded corpus seeds 1, 2 and 20, where it came closest of the
    # variants tried, as accurate as the paper-sized probe on fresh seeds and 5-10x cheaper.
    "memoryless": "a probe BLSTM (analysis.memoryless_hidden memory blocks, 32 by default) trained "
                  "from a near-memoryless start (forget-gate bias analysis.memoryless_forget_bias, "
                  "-2 by default)",
    # The paper's BLSTM, each side read through its own direction: a past step compared with the
    # forward direction's share of the current step, not with the whole current step (the
    # trained network weights the current step about twice as the smoother does; see
    # `emojax.analysis.context`). Offered beside the others, not recommended: where the network's
    # decay is right it lands on the truth, but it doubles the weight of the residual memory
    # the initialisation leaves where there is little context (context_causes.md, Fig. 6).
    "directional": "the trained BLSTM of Table 1, the past read through its forward direction and "
                   "the future through its backward one, each against its own maximum",
    # The memoryless probe read the same way.
    "memoryless_directional": "the memoryless probe read per direction, as `directional`",
    # No network: the first-order linear smoother fitted in closed form to the fold's training
    # speakers (`emojax.analysis.smoother`), so no initialisation, L2 or early stopping reaches the
    # count, and its sensitivity decays as the Bayes-optimal smoother's of a first-order latent
    # state does. Chosen on embedded seeds 1, 2, 20 (36 points): within ±1 of the truth at 89 % /
    # mean |error| 0.42 (the memoryless probe 67 % / 2.02; the mean of 10 bootstrap fits, 89 % /
    # 0.38 at ten times the cost). A prototype compared variants there (86 % / 0.47 for this one): without
    # cross-fitting 78 % / 0.75, ridge 0.1 86 % / 0.45, a decay and amplitude per side 61 % / 1.94.
    # Checked once: 84 % / 0.70 on the study's fresh seeds (embedded 12, statespace 12-13; the
    # memoryless probe 60 % / 1.28), 88 % / 0.39 on never-used ones (embedded 16, statespace
    # 16-17); over all ten fresh sets since (250 points), 88.8 %. Fitted to the ratings behind the
    # classes (`smoother_target`, below), over 450 fresh points 91.3 % (README, the checks table). A
    # model of the data, not a reading of the BLSTM: it cannot represent a context that does not
    # decay with distance (the shuffled condition). The runs: results/woellmer2012/ and
    # results/woellmer2012_smoother_choice/.
    "smoother": "a first-order linear smoother fitted to the fold's training speakers (no "
                "network): its context decays as λ^distance, λ by least squares",
}
# The network each estimator reads (estimators reading the same one share its training); the
# smoother's "network" is its closed-form fit.
NETWORK = {"paper": "paper", "memoryless": "memoryless", "directional": "paper",
           "memoryless_directional": "memoryless", "smoother": "smoother"}
SMOOTHER_TARGETS = ("rating", "classes")           # analysis.smoother_target


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """The §5.2 analysis' settings (`emojax reproduce` and `emojax analyze` both take them)."""
    enabled: bool = True              # run it after training
    theta: float = 0.03               # §5.2: an utterance is relevant at >= 3 % of the row maximum
    thetas: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 11))   # Fig. 3: 1..10 %
    position: str = "ge10"            # the summary's output steps: "ge<N>" = >= N predecessors
    mode: str = "auto"                # Jacobian by "fwd" (jacfwd), "rev" (VJPs) or the cheaper
    # How each count is made (`ESTIMATORS`): the paper's count of the trained BLSTM, and beside it
    # that of a first-order smoother fitted without a network. The probe BLSTM trained from a
    # memoryless start ("memoryless") and the per-direction readings ("directional",
    # "memoryless_directional") may be added; the probe trains one more BLSTM per fold and
    # condition, a quarter of the default run's time, for a count the smoother beats on the
    # study's set (60 % within ±1 of the truth against 84 %), so it is not in the default.
    estimators: tuple[str, ...] = ("paper", "smoother")
    recommended: str = "smoother"     # shown first in the tables (meta.recommended_estimator)
    memoryless_forget_bias: float = -2.0   # the probe's initial forget-gate bias: sigmoid(-2) = 0.12
    # The probe's own size and training where they differ from the run's (None: model.hidden,
    # train.lr, train.l2, train.by_length). Chosen on embedded corpus seeds 1, 2, 20 (rho 0-0.95 x
    # snr 0.25-4, 36 points; within +-1 of the truth / mean |error|): the run's own 56 % / 2.57,
    # lr 3e-3 58 % / 2.46, L2 0 22 % / 2.64 (the floor comes back: +3 at rho 0), lr 3e-3 with
    # length-sorted batches 61 % / 2.34, and so with 64 blocks 64 % / 2.16, with 32 67 % / 2.02.
    # Checked once on never-used seeds (embedded 14, statespace 14-15, 25 points): 80 % / 1.08
    # against the run's own 76 % / 1.22; on the study's fresh seeds (embedded 12, statespace 12-13)
    # 60 % / 1.28 against 68 % / 1.25. So no more accurate, within the spread between corpus seeds
    # (70 % against 72 % over the 50 points), but a probe trains in about 1 s instead of 4-8 s:
    # the full default run took 14.8 min (887.7 s, published at e215c46), now 7.1 (426.5 s; 8.3
    # on a fresh clone with an empty compilation cache). The runs behind these figures are in
    # results/woellmer2012_probe_choice/.
    memoryless_hidden: int | None = 32
    memoryless_lr: float | None = 0.003
    memoryless_l2: float | None = None
    memoryless_by_length: bool | None = True
    seeds: int = 1                    # training seeds per fold and estimator (>1: extra models)
    # The smoother's counterpart of training seeds: fits per fold and condition, the first on all
    # training sequences, the others on bootstrap resamples of them; its count is their mean
    # (bagged). Its interval, whatever the draws, is the count at the ends of the first fit's λ
    # interval (a percentile bootstrap over the training speakers, `smoother.decay_interval`).
    smoother_draws: int = 1
    # What the smoother is fitted to: "rating", the ratings a task's classes are cut from (valence
    # for valence3; a category task has none and uses its classes), or "classes", the one-hot
    # classes. Its λ is the same for both in the model it assumes (`emojax.analysis.smoother`),
    # and a rating keeps more of the state than three levels do. Chosen on the choosing set
    # (embedded 1, 2, 20 with statespace 0-5, prototype; the shipped code on embedded 1, 2, 20:
    # within ±1 92 % against 89 %, RMSE 0.69 against 0.82). Checked once, declared before either
    # was seen, against the classes on the same never-used seeds (embedded 27-34, statespace 34-49;
    # 200 points): within ±1 179 against 173, mean |error| 0.43 against 0.54 (statespace 71 against
    # 64 of 80). Runs: results/woellmer2012_smoother_choice/.
    smoother_target: str = "rating"
    level: float = 0.95               # confidence level of the intervals (`interval`)

    def __post_init__(self):
        check("analysis.theta", self.theta, positive=True, at_most=1.0)
        if not self.estimators:
            raise ValueError("setting 'analysis.estimators': give at least one estimator")
        for e in self.estimators:
            check("analysis.estimators", e, choices=tuple(ESTIMATORS))
        check("analysis.recommended", self.recommended, choices=tuple(self.estimators))
        check("analysis.seeds", self.seeds, at_least=1)
        check("analysis.smoother_draws", self.smoother_draws, at_least=1)
        check("analysis.smoother_target", self.smoother_target, choices=SMOOTHER_TARGETS)
        check("analysis.level", self.level, positive=True, below=1.0)
        check("analysis.memoryless_forget_bias", self.memoryless_forget_bias)
        if self.memoryless_hidden is not None:
            check("analysis.memoryless_hidden", self.memoryless_hidden, at_least=1)
        if self.memoryless_lr is not None:
            check("analysis.memoryless_lr", self.memoryless_lr, positive=True)
        if self.memoryless_l2 is not None:
            check("analysis.memoryless_l2", self.memoryless_l2, at_least=0.0)
        if self.memoryless_by_length is not None and not isinstance(self.memoryless_by_length, bool):
            raise ValueError("setting 'analysis.memoryless_by_length': "
                             f"{self.memoryless_by_length!r} is not true, false or null")
        for t in self.thetas:
            check("analysis.thetas", t, positive=True, at_most=1.0)
        check("analysis.mode", self.mode, choices=("auto", "fwd", "rev"))
        if not re.fullmatch(r"ge\d+", self.position):
            raise ValueError(f"setting 'analysis.position': {self.position!r} is not ge<N> "
                             "(output steps with at least N predecessors), e.g. ge10")

    @property
    def min_predecessors(self) -> int:
        return int(self.position[2:])


def _test_sequences(corpus, fold_rec, order_seqs):
    """(X (T_i, F_sel), dialog_turns) for the fold's test sequences, normalised as in training."""
    mu, sd = np.asarray(fold_rec["mu"]), np.asarray(fold_rec["sd"])
    sel = np.asarray(fold_rec["selected"])
    test = set(fold_rec["test_speakers"])
    out = []
    for s in order_seqs:
        if corpus.speaker[s[0]] in test:
            x = ((corpus.features[s] - mu[None]) / sd[None])[:, sel].astype(np.float32)
            out.append((x, s))
    return out


def jacobian_batches(params, xs_list, width: int, *, mode: str = "auto", batch: int = 16,
                     directions: bool = False):
    """Yield ``(chunk, J (B, T, K, T, F_real))``: the Wöllmer BLSTM's sequential Jacobians of the
    sequences `xs_list`, `batch` at a time, zero-padded in time and to `width` input columns; with
    ``directions`` ``J (B, T, K, T, 2, F_real)``: the parts carried by the first layer's forward and
    backward directions (`emojax.models.woellmer.apply_directions`; they add up to J).

    The padding columns reach no output (their inputs are zero), but their derivatives are not
    zero: their first-layer weights are untrained initial values (shrunk by L2). So J keeps the
    real features only: the first ``x.shape[1]`` columns."""
    import jax.numpy as jnp

    from emojax.analysis.jacobian import batched_sequential_jacobian
    from emojax.data.batching import pad_batch
    from emojax.models import woellmer as model
    for i in range(0, len(xs_list), batch):
        chunk = xs_list[i:i + batch]
        b = pad_batch([{"x": x} for x in chunk], batch, width)
        n_real = max(x.shape[1] for x in chunk)
        x = jnp.asarray(b["x"])
        fn = model.apply_directions if directions else model.apply
        if directions:
            x = jnp.concatenate([x, x], -1)
        # chunked per mode inside (forward mode holds T*F tangents per sequence)
        J = batched_sequential_jacobian(fn, params, x, jnp.asarray(b["mask"]), mode=mode)
        if directions:
            J = jnp.stack([J[..., :n_real], J[..., width:width + n_real]], axis=-2)
        yield chunk, J[..., :n_real]


def model_sensitivities(params, xs_list, width: int, *, mode: str = "auto", batch: int = 16,
                        directions: bool = False):
    """S (T_i, T_i) per sequence for the Wöllmer BLSTM (`jacobian_batches`, summed over the real
    features and the classes); with ``directions`` (2, T_i, T_i): per first-layer direction."""
    got = readings(params, xs_list, width, mode=mode, batch=batch, whole=not directions,
                   directions=directions)
    return got["directions" if directions else "whole"]


def readings(params, xs_list, width: int, *, mode: str = "auto", batch: int = 16,
             whole: bool = True, directions: bool = True) -> dict:
    """The sensitivities read whole and/or per direction from one Jacobian pass: ``{"whole":
    [S (T_i, T_i)], "directions": [S (2, T_i, T_i)]}`` (with both, the whole Jacobian is the sum
    of the directions' parts; whole alone differentiates `apply` itself)."""
    from emojax.analysis.jacobian import sensitivity
    out = {k: [] for k, on in (("whole", whole), ("directions", directions)) if on}
    for chunk, J in jacobian_batches(params, xs_list, width, mode=mode, batch=batch,
                                     directions=directions):
        S = {}
        if directions:                                     # (B, T, K, T, 2, F) -> (B, 2, T, T)
            S["directions"] = np.stack([np.asarray(sensitivity(J[..., d, :])) for d in (0, 1)], 1)
        if whole:
            S["whole"] = np.asarray(sensitivity(J[..., 0, :] + J[..., 1, :] if directions else J))
        for k, v in S.items():
            out[k] += [v[j, ..., :len(x), :len(x)] for j, x in enumerate(chunk)]
    return out


def estimator_model(model_cfg, acfg: AnalysisConfig, est: str):
    """The model settings behind estimator `est`: the run's own for the paper's network
    (``paper``, ``directional``), its forget-gate bias replaced by
    ``analysis.memoryless_forget_bias`` (and its size by ``analysis.memoryless_hidden`` where
    given) for the probe's (``memoryless``, ``memoryless_directional``)."""
    if NETWORK[est] == "paper":
        return model_cfg
    hidden = model_cfg.hidden if acfg.memoryless_hidden is None else acfg.memoryless_hidden
    return dataclasses.replace(model_cfg, forget_bias=acfg.memoryless_forget_bias, hidden=hidden)


def estimator_train(train_cfg, acfg: AnalysisConfig, est: str):
    """The training settings behind estimator `est`: the run's own for the paper's network, with
    ``analysis.memoryless_{lr,l2,by_length}`` where given for the probe's (a given L2 replaces
    ``train.l2_grid`` too: the probe is trained with that L2)."""
    if NETWORK[est] == "paper":
        return train_cfg
    own = {"lr": acfg.memoryless_lr, "l2": acfg.memoryless_l2, "by_length": acfg.memoryless_by_length}
    if acfg.memoryless_l2 is not None:
        own["l2_grid"] = ()
    return dataclasses.replace(train_cfg, **{k: v for k, v in own.items() if v is not None})


def estimator_config(cfg, est: str):
    """The Wöllmer settings `cfg` the network behind estimator `est` is trained with: its model
    (`estimator_model`) and training (`estimator_train`) from ``cfg.analysis``."""
    return dataclasses.replace(cfg, model=estimator_model(cfg.model, cfg.analysis, est),
                               train=estimator_train(cfg.train, cfg.analysis, est))


def draws(acfg: AnalysisConfig, net: str) -> int:
    """How many models network `net` is read on per fold and condition: ``analysis.seeds``
    training seeds, or for the smoother ``analysis.smoother_draws`` fits."""
    return acfg.smoother_draws if net == "smoother" else acfg.seeds


def seed_offset(est: str, k: int) -> int:
    """Added to a fold's training seed for estimator `est`, training seed index `k` (k = 0 of the
    paper's network is the run's own model)."""
    return 104729 * k + (0 if NETWORK[est] == "paper" else 7)


def reads_directions(est: str) -> bool:
    """Whether estimator `est` reads the sensitivity per direction (S (2, T, T))."""
    return est in ("directional", "memoryless_directional")


def by_network(estimators) -> dict[str, list[str]]:
    """``{network: [its estimators]}`` in the order given: each network is trained (or loaded) once
    and read by `read_estimators` for all of its estimators."""
    out: dict[str, list[str]] = {}
    for est in estimators:
        out.setdefault(NETWORK[est], []).append(est)
    return out


def read_estimators(params, xs_list, width: int, ests, *, mode: str = "auto") -> dict:
    """``{estimator: [S per sequence]}`` for the estimators `ests` of one network, from one
    Jacobian pass (`readings`)."""
    got = readings(params, xs_list, width, mode=mode,
                   whole=any(not reads_directions(e) for e in ests),
                   directions=any(reads_directions(e) for e in ests))
    return {e: got["directions" if reads_directions(e) else "whole"] for e in ests}


def _known_answer(corpus, assume: dict | None = None):
    """(oracle module, its parameters) of a corpus with a known answer, with the fields of
    `assume` (e.g. ``{"rho": 0.8}``) replaced: the smoother of a model that assumes them; else
    None."""
    kind = corpus.params.get("kind")
    if kind == "synthetic":
        from emojax.data import synthetic as O
    elif kind == "statespace":
        from emojax.data import statespace as O
    else:
        return None
    return O, dataclasses.replace(O.params_of(corpus), **(assume or {}))


def _oracle(corpus, assume: dict | None = None):
    """``(turns, *, shuffled, dims) -> S`` for a corpus with a known answer (of the smoother that
    assumes `assume`, as `_known_answer`), else None."""
    got = _known_answer(corpus, assume)
    if got is None:
        return None
    O, sp = got
    return lambda turns, **kw: O.oracle_sensitivity(sp, turns, **kw)


def _oracle_estimate(corpus, assume: dict | None = None):
    """``(x (T, F) as generated, turns) -> E[z | x] (T, 2)``, the Bayes-optimal smoother's
    estimate of the latent state (of the smoother that assumes `assume`), for a corpus with a known
    answer, else None."""
    got = _known_answer(corpus, assume)
    if got is None:
        return None
    O, sp = got
    if corpus.params.get("kind") == "synthetic":
        return lambda x, turns: O.oracle_estimate(sp, x, turns)
    return lambda x, turns: np.einsum("akbi,bi->ak", O.smoother_matrix(sp, len(x)), x)


def oracle_estimates(corpus, seqs, task: str, assume: dict | None = None) -> list | None:
    """Per sequence of `seqs`, the smoother's estimate of the task's latent dimensions (T_i, D)
    (`_oracle_estimate`, of the smoother that assumes `assume`); None without an oracle."""
    est = _oracle_estimate(corpus, assume)
    if est is None:
        return None
    dims = list(TASK_DIMS.get(task, (0, 1)))
    turns = corpus.extras["dialog_turn"]
    return [est(corpus.features[s], turns[s])[:, dims] for s in seqs]


def oracle_f1(corpus, prep, seqs, task: str) -> float | None:
    """Macro F1 on the fold's test sequences of a classifier that sees the Bayes-optimal smoother's
    estimate of the task's latent dimensions (`estimate_scores`: multinomial logistic regression
    fitted on the training speakers): what a model using exactly the true context reaches, for
    comparison with the BLSTM's F1. None for a corpus without an oracle."""
    Z = oracle_estimates(corpus, seqs, task)
    return None if Z is None else estimate_scores(Z, prep, seqs)["f1"]


def estimate_scores(Z: list, prep, seqs) -> dict:
    """``{"f1", "xent"}`` on the fold's test sequences of a multinomial logistic regression on the
    per-sequence estimates `Z` (T_i, D), fitted on the training speakers' sequences."""
    from sklearn.linear_model import LogisticRegression

    from emojax.train.metrics import scores
    fit = [i for i, p in enumerate(prep["part"]) if p != "test"]
    test = [i for i, p in enumerate(prep["part"]) if p == "test"]
    y = prep["y"]
    clf = LogisticRegression(max_iter=1000).fit(np.concatenate([Z[i] for i in fit]),
                                                np.concatenate([y[seqs[i]] for i in fit]))
    zt, yt = np.concatenate([Z[i] for i in test]), np.concatenate([y[seqs[i]] for i in test])
    prob = clf.predict_proba(zt)
    col = {c: j for j, c in enumerate(clf.classes_)}
    p_true = np.array([prob[k, col[c]] if c in col else 0.0 for k, c in enumerate(yt)])
    return {"f1": scores(yt, clf.predict(zt), prep["n_classes"])["f1"],
            "xent": float(-np.mean(np.log(np.maximum(p_true, 1e-12))))}


# the latent dimensions a task's labels depend on (valence 0, activation 1)
TASK_DIMS = {"valence3": (0,), "activation3": (1,)}


def _probe_params(wd, cfg, corpus, seqs, seq_speaker, rec, task, fold, clf, est, k, preps, bar):
    """The parameters behind estimator `est`, training seed index `k` of one fold and condition:
    the run's own checkpoint for the paper's count at k = 0, else a model trained here and kept
    in the workdir's ``probes/`` under a name that fingerprints everything that made it (a rerun
    reuses it; a lost or unreadable one is trained again)."""
    import jax

    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.runner import fingerprint
    from emojax.models import woellmer as model
    from emojax.train.checkpoint import load_params, save_params
    ecfg = estimator_config(cfg, est)
    like = model.init_from(ecfg.model, jax.random.PRNGKey(0), rec["width"], rec["n_classes"])
    if NETWORK[est] == "paper" and k == 0:
        return load_params(wd.checkpoint(W.checkpoint_name(task, fold, clf)), like)
    run_seqs, seed = W._condition(seqs, clf, cfg, fold)
    seed += seed_offset(est, k)
    content = W.piece_settings(cfg, corpus)
    # the probe's own training settings, where they differ from the run's (in `content`)
    own = {} if ecfg.train == cfg.train else {"probe_train": dataclasses.asdict(ecfg.train)}
    name = (f"{W.checkpoint_name(task, fold, clf)}_{NETWORK[est]}_s{k}_"
            + fingerprint({**content, "model": dataclasses.asdict(ecfg.model), "task": task,
                           "test_speakers": rec["test_speakers"], "seed": seed, **own}))
    if wd.probe(name).exists():
        try:
            return load_params(wd.probe(name), like)
        except ValueError:
            pass                                  # unreadable (interrupted write): train again
    prep = _fold_prep(preps, corpus, seqs, seq_speaker, rec, cfg)
    params, _, _ = W.train_blstm(prep, run_seqs, ecfg, rec["width"], seed, bar)
    save_params(wd.probe(name), params)
    return params


def _fold_prep(preps: dict, corpus, seqs, seq_speaker, rec: dict, cfg):
    """`woellmer2012.prepare_fold` of the fold record `rec`, kept in `preps` under (task, fold)
    until another fold's is asked for (units come to a process fold by fold)."""
    from emojax.experiments import woellmer2012 as W
    key = (rec["task"], rec["fold"])
    if key not in preps:
        preps.clear()
        preps[key] = W.prepare_fold(corpus, seqs, seq_speaker, rec["task"], rec["test_speakers"],
                                    cfg, rec["fold"])
    return preps[key]


# Readings at the ends of an estimator's own interval (the smoother's), beside its matrices:
# ``{est: [S], f"{est}:low": [S], f"{est}:high": [S]}``.
ENDS = ("low", "high")


def split_ends(read: dict) -> tuple[dict, dict]:
    """A unit's readings ``{name: [S]}`` -> ``({estimator: [S]}, {estimator: {"low": [S],
    "high": [S]}})``: the readings at the ends of an estimator's interval (``"<est>:low"``,
    ``"<est>:high"``) apart."""
    main, ends = {}, {}
    for name, S in read.items():
        est, _, side = name.partition(":")
        if side:
            ends.setdefault(est, {})[side] = S
        else:
            main[est] = S
    return main, ends


def network_settings(acfg: AnalysisConfig) -> dict:
    """The analysis settings that reach a trained network's readings: all but which estimators a
    run reports (``estimators``, ``recommended``) and the smoother's own (``smoother_*``, a fit
    with no network)."""
    return {k: v for k, v in dataclasses.asdict(acfg).items()
            if k not in ("estimators", "recommended") and not k.startswith("smoother_")}


def extend_ends(into: dict, key, sides: dict) -> None:
    """Add one unit's readings at an estimator's interval ends (``{"low": [S], "high": [S]}``,
    from `split_ends`) to ``into[key]``."""
    acc = into.setdefault(key, {e: [] for e in ENDS})
    for side, S in sides.items():
        acc[side].extend(S)


def smoother_readings(prep, run_seqs, speaker, lengths, k: int, seed: int,
                      level: float | None = None, target: str = "rating"
                      ) -> dict[str, list[np.ndarray]]:
    """The `smoother` estimator's sensitivity matrices, one per test sequence length in `lengths`:
    the first-order smoother (`emojax.analysis.smoother`) fitted to the fold's training speakers'
    sequences in the order `run_seqs` gives them (`prep`: `woellmer2012.prepare_fold`). Draw
    ``k = 0`` fits all of them; ``k >= 1`` (``analysis.smoother_draws``) a bootstrap resample of
    the sequences (seeded by `seed` and k), the smoother's counterpart of another training seed.
    ``{"smoother": [S]}``; with a `level`, draw 0 adds the matrices at the ends of λ's interval
    (``"smoother:low"``, ``"smoother:high"``, `ENDS`; resamples of the speakers seeded by `seed`).
    `target` (``analysis.smoother_target``): what it is fitted to, the ratings behind the task's
    classes (``"rating"``, where the task has them) or the one-hot classes."""
    from emojax.analysis.smoother import FirstOrderSmoother, fit_first_order, one_hot
    train = [s for s, part in zip(run_seqs, prep["part"]) if part != "test"]
    pick = (np.random.default_rng([seed, k]).integers(0, len(train), len(train)) if k
            else np.arange(len(train)))
    train = [train[i] for i in pick]
    ratings = prep["ratings"] if target == "rating" else None
    targets = ([ratings[s] for s in train] if ratings is not None
               else one_hot([prep["y"][s] for s in train], prep["n_classes"]))
    fit = fit_first_order([prep["X"][s] for s in train], targets, [speaker[s[0]] for s in train],
                          ids=pick, level=None if k else level, seed=seed)
    out = {"smoother": [fit.sensitivity(L) for L in lengths]}
    if level is not None and not k:
        for side, lam in zip(ENDS, (fit.decay_low, fit.decay_high)):
            end = FirstOrderSmoother(lam, fit.weights, fit.intercept)
            out[f"smoother:{side}"] = [end.sensitivity(L) for L in lengths]
    return out


def _unit_key(task: str, fold: int, clf: str, net: str, k: int) -> str:
    return f"{task}|{fold}|{clf}|{net}|{k}"


def _reader(wd, cfg, corpus, fold_records: list[dict]):
    """``compute(keys, bar)`` over analysis units (`_unit_key`): each unit's network trained or
    loaded (`_probe_params`) and read for its estimators -> ``(key, {estimator: [S per test
    sequence]})``, a smoother unit's also with the readings at the ends of its interval
    (``"smoother:low"``, ``"smoother:high"``). The same function runs here or in a worker
    (`worker_reader`)."""
    from emojax.experiments import woellmer2012 as W
    folds = {(r["task"], r["fold"]): r for r in fold_records}
    seqs = data.sequences(corpus)
    seq_speaker = np.array([corpus.speaker[s[0]] for s in seqs])
    shuffled_seqs = W.shuffle_within(seqs, cfg.seed + 1000)
    networks = by_network(cfg.analysis.estimators)
    preps: dict = {}

    def compute(keys, bar):
        for key in keys:
            task, f, clf, net, k = key.split("|")
            f, k = int(f), int(k)
            rec = folds[(task, f)]
            test = _test_sequences(corpus, rec, seqs if clf == "blstm" else shuffled_seqs)
            if net == "smoother":
                run_seqs, seed = W._condition(seqs, clf, cfg, f)
                yield key, smoother_readings(
                    _fold_prep(preps, corpus, seqs, seq_speaker, rec, cfg), run_seqs,
                    corpus.speaker, [len(x) for x, _ in test], k, seed, cfg.analysis.level,
                    cfg.analysis.smoother_target)
                continue
            params = _probe_params(wd, cfg, corpus, seqs, seq_speaker, rec, task, f, clf,
                                   networks[net][0], k, preps, None)
            yield key, read_estimators(params, [x for x, _ in test], rec["width"], networks[net],
                                       mode=cfg.analysis.mode)
    return compute


def worker_reader(cfg, workdir: str, fold_records: list[dict]):
    """`_reader` built afresh in a worker process (`emojax.experiments.pool`); the probes it trains
    are written to the workdir's ``probes/`` as in one process."""
    from emojax.experiments import woellmer2012 as W
    from emojax.experiments.runner import Workdir
    return _reader(Workdir(Path(workdir)), cfg, W.load_corpus(cfg), fold_records)


def analyze_workdir(wd, cfg, corpus, fold_records: list[dict], *, progress: bool = True,
                    workers: int = 1) -> dict:
    """Context records, curves and figures from the checkpoints of the folds `fold_records` of a
    finished run in `wd` (an open `emojax.experiments.runner.Workdir`), with ``cfg.analysis``:
    every estimator of ``analysis.estimators`` over ``analysis.seeds`` training seeds (models the
    run did not train are trained here once and kept in the workdir). With ``workers > 1`` the
    networks are trained and read in that many processes (`emojax.experiments.pool`), with the
    same numbers."""
    from tqdm.auto import tqdm

    from emojax.experiments import woellmer2012 as W
    folds = {(r["task"], r["fold"]): r for r in fold_records}
    if not folds:
        raise ValueError(f"{wd.path}: no finished folds to analyse")
    acfg = cfg.analysis
    seqs = data.sequences(corpus)
    conditions = [c for c in W.BLSTMS if c in cfg.classifiers]
    networks = by_network(acfg.estimators)
    units = [(t, f, c, n, k) for (t, f) in sorted(folds) for c in conditions
             for n in networks for k in range(draws(acfg, n))]
    keys = [_unit_key(*u) for u in units]
    read: dict = {}
    bar = tqdm(total=len(keys), desc="sequential Jacobians", disable=not progress, unit="model")
    by_fold: dict = {}                # a fold's units in one worker: its features prepared once
    for u, key in zip(units, keys):
        by_fold.setdefault(u[:2], []).append(key)
    if workers > 1 and len(by_fold) > 1 and wd.writer:
        from emojax.experiments import pool
        bar.set_description(f"sequential Jacobians ({min(workers, len(by_fold))} workers)")
        done = pool.compute((__name__, "worker_reader", (cfg, str(wd.path), fold_records)),
                            list(by_fold.values()), workers)
    else:
        done = ((k, r, None) for k, r in _reader(wd, cfg, corpus, fold_records)(keys, None))
    try:
        for key, result, _ in done:
            read[key] = result
            bar.update(1)
    finally:
        bar.close()
    S_by = {}                        # (task, condition, estimator) -> [[S per test sequence] per seed]
    ends = {}                        # (task, condition, estimator) -> {"low": [S], "high": [S]}
    for (task, f, clf, net, k), key in zip(units, keys):
        cond = "ordered" if clf == "blstm" else "shuffled"
        for est in acfg.estimators:                   # records keep the estimators' order
            S_by.setdefault((task, cond, est), [[] for _ in range(draws(acfg, NETWORK[est]))])
        main, at_ends = split_ends(read[key])
        for est, S in main.items():
            S_by[(task, cond, est)][k].extend(S)
        for est, sides in at_ends.items():
            extend_ends(ends, (task, cond, est), sides)
    example = None                   # (J, S, x) of one 30-utterance sequence for Fig. 1
    fig1 = next(((t, f) for t, f, c, n, k in units
                 if c == "blstm" and k == 0 and "paper" in networks.get(n, ()) and t == _fig1_task(cfg)),
                None)
    if fig1 is not None:
        rec = folds[fig1]
        params = _probe_params(wd, cfg, corpus, seqs, None, rec, fig1[0], fig1[1], "blstm", "paper",
                               0, {}, None)
        example = _fig1_example(params, _test_sequences(corpus, rec, seqs), rec["width"])
    oracle = _oracle(corpus)
    if oracle is not None:
        test_spk = {s for r in folds.values() for s in r["test_speakers"]}
        turns = [corpus.extras["dialog_turn"][s] for s in seqs if corpus.speaker[s[0]] in test_spk]
        for task in sorted({t for t, _ in folds}, key=list(cfg.tasks).index):
            dims = TASK_DIMS.get(task, (0, 1))
            S_by[(task, "oracle", "paper")] = [[oracle(t, dims=dims) for t in turns]]
            if corpus.params.get("kind") == "synthetic":
                S_by[(task, "oracle_shuffled", "paper")] = [
                    [oracle(t, shuffled=True, dims=dims) for t in turns]]
    return _write(wd.results, cfg, corpus, S_by, example, ends)


def _fig1_task(cfg) -> str:
    return "cluster5" if "cluster5" in cfg.tasks else cfg.tasks[0]


def _fig1_example(params, test, width):
    """The sequential Jacobian of the first test sequence with 30 utterances (else the longest)."""
    import jax.numpy as jnp

    from emojax.analysis.jacobian import sequential_jacobian
    from emojax.models import woellmer as model
    xs = [x for x, _ in test]
    pick = next((x for x in xs if len(x) == 30), max(xs, key=len))
    pad = np.zeros((len(pick), width), np.float32)
    pad[:, :pick.shape[1]] = pick
    J = sequential_jacobian(model.apply, params, jnp.asarray(pad), jnp.ones(len(pick), bool))
    return np.asarray(J)[:, :, :, :pick.shape[1]]


def context_figures(S: list, acfg: AnalysisConfig) -> dict:
    """Mean past/future context at θ over the position rule's steps and over all steps, lag-1
    relative sensitivity and the fitted decay of the past profile, for the matrices `S`."""
    from emojax.analysis import context as ctx
    th = ctx.context_vs_threshold(S, [acfg.theta], min_predecessors=acfg.min_predecessors)
    offs, prof = ctx.sensitivity_profile(S, MAX_OFFSET)[:2]
    lam, lag1 = ctx.decay_rate(offs, prof, max_distance=10)
    return {"past": float(th["past_ge"][0]), "future": float(th["future_ge"][0]),
            "past_all": float(th["past_all"][0]), "future_all": float(th["future_all"][0]),
            "lag1": float(lag1), "decay": float(lam)}


def _pooled(per_seed: list) -> list:
    return [S for seed in per_seed for S in seed]


def interval(per_seed: list, acfg: AnalysisConfig, theta: float | None = None,
             min_predecessors: int | None = None, ends: dict | None = None) -> dict:
    """`emojax.analysis.context.context_interval` of matrices measured on several seeds (the same
    test sequences in each; or their `count_table`s), at θ (``acfg.theta`` by default) over the
    position rule's steps. With `ends` (``{"low": [S], "high": [S]}``, an estimator's readings at
    the ends of its own interval, the smoother's) the interval is their two counts instead,
    widened to hold the estimate (the mean over `per_seed`, which several fits may move)."""
    from emojax.analysis import context as ctx
    th = acfg.theta if theta is None else theta
    mp = acfg.min_predecessors if min_predecessors is None else min_predecessors
    counts = np.stack([ctx.step_counts(S, th, min_predecessors=mp) for S in per_seed])
    if ends is None:
        return ctx.context_interval(counts, level=acfg.level)
    mean = lambda c: c[:2] / c[2] if c[2] else np.full(2, np.nan)       # noqa: E731
    point = mean(counts.sum(axis=(0, 1)))
    lo, hi = (mean(ctx.step_counts(ends[e], th, min_predecessors=mp).sum(0)) for e in ENDS)
    lo, hi = np.fmin(lo, point), np.fmax(hi, point)
    return {"past": float(point[0]), "future": float(point[1]),
            "past_low": float(lo[0]), "past_high": float(hi[0]),
            "future_low": float(lo[1]), "future_high": float(hi[1])}


def summarise(S_by: dict, acfg: AnalysisConfig, ends: dict | None = None) -> dict:
    """Per (task, condition, estimator): `context_figures` and the interval of the counts (`ends`:
    `interval`'s, per key of `S_by` that has them), keyed ``past_<position>`` etc.; the paper's
    estimator under ``task/condition``, others under ``task/condition/estimator``."""
    pos = acfg.position
    ends = ends or {}
    out = {}
    for (task, cond, est), per_seed in S_by.items():
        S = _pooled(per_seed)
        v = context_figures(S, acfg)
        ci = interval(per_seed, acfg, ends=ends.get((task, cond, est)))
        key = f"{task}/{cond}" if est == "paper" else f"{task}/{cond}/{est}"
        out[key] = {
            "task": task, "condition": cond, "estimator": est, "n_sequences": len(per_seed[0]),
            "seeds": len(per_seed),
            f"past_{pos}": v["past"], f"future_{pos}": v["future"],
            f"past_{pos}_low": ci["past_low"], f"past_{pos}_high": ci["past_high"],
            f"future_{pos}_low": ci["future_low"], f"future_{pos}_high": ci["future_high"],
            "past_all": v["past_all"], "future_all": v["future_all"],
            "lag1": v["lag1"], "decay": v["decay"], "theta": acfg.theta, "position": pos,
            "level": acfg.level}
    return out


def _records(S_by: dict, acfg: AnalysisConfig, thetas, ends: dict) -> list[dict]:
    """context.json records: per estimator, the position curves and the two means, each mean
    with its interval (``past_low`` ... ``future_high``, ``level``, ``seeds``; `ends`: see
    `interval`)."""
    from emojax.analysis import context as ctx
    records = []
    for (task, cond, est), per_seed in S_by.items():
        per_seed = [ctx.count_table(S, thetas) for S in per_seed]    # each matrix read once
        end = ends.get((task, cond, est))
        end = end and {side: ctx.count_table(S, thetas) for side, S in end.items()}
        recs = ctx.context_records(ctx.merge_tables(per_seed), task=task, condition=cond,
                                   thetas=thetas, min_predecessors=acfg.min_predecessors)
        for r in recs:
            r["estimator"] = est
            if isinstance(r["position"], str):
                mp = 0 if r["position"] == "all" else acfg.min_predecessors
                ci = interval(per_seed, acfg, r["theta"], mp, end)
                r.update({k: ci[k] for k in ("past_low", "past_high", "future_low", "future_high")},
                         level=acfg.level, seeds=len(per_seed))
        records += recs
    return records


def _write(outdir: Path, cfg, corpus, S_by, example, ends: dict) -> dict:
    from emojax.analysis import context as ctx
    from emojax.analysis import plots
    from emojax.analysis.smoother import constants as smoother_constants
    from emojax.experiments import results as R
    acfg = cfg.analysis
    outdir.mkdir(parents=True, exist_ok=True)
    thetas = sorted(set(acfg.thetas) | {acfg.theta})
    records = _records(S_by, acfg, thetas, ends)
    meta = {"experiment": "woellmer2012", "analysis": "sequential_jacobian", "corpus": corpus.params,
            "config": {"tasks": list(cfg.tasks), "model": dataclasses.asdict(cfg.model),
                       "train": dataclasses.asdict(cfg.train), "analysis": dataclasses.asdict(acfg)},
            "thetas": thetas, "oracle": _oracle(corpus) is not None,
            "estimators": {e: ESTIMATORS[e] for e in acfg.estimators},
            "recommended_estimator": acfg.recommended,
            **({"smoother": smoother_constants()} if "smoother" in acfg.estimators else {})}
    (outdir / "context.json").write_text(R.records_json(meta, records))
    summary = summarise(S_by, acfg, ends)
    (outdir / "context_summary.json").write_text(json.dumps(summary, indent=1))
    cols = ["task", "condition", "estimator", "theta", "position", "past", "future", "n",
            "past_low", "past_high", "future_low", "future_high"]
    row = lambda r: [r["task"], r["condition"], r["estimator"], r["theta"], r["position"],  # noqa: E731
                     f"{r['past']:.4f}", f"{r['future']:.4f}", r["n"],
                     *(f"{r[k]:.4f}" if k in r else "" for k in cols[-4:])]
    R.write_csv(outdir / "context_position.csv", cols,
                (row(r) for r in records if r["theta"] == acfg.theta and isinstance(r["position"], int)))
    R.write_csv(outdir / "context_threshold.csv", cols,
                (row(r) for r in records if not isinstance(r["position"], int)))
    profile = []
    for (task, cond, est), per_seed in S_by.items():
        offs, prof = ctx.sensitivity_profile(_pooled(per_seed), MAX_OFFSET)[:2]
        profile += [[task, cond, est, int(o), f"{p:.6f}"] for o, p in zip(offs, prof)]
    R.write_csv(outdir / "context_profile.csv",
                ["task", "condition", "estimator", "offset", "relative_sensitivity"], profile)
    fig_task = _fig1_task(cfg)
    if example is not None:
        plots.fig1_jacobian(example, outdir / "fig1_jacobian.png", task=fig_task, theta=acfg.theta)
    paper = [r for r in records if r["estimator"] == "paper"]
    plots.fig2_context_position(paper, outdir / "fig2_context_position.png", task=fig_task,
                                theta=acfg.theta)
    plots.fig3_context_threshold(records, outdir / "fig3_context_threshold.png",
                                 position=acfg.position)
    (outdir / "context.md").write_text(context_markdown(summary, corpus, acfg))
    return {"records": records, "summary": summary}


def context_markdown(summary: dict, corpus, acfg: AnalysisConfig) -> str:
    from emojax.analysis.context import resolved
    from emojax.experiments.results import markdown_table
    pos = acfg.position
    pct = f"{100 * acfg.level:g} %"
    over = "test sequences and training seeds" if acfg.seeds > 1 else "test sequences (one training seed)"
    if "smoother" in acfg.estimators:
        over += ("; the smoother's: its count at the ends of its decay's interval (a bootstrap over "
                 "the training speakers)" + (f"; its count is the mean over {acfg.smoother_draws} "
                                             "fits (all training sequences and bootstrap resamples "
                                             "of them)" if acfg.smoother_draws > 1 else ""))
    lines = ["# Wöllmer et al. 2012 §5.2 — context used by the BLSTM", "",
             f"Corpus `{corpus.name}`. Counts of past/future utterances whose sensitivity is at "
             f"least {100 * acfg.theta:g} % of the row maximum; `{pos}` = output steps with at least "
             f"{acfg.min_predecessors} predecessors, with the {pct} interval over {over} "
             f"in brackets; lag-1 = mean S[t, t-1] / S[t, t] (per-direction readings: of the "
             f"forward part); decay = fitted "
             "geometric rate of the past profile. Estimators: "
             + "; ".join(f"`{e}` — {ESTIMATORS[e]}" for e in acfg.estimators)
             + f". Recommended: `{acfg.recommended}`."
             + (" The smoother is fitted to " + ("the ratings the task's classes are cut from "
                                                 "(its classes where it has none)"
                                                 if acfg.smoother_target == "rating"
                                                 else "the task's classes") + "."
                if "smoother" in acfg.estimators else "")
             + (" The smoother models a context that decays with distance; in the shuffled "
                "condition, where every other utterance is about equally informative, it cannot "
                "represent the truth: read the networks there." if "smoother" in acfg.estimators
                else "")
             + f" ±1: whether the past ({pos}) count's interval lies within ±1 of it (resolved to "
             "±1); a network's interval leaves out its bias, so it can be resolved and wrong "
             "(`emojax reproduce woellmer2012_study` measures both against known truths).", ""]
    order = {e: i for i, e in enumerate(dict.fromkeys([acfg.recommended, *acfg.estimators]))}
    rows = sorted(summary.values(), key=lambda v: (v["condition"].startswith("oracle"), v["task"],
                                                   v["condition"], order.get(v["estimator"], -1)))

    def ci(v, side):
        return (f"{v[f'{side}_{pos}']:.2f} [{v[f'{side}_{pos}_low']:.2f}, "
                f"{v[f'{side}_{pos}_high']:.2f}]")

    def resolved_cell(v):
        if v["condition"].startswith("oracle") or not np.isfinite(v[f"past_{pos}"]):
            return "–"
        return "yes" if resolved(v[f"past_{pos}"], v[f"past_{pos}_low"], v[f"past_{pos}_high"]) \
            else "no"
    lines += markdown_table(
        ["task", "condition", "estimator", f"past ({pos})", "±1", f"future ({pos})", "past (all)",
         "future (all)", "lag-1", "decay", "sequences", "seeds"],
        [[v["task"], v["condition"], "truth" if v["condition"].startswith("oracle") else v["estimator"],
          ci(v, "past"), resolved_cell(v), ci(v, "future"), f"{v['past_all']:.2f}",
          f"{v['future_all']:.2f}", f"{v['lag1']:.3f}", f"{v['decay']:.3f}", str(v["n_sequences"]),
          str(v["seeds"])]
         for v in rows])
    lines += ["", "The paper (IEMOCAP, five clusters, Fig. 2; §6): " + "; ".join(
        f"{k.replace('_', ' ')}: {v}" for k, v in PAPER_CONTEXT.items()) + "."]
    if _oracle(corpus) is None:
        lines += ["", "No oracle: the true context of this corpus is unknown."]
    return "\n".join(lines) + "\n"
