"""Shared fixtures: a small, fully real plugin of toy components for core tests.

The toy components are real torch modules registered through a real plugin object, so
the registry, recipe and CLI code paths are exercised exactly as with any plugin.
"""

from __future__ import annotations

import os

import pytest
import torch

from vidgan_kit import PluginHost

from .toy_plugin import ToyPlugin

# Two CPU cores are shared by xdist workers: one torch thread each avoids oversubscription.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def host() -> PluginHost:
    """Installed plugins plus the toy plugin, removed again after the test."""
    h = PluginHost.create()
    h.add_plugin(ToyPlugin(), "toy")
    h.register_components()
    yield h
    h.remove_plugin("toy")


@pytest.fixture
def toy_table() -> dict:
    """A minimal valid recipe table using only toy components."""
    return {
        "name": "toy",
        "video": {"frames": 4, "height": 8, "width": 8},
        "data": {"type": "toy_clips", "clips": 8},
        "model": {"type": "toy_gan", "generator": {"type": "toy_decoder", "hidden": 4}},
        "losses": {
            "recon": {"type": "toy_reconstruction", "weight": 2.0},
            "adv": {"type": "toy_hinge", "weight": 0.5, "start": 3},
        },
        "train": {"steps": 4},
    }
