"""Did-you-mean suggestions, shared by every rule that rejects a name."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to `word` (case-insensitive), or None if nothing is close."""
    pool = list(dict.fromkeys(candidates))
    lowered = {candidate.lower(): candidate for candidate in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], render=repr) -> str | None:
    """`Did you mean 'x'?` for the closest candidate, or None."""
    match = closest(word, candidates)
    return f"Did you mean {render(match)}?" if match else None
