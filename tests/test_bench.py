"""emojax.bench: the records it writes, and that every implementation it times computes the same thing."""
import dataclasses
import importlib.util
import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from emojax import bench as B
from emojax.bench import peers
from emojax.models import chernykh, mirsamadi, woellmer

CHECKER = pathlib.Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_records.py"
HAVE = {m: importlib.util.find_spec(m) is not None for m in ("flax", "torch")}


def test_quick_run_writes_conforming_records(tmp_path, capsys):
    out = tmp_path / "bench"                     # check_records.py reads bench files from */bench/
    rc = B.main(["--quick", "--out", str(out), "--cases", "blstm_utt,jacobian_seq", "--repeats", "2"])
    assert rc == 0
    doc = json.loads((out / "cpu.json").read_text())
    assert {"device", "versions", "device_description", "matmul_peak_gflops"} <= set(doc["meta"])
    assert doc["meta"]["device"] == "cpu" and doc["meta"]["matmul_peak_gflops"] > 0
    assert doc["meta"]["versions"]["jax"]
    recs = doc["records"]
    for r in recs:
        assert {"case", "impl", "median_ms", "min_ms", "max_ms", "compile_s"} <= set(r)
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"] and r["compile_s"] > 0
        assert r["seqs_per_s"] > 0 and r["repeats"] == 2
    impls = {case: {r["impl"] for r in recs if r["case"] == case} for case in ("blstm_utt", "jacobian_seq")}
    assert {"emojax"} <= impls["blstm_utt"] and {"emojax", "emojax_jacfwd"} <= impls["jacobian_seq"]
    assert ("flax" in impls["blstm_utt"]) == HAVE["flax"]
    assert ("torch" in impls["blstm_utt"]) == HAVE["torch"] == ("torch" in impls["jacobian_seq"])
    assert ("torch_autograd" in impls["jacobian_seq"]) == HAVE["torch"]
    ours = next(r for r in recs if r["case"] == "blstm_utt" and r["impl"] == "emojax")
    assert ours["gflops"] > 0
    # the directions kernel has its row where the process has two devices (the CLI splits a CPU)
    assert ("emojax_directions" in impls["blstm_utt"]) == (len(jax.local_devices()) >= 2)
    for peer in {i for i in impls["blstm_utt"] if not i.startswith("emojax")}:
        peer_ms = next(r["median_ms"] for r in recs if r["case"] == "blstm_utt" and r["impl"] == peer)
        assert ours[f"speedup_vs_{peer}"] == pytest.approx(peer_ms / ours["median_ms"])
    md = (out / "cpu.md").read_text()
    assert "## blstm_utt" in md and "## jacobian_seq" in md and md.strip() in capsys.readouterr().out
    if CHECKER.is_file():
        res = subprocess.run([sys.executable, str(CHECKER), str(tmp_path)], check=False,
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr


def test_unknown_case_is_an_error(tmp_path):
    with pytest.raises(SystemExit):
        B.main(["--quick", "--out", str(tmp_path), "--cases", "nope"])


def test_every_timed_emojax_model_comes_from_emojax_models():
    models = {name: make(True).model for name, (make, _) in B.CASES.items()}
    assert models == {"blstm_utt": woellmer, "chernykh": chernykh, "mirsamadi": mirsamadi,
                      "jacobian_seq": woellmer, "jacobian_batch": woellmer, "ctc": None}
    assert B.CASES["chernykh"][0](True).apply is chernykh.apply_ctc
    assert B.CASES["mirsamadi"][0](True).apply is mirsamadi.model_fn("attention", rate=0.5)


def test_cases_have_the_papers_shapes():
    """(b) Chernykh 2018: CTC over 4 emotions + the blank (last); (c) Mirsamadi 2017: attention
    pooling with 50 % dropout, one BLSTM layer on the 32 LLDs."""
    c, m = B.CASES["chernykh"][0](False), B.CASES["mirsamadi"][0](False)
    assert (c.batch, c.steps, c.feats, c.hidden, c.layers, c.outputs, c.blank) == (32, 78, 34, 128, 2, 5, 4)
    assert (c.head, c.dropout) == ("ctc", 0.0)
    assert (m.batch, m.steps, m.feats, m.hidden, m.layers, m.classes) == (32, 500, 32, 128, 1, 4)
    assert (m.head, m.dropout) == ("attention", 0.5)
    q = B.CASES["chernykh"][0](True).data                # quick: the same structure, tiny
    assert q["params"]["out"]["w"].shape[1] == 5 and q["ys"].shape == (4,) and q["ys"].max() < 4
    assert set(B.CASES["mirsamadi"][0](True).data["params"]) == {"lld", "blstm", "att", "out"}


@pytest.mark.parametrize("case", ["blstm_utt", "chernykh", "mirsamadi"])
def test_train_steps_agree_across_libraries(case):
    """Same weights, same inputs, dropout off: the same loss in every library (cross-entropy per
    step, CTC, attention pooling), and after one Adam step too, except torch: nn.LSTM has two
    biases (b_ih + b_hh) that Adam moves separately, so its effective bias takes twice the step of
    emojax's and Flax's single one."""
    pb = dataclasses.replace(B.CASES[case][0](True), dropout=0.0)
    impls = [(name, build) for name, build in B.TRAIN if B.available(name)]
    losses = {name: [float(step()) for step in [build(pb)] for _ in range(2)] for name, build in impls}
    ref = losses["emojax"]
    assert np.isfinite(ref).all() and ref[1] < ref[0]
    for name, got in losses.items():
        n = 1 if name.startswith("torch") else 2
        np.testing.assert_allclose(got[:n], ref[:n], rtol=2e-5, err_msg=name)


def test_every_library_applies_the_dropout():
    """The timed mirsamadi rows train with dropout: the first loss differs from the one without
    (the masks differ across libraries, so only 'it is on' is comparable), and the JAX rows draw
    a fresh dropout key every step."""
    pb = B.CASES["mirsamadi"][0](True)
    assert pb.dropout == 0.5
    for name, build in B.TRAIN:
        if B.available(name):
            on = float(build(pb)())
            off = float(build(dataclasses.replace(pb, dropout=0.0))())
            assert np.isfinite(on) and abs(on - off) > 1e-4, name
    keys = peers._dropout_keys(pb)
    assert not np.array_equal(np.asarray(keys()), np.asarray(keys()))


@pytest.mark.parametrize("case", ["jacobian_seq", "jacobian_batch"])
def test_jacobians_agree(case):
    pb = B.CASES[case][0](True)
    Js = {name: np.asarray(build(pb)()) for name, build in B.JACOBIAN if B.available(name)}
    T, K, F = pb.steps, pb.classes, pb.feats
    ref = Js["emojax"]
    assert ref.shape == ((T, K, T, F) if pb.single else (pb.batch, T, K, T, F))
    assert np.abs(ref).max() > 1e-3
    for name, J in Js.items():
        np.testing.assert_allclose(J, ref, atol=1e-6, rtol=1e-4, err_msg=name)


def test_features_suite_times_the_same_files(tmp_path):
    """`emojax bench --suite features`: every row of a case runs on the same rendered audio."""
    pytest.importorskip("pyAudioAnalysis")
    rc = B.main(["--suite", "features", "--quick", "--out", str(tmp_path), "--repeats", "1",
                 "--cases", "features_chernykh2018"])
    assert rc == 0
    doc = json.loads((tmp_path / "features-cpu.json").read_text())
    rows = {r["impl"]: r for r in doc["records"]}
    assert set(rows) == {"emojax", "emojax_fixed", "pyaudioanalysis"}
    assert len({r["audio_s"] for r in rows.values()}) == 1 and doc["meta"]["audio_s"] > 5
    assert rows["emojax"]["speedup_vs_pyaudioanalysis"] > 0 and rows["emojax"]["realtime_factor"] > 0


def test_breakdown_suite_times_every_part_of_a_step(tmp_path, capsys):
    from emojax.bench import main
    assert main(["--suite", "breakdown", "--quick", "--cases", "mirsamadi", "--repeats", "1",
                 "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "breakdown-cpu.json").read_text())
    parts = {r["part"]: r for r in doc["records"]}
    assert {"step", "projection", "loop", "loop_matmul", "recurrence", "recurrence_vjp",
            "matmul_floor_fwd", "matmul_floor_train"} <= set(parts)
    assert parts["step"]["share_of_step"] == 1.0 and parts["step"]["impl"] == "emojax"
    assert parts["loop"]["impl"] == "emojax_loop"
    # the floor is the recurrent FLOPs at the measured peak: 2·N·H·4H·T per direction, ×3 to train
    pb = doc["meta"]["cases"]["mirsamadi"]
    floor = 3 * pb["recurrent_gflop_fwd"] * 1e9 / doc["meta"]["matmul_peak_gflops"] / 1e6
    assert parts["matmul_floor_train"]["median_ms"] == pytest.approx(floor)
    assert pb["recurrent_gflop_fwd"] == pytest.approx(2 * 4 * 8 * 4 * 8 * 9 * 2 / 1e9)
    assert "## mirsamadi" in (tmp_path / "breakdown-cpu.md").read_text()
    with pytest.raises(SystemExit):
        main(["--suite", "breakdown", "--cases", "ctc", "--out", str(tmp_path)])


def test_coupled_suite_times_the_coupled_lstm_against_a_blstm(tmp_path, capsys):
    from emojax.bench import main
    assert main(["--suite", "coupled", "--quick", "--cases", "segments", "--repeats", "1",
                 "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "coupled-cpu.json").read_text())
    rows = {r["impl"]: r for r in doc["records"]}
    assert set(rows) == {f"emojax_{m}_{k}" for m in ("blstm", "coupled", "aclstm") for k in ("fwd", "train")}
    assert rows["emojax_blstm_train"]["ratio_to_blstm"] == 1.0
    r = rows["emojax_coupled_train"]
    assert r["ratio_to_blstm"] == pytest.approx(r["median_ms"] / rows["emojax_blstm_train"]["median_ms"])
    assert "ratio to BLSTM" in (tmp_path / "coupled-cpu.md").read_text()
