"""Flag what a reviewer must not miss in a changelog slice: breaking changes, removals, deprecations, security."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from jobs.models import ChangelogFlag, ChangelogSection

# Order matters: the first kind whose pattern matches an item wins for that item.
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
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_BOLD_HEADING = re.compile(r"^\s*(\*\*|__)[^*_]+\1\s*:?\s*$")
# A plain line that may be a sub-heading ("Deprecations and Removals", "Removed:"); it is one only when an
# underline or a list follows it, and it reads as a title (ends with a colon, or its words are capitalized).
_PLAIN_HEADING = re.compile(r"^[A-Z][\w ,&/'()-]{0,60}:?$")
_UNDERLINE = re.compile(r"^\s*([-=~^\"'`#*+])\1{2,}\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|#\.|\(\d+\))\s+")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_CODE_DIRECTIVE = re.compile(r"^\s*\.\.\s+(?:code-block|code|sourcecode|highlight|literalinclude|doctest)::", re.I)
_RST_MARKUP_LINE = re.compile(r"^\s*\.\.\s+(?:_[^:]*:|\[[^\]]*\]|\|[^|]*\||[^\s:]*$)")  # targets, comments, subs
_SMALL_WORDS = frozenset("a an and as at by for in of on or the to with".split())
MAX_TEXT = 240


def _kind_of(text: str) -> str | None:
    return next((kind for kind, pattern in PATTERNS if pattern.search(text)), None)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _title_like(line: str) -> bool:
    text = line.strip()
    if not _PLAIN_HEADING.match(text):
        return False
    if text.endswith(":"):
        return True
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", text) if w.lower() not in _SMALL_WORDS]
    return len(words) <= 5 and all(w[0].isupper() for w in words)


@dataclass
class _Item:
    lines: list[str] = field(default_factory=list)
    column: int = 0  # where the item's text starts: continuation lines after a blank line are indented as far
    bullet: bool = False


def _items(lines: list[str]) -> Iterator[tuple[str, str | None]]:
    """(item text, kind of the sub-heading it sits under) for each item of a section: a bullet with its
    continuation lines (wrapped or indented, RST or Markdown), or a paragraph, joined into one line. Fenced
    code, indented code, RST literal blocks and code directives are not items."""
    count = len(lines)
    next_text = [count] * (count + 1)  # the index of the next non-blank line at or after each index
    for index in range(count - 1, -1, -1):
        next_text[index] = index if lines[index].strip() else next_text[index + 1]
    heading_kind: str | None = None
    item: _Item | None = None
    fence: tuple[str, int] | None = None
    literal: int | None = None  # indentation a literal block must exceed (after "::" or a code directive)
    blank = True

    def flush() -> Iterator[tuple[str, str | None]]:
        nonlocal item
        if item is not None and item.lines:
            yield " ".join(item.lines), heading_kind
        item = None

    for number, line in enumerate(lines):
        stripped = line.strip()
        if fence is not None:
            closing = _FENCE.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= fence[1] \
                    and not line[closing.end():].strip():  # fmt: skip
                fence = None
            continue
        if literal is not None:
            if not stripped or _indent(line) > literal:
                continue
            literal = None
        opened = _FENCE.match(line)
        if opened:
            yield from flush()
            fence = (opened.group(1)[0], len(opened.group(1)))
            continue
        if not stripped:
            blank = True
            if item is not None and not item.bullet:
                yield from flush()  # a paragraph ends at a blank line; a bullet may go on, indented
            continue
        was_blank, blank = blank, False
        if _UNDERLINE.match(line):
            continue
        if _CODE_DIRECTIVE.match(line):
            yield from flush()
            literal = _indent(line)
            continue
        if _RST_MARKUP_LINE.match(line):
            continue
        indent = _indent(line)
        bullet = _ITEM.match(line)
        following = lines[number + 1] if number + 1 < count else ""
        after = lines[next_text[number + 1]] if next_text[number + 1] < count else ""
        underlined = bool(_UNDERLINE.match(following)) and not bullet
        continues = item is not None and (not was_blank or (item.bullet and indent >= item.column))
        if not bullet and (underlined or _ATX.match(line) or _BOLD_HEADING.match(line)
                           or (not continues and _title_like(line) and _ITEM.match(after))):
            yield from flush()
            # towncrier and keep-a-changelog group items under headings such as "Deprecations and Removals"
            heading_kind = _kind_of(line)
            continue
        if bullet:
            yield from flush()
            item = _Item([stripped], bullet.end(), bullet=True)
        elif continues and item is not None:
            if was_blank and item.bullet and indent >= item.column + 4:
                continue  # indented code inside the item
            item.lines.append(stripped)
        elif was_blank and indent >= 4:
            continue  # an indented code block
        else:
            yield from flush()
            item = _Item([stripped], indent)
        if stripped.endswith("::") and not stripped.startswith(".."):
            literal = item.column if item is not None else indent  # the block is indented past the text
    yield from flush()


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
