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
    woellmer = ROOT / "results" / "woellmer2012" / "README.md"
    if woellmer.is_file():
        assert report.woellmer_readme(ROOT / "results") == woellmer.read_text()
