"""Hsu & Wu: the segment corpora (embedded and user tables), the fusion models, and `emojax reproduce
aclstm:quick` end to end with a resuming rerun."""
import json

import jax
import numpy as np
import pytest

from emojax import cli
from emojax.data import segments as S
from emojax.models import aclstm as A

SMALL = S.SegmentParams(clips=60, seed=3)


def test_embedded_segments_are_deterministic_and_shaped():
    a, b = S.generate(SMALL), S.generate.__wrapped__(S.SegmentParams(clips=60, seed=3))  # not the cache
    assert len(a) == len(b) and np.array_equal(a.label, b.label)
    assert all(np.array_equal(x, y) for x, y in zip(a.audio, b.audio))
    assert len(a.clips()) == 60 and all(2 <= len(c) <= 8 for c in a.clips())
    assert {x.shape[1] for x in a.audio} == {S.AUDIO_DIM} and {x.shape[1] for x in a.visual} == {S.VISUAL_DIM}
    for c in a.clips():                                   # one clip = one speaker, segments in order
        assert len(set(a.speaker[c])) == 1 and list(a.segment[c]) == list(range(len(c)))
    other = S.generate(S.SegmentParams(clips=60, seed=4))
    assert not np.array_equal(other.label[:50], a.label[:50])


def test_agreement_follows_its_parameter():
    for agree in (0.6, 0.95):
        sc = S.generate(S.SegmentParams(clips=400, agree=agree))
        for lab in (sc.audio_label, sc.visual_label):
            assert abs(np.mean(lab == sc.label) - agree) < 0.04
    sc = S.generate(S.SegmentParams(clips=400, agree=1.0))
    assert np.array_equal(sc.audio_label, sc.visual_label)


def test_the_modalities_carry_their_own_labels():
    """A nearest-centroid rule on segment means (fitted on sessions 1-3, tested on 4-5) recovers
    each modality's own label far above chance: the corpus is learnable, by modality."""
    sc = S.generate(S.SegmentParams(clips=500))
    train = np.isin(sc.session, ["Ses01", "Ses02", "Ses03"])
    for arrays, lab in ((sc.audio, sc.audio_label), (sc.visual, sc.visual_label)):
        x = np.stack([a.mean(0) for a in arrays])
        cent = np.stack([x[train & (lab == k)].mean(0) for k in range(7)])
        pred = ((x[~train, None] - cent[None]) ** 2).sum(-1).argmin(1)
        acc = np.mean(pred == lab[~train])
        chance = np.bincount(lab[~train]).max() / (~train).sum()
        assert acc > chance + 0.15, (acc, chance)


def test_segment_table_round_trip(tmp_path):
    sc = S.generate(SMALL)
    path = S.write_table(sc, tmp_path / "seg")
    back = S.load(f"segtable:{path}")
    assert back.classes == S.CLASSES and back.sounds == S.SOUNDS
    for k in ("segment", "label", "audio_label", "visual_label", "sound"):
        assert np.array_equal(getattr(back, k), getattr(sc, k)), k
    assert list(back.clip) == list(sc.clip) and list(back.session) == list(sc.session)
    assert all(np.array_equal(x, y) for x, y in zip(back.audio, sc.audio))


def test_segment_table_errors_name_file_line_and_column(tmp_path):
    sc = S.generate(SMALL)
    path = S.write_table(sc, tmp_path / "seg")
    lines = path.read_text().splitlines()
    fields = lines[3].split(",")
    fields[1] = "x"                                       # line 4's segment
    bad = lines[:3] + [",".join(fields)] + lines[4:]
    (tmp_path / "seg" / "bad.csv").write_text("\n".join(bad) + "\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 4, column segment: 'x'"):
        S.read_table(tmp_path / "seg" / "bad.csv")
    np.save(tmp_path / "seg" / "arrays" / "000001_audio.npy", np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"line 3, column audio: 3 features, earlier rows have 34"):
        S.read_table(path)
    (tmp_path / "seg" / "cols.csv").write_text("clip,segment\n")
    with pytest.raises(ValueError, match="missing column"):
        S.read_table(tmp_path / "seg" / "cols.csv")
    with pytest.raises(ValueError, match="segtable:PATH"):
        S.load("baum1:/x")
    head = lines[0]
    cases = {"short.csv": (["", lines[1], ",".join(lines[2].split(",")[:4])], r"line 4: 4 fields, the header has 10"),
             "empty.csv": ([lines[1].replace(",neutral,", ",,", 1) if ",neutral," in lines[1] else
                            ",".join(lines[1].split(",")[:4] + [""] + lines[1].split(",")[5:])],
                           r"line 2, column label: empty"),
             "typo.csv": ([",".join(lines[1].split(",")[:5] + ["angr"] + lines[1].split(",")[6:])],
                          r"line 2, column audio_label: 'angr' is not a class"),
             "owner.csv": ([lines[1], ",".join(lines[2].split(",")[:2] + ["SesXX"] + lines[2].split(",")[3:])],
                           r"line 3: clip .* has speaker/session SesXX")}
    for name, (body, message) in cases.items():
        (tmp_path / "seg" / name).write_text("\n".join([head, *body]) + "\n")
        with pytest.raises(ValueError, match=message):
            S.read_table(tmp_path / "seg" / name)


def test_causal_attention_reads_only_the_past():
    key = jax.random.PRNGKey(0)
    p = A.init(key, "feature_fusion", (5, 3), 7, hidden=8)
    p["av"]["att"]["u"] = jax.random.normal(key, (8,))
    h = jax.random.normal(key, (2, 6, 8))
    mask = np.arange(6)[None] < np.array([[6], [4]])
    ctx, alpha = A.causal_attention(p["av"]["att"], h, mask)
    a = np.asarray(alpha)
    assert np.allclose(np.triu(a, 1), 0) and np.allclose(a[1][:4, 4:], 0)
    assert np.allclose(a[0].sum(-1), 1) and np.allclose(a[1][:4].sum(-1), 1)
    np.testing.assert_allclose(np.asarray(ctx[:, 0]), np.asarray(h[:, 0]), atol=1e-6)


@pytest.mark.parametrize("kind", A.MODELS)
def test_fusion_models_are_causal_and_shaped(kind):
    key = jax.random.PRNGKey(1)
    p = A.init(key, kind, (5, 3), 7, hidden=8)
    apply = A.model_fn(kind, (5, 3))
    x = np.asarray(jax.random.uniform(key, (2, 6, 9)))
    mask = np.ones((2, 6), bool)
    out, _ = apply(p, x, mask)
    assert out.shape == ((2, 6, 2, 7) if kind == "decision_fusion" else (2, 6, 7))
    x2 = x.copy()
    x2[:, 4:] += 1.0                                   # a later segment changes nothing before it
    out2, _ = apply(p, x2, mask)
    np.testing.assert_allclose(np.asarray(out[:, :4]), np.asarray(out2[:, :4]), atol=1e-6)
    x3 = x.copy()
    x3[:, 2, -1] = 0.0 if x[0, 2, -1] > 0.5 else 1.0   # the score of segment 2 only
    out3 = np.asarray(apply(p, x3, mask)[0])
    # the score of segment t weighs the state carried into t + 1: only the ACLSTM reads it
    np.testing.assert_allclose(out3[:, :3], np.asarray(out[:, :3]), atol=1e-6)
    assert (not np.allclose(out3[:, 3:], np.asarray(out[:, 3:]), atol=1e-6)) == (kind == "aclstm")
    # an all-padding batch row (the engine pads batches) keeps every gradient finite
    pad = np.array([[True] * 6, [False] * 6])
    g = jax.grad(lambda q: apply(q, x, pad)[0].sum())(p)
    assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(g))


def test_aclstm_quick_end_to_end_and_resume(tmp_path):
    wd = tmp_path / "wd"
    assert cli.main(["reproduce", "aclstm:quick", "--workdir", str(wd), "--no-progress"]) == 0
    doc = json.loads((wd / "results" / "table3.json").read_text())
    ours = {(r["classifier"], r.get("subset"), r["metric"]) for r in doc["records"]}
    assert {(m, None, "wa") for m in A.MODELS} <= ours
    assert ("aclstm", "disagree", "wa") in ours and ("coupled", "shuffled_test_order", "wa") in ours
    assert {r["classifier"] for r in doc["paper"]} == {*A.MODELS, "avef"}
    assert all(len(r["folds"]) == 2 for r in doc["records"])
    assert (wd / "results" / "fig7_confusion.png").is_file()
    md = (wd / "results" / "table3.md").read_text()
    assert "| ACLSTM | 70.1 ± 1.3 |" in md
    assert cli.main(["reproduce", "aclstm:quick", "--workdir", str(wd), "--no-progress"]) == 0
    again = json.loads((wd / "results" / "table3.json").read_text())
    assert again["meta"]["pieces"]["reused"] == 2 and again["records"] == doc["records"]


def test_from_utterances_cuts_fixed_segments_that_carry_the_utterance_label():
    audio = [np.zeros((250, 3)), np.zeros((40, 3))]            # 2.5 s and 0.4 s at 100 frames/s
    visual = [np.zeros((100, 2)), np.zeros((16, 2))]           # the same at 40 frames/s
    sc = S.from_utterances(["u1", "u2"], ["s1", "s2"], ["A", "B"], [2, 0], ("a", "b", "c"),
                           audio, 100.0, visual, 40.0, segment_s=1.0)
    assert [len(c) for c in sc.clips()] == [3, 1]              # 1 + 1 + 0.5 s; 0.4 s alone
    assert [len(a) for a in sc.audio] == [100, 100, 50, 40] and [len(v) for v in sc.visual] == [40, 40, 20, 16]
    assert sc.label.tolist() == [2, 2, 2, 0] and np.array_equal(sc.audio_label, sc.visual_label)


def test_aclstm_iemocap_proxy_on_a_rendered_tree(tmp_path):
    """The stated proxy end to end: a rendered IEMOCAP-layout tree (audio + MoCap) -> frame
    descriptors and face frames -> 1 s segments with the utterance label; the NTN learns where
    the audio-only and visual-only networks agree."""
    wd = tmp_path / "wd"
    assert cli.main(["reproduce", "aclstm:quick", "--corpus", "synthetic:scale=0.04", "--workdir",
                     str(wd), "--no-progress", "--set", "models=[coupled,aclstm]",
                     "--set", "max_folds=1"]) == 0
    doc = json.loads((wd / "results" / "table3.json").read_text())
    assert {r["task"] for r in doc["records"]} == {"emotion4"}
    assert doc["meta"]["corpus"]["kind"] == "iemocap_proxy"
    piece = json.loads(next((wd / "pieces").glob("fold00*.json")).read_text())["record"]
    assert piece["encoders"]["ntn"]["target"] == "classifiers"
