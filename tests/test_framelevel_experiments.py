"""The frame-level reproductions end to end on a tiny rendered corpus, through the CLI: Chernykh
2018 (Table 1, both decoders, Table 2 from the votes, figures) and Mirsamadi 2017 (Tables 2-3,
attention weights on the planted segments, figures); a rerun reuses every finished model."""
import json
import pathlib
import subprocess
import sys

import pytest

from emojax import cli
from emojax.data import render
from emojax.data.synthetic import SyntheticParams


CHECK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_records.py"


def check_records(results):
    """shared/tools/check_records.py accepts the records (where the checker is beside the repo)."""
    if CHECK.is_file():
        out = subprocess.run([sys.executable, str(CHECK), str(results)], capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames") / "IEMOCAP_full_release"
    render.render_iemocap(root, SyntheticParams(scale=0.04), dialog_wavs=False, mocap_fps=0,
                          workers=2, progress=False)
    return root


def test_chernykh2018_quick(tree, tmp_path, capsys):
    wd = tmp_path / "c"
    args = ["reproduce", "chernykh2018:quick", "--corpus", f"iemocap:{tree}", "--workdir", str(wd),
            "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "| CTC | best_path |" in out and "| CTC | beam |" in out and "Table 2" in out
    doc = json.loads((wd / "results" / "table1.json").read_text())
    recs = {(r["classifier"], r.get("decoder"), r["metric"]): r for r in doc["records"]}
    assert recs["dummy", None, "ua"]["mean"] == pytest.approx(0.25)     # a constant: UA = 1/4
    for key in [("framewise_rf", None), ("one_label", None), ("ctc", "best_path"), ("ctc", "beam")]:
        r = recs[key + ("ua",)]
        assert len(r["folds"]) == 2 and 0.0 <= r["mean"] <= 1.0
    assert {r["source"] for r in doc["paper"]} == {"paper"}
    t2 = json.loads((wd / "results" / "errors.json").read_text())["ours"]
    assert set(t2["considered_ratio"]) == {"ang", "exc", "neu", "sad"}
    ctx = doc["meta"]["frame_context"]["thetas"]["0.03"]
    assert ctx["n"] > 0 and ctx["past"] >= 0 and ctx["future"] >= 0
    assert "frame outputs depend on" in out
    for f in ("fig4_posteriors.png", "fig6_confusion.png", "fig6b_dissent.png", "run.json"):
        assert (wd / "results" / f).is_file(), f
    check_records(wd / "results")
    assert cli.main(args) == 0                                   # everything reused
    meta = json.loads((wd / "results" / "run.json").read_text())
    assert meta["pieces"]["computed"] == 0 and meta["pieces"]["reused"] == 8


def test_mirsamadi2017_quick(tree, tmp_path, capsys):
    wd = tmp_path / "m"
    assert cli.main(["reproduce", "mirsamadi2017:quick", "--corpus", f"iemocap:{tree}",
                     "--workdir", str(wd), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Table 2" in out and "Table 3" in out and "weighted pool with attention" in out
    t3 = json.loads((wd / "results" / "table3.json").read_text())
    pools = {(r["features"], r["pooling"]) for r in t3["records"]}
    assert pools == {(f, p) for f in ("spectral", "lld") for p in ("framewise", "attention")}
    att = t3["meta"]["attention_on_segments"]
    assert att and all(0 < a["share_inside"] < 1 and a["n"] > 0 for a in att.values())
    ctx = t3["meta"]["frame_context"]
    assert set(ctx) == {"spectral", "lld"} and all(c["frames_used"] > 0 for c in ctx.values())
    assert "decision depends on" in out
    t2 = json.loads((wd / "results" / "table2.json").read_text())
    assert {(r["classifier"], r["stats"]) for r in t2["records"]} == {("dnn", "full"), ("svm", "full")}
    for f in ("fig2_attention.png", "fig_confusion_attention.png"):
        assert (wd / "results" / f).is_file(), f
    check_records(wd / "results")
