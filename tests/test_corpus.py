"""The utterance record carries frames, audio paths, transcripts and modality tracks."""
import numpy as np
import pytest

from emojax.data.corpus import Corpus
from emojax.features.normalise import zscore_apply, zscore_fit


def tiny(n=4, **kw):
    rng = np.random.default_rng(0)
    base = dict(name="t", features=np.zeros((n, 0), np.float32), feature_names=(),
                utterance_id=np.array([f"u{i}" for i in range(n)]), session=np.array(["s"] * n),
                dialog=np.array(["d"] * n), speaker=np.array(["A", "A", "B", "B"][:n]),
                turn=np.arange(n))
    base.update(frames=tuple(rng.normal(size=(5 + i, 3)) for i in range(n)), frame_names=("a", "b", "c"),
                frame_rate=100.0, wav=np.array([f"w{i}.wav" for i in range(n)]),
                transcript=np.array(["hi"] * n), tracks={"mocap": tuple(np.ones((2 + i, 6)) for i in range(n))})
    base.update(kw)
    return Corpus(**base)


def test_subset_slices_every_kind_alike():
    c = tiny()
    s = c.subset(np.array([3, 1]))
    assert [f.shape[0] for f in s.frames] == [8, 6] and s.wav.tolist() == ["w3.wav", "w1.wav"]
    assert [t.shape[0] for t in s.tracks["mocap"]] == [5, 3]
    b = c.subset(np.array([False, True, False, True]))
    assert b.utterance_id.tolist() == ["u1", "u3"] and len(b.frames) == 2
    assert c.kinds == ("frames", "audio", "text", "mocap")


def test_inconsistent_records_are_refused():
    with pytest.raises(ValueError, match="frames has 3 utterances, expected 4"):
        tiny(frames=tuple(np.ones((2, 3)) for _ in range(3)))
    with pytest.raises(ValueError, match="one D"):
        tiny(tracks={"mocap": (np.ones((2, 6)), np.ones((2, 5)), np.ones((2, 6)), np.ones((2, 6)))})
    with pytest.raises(ValueError, match="column 'wav'"):
        tiny(wav=np.array(["a"]))


def test_zscore_uses_training_rows_only():
    x = np.array([[0.0, 5.0], [2.0, 5.0], [100.0, 7.0]])
    mu, sd = zscore_fit(x[:2])
    np.testing.assert_allclose(mu, [1.0, 5.0])
    np.testing.assert_allclose(sd, [1.0, 1.0])            # a constant column keeps std 1
    z = zscore_apply(x, mu, sd)
    assert z.dtype == np.float32 and z[2, 0] == 99.0
