"""Cut a changelog down to the sections of the releases between two versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from packaging.version import Version

from jobs.changelogs.parse import Release, document_title, find_releases, parse_version, split_lines, trim_end
from jobs.changelogs.sdist import release_file_version
from jobs.models import ChangelogSection

PRERELEASE_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class SliceResult:
    """The sections in (old, new], in the changelog's own order, and every version the changelog names.

    ``found_versions`` is ascending and unique, across all files. ``spans`` has one entry per section:
    the file and the 1-based first and last line of the section's text in that file.
    """

    sections: tuple[ChangelogSection, ...] = ()
    found_versions: tuple[Version, ...] = ()
    spans: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class _File:
    path: str
    lines: list[str]
    releases: list[Release]


def slice_releases(
    texts: Mapping[str, str], old: Version, new: Version, *, prereleases: str = "auto"
) -> SliceResult:
    """The sections of every release with ``old < version <= new`` in ``texts`` (path -> changelog text).

    Order: within a file, document order (newest-first or oldest-first, as the changelog has it). Notes split
    over several files (one per release or per series) are put in the order the files themselves use: by
    each file's newest version, descending unless the files list their releases oldest first; files without
    release headings are skipped. ``ChangelogSection.file`` is set whenever more than one text was given.

    Nesting: a patch release whose heading sits under its minor's heading (deeper rank) gets its own
    section, and the minor's text leaves the nested sections out (its own text may then be two parts, e.g.
    the intro and an "Acknowledgements" subsection after the patches, joined by a blank line), so no line
    is shown twice.

    Pre-releases (``prereleases``): ``always`` keeps every pre-release section in range, ``never`` drops
    them all but ``new`` itself, ``auto`` keeps them when ``new`` is a pre-release or when the final they
    lead to is itself in range (``old < final <= new``: the upgrade skips over it). A heading that names
    several versions is in range when any of them is.
    """
    if prereleases not in PRERELEASE_MODES:
        raise ValueError(f"prereleases must be one of {', '.join(PRERELEASE_MODES)}, not {prereleases!r}")
    files = [_File(path, split_lines(text), _file_releases(text, path, new)) for path, text in texts.items()]
    files = _in_changelog_order([f for f in files if f.releases])
    named_files = len(texts) > 1
    sections: list[ChangelogSection] = []
    spans: list[tuple[str, int, int]] = []
    for file in files:
        for release in file.releases:
            if not any(_admitted(v, old, new, prereleases) for v in release.parsed):
                continue
            parts = _own_parts(file.lines, release, file.releases)
            sections.append(ChangelogSection(
                version=" ".join(release.versions),
                heading=release.heading,
                text="\n\n".join("\n".join(file.lines[a:b]) for a, b in parts),
                line=release.line,
                file=file.path if named_files else None,
            ))
            spans.append((file.path, parts[0][0] + 1, parts[-1][1]))
    found = sorted({v for f in files for r in f.releases for v in r.parsed})
    return SliceResult(tuple(sections), tuple(found), tuple(spans))


def _file_releases(text: str, path: str, new: Version) -> list[Release]:
    """The file's release headings; for a file of a per-release folder (``docs/releases/5.1.2.txt``,
    ``doc/source/release/2.1.0-notes.rst``) whose headings do not name its own version (its title is prose such
    as "<Project> 5.1.2 release notes"), the whole file is that release's section: the file name is its heading.

    A heading that still says "unreleased" counts when it names ``new`` itself: the release shipped with it."""
    releases = [r for r in find_releases(text, path, include_unreleased=True) if not r.unreleased or new in r.parsed]
    version = release_file_version(path)
    if version is None or any(version in r.parsed for r in releases):
        return releases
    lines = split_lines(text)
    if not any(line.strip() for line in lines):
        return releases
    title = document_title(text, path)
    heading, line, start = title if title is not None else (path.rpartition("/")[2], 1, 0)
    whole = Release((str(version),), (version,), heading, line, start, trim_end(lines, start + 1, len(lines)), 0)
    # headings inside that name other versions are nested releases of this file (their level is deeper)
    return [whole] + [replace(r, level=max(r.level, 1)) for r in releases if r.start >= start]


def missing_versions(
    index_versions: Iterable[Version | str], sections: Iterable[ChangelogSection], old: Version, new: Version
) -> tuple[str, ...]:
    """Releases the index lists in (old, new] that no section names, ascending.

    Finals only, plus pre-releases when ``new`` is one: a pre-release the changelog folds into its final
    (``2.34.0.dev1``) is not missing. Post- and dev releases (``1.2.3.post1``: a packaging fix, rarely a
    section of its own) are left out too, unless the sections show the changelog gives such releases sections.
    """
    covered = {v for s in sections for word in s.version.split() if (v := parse_version(word)) is not None}
    posts = any(v.is_postrelease for v in covered)
    devs = any(v.is_devrelease for v in covered)
    wanted = set()
    for item in index_versions:
        version = item if isinstance(item, Version) else parse_version(str(item))
        if version is None or not old < version <= new:
            continue
        if (version.is_postrelease and not posts) or (version.is_devrelease and not devs):
            continue
        if not version.is_prerelease or new.is_prerelease:
            wanted.add(version)
    return tuple(str(v) for v in sorted(wanted) if v not in covered)


def _admitted(version: Version, old: Version, new: Version, mode: str) -> bool:
    if not old < version <= new:
        return False
    if not version.is_prerelease or version == new or mode == "always":
        return True
    if mode == "never":
        return False
    return new.is_prerelease or old < Version(version.base_version) <= new


def _in_changelog_order(files: list[_File]) -> list[_File]:
    """Files ordered by their newest version, in the direction the files list their own releases."""
    if len(files) < 2:
        return files
    oldest_first = sum(_direction(f.releases) for f in files) > 0
    return sorted(files, key=lambda f: max(v for r in f.releases for v in r.parsed), reverse=not oldest_first)


def _direction(releases: list[Release]) -> int:
    """+1 when the top-rank releases go up in document order, -1 when they go down, 0 when it can't tell."""
    top = min(r.level for r in releases)
    versions = [max(r.parsed) for r in releases if r.level == top]
    steps = sum((b > a) - (b < a) for a, b in zip(versions, versions[1:]))
    return (steps > 0) - (steps < 0)


def _own_parts(lines: list[str], release: Release, releases: list[Release]) -> list[tuple[int, int]]:
    """The line ranges that are this release's own text: its range minus the releases nested inside it."""
    parts = []
    cursor = release.start
    for other in releases:
        if other is release or not release.start < other.start < release.end or other.start < cursor:
            continue
        parts.append((cursor, other.start))
        cursor = other.end
    parts.append((cursor, release.end))
    trimmed = []
    for index, (start, end) in enumerate(parts):
        if index:  # a part after a nested release starts at its first non-blank line
            while start < end and not lines[start].strip():
                start += 1
            floor = start
        else:
            floor = _heading_end(lines, release)
        end = trim_end(lines, floor, end)
        if end > start:
            trimmed.append((start, end))
    return trimmed


def _heading_end(lines: list[str], release: Release) -> int:
    """The index after the heading's own lines (title, and underline when there is one)."""
    after_title = release.line  # 0-based index of the line after the 1-based title line
    if after_title < len(lines) and _looks_like_underline(lines[after_title]):
        return after_title + 1
    return min(after_title, release.end)


def _looks_like_underline(line: str) -> bool:
    stripped = line.rstrip()
    return len(stripped) >= 3 and len(set(stripped)) == 1 and not stripped[0].isalnum()
