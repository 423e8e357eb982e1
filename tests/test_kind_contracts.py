"""What a kind's contract receives: the settings' wiring values and the shared checks."""

from __future__ import annotations

import pytest
import torch

from vidgan_kit.kind_contracts import ContractSettings, assert_same, tensors_in


def test_wiring_values_come_from_the_named_fields_or_the_wiring_table():
    settings = ContractSettings()
    assert settings.wired("motion_dim") == 8 and settings.wired("content_shape") == (16,)
    other = settings.with_wiring(motion_dim=5, points=3)
    assert other.motion_dim == 5 and other.wired("points") == 3
    assert settings.wiring == {} and settings.motion_dim == 8  # the original is unchanged
    with pytest.raises(AssertionError, match=r"no value for the wiring keyword 'points': pass ContractSettings\(wiring="):
        settings.wired("points")


def test_outputs_compare_tensor_by_tensor():
    a = {"x": torch.ones(2), "y": (torch.zeros(1), torch.arange(3))}
    assert [t.shape for t in tensors_in(a)] == [(2,), (1,), (3,)]
    assert_same("thing", a, {"x": torch.ones(2), "y": (torch.zeros(1), torch.arange(3))}, "differ")
    with pytest.raises(AssertionError, match="thing: differ"):
        assert_same("thing", a, {"x": torch.ones(2), "y": (torch.zeros(1), torch.arange(1, 4))}, "differ")
    with pytest.raises(AssertionError, match="thing: differ"):
        assert_same("thing", a, {"x": torch.ones(2)}, "differ")
