from __future__ import annotations

import tomllib  # noqa: F401  (recipes are written by hand below)
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state


def toml_dump(table: dict, prefix: str = "") -> str:
    """A tiny TOML writer for test recipes (nested tables and scalars/arrays only)."""
    lines, tables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(f"[[{prefix}{key}]]\n" + toml_dump(item))
        else:
            lines.insert(0, f"{key} = {_scalar(value)}")
    out = "\n".join(lines)
    for key, sub in tables:
        out += f"\n[{prefix}{key}]\n" + toml_dump(sub, f"{prefix}{key}.")
    return out + "\n"


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    return repr(v)


@pytest.fixture
def cli(host):
    """Invoke the CLI in-process with the toy plugin loaded; returns a function(args) -> Result."""
    runner = CliRunner()

    def invoke(*args: str):
        reset_state(host=host)
        return runner.invoke(build_app(), list(args))

    yield invoke
    reset_state()


@pytest.fixture
def toy_recipe(tmp_path: Path, toy_table) -> Path:
    path = tmp_path / "toy.toml"
    path.write_text(toml_dump(toy_table))
    return path
