"""Options for components that need more than their defaults to be built in a contract test.

A new built-in component with required options must get an entry here; the contract
test fails with a clear message until it does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from vidgan_kit.registry import ComponentEntry
from vidgan_kit.testing import CONTRACT_GEOMETRY, ContractSettings

__all__ = ["example_params", "example_settings", "example_loss_model"]


def _required(entry: ComponentEntry) -> list[str]:
    return [n for n, f in entry.config_model.model_fields.items()
            if f.default is PydanticUndefined and f.default_factory is None]


def example_params(entry: ComponentEntry, tmp_path: Path) -> dict[str, Any]:
    from vidgan_builtin.data.examples import EXAMPLE_DATASETS
    from vidgan_builtin.data.examples import example_params as data_example

    if entry.kind == "dataset" and entry.name in EXAMPLE_DATASETS:
        return data_example(entry.name, tmp_path)
    missing = _required(entry)
    if missing:
        raise AssertionError(
            f"{entry.kind} component {entry.name!r} needs options {missing}; add an example to "
            "tests/testing/contract_examples.py"
        )
    return {}


#: Decoders whose content code is not the default vector: the code shape their encoder makes.
_CONTENT_SHAPES: dict[str, tuple[int, ...]] = {
    # spatial_content_encoder's map: the frame's channels, then 16 feature planes
    "warp_frame_decoder": (CONTRACT_GEOMETRY.channels + 16, CONTRACT_GEOMETRY.height, CONTRACT_GEOMETRY.width),
    "keypoint_frame_decoder": (CONTRACT_GEOMETRY.channels + 16, CONTRACT_GEOMETRY.height, CONTRACT_GEOMETRY.width),
    # layered_content_encoder's map with one part: image, background plate, 2 mask logits
    "sprite_frame_decoder": (2 * CONTRACT_GEOMETRY.channels + 2, CONTRACT_GEOMETRY.height, CONTRACT_GEOMETRY.width),
}


def example_settings(entry: ComponentEntry) -> ContractSettings:
    """Contract settings for components whose wiring differs from the defaults."""
    if entry.kind == "decoder" and entry.name in _CONTENT_SHAPES:
        return ContractSettings(content_shape=_CONTENT_SHAPES[entry.name])
    return ContractSettings()


#: Losses that need a model with particular slots: the dual_mtgan options they are checked with.
_LOSS_MODELS: dict[str, dict[str, Any]] = {
    "motion_segmentation": {
        "content_encoder": {"type": "layered_content_encoder", "width": 8},
        "decoder": {"type": "sprite_frame_decoder"},
    },
}
_LOSS_MODELS["part_trajectory"] = _LOSS_MODELS["background_plate"] = _LOSS_MODELS["motion_segmentation"]
_LOSS_MODELS["keypoint_tracking"] = {
    **_LOSS_MODELS["motion_segmentation"],
    "motion_encoder": {"type": "keypoint_motion_encoder", "width": 8, "hidden": 16},
}
_LOSS_MODELS["object_tracking"] = {
    **_LOSS_MODELS["motion_segmentation"],
    "motion_encoder": {"type": "keypoint_motion_encoder", "width": 8, "hidden": 16, "orientation": True},
}
_LOSS_MODELS["keypoint_equivariance"] = {
    "content_encoder": {"type": "spatial_content_encoder", "features": 4, "width": 8},
    "decoder": {"type": "keypoint_frame_decoder", "keypoints": 3, "width": 8, "motion_width": 8},
}


# A family's own loss reads its own model's outputs: MoCoGAN's single-frame term.
_LOSS_MODELS["frame_adversarial"] = {"type": "mocogan"}


def example_loss_model(entry: ComponentEntry) -> dict[str, Any] | None:
    """Options of a loss's contract model, dual_mtgan unless they name another ``type`` (None:
    the default model will do)."""
    return _LOSS_MODELS.get(entry.name)
