"""The runs a demo can show: one run, or every run under a folder, each known by an id.

The browser names a run only by the id this module gives it; paths never come back from the
page. Listing reads each run's newest ``index.json`` (no weights are loaded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoint import latest_checkpoint, list_checkpoints, read_index
from ..errors import CheckpointError, VidganError

__all__ = ["RunInfo", "find_runs"]

#: How deep under a folder runs are looked for (``runs/NAME`` and ``runs/GROUP/NAME``).
SEARCH_DEPTH = 2


@dataclass(frozen=True)
class RunInfo:
    """A run the page can load: ``id`` is what the browser sends back."""

    id: str
    name: str  # shown on the page: the path relative to the folder given
    path: Path
    step: int | None
    recipe: str | None
    geometry: dict[str, int]

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "step": self.step, "recipe": self.recipe, **self.geometry}


def _is_run(path: Path) -> bool:
    return (path / "index.json").is_file() or bool(list_checkpoints(path))


def _candidates(folder: Path) -> list[Path]:
    found: list[Path] = []
    level = [folder]
    for _ in range(SEARCH_DEPTH):
        below = []
        for place in level:
            for child in sorted(place.iterdir(), key=lambda p: p.name):
                if not child.is_dir() or child.is_symlink() or child.name.startswith("."):
                    continue
                if _is_run(child):
                    found.append(child)
                elif child.name != "checkpoints":
                    below.append(child)
        level = below
    return found


def _info(run_id: str, name: str, path: Path) -> RunInfo:
    index = read_index(path)
    recipe = index.get("recipe") if isinstance(index.get("recipe"), dict) else {}
    geometry = {k: int(v) for k, v in (index.get("geometry") or {}).items() if k in ("frames", "channels", "height", "width")}
    return RunInfo(run_id, name, path, index.get("step"), recipe.get("name"), geometry)


def find_runs(source: str | os.PathLike[str]) -> list[RunInfo]:
    """``source`` itself when it is a run or a checkpoint, else the runs under it (ids ``run-0``, ``run-1``, ...)."""
    root = Path(source)
    if not root.exists():
        raise CheckpointError(f"{root} does not exist; pass a run directory or a folder of runs.")
    if _is_run(root):
        latest_checkpoint(root)  # a run without a complete checkpoint fails here, with the reason
        return [_info("run-0", root.name or str(root), root)]
    if not root.is_dir():
        latest_checkpoint(root)  # raises: a file is neither a run nor a folder of runs
    runs = []
    for path in _candidates(root):
        try:
            runs.append(_info(f"run-{len(runs)}", path.relative_to(root).as_posix(), path))
        except VidganError:
            continue  # an unfinished or foreign run is left off the list
    if not runs:
        raise CheckpointError(
            f"no run under {root}: expected a run directory (checkpoints/step-NNNNNNNN/index.json) or a folder"
            f" holding runs up to {SEARCH_DEPTH} levels down."
        )
    return runs
