"""The IEMOCAP reader against a hand-written mini release (tests/iemocap_fixture.py).

Every expected value below is written by hand from the fixture's text, not computed by the reader.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from emojax.data import iemocap
from emojax.data.iemocap import IemocapError
from emojax.data.labels import IEMOCAP_LABEL_SET_COUNTS, IEMOCAP_LABEL_SETS, iemocap_classes

from iemocap_fixture import EMO, write_tree

S1 = "Session1/sentences/wav"
S3 = "Session3/sentences/wav"
# utterance, speaker, turn, start, end, code, V, A, D, has_mocap, mocap_files, transcript, wav
EXPECTED = [
    ("Ses01F_impro01_F000", "Ses01F", 0, 6.2901, 8.2357, "neu", 2.5, 2.5, 2.5, True, True,
     "Excuse me.", f"{S1}/Ses01F_impro01/Ses01F_impro01_F000.wav"),
    ("Ses01F_impro01_M000", "Ses01M", 1, 7.5712, 10.25, "ang", 1.5, 4.0, 4.5, False, True,
     "Do you have your forms?", f"{S1}/Ses01F_impro01/Ses01F_impro01_M000.wav"),
    ("Ses01F_impro01_F001", "Ses01F", 2, 10.01, 11.3925, "xxx", 2.3333, 3.0, 3.3333, True, True,
     "Yeah. [LAUGHTER] Is there a problem?", f"{S1}/Ses01F_impro01/Ses01F_impro01_F001.wav"),
    ("Ses01F_impro01_M001", "Ses01M", 3, 11.0, 12.5, "exc", 3.5, 4.0, 3.0, False, True,
     "Who told you to get in this line?", f"{S1}/Ses01F_impro01/Ses01F_impro01_M001.wav"),
    ("Ses01F_impro01_F002", "Ses01F", 4, 14.1, 15.0, "hap", 4.0, 3.5, 3.0, True, True,
     "You did.", f"{S1}/Ses01F_impro01/Ses01F_impro01_F002.wav"),
    ("Ses01M_script01_1_F000", "Ses01F", 0, 1.5, 3.0, "neu", 3.0, 2.5, 2.5, False, True,
     "What's he going to say? Maybe we ought to tell him.",
     f"{S1}/Ses01M_script01_1/Ses01M_script01_1_F000.wav"),
    ("Ses01M_script01_1_M000", "Ses01M", 1, 2.0, 4.5, "sad", 2.0, 2.0, 2.5, True, True,
     "I don't know... Forget it.", f"{S1}/Ses01M_script01_1/Ses01M_script01_1_M000.wav"),
    ("Ses01M_script01_1_F001", "Ses01F", 2, 4.8, 5.9, "sur", 3.5, 4.0, 3.0, False, True,
     "Oh! Look at that.", ""),
    ("Ses01M_script01_1_M001", "Ses01M", 3, 6.0, 7.25, "fru", 2.0, 3.5, 3.5, True, True,
     "", f"{S1}/Ses01M_script01_1/Ses01M_script01_1_M001.wav"),
    ("Ses03M_impro05a_M000", "Ses03M", 0, 3.0, 5.0, "ang", 2.0, 4.5, 4.0, True, True,
     "I told you already!", f"{S3}/Ses03M_impro05a/Ses03M_impro05a_M000.wav"),
    ("Ses03M_impro05a_F000", "Ses03F", 1, 4.0, 6.5, "xxx", 2.6667, 3.3333, 3.0, False, True,
     "Okay... okay.", f"{S3}/Ses03M_impro05a/Ses03M_impro05a_F000.wav"),
    ("Ses03M_impro05a_FXX0", "Ses03F", 2, 7.0, 8.0, "xxx", 3.0, 3.0, 3.0, False, True,
     "[LAUGHTER]", f"{S3}/Ses03M_impro05a/Ses03M_impro05a_FXX0.wav"),
    ("Ses03M_impro05a_M001", "Ses03M", 3, 8.5, 9.5, "neu", 3.0, 2.0, 2.5, False, False,
     "Fine.", f"{S3}/Ses03M_impro05a/Ses03M_impro05a_M001.wav"),
    ("Ses03M_impro05b_F000", "Ses03F", 0, 1.0, 2.0, "neu", 3.0, 2.5, 3.0, False, False,
     "Hello.", f"{S3}/Ses03M_impro05b/Ses03M_impro05b_F000.wav"),
    ("Ses03M_impro05b_M000", "Ses03M", 1, 2.5, 3.5, "sad", 2.0, 2.0, 2.0, False, False,
     "Hi - hi.", f"{S3}/Ses03M_impro05b/Ses03M_impro05b_M000.wav"),
]
E1, E3 = "Session1/dialog/EmoEvaluation", "Session3/dialog/EmoEvaluation"
T1, T3 = "Session1/dialog/transcriptions", "Session3/dialog/transcriptions"
# (kind, item, utterance or None): every odd item of the fixture, in the reader's order
EXPECTED_ODD = [
    ("skipped_appledouble", f"{E1}/._Ses01M_script01_1.txt", None),
    ("skipped_folder", f"{E1}/Attribute", None),
    ("skipped_folder", f"{E1}/Categorical", None),
    ("skipped_folder", f"{E1}/Self-evaluation", None),
    ("dimensional_vote_incomplete", f"{E1}/Ses01F_impro01.txt:28", "Ses01F_impro01_F002"),
    ("dimensional_vote_incomplete", f"{E1}/Ses01F_impro01.txt:46", "Ses01F_impro01_M001"),
    ("unmatched_transcript_line", f"{T1}/Ses01F_impro01.txt:4", None),
    ("skipped_appledouble", f"{S1}/Ses01F_impro01/._Ses01F_impro01_F000.wav", None),
    ("transcript_time", f"{T1}/Ses01M_script01_1.txt:1", "Ses01M_script01_1_F000"),
    ("missing_transcript_line", f"{T1}/Ses01M_script01_1.txt", "Ses01M_script01_1_M001"),
    ("wav_duration", f"{S1}/Ses01M_script01_1/Ses01M_script01_1_M000.wav", "Ses01M_script01_1_M000"),
    ("missing_wav", f"{S1}/Ses01M_script01_1/Ses01M_script01_1_F001.wav", "Ses01M_script01_1_F001"),
    ("extra_transcript_line", f"{T3}/Ses03M_impro05a.txt:4", "Ses03M_impro05a_FXX1"),
    ("extra_wav", f"{S3}/Ses03M_impro05a/Ses03M_impro05a_FXX1.wav", "Ses03M_impro05a_FXX1"),
    ("partial_mocap", "Session3/sentences/MOCAP_hand/Ses03M_impro05a/Ses03M_impro05a_M001.txt",
     "Ses03M_impro05a_M001"),
    ("xx_id", f"{E3}/Ses03M_impro05a.txt:31", "Ses03M_impro05a_FXX0"),
    ("vad_mismatch", f"{E3}/Ses03M_impro05b.txt:12", "Ses03M_impro05b_M000"),
    ("dialog_without_mocap", "Session3/sentences/MOCAP_*/Ses03M_impro05b", None),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("iemocap"))


@pytest.fixture(scope="module")
def read(root):
    return iemocap.read_iemocap(root)


@pytest.fixture(scope="module")
def prepared(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    return out, iemocap.prepare_iemocap(root, out, progress=True)


def test_every_field_matches_the_fixture_by_hand(read, root):
    c, _ = read
    assert len(c) == len(EXPECTED)
    assert c.features.shape == (15, 0) and c.feature_names == ()
    for i, (uid, spk, turn, start, end, code, v, a, d, mocap, files, text, wav) in enumerate(EXPECTED):
        assert c.utterance_id[i] == uid
        assert c.dialog[i] == uid.rsplit("_", 1)[0] and c.session[i] == uid[:5]
        assert c.speaker[i] == spk and c.gender[i] == spk[-1], uid     # the LAST component's letter
        assert c.extras["wearer"][i] == uid[5], uid                    # the dialog's letter
        assert c.turn[i] == turn, uid
        assert (c.extras["start"][i], c.extras["end"][i]) == (start, end), uid
        assert c.category[i] == code, uid
        assert (c.valence[i], c.activation[i], c.extras["dominance"][i]) == (v, a, d), uid
        assert c.extras["has_mocap"][i] == mocap and c.extras["mocap_files"][i] == files, uid
        assert c.transcript[i] == text and c.wav[i] == wav, uid
    # sentence wavs: floor((end - start) * 16000) samples, except the half-length one and the missing one
    dur = dict(zip(c.utterance_id, c.extras["duration"]))
    assert dur["Ses01F_impro01_F000"] == 31129 / 16000            # 8.2357 - 6.2901 = 1.9456 s
    assert dur["Ses01M_script01_1_M000"] == 20000 / 16000          # half of 2.5 s
    assert math.isnan(dur["Ses01M_script01_1_F001"])
    assert (root / c.wav[0]).is_file()
    assert c.params["kind"] == "iemocap" and c.params["root"] == str(root)
    assert re.fullmatch(r"[0-9a-f]{64}", c.params["content"])
    assert c.params["label_sets"] == ["ang_hapexc_neu_sad", "ang_exc_neu_sad"]


def test_turns_follow_start_time_not_block_order(read):
    c, _ = read
    # the file lists F000 F001 F002 M000 M001; by start time they interleave and overlap
    d = c.dialog == "Ses01F_impro01"
    assert c.utterance_id[d].tolist() == ["Ses01F_impro01_F000", "Ses01F_impro01_M000",
                                          "Ses01F_impro01_F001", "Ses01F_impro01_M001",
                                          "Ses01F_impro01_F002"]
    start, end = c.extras["start"][d], c.extras["end"][d]
    assert np.all(np.diff(start) > 0) and np.any(end[:-1] > start[1:])   # overlapping turns
    for dialog in set(c.dialog.tolist()):
        assert c.turn[c.dialog == dialog].tolist() == list(range((c.dialog == dialog).sum()))


def test_votes_keep_every_evaluator_and_mark_self_evaluations(read):
    c, _ = read
    votes = dict(zip(c.utterance_id, c.extras["votes"]))
    f001 = json.loads(votes["Ses01F_impro01_F001"])
    assert f001["categorical"] == [
        {"rater": "E1", "self": False, "labels": ["Excited"], "comment": ""},
        {"rater": "E2", "self": False, "labels": ["Frustration", "Other"], "comment": "disbelief"},
        {"rater": "E4", "self": False, "labels": [], "comment": ""},
        {"rater": "F1", "self": True, "labels": ["Frustration"], "comment": ""}]
    assert [(a["rater"], a["self"], a["val"], a["act"], a["dom"]) for a in f001["dimensional"]] == [
        ("E1", False, 3, 2, 2), ("E3", False, 2, 3, 3), ("E4", False, 2, 4, 5), ("F1", True, 1, 4, 4)]
    f000 = json.loads(votes["Ses01F_impro01_F000"])
    assert f000["categorical"][3] == {"rater": "F1", "self": True, "labels": ["Neutral"],
                                      "comment": "curious"}
    assert f000["dimensional"][1]["comment"] == "mildly aggravated but staying polite, attitude"
    # 'dom  ;' and no dom at all are both a missing dominance
    assert json.loads(votes["Ses01F_impro01_F002"])["dimensional"][1]["dom"] is None
    assert json.loads(votes["Ses01F_impro01_M001"])["dimensional"][1] == {
        "rater": "E4", "self": False, "val": 3, "act": 4, "dom": None, "comment": ""}
    m3 = json.loads(votes["Ses03M_impro05a_M000"])
    assert [(v["rater"], v["self"]) for v in m3["categorical"]] == [
        ("E1", False), ("E2", False), ("E3", False), ("M3", True)]


def test_read_evaluation_keeps_file_order_and_values(root):
    evs = iemocap.read_evaluation(root / E1 / "Ses01F_impro01.txt")
    assert [e.utterance_id[-4:] for e in evs] == ["F000", "F001", "F002", "M000", "M001"]
    assert [e.line for e in evs] == [3, 12, 22, 31, 40]
    f001 = evs[1]
    assert (f001.start, f001.end, f001.code) == (10.01, 11.3925, "xxx")
    assert f001.categorical[1] == iemocap.CategoricalVote("E2", ("Frustration", "Other"),
                                                          "disbelief", False, 14)
    assert f001.dimensional[3] == iemocap.DimensionalVote("F1", 1, 4, 4, "", True, 20)


def test_speaker_comes_from_the_last_id_component():
    assert iemocap.speaker_of("Ses01F_impro01_M000") == "Ses01M"
    assert iemocap.speaker_of("Ses03M_impro05a_FXX0") == "Ses03F"
    assert iemocap.speaker_of("Ses05M_script01_1b_F012") == "Ses05F"
    assert iemocap.parse_utterance_id("Ses05M_script01_1b_F012") == ("Ses05M_script01_1b", "F", "012")
    assert iemocap.parse_utterance_id("Ses03M_impro08b_MXX1") == ("Ses03M_impro08b", "M", "XX1")
    for bad in ("Ses01F_impro01_Q000", "Ses01F_impro01", "impro01_F000", "Ses01F_impro01_F00"):
        with pytest.raises(ValueError):
            iemocap.parse_utterance_id(bad)


def test_label_sets_map_codes_and_are_named(read):
    c, integrity = read
    assert set(IEMOCAP_LABEL_SETS) == {"ang_hapexc_neu_sad", "ang_exc_neu_sad"}
    assert IEMOCAP_LABEL_SET_COUNTS == {"ang_hapexc_neu_sad": 5531, "ang_exc_neu_sad": 4936}
    codes = iemocap.DOCUMENTED["codes"]          # the documented counts add up to the set sizes
    assert sum(codes[k] for k in ("ang", "hap", "exc", "neu", "sad")) == 5531
    assert sum(codes[k] for k in ("ang", "exc", "neu", "sad")) == 4936
    assert iemocap_classes(["ang", "hap", "exc", "neu", "sad", "fru", "xxx"],
                           "ang_hapexc_neu_sad").tolist() == [
        "ang", "hapexc", "hapexc", "neu", "sad", None, None]
    assert iemocap_classes(["ang", "hap", "exc", "neu", "sad", "fru", "xxx"],
                           "ang_exc_neu_sad").tolist() == ["ang", None, "exc", "neu", "sad", None, None]
    with pytest.raises(ValueError, match="unknown IEMOCAP label set"):
        iemocap_classes(["neu"], "four")
    # fixture: neu 4, ang 2, sad 2, hap 1, exc 1 -> 10 with happiness merged, 9 without
    assert integrity["found"]["label_sets"] == {"ang_hapexc_neu_sad": 10, "ang_exc_neu_sad": 9}
    assert integrity["label_set_classes"] == {
        "ang_hapexc_neu_sad": {"ang": 2, "hapexc": 2, "neu": 4, "sad": 2},
        "ang_exc_neu_sad": {"ang": 2, "exc": 1, "neu": 4, "sad": 2}}


def test_integrity_names_every_difference_and_odd_item(read):
    _, rep = read
    assert rep["ok"] is False
    messages = {d["message"] for d in rep["differences"]}
    for m in ("utterances: found 15, documented 10039", "dialogs: found 4, documented 151",
              "sessions.Ses01.utterances: found 9, documented 1819",
              "sessions.Ses01.dialogs: found 2, documented 28",
              "sessions.Ses02.utterances: found 0, documented 1811",
              "sessions.Ses03.utterances: found 6, documented 2136",
              "sessions.Ses05.dialogs: found 0, documented 31",
              "codes.xxx: found 3, documented 2507", "codes.neu: found 4, documented 1708",
              "codes.fea: found 0, documented 40",
              "label_sets.ang_hapexc_neu_sad: found 10, documented 5531",
              "label_sets.ang_exc_neu_sad: found 9, documented 4936",
              "types.impro: found 11, documented 4784", "genders.M: found 7, documented 5098"):
        assert m in messages
    assert len(rep["differences"]) == 29         # every count differs on a 15-utterance tree
    assert rep["found"]["speakers"] == {"Ses01F": 5, "Ses01M": 4, "Ses03F": 3, "Ses03M": 3}
    got = [(o["kind"], o["item"], o.get("utterance")) for o in rep["odd"]]
    assert got == EXPECTED_ODD
    assert all(o["reason"] for o in rep["odd"])
    assert rep["unmatched_transcript_lines"] == 1
    assert rep["odd_counts"]["skipped_folder"] == 3 and sum(rep["odd_counts"].values()) == 18
    json.dumps(rep)                                  # JSON-able as it stands


def test_integrity_of_the_documented_counts_is_ok(read, monkeypatch):
    c, _ = read
    documented = {"utterances": 15, "dialogs": 4,
                  "sessions": {"Ses01": {"utterances": 9, "dialogs": 2},
                               "Ses03": {"utterances": 6, "dialogs": 2}},
                  "codes": {"xxx": 3, "fru": 1, "neu": 4, "ang": 2, "sad": 2, "exc": 1, "hap": 1,
                            "sur": 1},
                  "label_sets": {"ang_hapexc_neu_sad": 10, "ang_exc_neu_sad": 9},
                  "types": {"impro": 11, "script": 4}, "genders": {"F": 8, "M": 7}}
    monkeypatch.setattr(iemocap, "DOCUMENTED", documented)
    rep = iemocap._integrity(c, [(d, None, None) for d in sorted(set(c.dialog.tolist()))], [], 0)
    assert rep["ok"] and rep["differences"] == []
    documented["codes"]["neu"] = 5
    rep = iemocap._integrity(c, [(d, None, None) for d in sorted(set(c.dialog.tolist()))], [], 0)
    assert [d["message"] for d in rep["differences"]] == ["codes.neu: found 4, documented 5"]


def test_content_fingerprint_covers_text_files_not_wavs(tmp_path):
    root = write_tree(tmp_path)
    first = iemocap.read_iemocap(root)[0].params["content"]
    wav = root / S1 / "Ses01F_impro01" / "Ses01F_impro01_F000.wav"
    wav.write_bytes(wav.read_bytes()[:-2] + b"\x01\x00")
    assert iemocap.read_iemocap(root)[0].params["content"] == first
    t = root / T1 / "Ses01F_impro01.txt"
    t.write_text(t.read_text().replace("Excuse me.", "Excuse me!"))
    assert iemocap.read_iemocap(root)[0].params["content"] != first


@pytest.mark.parametrize("lineno, line, why", [
    (3, "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu", "malformed summary line"),
    (3, "[6.2901 - 8.2357]\tSes01F_impro02_F000\tneu\t[2.5000, 2.5000, 2.5000]",
     "does not belong to dialog 'Ses01F_impro01'"),
    (3, "[8.2901 - 6.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]", "is before start"),
    (3, "C-E2:\tNeutral;\t()", "categorical vote before any summary line"),
    (8, "A-E3:\tval x; act 2; dom  2;\t()", "malformed dimensional line"),
    (4, "C-E2:\tNeutral;\t(open comment", "not closed"),
    (5, "hello there", "not a summary, 'C-' or 'A-' line"),
    (12, "[10.0100 - 11.3925]\tSes01F_impro01_F000\txxx\t[2.3333, 3.0000, 3.3333]",
     "already has a block on line 3"),
])
def test_a_malformed_line_names_file_line_and_text(tmp_path, lineno, line, why):
    root = write_tree(tmp_path)
    path = root / E1 / "Ses01F_impro01.txt"
    lines = path.read_text().split("\n")
    lines[lineno - 1] = line
    path.write_text("\n".join(lines))
    with pytest.raises(IemocapError) as e:
        iemocap.read_iemocap(root)
    msg = str(e.value)
    assert msg.startswith(f"{path}:{lineno}: ") and why in msg and repr(line) in msg, msg
    assert "\n" not in msg


def test_missing_header_and_not_a_release(tmp_path):
    with pytest.raises(IemocapError, match=r"x/Ses01F_impro01\.txt:1: expected the header"):
        iemocap.read_evaluation(tmp_path / "x" / "Ses01F_impro01.txt",
                                text="[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n")
    with pytest.raises(IemocapError, match="no Session1..Session5 folders"):
        iemocap.read_iemocap(tmp_path)
    with pytest.raises(IemocapError, match="neither an IEMOCAP_full_release folder"):
        iemocap.load(tmp_path)


def test_the_per_evaluator_files_are_never_parsed(read, root):
    # their lines ('Ses01F_impro01_F000 :Neutral state; ()') would be malformed in a dialog file
    with pytest.raises(IemocapError, match="not a summary"):
        iemocap.read_evaluation(root / E1 / "Categorical" / "Ses01F_impro01_e2_cat.txt",
                                text="% header\n" + (root / E1 / "Categorical" /
                                                     "Ses01F_impro01_e2_cat.txt").read_text())
    c, _ = read
    assert len(c) == 15                              # read_iemocap skipped them (and listed them)


def test_transcription_lines_match_or_are_returned(root):
    matched, unmatched = iemocap.read_transcription(root / T1 / "Ses01F_impro01.txt")
    assert [t.utterance_id[-4:] for t in matched] == ["F000", "M000", "F001", "M001", "F002"]
    assert matched[2] == iemocap.TranscriptLine("Ses01F_impro01_F001", 10.01, 11.3925,
                                                "Yeah. [LAUGHTER] Is there a problem?", 3)
    assert unmatched == [(4, "M: [BREATHING]")]


def test_read_mocap_streams(root):
    utt = "Ses01F_impro01_F000"
    frames, times, values, names = iemocap.read_mocap(iemocap.mocap_path(root, utt, "rotated"))
    assert frames.tolist() == [754, 755, 756]               # int(6.2901 * 120) = 754
    np.testing.assert_allclose(times, [0.00790, 0.01624, 0.02458])
    # named by the first header line's markers (the second's X01 ... Z61 do not say which is which)
    assert values.shape == (3, 165) and names[:3] == ("CH1_X", "CH1_Y", "CH1_Z") and names[-1] == "RHD_Z"
    assert math.isnan(values[1, 0]) and values[0, 0] == -3.0 and values[2, 1] == -1.0
    frames, times, values, names = iemocap.read_mocap(iemocap.mocap_path(root, utt, "head"))
    assert values.shape == (3, 6) and names == ("pitch", "roll", "yaw", "tra_x", "tra_y", "tra_z")
    _, _, values, names = iemocap.read_mocap(iemocap.mocap_path(root, "Ses01F_impro01_M000", "hand"))
    assert values.shape == (3, 18) and names[0].endswith("_X") and math.isnan(values[1, 0])
    # the dialog-level file reads the same way
    _, _, values, _ = iemocap.read_mocap(root / "Session1/dialog/MOCAP_rotated/Ses01F_impro01.txt")
    assert values.shape == (3, 165)


def test_read_mocap_errors_name_file_and_line(tmp_path):
    p = tmp_path / "MOCAP_head" / "d" / "u.txt"
    p.parent.mkdir(parents=True)
    p.write_text("Frame# Time pitch roll yaw tra_x tra_y tra_z\nh\n1 0.0 1 2 3 4 5 6\n2 0.1 1 2 3\n")
    with pytest.raises(IemocapError, match=rf"{re.escape(str(p))}:4: 5 fields, expected 8"):
        iemocap.read_mocap(p)
    p.write_text("Frame# Time pitch roll yaw tra_x tra_y tra_z\nh\n1 0.0 1 2 3 4 five 6\n")
    with pytest.raises(IemocapError, match=rf"{re.escape(str(p))}:3: 'five' is not a number"):
        iemocap.read_mocap(p)
    p.write_text("Frame# Time\n")
    with pytest.raises(IemocapError, match=rf"{re.escape(str(p))}:2: expected 2 header lines"):
        iemocap.read_mocap(p)
    p.write_text("a\nb\n")
    frames, times, values, _ = iemocap.read_mocap(p)
    assert frames.shape == (0,) and values.shape == (0, 6)


def test_prepare_writes_three_files_and_load_prepared_round_trips(prepared, read, root):
    out, paths = prepared
    assert set(paths) == {"utterances", "integrity", "folds"}
    assert all(p.is_file() and p.parent == out for p in paths.values())
    assert sorted(os.listdir(out)) == ["folds.csv", "integrity.json", "utterances.csv"]  # no tmp left
    with open(paths["utterances"], newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == iemocap.MANIFEST_COLUMNS
    assert rows[0][:15] == ["utterance_id", "session", "dialog", "speaker", "gender", "turn",
                            "start", "end", "valence", "activation", "dominance", "category",
                            "transcript", "wav", "has_mocap"]
    assert rows[0][15] == "votes" and rows[0][-2:] == ["ang_hapexc_neu_sad", "ang_exc_neu_sad"]
    first = dict(zip(rows[0], rows[1]))
    assert first | {"votes": ""} == {
        "utterance_id": "Ses01F_impro01_F000", "session": "Ses01", "dialog": "Ses01F_impro01",
        "speaker": "Ses01F", "gender": "F", "turn": "0", "start": "6.2901", "end": "8.2357",
        "valence": "2.5000", "activation": "2.5000", "dominance": "2.5000", "category": "neu",
        "transcript": "Excuse me.", "wav": f"{S1}/Ses01F_impro01/Ses01F_impro01_F000.wav",
        "has_mocap": "1", "votes": "", "wearer": "F", "mocap_files": "1",
        "duration": "1.9455625", "ang_hapexc_neu_sad": "neu", "ang_exc_neu_sad": "neu"}
    by_id = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert (by_id["Ses01F_impro01_F002"]["ang_hapexc_neu_sad"],
            by_id["Ses01F_impro01_F002"]["ang_exc_neu_sad"]) == ("hapexc", "")
    assert by_id["Ses01M_script01_1_F001"]["duration"] == ""

    report = json.loads(paths["integrity"].read_text())
    _, rep = read
    assert report["differences"] == rep["differences"] and report["odd"] == rep["odd"]
    assert report["params"]["content"] == read[0].params["content"]
    assert report["label_sets"]["ang_exc_neu_sad"]["documented"] == 4936
    assert report["folds"]["rule"] == iemocap.VALIDATION_RULE

    c, back = read[0], iemocap.load_prepared(out)
    for field in ("utterance_id", "session", "dialog", "speaker", "turn", "valence", "activation",
                  "category", "gender", "wav", "transcript"):
        np.testing.assert_array_equal(getattr(back, field), getattr(c, field), err_msg=field)
    assert set(back.extras) == set(c.extras)
    for k in c.extras:
        np.testing.assert_array_equal(back.extras[k], c.extras[k], err_msg=k)
    assert back.features.shape == (15, 0)
    assert back.params["root"] == str(root) and back.params["content"] == c.params["content"]
    assert back.params["ignored_columns"] == []
    assert iemocap.load(out).utterance_id.tolist() == c.utterance_id.tolist()
    assert iemocap.load(root).utterance_id.tolist() == c.utterance_id.tolist()
    assert iemocap.load(root.parent).utterance_id.tolist() == c.utterance_id.tolist()


def test_folds_never_validate_on_a_test_speaker(prepared):
    out, paths = prepared
    with open(paths["folds"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == iemocap.FOLD_COLUMNS and len(rows) == 15
    all_speakers = {r["speaker"] for r in rows}
    for protocol in ("session", "speaker"):
        folds: dict[str, tuple[set, set]] = {}
        for r in rows:
            test, val = folds.setdefault(r[f"{protocol}_fold"], (set(), set()))
            test.add(r["speaker"])
            val.update(r[f"{protocol}_fold_validation"].split("+"))
        for k, (test, val) in folds.items():
            assert val and not val & test and val < all_speakers - test, (protocol, k)
    # the rule, by hand: LOSO-speaker takes the other gender of the next session; LOSO-session one
    # speaker of the next session, F for fold 0 and M for fold 1
    val = {(r["speaker"], r["speaker_fold"], r["speaker_fold_validation"]) for r in rows}
    assert val == {("Ses01F", "0", "Ses03M"), ("Ses01M", "1", "Ses03F"),
                   ("Ses03F", "2", "Ses01M"), ("Ses03M", "3", "Ses01F")}
    val = {(r["session"], r["session_fold"], r["session_fold_validation"]) for r in rows}
    assert val == {("Ses01", "0", "Ses03F"), ("Ses03", "1", "Ses01M")}


def test_fold_rule_on_five_sessions():
    from emojax.data.corpus import Corpus
    spk = np.array([f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"])
    n = len(spk)
    c = Corpus(name="t", features=np.zeros((n, 0), np.float32), feature_names=(),
               utterance_id=spk, session=np.array([s[:5] for s in spk]), dialog=spk, speaker=spk,
               turn=np.zeros(n, np.int64))
    fl = iemocap.folds(c)
    assert [(f["test"], f["validation_speakers"]) for f in fl["speaker"]] == [
        ("Ses01F", ["Ses02M"]), ("Ses01M", ["Ses02F"]), ("Ses02F", ["Ses03M"]),
        ("Ses02M", ["Ses03F"]), ("Ses03F", ["Ses04M"]), ("Ses03M", ["Ses04F"]),
        ("Ses04F", ["Ses05M"]), ("Ses04M", ["Ses05F"]), ("Ses05F", ["Ses01M"]),
        ("Ses05M", ["Ses01F"])]
    assert [(f["test"], f["validation_speakers"]) for f in fl["session"]] == [
        ("Ses01", ["Ses02F"]), ("Ses02", ["Ses03M"]), ("Ses03", ["Ses04F"]),
        ("Ses04", ["Ses05M"]), ("Ses05", ["Ses01F"])]
    for f in fl["session"] + fl["speaker"]:
        assert len(f["train_speakers"]) == 10 - len(f["test_speakers"]) - 1


@pytest.mark.parametrize("column, value, why", [
    ("valence", "6.0000", "is outside 1..5"),
    ("turn", "one", "is not a non-negative integer"),
    ("votes", "{oops", "is not JSON"),
    ("ang_exc_neu_sad", "ang", "disagrees with category 'xxx' (expected '')"),
    ("has_mocap", "yes", "is not 0 or 1"),
])
def test_load_prepared_errors_name_file_line_and_column(prepared, tmp_path, column, value, why):
    out, paths = prepared
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    with open(bad / "utterances.csv", newline="") as f:
        rows = list(csv.reader(f))
    rows[3][rows[0].index(column)] = value                        # CSV line 4
    with open(bad / "utterances.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    with pytest.raises(IemocapError) as e:
        iemocap.load_prepared(bad)
    assert str(e.value).startswith(f"{bad / 'utterances.csv'}:4: column {column!r}: {value!r} ")
    assert why in str(e.value)


def test_fixture_follows_the_documented_format():
    # the fixture itself: header + empty line, TAB-separated summary lines, an empty line at the end
    for dialog, text in EMO.items():
        lines = text.split("\n")
        assert lines[0] == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]" and lines[1] == ""
        assert text.endswith("\n\n")
        for ln in lines:
            if ln.startswith("["):
                assert re.fullmatch(r"\[\d+\.\d{4} - \d+\.\d{4}\]\t" + dialog
                                    + r"_[FM][X\d]{2}\d\t[a-z]{3}\t\[\d\.\d{4}, \d\.\d{4}, \d\.\d{4}\]", ln)
