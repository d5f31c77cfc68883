"""Chernykh & Prikhodko 2018: two stacked BLSTM layers over 34 short-term features, with a CTC head
(a softmax over the classes and the blank at every frame) or the one-label head on the same trunk.

    params = init(key, 34, 4, head="ctc")          # K = 4 emotions (+ 1 blank for CTC)
    logits, aux = apply_ctc(params, xs, mask)      # (..., T, K + 1), blank last (Keras' convention)
    logits, aux = apply_one_label(params, xs, mask)   # (..., K)

Shapes: frames ``xs (..., T, F)`` (T = 78 in the paper: padded or truncated, `fix_length`), prefix
``mask (..., T)``. The trunk is `emojax.nn.lstm.blstm` with two layers (lstm_1..lstm_4 of the paper's
Fig. 8/9: each layer a forward and a backward LSTM, outputs stacked). CTC head (Fig. 9): one dense
layer applied to every frame (Keras' TimeDistributed) -> K + 1 logits. One-label head (Fig. 8): the
second layer's *last state* of each direction (forward at the last valid frame, backward at the
first) -> one dense layer -> K logits. The paper's one-label model ignored the real length (its
last state is the one after the zero padding): `fix_length(..., keep_length=False)` reproduces that
by making the padding part of the sequence.

The paper's figures give no layer widths; emojax uses 128 cells per direction (as Mirsamadi's
BLSTM) — a setting, `ModelConfig.hidden`.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from emojax.nn import lstm as L
from emojax.nn.dense import dense, init_dense
from emojax.nn.pooling import final_frame

FRAMES = 78       # Chernykh 2018 §4.2.2: "the unified length equals to 78 (~ the 90 % percentile)"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    hidden: int = 128          # per direction; not stated in the paper (its figures only)
    layers: int = 2            # Fig. 8/9: lstm_1/lstm_2, then lstm_3/lstm_4
    forget_bias: float = 1.0   # Keras' LSTM default (unit_forget_bias=True), which the paper used
    frames: int = FRAMES       # pad or truncate every utterance to this many frames
    keep_length: bool = True   # False: the paper's one-label model (padding treated as input)
    blank: str = "last"        # CTC blank index: "last" (Keras, as the paper) or "first" (optax)

    def __post_init__(self):
        from emojax.config import check
        check("model.hidden", self.hidden, at_least=1)
        check("model.layers", self.layers, at_least=1)
        check("model.frames", self.frames, at_least=1)
        check("model.blank", self.blank, choices=("last", "first"))


def blank_index(cfg: ModelConfig, n_classes: int) -> int:
    """The blank's index among the K + 1 CTC outputs."""
    return n_classes if cfg.blank == "last" else 0


def init(key: jax.Array, in_dim: int, n_classes: int, *, head: str = "ctc", hidden: int = 128,
         layers: int = 2, forget_bias: float = 1.0) -> dict:
    """``{"blstm": [layers], "out": dense (2H, K + 1 for CTC | K)}``."""
    if head not in ("ctc", "one_label"):
        raise ValueError(f"head {head!r}: use 'ctc' or 'one_label'")
    k_rnn, k_out = jax.random.split(key)
    return {"blstm": L.init_blstm(k_rnn, in_dim, hidden, layers=layers, forget_bias=forget_bias),
            "out": init_dense(k_out, 2 * hidden, n_classes + (head == "ctc"))}


def init_from(cfg: ModelConfig, key: jax.Array, in_dim: int, n_classes: int, head: str) -> dict:
    return init(key, in_dim, n_classes, head=head, hidden=cfg.hidden, layers=cfg.layers,
                forget_bias=cfg.forget_bias)


def apply_ctc(params: dict, xs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """``xs (..., T, F), mask (..., T) -> logits (..., T, K + 1)``; padded frames' logits are the
    bias only (the CTC loss and the decoders ignore them through the mask)."""
    h = L.blstm(params["blstm"], xs, mask)                    # (..., T, F) -> (..., T, 2H)
    return dense(params["out"], h), {}                          # (..., T, 2H) -> (..., T, K + 1)


def apply_one_label(params: dict, xs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """``xs (..., T, F), mask (..., T) -> logits (..., K)`` from the last state of each direction."""
    h = L.blstm(params["blstm"], xs, mask)                    # (..., T, 2H)
    return dense(params["out"], final_frame(h, mask)), {}     # (..., 2H) -> (..., K)


def fix_length(x: np.ndarray, frames: int = FRAMES, keep_length: bool = True) -> np.ndarray:
    """One utterance's frames ``(T, F)`` truncated to the first `frames`; with ``keep_length=False``
    also zero-padded to exactly `frames` rows, so the padding counts as input (the paper's one-label
    model). Batching pads the rest, with a mask, when ``keep_length`` is True."""
    x = np.asarray(x, np.float32)[:frames]
    if not keep_length and len(x) < frames:
        x = np.concatenate([x, np.zeros((frames - len(x), x.shape[1]), np.float32)])
    return x

