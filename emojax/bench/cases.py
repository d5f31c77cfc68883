"""What `emojax bench` times: one `Problem` (shapes, shared inputs and initial weights) per case,
and `CASES`, each case's problem builder and its rows (the implementations of `emojax.bench.peers`).

Adding a case: write one function ``quick -> Problem`` and add one `CASES` entry naming it and its
``(impl, builder)`` list (`peers.TRAIN`, `peers.JACOBIAN` or a new one). A case that times no
model (``ctc``: a loss on given logits) has its own small problem class, `CtcProblem`, with the
fields the runner and the report read (``batch``, ``single``, ``describe``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cached_property
from types import ModuleType

import jax
import numpy as np

from emojax.bench.peers import CTC, JACOBIAN, TRAIN, Builder
from emojax.models import chernykh as chernykh_model
from emojax.models import mirsamadi as mirsamadi_model
from emojax.models import pooled, woellmer


HEADS = ("frame", "mean", "ctc", "attention")


@dataclasses.dataclass(frozen=True)
class Problem:
    """Shapes plus the shared inputs and initial weights (numpy, emojax layout) of one case.

    head (`HEADS`), i.e. which `emojax.models` module the emojax row times (`model`, `apply`):

    - ``"frame"``: softmax per step, a label per step (`emojax.models.woellmer`);
    - ``"mean"``: mean over the valid frames, one label per sequence (`emojax.models.pooled`);
    - ``"ctc"``: a dense layer per frame -> ``classes`` + 1 logits, blank last, CTC loss with one
      label per sequence (`emojax.models.chernykh`, ``apply_ctc``);
    - ``"attention"``: attention pooling (α = softmax over valid frames of u·y_t, z = Σ α_t y_t),
      dropout ``dropout`` on z, a dense layer -> ``classes`` logits, one label per sequence
      (`emojax.models.mirsamadi`, ``model_fn("attention")``; hand-crafted LLDs, so no LLD layers
      and one BLSTM layer).

    classes: the emotions (the CTC head adds the blank: `outputs`). dropout: the rate every
    implementation applies while training (only the ``"attention"`` head has dropout; the tests
    set 0 to compare losses across libraries). single: the Jacobian cases take one sequence
    (`sequential_jacobian`) rather than a batch (`batched_sequential_jacobian`).
    """
    batch: int
    steps: int
    feats: int
    hidden: int
    classes: int
    layers: int = 1
    head: str = "frame"
    dropout: float = 0.0
    single: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"head {self.head!r}: use one of {', '.join(HEADS)}")
        if self.head == "attention" and self.layers != 1:
            raise ValueError(f"head 'attention' (Mirsamadi's model) has one BLSTM layer, "
                             f"not layers={self.layers}")
        if self.dropout and self.head != "attention":
            raise ValueError(f"dropout {self.dropout}: only the 'attention' head has dropout")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} must be in [0, 1)")

    @property
    def model(self) -> ModuleType:
        """The `emojax.models` module that the emojax rows time."""
        return {"frame": woellmer, "mean": pooled, "ctc": chernykh_model,
                "attention": mirsamadi_model}[self.head]

    @property
    def apply(self) -> Callable:
        """The model's ``apply(params, xs, mask[, key]) -> (logits, aux)`` (a module-level or cached
        function: hashable, so jit reuses its compilations)."""
        if self.head == "ctc":
            return chernykh_model.apply_ctc
        if self.head == "attention":
            return mirsamadi_model.model_fn("attention", rate=self.dropout)
        return self.model.apply

    @property
    def outputs(self) -> int:
        """Logits per step (``"frame"``, ``"ctc"``) or per sequence: the classes (+ 1: the blank)."""
        return self.classes + (self.head == "ctc")

    @property
    def blank(self) -> int:
        """The CTC blank's index: last, as `emojax.models.chernykh` (Keras') has it."""
        return self.classes

    @cached_property
    def data(self) -> dict:
        """``xs (B, T, F)``, ``mask (B, T)`` (all true), ``ys`` ((B, T) for ``"frame"``, else (B,):
        for ``"ctc"`` the one-label target sequences, ``labels = ys[:, None]``) and ``params``."""
        rng = np.random.default_rng(self.seed)
        B, T = self.batch, self.steps
        xs = rng.standard_normal((B, T, self.feats)).astype(np.float32)
        label_shape = (B, T) if self.head == "frame" else (B,)
        ys = rng.integers(0, self.classes, label_shape).astype(np.int32)   # never the blank
        mask = np.ones((B, T), bool)                      # full length: equal work everywhere
        key = jax.random.PRNGKey(self.seed)
        if self.head == "ctc":
            params = chernykh_model.init(key, self.feats, self.classes, head="ctc",
                                         hidden=self.hidden, layers=self.layers)
        elif self.head == "attention":
            params = mirsamadi_model.init(key, self.feats, self.classes, hidden=self.hidden,
                                          pooling="attention")
        else:
            params = self.model.init(key, self.feats, self.classes, hidden=self.hidden,
                                     layers=self.layers)
        return {"xs": xs, "ys": ys, "mask": mask, "params": jax.tree.map(np.asarray, params)}

    def train_flops(self) -> float:
        """FLOPs of one train step: the LSTM matmuls only, 2·F·4H + 2·H·4H per step, direction and
        layer, ×3 (forward + backward). The heads (dense layers, attention pooling, CTC) and Adam are
        not counted (< 1 % of the FLOPs in every case here); nor are the gates' elementwise ops."""
        H, per_step = self.hidden, 0
        for layer in range(self.layers):
            F = self.feats if layer == 0 else 2 * H
            per_step += 2 * (2 * F * 4 * H + 2 * H * 4 * H)          # two directions
        return 3.0 * self.batch * self.steps * per_step

    def describe(self) -> str:
        head = {"frame": f"softmax per step, {self.classes} classes",
                "mean": f"mean pooling, {self.classes} classes, one label per sequence",
                "ctc": (f"dense per frame -> {self.classes} emotions + blank (last), CTC loss "
                        "with one label per sequence"),
                "attention": (f"attention pooling (softmax_t u·y_t), "
                              f"{100 * self.dropout:g} % dropout on the pooled vector, dense -> "
                              f"{self.classes} classes, one label per sequence")}[self.head]
        return (f"batch {self.batch} × {self.steps} steps × {self.feats} features, "
                f"{self.layers}×BLSTM {self.hidden}/direction, {head}")


@dataclasses.dataclass(frozen=True)
class CtcProblem:
    """The ``ctc`` case: the CTC loss and its gradient w.r.t. the logits, no model.

    Shared inputs (numpy): ``logits`` (B, T, K) ~ N(0, 1), ``mask`` (B, T) all true (full length:
    equal work in every library), ``labels`` (B, max_label) of non-blank classes with ``label_mask``
    (B, max_label), lengths drawn from 1..max_label (Chernykh 2018's target is one emotion per
    utterance; length 2 adds the skip and repeat transitions). ``model`` is None: nothing from
    `emojax.models` is timed.
    """
    batch: int
    steps: int
    classes: int
    max_label: int = 2
    blank: int = 0
    seed: int = 0
    single: bool = False            # (read by the report, as for the model cases)
    model = None

    @cached_property
    def data(self) -> dict:
        rng = np.random.default_rng(self.seed)
        B, T, L = self.batch, self.steps, self.max_label
        nonblank = np.array([k for k in range(self.classes) if k != self.blank % self.classes])
        lengths = rng.integers(1, L + 1, B)
        return {"logits": rng.standard_normal((B, T, self.classes)).astype(np.float32),
                "mask": np.ones((B, T), bool),
                "labels": rng.choice(nonblank, (B, L)).astype(np.int32),
                "label_mask": np.arange(L)[None] < lengths[:, None]}

    def describe(self) -> str:
        return (f"CTC loss + gradient w.r.t. the logits (log-softmax included), mean over the batch: "
                f"batch {self.batch} × {self.steps} frames × {self.classes} classes (blank "
                f"{self.blank}), labels of length 1..{self.max_label}, all inputs full length; "
                "no model, no GFLOP/s")


def blstm_utt(quick: bool) -> Problem:
    return Problem(4, 6, 8, 8, 5) if quick else Problem(16, 30, 200, 128, 5)


def chernykh(quick: bool) -> Problem:
    """Chernykh & Prikhodko 2018's CTC model: 78 frames (`chernykh.FRAMES`) of 34 short-term
    features, two BLSTM layers, 4 emotions + the blank, one emotion per utterance."""
    shape = (4, 7, 6, 8) if quick else (32, chernykh_model.FRAMES, 34, 128)
    return Problem(*shape, 4, layers=2, head="ctc")


def mirsamadi(quick: bool) -> Problem:
    """Mirsamadi et al. 2017's attention model on the 32 hand-crafted LLDs: one BLSTM layer of 128
    (`mirsamadi.HIDDEN`), 4 classes, 50 % dropout (`mirsamadi.DROPOUT`), 500 frames."""
    shape = (4, 9, 6, 8) if quick else (32, 500, 32, mirsamadi_model.HIDDEN)
    return Problem(*shape, 4, head="attention", dropout=mirsamadi_model.DROPOUT)


def jacobian_seq(quick: bool) -> Problem:
    return dataclasses.replace(blstm_utt(quick), batch=1, single=True)


def jacobian_batch(quick: bool) -> Problem:
    return blstm_utt(quick)


def ctc(quick: bool) -> CtcProblem:
    """The output layer of the ``chernykh`` case: batches of 32 utterances of 78 frames, 4 emotions
    and the blank."""
    return CtcProblem(4, 8, 5) if quick else CtcProblem(32, 78, 5)


CASES: dict[str, tuple[Callable[[bool], Problem | CtcProblem], list[tuple[str, Builder]]]] = {
    "blstm_utt": (blstm_utt, TRAIN),
    "chernykh": (chernykh, TRAIN),
    "mirsamadi": (mirsamadi, TRAIN),
    "jacobian_seq": (jacobian_seq, JACOBIAN),
    "jacobian_batch": (jacobian_batch, JACOBIAN),
    "ctc": (ctc, CTC),
}
