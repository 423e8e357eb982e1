"""Every code block in the docs is executed or checked.

A page's blocks run in order in one scratch folder (``recipes/`` and ``examples/`` linked in),
so a later block may use what an earlier one made, as a reader's would.

- ``python``: run as a script.
- ``bash``/``shell``: run with ``bash -e``, except install
  commands, which must be the README's set-up commands. ``<!-- docs-test: dry-run -->``
  before a block turns its ``vidgan run`` commands into ``--dry-run`` (long trainings are
  validated and built, not run). There is no skip: a command that cannot run on one CPU
  machine (multi-node, hours of training) goes in a ``text`` block, and ``test_commands.py``
  checks it against the program it calls.
- ``toml``: parsed; a whole recipe is validated against the registry.
- snippet includes (``--8<-- "path"``): the file must exist (its own tests run it).
- ``text``/``console``: output and the like, and commands too long to run (checked by ``test_commands.py``).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from vidgan_kit import load_registry
from vidgan_kit.recipe import validate_recipe

from .blocks import REPO, CodeBlock, code_blocks

BLOCKS = code_blocks()
RUNNABLE = {"python", "py", "bash", "sh", "shell", "toml"}
INSTALL = re.compile(r"^(python -m )?pip install ")


def _readme_commands() -> set[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return {line.strip() for line in text.splitlines() if INSTALL.match(line.strip())}


def _scratch(tmp_path: Path) -> Path:
    for name in ("recipes", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def _run(args: list[str], cwd: Path, block: CodeBlock, timeout: int = 300) -> None:
    env = {**os.environ, "VIDGAN_QUIET": "1"}
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{block.id} failed ({proc.returncode}):\n{block.body}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"


def _is_signature(body: str) -> bool:
    lines = [line for line in body.strip().splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("def ") and not lines[0].rstrip().endswith(":")


def _snippet_paths(body: str) -> list[str]:
    return re.findall(r'^--8<-- "([^"]+)"\s*$', body, flags=re.M)


def _shell_script(block: CodeBlock) -> str:
    readme = _readme_commands()
    lines = []
    for raw in block.body.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if INSTALL.match(line):
            first = line.split(" && ")[0]
            assert any(cmd.startswith(first) for cmd in readme), f"{block.id}: install command differs from README: {line}"
            rest = line.split(" && ", 1)[1] if " && " in line else ""
            if not rest:
                continue
            line = rest
        if block.directive == "dry-run" and re.match(r"^vidgan run ", line):
            line += " --dry-run"
        lines.append(line)
    return "\n".join(lines)


PAGES = sorted({b.page for b in BLOCKS if b.lang in RUNNABLE})


def _check_block(block: CodeBlock, cwd: Path) -> None:
    if block.directive == "skip":
        pytest.fail(f"{block.id}: use a ```text block for commands that cannot run here, not docs-test: skip")
    snippets = _snippet_paths(block.body)
    if snippets:
        for rel in snippets:
            assert (REPO / rel).is_file(), f"{block.id}: snippet {rel} does not exist"
        return
    if block.lang in ("python", "py") and _is_signature(block.body):
        ast.parse(block.body.strip() + ": ...")  # a documented signature: must be valid Python
        return
    if block.lang in ("python", "py"):
        script = cwd / f"block_{block.line}.py"
        script.write_text(block.body, encoding="utf-8")
        _run([sys.executable, str(script)], cwd, block)
    elif block.lang == "toml":
        table = tomllib.loads(block.body)
        if "model" in table and "data" in table:
            validate_recipe(table, load_registry(), source=block.id)
    else:
        script = _shell_script(block)
        if script:
            _run(["bash", "-e", "-c", script], cwd, block)


@pytest.mark.parametrize("page", PAGES)
def test_page_code_blocks(page: str, tmp_path: Path) -> None:
    """A page's blocks run in order in one folder, as a reader following it would run them."""
    cwd = _scratch(tmp_path)
    for block in (b for b in BLOCKS if b.page == page and b.lang in RUNNABLE):
        _check_block(block, cwd)


def test_docs_have_code_blocks() -> None:
    # Guard against a fence regex that silently matches nothing.
    assert sum(b.lang in RUNNABLE for b in BLOCKS) >= 5


def test_install_commands_match_readme() -> None:
    """Set-up commands shown anywhere in the docs (text blocks too) are the README's."""
    readme = _readme_commands()
    assert len(readme) == 2
    shown = {line.strip() for b in BLOCKS for line in b.body.splitlines() if INSTALL.match(line.strip())}
    assert shown, "the docs show no set-up command"
    assert shown <= readme, f"docs show set-up commands that differ from README.md: {sorted(shown - readme)}"
