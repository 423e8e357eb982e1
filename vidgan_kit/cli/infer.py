"""``vidgan transfer`` and ``vidgan generate``: use a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import VidganError
from ._common import STATE, ModelSetOption, PluginOption, err, out, user_errors

__all__ = ["register"]

CkptArg = Annotated[Path, typer.Argument(help="A run directory (latest checkpoint) or a checkpoint directory.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1, or auto.")]
FpsOpt = Annotated[int, typer.Option("--fps", min=1, help="Frames per second of the written video.")]
VIDEO_SUFFIXES = (".mp4", ".gif", ".webm", ".avi")


def _check_output(path: Path, overwrite: bool) -> None:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VidganError(f"--out {path}: choose a video file ending in {', '.join(VIDEO_SUFFIXES)}.")
    if path.exists() and not overwrite:
        raise VidganError(f"{path} exists; pass --overwrite to replace it, or choose another --out.")


@user_errors
def transfer(
    checkpoint: CkptArg,
    image: Annotated[Path, typer.Option("--image", "-i", help="Target image (appearance).")],
    video: Annotated[Path, typer.Option("--video", "-v", help="Source video (motion).")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output video (.mp4 or .gif).")],
    device: DeviceOpt = "cpu",
    fps: FpsOpt = 8,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")] = False,
    model_set: ModelSetOption = None,
    plugin: PluginOption = None,
) -> None:
    """Deterministic motion transfer: the image's appearance with the video's motion."""
    from ..inference import load_pipeline
    from ..io import write_video

    _check_output(out_path, overwrite)
    pipe = load_pipeline(checkpoint, registry=STATE.host(plugin).registry, device=device, notes=err.print,
                         options=model_set or [])
    result = pipe.transfer(image, video)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_video(out_path, result, fps=fps)
    out.print(f"wrote {out_path} ({result.shape[0]} frames, {result.shape[-1]}x{result.shape[-2]})")


@user_errors
def generate(
    checkpoint: CkptArg,
    image: Annotated[Path, typer.Option("--image", "-i", help="Target image (appearance).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder (one file per sample plus a grid).")],
    n: Annotated[int, typer.Option("-n", "--num", min=1, help="Number of samples.")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the motion samples.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="mp4 or gif.")] = "mp4",
    device: DeviceOpt = "cpu",
    fps: FpsOpt = 8,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing files in the folder.")] = False,
    model_set: ModelSetOption = None,
    plugin: PluginOption = None,
) -> None:
    """Stochastic motion generation: n plausible videos of one image, motion sampled from N(0, I)."""
    from ..inference import load_pipeline
    from ..io import video_grid, write_video

    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in VIDEO_SUFFIXES:
        raise VidganError(f"--format {fmt}: choose one of {', '.join(s[1:] for s in VIDEO_SUFFIXES)}.")
    names = [out_dir / f"sample_{i:03d}{suffix}" for i in range(n)] + [out_dir / f"grid{suffix}"]
    clash = [p for p in names if p.exists()]
    if clash and not overwrite:
        raise VidganError(f"{clash[0]} exists ({len(clash)} files would be replaced); pass --overwrite or another --out.")
    pipe = load_pipeline(checkpoint, registry=STATE.host(plugin).registry, device=device, notes=err.print,
                         options=model_set or [])
    samples = pipe.sample(image, n, seed=seed)  # [n, T, C, H, W]
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, clip in zip(names, samples, strict=False):
        write_video(path, clip, fps=fps)
    write_video(names[-1], video_grid([samples]), fps=fps)  # one row of n clips
    out.print(f"wrote {n} samples and a grid to {out_dir}")


def register(app: typer.Typer) -> None:
    app.command("transfer", rich_help_panel="Inference")(transfer)
    app.command("generate", rich_help_panel="Inference")(generate)
