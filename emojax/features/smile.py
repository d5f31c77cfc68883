"""The field's standard SER feature sets through openSMILE: eGeMAPS v02 and ComParE 2016.

Needs the optional package ``opensmile`` (opensmile-python, which ships the openSMILE binary:
``pip install opensmile``). **openSMILE's licence is non-commercial** (audEERING's research
licence): it is offered here for research use only, never imported by emojax unless one of these
sets is asked for.

Each set comes at two levels: low-level descriptors per 10 ms frame (``level="lld"``: eGeMAPS 25,
ComParE 65 descriptors; the sets' own windows, 20–60 ms) and openSMILE's own utterance functionals
(``level="functionals"``: eGeMAPS 88, ComParE 6,373 values; one row). emojax's functionals
(`emojax.features.functionals`) can be taken over the LLDs instead; the openSMILE ones are the
published definitions.
"""
from __future__ import annotations

import functools

import numpy as np

from emojax.features.sets import Frames

_SETS = {"egemaps": "eGeMAPSv02", "compare2016": "ComParE_2016"}
HOP_S = 0.010


@functools.lru_cache(maxsize=8)
def _smile(feature_set: str, level: str):
    import opensmile
    lv = {"lld": opensmile.FeatureLevel.LowLevelDescriptors,
          "functionals": opensmile.FeatureLevel.Functionals}
    if level not in lv:
        raise ValueError(f"openSMILE level {level!r}: use 'lld' or 'functionals'")
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, _SETS[feature_set]),
                           feature_level=lv[level])


def _process(name: str, signal: np.ndarray, sr: int, level: str) -> Frames:
    x = np.asarray(signal, np.float32)
    if x.ndim != 1 or not np.isfinite(x).all():
        raise ValueError(f"{name}: expected a finite 1-D signal, got shape {x.shape}")
    smile = _smile(name, level)
    df = smile.process_signal(x, sr)
    rate = 1.0 / HOP_S if level == "lld" else 0.0
    import opensmile
    return Frames(df.to_numpy(np.float32), tuple(df.columns), rate,
                  {"tool": f"opensmile {opensmile.__version__}", "set": _SETS[name], "level": level,
                   "licence": "openSMILE research licence (non-commercial)"})


def egemaps(signal: np.ndarray, sr: int, *, level: str = "lld") -> Frames:
    """eGeMAPS v02 (Eyben et al. 2016): 25 LLDs per 10 ms, or its 88 functionals (one row)."""
    return _process("egemaps", signal, sr, level)


def compare2016(signal: np.ndarray, sr: int, *, level: str = "lld") -> Frames:
    """ComParE 2016 (Schuller et al. 2016): 65 LLDs per 10 ms, or its 6,373 functionals (one row)."""
    return _process("compare2016", signal, sr, level)
