"""``vidgan transfer`` and ``vidgan generate``: use a trained model."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rich.markup import escape

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


def _folder_files(folder: Path, suffixes: tuple[str, ...], option: str) -> list[Path]:
    """The files of ``folder`` (not its subfolders, not hidden ones) with one of ``suffixes``."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in suffixes)
    if not found:
        raise VidganError(f"{option} {folder}: the folder holds no file ending in {', '.join(suffixes)}.")
    return found


def _pairs(image: Path, video: Path, out_dir: Path, suffix: str) -> list[tuple[Path, Path, Path]]:
    """(image, video, output) for each pair a batch transfer writes: every image with every video."""
    from ..io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    images = _folder_files(image, IMAGE_EXTENSIONS, "--image") if image.is_dir() else [image]
    videos = _folder_files(video, VIDEO_EXTENSIONS, "--video") if video.is_dir() else [video]
    pairs = []
    for i in images:
        for v in videos:
            if image.is_dir() and video.is_dir():
                name = f"{i.stem}__{v.stem}"
            else:
                name = i.stem if image.is_dir() else v.stem
            pairs.append((i, v, out_dir / f"{name}{suffix}"))
    seen: dict[Path, tuple[Path, Path]] = {}
    for i, v, o in pairs:
        if o in seen:
            raise VidganError(f"{seen[o][0]} and {i} (or their videos) would both be written to {o}; rename one.")
        seen[o] = (i, v)
    return pairs


class _Bar:
    """One rich progress bar over all the frames a call writes, on a terminal; silent elsewhere."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("[bold]transfer"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
                                 TimeRemainingColumn(), console=err, disable=not err.is_terminal, transient=False)
        self.task = self.progress.add_task("transfer", total=total)
        self.base = 0

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def file_done(self, frames: int) -> None:
        self.base += frames
        self.progress.update(self.task, completed=self.base)

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=self.base + done)


@user_errors
def transfer(
    checkpoint: CkptArg,
    image: Annotated[Path, typer.Option(
        "--image", "-i", help="Target image (appearance), or a folder of images: one output per image.")],
    video: Annotated[Path, typer.Option(
        "--video", "-v", help="Source video (motion), or a folder of videos: one output per video.")],
    out_path: Annotated[Path, typer.Option(
        "--out", "-o", help="Output video (.mp4, .gif, .webm, .avi), or a folder when --image or --video is one.")],
    motion: Annotated[str, typer.Option(
        "--motion", help="relative: the source's motion since its first used frame, applied to the target."
        " absolute: the target in each source frame's pose, where the model offers it.")] = "relative",
    best_frame: Annotated[bool, typer.Option(
        "--best-frame", help="Start from the source frame most like the target image (smallest mean squared"
        " difference after standardising each to zero mean and unit deviation), animate forward from it to the"
        " end and backward to the start.")] = False,
    start: Annotated[int, typer.Option("--start", min=0, help="First source frame used (0 is the first).")] = 0,
    frames: Annotated[int | None, typer.Option(
        "--frames", min=1, help="Source frames used from --start (default: all to the end).")] = None,
    crop: Annotated[bool, typer.Option(
        "--crop", help="Crop the image and the video each to a steady square around its subject first (a face, else"
        " what moves), as data sets are cropped; decodes the whole video to find its box.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="mp4, gif, webm or avi: the files a folder --out gets.")] = "mp4",
    device: DeviceOpt = "cpu",
    fps: Annotated[int | None, typer.Option(
        "--fps", min=1, help="Frames per second of the written video (default: the source's).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")] = False,
    model_set: ModelSetOption = None,
    plugin: PluginOption = None,
) -> None:
    """Deterministic motion transfer: the image's appearance with the video's motion, for every frame of the video."""
    from ..inference import load_pipeline
    from ..io import probe_video

    batch = image.is_dir() or video.is_dir()
    if batch:
        suffix = "." + fmt.lower().lstrip(".")
        if suffix not in VIDEO_SUFFIXES:
            raise VidganError(f"--format {fmt}: choose one of {', '.join(s[1:] for s in VIDEO_SUFFIXES)}.")
        if out_path.suffix.lower() in VIDEO_SUFFIXES or out_path.is_file():
            raise VidganError(f"--out {out_path}: with a folder of inputs, --out names a folder for the outputs.")
        _check_folder(out_path, out_path)
        pairs = _pairs(image, video, out_path, suffix)
        clash = [o for _, _, o in pairs if o.exists()]
        if clash and not overwrite:
            raise VidganError(f"{clash[0]} exists ({len(clash)} outputs would be replaced); pass --overwrite or"
                              " choose another --out.")
    else:
        _check_output(out_path, overwrite)
        pairs = [(image, video, out_path)]
    pipe = load_pipeline(checkpoint, registry=STATE.host(plugin).registry, device=_device(device), notes=err.print,
                         options=model_set or [])
    failed: list[str] = []
    plans = []
    for i, v, o in pairs:  # probe every source first: the bar's total, and bad files reported up front
        try:
            info = probe_video(v)
            plans.append((i, v, o, info, _range(info.frames, start, frames, v)))
        except VidganError as exc:
            if not batch:
                raise
            failed.append(f"{v}: {exc}")
            err.print(f"[bold red]error:[/] {escape(str(exc))} (skipped)")
    with _Bar(sum(count for *_, count in plans)) as bar:
        for i, v, o, info, count in plans:
            try:
                rate = fps or info.fps or 8
                written = _transfer_one(pipe, i, v, o, rate, motion=motion, best_frame=best_frame, start=start,
                                        frames=frames, progress=bar.update, crop=crop)
            except VidganError as exc:
                if not batch:
                    raise
                failed.append(f"{i} + {v}: {exc}")
                err.print(f"[bold red]error:[/] {escape(str(exc))} ({i.name} + {v.name} skipped)")
                bar.file_done(count)
                continue
            bar.file_done(count)
            size = f"{pipe.geometry.width}x{pipe.geometry.height}"
            out.print(f"wrote {o} ({written} frames, {size}, {rate:g} fps)")
    if failed:
        err.print(f"[bold red]{len(failed)} of {len(pairs)} transfers failed[/]; the others were written.")
        raise typer.Exit(1)


def _range(length: int, start: int, frames: int | None, video: Path) -> int:
    """The number of source frames a transfer uses, after checking --start and --frames against ``length``."""
    if start >= length:
        raise VidganError(f"--start {start}: {video} has {length} frames (0..{length - 1}).")
    if frames is not None and start + frames > length:
        raise VidganError(f"--frames {frames}: {video} has {length - start} frames from --start {start}.")
    return length - start if frames is None else frames


def _transfer_one(pipe: Any, image: Path, video: Path, out_path: Path, fps: float, **options: Any) -> int:
    """One transfer, streamed from the decoder to the encoder; returns the frames written."""
    from ..io import VideoWriter

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(out_path, fps=fps) as writer:
        for chunk in pipe.transfer_frames(image, video, **options):
            writer.write(chunk)
    return writer.frames


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
    frames: Annotated[int | None, typer.Option(
        "--frames", min=1, help="Frames per sample (default: the model's clip length; more are sampled in windows,"
        " the motion continued from one to the next).")] = None,
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
    g = pipe.geometry
    _check_sample_count(n, (frames or g.frames, *g.frame_shape))
    samples = pipe.sample(image, n, seed=seed, frames=frames)  # [n, frames, C, H, W]
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
