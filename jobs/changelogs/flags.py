"""Flag what a reviewer must not miss in a changelog slice: breaking changes, removals, deprecations, security."""

from __future__ import annotations

import re
from typing import Iterable

from jobs.models import ChangelogFlag, ChangelogSection

# Order matters: the first kind whose pattern matches a line wins for that line.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("security", re.compile(
        r"\b(CVE-\d{4}-\d{4,}|GHSA(-[0-9a-z]{4}){3}|PYSEC-\d{4}-\d+|security|vulnerab\w*|"
        r"denial[- ]of[- ]service|XSS|CSRF|RCE|SSRF)\b", re.I)),
    ("breaking", re.compile(
        r"(\bBREAKING\b|\bbreaking changes?\b|\bbackwards?[- ]incompatib\w*|\bincompatible changes?\b|"
        r"^\s*(?:[-*+]\s+)?(?:\*\*)?\w+(\([^)]*\))?!:)", re.I)),
    ("removal", re.compile(
        r"\b(removed?|removals?|drop(ped|s)? support|no longer support(s|ed)?|end of life)\b", re.I)),
    ("deprecation", re.compile(r"\bdeprecat\w*", re.I)),
)
_HEADING = re.compile(r"^\s*(#{1,6}\s+.*|\*\*[^*]+\*\*\s*:?\s*|[A-Z][\w ,&/-]{2,60}:?)$")
_UNDERLINE = re.compile(r"^\s*([-=~^\"'`#*+]{3,})\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
MAX_TEXT = 240


def _kind_of(text: str) -> str | None:
    return next((kind for kind, pattern in PATTERNS if pattern.search(text)), None)


def _items(lines: list[str]) -> Iterable[tuple[str, str | None]]:
    """(item text, kind of the sub-heading it sits under) for each bullet or paragraph line of a section."""
    heading_kind: str | None = None
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if not line.strip() or _UNDERLINE.match(line):
            continue
        is_heading = not _ITEM.match(line) and (bool(_UNDERLINE.match(following)) or bool(_HEADING.match(line)))
        if is_heading:
            # towncrier and keep-a-changelog group items under headings such as "Deprecations and Removals"
            heading_kind = _kind_of(line)
            continue
        yield line.strip(), heading_kind


def flag_sections(sections: Iterable[ChangelogSection]) -> tuple[ChangelogFlag, ...]:
    """Every flagged item of every section, in order, each item once (its own wording decides first)."""
    flags: list[ChangelogFlag] = []
    for section in sections:
        body = section.text.splitlines()[1:]  # the release heading itself is not an item
        for text, under in _items(body):
            kind = _kind_of(text) or under
            if kind is None:
                continue
            clean = _ITEM.sub("", text).strip()
            if len(clean) > MAX_TEXT:
                clean = clean[: MAX_TEXT - 1].rstrip() + "…"
            flags.append(ChangelogFlag(kind, section.version, clean))
    order = {kind: n for n, (kind, _) in enumerate(PATTERNS)}
    return tuple(sorted(flags, key=lambda f: order[f.kind]))  # security first, then breaking, removal, deprecation
