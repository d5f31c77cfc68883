"""Reading audio: every kind of bad file gets one message naming the file and what is wrong."""
import wave

import numpy as np
import pytest

from emojax.features.audio import AudioError, read_audio, write_wav


def _pcm(path, x, sr=16000, channels=1, width=2):
    x = np.asarray(x, np.float64).reshape(-1, channels)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        if width == 2:
            w.writeframes(np.round(x * 32767).astype("<i2").tobytes())
        else:
            w.writeframes(np.round(x * (2 ** 31 - 1)).astype("<i4").tobytes())


def test_round_trip_16_and_32_bit(tmp_path):
    x = 0.5 * np.sin(np.linspace(0, 60, 1600))
    write_wav(tmp_path / "a.wav", x, 16000)
    y, sr = read_audio(tmp_path / "a.wav", sr=16000)
    assert sr == 16000 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1 / 32767)
    _pcm(tmp_path / "b.wav", x, width=4)
    np.testing.assert_allclose(read_audio(tmp_path / "b.wav")[0], x, atol=1e-8)


@pytest.mark.parametrize("case, reason", [
    ("missing", "missing"), ("empty_file", "empty"), ("no_samples", "empty"),
    ("garbage", "unreadable"), ("stereo", "channels"), ("rate", "sample_rate"),
    ("short", "too_short")])
def test_bad_files_name_the_file_and_the_reason(tmp_path, case, reason):
    p = tmp_path / f"{case}.wav"
    if case == "empty_file":
        p.write_bytes(b"")
    elif case == "no_samples":
        _pcm(p, np.zeros(0))
    elif case == "garbage":
        p.write_bytes(b"this is not a wav file at all" * 10)
    elif case == "stereo":
        _pcm(p, np.zeros(3200), channels=2)
    elif case == "rate":
        _pcm(p, np.zeros(3200), sr=44100)
    elif case == "short":
        _pcm(p, np.zeros(100))
    with pytest.raises(AudioError) as e:
        read_audio(p, sr=16000, min_samples=800)
    assert e.value.reason == reason
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_nan_samples_in_a_float_wav(tmp_path):
    sf = pytest.importorskip("soundfile")
    x = np.zeros(2000, np.float32)
    x[700] = np.nan
    sf.write(tmp_path / "f.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN/inf samples \\(first at sample 700\\)") as e:
        read_audio(tmp_path / "f.wav")
    assert e.value.reason == "nonfinite"


def test_channel_choice_and_resampling(tmp_path):
    x = np.stack([np.full(3200, 0.25), np.full(3200, -0.5)], 1)
    _pcm(tmp_path / "s.wav", x.ravel(), channels=2)
    np.testing.assert_allclose(read_audio(tmp_path / "s.wav", channel=1)[0], -0.5, atol=1e-4)
    t = np.arange(8000) / 8000
    _pcm(tmp_path / "r.wav", 0.5 * np.sin(2 * np.pi * 440 * t), sr=8000)
    y, sr = read_audio(tmp_path / "r.wav", sr=16000, resample=True)
    assert sr == 16000 and y.size == 16000
    f = np.fft.rfftfreq(y.size, 1 / sr)[np.abs(np.fft.rfft(y)).argmax()]
    assert abs(f - 440) < 2
