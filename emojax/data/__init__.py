"""Corpora: every corpus becomes a `Corpus` of utterance records (see `emojax.data.corpus`)."""
from emojax.data.corpus import Corpus, sequences

__all__ = ["Corpus", "sequences", "load"]


def load(spec: str) -> Corpus:
    """A corpus from its command-line spec: ``synthetic[:k=v,...]``, ``table:PATH.csv[,ignore=a+b]`` or
    ``iemocap:PATH[,features=SET+SET]`` (PATH: a raw IEMOCAP_full_release tree or a folder written
    by `emojax prepare iemocap`; ``features`` adds utterance functionals of those frame-descriptor
    sets, ``visual`` meaning the face MoCap: `emojax.features.pipeline`)."""
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        from emojax.data import synthetic
        return synthetic.generate(synthetic.parse_spec(rest))
    if kind == "statespace":
        from emojax.data import statespace
        return statespace.generate(statespace.parse_spec(rest))
    if kind == "table":
        from emojax.data import table
        path, ignore = table.parse_table_spec(rest)
        return table.load_table(path, ignore=ignore)
    if kind == "iemocap":
        from emojax.data import iemocap
        path, opts = _path_options(spec, rest, ("features",))
        corpus = iemocap.load(path)
        if "features" in opts:
            from emojax.features.pipeline import utterance_features
            sets = [s for s in opts["features"].split("+") if s]
            corpus = utterance_features(corpus, audio=[s for s in sets if s != "visual"],
                                        visual="visual" in sets)
        return corpus
    if kind == "folder":
        raise ValueError(f"corpus {spec!r}: the folder reader is not implemented yet; export "
                         "utterance features to a CSV and use table:PATH.csv")
    raise ValueError(f"unknown corpus spec {spec!r}: use synthetic[:k=v,...], table:PATH.csv or "
                     "iemocap:PATH")


def _path_options(spec: str, rest: str, known: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """``PATH[,key=value...]`` -> (PATH, {key: value}); unknown keys name the known ones."""
    path, *items = rest.split(",")
    opts = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or key not in known:
            raise ValueError(f"corpus {spec!r}: bad option {item!r}; known: {', '.join(known)}")
        opts[key] = val
    if not path:
        raise ValueError(f"corpus {spec!r}: no path")
    return path, opts
