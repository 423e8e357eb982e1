"""Arrows point one way: plugins import vidgan_kit; vidgan_kit never imports the plugins."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "vidgan_kit"
PLUGIN_PACKAGES = {"vidgan_builtin", "plugins", "vidgan_example_discriminator"}


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


def test_core_never_imports_plugins():
    offenders = []
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for module in _imported_modules(path):
            if module.split(".")[0] in PLUGIN_PACKAGES:
                offenders.append(f"{path.relative_to(CORE.parent)} imports {module}")
    assert offenders == []


def test_checker_sees_imports():
    # Guard against a checker that passes because it sees nothing.
    assert "vidgan_builtin.networks" in _imported_modules(Path(__file__).with_name("_import_probe.py"))
