"""Arrows point one way.

- plugins import vidgan_kit; vidgan_kit never imports the plugins;
- a model family's package (``vidgan_dual_mtgan``) imports the generic plugins
  (``vidgan_builtin``), never the other way round;
- no import loop inside vidgan_kit, counting imports inside functions and type-only ones;
- nobody imports a private name (a module or symbol starting with ``_``) of a package it is
  not inside: not the plugins from vidgan_kit's, not one vidgan_kit subpackage from another's;
- the core imports neither the trainer (``vidgan_kit.training``) nor the CLI (``vidgan_kit.cli``).

Each checker has a guard test that runs it over ``_import_probe_tree/``, files that break
each rule on purpose, so that a checker cannot pass because it sees nothing.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "vidgan_kit"
#: Packages of model families: above the generic components, which never import them.
FAMILY_PACKAGES = {"vidgan_dual_mtgan"}
PLUGIN_PACKAGES = {"vidgan_builtin", "plugins", "vidgan_example_discriminator", *FAMILY_PACKAGES}
GENERIC = REPO / "plugins" / "vidgan_builtin"
PROBE = Path(__file__).with_name("_import_probe_tree")

#: Packages of the toolkit and of its built-in plugins: (folder holding the package, package name).
SOURCES = ((REPO, "vidgan_kit"), (REPO / "plugins", "vidgan_builtin"),
           *((REPO / "plugins", family) for family in sorted(FAMILY_PACKAGES)))
#: The layers above the core: everything else in vidgan_kit may import neither of them.
UPPER_LAYERS = ("vidgan_kit.training", "vidgan_kit.cli", "vidgan_kit.__main__")
#: Core modules named in the layering rule (the test checks every module outside UPPER_LAYERS;
#: these must be among them).
NAMED_CORE = ("registry", "interfaces", "hookspecs", "recipe", "config", "checkpoint", "io", "eval", "layout",
              "errors", "plugins")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
            "import_module", "__import__"
        }:
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _imports_of(folder: Path, packages: set[str]) -> list[str]:
    """Every import of one of ``packages`` by a file under ``folder``."""
    offenders = []
    files = sorted(folder.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for module in _imported_modules(path):
            if module.split(".")[0] in packages:
                offenders.append(f"{path.relative_to(REPO)} imports {module}")
    return offenders


def test_core_never_imports_plugins():
    assert _imports_of(CORE, PLUGIN_PACKAGES) == []


def test_generic_components_never_import_a_model_family():
    assert _imports_of(GENERIC, FAMILY_PACKAGES) == []


def test_checker_sees_imports():
    # Guard against a checker that passes because it sees nothing.
    seen = _imported_modules(Path(__file__).with_name("_import_probe.py"))
    assert {"vidgan_builtin.networks", "vidgan_dual_mtgan.sprite_decoder"} <= seen


# -- the module graph ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One imported module, as resolved from an import statement anywhere in a file."""

    importer: str
    module: str  # the imported module (a package's __init__ when a package is imported)
    names: tuple[str, ...]  # what ``from module import ...`` takes from it; () for a submodule or ``import``
    line: int


def _modules(sources: tuple[tuple[Path, str], ...]) -> dict[str, Path]:
    """Module name -> file, for every .py file of the given packages."""
    out = {}
    for folder, package in sources:
        for path in sorted((folder / package).rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import in ``path``, at any depth (functions, ``if TYPE_CHECKING:``), relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names = []
            for alias in node.names:
                if f"{source}.{alias.name}" in known:  # `from package import submodule`
                    found.append(Import(module, f"{source}.{alias.name}", (), node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append(Import(module, source, tuple(names), node.lineno))
    return found


def _all_imports(sources: tuple[tuple[Path, str], ...]) -> list[Import]:
    known = _modules(sources)
    return [imp for module, path in known.items() for imp in _imports(module, path, known)]


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(sources: tuple[tuple[Path, str], ...]) -> dict[str, dict[str, int]]:
    """Module -> {module it imports: line}, within the given packages.

    Importing ``a.b.c`` first runs ``a/b/__init__.py``: that package is an edge too, unless it
    encloses the importer (then it is already running)."""
    known = _modules(sources)
    graph: dict[str, dict[str, int]] = {m: {} for m in known}
    for imp in _all_imports(sources):
        target = imp.module
        while target not in known and "." in target:  # `import a.b.attr` style leftovers
            target = target.rpartition(".")[0]
        if target not in known:
            continue  # a third-party module
        enclosing = set(_ancestors(imp.importer))
        for node in [*(a for a in _ancestors(target) if a not in enclosing), target]:
            if node in known and node != imp.importer:
                graph[imp.importer].setdefault(node, imp.line)
    return graph


def import_loops(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return loops


def _describe_loop(graph: dict[str, dict[str, int]], loop: list[str]) -> str:
    edges = [f"{a}:{line} -> {b}" for a in loop for b, line in sorted(graph[a].items()) if b in loop]
    return "; ".join(edges)


def _private_owner(imp: Import) -> str | None:
    """The package a private name of ``imp`` belongs to, or None when it imports nothing private."""
    parts = imp.module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])  # a private module: its package owns it
    if any(n.startswith("_") and not n.startswith("__") for n in imp.names):
        return imp.module.rpartition(".")[0]  # a private symbol of a module: that module's package
    return None


def private_imports(sources: tuple[tuple[Path, str], ...]) -> list[str]:
    """Imports of a private name by a module outside the package that owns it."""
    ours = {package for _, package in sources}
    offenders = []
    for imp in _all_imports(sources):
        owner = _private_owner(imp)
        if owner is None or imp.module.split(".")[0] not in ours:
            continue
        if imp.importer != owner and not imp.importer.startswith(owner + "."):
            offenders.append(f"{imp.importer}:{imp.line} imports {imp.module} {', '.join(imp.names)}".strip())
    return offenders


def upward_imports(sources: tuple[tuple[Path, str], ...], package: str, upper: tuple[str, ...]) -> list[str]:
    """Imports of an ``upper`` layer by a module of ``package`` outside those layers."""
    inside = lambda module, layers: any(module == u or module.startswith(u + ".") for u in layers)  # noqa: E731
    return [f"{imp.importer}:{imp.line} imports {imp.module}" for imp in _all_imports(sources)
            if imp.importer.split(".")[0] == package and not inside(imp.importer, upper) and inside(imp.module, upper)]


PROBE_SOURCES = ((PROBE, "probekit"), (PROBE, "probeplug"))


def test_no_import_loops_in_vidgan_kit():
    graph = import_graph(SOURCES[:1])
    assert len(graph) > 40
    loops = import_loops(graph)
    assert loops == [], "\n".join(_describe_loop(graph, loop) for loop in loops)


def test_loop_checker_sees_function_level_type_only_and_package_loops():
    loops = import_loops(import_graph(PROBE_SOURCES))
    assert sorted(loops) == [
        ["probekit.eval", "probekit.eval.runner", "probekit.recipe"],  # through eval/__init__.py
        ["probekit.high", "probekit.low"],  # through an import inside a function
    ]


def test_no_private_imports_across_packages():
    assert private_imports(SOURCES) == []


def test_private_import_checker_sees_private_modules_and_names():
    offenders = private_imports(PROBE_SOURCES)
    assert offenders == [
        "probekit.registry:3 imports probekit.cli._common",
        "probeplug.commands:1 imports probekit.cli._common STATE",
        "probeplug.commands:3 imports probekit.eval.runner _private_helper",
    ]


def test_the_core_imports_neither_the_trainer_nor_the_cli():
    graph = import_graph(SOURCES[:1])
    core = [m for m in graph if not any(m == u or m.startswith(u + ".") for u in UPPER_LAYERS)]
    assert {f"vidgan_kit.{name}" for name in NAMED_CORE} <= set(core)
    assert upward_imports(SOURCES[:1], "vidgan_kit", UPPER_LAYERS) == []


def test_layer_checker_sees_type_only_imports():
    upper = ("probekit.training", "probekit.cli")
    assert upward_imports(PROBE_SOURCES, "probekit", upper) == [
        "probekit.registry:3 imports probekit.cli._common",
        "probekit.registry:6 imports probekit.training.loop",
    ]
