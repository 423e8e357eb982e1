"""The family's entry point: ``vidgan_dual_mtgan.plugin`` registers the Dual-MTGAN names on its
own, under the names recipes and checkpoints use, and ``pyproject.toml`` announces it."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

import vidgan_dual_mtgan.plugin as family_plugin
from vidgan_kit import PluginHost
from vidgan_kit.config import slot_fields
from vidgan_kit.registry import ComponentRegistry
from vidgan_dual_mtgan import DualMTGANConfig

from tests.plugins.losses.loss_context import assert_no_schedule_options, assert_registered

REPO = Path(__file__).resolve().parents[3]

FAMILY = {
    ("model", "dual_mtgan"),
    ("encoder", "spatial_content_encoder"),
    ("encoder", "layered_content_encoder"),
    ("decoder", "warp_frame_decoder"),
    ("decoder", "keypoint_frame_decoder"),
    ("decoder", "sprite_frame_decoder"),
    ("loss", "content_consistency"),
    ("loss", "motion_consistency"),
    ("loss", "motion_segmentation"),
    ("loss", "part_trajectory"),
    ("loss", "background_plate"),
    ("loss", "keypoint_tracking"),
    ("loss", "object_tracking"),
    ("loss", "keypoint_equivariance"),
}


@pytest.fixture(scope="module")
def family() -> ComponentRegistry:
    """A registry that holds what the family's hook registers, and nothing else (no entry points)."""
    host = PluginHost(env={})
    host.add_plugin(family_plugin, "dual_mtgan", distribution="vidgan-kit")
    return host.register_components()


def test_the_plugin_registers_the_family_and_nothing_else(family):
    assert {(e.kind, e.name) for e in family} == FAMILY
    for entry in family:
        assert entry.plugin == "dual_mtgan" and entry.distribution == "vidgan-kit" and entry.summary


def test_every_option_is_documented(family):
    slots = set(slot_fields(DualMTGANConfig))  # a slot says what it holds in its Slot annotation
    for entry in family:
        for field_name, field in entry.config_model.model_fields.items():
            assert field.description or field_name in slots, f"{entry.name}.{field_name} has no description"


def test_the_losses_are_generator_terms_without_schedule_options(family):
    losses = {name: ("generator",) for kind, name in FAMILY if kind == "loss"}
    assert_registered(family, losses, "dual_mtgan")
    assert_no_schedule_options(family, losses)


def test_pyproject_announces_each_plugin_package_and_ships_it():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = project["project"]["entry-points"]["vidgan_kit"]
    assert entry_points["dual_mtgan"] == "vidgan_dual_mtgan.plugin"
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for name, module in entry_points.items():
        assert callable(getattr(importlib.import_module(module), "vidgan_register_components", None)), name
        assert f"{module.split('.')[0]}*" in include, module
