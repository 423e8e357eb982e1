"""End-to-end fixtures: the installed plugins, the real CLI, the real tiny recipe.

Nothing here is a toy: runs train ``recipes/tiny.toml`` (every Dual-MTGAN component and
loss, 16×16, 4 frames) through the same entry points a user types, and every file lands
under pytest's temporary folders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import Result
from typer.testing import CliRunner

from vidgan_kit import PluginHost, VideoGeometry
from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state
from vidgan_kit.io import write_image, write_video
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe
from vidgan_kit.training import train

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "recipes" / "tiny.toml"

#: The tiny recipe's clip geometry (checked against the file by ``test_tiny_geometry``).
TINY_GEOMETRY = VideoGeometry(frames=4, channels=3, height=16, width=16)

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGAN_QUIET", "1")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """``cli("run", ...)``: the real app with every installed plugin, run from ``tmp_path``.

    The working directory is ``tmp_path`` so that a forgotten ``--out`` writes there,
    never into the repository.
    """
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        reset_state()
        return runner.invoke(build_app(), [str(a) for a in args])

    yield invoke
    reset_state()


def tiny_recipe(host: PluginHost, *overrides: str) -> Any:
    """``recipes/tiny.toml`` with ``--set``-style overrides, validated against ``host``."""
    table = apply_overrides(read_recipe_table(TINY), list(overrides))
    return validate_recipe(table, host.registry, source=str(TINY))


def make_host() -> PluginHost:
    """Every installed plugin, as the CLI loads them."""
    return PluginHost.create()


def train_tiny(run_dir: Path, *overrides: str, **kwargs: Any) -> Any:
    """Train the tiny recipe in-process (no CLI); returns the run context."""
    host = make_host()
    return train(tiny_recipe(host, *overrides), host=host, run_dir=run_dir, quiet=True, **kwargs)


def layered_run(run_dir: Path) -> None:
    """The tiny recipe with the layered content path, EMA from step 0, trained to its end."""
    host = make_host()
    table = read_recipe_table(TINY)
    table["model"]["content_encoder"] = {"type": "layered_content_encoder", "width": 4}
    table["model"]["decoder"] = {"type": "sprite_frame_decoder"}
    table["train"] = {**table.get("train", {}), "ema": {"enabled": True, "start": 0, "decay": 0.5}}
    train(validate_recipe(table, host.registry, source=str(TINY)), host=host, run_dir=run_dir, quiet=True)


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def synthetic_clips(geometry: VideoGeometry, count: int, seed: int = 7) -> torch.Tensor:
    """``count`` clips of the held-out synthetic_shapes split, ``[N, T, C, H, W]`` in [-1, 1]."""
    from vidgan_kit import load_registry

    dataset = load_registry().build("dataset", "synthetic_shapes", {}, geometry=geometry, split="test", seed=seed)
    return torch.stack([dataset.clip(i) for i in range(count)])


def write_inputs(folder: Path, geometry: VideoGeometry, *, stem: str = "", seed: int = 7) -> tuple[Path, Path]:
    """A target image (frame 0 of one clip) and a source video (another clip) as files."""
    clips = synthetic_clips(geometry, 2, seed)
    folder.mkdir(parents=True, exist_ok=True)
    image = write_image(folder / f"{stem}target.png", clips[0, 0])
    video = write_video(folder / f"{stem}source.mp4", clips[1], fps=8)
    return Path(image), Path(video)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (20 steps, EMA on), shared by a module's inference tests."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    train_tiny(
        run_dir,
        "train.steps=20",
        "train.sample_every=0",
        "train.checkpoint_every=20",
        "train.ema.enabled=true",
        "train.ema.decay=0.9",
    )
    return run_dir
