"""``vidgan transfer`` and ``vidgan generate``: use a trained model."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import VidganError
from ._common import STATE, ModelSetOption, PluginOption, err, out, user_errors

if TYPE_CHECKING:
    import torch

__all__ = ["register"]

CkptArg = Annotated[Path, typer.Argument(help="A run directory (latest checkpoint) or a checkpoint directory.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1, or auto.")]
FpsOpt = Annotated[int, typer.Option("--fps", min=1, help="Frames per second of the written video.")]
VIDEO_SUFFIXES = (".mp4", ".gif", ".webm", ".avi")


def _check_output(path: Path, overwrite: bool) -> None:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VidganError(f"--out {path}: choose a video file ending in {', '.join(VIDEO_SUFFIXES)}.")
    if path.is_dir():
        raise VidganError(f"--out {path} is a folder; name the video file to write, e.g. {path / 'transfer.mp4'}.")
    if path.exists() and not overwrite:
        raise VidganError(f"{path} exists; pass --overwrite to replace it, or choose another --out.")
    _check_folder(path.parent, path)


def _check_folder(folder: Path, out_option: Path) -> None:
    """Refuse before any work a folder that cannot be made because it, or a folder above it, is a file."""
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                raise VidganError(f"--out {out_option}: {place} is a file, not a folder; choose another --out.")
            return


def _device(name: str) -> torch.device:
    from ..training.device import resolve_device

    return resolve_device(name, option="--device")


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
    pipe = load_pipeline(checkpoint, registry=STATE.host(plugin).registry, device=_device(device), notes=err.print,
                         options=model_set or [])
    result = pipe.transfer(image, video)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_video(out_path, result, fps=fps)
    out.print(f"wrote {out_path} ({result.shape[0]} frames, {result.shape[-1]}x{result.shape[-2]})")


@user_errors
def generate(
    checkpoint: CkptArg,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder (one file per sample plus a grid).")],
    image: Annotated[Path | None, typer.Option(
        "--image", "-i", help="Target image (appearance); leave it out for a model that samples unconditionally.")]
    = None,
    n: Annotated[int, typer.Option("-n", "--num", min=1, help="Number of samples.")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the motion samples.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="mp4 or gif.")] = "mp4",
    device: DeviceOpt = "cpu",
    fps: FpsOpt = 8,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing files in the folder.")] = False,
    model_set: ModelSetOption = None,
    plugin: PluginOption = None,
) -> None:
    """Stochastic generation: n plausible videos of one image (--image), or of drawn content (no --image)."""
    from ..inference import load_pipeline
    from ..io import video_grid, write_video

    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in VIDEO_SUFFIXES:
        raise VidganError(f"--format {fmt}: choose one of {', '.join(s[1:] for s in VIDEO_SUFFIXES)}.")
    _check_folder(out_dir, out_dir)
    earlier = _earlier_outputs(out_dir)
    clash = [p for p in earlier if _name_of_sample(p.name, n, suffix)]
    if clash and not overwrite:
        raise VidganError(f"{clash[0]} exists ({len(clash)} files would be replaced); pass --overwrite or another --out.")
    pipe = load_pipeline(checkpoint, registry=STATE.host(plugin).registry, device=_device(device), notes=err.print,
                         options=model_set or [])
    _check_sample_count(n, pipe.geometry.clip_shape)
    samples = pipe.sample(image, n, seed=seed)  # [n, T, C, H, W]
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(samples):
        write_video(out_dir / f"sample_{i:03d}{suffix}", clip, fps=fps)
    write_video(out_dir / f"grid{suffix}", video_grid([samples]), fps=fps)  # one row of n clips
    stale = [p for p in earlier if not _name_of_sample(p.name, n, suffix)] if overwrite else []
    for path in stale:  # an earlier call's extra samples would pass for this call's
        path.unlink()
    removed = f"; removed {len(stale)} sample(s) of an earlier call" if stale else ""
    out.print(f"wrote {n} samples and a grid to {out_dir}{removed}")


def _check_sample_count(n: int, clip_shape: tuple[int, ...]) -> None:
    """The samples are held at once (and again in the grid): the recipe's limit on one clip's
    memory applies to them together, so a typo in -n is an error, not an exhausted machine."""
    from ..recipe import MAX_CLIP_BYTES

    clip = math.prod(clip_shape) * 4
    if n * clip > MAX_CLIP_BYTES:
        raise VidganError(
            f"-n {n}: {n} samples of {clip_shape[0]} frames take {n * clip / 2**30:,.1f} GiB as float32, held at once;"
            f" the limit is {MAX_CLIP_BYTES // 2**30} GiB, at most {MAX_CLIP_BYTES // clip} samples of this model."
            " Call generate again with another --seed for more."
        )


_OUTPUT = re.compile(r"(?:sample_(\d{3,})|grid)(" + "|".join(re.escape(s) for s in VIDEO_SUFFIXES) + ")")


def _earlier_outputs(folder: Path) -> list[Path]:
    """The files ``generate`` writes (sample_NNN and grid, any video format) already in ``folder``."""
    found = folder.iterdir() if folder.is_dir() else ()
    return sorted(p for p in found if _OUTPUT.fullmatch(p.name) and p.is_file())


def _name_of_sample(name: str, n: int, suffix: str) -> bool:
    """Whether a call for ``n`` samples in format ``suffix`` writes a file called ``name``."""
    m = _OUTPUT.fullmatch(name)
    if m is None or m.group(2) != suffix:
        return False
    return m.group(1) is None or (int(m.group(1)) < n and name == f"sample_{int(m.group(1)):03d}{suffix}")


def register(app: typer.Typer) -> None:
    app.command("transfer", rich_help_panel="Inference")(transfer)
    app.command("generate", rich_help_panel="Inference")(generate)
