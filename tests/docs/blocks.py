"""Extract fenced code blocks from the docs, with the directive comment before each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CodeBlock", "code_blocks", "DOCS", "REPO"]

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```\s*$", re.M | re.S)
DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<mode>[\w-]+)\s*-->\s*$")


@dataclass(frozen=True)
class CodeBlock:
    page: str
    line: int
    lang: str
    body: str
    directive: str | None  # from a `<!-- docs-test: MODE -->` comment right before the block

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def code_blocks(pages: list[Path] | None = None) -> list[CodeBlock]:
    out = []
    for page in pages or sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            before = text[: m.start()].rstrip().splitlines()
            directive = DIRECTIVE.search(before[-1]) if before else None
            out.append(CodeBlock(
                page=str(page.relative_to(DOCS)),
                line=text[: m.start()].count("\n") + 1,
                lang=m.group("lang").lower(),
                body=m.group("body"),
                directive=directive.group("mode") if directive else None,
            ))
    return out
