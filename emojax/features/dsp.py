"""Frame-level signal processing in plain numpy, vectorised over frames (no loop over frames).

Conventions shared by every function here:

- a signal is a 1-D float array; a frame matrix is ``(T, L)``, one row per frame; spectra are
  ``(T, n_fft // 2 + 1)`` and descriptors ``(T,)`` or ``(T, K)``: time first, as in `Frames`.
- ``frame(x, win, hop)`` (no centring) gives ``T = 1 + (N - win) // hop`` frames, frame ``t``
  covering samples ``[t * hop, t * hop + win)`` and centred at ``(t * hop + win / 2) / sr`` s;
  ``center=True`` first pads ``win // 2`` samples on both sides (librosa's convention), giving
  ``T = 1 + N // hop`` frames with frame ``t`` centred on sample ``t * hop``.
- logs of powers are ``power_to_db``: ``10 log10(max(S, 1e-10))`` with ``ref=1`` and no ``top_db``
  clipping (librosa's default ``top_db=80`` clips to the utterance's maximum, which makes a frame
  depend on the rest of the utterance).

Each function that has a librosa counterpart says which call it equals; ``tests/test_descriptors.py``
checks every one against librosa (keyword arguments only) or a naive loop. librosa is never
imported here.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "n_frames", "frame", "window", "power_spectrum", "magnitude_spectrum",
    "hz_to_mel", "mel_to_hz", "mel_filterbank", "power_to_db", "dct_matrix", "mfcc",
    "rms", "log_energy", "zero_crossing_rate", "deltas",
    "difference", "cmnd", "yin", "yin_from_frames",
]

AMIN = 1e-10          # power floor of every log: -100 dB, far below 16-bit quantisation noise


# --------------------------------------------------------------------------- framing


def n_frames(n: int, win: int, hop: int, *, center: bool = False) -> int:
    """Number of frames of an ``n``-sample signal: ``1 + (n - win) // hop``, or ``1 + n // hop``
    centred; 0 when the (padded) signal is shorter than one window."""
    if center:
        n = n + 2 * (win // 2)
    return 0 if n < win else 1 + (n - win) // hop


def frame(signal: np.ndarray, win: int, hop: int, *, center: bool = False,
          pad_mode: str = "constant") -> np.ndarray:
    """Frames ``(T, win)`` of a 1-D signal: a strided read-only view (a copy only when centred).

    Equals ``librosa.util.frame(x, frame_length=win, hop_length=hop).T``; ``center=True`` pads
    ``win // 2`` samples each side with ``np.pad(mode=pad_mode)`` first, as ``librosa.stft`` does.
    A signal shorter than one window raises ValueError.
    """
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"frame expects a 1-D signal; got shape {x.shape}")
    if win < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1 sample; got win={win}, hop={hop}")
    if center:
        x = np.pad(x, win // 2, mode=pad_mode)
    if x.shape[0] < win:
        raise ValueError(f"signal of {x.shape[0]} samples is shorter than one {win}-sample window")
    return np.lib.stride_tricks.sliding_window_view(x, win)[::hop]


def window(name: str, n: int, *, periodic: bool = True) -> np.ndarray:
    """A length-``n`` window: ``"hamming"``, ``"hann"`` or ``"rect"``.

    ``periodic=True`` is the DFT-even form (``scipy.signal.get_window(name, n, fftbins=True)``, what
    librosa uses); ``periodic=False`` the symmetric one.
    """
    if name in ("rect", "boxcar", "ones"):
        return np.ones(n)
    coef = {"hann": 0.5, "hamming": 0.54}.get(name)
    if coef is None:
        raise ValueError(f"unknown window {name!r}; known: hamming, hann, rect")
    if n == 1:
        return np.ones(1)
    m = n if periodic else n - 1
    return coef - (1.0 - coef) * np.cos(2.0 * np.pi * np.arange(n) / m)


def magnitude_spectrum(frames: np.ndarray, n_fft: int, win: np.ndarray | None = None) -> np.ndarray:
    """``|rfft(frames * win, n_fft)|``: ``(T, L) -> (T, n_fft // 2 + 1)``; frames shorter than
    ``n_fft`` are zero-padded at the end (the magnitude equals librosa's centred padding: a circular
    shift changes only the phase)."""
    if frames.shape[-1] > n_fft:
        raise ValueError(f"{frames.shape[-1]}-sample frames do not fit a {n_fft}-point FFT")
    x = frames if win is None else frames * win
    return np.abs(np.fft.rfft(x, n=n_fft, axis=-1))


def power_spectrum(frames: np.ndarray, n_fft: int, win: np.ndarray | None = None) -> np.ndarray:
    """``|rfft(frames * win, n_fft)|^2``: ``(T, L) -> (T, n_fft // 2 + 1)``; equals
    ``np.abs(librosa.stft(..., center=False)) ** 2`` on the same frames."""
    if frames.shape[-1] > n_fft:
        raise ValueError(f"{frames.shape[-1]}-sample frames do not fit a {n_fft}-point FFT")
    X = np.fft.rfft(frames if win is None else frames * win, n=n_fft, axis=-1)
    return X.real ** 2 + X.imag ** 2


# --------------------------------------------------------------------------- mel and cepstrum


def hz_to_mel(f, *, htk: bool = False):
    """Hz -> mel. ``htk=True``: ``2595 log10(1 + f / 700)``; else Slaney's Auditory Toolbox scale
    (linear ``3 f / 200`` below 1 kHz, logarithmic above), as ``librosa.hz_to_mel``."""
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep,
                    f / f_sp)


def mel_to_hz(m, *, htk: bool = False):
    """mel -> Hz, the inverse of `hz_to_mel` (``librosa.mel_to_hz``)."""
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: float, n_fft: int, n_mels: int, *, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False,
                   norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)``, float64.

    Equals ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
    norm=norm, dtype=np.float64)``: ``n_mels + 2`` edges equally spaced in mel between ``fmin`` and
    ``fmax`` (default ``sr / 2``); filter ``i`` rises linearly in Hz from edge ``i`` to ``i + 1`` and
    falls to ``i + 2``. ``norm="slaney"`` scales each to unit area (``2 / (f[i+2] - f[i])``),
    ``None`` leaves peak 1 (HTK).
    """
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None; got {norm!r}")
    fmax = sr / 2.0 if fmax is None else float(fmax)
    fft_hz = np.arange(n_fft // 2 + 1) * (sr / n_fft)                     # (F,)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels + 2),
                      htk=htk)                                            # (M + 2,)
    ramps = edges[:, None] - fft_hz[None, :]                              # (M + 2, F)
    width = np.diff(edges)                                                # (M + 1,)
    lower = -ramps[:-2] / width[:-1, None]
    upper = ramps[2:] / width[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))                   # (M, F)
    if norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


def power_to_db(S: np.ndarray, amin: float = AMIN) -> np.ndarray:
    """``10 log10(max(S, amin))``; equals ``librosa.power_to_db(S, ref=1.0, amin=amin, top_db=None)``."""
    return 10.0 * np.log10(np.maximum(S, amin))


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``(n_out, n_in)``: ``C[k, m] = s_k cos(pi k (2 m + 1) / (2 n_in))``,
    ``s_0 = sqrt(1 / n_in)``, ``s_k = sqrt(2 / n_in)`` (``scipy.fft.dct(type=2, norm="ortho")``)."""
    k = np.arange(n_out)[:, None]
    m = np.arange(n_in)[None, :]
    C = np.cos(np.pi * k * (2 * m + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    C[0] /= np.sqrt(2.0)
    return C


def mfcc(log_mel: np.ndarray, n_mfcc: int) -> np.ndarray:
    """Cepstra ``(T, M) -> (T, n_mfcc)`` of log mel energies (dB, `power_to_db`), coefficient 0
    first: equals ``librosa.feature.mfcc(S=librosa.power_to_db(S_mel, top_db=None), n_mfcc=n_mfcc,
    dct_type=2, norm="ortho", lifter=0).T`` for ``S_mel = (mel_filterbank @ power.T)``."""
    return log_mel @ dct_matrix(n_mfcc, log_mel.shape[-1]).T


# --------------------------------------------------------------------------- energy, ZCR, deltas


def rms(frames: np.ndarray) -> np.ndarray:
    """Root mean square of each (unwindowed) frame ``(T, L) -> (T,)``; equals
    ``librosa.feature.rms(y=x, frame_length=L, hop_length=hop, center=False)[0]``."""
    return np.sqrt(np.einsum("tl,tl->t", frames, frames) / frames.shape[-1])


def log_energy(frames: np.ndarray, amin: float = AMIN) -> np.ndarray:
    """Frame power in dB re full scale: ``10 log10(max(mean(x^2), amin))`` ``(T, L) -> (T,)``
    (= ``20 log10 rms``; a full-scale sine is -3 dB, digital silence -100 dB)."""
    return power_to_db(np.einsum("tl,tl->t", frames, frames) / frames.shape[-1], amin)


def zero_crossing_rate(frames: np.ndarray, threshold: float = 1e-10) -> np.ndarray:
    """Sign changes between neighbouring samples of each frame, divided by the frame length
    ``(T, L) -> (T,)``. Samples with ``|x| <= threshold`` count as positive zeros. Equals
    ``librosa.feature.zero_crossing_rate(y=x, frame_length=L, hop_length=hop, center=False)[0]``."""
    neg = (frames < 0) & (np.abs(frames) > threshold)                     # signbit after zeroing
    return np.count_nonzero(neg[:, 1:] != neg[:, :-1], axis=-1) / frames.shape[-1]


def deltas(x: np.ndarray, width: int = 9) -> np.ndarray:
    """Regression deltas along time, ``(T, D) -> (T, D)`` (or ``(T,) -> (T,)``).

    ``d_t = sum_{n=1}^{N} n (x_{t+n} - x_{t-n}) / (2 sum_{n=1}^{N} n^2)`` with ``N = width // 2``
    (the least-squares slope over ``width`` frames). The first and last ``N`` frames take the slope
    of the line fitted to the first / last ``width`` frames, which equals
    ``librosa.feature.delta(x.T, width=width, order=1, mode="interp").T`` (the Savitzky-Golay
    ``interp`` edges). librosa refuses ``T < width``; here every frame then gets the slope of the
    line through all ``T`` frames (0 for ``T = 1``).
    """
    if width < 3 or width % 2 == 0:
        raise ValueError(f"delta width must be odd and >= 3; got {width}")
    x = np.asarray(x, dtype=np.float64)
    T, half = x.shape[0], width // 2
    if T < width:                                                         # one line through all
        j = np.arange(T) - (T - 1) / 2.0
        denom = float(j @ j)
        slope = np.tensordot(j, x, axes=(0, 0)) / denom if denom > 0 else np.zeros(x.shape[1:])
        return np.broadcast_to(slope, x.shape).copy()
    denom = 2.0 * sum(n * n for n in range(1, half + 1))
    inner = sum(n * (x[half + n:T - half + n] - x[half - n:T - half - n])
                for n in range(1, half + 1)) / denom                      # (T - 2N, D), loop over n
    return np.concatenate([np.repeat(inner[:1], half, axis=0), inner,
                           np.repeat(inner[-1:], half, axis=0)], axis=0)


# --------------------------------------------------------------------------- YIN pitch


def _fast_len(n: int) -> int:
    """Smallest 5-smooth integer >= n (a fast FFT size)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _frame_energies(frames: np.ndarray, P: int):
    """(E, head, tail) of each frame: E (T, 1) the energy, head[:, tau] (T, P+1) the energy of the
    first tau samples, tail[:, tau] of the last tau (cumulative sums over the frame matrix)."""
    T, L = frames.shape
    head = np.zeros((T, P + 1))
    np.cumsum(np.square(frames[:, :P]), axis=-1, out=head[:, 1:])
    tail = np.zeros((T, P + 1))
    np.cumsum(np.square(frames[:, :L - P - 1:-1]), axis=-1, out=tail[:, 1:])
    return np.einsum("tl,tl->t", frames, frames)[:, None], head, tail


def _signal_energies(x: np.ndarray, L: int, hop: int, P: int):
    """`_frame_energies` of ``frame(x, L, hop)`` from one prefix sum over the signal: O(N), not
    O(T P) (float64 prefix sums lose ~1e-16 of the utterance's energy: far below the -100 dB floor)."""
    c = np.zeros(x.shape[0] + 1)
    np.cumsum(x * x, out=c[1:])
    V = np.lib.stride_tricks.sliding_window_view(c, L + 1)[::hop]           # V[t, j] = c[t*hop + j]
    head = V[:, :P + 1] - V[:, :1]
    tail = V[:, L:] - V[:, L - P:][:, ::-1]
    return V[:, L:] - V[:, :1], head, tail


def _difference(frames: np.ndarray, P: int, energies) -> np.ndarray:
    T, L = frames.shape
    if not 0 < P < L:
        raise ValueError(f"max_period must be in 1..{L - 1} for {L}-sample frames; got {P}")
    X = np.fft.rfft(frames, n=_fast_len(L + P), axis=-1)
    r = np.fft.irfft(X.real ** 2 + X.imag ** 2, axis=-1)[:, :P + 1]         # (T, P+1)
    total, head, tail = energies
    d = (total - tail) + (total - head) - 2.0 * r
    return np.maximum(d, 0.0, out=d) / (L - np.arange(P + 1))


def difference(frames: np.ndarray, max_period: int) -> np.ndarray:
    """YIN difference function ``(T, L) -> (T, max_period + 1)``, lags 0..max_period:

        d(tau) = 1 / (L - tau) * sum_{m=0}^{L-1-tau} (x_m - x_{m+tau})^2

    the squared difference averaged over the overlap of the frame with itself shifted by ``tau``.
    The overlap pairs are centred on the frame centre for every lag (so f0 is time-stamped like the
    other descriptors) and the ``1 / (L - tau)`` removes the bias towards long lags that the shrinking
    overlap would otherwise give. (De Cheveigné & Kawahara 2002, eq. 6, instead integrate over a
    fixed window and read past it, off centre; librosa 0.11 zero-pads past the frame end.)

    Computed as ``E[0, L-tau) + E[tau, L) - 2 r(tau)`` with the autocorrelation ``r`` from one FFT
    of the frame matrix (zero-padded to ``>= L + max_period``: no circular wrap) and the partial
    energies ``E`` as the frame energy less cumulative sums over its first / last ``max_period``
    samples.
    """
    return _difference(frames, max_period, _frame_energies(frames, max_period))


def _cmnd(d: np.ndarray) -> np.ndarray:
    out = np.ones_like(d)
    mean = np.cumsum(d[:, 1:], axis=-1) / np.arange(1, d.shape[1])
    np.divide(d[:, 1:], mean, out=out[:, 1:], where=mean > 0)
    return out


def cmnd(frames: np.ndarray, max_period: int) -> np.ndarray:
    """Cumulative mean normalised difference ``(T, L) -> (T, max_period + 1)`` (YIN eq. 8):
    ``d'(0) = 1``, ``d'(tau) = d(tau) / ((1 / tau) sum_{j=1}^{tau} d(j))``; 1 where the running
    mean is 0 (a silent frame)."""
    return _cmnd(difference(frames, max_period))


def _periods(sr: float, fmin: float, fmax: float, L: int) -> tuple[int, int]:
    min_period = max(1, int(np.floor(sr / fmax)))
    max_period = int(np.ceil(sr / fmin))
    if max_period >= L:
        raise ValueError(f"fmin={fmin} Hz has a {max_period}-sample period; frames of {L} samples "
                         f"must be longer (raise fmin or the frame length)")
    if min_period + 2 > max_period:
        raise ValueError(f"fmin={fmin} Hz and fmax={fmax} Hz leave fewer than 3 lags at sr={sr}")
    return min_period, max_period


def yin_from_frames(frames: np.ndarray, sr: float, fmin: float, fmax: float,
                    threshold: float = 0.1, silence_db: float = -100.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """YIN on a frame matrix ``(T, L)``: returns ``(f0, periodicity)``, both ``(T,)``.

    Lags run over ``[floor(sr / fmax), ceil(sr / fmin)]`` (as ``librosa.yin``). The period is the
    first local minimum of the CMND below ``threshold``, refined by parabolic interpolation; ``f0 =
    sr / period``. A frame with no such minimum, or quieter than ``silence_db`` (mean power, dB re
    full scale), is unvoiced: ``f0 = 0`` (librosa instead falls back to the global minimum and never
    says unvoiced). ``periodicity = clip(1 - min_tau CMND, 0, 1)`` over the same lags, 0 for silent
    frames: the voicing probability.
    """
    _, P = _periods(sr, fmin, fmax, frames.shape[1])
    return _yin(frames, sr, fmin, fmax, threshold, silence_db, _frame_energies(frames, P))


def _yin(frames, sr, fmin, fmax, threshold, silence_db, energies):
    T, L = frames.shape
    min_period, max_period = _periods(sr, fmin, fmax, L)
    y = _cmnd(_difference(frames, max_period, energies))[:, min_period:]  # (T, K) lags minp..maxp
    # local minima as librosa.util.localmin: strictly below the left neighbour, <= the right one
    trough = np.zeros(y.shape, dtype=bool)
    trough[:, 1:-1] = (y[:, 1:-1] < y[:, :-2]) & (y[:, 1:-1] <= y[:, 2:])
    trough[:, 0] = y[:, 0] < y[:, 1]
    trough[:, -1] = y[:, -1] < y[:, -2]
    below = trough & (y < threshold)
    idx = np.argmax(below, axis=-1)                                        # first trough below
    voiced = below[np.arange(T), idx]
    # parabolic refinement at the chosen lag (0 at the lag range's ends or when it would jump a bin)
    i = np.clip(idx, 1, y.shape[1] - 2)
    left, mid, right = (np.take_along_axis(y, (i + k)[:, None], axis=-1)[:, 0] for k in (-1, 0, 1))
    a = right + left - 2.0 * mid
    b = (right - left) / 2.0
    shift = np.zeros(T)
    ok = (np.abs(b) < np.abs(a)) & (idx == i)
    np.divide(-b, a, out=shift, where=ok)
    period = min_period + idx + shift
    loud = power_to_db(energies[0][:, 0] / L) > silence_db
    voiced &= loud
    f0 = np.where(voiced, sr / period, 0.0)
    periodicity = np.where(loud, np.clip(1.0 - y.min(axis=-1), 0.0, 1.0), 0.0)
    return f0, periodicity


def yin(signal: np.ndarray, sr: float, frame_length: int, hop: int, fmin: float, fmax: float,
        threshold: float = 0.1, *, center: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """YIN pitch of a 1-D signal: ``(f0, periodicity)``, each ``(T,)`` with ``T`` from `n_frames`.

    ``f0`` in Hz, 0 where unvoiced; see `yin_from_frames` and `difference` for the definitions
    (the same numbers, with the frames' partial energies taken from one prefix sum over the signal).
    ``center=True`` zero-pads as ``librosa.yin(..., center=True, pad_mode="constant")``.
    """
    x = np.asarray(signal, dtype=np.float64)
    if center:
        x = np.pad(x, frame_length // 2)
    frames = frame(x, frame_length, hop)
    _, P = _periods(sr, fmin, fmax, frame_length)
    return _yin(frames, sr, fmin, fmax, threshold, -100.0, _signal_energies(x, frame_length, hop, P))
