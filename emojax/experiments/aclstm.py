"""Hsu & Wu, Table 3 and Fig. 7: feature-level fusion, decision-level fusion, the coupled LSTM and the
attentively-coupled LSTM on segments of audio-visual clips, seven emotion classes.

  emojax reproduce aclstm                 # the embedded segment corpus (emojax.data.segments)
  emojax reproduce aclstm:quick           # a tiny corpus, the same code path (what the tests run)
  emojax reproduce aclstm --corpus segtable:PATH.csv     # a user's segment table

Writes WORKDIR/results/table3.{json,md}, fig7_confusion.png and run.json; the full default run
publishes them to results/aclstm/.

Protocol (emojax's; the paper states no folds, only "± std"):
- the paper's BAUM-1 re-segmentation and per-modality labels are not public: the default corpus is
  the embedded segment corpus (1,457 clips as BAUM-1, seven classes, audio/visual/audio-visual
  labels that agree with probability 0.8 per modality; `emojax.data.segments`);
- folds: one per ``session`` of the corpus (the embedded corpus: 5 sessions of 2 speakers, so
  speaker-independent); within a fold the next session (cyclically) is the validation split, on
  which every network is early-stopped; the rest trains;
- per fold, as the paper's pipeline (Fig. 1): frames z-scored with the training frames; the audio
  emotion CNN trained on the verbal training segments with their audio labels (kernel 64, 300
  filters, Table 2), the sound-type CNN on all training segments (kernel 32, 700 filters), the
  visual frame network on the training frames with their segment's visual label; their hidden
  vectors (128 each) are each segment's features (z-scored with the training segments'); the
  NTN (tensor dimension 5) trained separately on [audio emotion | visual] features with target
  "audio label = visual label"; its σ-bounded score s feeds eq. 5;
- the four fusion models (`emojax.models.aclstm`) over the segments of each clip, hidden 128,
  targets the audio-visual labels; Adam (the paper names none), dropout 0.3 on hidden layers;
- reported: accuracy (the paper's "Acc."), UA and macro-F1 over the test segments, mean ± std over
  folds (ddof 1); accuracy separately where the segment's audio and visual labels agree and where
  they disagree, and on the test clips with their segments in a random order (no retraining: how
  much each model relies on the order); the pooled confusion matrix of the ACLSTM (Fig. 7). AVEF (the paper's AlexNet +
  C3D + DBN system) is printed from the paper, not re-implemented.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from pathlib import Path

import numpy as np

from emojax.config import check
from emojax.train.fit import TrainConfig

DESCRIPTION = ("Hsu & Wu, Table 3: feature- and decision-level fusion, coupled and attentively-"
               "coupled LSTM over audio-visual segments (seven classes), NTN consistency attention")
MODELS = ("feature_fusion", "decision_fusion", "coupled", "aclstm")
MODEL_NAMES = {"feature_fusion": "Feature-level fusion", "decision_fusion": "Decision-level fusion",
               "coupled": "Coupled LSTM", "avef": "AVEF", "aclstm": "ACLSTM"}
# Hsu & Wu, Table 3 (accuracy, mean ± std), copied once; fractions.
PAPER_TABLE_3 = {"feature_fusion": (0.664, 0.015), "decision_fusion": (0.613, 0.023),
                 "coupled": (0.604, 0.025), "avef": (0.592, 0.012), "aclstm": (0.701, 0.013)}
PAPER = {"table3": PAPER_TABLE_3}
SUMMARY = ("table3.md",)
RECORD = "run.json"


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    emotion_kernel: int = 64        # Table 2: audio emotion CNN, kernel 64, 300 filters
    emotion_filters: int = 300
    sound_kernel: int = 32          # Table 2: sound type CNN, kernel 32, 700 filters
    sound_filters: int = 700
    visual_filters: int = 64        # ours (the paper used VGG-19 on 72x72 face crops)
    hidden: int = 128
    dropout: float = 0.3

    def __post_init__(self):
        for k in ("emotion_kernel", "emotion_filters", "sound_kernel", "sound_filters",
                  "visual_filters", "hidden"):
            check(f"encoders.{k}", getattr(self, k), at_least=1)
        check("encoders.dropout", self.dropout, at_least=0.0, below=1.0)


@dataclasses.dataclass(frozen=True)
class Config:
    corpus: str = "segments"                   # the embedded segment corpus, 1,457 clips
    models: tuple[str, ...] = MODELS
    weighting: str = "both"                    # eq. 5 as printed; "counterpart": the paper's text
    hidden: int = 128                          # Table 2
    rank: int = 5                              # Table 2: NTN tensor dimension
    dropout: float = 0.3
    encoders: EncoderConfig = EncoderConfig()
    encoder_train: TrainConfig = TrainConfig(batch_size=64, lr=1e-3, max_epochs=30, patience=4,
                                             l2=0.0)
    train: TrainConfig = TrainConfig(batch_size=16, lr=1e-3, max_epochs=60, patience=8, l2=0.0)
    # the IEMOCAP proxy (corpus iemocap:PATH, or synthetic:... rendered as audio with MoCap)
    label_set: str = "ang_exc_neu_sad"
    segment_s: float = 1.0
    # the NTN's target: "labels" (audio label = visual label), "classifiers" (the audio-only and
    # visual-only networks agree; the proxy's segments have one label), "auto" (labels if they ever
    # differ, else classifiers)
    ntn_target: str = "auto"
    max_folds: int | None = None
    workers: int | None = None
    seed: int = 0

    def __post_init__(self):
        from emojax.nn.coupled import WEIGHTINGS
        check("label_set", self.label_set, choices=("ang_exc_neu_sad", "ang_hapexc_neu_sad"))
        check("segment_s", self.segment_s, positive=True)
        check("ntn_target", self.ntn_target, choices=("auto", "labels", "classifiers"))
        if not self.models:
            raise ValueError("setting 'models': give at least one")
        for m in self.models:
            check("models", m, choices=MODELS)
        check("weighting", self.weighting, choices=WEIGHTINGS)
        check("hidden", self.hidden, at_least=1)
        check("rank", self.rank, at_least=1)
        check("dropout", self.dropout, at_least=0.0, below=1.0)
        if self.max_folds is not None:
            check("max_folds", self.max_folds, at_least=1)


QUICK = {"corpus": "segments:clips=120", "max_folds": 2, "hidden": 16, "rank": 2,
         "encoders": {"emotion_kernel": 8, "emotion_filters": 16, "sound_kernel": 8,
                      "sound_filters": 16, "visual_filters": 8, "hidden": 16},
         "encoder_train": {"max_epochs": 3, "patience": 1},
         "train": {"max_epochs": 3, "patience": 1}}


# ----------------------------------------------------------------------------- folds
def fold_parts(sc, max_folds: int | None = None) -> list[dict]:
    """One fold per session: test = that session, validation = the next one (cyclically)."""
    sessions = list(dict.fromkeys(sc.session[i[0]] for i in sc.clips()))
    sessions = sorted(sessions)
    if len(sessions) < 3:
        raise ValueError(f"{sc.name}: {len(sessions)} session(s); the folds need at least 3 "
                         "(test, validation, training) — give the segment table a session column")
    out = []
    for f, s in enumerate(sessions[:max_folds]):
        v = sessions[(f + 1) % len(sessions)]
        out.append({"fold": f, "test": str(s), "val": str(v),
                    "test_mask": sc.session == s, "val_mask": sc.session == v,
                    "train_mask": (sc.session != s) & (sc.session != v)})
    return out


def _zscore(arrays: list, rows: np.ndarray):
    stack = np.concatenate([arrays[i] for i in np.flatnonzero(rows)])
    mu, sd = stack.mean(0), stack.std(0) + 1e-6
    return [((a - mu) / sd).astype(np.float32) for a in arrays]


def _audio_features_logits(p, x, m):
    """A segment's audio CNN features and its logits side by side, from one pass: (B, D + K)."""
    import jax.numpy as jnp

    from emojax.models import aclstm as A
    logits, aux = A.audio_cnn(p, x, m)
    return jnp.concatenate([aux["features"], logits], -1)


def _visual_probs(p, x, m):
    """A segment's mean per-frame class probabilities (the visual-only network's decision)."""
    import jax

    from emojax.models import aclstm as A
    from emojax.nn.pooling import mean_pool
    return mean_pool(jax.nn.softmax(A.visual_frames(p, x, m)[0], -1), m)


@functools.cache
def _jitted(fn):
    """One jit wrapper per module-level function, so later folds reuse its compilations."""
    import jax
    return jax.jit(fn)


def _embed(fn, params, arrays: list, batch: int = 128, quantum: int = 16) -> np.ndarray:
    """``fn(params, x, mask) -> (B, D)`` over every array, in batches of similar length."""
    from emojax.data.batching import pad_batch
    jfn = _jitted(fn)
    order = np.argsort([len(a) for a in arrays], kind="stable")
    out = [None] * len(arrays)
    width = arrays[0].shape[1]
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        b = pad_batch([{"x": arrays[j]} for j in idx], batch, width, quantum)
        y = np.asarray(jfn(params, b["x"], b["mask"]))
        for r, j in enumerate(idx):
            out[j] = y[r]
    return np.stack(out)


def _seed(cfg: Config, fold: int, what: str) -> int:
    return cfg.seed * 7919 + fold * 31 + ["emotion", "sound", "visual", "ntn", *MODELS].index(what)


def run_fold(sc, part: dict, cfg: Config, progress=None) -> dict:
    """Encoders, NTN and the fusion models of one fold; the fold's record."""
    import jax

    from emojax.experiments.framelevel import predict, score, train
    from emojax.models import aclstm as A
    from emojax.train.losses import seq_cross_entropy, step_cross_entropy
    t0 = time.time()
    K, e = len(sc.classes), cfg.encoders
    tr, va, te = part["train_mask"], part["val_mask"], part["test_mask"]
    audio, visual = _zscore(sc.audio, tr), _zscore(sc.visual, tr)
    Fa, Fv = audio[0].shape[1], visual[0].shape[1]
    info, feats = {}, []

    def seg_items(rows, arrays, y):
        return [{"x": arrays[i], "y_seq": int(y[i])} for i in np.flatnonzero(rows)]

    # the audio emotion CNN on verbal segments (all segments if the corpus marks none)
    verbal = sc.sound == (sc.sounds.index("verbal") if "verbal" in sc.sounds else -1)
    if not (verbal & tr).any():
        verbal = np.ones(len(sc), bool)
    encoders = [("emotion", verbal, sc.audio_label, K, e.emotion_kernel, e.emotion_filters)]
    if len(set(sc.sound[tr].tolist())) > 1:
        encoders.append(("sound", np.ones(len(sc), bool), sc.sound, len(sc.sounds), e.sound_kernel,
                         e.sound_filters))
    apply_a = A.audio_apply(e.dropout)
    audio_pred = {}                  # encoder -> its class decision per segment
    for name, rows, y, n_out, kernel, filters in encoders:
        seed = _seed(cfg, part["fold"], name)
        init = A.init_audio_cnn(jax.random.PRNGKey(seed), Fa, n_out, kernel=kernel,
                                filters=filters, hidden=e.hidden)
        params, fit_info = train(apply_a, seq_cross_entropy, init, cfg.encoder_train,
                                 seg_items(rows & tr, audio, y), seg_items(rows & va, audio, y),
                                 Fa, seed, progress)
        logits = predict(apply_a, seq_cross_entropy, cfg.encoder_train, params,
                         seg_items(te & rows, audio, y), Fa)
        acc = float(np.mean(np.argmax(np.stack(logits), -1) == y[te & rows]))
        info[name] = {"epochs": fit_info["epochs"], "best_epoch": fit_info["best_epoch"],
                      "test_accuracy_own_label": round(acc, 4)}
        both = _embed(_audio_features_logits, params, audio)
        feats.append(both[:, :-n_out])
        audio_pred[name] = both[:, -n_out:].argmax(-1)
    # the visual frame network: every frame carries its segment's visual label
    seed = _seed(cfg, part["fold"], "visual")
    init = A.init_visual(jax.random.PRNGKey(seed), Fv, K, filters=e.visual_filters, hidden=e.hidden)
    apply_v = A.visual_apply(e.dropout)

    def frame_items(rows):
        return [{"x": visual[i], "y_step": np.full(len(visual[i]), sc.visual_label[i], np.int32)}
                for i in np.flatnonzero(rows)]
    params, fit_info = train(apply_v, step_cross_entropy, init, cfg.encoder_train, frame_items(tr),
                             frame_items(va), Fv, seed, progress)
    logits = predict(apply_v, step_cross_entropy, cfg.encoder_train, params, frame_items(te), Fv)
    seg_pred = np.array([np.argmax(np.asarray(lg).mean(0)) for lg in logits])
    info["visual"] = {"epochs": fit_info["epochs"], "best_epoch": fit_info["best_epoch"],
                      "test_accuracy_own_label": round(float(np.mean(seg_pred == sc.visual_label[te])), 4)}
    feats.append(_embed(A.visual_features, params, visual))
    # segment features, z-scored with the training segments'
    feats = [(f - f[tr].mean(0)) / (f[tr].std(0) + 1e-6) for f in feats]
    fa_emo, fv = feats[0], feats[-1]
    clips = sc.clips()
    clip_of = lambda rows: [c for c in clips if rows[c[0]]]  # noqa: E731
    # the NTN, trained separately: does the segment's audio label equal its visual label (or, for
    # segments that carry one label, do the audio-only and visual-only networks agree)?
    target = cfg.ntn_target
    if target == "auto":
        target = "labels" if (sc.audio_label != sc.visual_label).any() else "classifiers"
    if target == "labels":
        agree = (sc.audio_label == sc.visual_label).astype(np.int32)
    else:
        pa = audio_pred["emotion"]
        pv = _embed(_visual_probs, params, visual).argmax(-1)
        agree = (pa == pv).astype(np.int32)
    ntn_x = np.concatenate([fa_emo, fv], 1).astype(np.float32)
    ntn_items = lambda rows: [{"x": ntn_x[c], "y_step": agree[c]} for c in clip_of(rows)]  # noqa: E731
    seed = _seed(cfg, part["fold"], "ntn")
    ntn_apply = A.ntn_model(fa_emo.shape[1])
    params, fit_info = train(ntn_apply, step_cross_entropy, A.init_ntn_model(
        jax.random.PRNGKey(seed), fa_emo.shape[1], fv.shape[1], cfg.rank), cfg.train,
        ntn_items(tr), ntn_items(va), ntn_x.shape[1], seed, progress)
    from emojax.nn.coupled import ntn_score
    s = np.asarray(ntn_score(params["ntn"], fa_emo.astype(np.float32), fv.astype(np.float32)))
    info["ntn"] = {"target": target, "epochs": fit_info["epochs"], "best_epoch": fit_info["best_epoch"],
                   "test_accuracy": round(float(np.mean((s[te] > 0.5) == agree[te])), 4),
                   "test_agree_share": round(float(agree[te].mean()), 4),
                   "mean_score_agree": round(float(s[te & (agree == 1)].mean()), 4),
                   "mean_score_disagree": round(float(s[te & (agree == 0)].mean()), 4)
                   if (te & (agree == 0)).any() else None}
    # the fusion models over each clip's segments
    audio_feats = np.concatenate(feats[:-1], 1)
    x = np.concatenate([audio_feats, fv, s[:, None]], 1).astype(np.float32)
    dims = (audio_feats.shape[1], fv.shape[1])
    items = lambda rows: [{"x": x[c], "y_step": sc.label[c]} for c in clip_of(rows)]  # noqa: E731
    test_clips = clip_of(te)
    order = np.concatenate(test_clips)
    truth = sc.label[order]
    disagree = sc.audio_label[order] != sc.visual_label[order]
    # the order probe: the same test clips with their segments in a random order (no retraining)
    rng = np.random.default_rng(cfg.seed * 7919 + part["fold"])
    shuffled = [c[rng.permutation(len(c))] for c in test_clips]
    truth_shuffled = sc.label[np.concatenate(shuffled)]
    rec = {"fold": part["fold"], "test": part["test"], "val": part["val"],
           "n_train": int(tr.sum()), "n_val": int(va.sum()), "n_test": int(te.sum()),
           "n_test_clips": len(test_clips), "classes": list(sc.classes), "encoders": info,
           "models": {}}
    for kind in cfg.models:
        seed = _seed(cfg, part["fold"], kind)
        apply = A.model_fn(kind, dims, weighting=cfg.weighting, rate=cfg.dropout)
        loss = A.decision_loss if kind == "decision_fusion" else step_cross_entropy
        init = A.init(jax.random.PRNGKey(seed), kind, dims, K, hidden=cfg.hidden)
        params, fit_info = train(apply, loss, init, cfg.train, items(tr), items(va), x.shape[1],
                                 seed, progress)
        outs = predict(apply, loss, cfg.train, params, [{"x": x[c], "y_step": sc.label[c]}
                                                         for c in test_clips], x.shape[1])
        outs_s = predict(apply, loss, cfg.train, params, [{"x": x[c], "y_step": sc.label[c]}
                                                          for c in shuffled], x.shape[1])
        if kind == "decision_fusion":
            post = np.concatenate([np.asarray(A.decision_posteriors(o)) for o in outs])
            post_s = np.concatenate([np.asarray(A.decision_posteriors(o)) for o in outs_s])
        else:
            post = np.concatenate([np.asarray(o) for o in outs])
            post_s = np.concatenate([np.asarray(o) for o in outs_s])
        pred = post.argmax(-1)
        r = score(truth, pred, K)
        r["accuracy_agree"] = float(np.mean(pred[~disagree] == truth[~disagree])) if (~disagree).any() else None
        r["accuracy_disagree"] = float(np.mean(pred[disagree] == truth[disagree])) if disagree.any() else None
        r["accuracy_shuffled"] = float(np.mean(post_s.argmax(-1) == truth_shuffled))
        r.update(epochs=fit_info["epochs"], best_epoch=fit_info["best_epoch"],
                 val_loss=round(fit_info["val_loss"], 5), pred=pred.tolist())
        if kind != "decision_fusion":
            r["modality"] = modality_sensitivity(apply, params, [x[c] for c in test_clips], dims,
                                                 disagree)
        rec["models"][kind] = r
    rec["truth"] = truth.tolist()
    rec["disagree"] = disagree.astype(int).tolist()
    rec["seconds"] = round(time.time() - t0, 1)
    return rec


def modality_sensitivity(apply, params, clips: list, dims: tuple[int, int], disagree: np.ndarray,
                         chunk: int = 64) -> dict:
    """Beyond the paper: how much each decision leans on the face. Per test segment t, the
    sequential Jacobian (`emojax.analysis.jacobian`) of the predicted class's posterior with
    respect to every input of segments τ <= t, |·| summed over the audio and over the visual
    features: the visual share V / (A + V) (mean over segments, and where the segment's audio
    and visual labels agree / disagree), and the share of all sensitivity at each offset t - τ."""
    from emojax.analysis.jacobian import batched_sequential_jacobian
    from emojax.data.batching import pad_batch
    da, dv = dims
    width = clips[0].shape[1]
    T = max(len(c) for c in clips)
    shares, offsets = [], np.zeros(T)
    for i in range(0, len(clips), chunk):
        part = clips[i:i + chunk]
        b = pad_batch([{"x": c} for c in part], len(part), width, quantum=T)
        J = np.asarray(batched_sequential_jacobian(apply, params, b["x"], b["mask"]))  # (B,T,K,T,F)
        post = np.asarray(apply(params, b["x"], b["mask"])[0])
        for j, c in enumerate(part):
            n = len(c)
            pred = post[j, :n].argmax(-1)
            a = np.abs(J[j, np.arange(n), pred, :n])                              # (t, τ, F)
            A, V = a[..., :da].sum(-1), a[..., da:da + dv].sum(-1)                 # (t, τ)
            shares += list(V.sum(1) / np.maximum(A.sum(1) + V.sum(1), 1e-30))
            for t in range(n):
                offsets[:t + 1] += (A[t, :t + 1] + V[t, :t + 1])[::-1]
    shares = np.array(shares)
    return {"visual_share": round(float(shares.mean()), 4),
            "visual_share_agree": round(float(shares[~disagree].mean()), 4) if (~disagree).any() else None,
            "visual_share_disagree": round(float(shares[disagree].mean()), 4) if disagree.any() else None,
            "offset_share": (offsets / offsets.sum()).round(4).tolist()}


# ----------------------------------------------------------------------------- the experiment
def load_segments(cfg: Config, wd, progress: bool = True):
    """The segment corpus of ``cfg.corpus``: ``segments[:...]`` / ``segtable:PATH`` as they are;
    ``iemocap:PATH`` (or ``synthetic:...``, rendered with MoCap) as the stated proxy
    (`emojax.data.segments.from_utterances`): the ``mirsamadi2017`` frame descriptors (32 per 10
    ms) and the 46 face markers' window means (`emojax.features.visual.face_frames`, 138 per 25
    ms) of each labelled utterance, cut into ``segment_s`` segments; utterances without MoCap are
    left out and counted (``params["without_mocap"]``)."""
    from emojax.data import segments
    kind = cfg.corpus.partition(":")[0]
    if kind in ("segments", "segtable"):
        return segments.load(cfg.corpus)
    if kind not in ("iemocap", "synthetic"):
        segments.load(cfg.corpus)                     # raises the one-line error naming the specs
    from emojax.data.iemocap import mocap_path, read_mocap
    from emojax.experiments import framelevel as FL
    from emojax.features.visual import FRAMING, MOCAP_ROTATED_MARKERS, face_frames
    fc = FL.frame_corpus(cfg.corpus, wd.path, ("mirsamadi2017",), workers=cfg.workers,
                         progress=progress, what="aclstm", mocap=True)
    idx, y, names = FL.labelled(fc.corpus, cfg.label_set)
    corpus = fc.corpus.subset(idx)
    root = Path(fc.corpus.params.get("root") or wd.path / "tree")
    keep, visual, missing = [], [], []
    for j, u in enumerate(corpus.utterance_id):
        path = mocap_path(root, str(u), "rotated")
        if not path.is_file():
            missing.append(str(u))
            continue
        visual.append(face_frames(read_mocap(path)[2], MOCAP_ROTATED_MARKERS))
        keep.append(j)
    keep = np.array(keep, int)
    content = {k: v for k, v in fc.corpus.params.items()
               if k not in ("path", "root", "prepared", "front_end_report")}
    return segments.from_utterances(
        corpus.utterance_id[keep], corpus.speaker[keep], corpus.session[keep], y[keep], names,
        [fc.frames["mirsamadi2017"][idx[j]] for j in keep], fc.rates["mirsamadi2017"], visual,
        1.0 / FRAMING["hop_s"], cfg.segment_s, name=f"proxy:{cfg.corpus}",
        params={"kind": "iemocap_proxy", "source": content, "label_set": cfg.label_set,
                "segment_s": cfg.segment_s, "utterances": int(keep.size),
                "without_mocap": len(missing), "without_mocap_examples": missing[:5]})


def piece_settings(cfg: Config, sc) -> dict:
    c = dataclasses.asdict(cfg)
    for k in ("max_folds", "corpus", "workers"):
        c.pop(k)
    return {"experiment": "aclstm", "config": c, "corpus": sc.params, "n_segments": len(sc)}


def run(cfg: Config, workdir: Path, *, publish: Path | None = None, progress: bool = True,
        fresh: bool = False) -> dict:
    from emojax.experiments import results as R
    from emojax.experiments.runner import open_workdir, run_pieces
    t0 = time.time()
    with open_workdir(workdir, fresh=fresh) as wd:
        sc = load_segments(cfg, wd, progress)
        parts = fold_parts(sc, cfg.max_folds)
        base = piece_settings(cfg, sc)
        pieces = {f"fold{p['fold']:02d}": {**base, "fold": p["fold"]} for p in parts}

        def compute(keys, bar):
            for key in keys:
                part = parts[int(key[4:])]
                yield key, run_fold(sc, part, cfg, bar)

        records, stats = run_pieces(wd, pieces, compute, desc="aclstm", unit="fold",
                                    progress=progress)
        folds = [records[k] for k in pieces]
        shutil.rmtree(wd.results, ignore_errors=True)
        wd.results.mkdir()
        meta = R.run_meta("aclstm", cfg, sc, wall_s=time.time() - t0, pieces=stats,
                          classes=list(sc.classes), n_clips=len(sc.clips()),
                          label_agreement=_agreement(sc),
                          seconds_per_fold=[r["seconds"] for r in folds])
        meta["wall_s_total"] = round(meta["wall_s"] + stats["reused_s"], 1)
        doc = write_tables(wd.results, folds, meta, cfg, sc)
        if publish is not None:
            R.publish(wd.results, publish)
    return doc


def _agreement(sc) -> dict:
    """How the labels agree, and whether the previous segment's consistency says anything about
    the next label (what eq. 5's weighting could exploit): P(label_t = label_{t-1}) after a
    segment whose audio and visual labels agree, and after one where they do not."""
    same, cons = [], []
    for c in sc.clips():
        same += list(sc.label[c[1:]] == sc.label[c[:-1]])
        cons += list(sc.audio_label[c[:-1]] == sc.visual_label[c[:-1]])
    same, cons = np.array(same, bool), np.array(cons, bool)
    rate = lambda m: round(float(same[m].mean()), 4) if m.any() else None  # noqa: E731
    return {"audio_vs_av": round(float(np.mean(sc.audio_label == sc.label)), 4),
            "visual_vs_av": round(float(np.mean(sc.visual_label == sc.label)), 4),
            "audio_vs_visual": round(float(np.mean(sc.audio_label == sc.visual_label)), 4),
            "persists_after_consistent": rate(cons), "persists_after_inconsistent": rate(~cons)}


def table_records(folds: list[dict], cfg: Config) -> list[dict]:
    from emojax.experiments.framelevel import summarise
    flat = [{"fold": f["fold"], "classifier": k, **v} for f in folds for k, v in f["models"].items()]
    task = task_name(folds)
    recs = summarise(flat, ("classifier",), metrics=("wa", "ua", "f1"), task=task)
    extra = summarise([r for r in flat if r["accuracy_disagree"] is not None], ("classifier",),
                      metrics=("accuracy_agree", "accuracy_disagree"), task=task)
    extra += summarise([r for r in flat if "accuracy_shuffled" in r], ("classifier",),
                       metrics=("accuracy_shuffled",), task=task)
    for r in extra:
        r["subset"] = {"accuracy_agree": "agree", "accuracy_disagree": "disagree",
                       "accuracy_shuffled": "shuffled_test_order"}[r["metric"]]
        r["metric"] = "wa"
    return recs + extra


def task_name(folds: list[dict]) -> str:
    """``emotion7`` (Hsu & Wu's classes), ``emotion4`` (the IEMOCAP proxy) or ``category``."""
    return {7: "emotion7", 4: "emotion4"}.get(len(folds[0]["classes"]), "category")


def paper_records() -> list[dict]:
    return [{"task": "emotion7", "classifier": k, "metric": "wa", "mean": m, "std": s,
             "folds": [], "source": "paper"} for k, (m, s) in PAPER_TABLE_3.items()]


def write_tables(res: Path, folds: list[dict], meta: dict, cfg: Config, sc) -> dict:
    from emojax.experiments import framelevel as FL
    from emojax.experiments.results import records_json
    from emojax.experiments.runner import write_atomic
    recs = table_records(folds, cfg)
    tests = FL.paired(recs, [({"classifier": "aclstm"}, {"classifier": "coupled"}),
                             ({"classifier": "aclstm"}, {"classifier": "feature_fusion"})],
                      metric="wa", task=task_name(folds), subset=None)
    doc = {"meta": meta, "records": recs, "tests": tests, "paper": paper_records()}
    write_atomic(res / "table3.json", records_json(meta, recs, tests=tests, paper=doc["paper"]))
    write_atomic(res / "table3.md", table3_markdown(doc, folds))
    write_atomic(res / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
    if "aclstm" in cfg.models:
        conf = np.sum([np.asarray(f["models"]["aclstm"]["confusion"]) for f in folds], axis=0)
        _confusion_figure(res / "fig7_confusion.png", conf, list(sc.classes))
    if modality_summary(folds):
        _modality_figure(res / "fig_modality.png", modality_summary(folds))
    return doc


def modality_summary(folds: list[dict]) -> dict:
    """Per model: the fold means of `modality_sensitivity`'s figures."""
    out = {}
    for k in MODELS:
        ms = [f["models"][k]["modality"] for f in folds if "modality" in f["models"].get(k, {})]
        if not ms:
            continue
        L = max(len(m["offset_share"]) for m in ms)
        out[k] = {}
        for key in ("visual_share", "visual_share_agree", "visual_share_disagree"):
            vals = [m[key] for m in ms if m[key] is not None]
            out[k][key] = float(np.mean(vals)) if vals else None
        out[k]["offset_share"] = np.mean([np.pad(m["offset_share"], (0, L - len(m["offset_share"])))
                                          for m in ms], 0).tolist()
    return out


def _modality_figure(path: Path, mods: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = list(mods)
    xs = np.arange(len(names))
    pc = lambda x: 0.0 if x is None else 100 * x  # noqa: E731
    a.bar(xs - 0.2, [pc(mods[k]["visual_share_agree"]) for k in names], 0.4, label="audio = visual label")
    a.bar(xs + 0.2, [pc(mods[k]["visual_share_disagree"]) for k in names], 0.4, label="audio ≠ visual label")
    a.set_xticks(xs, [MODEL_NAMES[k] for k in names], rotation=15)
    a.set_ylabel("visual share of |∂ posterior| (%)")
    a.legend(fontsize=8)
    for k in names:
        o = mods[k]["offset_share"]
        b.plot(range(len(o)), 100 * np.asarray(o), marker="o", label=MODEL_NAMES[k])
    b.set_xlabel("segments back (t − τ)")
    b.set_ylabel("share of all sensitivity (%)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cell(r) -> str:
    return f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}" if r else "—"


def table3_markdown(doc: dict, folds: list[dict]) -> str:
    m = doc["meta"]
    by = {(r["classifier"], r.get("subset"), r["metric"]): r for r in doc["records"]}
    paper = {r["classifier"]: r for r in doc["paper"]}
    ag = m["label_agreement"]
    lines = ["# Hsu & Wu, Table 3: bimodal emotion recognition over segments", "",
             f"Corpus `{m['config']['corpus']}`: {m['n_utterances']} segments in {m['n_clips']} clips, "
             f"{len(m['classes'])} classes ({', '.join(m['classes'])}); audio label = audio-visual label in {100 * ag['audio_vs_av']:.0f} %, "
             f"visual in {100 * ag['visual_vs_av']:.0f} %, audio = visual in "
             f"{100 * ag['audio_vs_visual']:.0f} % of segments. {len(folds)} folds (one session "
             "held out each), mean ± std over folds, %; the paper's numbers are BAUM-1's.", "",
             *([f"The label persists to the next segment in {100 * ag['persists_after_consistent']:.1f} % "
                f"of cases after a segment whose audio and visual labels agree and in "
                f"{100 * ag['persists_after_inconsistent']:.1f} % after one where they do not: what eq. "
                "5's consistency weighting has to exploit.", ""]
               if ag.get("persists_after_inconsistent") is not None else []),
             "| method | Acc. (paper) | Acc. | UA | F1 | Acc. where A = V | Acc. where A ≠ V "
             "| Acc., test segments shuffled |", "|---|---|---|---|---|---|---|---|"]
    for k in ("feature_fusion", "decision_fusion", "coupled", "avef", "aclstm"):
        p = paper.get(k)
        if k == "avef":
            lines.append(f"| {MODEL_NAMES[k]} (printed, not re-implemented) | {_cell(p)} | — | — | — | — | — | — |")
            continue
        if (k, None, "wa") not in by:
            continue
        lines.append(f"| {MODEL_NAMES[k]} | {_cell(p)} | {_cell(by[(k, None, 'wa')])} | "
                     f"{_cell(by[(k, None, 'ua')])} | {_cell(by[(k, None, 'f1')])} | "
                     f"{_cell(by.get((k, 'agree', 'wa')))} | {_cell(by.get((k, 'disagree', 'wa')))} | "
                     f"{_cell(by.get((k, 'shuffled_test_order', 'wa')))} |")
    enc = {k: np.mean([f["encoders"][k][a] for f in folds])
           for k, a in (("emotion", "test_accuracy_own_label"), ("visual", "test_accuracy_own_label"),
                        ("ntn", "test_accuracy"))}
    lines += ["", f"Encoders on the test segments, mean over folds: audio emotion CNN "
              f"{100 * enc['emotion']:.1f} % of its audio labels (verbal segments), visual network "
              f"{100 * enc['visual']:.1f} % of its visual labels, NTN {100 * enc['ntn']:.1f} % on its "
              "target (" + ("audio label = visual label" if folds[0]["encoders"]["ntn"].get("target", "labels")
                            == "labels" else "the audio-only and visual-only networks agree") + ")."]
    if doc.get("tests"):
        from emojax.experiments.framelevel import tests_markdown
        lines += ["", *tests_markdown(doc["tests"])]
    mods = modality_summary(folds)
    if mods:
        lines += ["", "Beyond the paper — what each decision leans on (sequential Jacobian of the predicted "
                  "class's posterior, |∂| summed over each modality's inputs of the segment and its "
                  "predecessors; mean over folds, `fig_modality.png`):", "",
                  "| method | visual share | where A = V | where A ≠ V | same segment | 1 back | 2+ back |",
                  "|---|---|---|---|---|---|---|"]
        for k, v in mods.items():
            o = v["offset_share"]
            pc = lambda x: "—" if x is None else f"{100 * x:.0f} %"  # noqa: E731
            lines.append(f"| {MODEL_NAMES[k]} | {pc(v['visual_share'])} | "
                         f"{pc(v['visual_share_agree'])} | {pc(v['visual_share_disagree'])} | "
                         f"{100 * o[0]:.0f} % | {100 * o[1]:.0f} % | {100 * sum(o[2:]):.0f} % |")
    from emojax.experiments.results import run_minutes
    lines += ["", f"Run: {run_minutes(m)} on {m['device']}; seconds per fold: "
              f"{', '.join(str(s) for s in m['seconds_per_fold'])}."]
    return "\n".join(lines) + "\n"


def _confusion_figure(path: Path, conf: np.ndarray, classes: list[str]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{100 * rows[i, j]:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("audio-visual label")
    ax.set_title("ACLSTM, pooled over folds (% of each row)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def readme_section(results: Path) -> list[str]:
    table = Path(results) / "aclstm" / "table3.md"
    if not table.is_file():
        return []
    md = table.read_text().splitlines()
    lines = ["### Hsu & Wu, Table 3 (`emojax reproduce aclstm`)", "", *md[2:], ""]
    bench = Path(results) / "aclstm" / "coupled-cpu.md"
    if bench.is_file():
        lines += ["### The coupled cells' cost (`emojax bench --suite coupled --out results/aclstm`)",
                  "", *bench.read_text().splitlines()[2:], ""]
    return lines
