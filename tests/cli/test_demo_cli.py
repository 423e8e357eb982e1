"""``vidgan demo``'s command line: what it refuses before serving anything."""

from __future__ import annotations

import sys

from typer.testing import CliRunner

from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state


def _invoke(*args: str):
    reset_state()
    return CliRunner().invoke(build_app(), list(args))


def test_demo_without_the_extra_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the extra were not installed
    result = _invoke("demo", str(tmp_path))
    assert result.exit_code == 2
    assert "pip install 'vidgan-kit[demo]'" in " ".join(result.output.split())


def test_demo_of_a_missing_folder_is_an_error_naming_it(tmp_path):
    result = _invoke("demo", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "nowhere does not exist" in result.output


def test_demo_of_a_folder_without_runs_says_what_it_looked_for(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    result = _invoke("demo", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "no run under" in " ".join(result.output.split())
