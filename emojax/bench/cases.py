"""What `emojax bench` times: one `Problem` (shapes, shared inputs and initial weights) per case,
and `CASES`, each case's problem builder and its rows (the implementations of `emojax.bench.peers`).

Adding a case: write one function ``quick -> Problem`` and add one `CASES` entry naming it and its
``(impl, builder)`` list (`peers.TRAIN`, `peers.JACOBIAN` or a new one).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cached_property
from types import ModuleType

import jax
import numpy as np

from emojax.bench.peers import JACOBIAN, TRAIN, Builder
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


CASES: dict[str, tuple[Callable[[bool], Problem], list[tuple[str, Builder]]]] = {
    "blstm_utt": (blstm_utt, TRAIN),
    "chernykh": (chernykh, TRAIN),
    "mirsamadi": (mirsamadi, TRAIN),
    "jacobian_seq": (jacobian_seq, JACOBIAN),
    "jacobian_batch": (jacobian_batch, JACOBIAN),
}
