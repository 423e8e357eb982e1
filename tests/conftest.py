"""Shared fixtures: the trainer tests' toy components (tests/training/toys.py) for core tests.

The toy components are real torch modules registered through a real plugin object, so
the registry, recipe and CLI code paths are exercised exactly as with any plugin.
"""

from __future__ import annotations

import os

import pytest
import torch

from vidgan_kit import PluginHost

from .training.toys import ToyPlugin

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
        "data": {"type": "tr_clips", "size": 8},
        "model": {"type": "tr_gan", "generator": {"type": "tr_conv", "hidden": 4}},
        "losses": {
            "recon": {"type": "tr_recon", "weight": 2.0},
            "adv": {"type": "tr_hinge_g", "weight": 0.5, "start": 3},
            "adv_d": {"type": "tr_hinge_d", "weight": 0.5, "start": 3},
        },
        "train": {"steps": 4},
    }
