"""The page's files install with the package, and a missing extra is named."""

from __future__ import annotations

import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from vidgan_kit.demo import require_extra
from vidgan_kit.errors import VidganError

REPO = Path(__file__).resolve().parents[2]


def test_every_page_file_is_package_data():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    files = [p.name for p in (REPO / "vidgan_kit" / "demo").iterdir() if p.is_file() and p.suffix != ".py"]
    assert {"page.html", "page.js", "page.css"} <= set(files)
    assert all(any(fnmatch(name, pattern) for pattern in patterns["vidgan_kit.demo"]) for name in files)


def test_the_demo_extra_is_in_pyproject():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {d.split(">")[0] for d in extras["demo"]} == {"starlette", "uvicorn", "python-multipart"}


@pytest.mark.parametrize("module", ["starlette", "uvicorn", "multipart"])
def test_a_missing_extra_names_the_install_command(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(VidganError, match=r"pip install 'vidgan-kit\[demo\]'"):
        require_extra()
