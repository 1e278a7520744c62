"""The draft in the project's own voice: the notes file found and read at the right commit, curated text used
first, and the composed note re-arranged and rendered in the learned house style (``jobs.releases.style``).

Order of preference, each source-linked:

1. Curated text written for this release (``[release_notes] curated``): the notes file at the tag already holds a
   section for the tag's version (maintainers wrote it in the release PR), or towncrier news fragments are in the
   tree at the tag. The draft is that text; the PRs it does not mention are listed apart for the editor.
2. The composed note (every PR, categorized) in the house style learned from the notes file as it stood at the
   tag's parent (``[release_notes] style = "auto"``).
3. nightcrew's default layout (``templates/release_notes.md.j2``), when there is nothing to learn from.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Mapping

from jobs.changelogs.parse import find_releases
from jobs.changelogs.sdist import file_rank
from jobs.changelogs.slicing import slice_releases
from jobs.models import PullInfo, ReleaseItem, ReleaseNote, ReleaseRange
from jobs.releases import style as house_style
from jobs.releases.compose import plain_markdown

# news-fragment folders towncrier and its peers use, when pyproject.toml names none
FRAGMENT_FOLDERS = ("changelog.d", "changes", "newsfragments", "news", "changes.d", "newsfragments.d")
_FRAGMENT = re.compile(r"^(?P<ref>[+\w-]+?)\.(?P<type>[a-z]+)(?:\.\d+)?(?:\.(?:md|rst|txt))?$")
_TOWNCRIER_TYPES = {"feature": "Features", "bugfix": "Bugfixes", "doc": "Improved Documentation",
                    "removal": "Deprecations and Removals", "misc": "Misc", "breaking": "Breaking Changes",
                    "deprecation": "Deprecations", "security": "Security", "change": "Changes",
                    "added": "Added", "changed": "Changed", "fixed": "Fixed", "removed": "Removed",
                    "deprecated": "Deprecated", "perf": "Performance", "contrib": "Contributor-facing changes"}


@dataclass(frozen=True)
class HouseResult:
    note: ReleaseNote
    source: str  # "curated-section", "news-fragments", "house-style", or "default"
    style: dict | None = None
    not_in_notes: tuple[int, ...] = ()


def _git(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", errors="replace") if proc.returncode == 0 else None


def find_notes_file(repo: Path, ref: str, configured: str = "") -> tuple[str, str] | None:
    """(path, text) of the notes file at ``ref``: ``configured`` when given, else the best-named file that holds
    release sections (``CHANGELOG.md``, ``CHANGES.rst``, ``docs/release-notes.md``...)."""
    if configured:
        text = _git(repo, "show", f"{ref}:{configured}")
        return (configured, text) if text is not None else None
    listing = _git(repo, "ls-tree", "-r", "--name-only", ref)
    if not listing:
        return None
    ranked = sorted((rank, path) for path in listing.splitlines() if (rank := file_rank(path)) is not None)
    for _rank, path in ranked[:8]:
        text = _git(repo, "show", f"{ref}:{path}")
        if text and find_releases(text, path):
            return path, text
    return None


def version_text(tag: str, pattern: str) -> str:
    found = re.match(pattern, tag)
    return found["version"] if found and found.groupdict().get("version") else tag.lstrip("vV")


# -- escaping for reStructuredText --------------------------------------------------------------------------

_MD_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_RST_SPECIAL = re.compile(r"([*|\\])")
_RST_BLOCK = re.compile(r"^(?:\.\.\s|[-+*]\s|#\.|\d+[.)]\s|[=\-~^\"'`:.*+#]{3,}$)")


def plain_rst(text: object) -> str:
    """Third-party text as reStructuredText that renders as that text: Markdown code spans become inline
    literals, ``*``, ``|``, ``\\`` and stray backquotes are escaped, a trailing ``_`` of a word does not make a
    reference, nothing at the start opens a block; one line."""
    raw = " ".join(str(text or "").split())
    out, last = [], 0
    for code in _MD_CODE.finditer(raw):
        out.append(_rst_prose(raw[last:code.start()]))
        out.append(f"``{code.group(1)}``")
        last = code.end()
    out.append(_rst_prose(raw[last:]))
    result = "".join(out)
    return "\\" + result if _RST_BLOCK.match(result) else result


def _rst_prose(text: str) -> str:
    text = _RST_SPECIAL.sub(r"\\\1", text).replace("`", "\\`")
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)


# -- curated sources ----------------------------------------------------------------------------------------

_REF_NUMBERS = re.compile(r"(?:#|:(?:issue|pr|gh|ghpull|bug|pull):`|\{(?:issue|pr|gh)\}`|/(?:pull|issues)/)(\d+)")


def curated_section(text: str, path: str, version: str, previous: str | None) -> str | None:
    """The notes file's own section for ``version`` (a maintainer wrote it before tagging), or None."""
    from packaging.version import InvalidVersion, Version

    try:
        new = Version(version)
        old = Version(previous) if previous else Version("0.0.0.dev0")
    except InvalidVersion:
        return None
    if old >= new:
        return None
    sliced = slice_releases({path: text}, old, new, prereleases="never")
    own = [s for s in sliced.sections if new in {_v(w) for w in s.version.split()}]
    return own[0].text.rstrip() + "\n" if own else None


def _v(word: str):  # type: ignore[no-untyped-def]
    from packaging.version import InvalidVersion, Version

    try:
        return Version(word)
    except InvalidVersion:
        return None


def fragments(repo: Path, ref: str) -> list[tuple[str, str, str]]:
    """(reference, type, text) of the news fragments in the tree at ``ref`` (towncrier's configured directory,
    else the usual folders), in file-name order."""
    folders = list(FRAGMENT_FOLDERS)
    pyproject = _git(repo, "show", f"{ref}:pyproject.toml")
    if pyproject:
        found = re.search(r"^\s*directory\s*=\s*[\"']([^\"']+)[\"']", pyproject.split("[tool.towncrier]", 1)[-1]
                          if "[tool.towncrier]" in pyproject else "", re.M)
        if found:
            folders.insert(0, found.group(1).strip("/"))
    listing = _git(repo, "ls-tree", "-r", "--name-only", ref) or ""
    found_fragments = []
    for path in sorted(listing.splitlines()):
        folder, _, name = path.rpartition("/")
        if folder.split("/")[-1] not in folders and folder not in folders:
            continue
        match = _FRAGMENT.match(name)
        if not match or name.lower().startswith(("readme", "template", ".")):
            continue
        text = _git(repo, "show", f"{ref}:{path}")
        if text and text.strip():
            found_fragments.append((match["ref"], match["type"], text.strip()))
    return found_fragments


# -- re-arranging and rendering -----------------------------------------------------------------------------


def _link(style: house_style.HouseStyle | None, markup: str, item: ReleaseItem) -> str:
    """A reference for an item in a house that writes none (every item still links its source)."""
    if item.pr is not None:
        if not item.url:
            return f" (#{item.pr})"
        return f" (`#{item.pr} <{item.url}>`__)" if markup == "rst" else f" ([#{item.pr}]({item.url}))"
    if item.sha:
        short = item.sha[:7]
        if not item.url:
            return f" ({short})"
        return f" (`{short} <{item.url}>`__)" if markup == "rst" else f" ([`{short}`]({item.url}))"
    return ""


def restyle(note: ReleaseNote, range_: ReleaseRange, pulls: Mapping[int, PullInfo], style: house_style.HouseStyle,
            *, version: str, previous: str | None, day: date, keep_categories: bool = False,
            heading: str = "", item_order: str = "", intro: str = "") -> ReleaseNote:
    """``note`` placed under the house's headings (or its own, with ``keep_categories``: a release.yml or the
    config decides), left-out changes added to ``excluded`` with the rule, and its text in the house style."""
    if heading:
        style = replace(style, heading=heading.replace("{tag}", "{version}"))
    if item_order:
        style = replace(style, order=item_order)
    markup = style.markup
    position = {ref.number: i for i, ref in enumerate(range_.pulls)}
    commits = {c.sha: i + len(position) for i, c in enumerate(range_.direct_commits)}
    items = sorted((item for _, group in note.categories for item in group),
                   key=lambda i: position.get(i.pr, 0) if i.pr is not None else commits.get(i.sha or "", 10**6))
    entries = []
    for item in items:
        raw = (pulls.get(item.pr).title if item.pr is not None and item.pr in pulls else None) or item.title
        if item.bumps:
            raw = f"chore(deps): bump {raw}" if not house_style.kind_of(raw) == "deps" else raw
        entries.append({"pr": item.pr, "sha": item.sha, "title": raw, "item": item,
                        "category": item.category})
    if keep_categories:
        grouped: dict[str, list[dict]] = {}
        for entry in entries:
            grouped.setdefault(entry["category"], []).append(entry)
        arranged, left_out = list(grouped.items()), []
    else:
        arranged, left_out = house_style.arrange(style, entries)
    excluded = list(note.excluded)
    excluded_commits = list(note.excluded_commits)
    for entry, rule in left_out:
        if entry["pr"] is not None:
            excluded.append((entry["pr"], rule))
        elif entry["sha"]:
            excluded_commits.append((entry["sha"], rule))
    categories = []
    rendered = []
    escape = plain_rst if markup == "rst" else plain_markdown
    for title, group in arranged:
        category_items = []
        lines = []
        for entry in group:
            item: ReleaseItem = entry["item"]
            category_items.append(replace(item, category=title or item.category))
            detail = ""
            if item.pr is not None and style.item_chars > 150 and item.pr in pulls:
                detail = escape(house_style.body_detail(pulls[item.pr].body)) if pulls[item.pr].body else ""
            text = escape(item.title)
            if style.ref and item.pr is not None:
                lines.append({"title": text, "pr": item.pr, "url": item.url, "detail": detail,
                              "author": item.author})
            else:
                lines.append({"title": text + _link(style, markup, item), "pr": None, "url": None,
                              "detail": detail, "author": item.author})
        categories.append(((title or "").replace("{{", "{").replace("}}", "}").replace("{version}", version)
                           or "Changes", tuple(category_items)))
        rendered.append((title, lines))
    text = house_style.render(style, version=version, previous=previous, day=day, categories=rendered,
                              intro=intro)
    return replace(note, categories=tuple(categories), excluded=tuple(excluded),
                   excluded_commits=tuple(excluded_commits), text=text)


def curated_note(note: ReleaseNote, range_: ReleaseRange, text: str, markup: str) -> tuple[ReleaseNote, tuple[int, ...]]:
    """The curated text as the draft; the PRs it does not mention listed apart (a comment the editor sees in the
    file, not in the rendered notes), and kept in the note's items, so the completeness check still holds."""
    mentioned = {int(n) for n in _REF_NUMBERS.findall(text)}
    missing = tuple(dict.fromkeys(ref.number for ref in range_.pulls if ref.number not in mentioned))
    if missing:
        listed = ", ".join(f"#{n}" for n in missing)
        if markup == "rst":
            text = text.rstrip("\n") + f"\n\n..\n   not in the notes: {listed}\n"
        else:
            text = text.rstrip("\n") + f"\n\n<!-- not in the notes: {listed} -->\n"
    return replace(note, text=text), missing


def fragment_text(found: list[tuple[str, str, str]], style: house_style.HouseStyle | None, *, version: str,
                  previous: str | None, day: date, repo_url: str | None) -> str:
    """The news fragments as a release section, grouped by type, in the house style when there is one."""
    groups: dict[str, list[dict]] = {}
    for ref, kind, text in found:
        title = _TOWNCRIER_TYPES.get(kind, kind.capitalize())
        if style is not None:
            kinds = house_style.heading_kinds(kind) | house_style.heading_kinds(title)
            match = next((c.title for c in style.categories if kinds & c.kinds), None)
            title = match or title
        number = int(ref) if ref.isdigit() else None
        body = " ".join(text.split())
        groups.setdefault(title, []).append({"title": body, "pr": number,
                                             "url": f"{repo_url}/pull/{number}" if repo_url and number else None})
    base = style or house_style.HouseStyle(markup="markdown", heading="{version} ({date})", ref=" (#{n})")
    return house_style.render(base, version=version, previous=previous, day=day, categories=list(groups.items()))


def release_day(repo: Path, sha: str) -> date:
    stamp = _git(repo, "log", "-1", "--format=%cI", sha)
    try:
        return datetime.fromisoformat(stamp.strip()).date() if stamp else date.today()
    except ValueError:
        return date.today()


def markup_of(path: str) -> str:
    return "rst" if PurePosixPath(path).suffix.lower() in (".rst", ".rest", ".txt") else "markdown"
