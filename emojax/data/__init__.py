"""Corpora: every corpus becomes a `Corpus` of utterance records (see `emojax.data.corpus`)."""
from emojax.data.corpus import Corpus, sequences

__all__ = ["Corpus", "sequences", "load"]


def load(spec: str) -> Corpus:
    """A corpus from its command-line spec: ``synthetic[:k=v,...]`` or ``table:PATH.csv[,ignore=a+b]``."""
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        from emojax.data import synthetic
        return synthetic.generate(synthetic.parse_spec(rest))
    if kind == "table":
        from emojax.data import table
        path, ignore = table.parse_table_spec(rest)
        return table.load_table(path, ignore=ignore)
    if kind in ("iemocap", "folder"):
        raise ValueError(f"corpus {spec!r}: the {kind} reader is not implemented yet; export "
                         "utterance features to a CSV and use table:PATH.csv")
    raise ValueError(f"unknown corpus spec {spec!r}: use synthetic[:k=v,...] or table:PATH.csv")
