"""Every error a user can cause, in one place.

Each message says what was expected and how to find the valid values, so the CLI can
print it as-is (no traceback) and exit non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "VidganError",
    "RegistryError",
    "UnknownComponentError",
    "DuplicateComponentError",
    "PluginLoadError",
    "RecipeIssue",
    "RecipeError",
    "CheckpointError",
    "DataError",
    "ShapeError",
    "WeightsError",
    "WeightsMissingError",
    "UnsafePickleError",
]


class VidganError(Exception):
    """Base class of all errors caused by user input rather than by a bug."""


class RegistryError(VidganError):
    """A registry lookup or registration failed."""


class UnknownComponentError(RegistryError):
    def __init__(self, kind: str, name: str, suggestions: list[str], known: list[str], note: str = ""):
        self.kind, self.name, self.suggestions = kind, name, suggestions
        hint = f" Did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        listing = f" Known {kind} components: {', '.join(known)}." if known else f" No {kind} components are registered."
        first = f" Note: {note}." if note else ""  # e.g. installed plugins left unloaded
        super().__init__(
            f"Unknown {kind} component {name!r}.{first}{hint}{listing}"
            f" Run `vidgan list-components --kind {kind}` to see them all."
        )


class DuplicateComponentError(RegistryError):
    def __init__(self, kind: str, name: str, first: str, second: str):
        self.kind, self.name = kind, name
        super().__init__(
            f"{kind} component {name!r} is registered twice: first by {first}, then by {second}."
            " Rename one of them, or block one plugin with VIDGAN_BLOCK_PLUGINS."
        )


class PluginLoadError(VidganError):
    """A plugin could not be imported or its hook failed."""


@dataclass(frozen=True)
class RecipeIssue:
    """One problem in a recipe, located by its dotted TOML path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RecipeError(VidganError):
    """A recipe failed validation; carries every issue found, not only the first."""

    def __init__(self, issues: list[RecipeIssue], source: str | None = None):
        self.issues = list(issues)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(f"{len(self.issues)} {noun}{where}:\n{lines}")


class CheckpointError(VidganError):
    """A checkpoint is missing, incomplete, or needs a component that is not installed."""


class DataError(VidganError):
    """A data file or folder cannot be used; the message names the file."""


class ShapeError(VidganError, ValueError):
    """A tensor crossing a component boundary has the wrong layout."""


class WeightsError(VidganError):
    """Fetching or reading pretrained weights failed (hash mismatch, damaged archive...)."""


class WeightsMissingError(WeightsError):
    """The weights a metric needs are not in the cache."""


class UnsafePickleError(WeightsError):
    """A pickle asked for something other than numpy arrays and plain containers."""
