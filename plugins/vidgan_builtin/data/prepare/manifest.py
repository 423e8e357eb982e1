"""The ``manifest.json`` of a prepared folder, writing into a folder safely, and verifying.

A prepared folder is self-describing: ``manifest.json`` lists every file it holds with its
size, SHA-256 and frame count, which split it belongs to, which source file it came
from, the preprocessing parameters and the toolkit version that wrote it, and the
``[data]`` table that reads the folder. ``verify`` re-hashes the files against it.

Output is written into a hidden staging folder beside ``OUT`` and moved into place only
when everything succeeded, so an interrupted run never leaves a half-prepared ``OUT``
that looks complete. A non-empty ``OUT`` is never replaced unless ``overwrite`` is set,
and even then only when it is itself a prepared folder (it has a ``manifest.json``): the
command never deletes a folder it did not write.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidgan_kit import __version__
from vidgan_kit.errors import DataError

__all__ = [
    "MANIFEST",
    "MANIFEST_VERSION",
    "Progress",
    "Problem",
    "sha256_file",
    "staged_output",
    "new_manifest",
    "file_entry",
    "write_manifest",
    "read_manifest",
    "verify_prepared",
]

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

#: Called after each source file: (files done, files in total, name of the file).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Problem:
    """One mismatch between a prepared folder and its manifest."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _is_empty(folder: Path) -> bool:
    return not any(folder.iterdir())


def check_output(out: Path, overwrite: bool) -> None:
    """Raise unless ``out`` may be (re)written: absent, empty, or a prepared folder with ``overwrite``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"output {str(out)!r} exists and is not a folder; choose another OUT")
    if _is_empty(out):
        return
    if not overwrite:
        raise DataError(
            f"output folder {str(out)!r} is not empty; choose another OUT, or pass --overwrite to replace "
            "a folder that an earlier `vidgan data prepare` wrote"
        )
    if not (out / MANIFEST).is_file():
        raise DataError(
            f"output folder {str(out)!r} is not empty and has no {MANIFEST}: it was not written by "
            "`vidgan data prepare`, so --overwrite will not delete it; empty it yourself or choose another OUT"
        )


@contextlib.contextmanager
def staged_output(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh staging folder beside ``out``; on success it replaces ``out``.

    On any error the staging folder is removed and ``out`` is left as it was.
    """
    out = Path(out).expanduser().absolute()
    check_output(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield stage
        check_output(out, overwrite)  # again: something may have appeared meanwhile
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def new_manifest(
    dataset: str,
    title: str,
    src: Path,
    distribution: str,
    preprocessing: dict[str, Any],
    data: dict[str, Any],
) -> dict[str, Any]:
    """The manifest's header; ``files``, ``splits``, ``classes`` and ``skipped`` are filled in later."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "dataset": dataset,
        "title": title,
        "toolkit": {"name": "vidgan-kit", "version": __version__},
        "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "source": {"path": str(Path(src).expanduser().absolute()), "distribution": distribution, "files": []},
        "preprocessing": preprocessing,
        "data": data,
        "splits": {},
        "classes": {},
        "files": [],
        "skipped": [],
    }


def source_entry(path: Path, src: Path) -> dict[str, Any]:
    """A source file as the manifest records it: path relative to SRC, size, SHA-256."""
    rel = path.name if src.is_file() else path.relative_to(src).as_posix()
    return {"path": rel, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def file_entry(root: Path, path: Path, **fields: Any) -> dict[str, Any]:
    """An output file as the manifest records it (path relative to the prepared folder)."""
    rel = path.relative_to(root).as_posix()
    return {"path": rel, "bytes": path.stat().st_size, "sha256": sha256_file(path), **fields}


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    path = root / MANIFEST
    path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return path


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of a prepared folder; :class:`DataError` if it is missing or unreadable."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DataError(
            f"{str(root)!r} has no {MANIFEST}: it is not a folder written by `vidgan data prepare` "
            "(prepare it with `vidgan data prepare DATASET SRC OUT`)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise DataError(f"{str(path)!r} is not a vidgan-kit manifest (it has no list of files)")
    if manifest.get("manifest_version", 0) > MANIFEST_VERSION:
        raise DataError(
            f"{str(path)!r} has manifest version {manifest['manifest_version']}; this vidgan-kit "
            f"({__version__}) reads up to {MANIFEST_VERSION}: upgrade vidgan-kit"
        )
    return manifest


def verify_prepared(root: Path, progress: Progress | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """Check every file of a prepared folder against its manifest.

    Returns the manifest and the problems found: files missing, of another size or
    content (SHA-256), and files present but not listed (hidden files aside). An empty
    list means the folder is exactly what was prepared.
    """
    root = Path(root)
    manifest = read_manifest(root)
    problems: list[Problem] = []
    listed: set[str] = set()
    entries = manifest["files"]
    for i, entry in enumerate(entries):
        rel = str(entry.get("path", ""))
        listed.add(rel)
        path = root / rel
        if not rel or not path.is_file():
            problems.append(Problem(rel or f"files[{i}]", "missing"))
        elif path.stat().st_size != entry.get("bytes"):
            size = path.stat().st_size
            problems.append(Problem(rel, f"size changed: {size} bytes, manifest says {entry.get('bytes')}"))
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(Problem(rel, "content changed: its SHA-256 differs from the manifest's"))
        if progress is not None:
            progress(i + 1, len(entries), rel)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if name.startswith(".") or rel == MANIFEST or rel in listed:
                continue
            problems.append(Problem(rel, "not listed in the manifest"))
    return manifest, problems
