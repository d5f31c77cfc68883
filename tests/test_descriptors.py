"""Frame descriptors (`features.dsp`, `features.descriptors`) against independent references.

librosa (keyword arguments only, so 0.10, 0.11 and 1.x read the same) and praat-parselmouth are the
references; tests that need one skip when it is absent. Loops written out here are the other check.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from emojax.features import descriptors, dsp, sets

SR = 16000


@pytest.fixture(scope="module")
def librosa():
    return pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def parselmouth():
    return pytest.importorskip("parselmouth")


def harmonic(dur: float, f_lo: float, f_hi: float, *, sr: int = SR, vibrato: bool = False,
             snr_db: float | None = None, seed: int = 0):
    """A sum of harmonics (amplitudes 1/k, up to Nyquist) whose f0 glides linearly from f_lo to
    f_hi, or swings between them at 1.5 Hz; returns (signal, f0 as a function of time in s)."""
    t = np.arange(int(round(dur * sr))) / sr
    if vibrato:
        f0 = (f_lo + f_hi) / 2 + (f_hi - f_lo) / 2 * np.sin(2 * np.pi * 1.5 * t)
    else:
        f0 = f_lo + (f_hi - f_lo) * t / dur
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase + 0.3 * k) / k for k in range(1, int(sr / 2 / f_hi) + 1))
    x = 0.3 * x / np.abs(x).max()
    if snr_db is not None:
        noise = np.random.default_rng(seed).standard_normal(x.size)
        x = x + noise * np.sqrt(np.mean(x ** 2)) * 10 ** (-snr_db / 20)
    return x, lambda tt: np.interp(tt, t, f0)


def centres(T: int, win: int, hop: int, sr: int = SR) -> np.ndarray:
    return (np.arange(T) * hop + win / 2) / sr


# --------------------------------------------------------------------------- building blocks


@pytest.mark.parametrize("center", [False, True])
def test_frame_matches_librosa_and_the_formula(librosa, center):
    x = np.random.default_rng(0).standard_normal(4001)
    F = dsp.frame(x, 400, 160, center=center)
    xp = np.pad(x, 200) if center else x
    np.testing.assert_array_equal(F, librosa.util.frame(x=xp, frame_length=400, hop_length=160).T)
    assert F.shape[0] == dsp.n_frames(4001, 400, 160, center=center)
    assert F.shape[0] == (1 + 4001 // 160 if center else 1 + (4001 - 400) // 160)
    with pytest.raises(ValueError, match="shorter than one 400-sample window"):
        dsp.frame(x[:399], 400, 160)


@pytest.mark.parametrize("name", ["hamming", "hann"])
def test_windows_match_scipy(name):
    signal = pytest.importorskip("scipy.signal")
    for n in (1, 2, 400, 401):
        np.testing.assert_allclose(dsp.window(name, n), signal.get_window(name, n, fftbins=True),
                                   atol=1e-12)
        np.testing.assert_allclose(dsp.window(name, n, periodic=False),
                                   signal.get_window(name, n, fftbins=False), atol=1e-12)


@pytest.mark.parametrize("htk,norm,sr,n_fft,n_mels,fmin,fmax", [
    (True, None, 16000, 512, 26, 0.0, None),
    (True, "slaney", 16000, 1024, 27, 0.0, 7743.0),
    (False, "slaney", 16000, 512, 40, 0.0, None),
    (False, None, 22050, 2048, 128, 30.0, 8000.0),
    (False, "slaney", 44100, 1024, 64, 300.0, 12000.0),
])
def test_mel_filterbank_equals_librosa(librosa, htk, norm, sr, n_fft, n_mels, fmin, fmax):
    ours = dsp.mel_filterbank(sr, n_fft, n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                              norm=norm, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)
    f = np.array([0.0, 50.0, 999.0, 1000.0, 1001.0, 7999.0])
    np.testing.assert_allclose(dsp.hz_to_mel(f, htk=htk), librosa.hz_to_mel(frequencies=f, htk=htk),
                               rtol=1e-12)
    m = dsp.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(dsp.mel_to_hz(m, htk=htk), f, rtol=1e-12, atol=1e-9)


def test_power_spectrum_and_mfcc_equal_librosa_on_identical_frames(librosa):
    """n_fft == window: librosa.stft(center=False) frames the signal exactly as dsp.frame does."""
    x, _ = harmonic(1.0, 120, 220, snr_db=20)
    P = dsp.power_spectrum(dsp.frame(x, 512, 160), 512, dsp.window("hamming", 512))     # (T, 257)
    S = np.abs(librosa.stft(y=x, n_fft=512, hop_length=160, window="hamming", center=False)) ** 2
    np.testing.assert_allclose(P, S.T, rtol=1e-9, atol=1e-12 * S.max())
    fb = dsp.mel_filterbank(SR, 512, 26, htk=True, norm=None)
    mel = P @ fb.T                                                                      # (T, 26)
    ref_mel = librosa.feature.melspectrogram(S=S, sr=SR, n_mels=26, htk=True, norm=None)  # float32 fb
    np.testing.assert_allclose(mel, ref_mel.T, rtol=1e-5, atol=1e-6 * mel.max())
    np.testing.assert_allclose(dsp.power_to_db(mel), librosa.power_to_db(S=mel.T, top_db=None).T,
                               atol=1e-10)
    ours = dsp.mfcc(dsp.power_to_db(mel), 13)
    ref = librosa.feature.mfcc(S=librosa.power_to_db(S=mel.T, top_db=None), n_mfcc=13, dct_type=2,
                               norm="ortho", lifter=0)
    np.testing.assert_allclose(ours, ref.T, atol=1e-9)


def test_mirsamadi_mfcc_equals_librosa_pipeline(librosa):
    """win 400 < n_fft 512: librosa centres the window in each 512-sample frame, so librosa on the
    signal padded by 56 samples each side frames it exactly as the set does."""
    x, _ = harmonic(1.0, 150, 260, snr_db=25)
    fr = descriptors.mirsamadi2017(x, SR)
    S = librosa.feature.melspectrogram(y=np.pad(x, 56), sr=SR, n_fft=512, hop_length=160,
                                       win_length=400, window="hamming", center=False, power=2.0,
                                       n_mels=26, htk=True, norm=None)
    ref = librosa.feature.mfcc(S=librosa.power_to_db(S=S, top_db=None), n_mfcc=13)[1:].T  # (T, 12)
    ours = fr.frames[:, [fr.names.index(f"mfcc_{k}") for k in range(1, 13)]]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-4 * np.abs(ref).max())


def test_zcr_rms_energy_match_librosa_and_loops(librosa):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(3000) * 0.1, np.zeros(800), np.sin(np.arange(3000) / 7)])
    x[100] = -0.0
    F = dsp.frame(x, 400, 160)
    zcr = dsp.zero_crossing_rate(F)
    np.testing.assert_allclose(zcr, librosa.feature.zero_crossing_rate(
        y=x, frame_length=400, hop_length=160, center=False)[0], atol=1e-12)
    loop = [sum((f[i] < 0) != (f[i - 1] < 0) for i in range(1, len(f))) / len(f) for f in F]
    np.testing.assert_allclose(zcr, loop, atol=1e-12)
    np.testing.assert_allclose(dsp.rms(F), librosa.feature.rms(
        y=x, frame_length=400, hop_length=160, center=False)[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dsp.log_energy(F), [10 * np.log10(max(np.mean(f ** 2), 1e-10))
                                                   for f in F], atol=1e-12)
    sine = np.sin(2 * np.pi * 1000 * np.arange(1600) / SR)
    np.testing.assert_allclose(dsp.log_energy(dsp.frame(sine, 400, 160)), -3.0103, atol=1e-3)


def naive_deltas(x: np.ndarray, width: int) -> np.ndarray:
    """Interior: the regression formula; the first/last width//2 frames: the slope of the line
    fitted to the first/last width frames (all frames when T < width)."""
    T, half = len(x), width // 2
    out = np.zeros_like(x, dtype=np.float64)
    denom = 2 * sum(n * n for n in range(1, half + 1))
    for t in range(T):
        if T < width:
            out[t] = np.polyfit(np.arange(T), x, 1)[0] if T > 1 else 0.0
        elif t < half:
            out[t] = np.polyfit(np.arange(width), x[:width], 1)[0]
        elif t >= T - half:
            out[t] = np.polyfit(np.arange(width), x[T - width:], 1)[0]
        else:
            out[t] = sum(n * (x[t + n] - x[t - n]) for n in range(1, half + 1)) / denom
    return out


@pytest.mark.parametrize("width", [3, 5, 9])
def test_deltas_match_loop_and_librosa(librosa, width):
    x = np.random.default_rng(2).standard_normal((40, 3))
    d = dsp.deltas(x, width)
    for j in range(3):
        np.testing.assert_allclose(d[:, j], naive_deltas(x[:, j], width), atol=1e-10)
    np.testing.assert_allclose(d, librosa.feature.delta(data=x.T, width=width, order=1, mode="interp").T,
                               atol=1e-10)
    for T in (1, 2, width - 1):                                   # shorter than the window
        np.testing.assert_allclose(dsp.deltas(x[:T], width)[:, 0], naive_deltas(x[:T, 0], width),
                                   atol=1e-10)
    with pytest.raises(ValueError, match="odd"):
        dsp.deltas(x, 4)


def test_difference_function_matches_loop():
    F = np.random.default_rng(3).standard_normal((4, 64))
    d = dsp.difference(F, 40)
    loop = [[np.mean((f[:64 - tau] - f[tau:]) ** 2) if tau else 0.0 for tau in range(41)] for f in F]
    np.testing.assert_allclose(d, loop, atol=1e-12)
    c = dsp.cmnd(F, 40)
    np.testing.assert_allclose(c[:, 5], d[:, 5] / d[:, 1:6].mean(axis=1), rtol=1e-12)
    assert np.all(c[:, 0] == 1)


@pytest.mark.parametrize("f_lo,f_hi,vibrato,snr_db", [
    (100, 250, False, None), (70, 140, False, 20), (180, 260, True, None), (120, 300, False, 20)])
def test_yin_recovers_known_f0(f_lo, f_hi, vibrato, snr_db):
    """Median |f0 / truth - 1| was 0.04-0.11 % on these signals, the worst frame 0.4 %."""
    x, truth = harmonic(2.0, f_lo, f_hi, vibrato=vibrato, snr_db=snr_db)
    f0, periodicity = dsp.yin(x, SR, 800, 160, 60, 600, threshold=0.2)
    true = truth(centres(f0.size, 800, 160))
    voiced = f0 > 0
    assert voiced.mean() > 0.95
    err = np.abs(f0[voiced] / true[voiced] - 1)
    assert np.median(err) < 0.002 and err.max() < 0.05
    assert np.all((periodicity >= 0) & (periodicity <= 1)) and np.median(periodicity) > 0.8


@pytest.mark.parametrize("center", [False, True])
def test_yin_agrees_with_librosa_yin(librosa, center):
    """Same framing and threshold (0.1). The difference functions differ (ours: mean over the
    overlap; librosa 0.11: zero-padded frame, 0.10: fixed half-frame window), so f0 agrees to a
    median of 0.02 % (0.11), not to round-off; frames we call unvoiced (librosa never does) are
    left out."""
    x, truth = harmonic(2.0, 100, 250, snr_db=20)
    f0, _ = dsp.yin(x, SR, 800, 160, 60, 600, threshold=0.1, center=center)
    ref = librosa.yin(y=x, fmin=60, fmax=600, sr=SR, frame_length=800, hop_length=160,
                      trough_threshold=0.1, center=center)
    assert f0.shape == ref.shape
    voiced = f0 > 0
    assert voiced.mean() > 0.95
    rel = np.abs(f0[voiced] / ref[voiced] - 1)
    assert np.median(rel) < 0.002 and np.percentile(rel, 95) < 0.01


def test_yin_silence_and_noise_are_unvoiced():
    x = np.concatenate([np.zeros(4000), np.random.default_rng(4).standard_normal(8000) * 0.05])
    f0, periodicity = dsp.yin(x, SR, 800, 160, 60, 600, threshold=0.2)
    silent = slice(0, (4000 - 800) // 160 + 1)
    assert np.all(f0 == 0) and np.all(periodicity[silent] == 0)
    assert np.median(periodicity[30:]) < 0.5
    with pytest.raises(ValueError, match="must be longer"):
        dsp.yin(x, SR, 200, 160, 60, 600)


# --------------------------------------------------------------------------- the sets


SET_DIMS = {"woellmer2012": (82, 0.050, 0.025), "mirsamadi2017": (32, 0.025, 0.010),
            "spectral257": (257, 0.025, 0.010)}


@pytest.mark.parametrize("name", sorted(SET_DIMS))
@pytest.mark.parametrize("sr", [8000, 16000, 22050])
def test_set_shapes_names_rate(name, sr):
    D, window_s, hop_s = SET_DIMS[name]
    if name == "spectral257" and sr > 20480:                      # raises: test_spectral257_...
        return
    win, hop = round(window_s * sr), round(hop_s * sr)
    opts = {"pitch": "yin"} if name == "woellmer2012" else {}
    for n in (win, win + hop - 1, win + hop, sr + 17):
        x = np.random.default_rng(n).standard_normal(n) * 0.1
        fr = sets.extract(name, x, sr, **opts)
        assert fr.frames.shape == (1 + (n - win) // hop, D) == (descriptors.n_frames(
            n, sr, window_s, hop_s), D)
        assert fr.frames.dtype == np.float32 and np.isfinite(fr.frames).all()
        assert fr.rate == sr / hop and len(fr.names) == len(set(fr.names)) == D
    if name != "spectral257":
        half = D // 2
        assert fr.names[half:] == tuple(f"d_{n}" for n in fr.names[:half])
        assert {"f0", "energy", "mfcc_1", "mfcc_12"} <= set(fr.names)
    assert set(fr.info) >= {"window_samples", "hop_samples"}


def test_set_names():
    x = np.random.default_rng(5).standard_normal(SR) * 0.1
    w = descriptors.woellmer2012(x, SR, pitch="yin")
    assert w.names[:41] == (tuple(f"mfcc_{k}" for k in range(1, 13))
                            + tuple(f"mel_{k}" for k in range(1, 28)) + ("f0", "energy"))
    m = descriptors.mirsamadi2017(x, SR)
    assert m.names[:16] == ("f0", "voicing", "energy", "zcr") + tuple(f"mfcc_{k}" for k in range(1, 13))
    assert descriptors.spectral257(x, SR).names[256] == "spec_256"
    assert w.info["pitch"] == "yin" and w.info["mfcc"] == "numpy"


def test_mirsamadi_columns_are_the_building_blocks():
    x, truth = harmonic(1.5, 110, 230, snr_db=25)
    fr = descriptors.mirsamadi2017(x, SR)
    col = {n: fr.frames[:, i].astype(np.float64) for i, n in enumerate(fr.names)}
    F = dsp.frame(x, 400, 160)
    np.testing.assert_allclose(col["zcr"], dsp.zero_crossing_rate(F), atol=1e-6)
    np.testing.assert_allclose(col["energy"], dsp.log_energy(F), atol=1e-4)
    np.testing.assert_allclose(col["d_energy"], dsp.deltas(dsp.log_energy(F), 5), atol=1e-4)
    true = truth(centres(F.shape[0], 400, 160))
    voiced = col["f0"] > 0
    assert voiced.mean() > 0.95                                   # 50 ms pitch frames, centred
    assert np.median(np.abs(col["f0"][voiced] / true[voiced] - 1)) < 0.002


def test_spectral257_is_the_magnitude_spectrum():
    x = np.random.default_rng(6).standard_normal(SR // 2)
    fr = descriptors.spectral257(x, SR)
    F = dsp.frame(x, 400, 160)
    ref = np.abs(np.fft.rfft(F * np.hamming(401)[:400], n=512))   # periodic Hamming
    np.testing.assert_allclose(fr.frames, ref, rtol=1e-5, atol=1e-5)
    db = descriptors.spectral257(x, SR, log=True).frames
    np.testing.assert_allclose(db, 20 * np.log10(np.maximum(ref, 1e-5)), atol=1e-3)
    with pytest.raises(ValueError, match="resample to 16 kHz"):
        descriptors.spectral257(np.zeros(44100), 44100)


@pytest.mark.parametrize("name", sorted(SET_DIMS))
def test_set_errors(name):
    fn = sets.function(name)
    win = round(SET_DIMS[name][1] * SR)
    with pytest.raises(ValueError, match=rf"399 samples.*shorter than one 25 ms window \(400"
                       if win == 400 else r"799 samples.*shorter than one 50 ms window \(800"):
        fn(np.zeros(win - 1), SR)
    x = np.zeros(SR)
    x[1234] = np.nan
    with pytest.raises(ValueError, match="non-finite.*sample 1234"):
        fn(x, SR)
    x[1234] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        fn(x, SR)
    with pytest.raises(ValueError, match="1-D"):
        fn(np.zeros((2, SR)), SR)
    with pytest.raises(ValueError, match="float signal"):
        fn(np.zeros(SR, dtype=np.int16), SR)
    with pytest.raises(ValueError, match="sample rate"):
        fn(np.zeros(SR), 0)


@pytest.mark.parametrize("name", sorted(SET_DIMS))
def test_sets_finite_on_awkward_signals(name):
    rng = np.random.default_rng(7)
    clicks = np.zeros(SR)
    clicks[::800] = 1.0
    for x in (np.zeros(SR), np.full(SR, 0.5), np.sign(rng.standard_normal(SR)), clicks,
              1e-9 * rng.standard_normal(SR), rng.standard_normal(SR).astype(np.float32)):
        fr = sets.extract(name, x, SR)
        assert np.isfinite(fr.frames).all()
        if "f0" in fr.names and not x.any():
            assert np.all(fr.frames[:, fr.names.index("f0")] == 0)


def test_woellmer_pitch_option(monkeypatch):
    x, _ = harmonic(1.0, 120, 200)
    with pytest.raises(ValueError, match="pitch must be"):
        descriptors.woellmer2012(x, SR, pitch="crepe")
    monkeypatch.setitem(sys.modules, "parselmouth", None)          # import parselmouth -> ImportError
    assert descriptors.woellmer2012(x, SR).info["pitch"] == "yin"
    with pytest.raises(ImportError, match="praat-parselmouth"):
        descriptors.woellmer2012(x, SR, pitch="praat")


def test_praat_and_yin_pitch_agree(parselmouth):
    """Praat (to_pitch_ac) vs our YIN on the same 40 frames/s: median relative difference 0.05-0.15 %
    on these signals, 95th percentile 0.4 % (Praat is the closer to the truth: 0.002-0.1 %). The
    200 Hz/s glide (100 -> 500 Hz in 2 s) would turn a half-hop misalignment of Praat's frames into a
    ~1.2 % error, so the bound also checks that its frames sit on our centres."""
    for args, kw in [((2.0, 100, 500), {}), ((2.0, 70, 140), {"snr_db": 20}),
                     ((2.0, 180, 260), {"vibrato": True, "snr_db": 10})]:
        x, truth = harmonic(*args, **kw)
        a = descriptors.woellmer2012(x, SR, pitch="praat")
        b = descriptors.woellmer2012(x, SR, pitch="yin")
        assert a.frames.shape == b.frames.shape and a.names == b.names and a.rate == b.rate == 40.0
        assert a.info["pitch"] == a.info["mfcc"] == "praat" and b.info["pitch"] == "yin"
        i = a.names.index("f0")
        fa, fb = a.frames[:, i].astype(np.float64), b.frames[:, i].astype(np.float64)
        both = (fa > 0) & (fb > 0)
        assert both.mean() > 0.95
        rel = np.abs(fa[both] / fb[both] - 1)
        assert np.median(rel) < 0.005 and np.percentile(rel, 95) < 0.02
        true = truth(centres(fa.size, 800, 400))
        assert np.median(np.abs(fa[fa > 0] / true[fa > 0] - 1)) < 0.003
        assert np.isfinite(a.frames).all()
    assert descriptors.woellmer2012(x, SR, pitch="auto").info["pitch"] == "praat"


@pytest.mark.parametrize("sr", [8000, 44100])
def test_praat_frames_at_other_rates(parselmouth, sr):
    x, _ = harmonic(0.6, 120, 200, sr=sr)
    a = descriptors.woellmer2012(x, sr, pitch="praat")
    b = descriptors.woellmer2012(x, sr, pitch="yin")
    assert a.frames.shape == b.frames.shape == (1 + (x.size - round(0.05 * sr)) // round(0.025 * sr), 82)
    assert np.isfinite(a.frames).all()


def test_importing_descriptors_imports_neither_librosa_nor_parselmouth():
    code = ("import sys, emojax.features.descriptors, emojax.features.dsp; "
            "print(sorted(m for m in ('librosa', 'parselmouth') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
