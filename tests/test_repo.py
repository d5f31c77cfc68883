"""The repository's promises: README opens with the two commands, and CI runs the README's test command."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_two_commands():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert "emojax reproduce woellmer2012" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_readme_results_are_generated_from_results():
    """README tables come from results/ (python -m emojax.experiments.report), never by hand."""
    from emojax.experiments import report
    readme = (ROOT / "README.md").read_text()
    assert report.render(readme, ROOT / "results") == readme
    for path, text in report.results_readmes(ROOT / "results").items():
        assert path.read_text() == text, path


def test_publishing_regenerates_the_readme_tables(tmp_path, monkeypatch):
    """A user who reproduces into results/ and then runs the tests finds README and results in sync."""
    import shutil

    from emojax import cli
    from emojax.experiments import report
    shutil.copytree(ROOT / "results" / "woellmer2012", tmp_path / "results" / "woellmer2012")
    (tmp_path / "README.md").write_text("# x\n")
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    monkeypatch.setattr(report, "ROOT", tmp_path)
    cli._refresh_readmes(tmp_path / "results" / "woellmer2012")
    readme = (tmp_path / "README.md").read_text()
    assert report.BEGIN in readme and readme == report.render(readme, tmp_path / "results")
    assert (tmp_path / "results" / "woellmer2012" / "README.md").is_file()
