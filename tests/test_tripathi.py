"""Tripathi et al. 2019: the text front end, the MoCap chunks, the packed models, and
`emojax reproduce tripathi2019:quick` end to end."""
import json

import jax
import numpy as np
import pytest

from emojax import cli
from emojax.features import text as TX
from emojax.features.visual import chunk_means
from emojax.models import tripathi as M


def test_tokenizer_is_fitted_on_training_text_only():
    vocab = TX.fit_vocab(["I am so happy, happy [LAUGHTER]", "so sad"])
    assert vocab["so"] == 2 and vocab["happy"] == 3            # by frequency, then first seen
    assert "[laughter]" in vocab and "," not in vocab
    ids = TX.encode(["happy and SAD", ""], vocab, max_len=2)
    assert ids[0].tolist() == [3, TX.UNKNOWN] and ids[1].tolist() == [TX.UNKNOWN]


def test_glove_matrix_reads_vectors_and_names_bad_lines(tmp_path):
    vocab = TX.fit_vocab(["good bad good"])
    f = tmp_path / "g.txt"
    f.write_text("good 1 2 3\nother 4 5 6\n")
    E = TX.glove_matrix(f, vocab)
    assert E.shape == (4, 3) and E[vocab["good"]].tolist() == [1, 2, 3] and not E[0].any()
    f.write_text("good 1 2 3\nbad 4 5\n")
    with pytest.raises(ValueError, match=r"g\.txt, line 2: 2 values, earlier lines have 3"):
        TX.glove_matrix(f, vocab)


def test_chunk_means_matches_array_split_and_fills_short_and_lost():
    x = np.arange(1000, dtype=float).reshape(500, 2)
    ref = np.stack([c.mean(0) for c in np.array_split(x, 200)])
    np.testing.assert_allclose(chunk_means(x), ref, rtol=1e-6)
    short = chunk_means(x[:50])
    assert short.shape == (200, 2) and np.isfinite(short).all()
    lost = x[:300].copy()
    lost[10:20, 0] = np.nan
    np.testing.assert_allclose(chunk_means(lost), chunk_means(x[:300]), rtol=1e-6)   # linear fill


def test_packed_models_read_only_their_modality():
    lay = M.Layout(text_dim=8, text_steps=16)
    rng = np.random.default_rng(0)
    x = M.pack(rng.normal(size=(60, 34)), np.array([3, 4, 5]), rng.normal(size=(200, 189)), lay)
    assert x.shape == (200, lay.width) and x[0, lay.flag_col] == 1 and not x[60:100, :34].any()
    xs = np.stack([x, x])
    mask = np.ones(xs.shape[:2], bool)
    other = xs.copy()
    other[..., :34] += 1.0                                     # change the speech only
    for kind, moves in (("text_cnn", False), ("mocap_conv", False), ("speech_mlp", True),
                        ("fusion", True)):
        p = M.init(jax.random.PRNGKey(0), kind, lay, 4, vocab=10,
                   sizes=M.Sizes(speech_hidden=8, text_hidden=16, fusion=8))
        f = M.model_fn(kind, lay)
        a, b = np.asarray(f(p, xs, mask)[0]), np.asarray(f(p, other, mask)[0])
        assert (not np.allclose(a, b)) == moves, kind


def test_text_cnn_on_an_all_padding_row_is_finite():
    lay = M.Layout(text_dim=8)
    p = M.init(jax.random.PRNGKey(0), "text_cnn", lay, 4, vocab=10)
    xs = np.zeros((2, 200, lay.width), np.float32)
    xs[0, :3, lay.token_col] = [2, 3, 4]
    g = jax.grad(lambda q: M.model_fn("text_cnn", lay)(q, xs, np.ones((2, 200), bool))[0].sum())(p)
    assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(g))


def test_tripathi_quick_end_to_end(tmp_path):
    wd = tmp_path / "wd"
    assert cli.main(["reproduce", "tripathi2019:quick", "--workdir", str(wd), "--no-progress",
                     "--set", "models=[speech_mlp,text_cnn,head_dense,fusion]", "--set",
                     "protocols=[session]", "--set", "improvised=false"]) == 0
    doc = json.loads((wd / "results" / "tables.json").read_text())
    got = {(r["model"], r["metric"]) for r in doc["records"]}
    assert {("fusion", "wa"), ("text_cnn", "wa")} <= got
    # the tiny render's Session 5 has no MoCap: a MoCap-only model there is listed, not scored
    assert ("head_dense", "wa") in got or "session_fold0_head_dense_all" in doc["meta"]["empty_test"]
    from emojax.experiments.tripathi2019 import CORE
    # the fused model (and its branches) on every fold, the other models on zoo_folds = 1
    assert all(np.isfinite(r["mean"]) and len(r["folds"]) == (2 if r["model"] in CORE else 1)
               for r in doc["records"])
    meta = doc["meta"]
    assert meta["n_labelled"] > 0 and "missing_mocap" in meta
    # the fused model's search runs inside each fold (one candidate at quick size: the paper's)
    assert {v["chosen"] for v in meta["search"].values()} == {0} and len(meta["search"]) == 2
    md = (wd / "results" / "tables.md").read_text()
    assert "| 5 | Text + Speech + Mocap (`fusion`) | fusion | 71.0 |" in md
    assert (wd / "results" / "fig_fusion.png").is_file()


def test_fused_model_candidates_start_with_the_papers_and_are_seeded():
    from emojax.config import override
    from emojax.experiments import tripathi2019 as X
    cfg = override(X.Config(), {"hpo_trials": 3})
    a, b = X.trial_sizes(cfg, "session", 1), X.trial_sizes(cfg, "session", 1)
    assert a == b and len(a) == 3 and a[0] == M.Sizes()
    assert X.trial_sizes(cfg, "session", 2) != a or X.trial_sizes(cfg, "paper", 1) != a
    for s in a[1:]:
        assert s.speech_hidden in X.HPO_SPACE["speech_hidden"] and s.rate in X.HPO_SPACE["rate"]


def test_mocap_chunks_are_cached_and_read_back_once(tmp_path):
    """Three sentence MoCap files per utterance -> (200, 189); the second call reads the cache,
    and its arrays do not each hold the whole cached stack (that kept N copies alive)."""
    import types

    from emojax.experiments.tripathi2019 import mocap_chunks
    rng = np.random.default_rng(0)
    ids = ["Ses01F_impro01_F000", "Ses01F_impro01_M000"]
    for u in ids:
        for stream, cols in (("rotated", 167), ("hand", 20), ("head", 8)):
            d = tmp_path / "Session1" / "sentences" / f"MOCAP_{stream}" / "Ses01F_impro01"
            d.mkdir(parents=True, exist_ok=True)
            rows = np.column_stack([np.arange(300), np.arange(300) / 120, rng.normal(size=(300, cols - 2))])
            (d / f"{u}.txt").write_text("Frame# Time\nheader\n" + "\n".join(" ".join(f"{v:.5f}" for v in r) for r in rows) + "\n")
    corpus = types.SimpleNamespace(utterance_id=np.array(ids + ["Ses05M_script01_1b_F000"]),
                                   params={"kind": "test"})
    first = mocap_chunks(corpus, tmp_path, tmp_path / "cache.npz", progress=False)
    assert set(first) == set(ids) and first[ids[0]].shape == (200, 189)
    again = mocap_chunks(corpus, tmp_path, tmp_path / "cache.npz", progress=False)
    for u in ids:
        np.testing.assert_array_equal(again[u], first[u])
    assert again[ids[0]].base is again[ids[1]].base           # one array read, sliced
