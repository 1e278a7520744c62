"""Render a changelog slice: JSON (schema ``nightcrew.changelog/1``), plain text, and the PR body's entries."""

from __future__ import annotations

from typing import Any

import re

from jobs.changelogs.markdown import MAX_SECTION_CHARS, sanitize
from jobs.changelogs.sdist import strip_controls
from jobs.models import Changelog

SCHEMA = "nightcrew.changelog/1"

# Constructs only reStructuredText has: directives, comments and targets (".. x"), a literal block marker
# ("::" ending a line), inline literals (``x``), roles (:issue:`12`), hyperlink references (`x <url>`_), and
# title adornments Markdown has no use for (a line of ~ ^ " ' + * # under a line of text).
_RST_SIGNS = (
    re.compile(r"^\.\.(?:\s+\S|\s*$)", re.M),
    re.compile(r"\S::[ \t]*$", re.M),
    re.compile(r"(?<![`\w])``[^`\n]+``(?![`\w])"),
    re.compile(r":[A-Za-z][\w+-]*(?::[A-Za-z][\w+-]*)?:`[^`\n]+`"),
    re.compile(r"`[^`\n]+`__?(?!\w)"),
    re.compile(r"^[^\s].*\n([~^\"'+*#])\1{2,}[ \t]*$", re.M),
)
# Constructs only Markdown has: ATX headings, fenced code, inline links and images, autolinks.
_MARKDOWN_SIGNS = (
    re.compile(r"^ {0,3}#{1,6}[ \t]", re.M),
    re.compile(r"^ {0,3}```", re.M),
    re.compile(r"\]\([^()\[\]\s]+\)"),
    re.compile(r"<https?://[^<>\s]+>"),
)


def looks_like_rst(text: str) -> bool:
    """Whether a section's text is reStructuredText rather than Markdown (or plain text, which reads as
    Markdown well enough): more kinds of RST-only constructs than Markdown-only ones."""
    text = text[:MAX_SECTION_CHARS]  # as much as the PR body shows
    rst = sum(1 for sign in _RST_SIGNS if sign.search(text))
    markdown = sum(1 for sign in _MARKDOWN_SIGNS if sign.search(text))
    return rst > markdown


def _is_rst(changelog: Changelog, file: str | None, text: str) -> bool:
    """Whether a section is reStructuredText, so it goes in a fenced block (a forge would not render it)."""
    name = (file or (changelog.origin.path if changelog.origin else "") or "").lower()
    if name.endswith((".md", ".markdown")) or (changelog.origin and changelog.origin.kind == "github-release"):
        return False
    if name.endswith((".rst", ".rest")):
        return True
    # .txt, extension-less files (CHANGES, HISTORY) and descriptions: what the text itself is written in
    return looks_like_rst(text)


def to_json(changelog: Changelog, summary: Any = None) -> dict[str, Any]:
    origin = changelog.origin
    return {
        "schema": SCHEMA,
        "package": changelog.package,
        "old": changelog.old,
        "new": changelog.new,
        "source": {"kind": origin.kind if origin else None, "url": origin.url if origin else None,
                   "path": origin.path if origin else None},
        "repository": changelog.repository,
        "sections": [{"version": s.version, "heading": s.heading, "line": s.line, "file": s.file, "text": s.text}
                     for s in changelog.sections],
        "missing_versions": list(changelog.missing_versions),
        "flags": [{"kind": f.kind, "version": f.version, "text": f.text} for f in changelog.flags],
        "note": changelog.note,
        "summary": None if summary is None else {
            "model": summary.model, "points": [{"text": p.text, "versions": list(p.versions)} for p in summary.points]},
    }


def to_text(changelog: Changelog) -> str:
    origin = changelog.origin
    lines = [f"{changelog.package} {changelog.old} -> {changelog.new}"]
    if origin:
        lines.append(f"source: {origin.kind} {origin.url or ''} {origin.path or ''}".rstrip())
    if changelog.note:
        lines.append(f"note: {changelog.note}")
    for flag in changelog.flags:
        lines.append(f"[{flag.kind}] {flag.version}: {flag.text}")
    if changelog.missing_versions:
        lines.append("no section for: " + ", ".join(changelog.missing_versions))
    for section in changelog.sections:
        lines += ["", section.text.rstrip()]
    # Upstream text must not drive the terminal it is printed on: no escape sequences, no control characters.
    return strip_controls("\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")) + "\n"


def pr_entry(changelog: Changelog, summary_markdown: str | None = None) -> dict[str, Any]:
    """What the PR body template receives for one package: sanitized text, flags first, one block per version."""
    origin = changelog.origin
    return {
        "name": changelog.package,
        "old": changelog.old,
        "new": changelog.new,
        "source_kind": origin.kind if origin else None,
        "source_url": origin.url if origin else None,
        "source_path": origin.path if origin else None,
        "flags": [{"kind": f.kind, "version": f.version,
                   "text": sanitize(f.text, upstream=changelog.repository)} for f in changelog.flags],
        "sections": [{"version": s.version, "heading": s.heading,
                      "text": sanitize(s.text, upstream=changelog.repository, rst=_is_rst(changelog, s.file, s.text))}
                     for s in changelog.sections],
        "missing": list(changelog.missing_versions),
        "note": changelog.note,
        "summary": summary_markdown,
    }
