"""emojax.features.pyaa: compat against pyAudioAnalysis 0.3.14 itself, fixed against closed forms.

Tolerance for compat, every feature of every frame: |ours - ref| <= 1e-4 * |ref| + atol, with the
absolute floor atol = 1e-10 (feature units) for every feature except spectral_spread, whose floor is
1e-6 (0.008 Hz at 16 kHz): the spread of an on-bin pure tone is the square root of FFT rounding
noise (~1e-7), which a different FFT build may round differently. Real features are far above the
floors (the smallest seen: energy 8e-8 of a near-silent signal, chroma 5e-6); the rounding-noise
values of flux, entropy and chroma of pure tones (1e-27 .. 1e-31) are below it. In practice compat
agrees to the float32 rounding of its output (~6e-8 relative) on every feature: nothing is xfailed.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from emojax.features import pyaa
from emojax.features.sets import extract

RTOL = 1e-4
ATOL = np.full(len(pyaa.FEATURE_NAMES), 1e-10)
ATOL[pyaa.FEATURE_NAMES.index("spectral_spread")] = 1e-6
CHROMA = slice(pyaa.FEATURE_NAMES.index("chroma_1"), pyaa.FEATURE_NAMES.index("chroma_12") + 1)
COL = {name: i for i, name in enumerate(pyaa.FEATURE_NAMES)}

# (sr, window_s, hop_s): the paper's 200/100 ms at 16 kHz; 8 kHz with short frames; 22.05 kHz (2205
# spectrum bins: the entropy tail of quirk 11); 11.025 kHz / 300 ms (an odd window, 3307 samples)
CONFIGS = [(16000, 0.2, 0.1), (8000, 0.05, 0.025), (22050, 0.2, 0.1), (11025, 0.3, 0.1)]


@pytest.fixture(scope="module")
def reference():
    return pytest.importorskip("pyAudioAnalysis.ShortTermFeatures")


def speech_like(sr: int, seconds: float = 2.5) -> np.ndarray:
    """Harmonics 1..19 of an f0 gliding 110 -> 220 Hz, 4 Hz amplitude modulation, exact pauses."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 110 + 110 * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(h * phase) / h for h in range(1, 20) if h * 220 < sr / 2)
    am = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    talking = np.sin(2 * np.pi * 0.7 * t) > -0.3                    # pauses: ~40 % digital zeros
    return 0.6 * voiced * am * talking


def signals(sr: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(sr)
    t = np.arange(2 * sr) / sr
    speech = speech_like(sr)
    return {
        "tone_440": 0.5 * np.sin(2 * np.pi * 440 * t),
        "tone_1003.7": 0.3 * np.sin(2 * np.pi * 1003.7 * t + 0.3),
        "white_noise": 0.1 * rng.standard_normal(t.size),
        "silence": np.zeros(t.size),
        "near_silence_1e-6": 1e-6 * rng.standard_normal(t.size),     # below pyAA's 1e-10 floor
        "near_silence_1e-9": 1e-9 * rng.standard_normal(t.size),
        "near_silence_int16_lsb": rng.integers(-1, 2, t.size).astype(np.int16),
        "speech_like": speech,
        "speech_like_int16": np.round(speech / np.abs(speech).max() * 20000).astype(np.int16),
    }


def reference_features(reference, x, sr, window_s, hop_s):
    feats, names = reference.feature_extraction(x, sr, int(window_s * sr), int(hop_s * sr),
                                                deltas=False)
    return feats.T, tuple(names)                                   # (34, T) -> (T, 34)


def assert_matches(ours, ref, names, where):
    assert ours.names == names, where
    assert ours.frames.shape == ref.shape, (where, ours.frames.shape, ref.shape)
    assert ours.frames.dtype == np.float32
    err = np.abs(ours.frames.astype(np.float64) - ref)
    bad = err > RTOL * np.abs(ref) + ATOL
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise AssertionError(f"{where}: {bad.sum()} values off, first {names[j]} at frame {t}: "
                             f"ours {ours.frames[t, j]!r}, pyAudioAnalysis {ref[t, j]!r}")


@pytest.mark.parametrize("sr,window_s,hop_s", CONFIGS)
def test_compat_matches_pyaudioanalysis(reference, sr, window_s, hop_s):
    for name, x in signals(sr).items():
        ref, names = reference_features(reference, x, sr, window_s, hop_s)
        ours = pyaa.chernykh2018(x, sr, mode="compat", window_s=window_s, hop_s=hop_s)
        assert_matches(ours, ref, names, f"{name} at {sr} Hz, {window_s}/{hop_s} s")


def test_compat_matches_across_block_boundaries(reference, monkeypatch):
    """Flux at each block's first frame uses the last frame of the block before."""
    sr = 16000
    monkeypatch.setattr(pyaa, "BLOCK_SAMPLES", 3 * 3200 + 7)          # blocks of 3 frames
    x = speech_like(sr, seconds=3.3)
    ref, names = reference_features(reference, x, sr, 0.2, 0.1)
    assert_matches(pyaa.chernykh2018(x, sr), ref, names, "blocks of 3 frames")


@pytest.mark.parametrize("sr,window_s", [(6000, 0.2), (16000, 0.01), (16000, 0.01225)])
def test_compat_refuses_where_pyaudioanalysis_fails(reference, sr, window_s):
    """Below ~6.9 kHz its filterbank indexes past the spectrum; windows with window//2 <= the
    highest semitone break its chroma (quirks 5 and 10). fixed computes both."""
    x = np.random.default_rng(0).standard_normal(sr)
    with pytest.raises((IndexError, ValueError)):
        reference.feature_extraction(x, sr, int(window_s * sr), int(window_s * sr / 2),
                                     deltas=False)
    with pytest.raises(ValueError, match="pyAudioAnalysis"):
        pyaa.chernykh2018(x, sr, window_s=window_s, hop_s=window_s / 2)
    fixed = pyaa.chernykh2018(x, sr, mode="fixed", window_s=window_s, hop_s=window_s / 2)
    assert np.all(np.isfinite(fixed.frames))


def test_frames_contract_and_registry():
    sr, x = 16000, speech_like(16000, seconds=2.05)
    out = extract("chernykh2018", x, sr)                              # the registry: mode=compat
    direct = pyaa.chernykh2018(x, sr, mode="compat", window_s=0.2, hop_s=0.1)
    np.testing.assert_array_equal(out.frames, direct.frames)
    assert out.frames.shape == ((x.size - 3200) // 1600 + 1, 34) == (19, 34)
    assert out.rate == 10.0 and len(out.names) == 34
    assert out.info == {"mode": "compat", "reference": "pyAudioAnalysis 0.3.14 ShortTermFeatures"}
    assert extract("chernykh2018", x, sr, mode="fixed").info["mode"] == "fixed"


@pytest.mark.parametrize("mode", pyaa.MODES)
def test_bad_input_raises(mode):
    sr = 16000
    with pytest.raises(ValueError, match="shorter than one window"):
        pyaa.chernykh2018(np.ones(3199), sr, mode=mode)
    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros(8000)
        x[1234] = bad
        with pytest.raises(ValueError, match="index 1234"):
            pyaa.chernykh2018(x, sr, mode=mode)
    with pytest.raises(ValueError, match="mono"):
        pyaa.chernykh2018(np.zeros((8000, 2)), sr, mode=mode)
    with pytest.raises(ValueError, match="mode"):
        pyaa.chernykh2018(np.zeros(8000), sr, mode="pyaa")


def test_import_does_not_import_pyaudioanalysis():
    code = ("import sys, emojax.features.pyaa; "
            "sys.exit(any(m.startswith('pyAudioAnalysis') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("mode", pyaa.MODES)
def test_silence_closed_form(mode):
    """All-zero frames: every feature 0 but mfcc_1 = DCT_0 of log10(eps) over 40 filters."""
    f = pyaa.chernykh2018(np.zeros(16000), 16000, mode=mode).frames
    expected = np.zeros(34)
    expected[COL["mfcc_1"]] = np.sqrt(40) * np.log10(np.finfo(float).eps)   # -98.99
    np.testing.assert_allclose(f, np.broadcast_to(expected, f.shape), rtol=1e-6, atol=1e-9)


def test_input_scaling_quirk_1():
    """compat divides floats by 2**15 before `x / (peak + 1e-10)`: quiet signals come out quieter
    by exactly p / (p + 1e-10); fixed is level-invariant."""
    sr = 16000
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * 440 * np.arange(sr) / sr) + 0.01 * rng.standard_normal(sr)
    loud, quiet = (pyaa.chernykh2018(a * x, sr).frames[:, COL["energy"]] for a in (1.0, 1e-6))
    p = np.abs(1e-6 * x / 2 ** 15 - np.mean(1e-6 * x / 2 ** 15)).max()
    np.testing.assert_allclose(quiet / loud, (p / (p + 1e-10)) ** 2, rtol=1e-5)
    assert (p / (p + 1e-10)) ** 2 < 0.1
    loud, quiet = (pyaa.chernykh2018(a * x, sr, mode="fixed").frames for a in (1.0, 1e-6))
    np.testing.assert_allclose(quiet, loud, rtol=1e-3, atol=1e-6)    # scale 1 - 1e-4 here
    as_int = pyaa.chernykh2018(np.round(x * 20000).astype(np.int16), sr, mode="fixed").frames
    as_float = pyaa.chernykh2018(np.round(x * 20000) / 2 ** 15, sr, mode="fixed").frames
    np.testing.assert_allclose(as_int, as_float, rtol=1e-6, atol=1e-9)


def test_window_rounding_quirk_2():
    sr = 48000                                   # 0.018 * 48000 = 863.9999999999999
    x = np.random.default_rng(0).standard_normal(863)
    assert pyaa.chernykh2018(x, sr, window_s=0.018, hop_s=0.009).frames.shape == (1, 34)
    with pytest.raises(ValueError, match="864 samples"):
        pyaa.chernykh2018(x, sr, mode="fixed", window_s=0.018, hop_s=0.009)


@pytest.mark.parametrize("f", [440.0, 1000.0, 3000.0])
def test_fixed_centroid_of_on_bin_tone_is_its_frequency(f):
    """A tone on an FFT bin (multiples of sr / window = 5 Hz) has no leakage: the centroid is f,
    the spread 0. compat places bin k at (k + 1) * 5 Hz (quirk 3): f + 5 Hz."""
    sr = 16000
    x = np.sin(2 * np.pi * f * np.arange(sr) / sr)
    fixed = pyaa.chernykh2018(x, sr, mode="fixed").frames
    compat = pyaa.chernykh2018(x, sr, mode="compat").frames
    np.testing.assert_allclose(fixed[:, COL["spectral_centroid"]] * sr / 2, f, rtol=1e-5)
    np.testing.assert_allclose(compat[:, COL["spectral_centroid"]] * sr / 2, f + 5, rtol=1e-5)
    assert np.all(fixed[:, COL["spectral_spread"]] * sr / 2 < 0.1)            # Hz
    np.testing.assert_allclose(fixed[:, COL["spectral_rolloff"]] * sr / 2, f, rtol=1e-6)


@pytest.mark.parametrize("f", [440.0, 261.63, 329.63, 1000.0, 3000.0, 123.47])
def test_fixed_chroma_peaks_at_the_pitch_class(f):
    """Pitch class relative to A4 = 440 Hz (A, A#, ..., G#): 261.63 C4, 329.63 E4, 123.47 B2."""
    sr = 16000
    x = np.sin(2 * np.pi * f * np.arange(sr) / sr)
    chroma = pyaa.chernykh2018(x, sr, mode="fixed").frames[:, CHROMA]
    expected = int(np.round(12 * np.log2(f / 440.0))) % 12
    assert np.all(chroma.argmax(1) == expected), (pyaa.CHROMA_CLASSES[expected], chroma[0])
    assert np.all(chroma[:, expected] > 0.6)
    # all the power of an on-bin tone lies above 27.5 Hz; off-bin ones leak a little below
    np.testing.assert_allclose(chroma.sum(1), 1.0, rtol=1e-6 if f % 5 == 0 else 1e-2)


def test_compat_chroma_keeps_one_bin_per_semitone_quirk_7():
    """440 Hz (bin 88 at 16 kHz / 200 ms) is not the highest bin of its semitone in pyAA's
    shifted axis, so its power is overwritten: the chroma of a 440 Hz tone is ~0 everywhere."""
    sr = 16000
    x = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    chroma = pyaa.chernykh2018(x, sr, mode="compat").frames[:, CHROMA]
    assert np.all(chroma.sum(1) < 1e-6)


def test_fixed_filterbank_centres_and_areas():
    sr, window = 16000, 3200
    df = sr / window
    centres = pyaa.filterbank_edges()[1:-1]
    fixed = pyaa.mfcc_filterbank(sr, window, "fixed")
    compat = pyaa.mfcc_filterbank(sr, window, "compat")
    assert fixed.shape == compat.shape == (40, window // 2)
    bin_hz = np.arange(window // 2) * df
    assert np.all(np.abs(bin_hz[fixed.argmax(1)] - centres) <= df)
    assert np.all(np.abs(bin_hz[compat.argmax(1)] - centres / 2) <= df)     # quirk 4: half
    np.testing.assert_allclose(fixed.sum(1) * df, 1.0, rtol=0.01)            # unit-area triangles
    tone = int(1000 / df)                                                    # a 1 kHz spike
    assert fixed[:, tone].argmax() == np.abs(centres - 1000).argmin()
    assert compat[:, tone].argmax() == np.abs(centres - 2000).argmin()
    low = pyaa.mfcc_filterbank(8000, 1600, "fixed")              # quirk 5: drop above Nyquist
    assert low.shape == (32, 800) and np.all(low.sum(1) > 0)
    assert pyaa.filterbank_edges()[2:][:32].max() <= 4000 < pyaa.filterbank_edges()[2:][32]


def test_fixed_entropy_shares_sum_to_one_quirk_11():
    """±1 alternating: every sample has energy 1. fixed: ten equal shares, log2(10) bits; compat
    counts the dropped tail in the total: shares of sub / window each."""
    sr = 11025                                    # 0.3 s: compat 3307 samples, fixed 3308
    x = np.where(np.arange(sr) % 2 == 0, 1.0, -1.0)
    for mode, window in (("compat", 3307), ("fixed", 3308)):
        e = pyaa.chernykh2018(x, sr, mode=mode, window_s=0.3).frames[:, COL["energy_entropy"]]
        share = (window // 10) / window if mode == "compat" else 0.1
        np.testing.assert_allclose(e, -10 * share * np.log2(share), rtol=1e-6)


def test_modes_agree_where_nothing_was_fixed():
    """ZCR, energy, energy entropy, spectral entropy (1600 bins), flux and rolloff are the same
    formulas in both modes at 16 kHz / 200 ms."""
    sr, x = 16000, speech_like(16000)
    compat = pyaa.chernykh2018(x, sr, mode="compat").frames
    fixed = pyaa.chernykh2018(x, sr, mode="fixed").frames
    same = [COL[n] for n in ("zcr", "energy", "energy_entropy", "spectral_entropy",
                             "spectral_flux", "spectral_rolloff")]
    np.testing.assert_allclose(fixed[:, same], compat[:, same], rtol=1e-4, atol=1e-10)
    assert not np.allclose(fixed[:, COL["mfcc_2"]], compat[:, COL["mfcc_2"]], rtol=1e-2)
