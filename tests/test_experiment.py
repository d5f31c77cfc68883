"""End to end through the CLI on tiny configurations: tables, records, resume, user tables, errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emojax import cli
from emojax.data import synthetic
from emojax.data.table import load_table, write_table

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT.parent / "shared" / "tools" / "check_records.py"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    wd = tmp_path_factory.mktemp("quick")
    assert cli.main(["reproduce", "woellmer2012:quick", "--workdir", str(wd), "--no-progress"]) == 0
    return wd


def test_quick_writes_tables_and_records(quick):
    res = quick / "results"
    for name in ("table1.json", "table1.md", "table1.csv", "run.json"):
        assert (res / name).is_file()
    doc = json.loads((res / "table1.json").read_text())
    tasks = {r["task"] for r in doc["records"]}
    assert tasks == {"valence3", "cluster3"}
    for r in doc["records"]:
        assert 0 <= r["mean"] <= 1 and len(r["folds"]) == 2
        assert r["mean"] == pytest.approx(np.mean(r["folds"]))
    assert {(t["a"], t["b"]) for t in doc["tests"]} == {("blstm", "blstm_shuffled"), ("blstm", "svm")}
    assert len(doc["paper"]) == 15
    meta = json.loads((res / "run.json").read_text())
    assert meta["corpus"]["kind"] == "synthetic" and meta["corpus"]["scale"] == 0.2
    assert set(meta["cfs_features"]) == {"valence3/fold00", "valence3/fold01", "cluster3/fold00",
                                         "cluster3/fold01"}
    assert "BLSTM (shuffled)" in (res / "table1.md").read_text()
    if CHECK.is_file():
        out = subprocess.run([sys.executable, str(CHECK), str(res)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout


def test_quick_runs_the_context_analysis(quick):
    res = quick / "results"
    for name in ("context.json", "context.md", "context_position.csv", "context_threshold.csv",
                 "context_profile.csv", "fig1_jacobian.png", "fig2_context_position.png",
                 "fig3_context_threshold.png"):
        assert (res / name).is_file(), name
    doc = json.loads((res / "context.json").read_text())
    conds = {r["condition"] for r in doc["records"]}
    assert conds == {"ordered", "shuffled", "oracle", "oracle_shuffled"}
    ge10 = {(r["task"], r["condition"]): r for r in doc["records"]
            if r["position"] == "ge10" and r["theta"] == 0.03}
    assert 6 <= ge10[("valence3", "oracle")]["past"] <= 9
    assert ge10[("valence3", "ordered")]["past"] > 0
    # every estimator for every trained condition, each mean with its interval
    assert doc["meta"]["recommended_estimator"] == "smoother"
    from emojax.analysis.smoother import constants
    assert doc["meta"]["smoother"] == constants()            # the fit's fixed choices, recorded
    ests = {(r["condition"], r["estimator"]) for r in doc["records"]}
    assert {("ordered", "paper"), ("shuffled", "paper"), ("ordered", "smoother"),
            ("shuffled", "smoother")} <= ests
    assert not {e for _, e in ests} & {"memoryless", "directional"}     # on request only
    for r in doc["records"]:
        if r["condition"] in ("ordered", "shuffled") and not isinstance(r["position"], int):
            assert r["past_low"] <= r["past"] <= r["past_high"] and r["seeds"] == 1
    md = (res / "context.md").read_text()
    assert "paper" in md and "smoother" in md and "[" in md and "| ±1 |" in md


def test_rerun_resumes_without_training(quick, monkeypatch):
    from emojax.experiments import woellmer2012 as W
    before = (quick / "results" / "table1.json").read_text()

    def boom(*a, **k):
        raise AssertionError("a finished fold was retrained")
    monkeypatch.setattr(W, "run_folds", boom)
    assert cli.main(["reproduce", "woellmer2012:quick", "--workdir", str(quick), "--no-progress"]) == 0
    after = json.loads((quick / "results" / "table1.json").read_text())
    assert after["records"] == json.loads(before)["records"]
    assert (quick / "checkpoints").is_dir()


def test_user_table_round_trip_and_run(tmp_path):
    c = synthetic.marker_wearers(synthetic.generate(synthetic.SyntheticParams(scale=0.1, seed=1)))
    csv = write_table(c, tmp_path / "my.csv")
    back = load_table(csv)
    np.testing.assert_allclose(back.features, c.features)
    wd = tmp_path / "wd"
    rc = cli.main(["reproduce", "woellmer2012:quick", "--corpus", f"table:{csv}", "--workdir",
                   str(wd), "--set", "tasks=[activation3]", "--set", "max_folds=1", "--no-progress"])
    assert rc == 0
    doc = json.loads((wd / "results" / "table1.json").read_text())
    assert {r["task"] for r in doc["records"]} == {"activation3"}
    assert doc["meta"]["corpus"]["kind"] == "table"
    assert "No oracle" in (wd / "results" / "context.md").read_text()
    ctx = json.loads((wd / "results" / "context.json").read_text())
    assert {r["condition"] for r in ctx["records"]} == {"ordered", "shuffled"}


def test_malformed_table_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("dialog,turn,speaker,valence,f1\nd1,0,A,3,0.5\nd1,1,A,3,abc\n")
    out = subprocess.run([sys.executable, "-m", "emojax.cli", "reproduce", "woellmer2012:quick",
                          "--corpus", f"table:{bad}", "--workdir", str(tmp_path / "wd")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.csv:3" in lines[0] and "'f1'" in lines[0] and "abc" in lines[0]
    assert "Traceback" not in out.stderr


def test_bad_settings_are_clear():
    with pytest.raises(ValueError, match="unknown setting 'train.nope'"):
        cli.build_config("woellmer2012", None, None, ["train.nope=1"])
    _, _, _, cfg, default = cli.build_config("woellmer2012", None, "synthetic:rho=0", ["train.l2=0.01"])
    assert cfg.corpus == "synthetic:rho=0" and cfg.train.l2 == 0.01 and not default


@pytest.mark.parametrize("name", ["woellmer2012", "woellmer2012_study", "woellmer2012_causes", "aclstm", "tripathi2019"])
def test_config_files_are_generated_by_emojax_config(name, capsys):
    """configs/*.yaml are `emojax config NAME[:quick]` verbatim (regenerate them with it), and
    loading one gives exactly that Config: no drift."""
    from emojax import config as C
    from emojax import experiments
    mod = experiments.get(name)
    for variant, expected in (("", mod.Config()), (":quick", C.override(mod.Config(), mod.QUICK))):
        assert cli.main(["config", name + variant]) == 0
        text = capsys.readouterr().out
        path = ROOT / "configs" / f"{name}{'_quick' if variant else ''}.yaml"
        assert path.read_text() == text, f"regenerate: emojax config {name}{variant} > {path}"
        assert C.override(mod.Config(), C.load_yaml(path)) == expected


def test_scorecard_reads_which_counts_their_intervals_resolve_to_one():
    """A count is resolved when its interval lies within ±1 of it; the scorecard gives the share of
    such points and the share within ±1 of the truth among them, worked out by hand here."""
    from emojax.analysis.context import resolved
    from emojax.experiments.woellmer2012_study import scorecard
    np.testing.assert_array_equal(resolved([5, 5, 5, 5], [4, 3.9, 4.5, 5], [6, 5.5, 6.1, 5]),
                                  [True, False, False, True])
    pts = [  # (truth, estimate, low, high)
        (5.0, 5.5, 4.6, 6.4),     # resolved, within ±1
        (5.0, 6.5, 5.8, 7.0),     # resolved, off by 1.5: a narrow interval can still miss
        (8.0, 10.0, 8.0, 13.0),   # not resolved, off by 2
        (3.0, 3.2, 1.0, 4.0)]     # not resolved, within ±1
    results = [{"sweep": "rho_snr", "corpus": "synthetic", "rho": 0.9, "truth": {"past": t},
                "x": {"past": m, "past_low": lo, "past_high": hi}} for t, m, lo, hi in pts]
    card = scorecard(results, ["x"])["all/x"]
    assert card["within_1"] == 0.5 and card["resolved"] == 0.5
    assert card["covered"] == 0.75              # all but the second point's [5.8, 7.0] hold it
    assert card["within_1_resolved"] == 0.5
    none = scorecard(results[2:], ["x"])["all/x"]
    assert none["resolved"] == 0 and np.isnan(none["within_1_resolved"])


def test_size_scorecard_pools_the_size_sweep_per_corpus_size():
    """The corpus-size sweep's table pools its rhos and seeds per size, worked out by hand; the
    rho x snr grid's points stay out of it."""
    from emojax.experiments.woellmer2012_study import size_scorecard
    pts = [  # (sequences, truth, estimate, low, high)
        (100, 10.0, 12.0, 11.5, 12.5),   # off by 2, resolved
        (100, 8.0, 8.5, 6.0, 11.0),      # within ±1, not resolved
        (400, 10.0, 10.5, 10.0, 11.0),   # within ±1, resolved
        (400, 8.0, 7.5, 7.0, 8.0)]       # within ±1, resolved
    results = [{"sweep": "sequences", "sequences": n, "truth": {"past": t},
                "x": {"past": m, "past_low": lo, "past_high": hi}} for n, t, m, lo, hi in pts]
    grid = {"sweep": "rho_snr", "sequences": 100, "truth": {"past": 0.0},
            "x": {"past": 9.0, "past_low": 9.0, "past_high": 9.0}}
    card = size_scorecard(results + [grid], ["x"])
    assert set(card) == {"100/x", "400/x"}
    assert card["100/x"]["points"] == 2 and card["100/x"]["within_1"] == 0.5
    assert card["100/x"]["mean_error"] == pytest.approx(1.25)
    assert card["100/x"]["mean_abs_error"] == pytest.approx(1.25)
    assert card["100/x"]["resolved"] == 0.5
    assert card["400/x"]["within_1"] == 1.0 and card["400/x"]["resolved"] == 1.0
    assert card["400/x"]["mean_error"] == pytest.approx(0.0)
    assert card["400/x"]["mean_abs_error"] == pytest.approx(0.5)


def test_study_pieces_leave_out_the_assumed_rho_curves_when_none_are_asked_for():
    from emojax.config import override
    from emojax.experiments import woellmer2012_study as S
    cfg = override(S.Config(), S.QUICK)
    keys = list(S.pieces_of(cfg))
    sized = [p for p in S.points(cfg) if p["sweep"] == "sequences"]
    assert [k for k in keys if k.startswith(S.ASSUMED)] == [S.ASSUMED + S._key(p) for p in sized]
    bare = list(S.pieces_of(override(cfg, {"assumed_rhos": []})))
    assert bare == [k for k in keys if not k.startswith(S.ASSUMED)] and len(sized) == 2


def test_assumed_curves_are_the_size_sweeps_points_only():
    """A grid point on the same corpus as a size-sweep point shares its key (and its assumed-rho
    smoothers); the curves still list the sweep's points, once each, labelled as the sweep."""
    from emojax.config import override
    from emojax.experiments import woellmer2012_study as S
    cfg = override(S.Config(), {**S.QUICK, "snrs": [0.25], "sizes": [30, 60]})
    pts = S.points(cfg)
    keys = [S._key(p) for p in pts]
    assert len(set(keys)) < len(keys)                 # the grid's 30-sequence point at rho 0.9
    results = [{**p, "sequences": p.get("sequences"), "truth": {"past": 1.0}, "x": {"past": 2.0}}
               for p in pts]
    done = {S.ASSUMED + k: [{"assumed_rho": 0.9}] for k, p in zip(keys, pts)
            if p["sweep"] == "sequences"}
    curves = S.assumed_curves(pts, results, done, ["x"], ("sweep", "rho", "sequences"))
    assert [(c["sweep"], c["rho"], c["sequences"]) for c in curves] == \
        [("sequences", 0.9, 30), ("sequences", 0.9, 60)]


def test_context_study_quick(tmp_path):
    """The measured-vs-true study runs end to end on both corpora and writes its records, the
    scorecard and Fig. 4; a rerun reuses every point."""
    wd = tmp_path / "study"
    assert cli.main(["reproduce", "woellmer2012_study:quick", "--workdir", str(wd),
                     "--no-progress"]) == 0
    doc = json.loads((wd / "results" / "context_study.json").read_text())
    keys = {"task", "condition", "estimator", "theta", "position", "past", "corpus", "rho", "snr",
            "seed", "l2", "forget_bias", "sweep"}
    assert all(keys <= set(r) for r in doc["records"])
    truth = {(r["corpus"], r["rho"]): r["past"] for r in doc["records"] if r["condition"] == "oracle"}
    for corpus in ("synthetic", "statespace"):
        assert truth[(corpus, 0.5)] < truth[(corpus, 0.9)]          # the truth rises with rho
    measured = [r for r in doc["records"] if r["condition"] == "ordered"]
    assert {r["estimator"] for r in measured} == {"paper", "memoryless", "smoother", "directional",
                                                  "memoryless_directional"}
    assert all(r["past_low"] <= r["past"] <= r["past_high"] for r in measured)
    oracle_f1 = [r["f1"] for r in doc["records"] if r["condition"] == "oracle"]
    assert len(oracle_f1) == 6 and all(0 < v <= 1 for v in oracle_f1)
    card = doc["meta"]["scorecard"]
    assert card["all/paper"]["points"] == 4 and card["all/smoother"]["points"] == 4
    # even at 30 sequences and one fold the smoother follows the truth's rise with rho (2 -> 6-7)
    smoother = {(r["corpus"], r["rho"]): r["past"] for r in measured
                if r["estimator"] == "smoother" and r["sweep"] == "rho_snr"}
    for corpus in ("synthetic", "statespace"):
        assert smoother[(corpus, 0.9)] >= smoother[(corpus, 0.5)] + 2, smoother
    assert card["all, rho >= 0.5/paper"]["points"] == 4
    assert (wd / "results" / "fig4_measured_vs_true.png").is_file()
    # the corpus-size sweep: 30 and 60 sequences at rho 0.9, snr 0.25 (two more points)
    sizes = {r["sequences"]: r for r in doc["records"] if r["sweep"] == "sequences"
             and r["condition"] == "oracle"}
    assert set(sizes) == {30, 60} and sizes[60]["n_sequences"] > sizes[30]["n_sequences"]
    assert (wd / "results" / "fig7_context_vs_size.png").is_file()
    sized = doc["meta"]["size_scorecard"]
    assert sized["60/smoother"]["points"] == 1 and sized["30/paper"]["points"] == 1
    assert "| smoother | 60 | 1 |" in (wd / "results" / "context_study.md").read_text()
    assert "| sequences | synthetic | 0.9 | 0.25 | 0 | 60 |" in (wd / "results" / "context_study.md").read_text()
    # each point of that sweep: the exact smoother and those assuming another rho (no training)
    curves = json.loads((wd / "results" / "context_assumed.json").read_text())["records"]
    assert [c["sequences"] for c in curves] == [30, 60]
    for c in curves:
        exact = [v for v in c["smoothers"] if v["exact"]]
        assert len(exact) == 1 and exact[0]["past"] == pytest.approx(c["truth"])
        past = [v["past"] for v in c["smoothers"]]
        assert past == sorted(past) and past[0] < past[-1]       # a smaller rho, a shorter context
    assert (wd / "results" / "fig8_assumed_rho.png").is_file()
    assert len(list((wd / "pieces").glob("*.json"))) == 8
    # the rerun reuses every piece, the assumed-rho curves (list records) too
    before = (wd / "results" / "context_study.csv").read_text()
    assert cli.main(["reproduce", "woellmer2012_study:quick", "--workdir", str(wd),
                     "--no-progress"]) == 0
    again = json.loads((wd / "results" / "context_study.json").read_text())["meta"]["pieces"]
    assert again["reused"] == 8 and again["computed"] == 0
    assert (wd / "results" / "context_study.csv").read_text() == before


def test_network_settings_leave_out_what_fits_no_network():
    """The causes key their pieces by the analysis settings a network's reading depends on: which
    estimators a run reports and how the smoother is fitted leave them alone; theta does not."""
    import dataclasses

    from emojax.experiments.woellmer2012_analysis import AnalysisConfig, network_settings
    base = AnalysisConfig()
    for change in ({"estimators": ("paper",), "recommended": "paper"},
                   {"smoother_target": "classes", "smoother_draws": 3}):
        assert network_settings(dataclasses.replace(base, **change)) == network_settings(base)
    assert network_settings(dataclasses.replace(base, theta=0.05)) != network_settings(base)
    assert "memoryless_lr" in network_settings(base) and "seeds" in network_settings(base)


def test_context_causes_quick(tmp_path):
    wd = tmp_path / "causes"
    assert cli.main(["reproduce", "woellmer2012_causes:quick", "--workdir", str(wd),
                     "--no-progress"]) == 0
    doc = json.loads((wd / "results" / "context_causes.json").read_text())
    from emojax.experiments.woellmer2012_causes import ROWS
    assert [r["measure"] for r in doc["records"]] == list(ROWS)
    paper = next(r for r in doc["records"] if r["measure"] == "paper")
    assert len(paper["seed_counts"]) == 2 and paper["seed_min"] <= paper["past"] <= paper["seed_max"]
    assert all(r["past"] >= 0 for r in doc["records"])
    truth = next(r for r in doc["records"] if r["measure"] == "truth")
    assert 0 < truth["f1"] <= 1 and 0 < paper["f1"] <= 1                # oracle's and BLSTM's F1
    assert len(truth["profile"]) == 10 and truth["profile"][0] > truth["profile"][-1]
    assert (wd / "results" / "fig5_causes.png").is_file()
    assert (wd / "results" / "fig6_profiles.png").is_file()


def test_checks_section_pools_the_fresh_points(tmp_path):
    """The README's table of the smoother's checks: one row per run, and the fresh points (the
    study's set and never-used runs of one fit, not the choosing runs) pooled as counts."""
    from emojax.experiments.woellmer2012_report import CHECKS, _checks_section

    def write(path, seeds, ss, draws, points, within, covered, resolved, within_res, **target):
        path.mkdir(parents=True)
        card = {"within_1": within, "covered": covered, "resolved": resolved,
                "within_1_resolved": within_res, "points": points}
        at_05 = {"within_1": 0.5, "points": 20}           # rho >= 0.5: 10 of 20 per run
        meta = {"config": {"seeds": seeds, "statespace_seeds": ss,
                           "analysis": {"smoother_draws": draws, **target}},
                "scorecard": {"all/smoother": card, "all, rho >= 0.5/smoother": at_05}}
        (path / "context_study.json").write_text(json.dumps({"meta": meta, "records": []}))
    write(tmp_path / "woellmer2012", [12], [12, 13], 1, 25, 0.84, 1.0, 0.64, 1.0)
    write(tmp_path / CHECKS / "smoother_choose", [1, 2], [], 1, 36, 0.5, 0.5, 0.5, 0.5)
    write(tmp_path / CHECKS / "smoother_never_used", [16], [16, 17], 1, 25, 0.88, 0.96, 0.76, 1.0)
    write(tmp_path / CHECKS / "smoother_never_used_draws10", [16], [16, 17], 10, 25, 0, 0, 0, 0)
    write(tmp_path / CHECKS / "smoother_rating_choose", [1], [], 1, 20, 1, 1, 1, 1,
          smoother_target="rating")
    write(tmp_path / CHECKS / "smoother_rating_never_used", [27], [34], 1, 10, 0.9, 0.8, 0.5, 0.8,
          smoother_target="rating")
    lines = _checks_section(tmp_path)
    rows = [[c.strip() for c in ln.split("|")[1:-1]] for ln in lines if ln.startswith("| ")][1:]
    assert len(rows) == 8                           # six runs and a pooled row per target
    assert [r[2] for r in rows] == ["classes"] * 4 + ["rating"] * 2 + ["classes", "rating"]
    # 21 + 22 of 50 within ±1; 25 + 24 held; 16 + 19 resolved, all of them within ±1
    assert rows[-2][6:] == ["50", "43 of 50 (86.0 %); rho ≥ 0.5: 20 of 40", "49 of 50", "35 of 50",
                            "35 of 35"]
    # the rating runs pool apart: the never-used one alone (9 of 10; 8 held; 5 resolved, 4 within)
    assert rows[-1][0] == "**fresh points pooled (rating)**"
    assert rows[-1][6:] == ["10", "9 of 10 (90.0 %); rho ≥ 0.5: 10 of 20", "8 of 10", "5 of 10",
                            "4 of 5"]
