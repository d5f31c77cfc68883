"""The papers' frame-descriptor sets: ``(signal, sr, **options) -> Frames`` (see `sets.py`).

  woellmer2012   12 MFCC, 27 mel-band energies, F0, energy + deltas = 82; 50 ms window, 25 ms hop
  mirsamadi2017  F0, voicing probability, energy, ZCR, 12 MFCC + deltas = 32; 25 ms, 10 ms
  spectral257    |512-point FFT|, 257 bins; 25 ms, 10 ms

Framing (every set, every back end): ``win = round(window_s * sr)``, ``hop = round(hop_s * sr)``
samples; frame ``t`` covers samples ``[t * hop, t * hop + win)`` (no centring, no padding), so an
N-sample signal gives ``T = 1 + (N - win) // hop`` frames, frame ``t`` centred at ``(t * hop + win / 2)
/ sr`` seconds, and ``rate = sr / hop`` frames/s (40 and 100 at 16 kHz). The last ``(N - win) % hop``
samples are not analysed. A signal shorter than one window raises ValueError, as does a NaN or inf
sample, a non-float or non-1-D signal.

Shared choices (the papers do not state them; each is the common one for the toolkit they used):

- spectra use a periodic Hamming window over the frame and the next power-of-two FFT (512 points at
  16 kHz for 25 ms, 1024 for 50 ms); mel energies are ``power_to_db`` (``10 log10(max(P, 1e-10))``,
  dB) of HTK-scale triangles (peak 1) over the power spectrum; MFCC are the orthonormal DCT-II of
  those dB values, coefficients 1..12 (c0 is dropped: energy is its own descriptor). No liftering:
  HTK / openSMILE's ``cepLifter=22`` scales each coefficient by a constant, which the z-scoring
  fitted downstream undoes.
- ``energy`` is the frame power in dB re full scale, ``10 log10(max(mean(x^2), 1e-10))`` over the
  unwindowed frame (openSMILE's IS09 set, which Mirsamadi's 32 LLDs match, uses linear RMS; the log
  is better conditioned for the later z-scoring and is a monotone map of it).
- ``f0`` is YIN (`dsp.yin_from_frames`) over 50 ms frames centred on each frame centre (a 25 ms frame
  holds under two periods of a 60 Hz voice; frames extending past the signal are zero-padded),
  search range 60-600 Hz, trough threshold 0.2; 0 Hz where unvoiced. ``voicing`` is YIN's
  periodicity, ``1 - min CMND`` in [0, 1].
- deltas are 5-frame regression deltas (HTK / openSMILE ``W = 2``), `dsp.deltas`.

No mean or variance normalisation here: both papers normalise with statistics fitted on training
data (Wöllmer: mean and variance; Mirsamadi: neutral speech of the training set), which belongs to
the fold (`emojax.features.normalise`), not to one utterance.

Nothing here imports librosa; parselmouth is imported only inside ``woellmer2012(pitch="praat")``.
"""
from __future__ import annotations

import numpy as np

from emojax.features import dsp
from emojax.features.sets import Frames

__all__ = ["woellmer2012", "mirsamadi2017", "spectral257", "n_frames", "PITCH"]

# YIN settings shared by the sets. 60 Hz covers low male voices (Praat's default floor is 75 Hz) and
# makes Praat's 3-period pitch window exactly 50 ms, Wöllmer's window; 600 Hz is Praat's default
# ceiling. Threshold 0.2 rather than YIN's 0.1: voiced speech frames often dip only to 0.1-0.2, and a
# threshold that misses the first period picks a later one (octave-down errors) or none.
PITCH = {"fmin": 60.0, "fmax": 600.0, "threshold": 0.2, "window_s": 0.050}
DELTA_WIDTH = 5


def _samples(seconds: float, sr: int) -> int:
    return max(1, int(round(seconds * sr)))


def n_frames(n_samples: int, sr: int, window_s: float, hop_s: float) -> int:
    """Frames of an ``n_samples`` signal: ``1 + (n - win) // hop`` with ``win, hop`` in samples
    (``round(window_s * sr)``, ``round(hop_s * sr)``); 0 when shorter than one window."""
    return dsp.n_frames(n_samples, _samples(window_s, sr), _samples(hop_s, sr))


def _rate(sr) -> int:
    try:
        ok = not isinstance(sr, bool) and float(sr) > 0 and float(sr).is_integer()
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"sample rate must be a positive whole number of Hz; got {sr!r}")
    return int(sr)


def _frames(signal, sr: int, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Validated float64 signal, its frames (T, win), win and hop in samples."""
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D mono signal; got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"expected a float signal; got dtype {x.dtype} (divide 16-bit PCM by 32768)")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"signal has {int(bad.sum())} non-finite samples (first: {x[i]} at sample "
                         f"{i}, {i / sr:.3f} s)")
    win, hop = _samples(window_s, sr), _samples(hop_s, sr)
    if x.shape[0] < win:
        raise ValueError(f"signal of {x.shape[0]} samples ({x.shape[0] / sr * 1000:.1f} ms at {sr} Hz)"
                         f" is shorter than one {window_s * 1000:g} ms window ({win} samples)")
    return x, dsp.frame(x, win, hop), win, hop


def _n_fft(win: int) -> int:
    return 1 << (win - 1).bit_length()


def _yin_centred(x: np.ndarray, sr: int, win: int, hop: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    """YIN (f0, periodicity) over PITCH["window_s"] frames sharing the T frame centres."""
    L = max(win, _samples(PITCH["window_s"], sr))
    left = (L - win) // 2
    xp = np.pad(x, (left, L - win - left)) if L > win else x              # T frames, same centres
    f0, periodicity = dsp.yin(xp, sr, L, hop, PITCH["fmin"], PITCH["fmax"], PITCH["threshold"])
    return f0[:T], periodicity[:T]


def _with_deltas(feats: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    full = np.concatenate([feats, dsp.deltas(feats, DELTA_WIDTH)], axis=1)  # (T, D) -> (T, 2D)
    return full.astype(np.float32), names + tuple(f"d_{n}" for n in names)


# --------------------------------------------------------------------------- Wöllmer 2012


WOELLMER_NAMES = (tuple(f"mfcc_{k}" for k in range(1, 13)) + tuple(f"mel_{k}" for k in range(1, 28))
                  + ("f0", "energy"))
_MEL_TOP = 2800.0      # mel (HTK): Praat's default filters at 16 kHz are 27 bands, 100 mel apart


def _mel_top(sr: int) -> float:
    """Upper edge of the 27 mel bands: 2800 mel, or the Nyquist frequency's mel if lower."""
    return min(_MEL_TOP, float(dsp.hz_to_mel(sr / 2.0, htk=True)))


def woellmer2012(signal: np.ndarray, sr: int, *, pitch: str = "auto") -> Frames:
    """Wöllmer et al. 2012, section 4 (audio-visual feature extraction): 82 descriptors per 25 ms.

    12 MFCC (``mfcc_1..12``), 27 mel-frequency band energies in dB (``mel_1..27``), F0 in Hz (0 when
    unvoiced), frame energy in dB, and their 5-frame regression deltas (``d_<name>``); 50 ms frames,
    25 ms hop (40 frames/s), ``T = 1 + (N - win) // hop``. The 27 bands are HTK-mel triangles centred
    at 100, 200, ..., 2700 mel (edges 0..2800 mel), the filters Praat uses at 16 kHz; below a
    15.5 kHz sample rate the 28 spacings shrink to fit under the Nyquist frequency.

    ``pitch``: ``"praat"`` takes F0, the mel bands and the MFCC from Praat through
    praat-parselmouth, as the paper did (``Sound.to_pitch_ac`` with a 60 Hz floor, i.e. a 50 ms
    window; ``To MelSpectrogram`` with a 50 ms Gaussian window; ``To MFCC``), on the same frame
    centres; ``"yin"`` uses numpy only (YIN pitch, Hamming-window mel bands); ``"auto"`` is Praat when
    parselmouth imports, else YIN. Energy is numpy in both. ``info`` records which, e.g.
    ``{"pitch": "praat", "mfcc": "praat", ...}``. The two back ends give the same frames and names
    but not the same values (Praat's dB are re 2e-5 Pa and its window is Gaussian): do not mix them
    within one experiment.

    Not normalised: the paper's mean and variance normalisation is fitted on training data later.
    """
    if pitch not in ("auto", "praat", "yin"):
        raise ValueError(f"pitch must be 'auto', 'praat' or 'yin'; got {pitch!r}")
    sr = _rate(sr)
    x, frames, win, hop = _frames(signal, sr, 0.050, 0.025)
    T = frames.shape[0]
    backend = pitch
    if pitch == "auto":
        try:
            import parselmouth  # noqa: F401
            backend = "praat"
        except ImportError:
            backend = "yin"
    energy = dsp.log_energy(frames)                                       # (T,)
    info = {"window_samples": win, "hop_samples": hop, "pitch_fmin": PITCH["fmin"],
            "pitch_fmax": PITCH["fmax"], "delta_width": DELTA_WIDTH, "energy": "numpy"}
    if backend == "praat":
        f0, mel_db, cc, version = _praat_woellmer(x, sr, win, hop, T)
        info.update(pitch="praat", mfcc="praat", praat=version)
    else:
        n_fft = _n_fft(win)
        power = dsp.power_spectrum(frames, n_fft, dsp.window("hamming", win))   # (T, n_fft/2+1)
        fb = dsp.mel_filterbank(sr, n_fft, 27, fmin=0.0, fmax=float(dsp.mel_to_hz(_mel_top(sr), htk=True)),
                                htk=True, norm=None)                      # (27, n_fft/2+1)
        mel_db = dsp.power_to_db(power @ fb.T)                            # (T, 27)
        cc = dsp.mfcc(mel_db, 13)[:, 1:]                                  # (T, 12), c0 dropped
        f0, _ = _yin_centred(x, sr, win, hop, T)
        info.update(pitch="yin", mfcc="numpy", n_fft=n_fft, pitch_threshold=PITCH["threshold"])
    feats = np.concatenate([cc, mel_db, f0[:, None], energy[:, None]], axis=1)   # (T, 41)
    out, names = _with_deltas(feats, WOELLMER_NAMES)
    return Frames(out, names, sr / hop, info)


def _praat_woellmer(x: np.ndarray, sr: int, win: int, hop: int, T: int):
    """Praat's F0, 27 mel-band dB and MFCC 1..12 at our T frame centres: ((T,), (T, 27), (T, 12))."""
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError:
        raise ImportError("woellmer2012(pitch='praat') needs praat-parselmouth "
                          "(pip install praat-parselmouth); pitch='yin' needs nothing") from None
    # Praat centres its frames in the sound (Sampled_shortTermAnalysis). Give it exactly the samples
    # our T frames cover plus hop // 4 zeros each side, with the time axis starting at -pad: its
    # frames then fall on our centres, and the pad stops floor((duration - window) / step) from
    # rounding down to T - 1 (which would move every frame half a hop).
    pad = hop // 4
    used = x[:win + (T - 1) * hop]
    snd = parselmouth.Sound(np.concatenate([np.zeros(pad), used, np.zeros(pad)]),
                            sampling_frequency=float(sr), start_time=-pad / sr)
    centres = (np.arange(T) * hop + win / 2.0) / sr
    step = hop / sr
    pitch = snd.to_pitch_ac(time_step=step, pitch_floor=PITCH["fmin"], pitch_ceiling=PITCH["fmax"])
    f0 = _at(centres, pitch.xs(), pitch.selected_array["frequency"])
    top = _mel_top(sr)
    d = top / 28.0
    # Praat's window length is the Gaussian's effective length; its physical window is twice that
    mel = call(snd, "To MelSpectrogram", win / sr / 2.0, step, d, d, top)
    db = call(mel, "To Matrix", True)                                     # (27, T') dB re 2e-5 Pa
    if db.values.shape[0] != 27:
        raise RuntimeError(f"Praat made {db.values.shape[0]} mel bands, expected 27 (sr={sr})")
    mel_db = _at(centres, db.xs(), db.values.T)
    mfcc = call(mel, "To MFCC", 12)
    cc = _at(centres, mfcc.xs(), mfcc.to_matrix().values.T)              # c1..c12 (c0 is apart)
    return f0, mel_db, cc, parselmouth.PRAAT_VERSION


def _at(t: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values (T', ...) of the Praat frame nearest each time in t (ends clipped)."""
    times = np.asarray(times)
    step = times[1] - times[0] if times.size > 1 else 1.0
    j = np.clip(np.rint((t - times[0]) / step).astype(int), 0, times.size - 1)
    return np.asarray(values, dtype=np.float64)[j]


# --------------------------------------------------------------------------- Mirsamadi 2017


MIRSAMADI_NAMES = ("f0", "voicing", "energy", "zcr") + tuple(f"mfcc_{k}" for k in range(1, 13))


def mirsamadi2017(signal: np.ndarray, sr: int) -> Frames:
    """Mirsamadi et al. 2017, section 3: 32 hand-crafted LLDs per 10 ms (the IS09 emotion set).

    F0 in Hz (0 when unvoiced), voicing probability (YIN periodicity), frame energy in dB,
    zero-crossing rate (crossings per sample), 12 MFCC from 26 HTK-mel bands over 0..sr/2, and their
    5-frame deltas; 25 ms frames, 10 ms hop (100 frames/s at 16 kHz), ``T = 1 + (N - win) // hop``.
    F0 and voicing come from 50 ms frames on the same centres (module docstring). Not normalised:
    the paper's neutral-speech statistics are fitted on the training set later.
    """
    sr = _rate(sr)
    x, frames, win, hop = _frames(signal, sr, 0.025, 0.010)
    T = frames.shape[0]
    n_fft = _n_fft(win)
    power = dsp.power_spectrum(frames, n_fft, dsp.window("hamming", win))     # (T, n_fft/2+1)
    fb = dsp.mel_filterbank(sr, n_fft, 26, htk=True, norm=None)              # (26, n_fft/2+1)
    cc = dsp.mfcc(dsp.power_to_db(power @ fb.T), 13)[:, 1:]                  # (T, 12)
    f0, voicing = _yin_centred(x, sr, win, hop, T)
    feats = np.column_stack([f0, voicing, dsp.log_energy(frames), dsp.zero_crossing_rate(frames), cc])
    out, names = _with_deltas(feats, MIRSAMADI_NAMES)
    info = {"pitch": "yin", "mfcc": "numpy", "window_samples": win, "hop_samples": hop,
            "n_fft": n_fft, "n_mels": 26, "pitch_fmin": PITCH["fmin"], "pitch_fmax": PITCH["fmax"],
            "pitch_threshold": PITCH["threshold"], "delta_width": DELTA_WIDTH}
    return Frames(out, names, sr / hop, info)


# --------------------------------------------------------------------------- raw spectrum


SPECTRAL_NAMES = tuple(f"spec_{k}" for k in range(257))


def spectral257(signal: np.ndarray, sr: int, *, log: bool = False) -> Frames:
    """Mirsamadi et al. 2017, section 3: "257-dimensional magnitude FFT vectors", 25 ms / 10 ms.

    ``|rfft(hamming * frame, 512)|`` (the paper names no window; Hamming as for the LLDs): bin ``k``
    (``spec_k``) is ``k * sr / 512`` Hz. Linear magnitude, as the paper says; ``log=True`` gives
    ``20 log10(max(|X|, 1e-5))`` dB instead. ``T = 1 + (N - win) // hop``. A 25 ms window must fit
    the 512-point FFT, so ``sr`` must be at most about 20.5 kHz (resample first otherwise).
    """
    sr = _rate(sr)
    x, frames, win, hop = _frames(signal, sr, 0.025, 0.010)
    if win > 512:
        raise ValueError(f"spectral257: a 25 ms window at {sr} Hz is {win} samples, more than the "
                         f"512-point FFT; resample to 16 kHz first")
    mag = dsp.magnitude_spectrum(frames, 512, dsp.window("hamming", win))    # (T, 257)
    if log:
        mag = dsp.power_to_db(mag * mag)
    info = {"window": "hamming", "window_samples": win, "hop_samples": hop, "n_fft": 512,
            "scale": "db" if log else "magnitude"}
    return Frames(mag.astype(np.float32), SPECTRAL_NAMES, sr / hop, info)
