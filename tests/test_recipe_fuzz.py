"""Fuzzing the recipe parser and ``--set``: whatever a user types, the answer is a recipe or a
:class:`~vidgan_kit.errors.VidganError` (which the CLI prints without a traceback), never
another exception. A recipe that validates also survives its own round trip: standard JSON
for recipe.json, and the same recipe again when its table is validated anew."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidgan_kit import PluginHost
from vidgan_kit.errors import VidganError
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe

TINY = Path(__file__).resolve().parents[1] / "recipes" / "tiny.toml"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def registry() -> Any:
    """Every installed plugin's components (the recipe's own ``plugins`` are never loaded here:
    a fuzzed module name must not be imported)."""
    return PluginHost.create().registry


def tiny() -> dict[str, Any]:
    return tomllib.loads(TINY.read_text(encoding="utf-8"))


# -- a TOML writer for any table hypothesis draws ----------------------------------------------


def toml_string(text: str) -> str:
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(table: dict[str, Any]) -> str:
    return "".join(f"{toml_string(k)} = {toml_value(v)}\n" for k, v in table.items())


scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.dates()
    | st.sampled_from([0, 1, -1, 2, 4, 8, 16, 0.0, 0.5, "cpu", "cuda", "auto", "fp16", "bf16", "adam", "type"])
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=3), max_leaves=8)


def dotted_keys(table: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        keys.append(path)
        if isinstance(value, dict):
            keys += dotted_keys(value, path + ".")
    return keys


#: Places a change lands: the tiny recipe's own keys (deep into the validators), and any text.
PATHS = st.sampled_from([k for k in dotted_keys(tiny()) if not k.startswith("plugins")]) | st.text(min_size=1, max_size=10)
CHANGES = st.lists(st.tuples(PATHS, values | st.none()), min_size=1, max_size=4)


def changed(table: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    """``table`` with each dotted path set to its value (``None`` deletes it); the recipe's
    ``plugins`` list is always dropped, so that nothing fuzzed is imported."""
    for path, value in changes:
        *parents, last = path.split(".")
        node = table
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    table.pop("plugins", None)
    return table


def validated_or_refused(table: dict[str, Any], overrides: list[str] = ()) -> None:
    """``--set`` and validation, as ``vidgan validate`` runs them, give a recipe or a VidganError;
    a recipe gives standard JSON and validates again."""
    try:
        recipe = validate_recipe(changed(apply_overrides(table, list(overrides)), []), registry(), source="fuzz.toml")
    except VidganError:
        return
    text = recipe.to_json()
    json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(AssertionError(f"{name} in recipe.json")))
    assert validate_recipe(recipe.to_table(), registry()) == recipe


def parsed(text: str | bytes) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipe.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            return read_recipe_table(path)
        except VidganError:
            return None


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_file_is_a_table_or_a_recipe_error(text: str | bytes) -> None:
    table = parsed(text)
    if table is not None:
        validated_or_refused(table)


@FUZZ
@given(CHANGES)
def test_any_change_to_a_recipe_validates_or_is_refused(changes: list[tuple[str, Any]]) -> None:
    document = toml_document(changed(tiny(), changes))
    table = parsed(document)
    assert table is not None, document  # the writer writes valid TOML: the change is what is tested
    validated_or_refused(table)


SET_OPTIONS = st.text(max_size=30) | st.builds(lambda p, v: f"{p}={v}", PATHS, st.text(max_size=12))


@FUZZ
@given(st.lists(SET_OPTIONS, min_size=1, max_size=4))
def test_any_set_option_applies_or_is_refused(overrides: list[str]) -> None:
    validated_or_refused(tiny(), overrides)


@FUZZ
@given(CHANGES)
def test_set_options_of_any_value_apply_or_are_refused(changes: list[tuple[str, Any]]) -> None:
    """``--set key=value`` with each value written as TOML, as a user types it."""
    validated_or_refused(tiny(), [f"{path}={toml_value(value)}" for path, value in changes if value is not None])
