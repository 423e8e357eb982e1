"""``vidgan export``: a trained model's inference graphs as files other runtimes load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import VidganError
from ._common import STATE, PluginOption, err, out, user_errors

__all__ = ["register"]


@user_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory (latest checkpoint) or a checkpoint directory.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the graphs and model.json.")],
    fmt: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    check: Annotated[bool, typer.Option(
        "--check", help="Run every graph with onnxruntime and with torch at batch sizes 1 and 3; fail when they differ"
        " by more than 1e-4.")] = False,
    raw: Annotated[bool, typer.Option("--raw-weights", help="Export the raw weights, not the EMA weights.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files of an earlier export in --out.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Export the graphs transfer and sampling run (with any batch size) and a model.json describing them."""
    from ..export import CHECK_BATCHES, TOLERANCE, check_onnx, export_onnx, require_onnx
    from ..checkpoint import read_index
    from ..inference import load_pipeline

    if fmt.lower() != "onnx":
        raise VidganError(f"--format {fmt}: the only export format is onnx.")
    require_onnx()  # before the model loads: a missing extra is the first thing to hear of
    pipe = load_pipeline(checkpoint, registry=STATE.host(plugin).registry, device="cpu", use_ema=not raw,
                         notes=err.print)
    index = read_index(pipe.source)
    recipe = index.get("recipe") or {}
    provenance = {"checkpoint": pipe.source, "step": pipe.step, "recipe": recipe.get("name"),
                  "weights": "ema" if not raw and index.get("ema_slots") else "raw"}
    manifest = export_onnx(pipe.model, out_dir, overwrite=overwrite, provenance=provenance)
    graphs = ", ".join(f"{name} ({entry['file']})" for name, entry in manifest["graphs"].items())
    out.print(f"wrote {graphs} and model.json to {out_dir}")
    if check:
        diffs = check_onnx(pipe.model, out_dir)
        batches = " and ".join(map(str, CHECK_BATCHES))
        for name, diff in diffs.items():
            out.print(f"check {name}: largest |onnxruntime - torch| = {diff:.2e} at batch sizes {batches}")
        bad = {n: d for n, d in diffs.items() if not d <= TOLERANCE}
        if bad:
            raise VidganError(
                f"the exported {', '.join(bad)} differ(s) from torch by more than {TOLERANCE:g}"
                f" ({', '.join(f'{d:.2e}' for d in bad.values())}); the files are in {out_dir}."
            )


def register(app: typer.Typer) -> None:
    app.command("export", rich_help_panel="Inference")(export)
