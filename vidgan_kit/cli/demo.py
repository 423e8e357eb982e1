"""``vidgan demo``: serve the local web page for a run or a folder of runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..demo import DEFAULT_MAX_UPLOAD_MB
from ..errors import VidganError
from ._common import STATE, PluginOption, err, out, user_errors

__all__ = ["register"]


@user_errors
def demo(
    source: Annotated[Path, typer.Argument(help="A run directory, a checkpoint directory, or a folder of runs"
                                                 " (the page switches between them).")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on; 127.0.0.1 keeps the page on this"
                                                     " machine, 0.0.0.0 offers it to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 7860,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1, or auto.")] = "cpu",
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=0.001,
                                                 help="Largest request body (an image and a video together), in MiB;"
                                                      " larger uploads are refused while they arrive.")] = DEFAULT_MAX_UPLOAD_MB,
    plugin: PluginOption = None,
) -> None:
    r"""A local web page: animate a photo with a video's motion, draw samples, switch runs.

    Needs the demo extra (pip install 'vidgan-kit\[demo]'). Uploads live in a temporary folder removed when the server stops; nothing is written next to the runs.
    """
    from ..demo import serve
    from ..training.device import resolve_device

    if not source.exists():
        raise VidganError(f"{source} does not exist; pass a run directory or a folder of runs.")
    if host not in ("127.0.0.1", "localhost"):
        err.print(f"[yellow]note:[/] listening on {host}: other machines can reach this page and upload to it.")

    def ready(url: str) -> None:
        out.print(f"vidgan demo: serving {source} at {url} (Ctrl-C stops)")

    serve(source, host=host, port=port, on_ready=ready, registry=STATE.host(plugin).registry,
          device=str(resolve_device(device, option="--device")), max_upload_bytes=int(max_upload_mb * 2**20))


def register(app: typer.Typer) -> None:
    app.command("demo", rich_help_panel="Inference")(demo)
