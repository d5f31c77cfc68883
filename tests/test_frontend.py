"""From wav files to results: the rendered embedded corpus goes through `prepare iemocap`, the
audio-visual front end and `reproduce woellmer2012`, and a speaker-independent classifier hears
the emotion in it (the frontend experiment)."""
import json

import numpy as np
import pytest

from emojax import cli
from emojax.data import iemocap, render
from emojax.data.synthetic import SyntheticParams


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("rendered")
    summary = render.render_iemocap(root / "IEMOCAP_full_release", SyntheticParams(scale=0.04),
                                    dialog_wavs=False, workers=2, progress=False)
    return root / "IEMOCAP_full_release", summary


def test_prepare_reads_the_rendered_tree_like_the_real_thing(tree, tmp_path):
    root, summary = tree
    written = iemocap.prepare_iemocap(root, tmp_path / "prep", progress=False)
    rep = json.loads(written["integrity"].read_text())
    assert rep["found"]["utterances"] == summary["utterances"]
    assert rep["found"]["label_sets"] == {k: sum(v.values()) for k, v in summary["label_sets"].items()}
    assert {k: v for k, v in rep["found"]["codes"].items() if v} == summary["codes"]
    odd = rep["odd_counts"]
    assert odd.get("dialog_without_mocap") == 1                     # Ses05M's like the real one
    # what the renderer writes on purpose (A-lines without dom, per-evaluator folders; no dialog
    # wavs asked for here), nothing else
    assert set(odd) <= {"dialog_without_mocap", "dimensional_vote_incomplete", "skipped_folder",
                        "missing_dialog_wav"}, odd
    corpus = iemocap.load(tmp_path / "prep")
    assert (corpus.gender == np.array([u.split("_")[-1][0] for u in corpus.utterance_id])).all()


def test_woellmer2012_runs_on_the_rendered_audio(tree, tmp_path, capsys):
    root, _ = tree
    rc = cli.main(["reproduce", "woellmer2012:quick", "--corpus", f"iemocap:{root}",
                   "--workdir", str(tmp_path / "w"), "--no-progress", "--set", "tasks=[valence3]",
                   "--set", "max_folds=1", "--set", "analysis.enabled=false"])
    assert rc == 0, capsys.readouterr().err
    run = json.loads((tmp_path / "w" / "results" / "run.json").read_text())
    front = json.dumps(run)
    assert '"pitch"' in front and '"selected"' in front               # says how it heard and saw
    table = (tmp_path / "w" / "results" / "table1.md").read_text()
    assert "valence3" in table
    # the same command again resumes: every fold reused, the same table (features recomputed
    # here, as the test's cache is off, must fingerprint the same)
    assert cli.main(["reproduce", "woellmer2012:quick", "--corpus", f"iemocap:{root}",
                     "--workdir", str(tmp_path / "w"), "--no-progress", "--set", "tasks=[valence3]",
                     "--set", "max_folds=1", "--set", "analysis.enabled=false"]) == 0
    assert (tmp_path / "w" / "results" / "table1.md").read_text() == table
    assert json.loads((tmp_path / "w" / "results" / "run.json").read_text())["pieces"]["computed"] == 0


def test_frontend_classifier_beats_chance(tree, tmp_path):
    from emojax.experiments import frontend
    root, _ = tree
    cfg = frontend.Config(corpus=f"iemocap:{root}", sets=("chernykh2018",), grid=(0.01,),
                          max_folds=3)
    doc = frontend.run(cfg, tmp_path / "f", progress=False)
    ua = {r["label_set"]: r for r in doc["records"] if r["metric"] == "ua"}
    assert set(ua) == set(frontend.LABEL_SETS)
    for r in ua.values():                 # 4 classes: chance UA is 0.25 (tiny corpus, 3 folds)
        assert len(r["folds"]) == 3 and r["mean"] > 0.3
