"""The hooks reference documents every hookspec with its exact signature."""

import inspect
import re
from pathlib import Path

from vidgan_kit import hookspecs

PAGE = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def _specs() -> dict[str, str]:
    out = {}
    for name in dir(hookspecs):
        func = getattr(hookspecs, name)
        if name.startswith("vidgan_") and callable(func) and hasattr(func, "vidgan_kit_spec"):
            sig = str(inspect.signature(func)).replace("'", "")
            out[name] = f"def {name}{sig}"
    return out


def test_every_hookspec_has_a_section_with_its_signature():
    text = PAGE.read_text(encoding="utf-8")
    specs = _specs()
    assert len(specs) >= 6
    for name, signature in specs.items():
        assert f"## {name}\n" in text, f"docs/hooks.md has no section for {name}"
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert signature in section, f"docs/hooks.md: {name} should show `{signature}`"


def test_page_documents_no_removed_hooks():
    documented = set(re.findall(r"^## (vidgan_\w+)$", PAGE.read_text(encoding="utf-8"), flags=re.M))
    assert documented == set(_specs())
