"""`emojax bench --suite features`: the audio front end against its peers, on the same audio.

Input: rendered speech of the embedded corpus (`emojax.data.render`'s source-filter synthesis,
16 kHz sentence wavs), ``AUDIO_S`` seconds cut into ``FILES`` utterance-length signals (``--quick``:
2 signals, 6 s), so per-file costs (FFT plans, Praat objects) are paid as in a corpus run. One call
= every signal.

Cases and rows (each row does the same descriptors over the same files):

- ``features_chernykh2018``: ``emojax`` (`pyaa.chernykh2018`, mode=compat), ``emojax_fixed``,
  ``pyaudioanalysis`` (``ShortTermFeatures.feature_extraction(..., deltas=False)``, 0.3.14).
- ``features_mirsamadi2017``: ``emojax`` (`descriptors.mirsamadi2017`) and ``librosa`` (the
  same descriptors by librosa's own calls: ``yin`` on 50 ms frames, ``zero_crossing_rate``, ``rms``,
  ``melspectrogram`` + ``power_to_db`` + DCT via ``feature.mfcc``, ``feature.delta``).
- ``features_woellmer2012``: ``emojax`` (numpy back end: YIN pitch), ``emojax_praat`` (Praat
  through parselmouth), ``librosa`` (``yin``, ``melspectrogram`` 27 bands, ``mfcc``, ``rms``,
  ``delta``).
- ``features_spectral257``: ``emojax``, ``librosa`` (``abs(stft)``, 512 points).
- ``features_egemaps`` / ``features_compare2016``: ``opensmile`` only (its LLDs).

Every record carries ``realtime_factor`` = seconds of audio / median seconds of compute, and on
the ``emojax`` row ``speedup_vs_<impl>``. Every row runs in this process with one BLAS/OpenMP
thread (`_one_thread`), so the ratios compare the algorithms, not thread counts. Output: ``OUT/features-<device>.json`` and ``.md``.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np

from emojax.bench.timing import prepare_call, time_interleaved
from emojax.runtime import source_commit

SR = 16000
FILES, AUDIO_S = 20, 60.0
QUICK = (2, 6.0)


def speech(n_files: int, seconds: float) -> list[np.ndarray]:
    """`n_files` sentence wavs of the rendered embedded corpus, about `seconds` in all (the first
    files of a small render, cut to length), read as a corpus run reads them."""
    import tempfile

    from emojax.data.render import render_iemocap
    from emojax.data.synthetic import SyntheticParams
    from emojax.features.audio import read_audio
    each = int(seconds / n_files * SR)
    with tempfile.TemporaryDirectory() as tmp:
        render_iemocap(tmp, SyntheticParams(scale=0.01, min_len=15, max_len=15),
                       dialog_wavs=False, mocap_fps=0, progress=False)    # 5 dialogs, ~8 min
        wavs = sorted(Path(tmp).glob("Session*/sentences/wav/*/*.wav"))
        signal = np.concatenate([read_audio(w)[0] for w in wavs])
    if signal.size < n_files * each:
        signal = np.tile(signal, -(-n_files * each // signal.size))
    return [signal[i * each:(i + 1) * each] for i in range(n_files)]


def _librosa():
    import librosa
    return librosa


def _lib_mirsamadi(files):
    lb = _librosa()
    out = []
    for x in files:
        f0 = lb.yin(x, fmin=60.0, fmax=600.0, sr=SR, frame_length=800, hop_length=160, center=True)
        zcr = lb.feature.zero_crossing_rate(x, frame_length=400, hop_length=160, center=False)
        rms = lb.feature.rms(y=x, frame_length=400, hop_length=160, center=False)
        mfcc = lb.feature.mfcc(y=x, sr=SR, n_mfcc=13, n_fft=512, hop_length=160, win_length=400,
                               window="hamming", center=False, n_mels=26, htk=True)
        T = min(zcr.shape[1], rms.shape[1], mfcc.shape[1], f0.size)
        lld = np.concatenate([f0[None, :T], zcr[:, :T], rms[:, :T], mfcc[1:, :T]])
        out.append(np.concatenate([lld, lb.feature.delta(lld, width=5, mode="interp")]))
    return out


def _lib_woellmer(files):
    lb = _librosa()
    out = []
    for x in files:
        f0 = lb.yin(x, fmin=60.0, fmax=600.0, sr=SR, frame_length=800, hop_length=400, center=True)
        mel = lb.feature.melspectrogram(y=x, sr=SR, n_fft=1024, hop_length=400, win_length=800,
                                        window="hamming", center=False, n_mels=27, htk=True,
                                        fmax=7693.0, norm=None)    # 2800 HTK mel, as the set
        db = lb.power_to_db(mel)
        mfcc = lb.feature.mfcc(S=db, n_mfcc=13)
        rms = lb.feature.rms(y=x, frame_length=800, hop_length=400, center=False)
        T = min(f0.size, db.shape[1], rms.shape[1])
        lld = np.concatenate([mfcc[1:, :T], db[:, :T], f0[None, :T], rms[:, :T]])
        out.append(np.concatenate([lld, lb.feature.delta(lld, width=5, mode="interp")]))
    return out


def _lib_spectral(files):
    lb = _librosa()
    return [np.abs(lb.stft(x, n_fft=512, hop_length=160, win_length=400, window="hamming",
                           center=False)) for x in files]


def _ours(set_name, **options):
    from emojax.features import sets
    def run(files):
        return [sets.extract(set_name, x, SR, **options).frames for x in files]
    return run


def _pyaa(files):
    from pyAudioAnalysis import ShortTermFeatures
    return [ShortTermFeatures.feature_extraction(x, SR, int(0.2 * SR), int(0.1 * SR),
                                                 deltas=False)[0] for x in files]


def _smile(set_name):
    def run(files):
        from emojax.features import smile
        return [getattr(smile, set_name)(x, SR).frames for x in files]
    return run


# case -> [(impl, requires (module) or None, function of the file list)]
CASES = {
    "features_chernykh2018": [("emojax", None, _ours("chernykh2018", mode="compat")),
                              ("emojax_fixed", None, _ours("chernykh2018", mode="fixed")),
                              ("pyaudioanalysis", "pyAudioAnalysis", _pyaa)],
    "features_mirsamadi2017": [("emojax", None, _ours("mirsamadi2017")),
                               ("librosa", "librosa", _lib_mirsamadi)],
    "features_woellmer2012": [("emojax", None, _ours("woellmer2012", pitch="yin")),
                              ("emojax_praat", "parselmouth", _ours("woellmer2012", pitch="praat")),
                              ("librosa", "librosa", _lib_woellmer)],
    "features_spectral257": [("emojax", None, _ours("spectral257")),
                             ("librosa", "librosa", _lib_spectral)],
    "features_egemaps": [("opensmile", "opensmile", _smile("egemaps"))],
    "features_compare2016": [("opensmile", "opensmile", _smile("compare2016"))],
}


def run(cases=None, *, quick: bool = False, repeats: int = 10, budget_s: float = 60.0,
        out: Path | None = Path("results/bench"), log=print) -> dict:
    """Time every row of `cases` (default all) on the same files; write OUT/features-<device>.*"""
    cases = list(cases or CASES)
    n_files, seconds = QUICK if quick else (FILES, AUDIO_S)
    files = speech(n_files, seconds)
    audio_s = sum(x.size for x in files) / SR
    records, notes = [], {}
    t0 = time.perf_counter()
    with _one_thread():
        for case in cases:
            records += _case(case, files, audio_s, repeats, budget_s, notes, log)
    meta_threads = _one_thread.__doc__.split("\n")[0]
    return _finish(records, notes, cases, quick, n_files, audio_s, repeats, t0, meta_threads, out)


def _one_thread():
    """Every row runs with one BLAS / OpenMP thread (threadpoolctl), numpy's FFT is single-threaded.

    The peers (pyAudioAnalysis, librosa, Praat, openSMILE) and emojax then run on one core each,
    so the ratios compare the algorithms, not thread counts."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _case(case, files, audio_s, repeats, budget_s, notes, log) -> list[dict]:
    """The rows of one case, timed in interleaved rounds on the same files."""
    fns, recs, notes[case] = {}, {}, []
    for impl, need, fn in CASES[case]:
        if need and importlib.util.find_spec(need) is None:
            notes[case].append(f"`{impl}` skipped: {need} is not installed")
            continue
        call = (lambda f=fn: f(files))
        log(f"[bench] {case}/{impl}: first call + warm-up ...")
        recs[impl] = {"case": case, "impl": impl, **prepare_call(call, repeats, budget_s)}
        fns[impl] = call
    timed = time_interleaved(fns, {k: r["repeats"] for k, r in recs.items()})
    for impl, r in recs.items():
        r.update(timed[impl])
        r["audio_s"] = audio_s
        r["realtime_factor"] = audio_s / (r["median_ms"] / 1e3)
    ours = recs.get("emojax")
    if ours:
        for impl, r in recs.items():
            if impl != "emojax":
                ours[f"speedup_vs_{impl}"] = r["median_ms"] / ours["median_ms"]
    return list(recs.values())


def _finish(records, notes, cases, quick, n_files, audio_s, repeats, t0, threads, out) -> dict:
    import jax

    from emojax.bench.report import device_description, versions
    vers = versions()
    for mod in ("librosa", "pyAudioAnalysis", "parselmouth", "opensmile", "scipy"):
        if importlib.util.find_spec(mod) is not None:
            m = __import__(mod)
            vers[mod] = getattr(m, "__version__", getattr(m, "VERSION", "?"))
    meta = {"suite": "features", "device": jax.default_backend(),
            "device_description": device_description(), "versions": vers, "quick": quick,
            "files": n_files, "audio_s": audio_s, "sample_rate": SR, "repeats": repeats,
            "threads": threads, "emojax_commit": source_commit(),
            "cpu_count": os.cpu_count(), "total_s": time.perf_counter() - t0, "notes": notes,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
    doc = {"meta": meta, "records": records}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        name = f"features-{meta['device']}"
        (out / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        (out / f"{name}.md").write_text(to_markdown(doc))
    return doc


def to_markdown(doc: dict) -> str:
    m = doc["meta"]
    lines = [f"# Feature extraction benchmark ({m['device_description']})", "",
             f"{m['files']} rendered speech files, {m['audio_s']:.0f} s of 16 kHz audio per call; "
             f"median of {m['repeats']} calls, interleaved rounds. {m['threads']}", "",
             "| case | impl | median ms | real-time factor | the emojax row's speed-up over this row |", "|---|---|---|---|---|"]
    for r in doc["records"]:
        ours = next((o for o in doc["records"] if o["case"] == r["case"] and o["impl"] == "emojax"), None)
        sp = ours.get(f"speedup_vs_{r['impl']}") if ours else None
        lines.append(f"| {r['case']} | {r['impl']} | {r['median_ms']:.1f} | {r['realtime_factor']:.0f}x | "
                     + (f"{sp:.1f}x |" if sp else "- |"))
    for case, ns in m["notes"].items():
        lines += [f"- {case}: {n}" for n in ns]
    return "\n".join(lines) + "\n"
