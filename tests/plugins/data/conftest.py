"""Fixtures of the data-set tests; the file helpers live in ``clip_files``."""

from __future__ import annotations

import pytest

from vidgan_kit import load_registry
from vidgan_kit.registry import ComponentRegistry


@pytest.fixture(scope="session")
def registry() -> ComponentRegistry:
    """Every installed plugin's components, built-in data sets included (loaded once)."""
    return load_registry()
