"""Named frame-descriptor sets: the one place that says which function computes a set.

Every set is a function ``(signal, sr, **options) -> Frames`` over one mono float signal; the
function lives in its own module and is imported only when the set is used (`import emojax` stays
light). `extract(name, signal, sr)` is the entry point; `SETS` lists what exists.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, NamedTuple

import numpy as np


class Frames(NamedTuple):
    """Frame descriptors of one signal.

    frames: (T, D) float32, one row per frame; names: the D descriptor names; rate: frames/s;
    info: how they were computed (e.g. ``{"pitch": "praat"}``), written into run.json.
    """
    frames: np.ndarray
    names: tuple[str, ...]
    rate: float
    info: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SetInfo:
    """What a set is: its function (``module:function``), window and hop in seconds, options."""
    function: str
    window_s: float
    hop_s: float
    doc: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    requires: str | None = None          # an optional extra the set needs (import name)
    licence: str | None = None
    integer_pcm: bool = False            # a corpus run hands it 16-bit integers (as its tool reads files)


SETS: dict[str, SetInfo] = {
    "woellmer2012": SetInfo(
        "emojax.features.descriptors:woellmer2012", 0.050, 0.025,
        "Wöllmer 2012: 12 MFCC, 27 mel-band energies, F0, energy, + deltas (82); pitch and MFCC from "
        "Praat where praat-parselmouth is installed, else librosa-compatible numpy"),
    "mirsamadi2017": SetInfo(
        "emojax.features.descriptors:mirsamadi2017", 0.025, 0.010,
        "Mirsamadi 2017: F0, voicing probability, energy, ZCR, 12 MFCC, + deltas (32)"),
    "spectral257": SetInfo(
        "emojax.features.descriptors:spectral257", 0.025, 0.010,
        "Mirsamadi 2017: the 257-bin magnitude spectrum of a 512-point FFT"),
    "chernykh2018": SetInfo(
        "emojax.features.pyaa:chernykh2018", 0.200, 0.100,
        "Chernykh 2018: the 34 pyAudioAnalysis short-term features; mode=compat matches "
        "pyAudioAnalysis 0.3.14 quirks included, mode=fixed corrects them; a corpus run hands it "
        "16-bit integers, as pyAudioAnalysis's own reader does",
        options={"mode": "compat"}, integer_pcm=True),
    "egemaps": SetInfo(
        "emojax.features.smile:egemaps", 0.020, 0.010,
        "eGeMAPS v02 through openSMILE: 25 LLDs (level=lld) or its 88 functionals "
        "(level=functionals)", options={"level": "lld"}, requires="opensmile",
        licence="openSMILE research licence, non-commercial"),
    "compare2016": SetInfo(
        "emojax.features.smile:compare2016", 0.060, 0.010,
        "ComParE 2016 through openSMILE: 65 LLDs (level=lld) or its 6,373 functionals "
        "(level=functionals)", options={"level": "lld"}, requires="opensmile",
        licence="openSMILE research licence, non-commercial"),
}


def info(name: str) -> SetInfo:
    if name not in SETS:
        raise ValueError(f"unknown feature set {name!r}; known: {', '.join(sorted(SETS))}")
    return SETS[name]


def function(name: str):
    """The set's function (imported on first use); a missing optional extra is named."""
    s = info(name)
    if s.requires:
        try:
            importlib.import_module(s.requires)
        except ImportError:
            raise ImportError(f"feature set {name!r} needs the optional package {s.requires!r}"
                              f"{' (licence: ' + s.licence + ')' if s.licence else ''}") from None
    mod, _, fn = s.function.partition(":")
    return getattr(importlib.import_module(mod), fn)


def extract(name: str, signal: np.ndarray, sr: int, **options) -> Frames:
    """Descriptors of set `name` for one mono signal at `sr` Hz (options override the set's)."""
    return function(name)(np.asarray(signal), int(sr), **{**info(name).options, **options})
