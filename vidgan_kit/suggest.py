"""'Did you mean …?' for names typed by people."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most similar to ``name``, best first (case-insensitive)."""
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    # Substring matches help for prefixes like "dcgan" -> "dcgan_video_discriminator".
    for cand in pool:
        if len(hits) >= n:
            break
        if name.lower() in cand.lower() and cand.lower() not in hits:
            hits.append(cand.lower())
    return [lowered[h] for h in hits]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A suffix like '; did you mean base_channels?' or an empty string."""
    hits = closest(name, candidates, n=1)
    return f"; did you mean {hits[0]}?" if hits else ""
