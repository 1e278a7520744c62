"""Make upstream changelog text safe to put in our PR body: links point upstream, nobody is pinged, nothing runs,
and nothing can close, open or swallow the blocks our template puts around it.

Every step is linear in the text (no regex that backtracks over the rest of the input, no search repeated from
every candidate position): a section is upstream data, and a hostile one must not stall the run.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt

from jobs.changelogs.sdist import strip_controls
from jobs.render import neutralize_mentions

# A section longer than this is cut before anything else: the whole PR body is capped at 65,536 characters.
MAX_SECTION_CHARS = 65_536
CUT_NOTE = "_[nightcrew cut the rest of this section: it is longer than a pull request body can hold.]_"
MAX_REFERENCE_LINKS = 50  # listed under a fenced reStructuredText section

# `#123`, `GH-123`, `gh-123` not inside a word, a URL or a link's text target
_REF = re.compile(r"(?<![\w/&#\[])(?:(#)|\b(GH-))(\d{1,7})\b", re.I)
# Sphinx/sphinx-issues roles that name an issue or pull request: :issue:`123`, :pr:`45`, :issue:`text <123>`
_RST_REF = re.compile(r":(?:issue|issues|pr|pull|gh|ghissue|ghpull|bug):`(?:[^`<\n]*<)?\s*#?(\d{1,7})\s*>?`", re.I)
_GITHUB_REPO = re.compile(r"^https?://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", re.I)

# -- raw HTML -------------------------------------------------------------------------------------------------------

# Elements removed with their content (they run code, draw remote content, or are only noise as text).
_BLOCK_NAMES = ("script", "style", "iframe", "frameset", "object", "embed", "applet", "form", "svg", "math",
                "template", "textarea", "noscript", "noembed", "noframes", "video", "audio", "select")
_BLOCK_OPEN = re.compile(rf"<({'|'.join(_BLOCK_NAMES)})(?=[\s/>])", re.I)
_BLOCK_CLOSE = {name: re.compile(rf"</{name}\s*>", re.I) for name in _BLOCK_NAMES}
# Tags removed on their own (a lone opener of the elements above, metadata, remote media sources).
_DROP_TAG = re.compile(
    rf"</?(?:{'|'.join(_BLOCK_NAMES)}|link|meta|base|source|picture|track|param|frame|image)(?=[\s/>])[^<>]*>", re.I
)
_IMG_TAG = re.compile(r"<img(?=[\s/>])[^<>]*>", re.I)
_ALT = re.compile(r"\balt\s*=\s*[\"']([^\"'<>]*)[\"']", re.I)
# A complete tag on one line; no class admits "<", so a failed try never reads past the next "<".
_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s\"'<>/=`]+(?:\s*=\s*(?:\"[^\"<>`]*\"|'[^'<>`]*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(/?)>"
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)
_AUTOLINK = re.compile(r"<(?:https?://|mailto:)[^\s<>`\"'\\]+>", re.I)
_SAFE_URL = re.compile(r"(?:https?://|mailto:)[^\s<>`\"'\\]+", re.I)
# The only tags kept: inline formatting, balanced on their line, and line breaks. No details/summary, no blocks.
_PAIRED = frozenset("a b strong i em code kbd sub sup s del ins mark".split())
_VOID = frozenset({"br"})
# What may stand before a tag at the start of a line (indentation, quote and list markers): a tag alone on
# such a line would open an HTML block, where Markdown stops and anything goes.
_LINE_LEAD = re.compile(r"[ \t>*+\-\d.)]*")
# Link destinations: inline ``](dest`` and reference definitions ``[label]: dest``.
_INLINE_DEST = re.compile(r"(\]\(\s*)(<[^<>\n]*>|[^\s()<>]+)")
_DEFINITION_DEST = re.compile(r"^( {0,3}\[[^\[\]\n]+\]:[ \t]*\n?[ \t]*)(<[^<>\n]*>|\S+)", re.M)
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]")
_TICKS = re.compile(r"`+")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")
_ZWSP = "\u200b"


def github_repo_url(url: str | None) -> str | None:
    """``https://github.com/owner/name`` for a URL that points at a GitHub repository's root, else None."""
    if not url:
        return None
    found = _GITHUB_REPO.match(url.strip().split("#")[0].split("?")[0])
    return f"https://github.com/{found.group(1)}/{found.group(2)}" if found else None


def _link_refs(text: str, upstream: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        number = match.group(3)
        label = match.group(0)
        if upstream:
            return f"[{label}]({upstream}/issues/{number})"
        # unknown upstream: keep the text, but stop the forge from linking it to *our* issue #N
        return label.replace("#", "#&#8203;") if match.group(1) else label

    return _REF.sub(replace, text)


def link_references(text: str, upstream: str | None) -> str:
    """``#123``/``GH-123`` outside code spans linked to ``upstream``'s issues, or (no upstream) kept from
    linking to the repository the text is shown in."""
    return _outside_code(text, lambda part: _link_refs(part, upstream))


# -- code spans ---------------------------------------------------------------------------------------------------


def _code_spans(line: str) -> list[tuple[int, int]]:
    """The code spans of one line, as CommonMark pairs backtick runs of equal length (a run after a backslash
    opens none). Linear: each run's next run of the same length is found in one pass from the right."""
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(line)]
    following: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        following[index] = last.get(length)
        last[length] = index
    spans, index = [], 0
    while index < len(runs):
        start = before = runs[index][0]
        while before and line[before - 1] == "\\":  # only the backslashes since the previous run: linear
            before -= 1
        match = following[index]
        if (start - before) % 2 or match is None:
            index += 1
            continue
        spans.append((start, runs[match][1]))
        index = match + 1
    return spans


def _outside_code(line: str, transform: Callable[[str], str]) -> str:
    """Apply ``transform`` to the parts of one line that are not inline code."""
    out, last = [], 0
    for start, end in _code_spans(line):
        out.append(transform(line[last:start]))
        out.append(line[start:end])
        last = end
    out.append(transform(line[last:]))
    return "".join(out)


def _guard_code(code: str) -> str:
    """A code span's text with a zero-width space after each ``<`` that could start a tag and in each ``![``:
    the same to read, but inert even if the forge does not take it for code after all."""
    return _TAG_START.sub("<" + _ZWSP, code).replace("![", "!" + _ZWSP + "[")


# -- whole-text steps (before the block structure is read) ------------------------------------------------------------


def _drop_comments(text: str) -> str:
    """HTML comments removed; an unterminated ``<!--`` loses only its opener, so what follows stays as text."""
    out, pos = [], 0
    while (start := text.find("<!--", pos)) != -1:
        out.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end == -1:  # no comment ends after this one: none of the later openers is terminated either
            out.append(text[start + 4:].replace("<!--", ""))
            return "".join(out)
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _drop_blocks(text: str) -> str:
    """Scripts, styles, frames, SVG and the like removed with their content. Each element name's closing tag
    is searched for forward from where the last search found one, so the whole pass is linear."""
    out, pos = [], 0
    closers: dict[str, tuple[int, int] | None] = {}
    while (opened := _BLOCK_OPEN.search(text, pos)) is not None:
        name = opened.group(1).lower()
        known = closers.get(name, (-1, -1))
        if known is not None and known[0] < opened.end():
            found = _BLOCK_CLOSE[name].search(text, opened.end())
            known = closers[name] = (found.start(), found.end()) if found else None
        if known is None:  # no closing tag after this opener: the tag goes on its own (below)
            out.append(text[pos:opened.end()])
            pos = opened.end()
            continue
        out.append(text[pos:opened.start()])
        pos = known[1]
    out.append(text[pos:])
    return "".join(out)


def _unsafe_url(url: str) -> bool:
    """Whether a link target has a scheme other than http, https and mailto (``javascript:``, ``data:``...),
    read as a browser would: entities and backslash escapes decoded, whitespace and controls dropped."""
    url = html.unescape(url.strip().removeprefix("<").removesuffix(">"))
    url = re.sub(r"\\(.)", r"\1", url)
    url = re.sub(r"[\x00-\x20\x7f-\x9f\s]+", "", url).lower()
    scheme = _SCHEME.match(url)
    return scheme is not None and scheme.group(1) not in _SAFE_SCHEMES


def _safe_destinations(text: str) -> str:
    """Link targets with an unsafe scheme replaced by ``#`` (inline links, images and reference definitions)."""
    def replace(match: re.Match[str]) -> str:
        return match.group(1) + ("#" if _unsafe_url(match.group(2)) else match.group(2))

    return _DEFINITION_DEST.sub(replace, _INLINE_DEST.sub(replace, text))


def _prepare(text: str) -> tuple[str, bool]:
    """Newlines normalized, controls, comments, scripts and the like, lone dangerous tags and ``<img>`` removed,
    unsafe link targets defused; cut to ``MAX_SECTION_CHARS``. Returns the text and whether it was cut."""
    text = strip_controls(text.replace("\r\n", "\n").replace("\r", "\n"))
    cut = len(text) > MAX_SECTION_CHARS
    if cut:
        end = text.rfind("\n", 0, MAX_SECTION_CHARS)
        text = text[: end if end > MAX_SECTION_CHARS // 2 else MAX_SECTION_CHARS]
    text = _drop_blocks(_drop_comments(text))
    text = _DROP_TAG.sub("", text)
    text = _IMG_TAG.sub(lambda m: f"[image: {alt.group(1)}]" if (alt := _ALT.search(m.group(0))) else "", text)
    return _safe_destinations(text), cut


# -- block structure ------------------------------------------------------------------------------------------------


@functools.cache
def _block_parser(html_blocks: bool) -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": html_blocks}).enable("table")
    parser.disable(["inline", "text_join"], ignoreInvalid=True)  # blocks only: where code and headings are
    return parser


def block_tokens(lines: list[str], *, html_blocks: bool) -> list[Any]:
    """The block tokens (with line maps) of a Markdown text as CommonMark reads it."""
    return _block_parser(html_blocks).parse("\n".join(lines))


# The lines that end an HTML block of the kinds that do not end at a blank line (CommonMark types 1 to 5).
_HTML_BLOCK_ENDS = (
    (re.compile(r" {0,3}<(script|pre|style|textarea)(?=[\s>]|$)", re.I), None),
    (re.compile(r" {0,3}<!--"), "-->"),
    (re.compile(r" {0,3}<\?"), "?>"),
    (re.compile(r" {0,3}<!\[CDATA\["), "]]>"),
    (re.compile(r" {0,3}<![A-Za-z]"), ">"),
)


def open_block_closer(lines: list[str], tokens: list[Any]) -> str | None:
    """The line that closes a top-level fenced code block (or an HTML block that only a closing tag ends) left
    open at the end of ``lines``, else None. Such a block would run on over whatever follows the text."""
    last = next((t for t in reversed(tokens) if t.level == 0 and t.map), None)
    count = len(lines) - (bool(lines) and lines[-1] == "")  # the parser counts no line after a final newline
    if last is None or last.map[1] < count:
        return None
    first, final = lines[last.map[0]], lines[last.map[1] - 1]
    if last.type == "fence":
        closing = _FENCE_LINE.fullmatch(final)
        closed = (last.map[1] - 1 > last.map[0] and closing is not None
                  and closing.group(1)[0] == last.markup[0] and len(closing.group(1)) >= len(last.markup))
        return None if closed else last.markup
    if last.type == "html_block":
        for opener, end in _HTML_BLOCK_ENDS:
            found = opener.match(first)
            if found is None:
                continue
            end = end or f"</{found.group(1).lower()}>"
            # the block ends on the first line that holds its end marker (the opening line included)
            if last.map[1] - 1 == last.map[0]:
                return None if end in final[found.end():].lower() else end
            return None if end in final.lower() else end
    return None


def _code_lines(tokens: list[Any]) -> set[int]:
    """Indexes of the lines inside fenced or indented code blocks (at any depth)."""
    inside: set[int] = set()
    for token in tokens:
        if token.type in ("fence", "code_block") and token.map:
            inside.update(range(*token.map))
    return inside


# -- one line of prose -------------------------------------------------------------------------------------------


def _tag(match: re.Match[str]) -> tuple[str, str, str] | None:
    """(name, kind, the tag as we write it) for an allowed tag; kind is ``open``, ``close`` or ``void``."""
    closing, name, attributes, self_closing = match.group(1), match.group(2).lower(), match.group(3), match.group(4)
    if name in _VOID and not closing:
        return name, "void", f"<{name}>"
    if name not in _PAIRED or self_closing:
        return None
    if closing:
        return (name, "close", f"</{name}>") if not attributes.strip() else None
    if name == "a":
        href = _HREF.search(attributes)
        url = next((g for g in href.groups() if g is not None), "") if href else ""
        if _SAFE_URL.fullmatch(url) and not _unsafe_url(url):
            return name, "open", f'<a href="{url}">'
    return name, "open", f"<{name}>"


def _escape_html(part: str, prose: Callable[[str], str], *, starts_line: bool, ends_line: bool) -> str:
    """One stretch of a line outside code: raw HTML escaped but for the allowed tags (balanced on the stretch,
    never alone on their line) and web/mail autolinks; ``prose`` applied to the text between them.
    ``starts_line``/``ends_line``: the stretch is the line's first/last (nothing but code spans between)."""
    lead_end = _LINE_LEAD.match(part).end() if starts_line else -1  # type: ignore[union-attr]
    trail_start = len(part.rstrip()) if ends_line else len(part) + 1
    pieces: list[str] = []
    tags: list[tuple[int, str, str]] = []  # (index in pieces, name, kind)
    kept: set[int] = set()
    open_tags: list[tuple[int, str]] = []
    pos = 0
    while (tag_start := _TAG_START.search(part, pos)) is not None:  # only "<" before a letter, / ! ? opens HTML
        start = before = tag_start.start()
        while before > pos and part[before - 1] == "\\":
            before -= 1
        if (start - before) % 2:  # "\<": a literal "<" already
            pieces.append(prose(part[pos:start + 1]))
            pos = start + 1
            continue
        pieces.append(prose(part[pos:start]))
        link = _AUTOLINK.match(part, start)
        if link is not None:
            pieces.append(link.group(0))
            pos = link.end()
            continue
        found = _TAG.match(part, start)
        allowed = _tag(found) if found is not None else None
        alone = found is not None and start <= lead_end and found.end() >= trail_start
        if found is None or allowed is None or alone:
            pieces.append("&lt;")
            pos = start + 1
            continue
        name, kind, written = allowed
        index = len(pieces)
        pieces.append(written)
        tags.append((index, name, kind))
        if kind == "void":
            kept.add(index)
        elif kind == "open":
            open_tags.append((index, name))
        elif open_tags and open_tags[-1][1] == name:
            kept.update((open_tags.pop()[0], index))
        pos = found.end()
    pieces.append(prose(part[pos:]))
    for index, _name, _kind in tags:
        if index not in kept:  # an unbalanced tag is shown, not obeyed
            pieces[index] = "&lt;" + pieces[index][1:]
    return "".join(pieces)


def _prose_line(line: str, upstream: str | None) -> str:
    """A line outside code blocks: images turned into links, raw HTML escaped, references and mentions
    neutralized; code spans kept (and guarded)."""
    def prose(text: str) -> str:
        return neutralize_mentions(_link_refs(text, upstream))

    def outside(part: str, *, first: bool, final: bool) -> str:
        part = _IMAGE.sub(lambda m: f"[image: {m.group(1).strip() or 'image'}]", part)
        part = part.replace("![", "\\![")  # an image whose text runs over lines: a link after a literal "!"
        return _escape_html(part, prose, starts_line=first, ends_line=final)

    out, last = [], 0
    for start, end in _code_spans(line):
        out.append(outside(line[last:start], first=last == 0, final=False))
        out.append(_guard_code(line[start:end]))
        last = end
    out.append(outside(line[last:], first=last == 0, final=True))
    return "".join(out)


def _rst_references(text: str, upstream: str) -> str:
    """Markdown links to the upstream issues a fenced reStructuredText section names, for under the block."""
    numbers: dict[str, None] = {}
    for match in sorted([*_REF.finditer(text), *_RST_REF.finditer(text)], key=lambda m: m.start()):
        numbers.setdefault(match.group(match.lastindex or 0), None)
        if len(numbers) >= MAX_REFERENCE_LINKS:
            break
    return ", ".join(f"[#{n}]({upstream}/issues/{n})" for n in numbers)


def sanitize(text: str, *, upstream: str | None = None, rst: bool = False) -> str:
    """Upstream changelog text, ready for a PR body.

    Markdown keeps its markup, minus raw HTML: a few inline tags stay (``b``, ``code``, ``a`` to a web
    address...), everything else is escaped; comments, scripts, styles, frames, SVG and remote images are
    removed, and links with another scheme than http(s) and mailto go nowhere. A fenced code block left open
    is closed, so nothing the template puts after the section is swallowed. reStructuredText (which a forge
    would not render) goes into a fenced block, where nothing links or pings; the upstream issues it names are
    listed under it when ``upstream`` is known.
    """
    text, cut = _prepare(text)
    tail = f"\n\n{CUT_NOTE}" if cut else ""
    if rst:
        longest = max((len(m.group(0)) for m in _TICKS.finditer(text)), default=0)
        fence = "`" * max(3, longest + 1)
        block = f"{fence}rst\n{text.rstrip()}\n{fence}"
        links = _rst_references(text, upstream) if upstream else ""
        return block + (f"\n\nUpstream references: {links}" if links else "") + tail
    lines = text.split("\n")
    try:
        tokens = block_tokens(lines, html_blocks=False)
    except Exception:  # noqa: BLE001 - a parser failing on hostile input: show the text as code instead
        return sanitize(text, upstream=upstream, rst=True)
    code = _code_lines(tokens)
    out = [line if number in code else _prose_line(line, upstream) for number, line in enumerate(lines)]
    closer = open_block_closer(lines, tokens)
    if closer:
        out.append(closer)
    return "\n".join(out) + tail
