"""CTC decoders on hand-made posteriors with known answers, and against brute force over labellings."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emojax.nn.ctc import ctc_loss
from emojax.nn.decoding import (beam_search_batch, best_path, class_of_label, collapse,
                                decode_to_class, label_posteriors, prefix_beam_search)

best_path_j = jax.jit(best_path, static_argnames="blank")


def peaked(path, K, high=10.0):
    """Logits (T, K) whose argmax per frame is `path`."""
    return high * np.eye(K, dtype=np.float32)[list(path)]


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 1, 2, 2, 0], 0) == (1, 1, 2)           # a a ∅ a b b ∅
    assert collapse([1, 1, 1], 0) == (1,) and collapse([0, 0], 0) == () and collapse([], 0) == ()
    assert collapse([0, 3, 3, 0, 3], 3) == (0, 0)                    # blank last


@pytest.mark.parametrize("blank", [0, 3])
def test_best_path_on_known_paths_and_padding(blank):
    """Labels a, b are 1, 2 with the blank first, 0, 1 with it last; frames after the mask are
    padding and must not count (one pads with b, one with a repeat of the last label)."""
    a, b = (1, 2) if blank == 0 else (0, 1)
    K, T = 4, 9
    paths = [[a, a, blank, a, b, b, blank, blank, blank],           # a a ∅ a b b ∅ → (a, a, b)
             [blank] * T,                                            # all blank → ()
             [a, b, b, a, b, b, b, b, b],                            # padded after 3 frames → (a, b)
             [a, blank, a, a, a, a, a, a, a]]                        # padded after 4 → (a, a)
    n = np.array([7, 9, 3, 4])
    logits = np.stack([peaked(p, K) for p in paths])
    mask = np.arange(T)[None] < n[:, None]
    labels, lengths = best_path_j(logits, mask, blank=blank)
    assert labels.dtype == jnp.int32 and labels.shape == (4, T)
    expect = [(a, a, b), (), (a, b), (a, a)]
    np.testing.assert_array_equal(lengths, [len(e) for e in expect])
    for row, e in zip(np.asarray(labels), expect):
        assert tuple(row[:len(e)]) == e and np.all(row[len(e):] == -1)
    one, n_one = best_path(logits[0], mask[0], blank=blank)          # one sequence, no batch axis
    assert one.shape == (T,) and int(n_one) == 3


def test_best_path_is_collapse_of_the_argmax_for_any_leading_axes():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 8, 4)).astype(np.float32)
    n = rng.integers(0, 9, (2, 3))
    mask = np.arange(8) < n[..., None]
    labels, lengths = best_path_j(logits, mask, blank=0)
    assert labels.shape == (2, 3, 8) and lengths.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        ref = collapse(logits[i, j, :n[i, j]].argmax(-1), 0)
        assert tuple(np.asarray(labels[i, j, :lengths[i, j]])) == ref


def test_beam_search_beats_best_path_where_many_paths_share_a_labelling():
    """Two frames, y(∅) = 0.6, y(a) = 0.4 each: best path is ∅ ∅ (labelling (), p = 0.36) but
    p(a) = 0.4·0.4 + 0.4·0.6 + 0.6·0.4 = 0.64 (Graves 2012, fig. 7.5)."""
    y = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    labels, lengths = best_path(y, np.ones(2, bool))
    assert int(lengths) == 0
    out = prefix_beam_search(y, beam=4)
    assert out[0][0] == (1,) and np.isclose(out[0][1], np.log(0.64))
    assert dict(out)[()] == pytest.approx(np.log(0.36))
    assert out[0][1] > dict(out)[()]


def test_beam_search_needs_a_blank_between_repeats():
    for path, expect in (([1, 0, 1], (1, 1)), ([1, 1, 1], (1,)), ([1, 1, 0, 0, 1, 1], (1, 1))):
        lp = np.log(np.where(np.eye(2)[path] > 0, 1 - 1e-6, 1e-6))   # near-certain path
        assert prefix_beam_search(lp, beam=8)[0][0] == expect


def _labelling_probs(lp, n, blank):
    """{labelling: log p} by summing every path of the first n frames (brute force)."""
    K = lp.shape[1]
    out: dict = {}
    for path in itertools.product(range(K), repeat=n):
        lab = collapse(path, blank)
        out[lab] = np.logaddexp(out.get(lab, -np.inf), lp[np.arange(n), list(path)].sum())
    return out


@pytest.mark.parametrize("blank", [0, 2])
def test_beam_search_matches_brute_force_over_labellings(blank):
    """With a beam that holds every prefix the search is exact: the argmax labelling, and every
    returned log-probability equals the brute-force sum (and -ctc_loss)."""
    rng = np.random.default_rng(1 + blank)
    loss = jax.jit(ctc_loss, static_argnames="blank")
    for _ in range(4):
        T, K = 5, 3
        lp = np.asarray(jax.nn.log_softmax(jnp.asarray(2 * rng.normal(size=(T, K))), -1), np.float64)
        n = int(rng.integers(3, T + 1))
        probs = _labelling_probs(lp, n, blank)
        out = prefix_beam_search(lp, n, beam=64, blank=blank)
        assert out[0][0] == max(probs, key=probs.get)
        for lab, v in out:
            assert v == pytest.approx(probs[lab], abs=1e-9)
        top = out[0][0]
        padded = jnp.asarray(list(top) + [0] * (T - len(top)), jnp.int32)
        assert float(loss(jnp.asarray(lp, jnp.float32), padded, n, len(top), blank=blank)) \
            == pytest.approx(-out[0][1], rel=1e-5)


def test_beam_one_and_peaked_posteriors():
    """beam=1 keeps one prefix: never better than a wider beam; on peaked posteriors every beam
    and best path agree."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        lp = np.asarray(jax.nn.log_softmax(jnp.asarray(rng.normal(size=(6, 3))), -1))
        assert prefix_beam_search(lp, beam=1)[0][1] <= prefix_beam_search(lp, beam=16)[0][1] + 1e-12
        assert len(prefix_beam_search(lp, beam=1)) == 1
    path = [1, 1, 0, 2, 0, 2, 2]
    lp = np.asarray(jax.nn.log_softmax(jnp.asarray(peaked(path, 3)), -1))
    for beam in (1, 4):
        assert prefix_beam_search(lp, beam=beam)[0][0] == (1, 2, 2)
    assert prefix_beam_search(lp, 0) == [((), 0.0)]                # no frames: the empty labelling


@pytest.mark.parametrize("blank", [0, 3, -1])
def test_beam_search_batch_uses_each_rows_frames(blank):
    b = blank % 4
    a, c = [k for k in range(4) if k != b][:2]
    paths = [[a, b, a, c, c, b], [c, c, a, a, a, a]]
    logits = np.stack([peaked(p, 4) for p in paths])
    mask = np.arange(6)[None] < np.array([[6], [2]])
    assert beam_search_batch(logits, mask, beam=4, blank=blank) == [(a, a, c), (c,)]


def test_label_posteriors_sum_the_valid_frames_without_the_blank():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.arange(5)[None] < np.array([[5], [2]])
    y = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    for blank in (0, 3):
        post = np.asarray(label_posteriors(logits, mask, blank=blank))
        ref = np.stack([np.delete(y[i, :n].sum(0), blank) for i, n in enumerate((5, 2))])
        np.testing.assert_allclose(post, ref, rtol=1e-5)


def test_decode_to_class_rule_and_fallback():
    post = np.array([5.0, 1.0, 3.0, 0.5])                         # classes 0..3 (K = 5)
    # blank last: labels are classes; of the decoded classes {1, 2}, 2 has more posterior mass
    assert decode_to_class((1, 2, 1), post, blank=4) == 2
    # blank first: label j is class j-1, so labels (2, 3) are classes 1, 2
    assert decode_to_class((2, 3), post, blank=0) == 2
    assert decode_to_class((4,), post, blank=0) == 3               # the decode wins over the argmax
    # empty decode (best_path's -1 padding ignored): the class with the most posterior overall
    assert decode_to_class((), post, blank=0) == 0
    assert decode_to_class(np.array([-1, -1]), post, blank=4) == 0
    with pytest.raises(ValueError, match="blank"):
        decode_to_class((0,), post, blank=0)                        # the blank is no class


def test_class_of_label():
    assert [class_of_label(k, 0) for k in (1, 2, 3)] == [0, 1, 2]
    assert [class_of_label(k, 3) for k in (0, 1, 2)] == [0, 1, 2]
    assert [class_of_label(k, 1) for k in (0, 2)] == [0, 1]
    assert class_of_label(2, -1, num_classes=4) == 2
    np.testing.assert_array_equal(class_of_label(np.array([1, 3]), 2), [1, 2])
    with pytest.raises(ValueError):
        class_of_label(1, -1)


def test_decoders_end_to_end_on_best_path_output():
    """best_path -> label_posteriors -> decode_to_class, both blank conventions give the same class."""
    path_last = [0, 0, 3, 2, 3, 3]                    # blank 3: labels (0, 2) = classes (0, 2)
    z_last = peaked(path_last, 4)
    z_first = z_last[:, [3, 0, 1, 2]]                  # the same outputs, blank moved first
    mask = np.ones(6, bool)
    got = []
    for z, blank in ((z_last, 3), (z_first, 0)):
        labels, _ = best_path(z, mask, blank=blank)
        got.append(decode_to_class(np.asarray(labels), label_posteriors(z, mask, blank=blank),
                                   blank=blank))
    assert got[0] == got[1] == 0                       # class 0 spans two frames, class 2 one
