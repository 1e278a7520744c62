"""Changelogs from the package's repository on GitHub: its releases, or a changelog file on its default branch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest, SourceText
from jobs.changelogs.link import CHANGELOG_LABELS, normalize_label
from jobs.changelogs.markdown import block_tokens, github_repo_url, open_block_closer
from jobs.changelogs.parse import MAX_VERSION_CHARS, find_releases, looks_like_changelog, split_lines
from jobs.changelogs.sdist import DOC_FOLDERS, RELEASE_FOLDERS, decode_text, file_rank, included_paths, \
    release_file_version  # fmt: skip
from jobs.forges.github import GitHubReader, GitHubRelease, RepoEntry
from jobs.models import ChangelogOrigin

# -- which repository ----------------------------------------------------------------------------------

# Project-URL labels (normalized as PEP 753 compares them), most telling first: where the code lives, then
# the home page. Any other label still counts, after these (a changelog link often points into the repo).
SOURCE_LABELS = ("source", "sourcecode", "repository", "repo", "code", "github", "git", "homepage", "home")
# First path segments of github.com pages that are not repositories.
_NOT_OWNERS = frozenset(
    "sponsors orgs users apps marketplace features topics collections settings about pricing site enterprise "
    "explore search trending login join notifications security customer-stories readme".split()
)
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Upstream:
    """The package's repository on GitHub, and the changelog files (``blob`` links) and folders (``tree``
    links) its metadata points to inside it."""

    repository: str  # owner/name
    url: str  # https://github.com/owner/name
    files: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()


def github_location(url: str) -> tuple[str, str] | None:
    """(``owner/name``, the rest of the path) for a URL into a repository on github.com, else None.

    ``https://github.com/o/r/blob/main/CHANGES.md`` -> (``o/r``, ``blob/main/CHANGES.md``).
    """
    root = github_repo_url(url)
    if root is not None:
        owner, name = root.split("/")[-2:]
        if owner.lower() not in _NOT_OWNERS:
            return f"{owner}/{name}", ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or (parts.hostname or "").lower() not in (
        "github.com", "www.github.com"
    ):
        return None
    owner, _, rest = parts.path.strip("/").partition("/")
    name, _, rest = rest.partition("/")
    name = name.removesuffix(".git")
    if not _OWNER.match(owner) or owner.lower() in _NOT_OWNERS or not _NAME.match(name) or name in (".", ".."):
        return None
    return f"{owner}/{name}", unquote(rest.strip("/"))


def upstream_repository(project_urls: Mapping[str, str]) -> Upstream | None:
    """The GitHub repository the package's ``Project-URL`` entries point to (the best-labelled one when they
    name several), with the changelog files and folders they link to inside it; None when none is on GitHub."""
    found: list[tuple[int, int, str, str, str]] = []
    for order, (label, url) in enumerate(project_urls.items()):
        location = github_location(url) if isinstance(url, str) else None
        if location is None:
            continue
        name = normalize_label(label)
        rank = SOURCE_LABELS.index(name) if name in SOURCE_LABELS else len(SOURCE_LABELS)
        found.append((rank, order, location[0], location[1], name))
    if not found:
        return None
    repository = min(found)[2]
    files: list[str] = []
    folders: list[str] = []
    # Changelog-labelled links first: they name the file even when its name is unusual (docs/versionhistory.rst).
    for _rank, _order, repo, rest, label in sorted(found, key=lambda f: (f[4] not in CHANGELOG_LABELS, f[1])):
        kind, _, tail = rest.partition("/")
        _ref, _, path = tail.partition("/")  # a ref with a slash in it is read as ref + path: then it is not found
        if repo.lower() != repository.lower() or not path or ".." in path.split("/"):
            continue
        if kind == "blob" and (label in CHANGELOG_LABELS or file_rank(path) is not None) and path not in files:
            files.append(path)
        elif kind == "tree" and label in CHANGELOG_LABELS and path not in folders:
            folders.append(path)
    return Upstream(repository, f"https://github.com/{repository}", tuple(files), tuple(folders))


# -- release tags ------------------------------------------------------------------------------------------

# Tag prefixes that name no package: "v1.2", "release-1.2", "version-1.2", "rel_1.2".
_GENERIC_PREFIXES = frozenset({"", "release", "releases", "version", "ver", "rel"})
_SEPARATORS = "-_@/ "


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tag_version(tag: str) -> tuple[str, Version] | None:
    """(prefix, version) of a release tag, the prefix normalized: ``v1.2.3`` -> ("", 1.2.3),
    ``pkg-1.2.3`` / ``pkg@1.2.3`` / ``pkg-v1.2.3`` -> ("pkg", ...), ``@scope/pkg@1.2.3`` and
    ``packages/pkg/v1.2.3`` -> ("pkg", ...), ``release-1.2.3`` -> ("release", ...); None when no version."""
    for i, char in enumerate(tag):
        if not char.isdigit():
            continue
        start = i - 1 if i > 0 and tag[i - 1] in "vV" else i
        if start > 0 and tag[start - 1] not in _SEPARATORS:
            continue  # inside a word: "py3k-1.0" has its version after the dash
        if len(tag) - i > MAX_VERSION_CHARS:
            continue  # not a version: a hostile or broken tag (and Version() could not even convert it)
        try:
            version = Version(tag[i:])
        except ValueError:  # InvalidVersion, or a number part too long to convert
            continue
        prefix = tag[:start].rstrip(_SEPARATORS).lstrip("@").rpartition("/")[2]
        return _normalize(prefix), version
    return None


def tag_aliases(package: str, repository: str = "") -> frozenset[str]:
    """The tag prefixes that name ``package`` in a repository holding several: its name, its name without
    ``python-``/``py-``/``-python``, its trailing words (``google-cloud-storage`` -> ``storage``), and the
    repository's own name."""
    name = _normalize(package)
    parts = name.split("-")
    aliases = {name, name.replace("-", "")} | {"-".join(parts[i:]) for i in range(1, len(parts))}
    for prefix in ("python-", "py-"):
        if name.startswith(prefix):
            aliases.add(name.removeprefix(prefix))
    for suffix in ("-python", "-py"):
        if name.endswith(suffix):
            aliases.add(name.removesuffix(suffix))
    if repository:
        aliases.add(_normalize(repository.rpartition("/")[2]))
    return frozenset(a for a in aliases if a)


def _tag_kind(prefix: str, aliases: frozenset[str]) -> str | None:
    """"named" when the prefix names the package, "generic" when it names no package, None for a tag of
    another package in the same repository."""
    if prefix in aliases or prefix.replace("-", "") in aliases:
        return "named"
    return "generic" if prefix in _GENERIC_PREFIXES else None


# -- release bodies -------------------------------------------------------------------------------------------

_ATX = re.compile(r"^( {0,3})(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# A release whose notes only send the reader elsewhere: "See CHANGELOG.md", "**Full Changelog**: <compare URL>".
_POINTER_WORDS = re.compile(r"change\s?log|changes|history|news|release\s+notes|what'?s\s+new", re.I)
_POINTER_LINK = re.compile(r"https?://|\.(?:md|rst|txt)\b|\bsee\b", re.I)
POINTER_MAX_CHARS = 300


def nest_headings(body: str) -> str:
    """A release body with its headings two levels deeper (ATX ``#`` -> ``###``, setext to ATX), so that
    under a ``## <version>`` heading they read as the release's subsections, never as releases of their own.

    The headings are those CommonMark reads at the top level (as the changelog parser will), so fenced code,
    HTML blocks and list items are left alone. A fenced code block (or an HTML block only a closing tag ends)
    left open at the end is closed: it would otherwise swallow every older release after it."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    tokens = block_tokens(lines, html_blocks=True)
    out: list[str | None] = list(lines)
    for token in tokens:
        if token.type != "heading_open" or token.level != 0 or not token.map:
            continue
        first, stop = token.map
        level = min(6, int(token.tag[1]) + 2)
        if token.markup in ("=", "-"):  # setext: the title lines, then the underline
            out[first] = "#" * level + " " + " ".join(line.strip() for line in lines[first:stop - 1])
            out[first + 1:stop] = [None] * (stop - first - 1)
        elif (atx := _ATX.match(lines[first])) is not None:
            out[first] = atx.group(1) + "#" * level + lines[first][atx.end():]
    closer = open_block_closer(lines, tokens)
    return "\n".join([line for line in out if line is not None] + ([closer] if closer else []))


def is_pointer(body: str) -> bool:
    """Whether release notes only point elsewhere (short, naming a changelog and a link or file)."""
    text = body.strip()
    return len(text) < POINTER_MAX_CHARS and bool(_POINTER_WORDS.search(text)) and bool(_POINTER_LINK.search(text))


def drop_own_heading(body: str, version: Version) -> str:
    """The body without headings that name only the release's own version (notes copied from the changelog
    often start with "## [1.2.0] - 2024-05-01"): under ``## 1.2.0`` each would read as a second section of
    the same release."""
    lines = split_lines(body.replace("\r\n", "\n").replace("\r", "\n"))
    own: list[tuple[int, int]] = []
    for release in find_releases("\n".join(lines), "release.md"):
        end = release.line  # 1-based title line: lines[start:end] is the overline (if any) and the title
        underlined = end < len(lines) and _SETEXT.match(lines[end]) is not None
        # Marked-up headings only: the parser also reads plain lines, and "Notes for v1.2." is a sentence.
        if release.parsed == (version,) and (underlined or release.heading.lstrip().startswith(("#", "**", "__"))):
            own.append((release.start, end + underlined))
    for start, end in reversed(own):
        del lines[start:end]
    return "\n".join(lines) if own else body


def releases_markdown(releases: Iterable[tuple[Version, GitHubRelease]]) -> str:
    """A changelog made of releases: one ``## <version>`` heading per release, then its notes, in the order
    given (GitHub's: newest first)."""
    return "\n\n".join(f"## {version}\n\n{nest_headings(drop_own_heading(release.body, version))}"
                         for version, release in releases) + "\n"  # fmt: skip


# -- the sources ----------------------------------------------------------------------------------------------

MAX_RELEASE_PAGES = 10  # 1000 releases at 100 a page: far past any upgrade's range
RELEASES_TEXT_PATH = "releases.md"


def _upstream(reader: GitHubReader, request: ChangelogRequest) -> Upstream | None:
    """The upstream repository to ask, or None: without a token (rate limits) or a GitHub URL, no request at all."""
    return upstream_repository(request.project_urls) if reader.has_token else None


class GitHubReleasesSource:
    """The upstream repository's GitHub releases between the two versions, as one Markdown changelog.

    Only with a token (the anonymous rate limit is 60 requests an hour). Requests: one per page of 100
    releases, newest first, stopping after the page that reaches ``old``; usually one.
    """

    kind = "github-release"

    def __init__(self, reader: GitHubReader, *, max_pages: int = MAX_RELEASE_PAGES) -> None:
        self.reader = reader
        self.max_pages = max_pages

    def fetch(self, request: ChangelogRequest) -> list[SourceText]:
        upstream = _upstream(self.reader, request)
        if upstream is None:
            return []
        aliases = tag_aliases(request.package, upstream.repository)
        # Tags that name the package win over generic ones (a repository holding several packages); the
        # decision waits until the listing ends, so both kinds are collected.
        picked: dict[str, list[tuple[Version, GitHubRelease]]] = {"named": [], "generic": []}
        reached = {"named": False, "generic": False}  # a release at or below ``old`` was seen
        releases_url = f"{upstream.url}/releases"
        for number, page in enumerate(self.reader.release_pages(upstream.repository), 1):
            for release in page:
                if "/releases/" in release.html_url:
                    releases_url = release.html_url.rpartition("/releases/")[0] + "/releases"
                parsed = None if release.draft else tag_version(release.tag)
                kind = _tag_kind(parsed[0], aliases) if parsed else None
                if parsed is None or kind is None:
                    continue
                if parsed[1] <= request.old:
                    reached[kind] = True
                elif parsed[1] <= request.new:
                    picked[kind].append((parsed[1], release))
            kind = "named" if picked["named"] or reached["named"] else "generic"
            # Stop at the end of the page that reaches ``old``, not at the release: a backport published
            # after a newer release sits among them.
            if reached[kind] or number >= self.max_pages:
                break
        kind = "named" if picked["named"] or reached["named"] else "generic"
        seen: set[Version] = set()
        chosen: list[tuple[Version, GitHubRelease]] = []
        for version, release in picked[kind]:
            # empty notes say nothing: the version is left to missing_versions
            if version not in seen and drop_own_heading(release.body, version).strip():
                seen.add(version)
                chosen.append((version, release))
        if not chosen or all(is_pointer(release.body) for _v, release in chosen):
            return []  # nothing, or only "see CHANGELOG": the file source may have the real text
        origin = ChangelogOrigin(self.kind, url=releases_url)
        return [SourceText(origin, {RELEASES_TEXT_PATH: releases_markdown(chosen)})]


MAX_LISTINGS = 5  # folder listings per package: the top, doc/ or docs/, and a few below them
MAX_READS = 6  # candidate files read per package (stubs and their includes count)
MAX_RELEASE_FILES = 20  # per-release files read from one folder
MAX_FILE_BYTES = 1024 * 1024  # the contents API serves files up to 1 MB
# Folders below doc/ or docs/ that hold the documentation sources: doc/en/changelog.rst, docs/source/changes.rst.
DOC_SOURCE_FOLDERS = ("source", "src", "en", "content")


def _norm(name: str) -> str:
    return re.sub(r"[-_. ]+", "", name.lower())


def _series_or_in_range(version: Version, old: Version, new: Version) -> bool:
    """A per-release file worth reading: its version is in (old, new], or it is the file of the series
    ``old`` or ``new`` belongs to ("3.12.rst" holds 3.12.1 and 3.12.2)."""
    if old < version <= new:
        return True
    size = len(version.release)
    return any(size < len(v.release) and v.release[:size] == version.release for v in (old, new))


class GitHubFileSource:
    """A changelog file on the upstream repository's default branch: the files its metadata links to, then
    CHANGELOG/CHANGES/HISTORY/NEWS/RELEASES at the top, then doc/ and docs/ (``changelog*``, ``changes*``,
    ``release-notes*``, ...), then one-file-per-release folders. Candidates are read best first and judged by
    whether they hold release headings; a stub's ``include`` is followed. The first that does is returned.

    Only with a token. Requests: one listing of the top folder, then one read per candidate until a hit
    (usually 2 in all); doc/ adds a listing (3-4); at most ``MAX_LISTINGS`` listings and ``MAX_READS``
    reads, plus up to ``MAX_RELEASE_FILES`` for a per-release folder.
    """

    kind = "github-file"

    def __init__(self, reader: GitHubReader, *, max_listings: int = MAX_LISTINGS, max_reads: int = MAX_READS,
                 max_release_files: int = MAX_RELEASE_FILES) -> None:  # fmt: skip
        self.reader = reader
        self.max_listings = max_listings
        self.max_reads = max_reads
        self.max_release_files = max_release_files

    def fetch(self, request: ChangelogRequest) -> list[SourceText]:
        upstream = _upstream(self.reader, request)
        if upstream is None:
            return []
        found = _Search(self, upstream, request).run()
        return [found] if found is not None else []


class _Search:
    """One package's walk through its repository, within the source's request budget."""

    def __init__(self, source: GitHubFileSource, upstream: Upstream, request: ChangelogRequest) -> None:
        self.reader = source.reader
        self.repo = upstream.repository
        self.upstream = upstream
        self.request = request
        self.listings = source.max_listings
        self.reads = source.max_reads
        self.release_files = source.max_release_files
        self.tried: set[str] = set()

    def run(self) -> SourceText | None:
        for path in self.upstream.files:
            if (hit := self.single(path)) is not None:
                return hit
        self.listings -= 1
        root = self.reader.list_dir(self.repo, "") or []  # a missing repository raises ForgeError here
        if (hit := self.best(root)) is not None:
            return hit
        folders: list[tuple[str, str | None]] = [(path, None) for path in self.upstream.folders]
        folders += [(e.path, e.html_url) for e in root if e.type == "dir" and _norm(e.name) in RELEASE_FOLDERS]
        below: list[RepoEntry] = []
        for doc in sorted((e for e in root if e.type == "dir" and e.name.lower() in DOC_FOLDERS), key=lambda e: e.path):
            entries = self.listing(doc.path)
            folders += [(e.path, e.html_url) for e in entries if e.type == "dir" and _norm(e.name) in RELEASE_FOLDERS]
            below += [e for e in entries if e.type == "dir" and e.name.lower() in DOC_SOURCE_FOLDERS]
            if (hit := self.best(entries)) is not None:
                return hit
        for sub in below:
            entries = self.listing(sub.path)
            folders += [(e.path, e.html_url) for e in entries if e.type == "dir" and _norm(e.name) in RELEASE_FOLDERS]
            if (hit := self.best(entries)) is not None:
                return hit
        for path, url in folders:
            if (hit := self.release_folder(path, url)) is not None:
                return hit
        return None

    def listing(self, path: str) -> list[RepoEntry]:
        if self.listings <= 0:
            return []
        self.listings -= 1
        return self.reader.list_dir(self.repo, path) or []

    def best(self, entries: Iterable[RepoEntry]) -> SourceText | None:
        """The first changelog among ``entries`` in ``file_rank`` order (top-level names, then doc names)."""
        ranked = sorted(
            (rank, e.path) for e in entries
            if e.type in ("file", "symlink") and 0 < e.size <= MAX_FILE_BYTES and (rank := file_rank(e.path))
        )  # fmt: skip
        for _rank, path in ranked:
            if self.reads <= 0:
                return None
            if (hit := self.single(path)) is not None:
                return hit
        return None

    def single(self, path: str) -> SourceText | None:
        """``path`` as a changelog, or the file its stub includes; None when neither holds release headings."""
        text, url, real = self.read(path)
        if text is None:
            return None
        if looks_like_changelog(text, real, named=file_rank(real) is not None):  # a changelog's name: one heading will do
            return SourceText(ChangelogOrigin("github-file", url=url, path=real), {real: text})
        # A stub: the repository (unlike an sdist) has what it includes.
        for target in included_paths(text, real):
            if self.reads <= 0:
                break
            included, url, real_target = self.read(target)
            if included is not None and looks_like_changelog(included, real_target,
                                                             named=file_rank(real_target) is not None):
                return SourceText(ChangelogOrigin("github-file", url=url, path=real_target), {real_target: included})
        return None

    def read(self, path: str) -> tuple[str | None, str | None, str]:
        if path in self.tried or self.reads <= 0:
            return None, None, path
        self.tried.add(path)
        self.reads -= 1
        found = self.reader.read_file(self.repo, path)
        if found is None:
            return None, None, path
        self.tried.add(found.path)
        return decode_text(found.data), found.html_url, found.path

    def release_folder(self, path: str, url: str | None) -> SourceText | None:
        """A folder of one file per release (or per series): the files for the versions in range."""
        versions = [(v, e) for e in self.listing(path) if e.type == "file" and (v := release_file_version(e.path))]
        if len(versions) < 2:
            return None
        old, new = self.request.old, self.request.new
        wanted = sorted(((v, e) for v, e in versions if _series_or_in_range(v, old, new)),
                        key=lambda item: item[0], reverse=True)[: self.release_files]  # fmt: skip
        texts: dict[str, str] = {}
        for _version, entry in wanted:
            found = self.reader.read_file(self.repo, entry.path)
            if found is not None and (text := decode_text(found.data)).strip():
                texts[found.path] = text
        if not texts:
            return None
        folder_url = url or f"{self.upstream.url}/tree/HEAD/{path}"
        return SourceText(ChangelogOrigin("github-file", url=folder_url, path=path), texts)
