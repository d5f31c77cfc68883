"""Losses over dict batches, against numpy and torch, and the batcher's padding."""
import numpy as np
import pytest

from emojax.data.batching import pad_batch, stack_batches
from emojax.train.losses import class_weights, seq_cross_entropy, step_cross_entropy


def _np_ce(logits, y):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, y[..., None], -1)[..., 0]


def test_step_cross_entropy_is_the_mean_over_valid_steps():
    rng = np.random.default_rng(0)
    items = [{"x": rng.normal(size=(n, 3)).astype(np.float32), "y_step": rng.integers(0, 4, n)}
             for n in (5, 2, 7)]
    b = pad_batch(items, 4, 3)
    assert b["x"].shape == (4, 16, 3) and b["mask"].sum() == 14 and b["y_step"].shape == (4, 16)
    logits = rng.normal(size=(4, 16, 4)).astype(np.float32)
    loss, n = step_cross_entropy(logits, b)
    ref = np.concatenate([_np_ce(logits[i, :len(it["x"])], it["y_step"]) for i, it in enumerate(items)])
    np.testing.assert_allclose(loss, ref.mean(), rtol=1e-5)
    assert float(n) == 14


def test_seq_cross_entropy_matches_torch_weighted_mean():
    rng = np.random.default_rng(1)
    items = [{"x": rng.normal(size=(n, 2)).astype(np.float32), "y_seq": int(rng.integers(0, 3))}
             for n in (3, 4, 6, 2, 5)]
    b = pad_batch(items, 8, 2)                        # 3 padded rows must not count
    logits = rng.normal(size=(8, 3)).astype(np.float32)
    y = np.array([it["y_seq"] for it in items])
    w = class_weights(y, 3)
    loss, weight = seq_cross_entropy(logits, b, class_weights=w)
    ce = _np_ce(logits[:5], y)
    np.testing.assert_allclose(loss, (w[y] * ce).sum() / w[y].sum(), rtol=1e-5)
    np.testing.assert_allclose(weight, w[y].sum(), rtol=1e-6)
    np.testing.assert_allclose(seq_cross_entropy(logits, b)[0], ce.mean(), rtol=1e-5)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits[:5]), torch.tensor(y),
                                            weight=torch.tensor(w))
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-5)


def test_class_weights_balance_the_classes():
    w = class_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    counts = np.array([3, 1, 2, 0])
    np.testing.assert_allclose((w * counts)[:3], [2, 2, 2])     # every present class weighs alike
    assert w[3] == 0


def test_label_sequences_and_stacking():
    items = [{"x": np.ones((4, 2), np.float32), "labels": np.array([1, 2])},
             {"x": np.ones((9, 2), np.float32), "labels": np.array([3, 1, 1])}]
    b = pad_batch(items, 2, 2)
    assert b["labels"].shape == (2, 8) and b["label_mask"].sum() == 5
    s = stack_batches([items[:1], None, items[1:]], 2, 2)
    assert s["x"].shape == (3, 2, 16, 2) and s["mask"][1].sum() == 0
    assert s["labels"].shape == (3, 2, 8)
    with pytest.raises(ValueError, match="unknown batch keys"):
        pad_batch([{"x": np.ones((2, 2)), "frames": 1}], 1, 2)
