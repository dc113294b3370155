"""The README's commands are the ones CI runs."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _indented_commands(text):
    return [line.strip() for line in text.splitlines() if line.startswith("    ") and line.strip()]


def test_readme_opens_with_the_main_job_the_report_and_the_test_command_and_ci_runs_the_latter():
    head = (ROOT / "README.md").read_text().split("---")[0]
    commands = _indented_commands(head)
    main, *results, test = commands
    assert "snakemake" in main and "torch==2.13.0" in main
    assert any(c.startswith("snakemake --report report.html") for c in results), results
    assert "pytest" in test and "torch==2.13.0" in test
    assert test in (ROOT / ".ci/run").read_text()
