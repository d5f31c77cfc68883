"""The experiment registry: every experiment name and the module that implements it.

An experiment module exposes the same small surface (DESIGN.md "Experiments and results"):

- ``DESCRIPTION`` (one line), ``Config`` (a frozen dataclass whose defaults are the paper's
  settings), ``QUICK`` (overrides for a tiny run through the same code path), ``PAPER`` (the
  paper's numbers, as data, once);
- ``run(cfg, workdir, *, publish, progress, fresh) -> dict``;
- ``SUMMARY`` (the Markdown files `emojax reproduce` prints) and ``RECORD`` (the results file whose
  ``meta.wall_s`` is the full run's measured time, shown by `emojax list`);
- optionally ``analyze(workdir, *, overrides, publish, progress)`` (for `emojax analyze`),
  ``PUBLISH_AS`` (the results/ folder the full default run publishes to; default its own name),
  ``readme_section(results) -> [lines]`` and ``results_readme(results) -> str`` (the README
  views generated from results/).

Adding a paper is one module and one line in ``REGISTRY``; `register` does it at run time (tests,
a user's own experiment).
"""
from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY: dict[str, str | ModuleType] = {
    "woellmer2012": "emojax.experiments.woellmer2012",
    "woellmer2012_study": "emojax.experiments.woellmer2012_study",
    "woellmer2012_causes": "emojax.experiments.woellmer2012_causes",
    "frontend": "emojax.experiments.frontend",
    "chernykh2018": "emojax.experiments.chernykh2018",
    "mirsamadi2017": "emojax.experiments.mirsamadi2017",
    "aclstm": "emojax.experiments.aclstm",
    "tripathi2019": "emojax.experiments.tripathi2019",
}
ALIASES = {"woellmer2012_context": "woellmer2012_study"}     # the study's name before 0.2


def register(name: str, module: str | ModuleType) -> None:
    """Add (or replace) an experiment: `module` is a module or its import path."""
    REGISTRY[name] = module


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> ModuleType:
    """The module of experiment `name` (an alias resolves to its new name)."""
    name = ALIASES.get(name, name)
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(REGISTRY)} "
                         "(emojax list)")
    mod = REGISTRY[name]
    if isinstance(mod, str):
        mod = importlib.import_module(mod)
    return mod


def publish_name(name: str) -> str:
    """The results/ folder that experiment `name`'s full default run publishes to."""
    return getattr(get(name), "PUBLISH_AS", ALIASES.get(name, name))
