"""Fixtures of the data-set tests; the file helpers live in ``clip_files``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vidgan_kit import PluginHost, load_registry
from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state
from vidgan_kit.registry import ComponentRegistry


@pytest.fixture(scope="session")
def registry() -> ComponentRegistry:
    """Every installed plugin's components, built-in data sets included (loaded once)."""
    return load_registry()


@pytest.fixture(scope="module")
def host() -> PluginHost:
    """The installed plugins, as `vidgan` loads them (once per module)."""
    return PluginHost.create()


@pytest.fixture
def cli(host):
    """Invoke `vidgan` in-process; returns a function(*args) -> Result."""
    runner = CliRunner()

    def invoke(*args: object):
        reset_state(host=host)
        return runner.invoke(build_app(), [str(a) for a in args])

    yield invoke
    reset_state()
