"""The family's entry point: ``vidgan_dual_mtgan.plugin`` registers the Dual-MTGAN names on its
own, under the names recipes and checkpoints use, and ``pyproject.toml`` announces it."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import vidgan_dual_mtgan.plugin as family
from vidgan_kit import PluginHost

REPO = Path(__file__).resolve().parents[3]

FAMILY = {
    ("model", "dual_mtgan"),
    ("encoder", "spatial_content_encoder"),
    ("encoder", "layered_content_encoder"),
    ("decoder", "warp_frame_decoder"),
    ("decoder", "sprite_frame_decoder"),
    ("loss", "content_consistency"),
    ("loss", "motion_consistency"),
    ("loss", "motion_segmentation"),
    ("loss", "part_trajectory"),
    ("loss", "background_plate"),
    ("loss", "keypoint_tracking"),
    ("loss", "object_tracking"),
}


def test_the_plugin_registers_the_family_and_nothing_else():
    host = PluginHost(env={})  # no entry points: the family's hook alone
    host.add_plugin(family, "dual_mtgan", distribution="vidgan-kit")
    host.register_components()
    assert {(e.kind, e.name) for e in host.registry} == FAMILY
    for entry in host.registry:
        assert entry.plugin == "dual_mtgan" and entry.distribution == "vidgan-kit" and entry.summary


def test_pyproject_announces_each_plugin_package_and_ships_it():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = project["project"]["entry-points"]["vidgan_kit"]
    assert entry_points["dual_mtgan"] == "vidgan_dual_mtgan.plugin"
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for name, module in entry_points.items():
        assert callable(getattr(importlib.import_module(module), "vidgan_register_components", None)), name
        assert f"{module.split('.')[0]}*" in include, module
