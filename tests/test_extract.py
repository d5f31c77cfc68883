"""Extraction at scale: content-addressed cache, resume, every skipped file reported with its reason,
the functionals table readable as a corpus, and the CLI around it."""
import csv
import json
import wave

import numpy as np
import pytest

from emojax import cli, data
from emojax.data.corpus import Corpus
from emojax.features import extract
from emojax.features.audio import write_wav

SR = 16000


def _voice(seconds, f0, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return 0.1 * x * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 1e-3 * rng.standard_normal(t.size)


def _corpus(root):
    """Six good files (two speakers x three turns) and one of every kind of bad file."""
    wavs, spk, turn = [], [], []
    for s, f0 in (("A", 120.0), ("B", 210.0)):
        for t in range(3):
            name = f"{s}{t}.wav"
            write_wav(root / name, _voice(0.6 + 0.2 * t, f0 * (1 + 0.05 * t), t), SR)
            wavs.append(name), spk.append(s), turn.append(t)
    bad = {"stereo.wav": "channels", "short.wav": "too_short", "garbage.wav": "unreadable",
           "rate.wav": "sample_rate", "": "missing"}
    with wave.open(str(root / "stereo.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(SR)
        w.writeframes(np.zeros(2 * SR, "<i2").tobytes())
    write_wav(root / "short.wav", np.zeros(300), SR)
    (root / "garbage.wav").write_bytes(b"RIFF....WAVEjunk")
    write_wav(root / "rate.wav", _voice(0.5, 150, 9), 8000)
    for i, name in enumerate(bad):
        wavs.append(name), spk.append("C"), turn.append(i)
    n = len(wavs)
    corpus = Corpus(
        name="tiny", features=np.zeros((n, 0), np.float32), feature_names=(),
        utterance_id=np.array([f"u{i:02d}" for i in range(n)]), session=np.array(["s1"] * n),
        dialog=np.array([f"d{s}" for s in spk]), speaker=np.array(spk),
        turn=np.array(turn, np.int64), valence=np.linspace(1, 5, n), activation=np.linspace(5, 1, n),
        wav=np.array(wavs), params={"kind": "test", "root": str(root)})
    return corpus, bad


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_extract_reports_skips_reuses_and_resumes(tmp_path):
    corpus, bad = _corpus(tmp_path)
    out = tmp_path / "out"
    r = extract.extract_corpus(corpus, "mirsamadi2017", out, workers=1, progress=False)
    assert (r["extracted"], r["computed"], r["skipped"]) == (6, 6, 5)
    skipped = {s["wav"]: s for s in _rows(out / "skipped.csv")}
    assert {w: s["reason"] for w, s in skipped.items()} == bad
    for w, s in skipped.items():                              # every reason names its file
        assert w == "" or w in s["detail"]
    assert r["names"][:4] == ["f0", "voicing", "energy", "zcr"] and r["rate"] == 100.0
    index = _rows(out / "index.csv")
    frames = extract.load_frames(out)
    assert set(frames) == {i["utterance_id"] for i in index}
    for i in index:
        assert frames[i["utterance_id"]].shape == (int(i["frames"]), 32)
    # a rerun reuses every file; an interrupted one recomputes only what is missing
    assert extract.extract_corpus(corpus, "mirsamadi2017", out, workers=1, progress=False)["computed"] == 0
    for i in index[:2]:
        (out / "frames" / f"{i['key']}.npy").unlink()
    r2 = extract.extract_corpus(corpus, "mirsamadi2017", out, workers=2, progress=False)
    assert (r2["computed"], r2["reused"]) == (2, 4)
    for u, a in extract.load_frames(out).items():
        np.testing.assert_array_equal(a, frames[u])           # parallel == serial, bit for bit
    # other options are other content: nothing reused
    r3 = extract.extract_corpus(corpus, "chernykh2018", tmp_path / "o3", options={"mode": "fixed"},
                                workers=1, progress=False)
    assert r3["computed"] == 6 and json.loads((tmp_path / "o3" / "features.json").read_text())["options"] == {"mode": "fixed"}


def test_functionals_table_is_an_utterance_table(tmp_path):
    corpus, _ = _corpus(tmp_path)
    r = extract.extract_corpus(corpus, "woellmer2012", tmp_path / "out", options={"pitch": "yin"},
                               workers=1, progress=False)
    table = data.load(f"table:{r['functionals']}")
    assert len(table) == 6 and table.features.shape[1] == 82 * 24
    assert "f0__mean" in table.feature_names and np.isfinite(table.features).all()
    i = list(table.feature_names).index("f0__mean")           # the speakers' voices are heard
    a, b = table.features[table.speaker == "A", i], table.features[table.speaker == "B", i]
    assert 110 < a.mean() < 140 and 195 < b.mean() < 240


def test_cli_features_and_prepare(tmp_path, capsys):
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from iemocap_fixture import write_tree
    root = write_tree(tmp_path / "tree")
    assert cli.main(["prepare", "iemocap", str(root), "--out", str(tmp_path / "prep"),
                     "--no-progress"]) == 0
    assert (tmp_path / "prep" / "folds.csv").is_file()
    rc = cli.main(["features", "--corpus", f"iemocap:{tmp_path / 'prep'}", "--set", "chernykh2018",
                   "--out", str(tmp_path / "feat"), "--workers", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "computed" in out and (tmp_path / "feat" / "functionals.csv").is_file()
    assert cli.main(["features", "--corpus", "iemocap:/no/such/dir", "--set", "chernykh2018",
                     "--out", str(tmp_path / "x")]) == 2
    assert "/no/such/dir" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["features", "--corpus", "iemocap:x"])


def test_compat_through_the_corpus_path_equals_pyaudioanalysis_on_the_file(tmp_path):
    """A corpus run reads 16-bit files; compat must see them as pyAudioAnalysis's reader does
    (int16), not as floats divided by 2**15 once more (its eps would then act at ~3e-5 FS)."""
    S = pytest.importorskip("pyAudioAnalysis.ShortTermFeatures")
    corpus, _ = _corpus(tmp_path)
    good = corpus.subset(np.arange(6))
    quiet = tmp_path / "A0.wav"                     # a quiet file: where the scaling matters
    write_wav(quiet, 0.02 * _voice(1.0, 130, 1) / 0.15, SR)
    r = extract.extract_corpus(good, "chernykh2018", tmp_path / "out", workers=1,
                               functionals=False, progress=False)
    assert r["computed"] == 6
    ours = extract.load_frames(tmp_path / "out")["u00"]
    with wave.open(str(quiet)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    ref, _ = S.feature_extraction(pcm, SR, int(0.2 * SR), int(0.1 * SR), deltas=False)
    np.testing.assert_allclose(ours, ref.T, rtol=1e-4, atol=1e-7)


def test_cli_render(tmp_path, capsys):
    rc = cli.main(["render", str(tmp_path / "t"), "--corpus",
                   "synthetic:scale=0.01,min_len=15,max_len=15", "--no-progress"])
    assert rc == 0 and "utterances" in capsys.readouterr().out
    assert len(list((tmp_path / "t").glob("Session*/sentences/wav/*/*.wav"))) > 100
