"""Chernykh et al. 2018: the 34 pyAudioAnalysis short-term features, vectorised over frames.

  from emojax.features.sets import extract
  extract("chernykh2018", signal, 16000)                 # mode="compat", 200 ms window, 100 ms hop
  extract("chernykh2018", signal, 16000, mode="fixed")   # the same 34 features, quirks corrected

The paper (Sec. 2.2) computes pyAudioAnalysis's 34 short-term features over 200 ms frames with a
100 ms hop. `chernykh2018` computes them with numpy on (B, window) blocks of the frame matrix, with
no Python loop over frames. ``mode="compat"`` reproduces
``ShortTermFeatures.feature_extraction(signal, sr, int(window_s * sr), int(hop_s * sr),
deltas=False)`` of pyAudioAnalysis 0.3.14, transposed to (T, 34): to ~1e-10 relative in float64,
and the float32 output rounds to ~6e-8. ``mode="fixed"`` corrects its
quirks. pyAudioAnalysis is never imported here; tests/test_pyaa.py compares against it.

Shared by both modes (design choices of pyAudioAnalysis, not quirks):
- the whole signal is DC-removed and peak-normalised once (``x -= mean; x /= max|x| + 1e-10``), so
  every feature depends on the whole file (not streamable) and not on the recording level;
- frames start at 0, hop, 2*hop, ... while they fit: T = (N - window) // hop + 1, no padding, a
  rectangular window; the spectrum is |FFT| of bins 0 .. window//2 - 1 (DC kept, Nyquist dropped)
  divided by window//2 (a sinusoid on a bin has magnitude equal to its amplitude);
- ZCR counts sign changes with sign(0) = 0 (a step through an exact zero counts 1/2), over window-1;
  energy is the mean square; the entropies use 10 equal sub-blocks; rolloff is the first bin where
  the cumulative power exceeds 90 %, as a fraction of the band; centroid and spread are weighted
  by the magnitude spectrum scaled to max 1, in units of the Nyquist frequency;
- MFCCs are the orthonormal DCT-II (first 13) of log10 of the 40 (fixed: 40 at 16 kHz, see 5)
  *magnitude* (not power) triangular-filter outputs, 13 linear (133.33 Hz + k * 66.67 Hz) then 27
  log-spaced (x1.0711703), each of unit area (the scikits.talkbox bank);
- chroma_1 .. chroma_12 are the pitch classes A, A#, ..., G# (semitones from A0 = 27.5 Hz, mod 12)
  as fractions of the frame's power; chroma_std is their population standard deviation;
- spectral flux is the squared distance between consecutive sum-normalised magnitude spectra; the
  first frame has no predecessor and pyAudioAnalysis compares it with itself: flux[0] = 0;
- ``eps = sys.float_info.epsilon`` (2.2e-16) wherever pyAudioAnalysis adds it: entropy denominators
  and ``log2(s + eps)``, the centroid denominator, ``sum(|X| + eps)`` in the flux,
  ``cumsum + eps`` in the rolloff, ``log10(. + eps)`` in the MFCCs; an all-zero frame gives 0 for
  every feature except the MFCCs, whose first coefficient is ``sqrt(40) * log10(eps)`` = -98.99.

pyAudioAnalysis 0.3.14 quirks that compat reproduces, and what fixed does instead:
1. Input scaling: every input, float included, is divided by 2**15 before the peak normalisation,
   whose +1e-10 floor then acts at 3.3e-6 of float full scale: a float signal with peak 1e-6 comes
   out with peak 0.23, not 1. fixed: integer dtypes are scaled by their range (int16 / 2**15),
   floats are used as they are, so any non-silent signal reaches peak ~1.
2. Frame length: compat takes ``int(window_s * sr)`` and ``int(hop_s * sr)`` (truncation, as the
   reference call does: 0.018 s at 48 kHz -> 863, not 864); fixed rounds.
3. Centroid/spread frequency axis: bin k is placed at (k + 1) * sr / (2 * (window//2)), one bin too
   high (a 1000 Hz tone in a 200 ms frame at 16 kHz has centroid 1005 Hz; odd windows are also
   spaced sr / (window - 1)). fixed: k * sr / window.
4. MFCC filterbank on a frequency axis off by a factor of 2: the bank is laid on bins spaced
   sr / (window//2) instead of sr / window, so each triangle sits at half its nominal frequency
   (the 133-6854 Hz bank covers 67-3427 Hz of the actual spectrum, and the 1 kHz filter responds to
   500 Hz). Its edges are the bins ``floor(f * (window//2) / sr) + 1 ..`` of that axis.
   fixed: triangles evaluated at the true bin frequencies k * sr / window.
5. pyAudioAnalysis's bank sets ``nlogfil = 5`` for sr < 8000 and then ignores it (dead code); below
   ~6.9 kHz the bank runs past the spectrum and pyAudioAnalysis raises IndexError, so compat raises
   ValueError there. fixed: filters whose upper edge lies above Nyquist are dropped (at 16 kHz all
   40 stay, at 8 kHz 32), at least 13 must remain.
6. Chroma bin frequencies are (k + 1) * sr / (2 * (window//2)), one bin too high (as 3), and the
   semitone of the DC bin and of bins below 27.5 Hz is negative (-30 for DC at 16 kHz / 200 ms).
7. Chroma accumulation is ``C[semitone] = power`` with repeated indices: of all bins in a semitone
   only the last (highest) one counts (last-bin-wins), not their sum.
8. Negative semitones index C from its end (C has window//2 slots), so the sub-27.5 Hz bins land in
   slot window//2 + semitone, whose pitch class is not semitone mod 12 unless window//2 is a
   multiple of 12.
9. The per-semitone division ``C /= num_freqs_per_chroma[num_chroma]`` divides slot s by the bin
   count of the semitone *of bin s* (an index mix-up), not by the count of semitone s.
10. If the highest semitone (at Nyquist) is >= window//2 (windows shorter than ~196 samples at
    16 kHz) pyAudioAnalysis's other chroma branch fails on a shape mismatch; compat raises
    ValueError. fixed has no such limit.
   fixed chroma (6-10): each bin at or above 27.5 Hz, at its true frequency k * sr / window, adds
   its power to its pitch class round(12 log2(f / 27.5)) mod 12; DC and sub-27.5 Hz bins are left
   out; the 12 sums are divided by the frame's total power as in compat.
11. The entropies divide the 10 sub-block energies by the energy of the whole frame but drop its
    last len % 10 samples (bins) from the blocks, so the shares sum to less than 1 when the length
    is not a multiple of 10 (the spectrum of a 200 ms frame at 22.05 kHz: 2205 bins). fixed
    divides by the energy of the samples the blocks hold.

Frames.info = ``{"mode": mode, "reference": "pyAudioAnalysis 0.3.14 ShortTermFeatures"}``.
Frames are processed in vectorised blocks of ~2**17 samples (40 frames at 200 ms / 16 kHz), so the
temporaries stay small whatever the signal length.
"""
from __future__ import annotations

import functools
import sys

import numpy as np
import scipy.fft

from emojax.features.sets import Frames

EPS = sys.float_info.epsilon            # pyAudioAnalysis's eps
REFERENCE = "pyAudioAnalysis 0.3.14 ShortTermFeatures"
FEATURE_NAMES: tuple[str, ...] = (
    "zcr", "energy", "energy_entropy", "spectral_centroid", "spectral_spread", "spectral_entropy",
    "spectral_flux", "spectral_rolloff", *(f"mfcc_{i}" for i in range(1, 14)),
    *(f"chroma_{i}" for i in range(1, 13)), "chroma_std")
CHROMA_CLASSES = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")
MODES = ("compat", "fixed")
N_MFCC = 13
N_SUB = 10                              # sub-blocks of the two entropies
ROLLOFF = 0.90
BLOCK_SAMPLES = 1 << 17                 # samples per vectorised block (1 MB of float64)
A0_HZ = 27.50                           # chroma reference: semitone 0 is A0


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")


def filterbank_edges() -> np.ndarray:
    """(42,) Hz: edges of the 40 triangles (filter i spans edges[i] .. edges[i+2], peak edges[i+1]).

    13 linear filters from 133.33 Hz in steps of 200/3 Hz, then 27 log-spaced by x1.0711703: the
    scikits.talkbox bank that pyAudioAnalysis uses, computed with its exact expressions.
    """
    n_lin, n_log = 13, 27
    f = np.zeros(n_lin + n_log + 2)
    f[:n_lin] = 133.33 + np.arange(n_lin) * (200 / 3)
    f[n_lin:] = f[n_lin - 1] * 1.0711703 ** np.arange(1, n_log + 3)
    return f


def _mfcc_filterbank(sr: int, window: int, mode: str = "compat") -> np.ndarray:
    """(F, window//2) weights of the triangular bank on the magnitude spectrum; F = 40 in compat.

    compat: pyAudioAnalysis's bank, laid on bins spaced sr / (window//2) (twice the true spacing;
    quirk 4), edges at bins ``floor(f * (window//2) / sr) + 1``. fixed: triangles of unit area
    evaluated at the true bin frequencies k * sr / window, filters above Nyquist dropped (quirk 5).
    """
    _check_mode(mode)
    n = window // 2
    f = filterbank_edges()
    lo, ce, hi = f[:-2, None], f[1:-1, None], f[2:, None]           # (40, 1)
    height = 2.0 / (hi - lo)
    k = np.arange(n)
    if mode == "compat":
        # pyAudioAnalysis: lid = floor(lo*n/sr)+1 .. floor(ce*n/sr), rid = .. floor(hi*n/sr)
        i_lo, i_ce, i_hi = (np.floor(e * n / sr) for e in (lo, ce, hi))
        if i_hi.max() > n - 1:
            raise ValueError(
                f"mode='compat': at sr={sr} Hz the pyAudioAnalysis filterbank (up to "
                f"{f[-1]:.0f} Hz on its doubled axis) runs past the {n}-bin spectrum; "
                f"pyAudioAnalysis 0.3.14 raises IndexError here (sr must be > ~{f[-1]:.0f} Hz); "
                "use mode='fixed'")
        freq = k / (1.0 * n) * sr                                     # the doubled axis
        rising = (k > i_lo) & (k <= i_ce)
        falling = (k > i_ce) & (k <= i_hi)
    else:
        keep = hi[:, 0] <= sr / 2
        if keep.sum() < N_MFCC:
            raise ValueError(f"mode='fixed': only {keep.sum()} MFCC filters lie below Nyquist "
                             f"({sr / 2:.0f} Hz); {N_MFCC} are needed (sr >= ~2.2 kHz)")
        lo, ce, hi, height = lo[keep], ce[keep], hi[keep], height[keep]
        freq = k * sr / window                                        # true bin frequencies
        rising = (freq > lo) & (freq <= ce)
        falling = (freq > ce) & (freq < hi)
    return (np.where(rising, height / (ce - lo) * (freq - lo), 0.0)
            + np.where(falling, height / (hi - ce) * (hi - freq), 0.0))     # (F, n)


def _chroma_matrix(sr: int, window: int, mode: str = "compat") -> np.ndarray:
    """(window//2, 12) map from bin power to pitch-class power (A, A#, ..., G#), before the division
    by the frame's total power.

    compat reproduces quirks 6-10 of pyAudioAnalysis (one bin of each semitone, negative semitones
    wrapped, mixed-up per-semitone divisor); fixed sums the power of every bin >= 27.5 Hz into its
    pitch class.
    """
    _check_mode(mode)
    n = window // 2
    if mode == "fixed":
        freq = np.arange(n) * sr / window
        use = freq >= A0_HZ
        semitone = np.round(12.0 * np.log2(freq[use] / A0_HZ)).astype(int)
        m = np.zeros((n, 12))
        m[np.nonzero(use)[0], semitone % 12] = 1.0
        return m
    # pyAudioAnalysis chroma_features_init: bin k at (k+1) * sr / (2n), same expression
    freqs = (np.arange(1, n + 1) * sr) / (2 * n)
    semitone = np.round(12.0 * np.log2(freqs / A0_HZ)).astype(int)   # (n,), may be negative
    if semitone.max() >= n or semitone.min() < -n:
        raise ValueError(
            f"mode='compat': window {window} at sr={sr} Hz has {n} spectrum bins but semitones up "
            f"to {semitone.max()}; pyAudioAnalysis 0.3.14's chroma fails for such short windows "
            "(needs window//2 > highest semitone); use mode='fixed' or a longer window")
    _, inverse, counts = np.unique(semitone, return_inverse=True, return_counts=True)
    per_bin_count = counts[inverse]                   # bins sharing each bin's semitone
    slot = semitone % n                               # C[semitone]: negative indices wrap
    winner = np.full(n, -1)
    np.maximum.at(winner, slot, np.arange(n))         # C[slot] = spec: the last bin wins
    divisor = per_bin_count[slot]                     # slot s /= count of the semitone of bin s
    filled = np.nonzero(winner >= 0)[0]               # slots some bin wrote to
    m = np.zeros((n, 12))
    np.add.at(m, (winner[filled], filled % 12), 1.0 / divisor[filled])
    return m


@functools.lru_cache(maxsize=32)
def _cached(kind: str, sr: int, window: int, mode: str) -> np.ndarray:
    m = (_mfcc_filterbank if kind == "mfcc" else _chroma_matrix)(sr, window, mode)
    m.flags.writeable = False                     # shared between calls: never modified
    return m


def mfcc_filterbank(sr: int, window: int, mode: str = "compat") -> np.ndarray:
    """`_mfcc_filterbank`, built once per (sr, window, mode) and read-only."""
    return _cached("mfcc", int(sr), int(window), mode)


def chroma_matrix(sr: int, window: int, mode: str = "compat") -> np.ndarray:
    """`_chroma_matrix`, built once per (sr, window, mode) and read-only."""
    return _cached("chroma", int(sr), int(window), mode)


def _normalise(signal, mode: str) -> np.ndarray:
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (N,), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"signal dtype {x.dtype} is not a real integer or float type")
    if mode == "compat":
        x = x.astype(np.float64) / 2.0 ** 15                         # quirk 1: every input
    elif np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + 1 + info.min) / 2) / ((info.max - info.min + 1) / 2)
    else:
        x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        bad = np.nonzero(~np.isfinite(x))[0]
        raise ValueError(f"signal has {bad.size} NaN/inf samples (first at index {bad[0]})")
    x = x - x.mean()
    return x / (np.abs(x).max() + 1e-10)


def _entropy(squares: np.ndarray, fixed: bool) -> np.ndarray:
    """Entropy (bits) of the energy shares of 10 equal contiguous sub-blocks of each row.

    squares: (T, L) squared samples or squared magnitudes. The last L % 10 columns are left out of
    the blocks; compat still counts them in the total (quirk 11), fixed does not.
    """
    t, length = squares.shape
    sub = length // N_SUB
    block = squares[:, :sub * N_SUB].reshape(t, N_SUB, sub).sum(2)     # (T, 10)
    total = block.sum(1, keepdims=True) if fixed else squares.sum(1, keepdims=True)
    s = block / (total + EPS)
    return -(s * np.log2(s + EPS)).sum(1)


def chernykh2018(signal, sr, *, mode: str = "compat", window_s: float = 0.2,
                 hop_s: float = 0.1) -> Frames:
    """The 34 pyAudioAnalysis short-term features of one mono signal: Frames((T, 34) float32, ...).

    signal: (N,) samples (ints or floats); sr: Hz. mode: "compat" (pyAudioAnalysis 0.3.14,
    quirks included) or "fixed" (quirks corrected); see the module docstring for the list.
    Frame t covers samples [t*hop, t*hop + window); T = (N - window) // hop + 1; rate = sr / hop.
    Raises ValueError for a non-mono, non-finite or shorter-than-one-window signal, a window too
    short for compat's chroma, or (compat) sr below ~6.9 kHz.
    """
    _check_mode(mode)
    sr = int(sr)
    if sr <= 0:
        raise ValueError(f"sr must be positive, got {sr}")
    to_samples = int if mode == "compat" else (lambda v: int(round(v)))   # quirk 2
    window, hop = to_samples(window_s * sr), to_samples(hop_s * sr)
    if window < 2 * N_SUB or hop < 1:
        raise ValueError(f"window {window} and hop {hop} samples (window_s={window_s}, "
                         f"hop_s={hop_s}, sr={sr}): need window >= {2 * N_SUB} and hop >= 1")
    x = _normalise(signal, mode)
    if x.size < window:
        raise ValueError(f"signal of {x.size} samples is shorter than one window ({window} "
                         f"samples = {window_s} s at {sr} Hz)")
    out = _features(x, sr, window, hop, mode)
    return Frames(out.astype(np.float32), FEATURE_NAMES, sr / hop,
                  {"mode": mode, "reference": REFERENCE})


def _features(x: np.ndarray, sr: int, window: int, hop: int, mode: str) -> np.ndarray:
    """(T, 34) float64 features of a normalised signal (see `chernykh2018`)."""
    fixed = mode == "fixed"
    n = window // 2
    fbank = mfcc_filterbank(sr, window, mode)                       # (F, n)
    chroma_map = chroma_matrix(sr, window, mode)                    # (n, 12)
    if fixed:
        freq = np.arange(n) * sr / window                             # bin k at k * sr / window
    else:
        freq = np.arange(1, n + 1) * (sr / (2.0 * n))                 # quirk 3: one bin too high
    frames = np.lib.stride_tricks.sliding_window_view(x, window)[::hop]   # (T, window), a view
    t = frames.shape[0]
    out = np.empty((t, len(FEATURE_NAMES)))
    # blocks of frames, each vectorised: the temporaries stay in cache (~1.7x faster than the whole
    # (T, window) matrix at once, 30 s at 16 kHz / 200 ms) and memory is bounded for long signals
    block = max(1, BLOCK_SAMPLES // window)
    for a in range(0, t, block):
        b = min(a + block, t)
        lo = max(a - 1, 0)                  # one frame before the block, for the flux
        out[a:b] = _block(frames[lo:b], a == 0, sr, window, fixed, freq, fbank, chroma_map)
    return out


def _block(frames: np.ndarray, first: bool, sr: int, window: int, fixed: bool, freq: np.ndarray,
           fbank: np.ndarray, chroma_map: np.ndarray) -> np.ndarray:
    """Features of frames[1:] ((B, 34)), or of all frames when `first` (frame 0 is then its own
    predecessor for the flux, as in pyAudioAnalysis)."""
    n = window // 2
    mag = np.abs(np.fft.rfft(frames, axis=1)[:, :n]) / n            # (B+1, window) -> (B+1, n)
    unit = mag / (mag.sum(1, keepdims=True) + n * EPS)               # pyAA: sum(|X| + eps)
    if first:                                                       # flux[0] = 0: frame 0 vs itself
        unit = np.concatenate([unit[:1], unit])
    else:
        frames, mag = frames[1:], mag[1:]
    flux = ((unit[1:] - unit[:-1]) ** 2).sum(1)
    power = mag ** 2
    squares = frames ** 2

    sign = (frames > 0).view(np.int8) - (frames < 0).view(np.int8)   # np.sign, in one byte
    zcr = np.abs(np.diff(sign, axis=1)).sum(1, dtype=np.int64) / 2 / (window - 1.0)
    energy = squares.sum(1) / window
    energy_entropy = _entropy(squares, fixed)

    # centroid and spread: magnitude scaled to max 1 (an all-zero frame stays zero)
    peak = mag.max(1, keepdims=True)
    weights = mag / np.where(peak == 0, EPS, peak)
    den = weights.sum(1) + EPS
    centroid = weights @ freq / den
    spread = np.sqrt(((freq[None] - centroid[:, None]) ** 2 * weights).sum(1) / den)
    centroid, spread = centroid / (sr / 2.0), spread / (sr / 2.0)

    spectral_entropy = _entropy(power, fixed)

    total = power.sum(1, keepdims=True)
    above = np.cumsum(power, axis=1) + EPS > ROLLOFF * total
    first_bin = np.argmax(above, axis=1)
    rolloff = np.where(above.any(1), first_bin / (window / 2.0 if fixed else n), 0.0)

    log_bands = np.log10(mag @ fbank.T + EPS)                        # (B, n) -> (B, F)
    mfcc = scipy.fft.dct(log_bands, type=2, norm="ortho", axis=1)[:, :N_MFCC]

    chroma = (power @ chroma_map) / np.where(total == 0, EPS, total)  # (B, n) -> (B, 12)
    chroma_std = chroma.std(1)

    return np.column_stack([zcr, energy, energy_entropy, centroid, spread, spectral_entropy, flux,
                            rolloff, mfcc, chroma, chroma_std])      # (B, 34)
