"""``vidgan data``: inspect a data set, prepare public ones, verify prepared folders.

Registered by the built-in data plugin through ``vidgan_register_commands``, the hook any
plugin uses to add commands::

    vidgan data inspect PATH_OR_RECIPE [--split train|test] [--out preview.png]
    vidgan data prepare weizmann|uva-nemo|bair SRC OUT [--verify] [--overwrite]
    vidgan data prepare --verify OUT          (the same as `vidgan data verify OUT`)
    vidgan data verify OUT
    vidgan data crop SRC OUT [--size 64] [--subject auto|face|motion] [--format strip|folder|mp4] [--margin 0.25]
"""

from __future__ import annotations

import contextlib
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from vidgan_kit import VideoGeometry
from vidgan_kit.cli.plugin_api import (
    PluginOption,
    SetOption,
    component_registry,
    err,
    out,
    resolve_recipe,
    user_errors,
)
from vidgan_kit.errors import DataError, VidganError
from vidgan_kit.io.crop import DEFAULT_MARGIN, require_face_detector

__all__ = ["build_data_app", "register"]

PREVIEW_CLIPS = 8
_LISTED = 20  # problems or skipped files listed before "... and N more"


class Split(StrEnum):
    train = "train"
    test = "test"


OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace OUT if an earlier `vidgan data prepare` wrote it.")
]
VerifyOpt = Annotated[
    bool, typer.Option("--verify", help="Afterwards, re-check every written file against the manifest.")
]
SrcArg = Annotated[Path, typer.Argument(metavar="SRC", show_default=False,
                                         help="The data set as its publishers distribute it (a folder).")]
OutArg = Annotated[Path, typer.Argument(metavar="OUT", show_default=False,
                                         help="Folder to write (must not exist, or be empty).")]
SizeOpt = Annotated[int, typer.Option("--size", min=8, help="Output frame size in pixels (square).")]


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise (logs, tests)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=escape(name))

        yield update


def _row(table: Table, what: str, value: object) -> None:
    """A table row whose value is shown literally (file names may contain [brackets])."""
    table.add_row(what, Text(str(value)))


def _listing(items: list[str]) -> str:
    lines = [f"  - {item}" for item in items[:_LISTED]]
    if len(items) > _LISTED:
        lines.append(f"  ... and {len(items) - _LISTED} more")
    return "\n".join(lines)


# -- verify --------------------------------------------------------------------------------


def _verify(folder: Path) -> None:
    from .prepare import verify_prepared

    with _progress("verifying") as update:
        manifest, problems = verify_prepared(folder, progress=update)
    if problems:
        raise DataError(
            f"{len(problems)} mismatch(es) between {str(folder)!r} and its manifest "
            f"(prepared by vidgan-kit {manifest.get('toolkit', {}).get('version', '?')}):\n"
            + _listing([str(p) for p in problems])
            + "\nprepare the folder again (vidgan data prepare ... --overwrite) to repair it"
        )
    out.print(f"[green]ok[/]: {len(manifest['files'])} files in {escape(str(folder))} match its manifest")


@user_errors
def verify(
    folder: Annotated[Path, typer.Argument(metavar="OUT", help="A folder written by `vidgan data prepare`.")],
) -> None:
    """Re-check a prepared folder against its manifest.json: sizes, SHA-256, unlisted files."""
    _verify(folder)


# -- prepare -------------------------------------------------------------------------------


def _report(manifest: dict[str, Any], out_dir: Path) -> None:
    table = Table(title=escape(f"prepared {manifest['dataset']} in {out_dir}"), title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    splits = manifest.get("splits", {})
    _row(table, "source files", str(len(manifest["source"]["files"])))
    _row(table, "files written", str(len(manifest["files"])))
    for split in ("train", "test"):
        info = splits.get(split, {})
        parts = [f"{info[k]} {k}" for k in ("videos", "clips", "frames") if k in info]
        _row(table, split, ", ".join(parts))
    _row(table, "split rule", str(splits.get("rule", "")))
    if splits.get("note"):
        _row(table, "note", str(splits["note"]))
    if manifest.get("classes"):
        _row(table, "classes", ", ".join(f"{k} ({v})" for k, v in manifest["classes"].items()))
    data = manifest.get("data", {})
    _row(table, "read with", ", ".join(f"{k} = {v!r}" for k, v in data.items()) + f", root = {str(out_dir)!r}")
    out.print(table)
    skipped = manifest.get("skipped", [])
    if skipped:
        err.print(f"[yellow]skipped {len(skipped)} source file(s):[/]\n"
                  + escape(_listing([f"{s['source']}: {s['reason']}" for s in skipped])))


def _prepare(name: str, run: Callable[..., dict[str, Any]], src: Path, out_dir: Path, overwrite: bool,
             verify_after: bool, **kwargs: Any) -> None:
    with _progress(f"preparing {name}") as update:
        manifest = run(src, out_dir, overwrite=overwrite, progress=update, **kwargs)
    _report(manifest, out_dir)
    if verify_after:
        _verify(out_dir)


@user_errors
def prepare_weizmann_cmd(
    src: SrcArg,
    out_dir: OutArg,
    verify_after: VerifyOpt = False,
    overwrite: OverwriteOpt = False,
    size: SizeOpt = 64,
    threshold: Annotated[int, typer.Option(
        "--threshold", min=1, max=255, help="Foreground: differs from the median frame by more than this (0-255)."
    )] = 30,
    margin: Annotated[float, typer.Option(
        "--margin", min=0.0, help="Room around the person, per side, as a fraction."
    )] = 0.1,
    min_side: Annotated[float, typer.Option("--min-side", min=0.0, max=1.0,
                                            help="Smallest crop, as a fraction of the frame's shorter side "
                                            "(1 = full height, MoCoGAN's framing).")] = 1.0,
) -> None:
    """Weizmann actions (person_action.avi, 180x144) → 64x64 strips centred on the person, split by time."""
    from .prepare import WeizmannOptions, prepare_weizmann

    options = WeizmannOptions(size=size, threshold=threshold, margin=margin, min_side=min_side)
    _prepare("weizmann", prepare_weizmann, src, out_dir, overwrite, verify_after, options=options)


@user_errors
def prepare_uva_nemo_cmd(
    src: SrcArg,
    out_dir: OutArg,
    verify_after: VerifyOpt = False,
    overwrite: OverwriteOpt = False,
    size: SizeOpt = 64,
    sequence: Annotated[int, typer.Option("--sequence", min=1, help="Frames per output sequence.")] = 16,
    frame_stride: Annotated[int, typer.Option("--frame-stride", min=1, help="Keep every N-th source frame.")] = 1,
) -> None:
    """UvA-NEMO smiles (.mp4, 1920x1080) → 64x64 16-frame strips, split 1110/124 videos."""
    from .prepare import NemoOptions, prepare_uva_nemo

    options = NemoOptions(size=size, sequence=sequence, frame_stride=frame_stride)
    _prepare("uva_nemo", prepare_uva_nemo, src, out_dir, overwrite, verify_after, options=options)


@user_errors
def prepare_bair_cmd(
    src: SrcArg,
    out_dir: OutArg,
    verify_after: VerifyOpt = False,
    overwrite: OverwriteOpt = False,
    size: SizeOpt = 64,
    image_key: Annotated[str, typer.Option(
        "--image-key", help="Feature holding step {t}'s image."
    )] = "{t}/image_aux1/encoded",
) -> None:
    """BAIR robot pushing (softmotion30_44k/{train,test}/*.tfrecords) → 30-frame .npy clips, CRCs checked."""
    from .prepare import BairOptions, prepare_bair

    options = BairOptions(image_key=image_key, size=size)
    _prepare("bair", prepare_bair, src, out_dir, overwrite, verify_after, options=options)


@user_errors
def prepare_group(
    ctx: typer.Context,
    verify_folder: Annotated[Path | None, typer.Option(
        "--verify", metavar="OUT", help="Only verify a prepared folder (as `vidgan data verify`)."
    )] = None,
) -> None:
    """Turn a public data set, as its publishers distribute it, into the toolkit's format, with a manifest."""
    if verify_folder is not None:
        if ctx.invoked_subcommand is not None:
            raise DataError("`vidgan data prepare --verify OUT` verifies only; to prepare and verify, put --verify "
                            "after the data set: vidgan data prepare DATASET SRC OUT --verify")
        _verify(verify_folder)
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit(0)


# -- inspect ------------------------------------------------------------------------------


def _build_for_inspection(registry: Any, table: dict[str, Any], geometry: VideoGeometry, split: str,
                          seed: int) -> tuple[Any | None, str | None, list[tuple[str, str]]]:
    """(data set or None, why not, files skipped) for one split; bad files are skipped, not fatal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = registry.build("dataset", table["type"], {k: v for k, v in table.items() if k != "type"},
                                geometry=geometry, split=split, seed=seed)
        except DataError as exc:
            skipped = list(getattr(exc, "skipped", []))  # every file was bad: the table lists them
            why = f"no usable clips; skipped {len(skipped)} bad file(s) or clip(s)" if skipped else str(exc)
            return None, why, skipped
    del caught
    return ds, None, list(getattr(ds, "skipped", []))


def _frames_summary(values: list[int]) -> str:
    return f"{min(values)} / {statistics.median(values):g} / {max(values)}"


def _identity_counts(ds: Any) -> str:
    """``"anna (3 clips), ben (2)"``: each identity of a split with its clip count."""
    counts = Counter(ds.clip_identity[ref.name] for ref, *_ in ds.clips)
    held = "held out: " if getattr(ds, "split", None) == "test" and getattr(ds, "test_identities", None) else ""
    parts = [f"{identity} ({counts[identity]}{' clips' if i == 0 else ''})" for i, identity in enumerate(ds.identities)]
    return held + ", ".join(parts)


def _preview(ds: Any, path: Path) -> int:
    from vidgan_kit.io import frame_grid, write_image

    count = min(PREVIEW_CLIPS, len(ds))
    picks = sorted({int(i) for i in np.linspace(0, len(ds) - 1, count).round()})
    grid = frame_grid([ds[i]["video"] for i in picks])
    write_image(path, grid)
    return len(picks)


@user_errors
def inspect(
    target: Annotated[Path, typer.Argument(metavar="PATH_OR_RECIPE", show_default=False,
                                           help="A recipe (.toml) or a folder of clips.")],
    split: Annotated[Split, typer.Option("--split", help="Split to describe and preview.")] = Split.train,
    out_path: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write a preview grid PNG (one clip per row)."
    )] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Folder only: frames per item.")] = 16,
    size: Annotated[int, typer.Option("--size", min=8, help="Folder only: frame size of items.")] = 64,
    set_: SetOption = None,
    plugin: PluginOption = None,
) -> None:
    """Describe a data set: clips, frames, sizes, classes, splits, bad files; optionally a preview PNG.

    A recipe's [data] table is built with the recipe's [video] geometry. A folder is read
    with the table in its manifest.json when `vidgan data prepare` wrote it, else with
    `video_folder` (any mix of formats). Bad files are listed instead of stopping.
    """
    if out_path is not None:
        if out_path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            raise DataError(f"--out {str(out_path)!r}: choose an image file (.png)")
        if out_path.exists() and not overwrite:
            raise DataError(f"{str(out_path)!r} exists; pass --overwrite to replace it, or choose another --out")
    if not target.exists():
        raise DataError(f"{str(target)!r} does not exist (expected a recipe .toml or a folder of clips)")
    if target.is_file() and target.suffix.lower() == ".toml":
        recipe = resolve_recipe(target, set_, plugin)
        registry = component_registry()
        table = recipe.data.to_table()
        geometry, seed, origin = recipe.video.geometry(), recipe.seed, f"recipe {target}"
    else:
        from .prepare import MANIFEST, read_manifest

        registry = component_registry(plugin)
        geometry, seed = VideoGeometry(frames=frames, channels=3, height=size, width=size), 0
        if target.is_dir() and (target / MANIFEST).is_file():
            manifest = read_manifest(target)
            table = {**manifest.get("data", {"type": "video_folder"}), "root": str(target)}
            origin = f"folder prepared as {manifest.get('dataset', '?')} (manifest.json)"
        else:
            table = {"type": "video_folder", "root": str(target)}
            origin = "folder, read as video_folder"
    entry = registry.get("dataset", table["type"])
    raises = table.get("on_error", "raise") == "raise"
    if "on_error" in entry.config_model.model_fields:
        table = {**table, "on_error": "skip"}  # list every bad file instead of stopping at the first

    built = {s: _build_for_inspection(registry, table, geometry, s, seed) for s in ("train", "test")}
    ds, why, _ = built[split.value]
    skipped = list(dict.fromkeys(item for s in built.values() for item in s[2]))

    summary = Table(title=escape(f"{table['type']}: {target}"), title_justify="left", show_header=False)
    summary.add_column("what")
    summary.add_column("value", overflow="fold")
    _row(summary, "source", origin)
    _row(summary, "item", f"{geometry.frames} frames, {geometry.channels}x{geometry.height}x{geometry.width}")
    for s, (d, reason, _) in built.items():
        if d is None:
            _row(summary, f"{s} split", f"unusable: {reason}")
        else:
            clips = getattr(d, "clips", None)
            counted = f"{len(clips)} clips, {len(d)} items" if clips is not None else f"{len(d)} items"
            _row(summary, f"{s} split", counted)
    for s, (d, _, _) in built.items():
        if d is not None and getattr(d, "identities", None):
            _row(summary, f"{s} identities", _identity_counts(d))
    clips = getattr(ds, "clips", None) if ds is not None else None
    if clips:
        _row(summary, f"frames per clip ({split.value})", _frames_summary([ref.frames for ref, *_ in clips])
                        + " (min / median / max)")
        if table.get("split_mode") == "by_time":
            _row(summary, f"usable frames ({split.value} part)", _frames_summary([hi - lo for _, lo, hi, _ in clips]))
        sizes = Counter(f"{ref.width}x{ref.height}" for ref, *_ in clips)
        _row(summary, "frame sizes", ", ".join(f"{k} ({v})" for k, v in sizes.most_common()))
        formats = Counter(ref.format for ref, *_ in clips)
        _row(summary, "formats", ", ".join(f"{k} ({v})" for k, v in formats.most_common()))
        if ds.classes:
            labels = Counter(ds.classes[label] for *_, label in clips)
            _row(summary, "classes", ", ".join(f"{c} ({labels.get(c, 0)})" for c in ds.classes))
        else:
            _row(summary, "classes", "none (clips are not in class sub-folders)")
    elif ds is not None:
        for key in ("shapes", "motions", "backgrounds"):
            if hasattr(ds.config, key):
                _row(summary, key, ", ".join(getattr(ds.config, key)))
    augment = table.get("augment") or {}
    active = {k: v for k, v in augment.items() if v not in (0, 0.0, [1.0, 1.0], (1.0, 1.0))}
    if table.get("hflip") and "hflip" not in active:
        active["hflip"] = 0.5  # the boolean shorthand
    _row(summary, "augment (train only)", ", ".join(f"{k} = {v}" for k, v in active.items()) or "off")
    _row(summary, "skipped files", str(len(skipped)))
    out.print(summary)
    if skipped:
        note = " (with on_error = 'raise' building would stop at the first)" if raises else ""
        out.print(f"[yellow]skipped {len(skipped)} bad file(s) or clip(s){note}:[/]")
        out.print(escape(_listing([f"{path}: {reason}" for path, reason in skipped])))
    if ds is None:
        listed = " (each listed above with its reason)" if skipped else ""
        raise DataError(f"{str(target)!r}: the {split.value} split is unusable: {why}{listed}")
    if out_path is not None:
        n = _preview(ds, out_path)
        out.print(f"wrote {escape(str(out_path))} ({n} {split.value} items, one per row)")


# -- crop --------------------------------------------------------------------------------


class CropSubject(StrEnum):
    auto = "auto"
    face = "face"
    motion = "motion"


class CropFormat(StrEnum):
    strip = "strip"
    folder = "folder"
    mp4 = "mp4"


def _crop_table(written: list[Any], out_dir: Path) -> Table:
    table = Table(title=escape(f"cropped {len(written)} clip(s) into {out_dir}"), title_justify="left")
    for column in ("clip", "frames", "source", "box x, y, side", "found by", "detections", "note"):
        table.add_column(column, overflow="fold")
    for c in written:
        box = c.box
        found = f"{len(box.detections)} of {box.examined} frames" if box.examined else "-"
        table.add_row(Text(c.output), str(c.frames), f"{box.frame_width}x{box.frame_height}",
                      f"{box.x}, {box.y}, {box.size}", box.detector, found, Text(box.note))
    return table


@user_errors
def crop(
    src: Annotated[Path, typer.Argument(metavar="SRC", show_default=False,
                                        help="A video, an image, or a folder of videos and folders of frames.")],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", show_default=False,
                                            help="Folder to write (must not exist, or be empty).")],
    size: SizeOpt = 64,
    subject: Annotated[CropSubject, typer.Option(
        "--subject", help="What to centre on: a face (OpenCV's Haar cascade), what moves (a background model), "
        "or auto: a face when one is found, else what moves, else the centred square."
    )] = CropSubject.auto,
    fmt: Annotated[CropFormat, typer.Option(
        "--format", help="strip: one PNG per clip, frames side by side (frame_strips); folder: one PNG per frame "
        "(frame_folders); mp4: one video per clip (video_files)."
    )] = CropFormat.strip,
    margin: Annotated[float, typer.Option(
        "--margin", min=0.0, max=10.0, help="Room around the subject's box, per side, as a fraction of its longer side."
    )] = DEFAULT_MARGIN,
) -> None:
    """Crop raw footage to a steady square around its subject, at --size, and print each clip's box.

    One box per clip holds the subject wherever it goes, so its motion is kept. The boxes
    are also written to OUT/crops.json. A file that cannot be read is reported and skipped.
    """
    from .cropping import crop_sources

    if subject is CropSubject.auto:
        try:
            require_face_detector()
        except VidganError as exc:
            err.print(f"[yellow]note:[/] cropping by motion only: {escape(str(exc))}")
    with _progress("cropping") as update:
        written, skipped = crop_sources(src, out_dir, size=size, subject=subject.value, margin=margin,  # type: ignore[arg-type]
                                        fmt=fmt.value, progress=update)
    out.print(_crop_table(written, out_dir))
    if skipped:
        err.print(f"[yellow]skipped {len(skipped)} file(s):[/]\n" + escape(_listing([f"{p}: {r}" for p, r in skipped])))


# -- the app -------------------------------------------------------------------------------


def build_data_app() -> typer.Typer:
    """A fresh ``data`` sub-application (Typer apps are built per invocation)."""
    app = typer.Typer(help="Inspect data sets, prepare public ones, verify prepared folders, crop raw footage.",
                      no_args_is_help=True, rich_markup_mode="rich")
    app.command("inspect")(inspect)
    app.command("verify")(verify)
    app.command("crop")(crop)
    prepare_app = typer.Typer(help=prepare_group.__doc__, invoke_without_command=True, rich_markup_mode="rich")
    prepare_app.callback()(prepare_group)
    prepare_app.command("weizmann")(prepare_weizmann_cmd)
    prepare_app.command("uva-nemo")(prepare_uva_nemo_cmd)
    prepare_app.command("uva_nemo", hidden=True)(prepare_uva_nemo_cmd)
    prepare_app.command("bair")(prepare_bair_cmd)
    app.add_typer(prepare_app, name="prepare")
    return app


def register(app: typer.Typer) -> None:
    app.add_typer(build_data_app(), name="data", rich_help_panel="Data")
