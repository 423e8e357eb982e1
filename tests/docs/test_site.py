"""The site builds strictly and its generated pages are current."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from vidgan_kit.cli.docsgen import generate_pages

from .blocks import DOCS, REPO


def test_generated_pages_are_current() -> None:
    stale = [rel for rel, text in generate_pages().items()
             if not (DOCS / rel).is_file() or (DOCS / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"stale generated pages {stale}: run `python -m vidgan_kit.cli.docsgen`"


def test_mkdocs_build_strict(tmp_path) -> None:
    if shutil.which("mkdocs") is None and subprocess.run([sys.executable, "-c", "import mkdocs"]).returncode:
        pytest.skip("docs extras not installed: pip install -e '.[docs]'")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
