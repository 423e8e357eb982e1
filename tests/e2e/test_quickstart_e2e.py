"""docs/quickstart.md, run top to bottom in one folder, as a reader would.

The docs tests run every code block on its own; the quickstart's blocks build on each
other (the run, then the inputs, then the transfer), so here they run in order in one
scratch folder with ``recipes/`` and ``examples/`` linked in, and the files the page
promises are checked. Install commands are skipped (the package is installed); a block
marked ``<!-- docs-test: dry-run -->`` validates and builds its ``vidgan run`` instead of
training for hours.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import code_blocks
from vidgan_kit.io import read_video

from .conftest import REPO

pytestmark = pytest.mark.slow

PAGE = REPO / "docs" / "quickstart.md"
INSTALL = re.compile(r"^(python -m )?pip install ")


def shell_script(body: str, dry_run: bool) -> str:
    lines = []
    for raw in body.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if INSTALL.match(line):
            if " && " not in line:
                continue
            line = line.split(" && ", 1)[1]
        if dry_run and line.startswith("vidgan run "):
            line += " --dry-run"
        lines.append(line)
    return "\n".join(lines)


def test_quickstart_top_to_bottom(tmp_path: Path) -> None:
    for name in ("recipes", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    env = {**os.environ, "VIDGAN_QUIET": "1"}
    blocks = [b for b in code_blocks([PAGE]) if b.lang in ("bash", "python")]
    assert [b.lang for b in blocks] == ["bash", "bash", "python", "bash", "python"]
    for i, block in enumerate(blocks):
        if block.lang == "python":
            script = tmp_path / f"block{i}.py"
            script.write_text(block.body, encoding="utf-8")
            args = [sys.executable, str(script)]
        else:
            args = ["bash", "-e", "-c", shell_script(block.body, block.directive == "dry-run")]
        proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, f"{block.id}:\n{block.body}\n--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-2000:]}"

    run = tmp_path / "runs" / "first-try"
    assert {p.name for p in run.iterdir()} >= {"recipe.json", "recipe.toml", "environment.json", "metrics.jsonl",
                                                "samples", "checkpoints"}
    assert (run / "checkpoints" / "step-00000100" / "decoder" / "model.safetensors").is_file()
    assert not (tmp_path / "runs" / "dual_mtgan").exists()  # the flagship was only dry-run
    assert read_video(tmp_path / "truth.mp4").shape == (16, 3, 64, 64)
    for name in ("transfer.mp4", "transfer.gif", "transfer_api.gif"):
        assert read_video(tmp_path / name).shape == (4, 3, 16, 16), name
    samples = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert samples == ["grid.mp4", *(f"sample_{i:03d}.mp4" for i in range(4))]
