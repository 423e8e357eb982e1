"""``vidgan transfer`` over whole videos and folders, and ``vidgan generate --frames``, on a small
Dual-MTGAN whose decoder continues motion across windows (random weights: the plumbing is tested)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import vidgan_kit
from vidgan_kit import PluginHost, VideoGeometry
from vidgan_kit.checkpoint import save_checkpoint
from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state
from vidgan_kit.io import probe_video, read_video, write_image, write_video

T = 4
G = VideoGeometry(frames=T, height=16, width=16)
SLOTS = {
    "content_encoder": {"type": "layered_content_encoder", "width": 4},
    "motion_encoder": {"type": "conv3d_motion_encoder", "base_channels": 4, "motion_dim": 4},
    "temporal_generator": {"type": "basis_temporal_generator", "components": 3, "frame_code_dim": 8},
    "decoder": {"type": "sprite_frame_decoder", "motion_init_std": 0.1},
    "image_discriminator": {"type": "conditional_image_discriminator", "base_channels": 4},
    "video_discriminator": {"type": "conv3d_video_discriminator", "base_channels": 4},
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    registry = vidgan_kit.load_registry()
    torch.manual_seed(0)
    model = registry.build("model", "dual_mtgan", SLOTS, geometry=G, registry=registry)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "checkpoints", model, step=1, registry=registry)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.chdir(tmp_path)
    host = PluginHost.create()

    def invoke(*args: str | Path):  # noqa: ANN202
        reset_state(host=host)
        return CliRunner().invoke(build_app(), [str(a) for a in args])

    yield invoke
    reset_state()


def clip(frames: int, seed: int) -> torch.Tensor:
    return torch.rand(frames, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_whole_video_at_its_frame_rate_and_a_range(cli, checkpoint: Path, tmp_path: Path) -> None:
    image = write_image(tmp_path / "face.png", clip(1, 0)[0])
    video = write_video(tmp_path / "drive.mkv", clip(3 * T + 1, 1), fps=12)
    result = cli("transfer", checkpoint, "-i", image, "-v", video, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    info = probe_video(tmp_path / "out.mp4")
    assert (info.frames, round(info.fps)) == (3 * T + 1, 12)  # every frame, at the source's rate
    assert "wrote" in result.stdout and "12 fps" in result.stdout

    result = cli("transfer", checkpoint, "-i", image, "-v", video, "-o", tmp_path / "part.gif", "--start", "3",
                 "--frames", str(T + 2), "--fps", "5")
    assert result.exit_code == 0, result.output
    assert read_video(tmp_path / "part.gif").shape[0] == T + 2 and round(probe_video(tmp_path / "part.gif").fps) == 5

    for option, value, says in (("--start", "13", "--start 13"), ("--frames", "20", "--frames 20")):
        refused = cli("transfer", checkpoint, "-i", image, "-v", video, "-o", tmp_path / "bad.mp4", option, value)
        assert refused.exit_code == 2 and says in refused.stderr and "13 frames" in refused.stderr
    refused = cli("transfer", checkpoint, "-i", image, "-v", video, "-o", tmp_path / "abs.mp4", "--motion", "absolute")
    assert refused.exit_code == 2 and "offers relative" in refused.stderr
    assert not any((tmp_path / n).exists() for n in ("bad.mp4", "abs.mp4"))


def test_a_folder_of_images_writes_one_output_each_and_skips_a_bad_file(cli, checkpoint: Path, tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(2):
        write_image(faces / f"face{i}.png", clip(1, 10 + i)[0])
    (faces / "broken.png").write_text("not an image", encoding="utf-8")
    (faces / "notes.txt").write_text("not an image either, and not picked up", encoding="utf-8")
    video = write_video(tmp_path / "drive.mp4", clip(2 * T, 2), fps=8)
    out = tmp_path / "out"
    result = cli("transfer", checkpoint, "-i", faces, "-v", video, "-o", out, "--format", "gif")
    assert result.exit_code == 1, result.output
    assert "broken.png" in result.stderr and "1 of 3 transfers failed" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["face0.gif", "face1.gif"]
    assert all(read_video(out / f"face{i}.gif").shape[0] == 2 * T for i in range(2))

    before = (out / "face0.gif").read_bytes()
    again = cli("transfer", checkpoint, "-i", faces, "-v", video, "-o", out, "--format", "gif")
    assert again.exit_code == 2 and "face0.gif exists" in again.stderr and "--overwrite" in again.stderr
    assert (out / "face0.gif").read_bytes() == before


def test_a_folder_of_videos_and_one_that_is_bad(cli, checkpoint: Path, tmp_path: Path) -> None:
    image = write_image(tmp_path / "face.png", clip(1, 0)[0])
    drives = tmp_path / "drives"
    write_video(drives / "a.mp4", clip(T + 3, 3), fps=8)
    write_video(drives / "short.mp4", clip(2, 4), fps=8)  # shorter than a clip
    (drives / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    result = cli("transfer", checkpoint, "-i", image, "-v", drives, "-o", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "cut.mp4" in result.stderr and "short.mp4" in result.stderr and "2 of 3" in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.mp4"]
    assert probe_video(tmp_path / "out" / "a.mp4").frames == T + 3


def test_generate_samples_more_frames_than_a_clip(cli, checkpoint: Path, tmp_path: Path) -> None:
    image = write_image(tmp_path / "face.png", clip(1, 0)[0])
    result = cli("generate", checkpoint, "-i", image, "-n", "2", "--frames", str(3 * T), "-o", tmp_path / "s",
                 "--format", "gif")
    assert result.exit_code == 0, result.output
    assert read_video(tmp_path / "s" / "sample_001.gif").shape[0] == 3 * T
