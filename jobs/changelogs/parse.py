"""Find the release headings of a changelog (Markdown, reStructuredText, bold or plain lines, Sphinx directives)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from markdown_it import MarkdownIt
from packaging.version import Version


@dataclass(frozen=True)
class Release:
    """One release heading and the lines its section covers.

    ``versions`` are the versions the heading names as written (without a ``v`` prefix), ``parsed`` the same
    as ``Version`` objects. ``heading`` is the heading line: markup kept for Markdown ATX, bold and plain lines,
    the title line stripped for underlined or overlined titles, the ``:version:`` line for Sphinx directives.
    ``line`` is the 1-based line of that heading text. ``start``/``end`` are 0-based line indexes: the
    section's first line (overline, directive or title) and one past its last non-blank line. The range is
    the heading's whole subtree, so a minor release's range contains patch releases nested under it (their
    ``level`` is deeper); ``jobs.changelogs.slicing`` cuts those out of the minor's text.
    """

    versions: tuple[str, ...]
    parsed: tuple[Version, ...]
    heading: str
    line: int
    start: int
    end: int
    level: int
    unreleased: bool = False  # the heading says so ("1.3.0 (unreleased)"); only with include_unreleased


def split_lines(text: str) -> list[str]:
    """The text's lines as a 0-based list whose indexes match the file's line numbers (CR and BOM dropped)."""
    lines = [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# Longer version texts are not versions but hostile or broken input (a 5000-digit part would not even convert).
MAX_VERSION_CHARS = 64


def parse_version(text: str) -> Version | None:
    """A version named in a heading: ``1.2.3``, ``v1.2.3``, or a date ``2024-05-01`` read as ``2024.5.1``.

    None for anything else, including version texts longer than ``MAX_VERSION_CHARS``."""
    text = text.strip()
    if len(text) > MAX_VERSION_CHARS:
        return None
    date = _DATE.fullmatch(text)
    if date:
        text = ".".join(str(int(part)) for part in date.groups())
    try:
        return Version(text.removeprefix("v").removeprefix("V"))
    except ValueError:  # InvalidVersion, or a number part too long to convert
        return None


def find_releases(text: str, filename: str = "", *, include_unreleased: bool = False) -> list[Release]:
    """Every release heading of ``text`` in document order; ``filename`` picks Markdown or reStructuredText.

    Unknown extensions (``CHANGES``, ``.txt``, a package description) are read both ways and the reading
    that finds more releases wins.
    """
    lines = split_lines(text)
    syntax = _syntax(filename)
    if syntax == "markdown":
        return _releases(lines, _markdown_blocks(lines), include_unreleased)
    if syntax == "rst":
        return _releases(lines, _rst_blocks(lines), include_unreleased)
    as_markdown = _releases(lines, _markdown_blocks(lines), include_unreleased)
    as_rst = _releases(lines, _rst_blocks(lines), include_unreleased)
    return as_markdown if len(as_markdown) > len(as_rst) else as_rst


def document_title(text: str, filename: str = "") -> tuple[str, int, int] | None:
    """The first section title of a document: (title text, its 1-based line, the 0-based line it starts on,
    overline included), or None when it has none. RST unless the name says Markdown."""
    lines = split_lines(text)
    blocks = _markdown_blocks(lines) if _syntax(filename) == "markdown" else _rst_blocks(lines)
    first = next((b for b in blocks if b.kind == "heading"), None)
    return None if first is None else (first.heading, first.title + 1, first.start)


def looks_like_changelog(text: str, filename: str = "", *, named: bool = False) -> bool:
    """True when the text holds release headings: at least two, or one when its file's name already says it is a
    changelog (``named``: a young project's CHANGELOG.md, or one restarted for a new major). A stub that points
    elsewhere holds none."""
    return len(find_releases(text, filename)) >= (1 if named else 2)


# ---------------------------------------------------------------- heading titles

_VERSION = r"[vV]?\d+(?:\.\d+)*(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?" \
    r"(?:[-_.]?(?:post|rev|r)[-_.]?\d*)?(?:[-_.]?dev[-_.]?\d*)?(?:\+[A-Za-z0-9.]+)?"
# not followed by more version-ish text: "1.2.x" is a series heading, "1.2.3rc" half a version
_VERSION_END = r"(?![\w+])(?!\.\w)"
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TITLE = re.compile(rf"(?P<prefix>(?:[^\s\d][^\s]*\s+){{0,4}}?)(?P<version>{_VERSION}){_VERSION_END}(?P<rest>.*)")
_MORE_VERSIONS = re.compile(rf"\s*(?:,|and|&|/|\+)\s*(?P<version>{_VERSION}){_VERSION_END}")
_DATE_TITLE = re.compile(rf"(?P<version>{_DATE.pattern})(?!\d)(?P<rest>.*)")

# Words that may stand before the version ("Version 1.2", "Changes in 1.2", "What's new in 1.2").
_VOCABULARY = frozenset(
    "version release rel rel. ver ver. changes changelog in for of what's whats what’s new notes".split()
)
# A first word that names a topic, not the project: "Python 3.12", "Drop support for 3.8", "Upgrade to 2.0".
_NOT_NAMES = frozenset(
    "python pypy cpython jython to from since in on for with and or see requires require required drop "
    "dropped support supports supported bump bumped upgrade upgraded upgrading update updated migrate "
    "migrating migration before after until unreleased upcoming next planned deprecated removed".split()
)
_SUFFIX_WORDS = frozenset("released release notes yanked final on".split())
_MONTHS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
    "september october november december".split()
)
_UNRELEASED = re.compile(
    r"\b(?:unreleased|not (?:yet )?released|in development|in progress|upcoming|tbd|tba|unpublished)\b", re.I
)


@dataclass(frozen=True)
class _Title:
    """What a heading's text says: the versions it names and how it names them."""

    versions: tuple[str, ...]
    parsed: tuple[Version, ...]
    group: str  # "" for bare or "Version"/"Release" prefixes, the lower-cased name word, or "<date>"
    unreleased: bool


def _read_title(plain: str, *, allow_name: bool = True) -> _Title | None:
    """The versions a heading names, when the heading is a release title and not a sentence that mentions one."""
    plain = " ".join(plain.split())
    date = _DATE_TITLE.fullmatch(plain)
    if date and _suffix_ok(date["rest"]) and (day := parse_version(date["version"])) is not None:
        return _Title((date["version"],), (day,), "<date>", bool(_UNRELEASED.search(date["rest"])))
    match = _TITLE.fullmatch(plain)
    if not match:
        return None
    words = match["prefix"].lower().split()
    group = ""
    if words and words[0] not in _VOCABULARY:
        if not allow_name or words[0] in _NOT_NAMES:
            return None
        group, words = words[0], words[1:]
    if any(word not in _VOCABULARY for word in words):
        return None
    written = [match["version"]]
    rest = match["rest"]
    # "4.12.0a1 and 4.12.0a2"; a dotless number after a comma is the start of a date, not a version
    while (more := _MORE_VERSIONS.match(rest)) and "." in more["version"]:
        written.append(more["version"])
        rest = rest[more.end():]
    if not _suffix_ok(rest):
        return None
    # a bare integer is a version only when the heading says so ("Version 3", "v3")
    if "." not in written[0] and written[0][0] not in "vV" and not {"version", "release"} & set(words):
        return None
    versions = tuple(v.removeprefix("v").removeprefix("V") for v in written)
    parsed = [p for v in versions if (p := parse_version(v)) is not None]
    if len(parsed) != len(versions):
        return None
    return _Title(versions, tuple(parsed), group, bool(_UNRELEASED.search(rest)))


def _suffix_ok(rest: str) -> bool:
    """What may follow the version in a release title: nothing, a date, a parenthesis, a dash, "released"..."""
    rest = rest.strip()
    if not rest or not rest[0].isalnum():
        return True
    first = re.split(r"[\s,.:;()]+", rest.lower(), maxsplit=1)[0]
    return rest[0].isdigit() or first in _SUFFIX_WORDS or first in _MONTHS or bool(_UNRELEASED.match(rest))


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])?")
_HTML_TAG = re.compile(r"<[^>]*>")
_RST_LINK = re.compile(r"`([^`<]*?)\s*<[^>]*>`__?")
_RST_ROLE = re.compile(r":[\w-]+(?::[\w-]+)*:`([^`]*)`")


def _markdown_plain(text: str) -> str:
    """A Markdown heading's words without links, emphasis, code marks or HTML."""
    text = _HTML_TAG.sub("", _MD_IMAGE.sub("", text))
    text = _MD_LINK.sub(r"\1", text)
    text = re.sub(r"\\(.)", r"\1", text)
    text = re.sub(r"\*+|`+|~~|(?<!\w)_+|_+(?!\w)", "", text)
    return " ".join(text.split()).rstrip("#").strip()


def _rst_plain(text: str) -> str:
    """An RST title's words without hyperlinks, roles or inline markup."""
    text = _RST_ROLE.sub(r"\1", _RST_LINK.sub(r"\1", text))
    text = re.sub(r"\*+|`+|\|", "", text)
    return " ".join(text.split())


# ---------------------------------------------------------------- blocks: heading-like elements of a document


@dataclass(frozen=True)
class _Block:
    """A heading (kind ``heading``) or a line that may stand in for one (``bold``, ``plain``, ``directive``).

    ``level`` is the heading rank (0 for the stand-ins: they get their rank from the heading above them);
    ``body`` is the first line after the heading's own lines (so trimming never eats an underline).
    """

    kind: str
    start: int
    title: int
    body: int
    level: int
    heading: str
    plain: str
    released: bool = True


_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd", ".mkdn"}
_RST_SUFFIXES = {".rst", ".rest"}


def _syntax(filename: str) -> str | None:
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix in _MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in _RST_SUFFIXES:
        return "rst"
    return None


_BOLD_LINE = re.compile(r"(\*\*|__)(?P<inner>\S(?:.*?\S)?)\1(?P<rest>.*)")
_MARKUP_CHARS = re.compile(r"[*_`\[\]<>|#]")


@functools.cache
def _markdown_parser() -> MarkdownIt:
    # tables on, so a table row with a version in it is a table cell and never a one-line paragraph
    return MarkdownIt("commonmark").enable("table")


def _markdown_blocks(lines: list[str]) -> list[_Block]:
    """Headings and one-line paragraphs at the top level of a Markdown document (not in lists, quotes or code)."""
    tokens = _markdown_parser().parse("\n".join(lines))
    blocks: list[_Block] = []
    for index, token in enumerate(tokens):
        if token.level != 0 or not token.map:
            continue
        first, stop = token.map
        if token.type == "heading_open":
            content = tokens[index + 1].content
            level = int(token.tag[1])
            if token.markup in ("=", "-"):  # setext: the title is the text above the underline
                heading = " ".join(line.strip() for line in lines[first:stop - 1])
                blocks.append(_Block("heading", first, first, stop, level, heading, _markdown_plain(content)))
            else:
                blocks.append(_Block("heading", first, first, first + 1, level, lines[first].strip(),
                                     _markdown_plain(content)))
        elif token.type == "paragraph_open":
            block = (_wiki_block(lines, first, _markdown_plain)
                     or _line_block(lines, first, single=stop - first == 1, plain=_markdown_plain))
            if block:
                blocks.append(block)
    return blocks


def _line_block(lines: list[str], index: int, *, single: bool, plain) -> _Block | None:
    """A bold line (``**1.2.3**``) opening a paragraph, or a paragraph that is only a version and a date."""
    line = lines[index].strip()
    bold = _BOLD_LINE.fullmatch(line)
    if bold:
        return _Block("bold", index, index, index + 1, 0, line, plain(bold["inner"] + bold["rest"]))
    if single and len(line) <= 80:
        if not _MARKUP_CHARS.search(line):
            return _Block("plain", index, index, index + 1, 0, line, line)
        bracketed = _BRACKETED_LINE.fullmatch(line)  # "[0.18.17, 2025-12-17]:"
        if bracketed and not _MARKUP_CHARS.search(bracketed["inner"]):
            return _Block("plain", index, index, index + 1, 0, line, bracketed["inner"])
    return None


_BRACKETED_LINE = re.compile(r"\[(?P<inner>[^\[\]]+)\]:?")


# "= 1.2.3 (20240101) =" (the closing run is optional): a plain-text heading whose rank is the number of "="
_WIKI_HEADING = re.compile(r"(?P<marks>={1,6})[ \t]+(?P<inner>[^=\s](?:.*?\S)?)(?:[ \t]+=+)?[ \t]*")
# "- :release:`1.2.3 <2024-01-02>`": the Sphinx ``releases`` extension marks releases inside one flat list;
# the entries below a marker, up to the next one, are that release's
_RELEASE_MARKER = re.compile(r"[-*+][ \t]+:release:`(?P<version>[^`<]+?)\s*(?:<(?P<date>[^>`]*)>)?\s*`.*")


def _wiki_block(lines: list[str], index: int, plain) -> _Block | None:  # type: ignore[no-untyped-def]
    found = _WIKI_HEADING.fullmatch(lines[index].strip())
    if found is None or lines[index][:1].isspace():
        return None
    return _Block("heading", index, index, index + 1, len(found["marks"]), lines[index].strip(), plain(found["inner"]))


_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{2,}\s*")
_BULLET = re.compile(r"[-*+•] |\d+[.)] ")
_DIRECTIVE = re.compile(r"\.\.\s+changelog::\s*")
_FIELD = re.compile(r"\s+:(?P<name>[\w-]+):\s*(?P<value>.*)")


def is_adornment(line: str) -> bool:
    return bool(_ADORNMENT.fullmatch(line))


def _rst_blocks(lines: list[str]) -> list[_Block]:
    """Section titles (underlined, or over- and underlined), Sphinx changelog directives and bold/plain lines.

    Titles and stand-ins must start in column 0, which keeps literal blocks and directive bodies (always
    indented) out. Title ranks follow docutils: each adornment style gets the next rank when first seen.
    """
    styles: dict[tuple[str, bool], int] = {}
    blocks: list[_Block] = []
    count = len(lines)

    def opens_section(i: int) -> bool:
        # a title follows a blank line, the start, another title's underline, or a label/comment line
        return i == 0 or not lines[i - 1].strip() or is_adornment(lines[i - 1]) or lines[i - 1].startswith("..")

    def is_text(line: str) -> bool:
        return bool(line.strip()) and not is_adornment(line)

    i = 0
    while i < count:
        line = lines[i]
        if (is_adornment(line) and i + 2 < count and is_text(lines[i + 1]) and is_adornment(lines[i + 2])
                and lines[i + 2].strip()[0] == line[0] and opens_section(i)):
            level = styles.setdefault((line[0], True), len(styles) + 1)
            title = lines[i + 1].strip()
            blocks.append(_Block("heading", i, i + 1, i + 3, level, title, _rst_plain(title)))
            i += 3
            continue
        if (is_text(line) and not line[0].isspace() and i + 1 < count and is_adornment(lines[i + 1])
                and not _BULLET.match(line) and not line.startswith("..") and opens_section(i)):
            level = styles.setdefault((lines[i + 1][0], False), len(styles) + 1)
            title = line.strip()
            blocks.append(_Block("heading", i, i, i + 2, level, title, _rst_plain(title)))
            i += 2
            continue
        marker = _RELEASE_MARKER.fullmatch(line)
        if marker:
            blocks.append(_Block("marker", i, i, i + 1, 0, line.strip(), marker["version"]))
        elif _DIRECTIVE.fullmatch(line):
            block = _directive_block(lines, i)
            if block:
                blocks.append(block)
        elif opens_section(i) and (wiki := _wiki_block(lines, i, _rst_plain)):
            blocks.append(wiki)
        elif is_text(line) and not line[0].isspace() and opens_section(i) and not line.startswith(".."):
            after = lines[i + 1] if i + 1 < count else ""
            ends_paragraph = not after.strip() or after[0].isspace() or bool(_BULLET.match(after))
            block = _line_block(lines, i, single=ends_paragraph, plain=_rst_plain)
            if block:
                blocks.append(block)
        i += 1
    return blocks


def _directive_block(lines: list[str], index: int) -> _Block | None:
    """A ``.. changelog::`` directive: its ``:version:`` option is the title, ``:released:`` says it shipped."""
    fields: dict[str, tuple[int, str]] = {}
    for i in range(index + 1, len(lines)):
        field = _FIELD.fullmatch(lines[i])
        if not field:
            break
        fields[field["name"]] = (i, field["value"].strip())
    if "version" not in fields:
        return None
    at, version = fields["version"]
    released = bool(fields.get("released", (0, ""))[1])
    return _Block("directive", index, at, at + 1, 0, lines[at].strip(), version, released=released)


# ---------------------------------------------------------------- from blocks to releases


def _releases(lines: list[str], blocks: list[_Block], include_unreleased: bool = False) -> list[Release]:
    """Pick the blocks that are release headings and give each its range of lines."""
    titles = {id(block): _read_title(block.plain, allow_name=block.kind != "plain") for block in blocks}
    headings = _keep_groups([b for b in blocks if b.kind == "heading"], titles, include_unreleased=include_unreleased)
    stand_ins = _keep_groups([b for b in blocks if b.kind != "heading"], titles,
                             include_unreleased=include_unreleased)
    # Bold or plain lines and directives count only when they outnumber real release headings: a changelog
    # picks one way to mark releases, and a stray "**2.0**" in a headed changelog is emphasis, not a release.
    # Except when a changelog changed its way once: the other kind then fills a part of the document of its own,
    # before or after every release of the main kind, with versions all newer or all older than them (recent
    # entries headed by bare "6.0.2 (2024-08-06)" lines above underlined old ones).
    use_stand_ins = len(stand_ins) > len(headings)
    main, other = (stand_ins, headings) if use_stand_ins else (headings, stand_ins)
    era = _era(main, other, titles)
    release_ids = {id(block) for block in main + era}
    # Every heading bounds a section; so does an unreleased directive when directives mark the releases.
    elements = _ranked([b for b in blocks if b.kind == "heading" or id(b) in release_ids
                        or (use_stand_ins and b.kind == "directive")])
    if era and not use_stand_ins:  # stand-ins of an era rank with the release headings, never under one of them
        rank = min(level for block, level in elements if id(block) in release_ids and block.kind == "heading")
        era_ids = {id(block) for block in era}
        elements = [(block, rank if id(block) in era_ids else level) for block, level in elements]
    result = []
    for position, (block, level) in enumerate(elements):
        if id(block) not in release_ids:
            continue
        end = len(lines)
        for later, later_level in elements[position + 1:]:
            # a category heading written one level too high ("## Fixed" under "## 1.2.0") is still the release's
            if later_level <= level and not (id(later) not in release_ids and _is_category(later.plain)):
                end = later.start
                break
        title = titles[id(block)]
        assert title is not None
        result.append(Release(
            versions=title.versions,
            parsed=title.parsed,
            heading=block.heading,
            line=block.title + 1,
            start=block.start,
            end=trim_end(lines, block.body, end),
            level=level,
            unreleased=title.unreleased,
        ))
    return result


# The change categories of Keep a Changelog and towncrier: headings inside a release, never a release's end.
_CATEGORIES = frozenset(
    "added changed deprecated removed fixed security features feature bugfixes bug fixes bugs fixed improvements "
    "deprecations removals documentation misc miscellaneous breaking changes other".split()
)


def _is_category(plain: str) -> bool:
    words = re.sub(r"[^\w\s]", " ", plain.lower()).split()
    return bool(words) and len(words) <= 3 and all(word in _CATEGORIES for word in words)


def _era(main: list[_Block], other: list[_Block], titles: dict[int, _Title | None]) -> list[_Block]:
    """``other``'s release blocks when they form an era of the changelog apart from ``main``'s (see ``_releases``):
    all before or all after ``main``'s, with versions on one side of ``main``'s, at least two of them (one
    stray bold version line is still emphasis)."""
    if not main or len(other) < 2:
        return []
    first, last = min(b.start for b in main), max(b.start for b in main)
    if not (all(b.start < first for b in other) or all(b.start > last for b in other)):
        return []
    ours = [v for b in main for v in titles[id(b)].parsed]  # type: ignore[union-attr]
    theirs = [v for b in other for v in titles[id(b)].parsed]  # type: ignore[union-attr]
    if min(theirs) > max(ours) or max(theirs) < min(ours):
        return other
    return []


def _keep_groups(blocks: list[_Block], titles: dict[int, _Title | None], *,
                 include_unreleased: bool = False) -> list[_Block]:
    """Release titles, minus those whose naming is not the changelog's own.

    Bare versions and "Version"/"Release" prefixes always count. A title led by another word ("Mypy 1.11",
    "pytest 8.0") or a bare date counts only when that is the most common naming in the document and recurs,
    so a stray "Python 3.12" heading or a list of tools with their versions is not taken for a release; or when
    it recurs as the naming of an era of the changelog (all its versions newer, or all older, than the main
    naming's: "H11 0.16.0" above older "v0.13.0"). A title that says it is unreleased ("1.3.0 (unreleased)")
    is kept only with ``include_unreleased``; the groups are counted on released titles.
    """
    named = [(b, t) for b in blocks if (t := titles[id(b)]) is not None and b.released]
    found = [(b, t) for b, t in named if not t.unreleased]
    groups = Counter(t.group for _, t in found)
    if not groups:
        return []
    top = max(groups.values())
    main = next(t.group for _, t in found if groups[t.group] == top)
    kept = {""} | ({main} if top >= 2 else set())
    ours = [v for _, t in found if t.group in kept for v in t.parsed]
    for group, count in groups.items():
        if group in kept or count < 2 or group.startswith("<") or not ours:
            continue
        theirs = [v for _, t in found if t.group == group for v in t.parsed]
        if min(theirs) > max(ours) or max(theirs) < min(ours):
            kept.add(group)
    return [b for b, t in (named if include_unreleased else found) if t.group in kept]


def _ranked(blocks: Iterable[_Block]) -> list[tuple[_Block, int]]:
    """Blocks in document order with their rank; a stand-in ranks just below the heading it sits under."""
    ranked = []
    enclosing = 0
    for block in sorted(blocks, key=lambda b: b.start):
        if block.kind == "heading":
            enclosing = block.level
            ranked.append((block, block.level))
        else:
            ranked.append((block, enclosing + 1))
    return ranked


_RST_LABEL = re.compile(r"\.\.\s+_[^:`]+:\s*|\.\.\s*")  # ".. _v1-2-3:" or an empty comment
_HTML_ANCHOR = re.compile(r"\s*<a\s+(?:name|id)=[^>]*>\s*(?:</a>)?\s*|\s*<!--.*-->\s*", re.I)
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])(?:\s*\1){2,}\s*")
_LINK_DEFINITION = re.compile(r" {0,3}\[[^\]]+\]:\s*\S+.*")


def trim_end(lines: list[str], floor: int, end: int) -> int:
    """Move ``end`` back over blank lines and what belongs to the next section or to the whole document.

    That is: RST labels (``.. _v1-2-3:``), HTML anchors and comments, separator rules, and at the very end of
    the file the Markdown link definitions (``[1.2.3]: https://...``) that serve every section.
    """
    at_file_end = end == len(lines)
    while end > floor:
        line = lines[end - 1]
        if (not line.strip() or _RST_LABEL.fullmatch(line) or _HTML_ANCHOR.fullmatch(line)
                or _THEMATIC_BREAK.fullmatch(line) or (at_file_end and _LINK_DEFINITION.fullmatch(line))):
            end -= 1
        else:
            break
    return end
