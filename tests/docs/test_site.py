"""The site builds strictly and its generated pages are current."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from vidgan_kit.cli import docsgen
from vidgan_kit.cli.docsgen import generate_pages

from .blocks import DOCS, REPO


def test_generated_pages_are_current() -> None:
    stale = [rel for rel, text in generate_pages().items()
             if not (DOCS / rel).is_file() or (DOCS / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"stale generated pages {stale}: run `python -m vidgan_kit.cli.docsgen`"


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), (["-x"], 2), (["a", "b"], 2)])
def test_docsgen_writes_nothing_for_an_option(tmp_path, monkeypatch, capsys, args, code) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["docsgen", *args])
    with pytest.raises(SystemExit) as stop:
        docsgen.main()
    assert stop.value.code == code and "usage:" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_docsgen_writes_into_the_folder_it_is_given(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["docsgen", str(tmp_path / "site")])
    docsgen.main()
    assert (tmp_path / "site" / "reference" / "components.md").is_file()


def test_mkdocs_build_strict(tmp_path) -> None:
    if shutil.which("mkdocs") is None and subprocess.run([sys.executable, "-c", "import mkdocs"]).returncode:
        pytest.skip("docs extras not installed: pip install -e '.[docs]'")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
