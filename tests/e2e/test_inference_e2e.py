"""Using a trained tiny run: ``vidgan transfer`` / ``vidgan generate`` and the Python pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidgan_kit import VideoGeometry
from vidgan_kit.inference import load_pipeline
from vidgan_kit.io import read_image, read_video, write_image, write_video

from .conftest import TINY_GEOMETRY, Invoke, synthetic_clips, write_inputs

pytestmark = pytest.mark.slow

T, H, W = TINY_GEOMETRY.frames, TINY_GEOMETRY.height, TINY_GEOMETRY.width


def quiet_pipeline(run: Path, notes: list[str] | None = None):  # noqa: ANN201
    return load_pipeline(run, notes=(notes if notes is not None else []).append)


# -- vidgan transfer ---------------------------------------------------------------------


def test_transfer_cli_writes_the_right_clip(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, video = write_inputs(tmp_path / "in", TINY_GEOMETRY)
    out = tmp_path / "out" / "transfer.mp4"
    result = cli("transfer", trained_run, "--image", image, "--video", video, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    clip = read_video(out)
    assert clip.shape == (T, 3, H, W)
    assert -1 <= float(clip.min()) and float(clip.max()) <= 1


def test_transfer_cli_gif_by_extension(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, video = write_inputs(tmp_path, TINY_GEOMETRY)
    out = tmp_path / "transfer.gif"
    result = cli("transfer", trained_run, "-i", image, "-v", video, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    clip = read_video(out)
    assert clip.shape == (T, 3, H, W)
    # What the CLI wrote is the pipeline's answer, up to GIF's 256-colour palette (an
    # untrained-looking 16x16 clip is mostly noise, which H.264 would not keep this well).
    expected = quiet_pipeline(trained_run).transfer(image, video)
    assert (clip - expected).abs().mean() < 0.03


def test_transfer_cli_takes_model_options_that_change_no_weights(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, video = write_inputs(tmp_path, TINY_GEOMETRY)
    option = "temporal_generator.relative_to_first=true"
    assert cli("transfer", trained_run, "-i", image, "-v", video, "-o", tmp_path / "a.gif",
               "--model-set", option).exit_code == 0
    expected = load_pipeline(trained_run, notes=[].append, options=[option]).transfer(image, video)
    plain = quiet_pipeline(trained_run).transfer(image, video)
    got = read_video(tmp_path / "a.gif")
    assert (expected - plain).abs().mean() > 0.01  # the option does change the transfer ...
    assert (got - expected).abs().mean() < 0.5 * (got - plain).abs().mean()  # ... and the CLI applied it
    result = cli("transfer", trained_run, "-i", image, "-v", video, "-o", tmp_path / "b.gif",
                 "--model-set", "temporal_generator.hidden=4")
    assert result.exit_code != 0 and "do not fit" in result.stderr  # an option that changes weights is refused


def test_transfer_cli_is_deterministic(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, video = write_inputs(tmp_path, TINY_GEOMETRY)
    for name in ("a.gif", "b.gif"):
        assert cli("transfer", trained_run, "-i", image, "-v", video, "-o", tmp_path / name).exit_code == 0
    assert torch.equal(read_video(tmp_path / "a.gif"), read_video(tmp_path / "b.gif"))


def test_transfer_cli_resizes_other_sizes_with_a_note(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, _ = write_inputs(tmp_path, VideoGeometry(frames=T, height=24, width=32))
    _, video = write_inputs(tmp_path, VideoGeometry(frames=T + 3, height=32, width=32), stem="long_")
    out = tmp_path / "out.mp4"
    result = cli("transfer", trained_run, "-i", image, "-v", video, "-o", out, "--start", "2", "--frames", str(T))
    assert result.exit_code == 0, result.output
    assert "note:" in result.stderr
    assert f"resized 24x32 to the model's {H}x{W}" in result.stderr
    assert result.stderr.count(f"resized 32x32 to the model's {H}x{W}") == 1  # once per video, not per frame
    assert read_video(out).shape == (T, 3, H, W)
    # The tiny recipe's conv decoder cannot continue motion past its clip: the whole video is refused.
    refused = cli("transfer", trained_run, "-i", image, "-v", video, "-o", tmp_path / "all.mp4")
    assert refused.exit_code == 2
    assert f"has {T + 3} frames" in refused.stderr and f"--frames {T}" in refused.stderr
    assert "conv_frame_decoder" in refused.stderr and not (tmp_path / "all.mp4").exists()


def test_transfer_cli_too_short_video(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, _ = write_inputs(tmp_path, TINY_GEOMETRY)
    short = write_video(tmp_path / "short.mp4", synthetic_clips(TINY_GEOMETRY, 1)[0, :2])
    out = tmp_path / "out.mp4"
    result = cli("transfer", trained_run, "-i", image, "-v", short, "-o", out)
    assert result.exit_code == 2, result.output
    assert "has 2 frame(s)" in result.stderr and f"needs at least {T}" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_transfer_cli_never_overwrites_unasked(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, video = write_inputs(tmp_path, TINY_GEOMETRY)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    refused = cli("transfer", trained_run, "-i", image, "-v", video, "-o", out)
    assert refused.exit_code == 2
    assert "exists" in refused.stderr and "--overwrite" in refused.stderr
    assert out.read_bytes() == b"precious"
    replaced = cli("transfer", trained_run, "-i", image, "-v", video, "-o", out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert read_video(out).shape == (T, 3, H, W)


# -- vidgan generate ---------------------------------------------------------------------


def test_generate_cli_writes_n_samples_and_a_grid(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    image, _ = write_inputs(tmp_path, TINY_GEOMETRY)
    out = tmp_path / "samples"
    result = cli("generate", trained_run, "--image", image, "-n", "3", "--seed", "0", "--out", f"{out}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["grid.mp4", "sample_000.mp4", "sample_001.mp4", "sample_002.mp4"]
    clips = [read_video(out / f"sample_{i:03d}.mp4") for i in range(3)]
    assert all(c.shape == (T, 3, H, W) for c in clips)
    grid = read_video(out / "grid.mp4")
    assert grid.shape[0] == T and grid.shape[3] > 3 * W  # one row of three clips

    # Seeded: the same seed writes the same clips (compared losslessly as GIF frames).
    for folder in ("a", "b"):
        args = ("generate", trained_run, "-i", image, "-n", "3", "--seed", "0", "--format", "gif", "-o", tmp_path / folder)
        assert cli(*args).exit_code == 0
    for i in range(3):
        assert torch.equal(read_video(tmp_path / "a" / f"sample_{i:03d}.gif"), read_video(tmp_path / "b" / f"sample_{i:03d}.gif"))

    again = cli("generate", trained_run, "-i", image, "-n", "3", "--seed", "0", "-o", out)
    assert again.exit_code == 2 and "--overwrite" in again.stderr


# -- the Python API ----------------------------------------------------------------------


def test_pipeline_transfer_and_sample(trained_run: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    pipe = quiet_pipeline(trained_run, notes)
    assert pipe.geometry == TINY_GEOMETRY and pipe.step == 20
    assert notes == []  # the run has EMA weights, and they are used
    image, video = write_inputs(tmp_path, TINY_GEOMETRY)

    clip = pipe.transfer(image, video)  # from files
    assert clip.shape == (T, 3, H, W) and clip.dtype == torch.float32
    assert torch.equal(clip, pipe.transfer(image, video))  # deterministic
    assert torch.equal(clip, pipe.transfer(read_image(image), read_video(video)))  # tensors: the same
    assert -1 <= float(clip.min()) and float(clip.max()) <= 1

    clips = pipe.sample(image, 3, seed=0)
    assert clips.shape == (3, T, 3, H, W)
    assert torch.equal(clips, pipe.sample(image, 3, seed=0))
    assert not torch.equal(clips, pipe.sample(image, 3, seed=1))
    assert not torch.equal(clips[0], clips[1])  # n different motions


def test_pipeline_fits_other_sizes_with_notes(trained_run: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    pipe = quiet_pipeline(trained_run, notes)
    big = synthetic_clips(VideoGeometry(frames=T + 2, height=32, width=32), 2)
    clip = pipe.transfer(big[0, 0], big[1], start=1, frames=T)
    assert clip.shape == (T, 3, H, W)
    assert torch.equal(clip, pipe.transfer(big[0, 0], big[1, 1 : T + 1]))
    assert any("resized 32x32" in n for n in notes)
    write_image(tmp_path / "grey.png", big[0, 0].mean(0, keepdim=True))
    assert pipe.sample(tmp_path / "grey.png", 2, seed=0).shape == (2, T, 3, H, W)


def test_pipeline_too_short_video(trained_run: Path) -> None:
    from vidgan_kit.errors import VidganError

    pipe = quiet_pipeline(trained_run)
    clips = synthetic_clips(TINY_GEOMETRY, 2)
    with pytest.raises(VidganError, match=rf"has {T - 1} frame\(s\); the model needs at least {T}"):
        pipe.transfer(clips[0, 0], clips[1, : T - 1])
