"""Reading audio for feature extraction, with one clear message for every kind of bad file.

`read_audio(path, sr=..., min_samples=...)` returns a mono float64 signal in [-1, 1) or raises
`AudioError`, whose message names the file and what is wrong with it:

- unreadable (not a RIFF/WAVE file, truncated header, an encoding neither `wave` nor soundfile reads)
- empty (0 samples) or shorter than one analysis window
- more than one channel (IEMOCAP's *dialog* wavs are 2-channel: pick ``channel=`` explicitly)
- another sample rate than the corpus's (``resample=True`` converts with a polyphase filter)
- NaN or infinite samples (float WAVs)

PCM WAV (8/16/24/32-bit) is read with the standard library; other formats (float WAV, FLAC, OGG)
through soundfile when it is installed.
"""
from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np


class AudioError(ValueError):
    """A file that cannot be used, with the reason; ``reason`` is a short code for reports."""

    def __init__(self, path, reason: str, detail: str):
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {detail}")


def _read_pcm(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        ch, width, sr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = w.readframes(n)
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)
    else:
        raise wave.Error(f"{8 * width}-bit PCM")
    usable = (x.size // ch) * ch
    return x[:usable].reshape(-1, ch), sr


def _read_any(path: Path) -> tuple[np.ndarray, int]:
    try:
        return _read_pcm(path)
    except (wave.Error, EOFError) as e:
        pcm_error = e
    try:
        import soundfile
    except ImportError:
        raise AudioError(path, "unreadable", f"not a PCM WAV file ({pcm_error}); install soundfile "
                         "to read other formats") from None
    try:
        x, sr = soundfile.read(str(path), dtype="float64", always_2d=True)
    except Exception as e:  # soundfile raises its own LibsndfileError and RuntimeError
        raise AudioError(path, "unreadable", f"cannot read audio ({pcm_error}; soundfile: {e})") from None
    return x, int(sr)


def read_audio(path, *, sr: int | None = None, channel: int | None = None, resample: bool = False,
               min_samples: int = 1) -> tuple[np.ndarray, int]:
    """(signal (N,) float64, sample rate) of one audio file, checked.

    sr: the rate the caller expects (None: any); a file at another rate raises unless `resample`.
    channel: which channel of a multi-channel file to use (None: the file must be mono).
    min_samples: e.g. one analysis window; shorter files raise AudioError("too_short").
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "missing", "no such file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty", "the file is empty (0 bytes)")
    x, file_sr = _read_any(path)
    if x.shape[1] > 1 and channel is None:
        raise AudioError(path, "channels", f"{x.shape[1]} channels; emojax expects mono "
                         "(pass channel=0 or 1 to use one)")
    if channel is not None and not 0 <= channel < x.shape[1]:
        raise AudioError(path, "channels", f"channel {channel} requested; the file has {x.shape[1]}")
    x = x[:, 0 if channel is None else channel]
    if x.size == 0:
        raise AudioError(path, "empty", "no samples")
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x))
        raise AudioError(path, "nonfinite", f"{bad.size} NaN/inf samples (first at sample {bad[0]})")
    if sr is not None and file_sr != sr:
        if not resample:
            raise AudioError(path, "sample_rate", f"sample rate {file_sr} Hz; expected {sr} Hz "
                             "(resample the corpus, or allow resampling)")
        from scipy.signal import resample_poly
        g = gcd(sr, file_sr)
        x, file_sr = resample_poly(x, sr // g, file_sr // g), sr
    if x.size < min_samples:
        raise AudioError(path, "too_short", f"{x.size} samples ({x.size / file_sr * 1000:.1f} ms) is "
                         f"shorter than one analysis window ({min_samples} samples)")
    return x, file_sr


def write_wav(path, signal: np.ndarray, sr: int) -> None:
    """A 16-bit PCM WAV (mono (N,) or channels-last (N, C)), written atomically."""
    import os
    path = Path(path)
    x = np.asarray(signal, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sr))
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)
