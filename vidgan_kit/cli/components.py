"""Commands that describe what is installed: components, plugins, the recipe schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..errors import RegistryError
from ..introspect import component_options, recipe_json_schema
from ..suggest import closest
from ._common import STATE, PluginOption, out, user_errors

__all__ = ["register"]


@user_errors
def list_components(
    pattern: Annotated[str | None, typer.Argument(help="Glob or substring to filter names.")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", "-k", help="Only this kind (encoder, decoder, loss, model, dataset, ...; plugins may add kinds)."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    plugin: PluginOption = None,
) -> None:
    """List registered components: kind, name, plugin and a one-line summary."""
    host = STATE.host(plugin)
    if kind is not None:
        host.registry.kind(kind)  # an unknown kind is an error that lists the kinds
    entries = host.registry.list(kind, pattern)
    if as_json:
        rows = [
            {"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution, "summary": e.summary}
            for e in entries
        ]
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(entries)} components", title_justify="left")
    for col in ("kind", "name", "plugin"):
        table.add_column(col, no_wrap=True)
    table.add_column("summary", overflow="fold")
    for e in entries:
        plugin_label = e.plugin + (f" [dim]({e.distribution})[/]" if e.distribution else "")
        table.add_row(e.kind, e.name, plugin_label, e.summary)
    out.print(table)


@user_errors
def show_component(
    name: Annotated[str, typer.Argument(help="Component name, or kind/name when a name exists in several kinds.")],
    plugin: PluginOption = None,
) -> None:
    """Show one component: its options with type, default and description."""
    host = STATE.host(plugin)
    kind, _, bare = name.rpartition("/")
    entries = [host.registry.get(kind, bare)] if kind else host.registry.find(bare)
    if not entries:
        names = sorted({e.name for e in host.registry})
        hint = closest(bare, names)
        raise RegistryError(
            f"No component named {bare!r}."
            + (f" Note: {host.registry.unloaded_note}." if host.registry.unloaded_note else "")
            + (f" Did you mean {', '.join(hint)}?" if hint else "")
            + " Run `vidgan list-components` to see them all."
        )
    for entry in entries:
        out.print(f"[bold]{entry.name}[/]  ({entry.kind})")
        if entry.summary:
            out.print(entry.summary)
        out.print(f"registered by {entry.origin}")
        table = Table(show_lines=False)
        for col in ("option", "type", "default", "description"):
            table.add_column(col, overflow="fold")
        for opt in component_options(entry.config_model):
            table.add_row(opt.name, opt.type, opt.default, opt.description)
        if entry.config_model.model_fields:
            out.print(table)
        else:
            out.print("(no options)")


@user_errors
def plugins(plugin: PluginOption = None) -> None:
    """List loaded plugins, where they come from and what they register."""
    host = STATE.host(plugin)
    counts: dict[str, int] = {}
    for e in host.registry:
        counts[e.plugin] = counts.get(e.plugin, 0) + 1
    table = Table(title=f"{len(host.infos)} plugins", title_justify="left")
    for col in ("plugin", "source", "distribution"):
        table.add_column(col, no_wrap=True)
    for col in ("module", "components", "hooks"):
        table.add_column(col, overflow="fold")
    for name, info in sorted(host.infos.items()):
        hooks = sorted(h.name for h in host.pm.get_hookcallers(host.pm.get_plugin(name)) or [])
        dist = f"{info.distribution} {info.version or ''}".strip() if info.distribution else "-"
        table.add_row(name, info.source, dist, info.module, str(counts.get(name, 0)), ", ".join(hooks))
    out.print(table)
    if host.blocked:
        out.print(f"blocked: {', '.join(sorted(host.blocked))}")


@user_errors
def schema(plugin: PluginOption = None) -> None:
    """Print the recipe JSON Schema, including the components installed plugins add."""
    host = STATE.host(plugin)
    out.print_json(json.dumps(recipe_json_schema(host.registry)))


def register(app: typer.Typer) -> None:
    app.command("list-components", rich_help_panel="Components")(list_components)
    app.command("show-component", rich_help_panel="Components")(show_component)
    app.command("plugins", rich_help_panel="Components")(plugins)
    app.command("schema", rich_help_panel="Recipes")(schema)
