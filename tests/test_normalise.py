"""Normalisation is fitted on training rows only: global, per speaker, neutral speech."""
import numpy as np
import pytest

from emojax.features import normalise as N


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    speakers = np.repeat(["A", "B", "C", "D"], 25)          # D is the test speaker
    offset = {"A": 0.0, "B": 5.0, "C": -3.0, "D": 10.0}
    scale = {"A": 1.0, "B": 2.0, "C": 0.5, "D": 3.0}
    x = np.stack([rng.normal(offset[s], scale[s], size=3) for s in speakers])
    labels = np.tile(["neu", "ang", "sad", "neu", "hap"], 20)
    labels[speakers == "C"] = "ang"                         # C has no neutral training speech
    train = speakers != "D"
    return x, speakers, labels, train


def stats_equal(a: N.Stats, b: N.Stats):
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    assert a.speakers == b.speakers
    if a.speakers:
        np.testing.assert_array_equal(a.speaker_mean, b.speaker_mean)
        np.testing.assert_array_equal(a.speaker_std, b.speaker_std)


@pytest.mark.parametrize("kind", N.KINDS)
def test_changing_test_rows_never_changes_the_stats(data, kind):
    x, spk, labels, train = data
    s1 = N.fit(kind, x, spk, train_mask=train, labels=labels)
    x2, labels2 = x.copy(), labels.copy()
    x2[~train] = 1e6 * np.random.default_rng(1).normal(size=x2[~train].shape)
    labels2[~train] = "neu"
    s2 = N.fit(kind, x2, spk, train_mask=train, labels=labels2)
    stats_equal(s1, s2)
    assert "D" not in s1.speakers


def test_global_is_zscore_of_the_training_rows(data):
    x, spk, _, train = data
    mu, sd = N.zscore_fit(x[train])
    s = N.fit("global", x, spk, train_mask=train)
    np.testing.assert_allclose(s.mean, mu)
    np.testing.assert_allclose(s.std, sd)
    np.testing.assert_allclose(N.apply(s, x, spk), N.zscore_apply(x, mu, sd), rtol=1e-6)


def test_per_speaker_uses_each_speakers_own_statistics(data):
    x, spk, _, train = data
    s = N.fit("per_speaker", x, spk, train_mask=train)
    z = N.apply(s, x, spk)
    assert z.dtype == np.float32
    for who in "ABCD":                                       # D: its own rows, unsupervised
        at = spk == who
        np.testing.assert_allclose(z[at], (x[at] - x[at].mean(0)) / x[at].std(0), rtol=1e-5,
                                   atol=1e-5)
    # a training speaker's statistics come from its training rows only
    half = train & (np.arange(len(spk)) % 2 == 0)
    s_half = N.fit("per_speaker", x, spk, train_mask=half)
    at = (spk == "A") & half
    np.testing.assert_allclose(s_half.lookup("A")[0], x[at].mean(0))
    z_half = N.apply(s_half, x, spk)
    np.testing.assert_allclose(z_half[spk == "A"],
                               (x[spk == "A"] - x[at].mean(0)) / x[at].std(0), rtol=1e-5)


def test_neutral_per_speaker_with_global_neutral_fallback(data):
    x, spk, labels, train = data
    s = N.fit("neutral", x, spk, train_mask=train, labels=labels)
    assert s.speakers == ("A", "B")                          # C has no neutral; D is test
    neu = train & (labels == "neu")
    g_mu, g_sd = x[neu].mean(0), x[neu].std(0)
    np.testing.assert_allclose(s.mean, g_mu)
    np.testing.assert_allclose(s.std, g_sd)
    z = N.apply(s, x, spk)
    for who in "AB":
        at, own = spk == who, neu & (spk == who)
        np.testing.assert_allclose(z[at], (x[at] - x[own].mean(0)) / x[own].std(0), rtol=1e-5)
    for who in "CD":                                         # fallback: global neutral
        at = spk == who
        np.testing.assert_allclose(z[at], (x[at] - g_mu) / g_sd, rtol=1e-5)
    sg = N.fit("neutral_global", x, spk, train_mask=train, labels=labels)
    np.testing.assert_allclose(N.apply(sg, x, spk), (x - g_mu) / g_sd, rtol=1e-5)


def test_frame_level_statistics_pool_the_frames():
    rng = np.random.default_rng(2)
    lengths = [5, 17, 3, 40, 8, 11]
    frames = [rng.normal(i, 1 + i, size=(n, 2)) for i, n in enumerate(lengths)]
    spk = np.array(["A", "A", "B", "B", "C", "C"])
    train = np.array([True, True, True, True, False, False])
    s = N.fit("per_speaker", frames, spk, train_mask=train)
    pooled_a = np.concatenate(frames[:2])
    np.testing.assert_allclose(s.lookup("A")[0], pooled_a.mean(0))
    np.testing.assert_array_equal(s.counts, [22, 43])
    out = N.apply(s, frames, spk)
    assert [o.shape for o in out] == [f.shape for f in frames]
    np.testing.assert_allclose(out[1], (frames[1] - pooled_a.mean(0)) / pooled_a.std(0),
                               rtol=1e-5)
    pooled_c = np.concatenate(frames[4:])                    # unseen speaker: its own frames
    np.testing.assert_allclose(out[5], (frames[5] - pooled_c.mean(0)) / pooled_c.std(0),
                               rtol=1e-5)
    g = N.fit("global", frames, spk, train_mask=train)
    np.testing.assert_allclose(g.mean, np.concatenate(frames[:4]).mean(0))


def test_constant_column_gets_std_one(data):
    x, spk, _, train = data
    x = x.copy()
    x[:, 1] = 4.0
    s = N.fit("per_speaker", x, spk, train_mask=train)
    assert np.all(s.speaker_std[:, 1] == 1.0)
    assert np.all(N.apply(s, x, spk)[:, 1] == 0.0)


def test_bad_input_raises(data):
    x, spk, labels, train = data
    with pytest.raises(ValueError, match="global, per_speaker, neutral, neutral_global"):
        N.fit("speaker", x, spk, train_mask=train)
    with pytest.raises(ValueError, match="needs labels"):
        N.fit("neutral", x, spk, train_mask=train)
    with pytest.raises(ValueError, match="no training row is labelled"):
        N.fit("neutral", x, spk, train_mask=train, labels=labels, neutral="calm")
    with pytest.raises(ValueError, match="no training rows"):
        N.fit("global", x, spk, train_mask=np.zeros(len(spk), bool))
    with pytest.raises(ValueError, match="train_mask: expected shape"):
        N.fit("global", x, spk, train_mask=train[:-1])
    s = N.fit("global", x, spk, train_mask=train)
    with pytest.raises(ValueError, match="columns"):
        N.apply(s, x[:, :2], spk)
