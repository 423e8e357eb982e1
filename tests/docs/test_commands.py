"""Commands the docs show but no test runs are checked against the programs they call.

``test_code_blocks`` runs the docs' bash blocks against the tiny recipe. The rest (``text``
blocks of long or multi-machine runs, and commands written in the prose and the tables:
benchmarks of half an hour, trainings of hours) cannot run in a test, so each is checked
instead: ``vidgan ...`` names real (sub)commands and only options they take; ``python
benchmarks/X.py ...`` names a script that exists and only options its ``--help`` lists;
``python -m vidgan_kit.M`` a module that imports, ``python -m vidgan_kit ...`` and
``torchrun ... -m vidgan_kit ...`` the vidgan command they run; and every recipe override
(``--set key=value``) validates against the recipe the command trains (``recipes/X.toml``
where it names one, else the flagship recipe, which the benchmarks default to). Placeholder
values (``RUN``, ``M``, ``...``) are left unchecked. The generated reference pages are left
out: they are written from the programs themselves.
"""

from __future__ import annotations

import functools
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .blocks import DOCS, FENCE, REPO, code_blocks

#: A command in backticks in the prose or a table; it may wrap over lines.
INLINE = re.compile(r"`((?:vidgan |python benchmarks/|python -m vidgan_kit|torchrun )[^`]*)`")
STARTS = ("vidgan ", "python benchmarks/", "python -m vidgan_kit", "torchrun ")
#: A value standing for what the reader fills in (RUN, M, N, CKPT, ...), or elided.
PLACEHOLDER = re.compile(r"^([A-Z][A-Z0-9_]*|\.\.\.|<[^>]*>)$")
FLAGSHIP = REPO / "recipes" / "dual_mtgan.toml"


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for every command the hand-written pages show without running it."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        if page.parent.name == "reference":
            continue
        where = str(page.relative_to(DOCS))
        for block in code_blocks([page]):
            if block.lang in {"text", "console", ""}:
                body = block.body.replace("\\\n", " ")
                found += [(f"{block.id}", line.strip()) for line in body.splitlines() if line.strip().startswith(STARTS)]
        prose = FENCE.sub("", page.read_text(encoding="utf-8"))
        found += [(where, " ".join(m.group(1).split())) for m in INLINE.finditer(prose)]
    return found


COMMANDS = documented_commands()


@functools.cache
def _cli() -> Any:
    from typer.main import get_command

    from vidgan_kit.cli.app import build_app

    return get_command(build_app())


@functools.cache
def _script_options(script: str) -> frozenset[str]:
    proc = subprocess.run([sys.executable, script, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{script} --help failed:\n{proc.stderr[-2000:]}"
    return frozenset(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", proc.stdout))


def _options(tokens: list[str]) -> list[str]:
    return [t.split("=", 1)[0] for t in tokens if t.startswith("-") and not re.match(r"^-\d", t)]


def _overrides(tokens: list[str]) -> list[str]:
    return [value for flag, value in zip(tokens, tokens[1:]) if flag in ("--set", "-s")]


def _check_vidgan(tokens: list[str]) -> None:
    # Groups are told by their ``commands``: typer may bring its own copy of click's classes.
    command, rest = _cli(), tokens[1:]
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    if hasattr(command, "commands"):
        assert not rest or not rest[0].isidentifier() or PLACEHOLDER.match(rest[0]), f"no command {rest[0]!r}"
    taken = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help", "-h"}
    unknown = [opt for opt in _options(rest) if opt not in taken]
    assert not unknown, f"`{' '.join(tokens[:3])}` takes no {unknown}"


def _check_script(tokens: list[str]) -> None:
    script = tokens[1]
    assert (REPO / script).is_file(), f"no {script}"
    if script.endswith(".py"):
        unknown = [opt for opt in _options(tokens[2:]) if opt not in _script_options(script)]
        assert not unknown, f"{script} takes no {unknown}"


def _check_overrides(tokens: list[str]) -> None:
    from vidgan_kit import load_registry
    from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe

    recipe = next((REPO / t for t in tokens if t.startswith("recipes/") and t.endswith(".toml")), FLAGSHIP)
    # Together: one override may need another (a new loss's weight and its type).
    overrides = [o for o in _overrides(tokens) if not PLACEHOLDER.match(o.partition("=")[2])]
    validate_recipe(apply_overrides(read_recipe_table(recipe), overrides), load_registry(), source=str(recipe))


def test_the_docs_show_commands_to_check():
    # The checks below see what the pages hold: the commands of the benchmarks' tables among them.
    assert sum(command.startswith("python benchmarks/") for _, command in COMMANDS) >= 20
    assert any("--set" in command for _, command in COMMANDS)


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w}:{c[:60]}" for w, c in COMMANDS])
def test_a_documented_command_calls_what_exists(where: str, command: str) -> None:
    # [...] marks what may be left out: checked as if given.
    tokens = shlex.split(re.sub(r"[\[\]\\]", " ", command), posix=True)
    if "vidgan_kit" in tokens and tokens[tokens.index("vidgan_kit") - 1] == "-m":
        # python -m vidgan_kit / torchrun ... -m vidgan_kit: the vidgan command, in each process.
        tokens = ["vidgan", *tokens[tokens.index("vidgan_kit") + 1:]]
    if tokens[0] == "vidgan":
        _check_vidgan(tokens)
    elif tokens[:2] == ["python", "-m"]:
        importlib.import_module(tokens[2])
    else:
        _check_script(tokens)
    _check_overrides(tokens)


def test_the_checker_catches_an_unknown_option_and_a_wrong_recipe_key():
    with pytest.raises(AssertionError, match="takes no"):
        _check_vidgan(["vidgan", "eval", "RUN", "--no-such-option"])
    with pytest.raises(AssertionError, match="takes no"):
        _check_script(["python", "benchmarks/speed.py", "--no-such-option"])
    with pytest.raises(Exception, match="no_such_key"):
        _check_overrides(["vidgan", "run", "recipes/tiny.toml", "--set", "train.no_such_key=1"])
    assert Path(FLAGSHIP).is_file()
