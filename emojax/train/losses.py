"""Losses over padded batches (`emojax.data.batching`): ``loss(outputs, batch) -> (mean, weight)``.

`mean` is the scalar that is minimised; `weight` is how many labelled units it averages over
(valid steps, sequences, or their class weights), so a loss over many batches is
``Σ mean_b · weight_b / Σ weight_b`` — the mean over every unit, whatever the batch padding.
`ctc` is the loss of the frame-level models trained on label sequences (Chernykh 2018): one
``-log p(labels | x)`` per sequence, `emojax.nn.ctc`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from emojax.nn.ctc import ctc_loss_batch


def step_cross_entropy(logits: jax.Array, batch: dict) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy over valid steps: logits (B, T, K), ``y_step`` (B, T), ``mask`` (B, T)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y_step"])
    m = batch["mask"].astype(logits.dtype)
    n = m.sum()
    return (ce * m).sum() / jnp.maximum(n, 1.0), n


def seq_cross_entropy(logits: jax.Array, batch: dict, class_weights: jax.Array | None = None
                      ) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy over the batch's real sequences: logits (B, K), ``y_seq`` (B,).

    With `class_weights` (K,) each sequence counts w[y] (a cost-sensitive loss):
    ``Σ w[y_b] ce_b / Σ w[y_b]``, the weighted mean of ``torch.nn.CrossEntropyLoss(weight=w)``.
    Padded batch rows (no valid step) count 0.
    """
    y = batch["y_seq"]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    w = batch["mask"].any(-1).astype(logits.dtype)
    if class_weights is not None:
        w = w * jnp.asarray(class_weights, logits.dtype)[y]
    n = w.sum()
    return (ce * w).sum() / jnp.maximum(n, 1e-12), n


def class_weights(y, n_classes: int):
    """Inverse-frequency weights ``w_k = 1 / (K_present · share_k)`` (0 for absent classes): every
    present class then weighs the same in total, and the weights average 1 over the examples."""
    import numpy as np
    counts = np.bincount(np.asarray(y), minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = counts[present].sum() / (present.sum() * counts[present])
    return w.astype(np.float32)



def ctc(logits: jax.Array, batch: dict, *, blank: int = 0, zero_infinity: bool = True
        ) -> tuple[jax.Array, jax.Array]:
    """Mean CTC loss over the batch's real sequences: logits (B, T, K), ``labels`` (B, L),
    ``label_mask`` (B, L), ``mask`` (B, T) (`emojax.nn.ctc.ctc_loss_batch`).

    Padded batch rows (no valid frame) count 0; weight = the number of real sequences. With
    `zero_infinity` (the default here, as torch's option) a sequence too short for its labels adds
    0 to the sum and nothing to the gradient, but still counts in the weight.
    """
    nll = ctc_loss_batch(logits, batch["mask"], batch["labels"], batch["label_mask"], blank=blank,
                         zero_infinity=zero_infinity)                        # (B,)
    w = batch["mask"].any(-1).astype(nll.dtype)
    n = w.sum()
    return jnp.where(w > 0, nll, 0.0).sum() / jnp.maximum(n, 1.0), n
