"""CI runs exactly the README's test command."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = [line.strip() for line in (REPO / "README.md").read_text().splitlines()]
    test_cmd = next(line for line in readme if line.startswith("python -m pip install") and "pytest" in line)
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert test_cmd in ci
