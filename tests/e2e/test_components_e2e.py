"""Swapping slots from the command line: a third-party D_V trains; a wrong role is refused."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from .conftest import TINY, Invoke, metrics

pytestmark = pytest.mark.slow

EXAMPLE = "frame_difference_video_discriminator"
needs_example = pytest.mark.skipif(
    importlib.util.find_spec("vidgan_example_discriminator") is None,
    reason="the example plugin is not installed: python -m pip install ./examples/vidgan-example-discriminator",
)


@needs_example
def test_third_party_video_discriminator_trains_in_the_assembly(cli: Invoke, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = cli(
        "run", TINY, "--out", run_dir, "--quiet",
        "--set", f"model.video_discriminator.type={EXAMPLE}",
        "--set", "train.steps=4", "--set", "train.checkpoint_every=2", "--set", "train.keep_checkpoints=2",
    )
    assert result.exit_code == 0, result.output

    first, last = (run_dir / "checkpoints" / f"step-{s:08d}" / "video_discriminator" for s in (2, 4))
    config = json.loads((last / "config.json").read_text(encoding="utf-8"))
    assert config["type"] == EXAMPLE
    assert config["kind"] == "discriminator"
    assert config["plugin"] == "example_discriminator"
    assert config["distribution"] == "vidgan-example-discriminator"
    assert config["class"] == "vidgan_example_discriminator.discriminator.FrameDifferenceVideoDiscriminator"
    assert config["params"]["base_channels"] == 8  # the recipe's option, passed through

    # It is in the discriminator phase: its weights move from one checkpoint to the next.
    a, b = load_file(str(first / "model.safetensors")), load_file(str(last / "model.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("features.") for k in a)
    params = [k for k in a if k.endswith(("bias", "weight", "weight.original"))]  # not spectral norm's u, v
    assert params and all(not torch.equal(a[k], b[k]) for k in params)
    assert all(line["loss/discriminator/video_adversarial"] > 0 for line in metrics(run_dir))

    index = json.loads((last.parent / "index.json").read_text(encoding="utf-8"))
    provenance = {c["path"]: c for c in index["components"]}
    assert provenance["model.video_discriminator"]["distribution"] == "vidgan-example-discriminator"
    env = json.loads((run_dir / "environment.json").read_text(encoding="utf-8"))
    assert any(p["distribution"] == "vidgan-example-discriminator" for p in env["plugins"])


def test_wrong_role_in_a_slot_is_a_clear_error(cli: Invoke, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = cli("run", TINY, "--out", run_dir, "--quiet",
                 "--set", "model.video_discriminator.type=conditional_image_discriminator")
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert "model.video_discriminator" in err
    assert "'conditional_image_discriminator' is not a VideoDiscriminator, which this slot needs" in err
    assert "conv3d_video_discriminator" in err  # what fits instead
    assert "Traceback" not in result.output
    assert not run_dir.exists()  # caught while validating the recipe: nothing was created


def test_wrong_role_is_caught_by_validate(cli: Invoke) -> None:
    result = cli("validate", TINY, "--set", "model.motion_encoder.type=conv_content_encoder")
    assert result.exit_code == 2, result.output
    assert "model.motion_encoder.type: 'conv_content_encoder' is not a MotionEncoder" in result.stderr


def test_component_of_another_kind_is_named(cli: Invoke) -> None:
    result = cli("validate", TINY, "--set", "model.video_discriminator.type=conv_content_encoder")
    assert result.exit_code == 2, result.output
    assert "'conv_content_encoder' is a encoder component, this slot needs a discriminator" in result.stderr


def test_wrong_role_is_caught_by_a_dry_run(cli: Invoke, tmp_path: Path) -> None:
    result = cli("run", TINY, "--dry-run", "--out", tmp_path / "run",
                 "--set", "model.image_discriminator.type=conv3d_video_discriminator")
    assert result.exit_code == 2, result.output
    assert "model.image_discriminator" in result.stderr and "is not a ImageDiscriminator" in result.stderr
    assert "conditional_image_discriminator" in result.stderr


def test_wrong_kind_in_a_slot_is_a_clear_error(cli: Invoke, tmp_path: Path) -> None:
    result = cli("run", TINY, "--out", tmp_path / "run", "--set", "model.video_discriminator.type=conv_content_encoder")
    assert result.exit_code == 2, result.output
    assert "model.video_discriminator.type" in result.stderr
    assert "unknown discriminator component 'conv_content_encoder'" in result.stderr
    assert "vidgan list-components --kind discriminator" in result.stderr
    assert not (tmp_path / "run").exists()
