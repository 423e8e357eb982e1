"""Exact resume with the real Dual-MTGAN tiny recipe: every parameter bit-identical.

The trainer's own resume tests use toy components; this one runs every built-in Dual-MTGAN
component and loss (spectral-norm power iterations, the reparameterised motion draw, the
prior draw, S_I's random frames, the loss schedule, EMA), the places where an RNG stream
or a buffer that is not saved would show up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from .conftest import metrics, train_tiny

pytestmark = pytest.mark.slow

N = 8
COMMON = (
    f"train.steps={N}",
    "train.checkpoint_every=3",
    "train.sample_every=0",
    "train.ema.enabled=true",
    "train.ema.decay=0.9",
    "train.ema.start=2",
    "losses.motion_consistency.start=4",  # switches on after the resume point
    "losses.video_adversarial.ramp=4",
)


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def losses(run_dir: Path) -> list[dict[str, float]]:
    return [{k: v for k, v in line.items() if k.startswith(("loss/", "diag/"))} for line in metrics(run_dir)]


@pytest.mark.parametrize(
    ("stop", "extra"),
    [
        (3, ()),  # stopped right after a checkpoint
        (5, ()),  # killed between checkpoints: steps 4-5 are done again
        (5, ("train.channels_last=true",)),
    ],
    ids=["at-checkpoint", "between-checkpoints", "channels-last"],
)
def test_resume_is_bit_identical(tmp_path: Path, stop: int, extra: tuple[str, ...]) -> None:
    straight = train_tiny(tmp_path / "straight", *COMMON, *extra)
    first = train_tiny(tmp_path / "resumed", *COMMON, *extra, max_steps=stop)
    assert first.status == "interrupted" and first.step == stop
    resumed = train_tiny(tmp_path / "resumed", *COMMON, *extra, resume=True)
    assert resumed.status == "completed" and resumed.step == N

    a, b = state(straight.model), state(resumed.model)
    assert a.keys() == b.keys()
    params = {name for name, _ in straight.model.named_parameters()}
    assert params and params <= a.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"differ after resume: {differ}"

    # The final checkpoints (weights, EMA, optimiser moments, RNG states) agree tensor for
    # tensor (not byte for byte: safetensors writes its metadata in no fixed order), and
    # the logs agree value for value.
    ckpt = f"checkpoints/step-{N:08d}"
    files = sorted((tmp_path / "straight" / ckpt).rglob("*.safetensors"))
    assert len(files) == 6 + 4 + 1  # six slots, EMA of the four generator slots, training state
    for path in files:
        rel = path.relative_to(tmp_path / "straight")
        x, y = load_file(str(path)), load_file(str(tmp_path / "resumed" / rel))
        assert x.keys() == y.keys(), rel
        assert all(torch.equal(x[k], y[k]) for k in x), rel
    assert (tmp_path / "straight" / ckpt / "ema").is_dir()
    assert losses(tmp_path / "straight") == losses(tmp_path / "resumed")
    index = json.loads((tmp_path / "resumed" / ckpt / "index.json").read_text(encoding="utf-8"))
    assert index["step"] == N
