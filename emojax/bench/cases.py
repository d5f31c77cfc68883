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
from emojax.models import pooled, woellmer


@dataclasses.dataclass(frozen=True)
class Problem:
    """Shapes plus the shared inputs and initial weights (numpy, emojax layout) of one case.

    head: ``"frame"`` = softmax per step with per-step labels (`emojax.models.woellmer`);
    ``"mean"`` = mean over valid frames, one label per sequence (`emojax.models.pooled`).
    single: the Jacobian cases take one sequence (`sequential_jacobian`) rather than a batch
    (`batched_sequential_jacobian`).
    """
    batch: int
    steps: int
    feats: int
    hidden: int
    classes: int
    layers: int = 1
    head: str = "frame"
    single: bool = False
    seed: int = 0

    @property
    def model(self) -> ModuleType:
        """The `emojax.models` module (``init``, ``apply``) that the emojax rows time."""
        return woellmer if self.head == "frame" else pooled

    @cached_property
    def data(self) -> dict:
        rng = np.random.default_rng(self.seed)
        B, T = self.batch, self.steps
        xs = rng.standard_normal((B, T, self.feats)).astype(np.float32)
        label_shape = (B, T) if self.head == "frame" else (B,)
        ys = rng.integers(0, self.classes, label_shape).astype(np.int32)
        mask = np.ones((B, T), bool)                      # full length: equal work everywhere
        params = self.model.init(jax.random.PRNGKey(self.seed), self.feats, self.classes,
                                 hidden=self.hidden, layers=self.layers)
        return {"xs": xs, "ys": ys, "mask": mask, "params": jax.tree.map(np.asarray, params)}

    def train_flops(self) -> float:
        """FLOPs of one train step: LSTM matmuls only, 2·F·4H + 2·H·4H per step, direction, layer; ×3."""
        H, per_step = self.hidden, 0
        for layer in range(self.layers):
            F = self.feats if layer == 0 else 2 * H
            per_step += 2 * (2 * F * 4 * H + 2 * H * 4 * H)          # two directions
        return 3.0 * self.batch * self.steps * per_step

    def describe(self) -> str:
        head = "softmax per step" if self.head == "frame" else "mean pooling, one label"
        return (f"batch {self.batch} × {self.steps} steps × {self.feats} features, "
                f"{self.layers}×BLSTM {self.hidden}/direction, {self.classes} classes, {head}")


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
    return Problem(4, 7, 6, 8, 5, layers=2) if quick else Problem(32, 78, 34, 128, 5, layers=2)


def mirsamadi(quick: bool) -> Problem:
    return (Problem(4, 9, 6, 8, 4, head="mean") if quick
            else Problem(32, 500, 32, 128, 4, head="mean"))


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
