"""Notebooks are executed on tiny configurations so they cannot rot."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


FIGURES = {"woellmer2012_context.ipynb": "fig2_context_position.png",
           "chernykh2018_ctc.ipynb": "fig4_posteriors.png",
           "mirsamadi2017_attention.ipynb": "fig2_attention.png",
           "aclstm_fusion.ipynb": "fig7_confusion.png"}


@pytest.mark.parametrize("name", list(FIGURES))
def test_notebook_executes(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("EMOJAX_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("EMOJAX_NOTEBOOK_WORKDIR", str(tmp_path / "wd"))
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / "wd" / "results" / FIGURES[name]).is_file()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_every_notebook_is_executed_here():
    assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} == set(FIGURES)
