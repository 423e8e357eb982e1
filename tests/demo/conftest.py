"""Fixtures of the demo's tests: a tiny trained run, servers on free ports, and Debian's Chromium.

The browser is installed by the set-up where it is missing (``apt-get install -y chromium``,
as root); the browser tests are skipped, with the reason, only where that cannot be done.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vidgan_kit.demo import start_in_thread

from ..e2e.conftest import train_tiny

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "demo_screenshot.py"


def _load_script() -> Any:
    """``benchmarks/demo_screenshot.py``: the browser launch the screenshot script uses too."""
    spec = importlib.util.spec_from_file_location("demo_screenshot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo_screenshot = _load_script()

APT_TIMEOUT_S = 900


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGAN_QUIET", "1")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding two copies of a tiny run (2 steps): ``runs/a`` and ``runs/b``."""
    root = tmp_path_factory.mktemp("demo") / "runs"
    os.environ["VIDGAN_QUIET"] = "1"
    train_tiny(root / "a", "train.steps=2", "train.sample_every=0", "train.checkpoint_every=2")
    shutil.copytree(root / "a", root / "b")
    return root


@pytest.fixture(scope="session")
def server(runs: Path) -> Iterator[Any]:
    """A demo of ``runs`` on a free port, shared by the browser tests."""
    demo = start_in_thread(runs)
    yield demo
    demo.stop()


def _install_chromium() -> str | None:
    """Install Debian's chromium where it is missing; the reason it cannot be, else None."""
    if demo_screenshot.CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None:
        return f"no {demo_screenshot.CHROMIUM} and no apt-get to install it"
    if os.geteuid() != 0:
        return f"no {demo_screenshot.CHROMIUM}; installing it (apt-get install chromium) needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    tail = ""
    for commands in ([install], [["apt-get", "update"], install]):  # the package lists may be stale: update once
        for command in commands:
            try:
                proc = subprocess.run(command, capture_output=True, text=True, timeout=APT_TIMEOUT_S, env=env,
                                      check=False)
            except subprocess.TimeoutExpired:
                return f"{' '.join(command)} took over {APT_TIMEOUT_S} s"
            tail = proc.stderr.strip()[-300:]
        if demo_screenshot.CHROMIUM.exists():
            return None
    return f"apt-get could not install chromium: {tail}"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium context (Debian's, through Playwright) with a fresh profile."""
    reason = _install_chromium()
    if reason is not None:
        pytest.skip(f"browser tests need Chromium: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = demo_screenshot.launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
        yield context
        context.close()


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    """The demo page, loaded; closed after the test."""
    page = demo_screenshot.open_page(browser, server.url)
    page.set_default_timeout(demo_screenshot.RENDER_TIMEOUT_S * 1000)
    yield page
    page.close()
