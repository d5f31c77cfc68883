"""The named feature sets: lookup, optional extras named when missing, openSMILE where installed."""
import numpy as np
import pytest

from emojax.features import sets


def test_unknown_set_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown feature set 'nope'; known: .*woellmer2012"):
        sets.info("nope")


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sets.SETS, "needs_x", sets.SetInfo("x:y", 0.02, 0.01, "test",
                                                           requires="surely_not_a_module_x",
                                                           licence="some licence"))
    with pytest.raises(ImportError, match="surely_not_a_module_x.*some licence"):
        sets.function("needs_x")


@pytest.mark.parametrize("name, lld, fun", [("egemaps", 25, 88), ("compare2016", 65, 6373)])
def test_opensmile_sets(name, lld, fun):
    pytest.importorskip("opensmile")
    t = np.arange(16000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))
    fr = sets.extract(name, x, 16000)
    assert fr.frames.shape[1] == lld == len(fr.names) and fr.rate == 100.0
    assert abs(fr.frames.shape[0] - 100) <= 6 and "non-commercial" in fr.info["licence"]
    f = sets.extract(name, x, 16000, level="functionals")
    assert f.frames.shape == (1, fun)
