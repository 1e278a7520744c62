"""Render a changelog slice: JSON (schema ``nightcrew.changelog/1``), plain text, and the PR body's entries."""

from __future__ import annotations

from typing import Any

from jobs.changelogs.markdown import sanitize
from jobs.models import Changelog

SCHEMA = "nightcrew.changelog/1"


def _is_rst(changelog: Changelog, file: str | None, heading: str) -> bool:
    """Whether a section is not Markdown (reStructuredText or plain text), so it goes in a fenced block."""
    name = (file or (changelog.origin.path if changelog.origin else "") or "").lower()
    if name.endswith((".md", ".markdown")) or (changelog.origin and changelog.origin.kind == "github-release"):
        return False
    if name.endswith((".rst", ".txt")):
        return True
    return not heading.lstrip().startswith(("#", "**"))  # a description or extension-less file: judge by its heading


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
    return "\n".join(lines) + "\n"


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
                      "text": sanitize(s.text, upstream=changelog.repository, rst=_is_rst(changelog, s.file, s.heading))}
                     for s in changelog.sections],
        "missing": list(changelog.missing_versions),
        "note": changelog.note,
        "summary": summary_markdown,
    }
