"""How much the release manager changed a draft: normalized edit distance, items deleted, items added."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

_MARKER = re.compile(r"<!--.*?-->", re.S)
_ITEM = re.compile(r"^\s*[-*+]\s+(.*\S)\s*$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
SAME_ITEM = 85.0  # rapidfuzz ratio from which two bullet lines count as the same item, lightly edited


@dataclass(frozen=True)
class Score:
    distance: float  # 0 = kept as drafted, 1 = nothing left of it
    deleted: tuple[str, ...]  # generated items the final text no longer has
    added: tuple[str, ...]  # final items nobody generated
    generated_chars: int
    final_chars: int


def _clean(text: str) -> str:
    return _MARKER.sub("", text).strip()


def items(text: str) -> list[str]:
    """The bullet lines of a text, link targets dropped (people edit wording, not URLs)."""
    found = []
    for line in _clean(text).splitlines():
        match = _ITEM.match(line)
        if match:
            found.append(" ".join(_LINK.sub(r"\1", match.group(1)).split()))
    return found


def _unmatched(these: list[str], others: list[str]) -> tuple[str, ...]:
    return tuple(item for item in these
                 if not others or process.extractOne(item, others, scorer=fuzz.ratio, score_cutoff=SAME_ITEM) is None)


def score(generated: str, final: str) -> Score:
    """Compare the bot's draft with what was published (both markdown)."""
    a, b = _clean(generated), _clean(final)
    gen_items, final_items = items(a), items(b)
    return Score(
        distance=round(Levenshtein.normalized_distance(a, b), 4),
        deleted=_unmatched(gen_items, final_items),
        added=_unmatched(final_items, gen_items),
        generated_chars=len(a),
        final_chars=len(b),
    )
