"""A tiny hand-written IEMOCAP_full_release tree (shared/IEMOCAP_FORMAT.md), for the reader's tests.

``write_tree(tmp_path)`` writes ``tmp_path/IEMOCAP_full_release`` and returns it. Everything below
is literal text, so tests compare the reader against values written by hand:

- two sessions (1 and 3), four dialogs: ``Ses01F_impro01``, ``Ses01M_script01_1``, the odd names
  ``Ses03M_impro05a`` and ``Ses03M_impro05b`` (the last without any MoCap);
- EmoEvaluation blocks grouped by speaker (F first in Ses01F_impro01, M first in the others), turns
  that overlap, multi-label and empty C-lines, A-lines with ``dom  ;`` and with no dom, three
  dimensional evaluators (means 2.3333, 3.3333, 2.6667), self-evaluators ``C-F1`` / ``A-M3``, an
  ``XX`` id (``Ses03M_impro05a_FXX0``), a summary valence that is not the votes' mean;
- per-evaluator subfolders ``Categorical/``, ``Attribute/``, ``Self-evaluation/`` and a ``._`` stub
  in EmoEvaluation (all to be ignored), a ``._`` stub among the sentence wavs;
- transcripts with ``[LAUGHTER]``, a line that matches no utterance pattern (``M: [BREATHING]``),
  a missing line, a time that disagrees with EmoEvaluation, a line for an unlabelled XX id;
- 16 kHz int16 mono sentence wavs of floor((end - start) * 16000) samples, except one missing, one
  of half length and an extra one for the unlabelled ``FXX1``; 2-channel dialog wavs;
- sentence MoCap in three streams (2 header lines; 167 / 8 / 20 columns; a NaN), one utterance
  without its hand file; one dialog-level MoCap file.
"""
from __future__ import annotations

import wave
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import numpy as np

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"

EMO = {
    # F's blocks first, then M's; time order is F000 M000 F001 M001 F002.
    "Ses01F_impro01": HEADER + """\
[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral;\t()
C-E3:\tNeutral;\t()
C-E4:\tNeutral;\t()
C-F1:\tNeutral;\t(curious)
A-E3:\tval 3; act 2; dom  2;\t()
A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)
A-F1:\tval 3; act 2; dom  1;\t()

[10.0100 - 11.3925]\tSes01F_impro01_F001\txxx\t[2.3333, 3.0000, 3.3333]
C-E1:\tExcited;\t()
C-E2:\tFrustration; Other;\t(disbelief)
C-E4:\t;\t()
C-F1:\tFrustration;\t()
A-E1:\tval 3; act 2; dom  2;\t()
A-E3:\tval 2; act 3; dom  3;\t()
A-E4:\tval 2; act 4; dom  5;\t()
A-F1:\tval 1; act 4; dom  4;\t()

[14.1000 - 15.0000]\tSes01F_impro01_F002\thap\t[4.0000, 3.5000, 3.0000]
C-E2:\tHappiness;\t()
C-E3:\tHappiness;\t()
C-E4:\tExcited;\t()
C-F1:\tHappiness;\t()
A-E3:\tval 4; act 3; dom  3;\t()
A-E4:\tval 4; act 4; dom  ;\t()
A-F1:\tval 5; act 4; dom  4;\t()

[7.5712 - 10.2500]\tSes01F_impro01_M000\tang\t[1.5000, 4.0000, 4.5000]
C-E1:\tAnger;\t()
C-E3:\tAnger;\t()
C-E4:\tAnger;\t()
C-M1:\tAnger;\t()
A-E3:\tval 2; act 4; dom  4;\t()
A-E4:\tval 1; act 4; dom  5;\t(threatening, belligerent)
A-M1:\tval 1; act 5; dom  5;\t()

[11.0000 - 12.5000]\tSes01F_impro01_M001\texc\t[3.5000, 4.0000, 3.0000]
C-E2:\tExcited;\t()
C-E3:\tExcited;\t()
C-E4:\tHappiness;\t()
C-M1:\tExcited;\t()
A-E3:\tval 4; act 4; dom  3;\t()
A-E4:\tval 3; act 4;\t()
A-M1:\tval 4; act 5; dom  4;\t()

""",
    # M's blocks first; time order is F000 M000 F001 M001.
    "Ses01M_script01_1": HEADER + """\
[2.0000 - 4.5000]\tSes01M_script01_1_M000\tsad\t[2.0000, 2.0000, 2.5000]
C-E1:\tSadness;\t()
C-E2:\tSadness;\t()
C-E3:\tNeutral;\t()
C-M1:\tSadness;\t()
A-E1:\tval 2; act 2; dom  2;\t()
A-E2:\tval 2; act 2; dom  3;\t()
A-M1:\tval 1; act 1; dom  1;\t()

[6.0000 - 7.2500]\tSes01M_script01_1_M001\tfru\t[2.0000, 3.5000, 3.5000]
C-E1:\tFrustration;\t()
C-E2:\tFrustration; Anger;\t()
C-E3:\tFrustration;\t()
C-M1:\tAnger;\t()
A-E1:\tval 2; act 3; dom  3;\t()
A-E2:\tval 2; act 4; dom  4;\t()

[1.5000 - 3.0000]\tSes01M_script01_1_F000\tneu\t[3.0000, 2.5000, 2.5000]
C-E1:\tNeutral;\t()
C-E2:\tNeutral;\t()
C-E3:\tNeutral;\t()
C-F1:\tNeutral;\t()
A-E1:\tval 3; act 2; dom  2;\t()
A-E2:\tval 3; act 3; dom  3;\t()
A-F1:\tval 3; act 3; dom  3;\t()

[4.8000 - 5.9000]\tSes01M_script01_1_F001\tsur\t[3.5000, 4.0000, 3.0000]
C-E1:\tSurprise;\t()
C-E2:\tSurprise;\t()
C-E3:\tExcited;\t()
C-F1:\tSurprise;\t()
A-E1:\tval 4; act 4; dom  3;\t()
A-E2:\tval 3; act 4; dom  3;\t()

""",
    # M's blocks first; time order is M000 F000 FXX0 M001.
    "Ses03M_impro05a": HEADER + """\
[3.0000 - 5.0000]\tSes03M_impro05a_M000\tang\t[2.0000, 4.5000, 4.0000]
C-E1:\tAnger;\t()
C-E2:\tAnger; Frustration;\t()
C-E3:\tFrustration;\t()
C-M3:\tAnger;\t()
A-E1:\tval 2; act 5; dom  4;\t()
A-E2:\tval 2; act 4; dom  4;\t()
A-M3:\tval 1; act 5; dom  5;\t()

[8.5000 - 9.5000]\tSes03M_impro05a_M001\tneu\t[3.0000, 2.0000, 2.5000]
C-E1:\tNeutral;\t()
C-E2:\tNeutral;\t()
C-E3:\tSadness;\t()
C-M3:\tNeutral;\t()
A-E1:\tval 3; act 2; dom  2;\t()
A-E2:\tval 3; act 2; dom  3;\t()
A-M3:\tval 3; act 2; dom  2;\t()

[4.0000 - 6.5000]\tSes03M_impro05a_F000\txxx\t[2.6667, 3.3333, 3.0000]
C-E1:\tFear;\t()
C-E2:\tSadness;\t()
C-E3:\tFrustration;\t()
C-F3:\tFear;\t()
A-E1:\tval 3; act 3; dom  3;\t()
A-E2:\tval 2; act 4; dom  3;\t()
A-E3:\tval 3; act 3; dom  3;\t()
A-F3:\tval 2; act 4; dom  2;\t()

[7.0000 - 8.0000]\tSes03M_impro05a_FXX0\txxx\t[3.0000, 3.0000, 3.0000]
C-E1:\tNeutral;\t()
C-E2:\tOther;\t()
C-E3:\tExcited;\t()
A-E1:\tval 3; act 3; dom  3;\t()
A-E2:\tval 3; act 3; dom  3;\t()

""",
    # No MoCap anywhere; M000's summary valence 2.0 is not the mean 1.5 of its votes.
    "Ses03M_impro05b": HEADER + """\
[1.0000 - 2.0000]\tSes03M_impro05b_F000\tneu\t[3.0000, 2.5000, 3.0000]
C-E1:\tNeutral;\t()
C-E2:\tNeutral;\t()
C-E3:\tNeutral;\t()
C-F3:\tNeutral;\t()
A-E1:\tval 3; act 2; dom  3;\t()
A-E2:\tval 3; act 3; dom  3;\t()
A-F3:\tval 3; act 3; dom  3;\t()

[2.5000 - 3.5000]\tSes03M_impro05b_M000\tsad\t[2.0000, 2.0000, 2.0000]
C-E1:\tSadness;\t()
C-E2:\tSadness;\t()
C-E3:\tSadness;\t()
C-M3:\tSadness;\t()
A-E1:\tval 1; act 2; dom  2;\t()
A-E2:\tval 2; act 2; dom  2;\t()
A-M3:\tval 1; act 1; dom  1;\t()

""",
}

TRANSCRIPTS = {
    "Ses01F_impro01": """\
Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
Ses01F_impro01_M000 [007.5712-010.2500]: Do you have your forms?
Ses01F_impro01_F001 [010.0100-011.3925]: Yeah. [LAUGHTER] Is there a problem?
M: [BREATHING]
Ses01F_impro01_M001 [011.0000-012.5000]: Who told you to get in this line?
Ses01F_impro01_F002 [014.1000-015.0000]: You did.
""",
    # M001 has no line; F000's end disagrees with EmoEvaluation (3.1 vs 3.0).
    "Ses01M_script01_1": """\
Ses01M_script01_1_F000 [001.5000-003.1000]: What's he going to say? Maybe we ought to tell him.
Ses01M_script01_1_M000 [002.0000-004.5000]: I don't know... Forget it.
Ses01M_script01_1_F001 [004.8000-005.9000]: Oh! Look at that.
""",
    "Ses03M_impro05a": """\
Ses03M_impro05a_M000 [003.0000-005.0000]: I told you already!
Ses03M_impro05a_F000 [004.0000-006.5000]: Okay... okay.
Ses03M_impro05a_FXX0 [007.0000-008.0000]: [LAUGHTER]
Ses03M_impro05a_FXX1 [007.5000-008.2000]: Mm-hmm.
Ses03M_impro05a_M001 [008.5000-009.5000]: Fine.
""",
    "Ses03M_impro05b": """\
Ses03M_impro05b_F000 [001.0000-002.0000]: Hello.
Ses03M_impro05b_M000 [002.5000-003.5000]: Hi - hi.
""",
}

# (utterance, start, end) of every sentence wav written; FXX1 has no EmoEvaluation block and
# Ses01M_script01_1_F001 has no wav.
WAVS = {
    "Ses01F_impro01": [("F000", "6.2901", "8.2357"), ("F001", "10.0100", "11.3925"),
                       ("F002", "14.1000", "15.0000"), ("M000", "7.5712", "10.2500"),
                       ("M001", "11.0000", "12.5000")],
    "Ses01M_script01_1": [("M000", "2.0000", "4.5000"), ("M001", "6.0000", "7.2500"),
                          ("F000", "1.5000", "3.0000")],
    "Ses03M_impro05a": [("M000", "3.0000", "5.0000"), ("M001", "8.5000", "9.5000"),
                        ("F000", "4.0000", "6.5000"), ("FXX0", "7.0000", "8.0000"),
                        ("FXX1", "7.5000", "8.2000")],
    "Ses03M_impro05b": [("F000", "1.0000", "2.0000"), ("M000", "2.5000", "3.5000")],
}
HALF_LENGTH_WAV = "Ses01M_script01_1_M000"       # written with half its samples
DIALOG_END = {"Ses01F_impro01": 15.0, "Ses01M_script01_1": 7.25, "Ses03M_impro05a": 9.5,
              "Ses03M_impro05b": 3.5}
# MoCap: every utterance of these dialogs, both speakers; Ses03M_impro05a_M001 lacks the hand file.
MOCAP_DIALOGS = ("Ses01F_impro01", "Ses01M_script01_1", "Ses03M_impro05a")
NO_HAND_MOCAP = "Ses03M_impro05a_M001"

FACE_MARKERS = (["CH1", "CH2", "CH3", "FH1", "FH2", "FH3"] + [f"LC{i}" for i in range(1, 9)]
                + [f"RC{i}" for i in range(1, 9)]
                + ["LLID", "RLID", "MH", "MNOSE", "LNSTRL", "TNOSE", "RNSTRL"]
                + [f"LBM{i}" for i in range(4)] + [f"RBM{i}" for i in range(4)]
                + [f"LBRO{i}" for i in range(1, 5)] + [f"RBRO{i}" for i in range(1, 5)]
                + [f"Mou{i}" for i in range(1, 9)] + ["LHD", "RHD"])            # 55 markers
FACE_AXES = [f"{a}{n:02d}" for n in [*range(1, 54), 60, 61] for a in "XYZ"]   # 165 columns
HEAD_HEADER = ("Frame# Time pitch roll yaw tra_x tra_y tra_z", "frame sec deg deg deg mm mm mm")
HAND_MARKERS = ["RTHM", "RH", "RWR", "LTHM", "LH", "LWR"]
HAND_AXES = [f"{a}{n:02d}" for n in range(54, 60) for a in "XYZ"]            # 18 columns


def samples(start: str, end: str) -> int:
    """floor((end - start) * 16000), in exact decimal arithmetic."""
    return int(((Decimal(end) - Decimal(start)) * 16000).to_integral_value(ROUND_FLOOR))


def _wav(path: Path, n: int, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(n) / 16000.0
    x = (1000 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.repeat(x, channels).tobytes())


def _mocap(path: Path, header: tuple[str, str], n_values: int, start: float, nan: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = list(header)
    first = int(start * 120)
    for i in range(3):
        vals = [f"{(j % 7) - 3 + 0.5 * i:.5f}" for j in range(n_values)]
        if nan and i == 1:
            vals[0] = "NaN"
        lines.append(" ".join([str(first + i), f"{0.00790 + i * 0.00834:.5f}", *vals]))
    path.write_text("\n".join(lines) + "\n")


def write_tree(root: Path) -> Path:
    """Write the mini release under `root`; return ``root/IEMOCAP_full_release``."""
    base = Path(root) / "IEMOCAP_full_release"
    face = (" ".join(["Frame#", "Time", *FACE_MARKERS]), " ".join(FACE_AXES))
    hand = (" ".join(["Frame#", "Time", *HAND_MARKERS]), " ".join(HAND_AXES))
    for dialog, text in EMO.items():
        sess = base / f"Session{int(dialog[3:5])}"
        emo = sess / "dialog" / "EmoEvaluation"
        emo.mkdir(parents=True, exist_ok=True)
        (emo / f"{dialog}.txt").write_text(text)
        (sess / "dialog" / "transcriptions").mkdir(parents=True, exist_ok=True)
        (sess / "dialog" / "transcriptions" / f"{dialog}.txt").write_text(TRANSCRIPTS[dialog])
        _wav(sess / "dialog" / "wav" / f"{dialog}.wav", int(DIALOG_END[dialog] * 16000), channels=2)
        for turn, start, end in WAVS[dialog]:
            utt = f"{dialog}_{turn}"
            n = samples(start, end) // (2 if utt == HALF_LENGTH_WAV else 1)
            _wav(sess / "sentences" / "wav" / dialog / f"{utt}.wav", n)
        if dialog in MOCAP_DIALOGS:
            starts = dict(_summary_starts(text))
            for utt, start in starts.items():
                sent = sess / "sentences"
                _mocap(sent / "MOCAP_rotated" / dialog / f"{utt}.txt", face, 165, start,
                       nan=utt.endswith("F000"))
                _mocap(sent / "MOCAP_head" / dialog / f"{utt}.txt", HEAD_HEADER, 6, start, nan=False)
                if utt != NO_HAND_MOCAP:
                    _mocap(sent / "MOCAP_hand" / dialog / f"{utt}.txt", hand, 18, start, nan=True)

    s1 = base / "Session1"
    emo = s1 / "dialog" / "EmoEvaluation"
    (emo / "._Ses01M_script01_1.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (emo / "Categorical").mkdir()
    (emo / "Categorical" / "Ses01F_impro01_e2_cat.txt").write_text(
        "Ses01F_impro01_F000 :Neutral state; ()\nSes01F_impro01_M000 :Anger; ()\n")
    (emo / "Attribute").mkdir()
    (emo / "Attribute" / "Ses01F_impro01_e3_atr.txt").write_text(
        "Ses01F_impro01_F000 :act 2; :val 3; :dom 2; ()\n")
    (emo / "Self-evaluation").mkdir()
    (emo / "Self-evaluation" / "Ses01F_impro01.anvil").write_text("<annotation/>\n")
    (s1 / "sentences" / "wav" / "Ses01F_impro01" / "._Ses01F_impro01_F000.wav").write_bytes(
        b"\x00\x05\x16\x07")
    _mocap(s1 / "dialog" / "MOCAP_rotated" / "Ses01F_impro01.txt", face, 165, 0.0, nan=True)
    return base


def _summary_starts(text: str):
    for line in text.splitlines():
        if line.startswith("["):
            times, uid = line.split("\t")[:2]
            yield uid, float(times[1:].split(" - ")[0])
