"""``vidgan run recipes/tiny.toml``: a complete run directory, learning, no overwrite, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from vidgan_kit.io import read_video

from .conftest import TINY, TINY_GEOMETRY, Invoke, metrics

pytestmark = pytest.mark.slow

STEPS = 40
#: Settings under which the reconstruction loss falls reliably in 40 steps: the last five
#: logged values averaged 0.59-0.79 of the first five over seeds 0-5 (the test uses seed 0:
#: 0.72). The recipe's own batch 4 and lr 1e-3 gave 0.93 (seed 0, 30 steps), and batch 16
#: at lr 1e-3 0.84-0.92: too close to 1 to assert on.
LEARN = ("loader.batch_size=8", "optimizers.generator.lr=3e-3")
INTERVALS = ("train.sample_every=20", "train.checkpoint_every=20", "train.keep_checkpoints=2")
SLOTS = (
    "content_encoder",
    "motion_encoder",
    "temporal_generator",
    "decoder",
    "image_discriminator",
    "video_discriminator",
)


def sets(*overrides: str) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One ``vidgan run`` of the tiny recipe for 40 steps; (run directory, output)."""
    from typer.testing import CliRunner

    from vidgan_kit.cli import build_app
    from vidgan_kit.cli._common import reset_state

    run_dir = tmp_path_factory.mktemp("cli") / "run"
    reset_state()
    try:
        result = CliRunner().invoke(
            build_app(),
            ["run", str(TINY), "--out", str(run_dir), "--quiet",
             *sets(f"train.steps={STEPS}", *LEARN, *INTERVALS)],
        )
    finally:
        reset_state()
    assert result.exit_code == 0, result.output
    return run_dir, result.output


def test_run_directory_is_complete(cli_run: tuple[Path, str]) -> None:
    run_dir, _ = cli_run
    recipe = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    assert recipe["name"] == "tiny" and recipe["train"]["steps"] == STEPS
    assert recipe["loader"]["batch_size"] == 8  # the overrides are part of the resolved recipe
    assert (run_dir / "recipe.toml").read_text(encoding="utf-8") == TINY.read_text(encoding="utf-8")
    env = json.loads((run_dir / "environment.json").read_text(encoding="utf-8"))
    assert {"python", "torch", "vidgan_kit", "device", "plugins"} <= set(env)
    assert any(p["name"] == "dual_mtgan" for p in env["plugins"])
    lines = metrics(run_dir)
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))  # log_every = 1 in tiny.toml


@pytest.mark.parametrize("step", [20, 40])
@pytest.mark.parametrize("ext", ["gif", "mp4"])
def test_samples_decode(cli_run: tuple[Path, str], step: int, ext: str) -> None:
    run_dir, _ = cli_run
    video = read_video(run_dir / "samples" / f"step-{step:06d}.{ext}")
    # A grid of clips: as many frames as a clip, larger than one clip.
    assert video.shape[0] == TINY_GEOMETRY.frames
    assert video.shape[1] == 3 and video.shape[2] > TINY_GEOMETRY.height and video.shape[3] > TINY_GEOMETRY.width
    assert -1.0 <= float(video.min()) and float(video.max()) <= 1.0


def test_checkpoints_hold_every_slot(cli_run: tuple[Path, str]) -> None:
    run_dir, _ = cli_run
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["step-00000020", "step-00000040"]
    recipe = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    for name in checkpoints:
        ckpt = run_dir / "checkpoints" / name
        assert json.loads((ckpt / "index.json").read_text(encoding="utf-8"))["step"] == int(name[5:])
        for slot in SLOTS:
            config = json.loads((ckpt / slot / "config.json").read_text(encoding="utf-8"))
            assert config["slot"] == slot
            assert config["type"] == recipe["model"]["params"][slot]["type"]
            assert config["distribution"] == "vidgan-kit"
            with safe_open(str(ckpt / slot / "model.safetensors"), framework="pt") as f:
                keys = list(f.keys())
                assert keys and all(f.get_tensor(k).isfinite().all() for k in keys)


def test_reconstruction_loss_falls(cli_run: tuple[Path, str]) -> None:
    run_dir, _ = cli_run
    values = [line["loss/generator/reconstruction"] for line in metrics(run_dir)]
    first, last = sum(values[:5]) / 5, sum(values[-5:]) / 5
    assert last < 0.9 * first, f"reconstruction {first:.3f} -> {last:.3f}: {values}"


def test_no_overwrite_then_resume(cli_run: tuple[Path, str], cli: Invoke, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(cli_run[0], run_dir)
    before = (run_dir / "metrics.jsonl").read_bytes()
    args = ["run", TINY, "--out", run_dir, "--quiet", *sets(*LEARN, *INTERVALS)]

    again = cli(*args, *sets(f"train.steps={STEPS}"))
    assert again.exit_code == 2, again.output
    assert "already holds a run" in again.stderr and "--resume" in again.stderr
    assert "Traceback" not in again.output
    assert (run_dir / "metrics.jsonl").read_bytes() == before  # untouched

    longer = cli(*args, "--resume", *sets(f"train.steps={STEPS + 10}"))
    assert longer.exit_code == 0, longer.output
    assert [line["step"] for line in metrics(run_dir)] == list(range(1, STEPS + 11))
    assert (run_dir / "checkpoints" / f"step-{STEPS + 10:08d}" / "index.json").is_file()
    assert json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))["train"]["steps"] == STEPS + 10
    assert list(run_dir.glob("environment-resume-*.json"))


def test_resume_with_another_recipe_is_refused(cli_run: tuple[Path, str], cli: Invoke, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(cli_run[0], run_dir)
    changed = cli("run", TINY, "--out", run_dir, "--quiet", "--resume",
                  *sets(*LEARN, *INTERVALS, f"train.steps={STEPS + 10}", "optimizers.generator.lr=1e-4"))
    assert changed.exit_code == 2, changed.output
    assert "optimizers.generator.lr" in changed.stderr and "Only train.steps," in changed.stderr


def test_tiny_geometry() -> None:
    import tomllib

    video = tomllib.loads(TINY.read_text(encoding="utf-8"))["video"]
    assert (video["frames"], video["height"], video["width"]) == (
        TINY_GEOMETRY.frames, TINY_GEOMETRY.height, TINY_GEOMETRY.width
    )


def slot_weights(run_a: Path, run_b: Path) -> list[tuple[Path, dict, dict]]:
    """Every slot's raw and EMA tensors in two runs' last checkpoints: (path in the checkpoint,
    run A's, run B's), the assembly's own state left out."""
    from safetensors.torch import load_file

    from vidgan_kit.checkpoint import list_checkpoints

    a, b = (list_checkpoints(run)[-1][1] for run in (run_a, run_b))
    files = sorted(p.relative_to(a) for p in a.rglob("model.safetensors") if p.parent.name != "_assembly")
    assert len(files) > 6  # every slot, raw and EMA
    return [(rel, load_file(str(a / rel)), load_file(str(b / rel))) for rel in files]


def test_tracking_the_posterior_with_the_ema_weights_changes_no_training_weight(tmp_path: Path) -> None:
    """sample_from = "posterior" observes E_M's posteriors after every step (posterior_every = 1)
    with the EMA weights: the raw and EMA weights of every slot end bit-identical to a run
    without it, and the tracked moments are saved with the model."""
    from safetensors.torch import load_file

    from vidgan_kit.checkpoint import list_checkpoints

    from .conftest import train_tiny

    ema = ("train.ema.enabled=true", "train.ema.start=0", "train.ema.decay=0.5")
    train_tiny(tmp_path / "prior", *ema, "model.sample_from=prior")
    train_tiny(tmp_path / "posterior", *ema, "model.sample_from=posterior", "model.posterior_every=1")
    for _, a, b in slot_weights(tmp_path / "prior", tmp_path / "posterior"):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    last = list_checkpoints(tmp_path / "posterior")[-1][1]
    own = load_file(str(last / "_assembly" / "model.safetensors"))
    assert float(own["posterior_weight"]) > 0 and bool(torch.isfinite(own["posterior_square_sum"]).all())
