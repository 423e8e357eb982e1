"""Test helpers for plugin authors: per-kind contracts and plugin registration in tests."""

from .contracts import CONTRACT_GEOMETRY, ContractSettings, build_component, check_component
from .plugins import registered_plugin

__all__ = ["CONTRACT_GEOMETRY", "ContractSettings", "build_component", "check_component", "registered_plugin"]
