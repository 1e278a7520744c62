"""Changelog files inside an sdist from the index: downloaded once, opened safely, only candidate members read."""

from __future__ import annotations

import io
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest, SourceText
from jobs.changelogs.parse import MAX_VERSION_CHARS, document_title, looks_like_changelog
from jobs.errors import PackageIndexError
from jobs.index.locate import redact_url
from jobs.models import ChangelogOrigin, DistributionFile, ProjectPage

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # the largest sdists of widely used packages (scipy, grpcio) fit
DEFAULT_MAX_MEMBER_BYTES = 4 * 1024 * 1024  # pip's NEWS.rst, setuptools' NEWS.rst are well under 1 MiB
# A hostile archive must not make us walk forever: a cap on members and on the bytes behind them.
MAX_MEMBERS = 100_000
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024
# A per-release folder may hold hundreds of files (Django's docs/releases): a budget for all reads together.
MAX_TOTAL_TEXT_BYTES = 32 * 1024 * 1024

_PKG_INFO = "PKG-INFO"

# Single files: the stem (lower case, "-", "_", ".", " " dropped) names a changelog; list order is preference.
CHANGELOG_NAMES = ("changelog", "changes", "history", "news", "releases", "releasenotes", "whatsnew",
                   "versionhistory", "releasehistory", "changelogs")
# Under doc/ and docs/ the name may go on ("changelog-2.x.rst", "release-notes-v1.rst").
DOC_PREFIXES = ("changelog", "changes", "releasenotes", "whatsnew", "history", "versionhistory")
EXTENSIONS = ("", ".md", ".rst", ".txt", ".markdown")
# Documentation trees; "sites" is where invoke-style projects keep their website and docs (sites/www, sites/docs).
DOC_FOLDERS = ("doc", "docs", "documentation", "sites", "site", "website")
MAX_DOC_DEPTH = 3  # folders from the top, doc/ itself counted: doc/en/changelog.rst, doc/source/whatsnew/1.2.rst
# Folders holding one file per release (or per series), named by its version.
RELEASE_FOLDERS = ("changelog", "changelogs", "changes", "history", "news", "releases", "release",
                   "releasenotes", "whatsnew", "versionhistory")
# Towncrier fragments wait in these until a release is cut; they are not release notes.
FRAGMENT_FOLDERS = ("changelog.d", "changes.d", "news.d", "newsfragments", "fragments", "unreleased")
# "1.2", "v1.2.3", "release-1.2", "changes_2.0.0rc1", "Django-4.2": an optional word, then a dotted version.
_VERSION_STEM = re.compile(r"^(?:[a-z][a-z_-]*?[-_ ]?)?v?(\d+(?:\.\d+)+[a-z0-9.+-]*)$", re.IGNORECASE)
_NOTES_SUFFIX = re.compile(r"[-_ ](?:release[-_ ]?)?(?:notes|changelog|changes|whatsnew)$", re.IGNORECASE)
# Stubs that pull the real text in: RST/Sphinx include, MyST include, pymdownx snippets.
_INCLUDE = re.compile(
    r"^\s*(?:\.\.\s+include::\s*(?P<rst>\S+)"
    r"|(?:`{3,}|:{3,})\s*\{include\}\s*(?P<myst>\S+)"
    r"|--8<--\s+[\"'](?P<snippet>[^\"']+)[\"'])",
    re.MULTILINE,
)


def _norm(name: str) -> str:
    return re.sub(r"[-_. ]+", "", name.lower())


def _split_ext(filename: str) -> tuple[str, str] | None:
    """(stem, extension) when the extension is one changelogs use, else None."""
    stem, dot, ext = filename.rpartition(".")
    if dot and stem and f".{ext.lower()}" in EXTENSIONS:
        return stem, f".{ext.lower()}"
    if "." not in filename:
        return filename, ""
    return None


def _in_fragment_folder(folders: list[str]) -> bool:
    return any(f.lower() in FRAGMENT_FOLDERS or f.lower().endswith(".d") for f in folders)


def _where(folders: list[str]) -> int | None:
    """0 for the top folder, 1 inside doc/ or docs/ (not too deep), None elsewhere."""
    if not folders:
        return 0
    if folders[0].lower() in DOC_FOLDERS and len(folders) <= MAX_DOC_DEPTH:
        return 1
    return None


_SPLIT_TOKEN = re.compile(r"^(?:\d{4}|v?\d+(?:\.(?:\d+|x))*)[-_. ]|[-_. ](?:\d{4}|v?\d+(?:\.(?:\d+|x))*)$", re.I)


def file_rank(path: str) -> tuple[int, int, int, int, int, str] | None:
    """Sort key of a single-file changelog candidate (smaller is better), or None when ``path`` is not one."""
    *folders, filename = path.split("/")
    where = _where(folders)
    split = _split_ext(filename)
    if where is None or split is None or _in_fragment_folder(folders):
        return None
    stem = _norm(split[0])
    # under doc/, notes split by year or series: "2023-news.rst", "changelog-2.x.md" rank after the main file
    dated = 0
    if where == 1 and stem not in CHANGELOG_NAMES:
        bare = _norm(_SPLIT_TOKEN.sub("", split[0]))
        if bare in CHANGELOG_NAMES:
            stem, dated = bare, 1
    if stem in CHANGELOG_NAMES:
        name_rank = CHANGELOG_NAMES.index(stem)
    elif where == 1 and stem.startswith(DOC_PREFIXES):
        name_rank = len(CHANGELOG_NAMES) + next(i for i, p in enumerate(DOC_PREFIXES) if stem.startswith(p))
    else:
        return None
    ext_rank = (".md", ".rst", ".markdown", ".txt", "").index(split[1])
    return (where, len(folders), name_rank, dated, ext_rank, path)


def release_file_version(path: str) -> Version | None:
    """The version a per-release file is named after (``docs/changelog/1.2.rst`` -> 1.2), or None when
    ``path`` does not sit in a per-release folder under a version name (towncrier fragments such as
    ``123.bugfix.rst`` never match: their names are not versions)."""
    *folders, filename = path.split("/")
    if not folders or _in_fragment_folder(folders) or _norm(folders[-1]) not in RELEASE_FOLDERS:
        return None
    if not (len(folders) == 1 or _where(folders) == 1):
        return None
    split = _split_ext(filename)
    if split is None:
        return None
    # "1.26.0-notes", "2.0_release_notes", "3.1-changelog": the word after the version names the kind of file
    stem = _NOTES_SUFFIX.sub("", split[0])
    found = _VERSION_STEM.match(stem)
    if found is None:
        return None
    if len(found.group(1)) > MAX_VERSION_CHARS:
        return None
    try:
        return Version(found.group(1))
    except ValueError:  # InvalidVersion, or a number part too long to convert
        return None


_TITLE_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+)")


def titled_by_version(text: str, path: str, version: Version) -> bool:
    """Whether a per-release file's own title names the file's version ("NumPy 2.5.5 Release Notes")."""
    title = document_title(text, path)
    if title is None:
        return False
    for token in _TITLE_VERSION.findall(title[0]):
        try:
            if Version(token) == version:
                return True
        except ValueError:
            continue
    return False


def is_candidate_member(path: str) -> bool:
    """Whether an sdist member (relative to its top folder) is worth reading as a possible changelog."""
    return path == _PKG_INFO or file_rank(path) is not None or release_file_version(path) is not None


# Terminal escape sequences (CSI such as colours and cursor moves, OSC such as window titles and links), then
# any other C0/C1 control character but newline and tab: upstream text must not drive a terminal.
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]+")


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs are kept; a
    carriage return goes too, so normalize line ends first)."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def decode_text(data: bytes) -> str:
    """Text of a member: UTF-8 (a BOM dropped), Latin-1 for old files that are not; newlines as ``\\n``;
    control characters (terminal escapes, NUL...) other than newline and tab removed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return strip_controls(text.replace("\r\n", "\n").replace("\r", "\n"))


# -- the archive -------------------------------------------------------------------------------------


class ArchiveError(ValueError):
    """The bytes are not a readable tar or zip archive."""


def safe_member_path(name: str) -> str | None:
    """The member name as a clean relative path, or None when it could escape (the checks of tarfile's
    ``data`` filter that concern names: absolute paths, drive letters, ``..``, backslashes, NUL)."""
    if not name or "\\" in name or "\0" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


@dataclass
class _Entry:
    """One regular file: where it is in the archive, how big it says it is, and its bytes once read."""

    key: object  # the TarInfo / ZipInfo, to read it again
    size: int
    data: bytes | None = None
    tried: bool = False  # read once already (a zip header may understate the size): no second pass for it


@dataclass
class SafeArchive:
    """A read-only view of an sdist held in memory: regular files only, paths relative to the top folder.

    Nothing is ever extracted to disk; a member is read only when asked for, and never past
    ``max_member_bytes`` (a bigger member is treated as absent). Links, devices, directories and members
    whose names could escape the top folder are left out entirely.
    """

    data: bytes = field(repr=False)
    kind: str  # "tar" or "zip"
    top: str
    max_member_bytes: int
    entries: dict[str, _Entry] = field(default_factory=dict, repr=False)
    read_budget: int = MAX_TOTAL_TEXT_BYTES

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self.entries)

    @classmethod
    def open(
        cls, data: bytes, *, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
        wanted: Callable[[str], bool] = lambda path: False,
    ) -> SafeArchive:
        """List the archive and, in the same pass, read the members ``wanted`` accepts; raises ``ArchiveError``."""
        kind = "zip" if data[:4] == b"PK\x03\x04" else "tar"
        by_top: dict[str, dict[str, _Entry]] = {}
        budget = MAX_TOTAL_TEXT_BYTES
        try:
            scan = cls._scan_zip(data) if kind == "zip" else cls._scan_tar(data)
            for path, key, size, read in scan:
                top, _, rel = path.partition("/")
                if not rel:
                    continue  # a file beside the top folder is not part of the sdist
                entry = _Entry(key, size)
                # A tar is read front to back, so wanted members are read while passing by.
                if size <= min(max_member_bytes, budget) and wanted(rel):
                    entry.data, entry.tried = read(max_member_bytes), True
                    budget -= len(entry.data or b"")
                by_top.setdefault(top, {})[rel] = entry
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError,
                NotImplementedError, RuntimeError, ValueError) as exc:
            if not by_top:
                raise ArchiveError(f"not a readable sdist archive ({type(exc).__name__})") from None
            # a truncated archive: keep what was read before the damage
        if not by_top:
            raise ArchiveError("the archive holds no files")
        # The top folder is the one holding PKG-INFO (name-version/PKG-INFO); else the fullest one.
        top = next((t for t, files in by_top.items() if _PKG_INFO in files), None)
        if top is None:
            top = max(by_top, key=lambda t: len(by_top[t]))
        return cls(data=data, kind=kind, top=top, max_member_bytes=max_member_bytes, entries=by_top[top],
                   read_budget=budget)

    @staticmethod
    def _scan_tar(data: bytes) -> Iterator[tuple[str, object, int, Callable[[int], bytes | None]]]:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            members = unpacked = 0
            while (member := tf.next()) is not None:
                members += 1
                unpacked += max(member.size, 0)
                if members > MAX_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
                    return
                path = safe_member_path(member.name)
                # isreg(): regular files only; symlinks, hard links, devices and FIFOs are left out.
                if path is None or not member.isreg():
                    continue

                def read(cap: int, member: tarfile.TarInfo = member) -> bytes | None:
                    handle = tf.extractfile(member)
                    if handle is None:
                        return None
                    body = handle.read(cap + 1)
                    return body if len(body) <= cap else None

                yield path, member, member.size, read

    @staticmethod
    def _scan_zip(data: bytes) -> Iterator[tuple[str, object, int, Callable[[int], bytes | None]]]:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                infos = infos[:MAX_MEMBERS]
            for info in infos:
                path = safe_member_path(info.filename)
                mode = info.external_attr >> 16
                # A file type in the Unix attributes, when there is one, must be "regular file" (zip can
                # store symlinks too); encrypted members (flag bit 0) cannot be read anyway.
                kind = stat.S_IFMT(mode)
                if path is None or info.is_dir() or (kind and kind != stat.S_IFREG) or info.flag_bits & 0x1:
                    continue

                def read(cap: int, info: zipfile.ZipInfo = info) -> bytes | None:
                    with zf.open(info) as handle:
                        body = handle.read(cap + 1)  # the header's size may lie; the cap holds anyway
                    return body if len(body) <= cap else None

                yield path, info, info.file_size, read

    def read(self, path: str) -> bytes | None:
        """A member's bytes (reading it now if the first pass did not), or None if absent or too big."""
        entry = self.entries.get(path)
        if entry is None or entry.size > self.max_member_bytes:
            return None
        if entry.data is None and not entry.tried:
            self.read_many([path])
        return entry.data

    def read_many(self, paths: Iterable[str]) -> None:
        """Read several members in one more pass over the archive (a tar cannot seek back cheaply)."""
        todo = {p for p in paths if p in self.entries and not self.entries[p].tried
                and self.entries[p].size <= self.max_member_bytes}
        if not todo:
            return
        try:
            scan = self._scan_zip(self.data) if self.kind == "zip" else self._scan_tar(self.data)
            for path, _key, size, read in scan:
                top, _, rel = path.partition("/")
                if top != self.top or rel not in todo or size > self.read_budget:
                    continue
                data = read(self.max_member_bytes)
                self.entries[rel].data, self.entries[rel].tried = data, True
                self.read_budget -= len(data or b"")
                todo.discard(rel)
                if not todo:
                    return
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError,
                NotImplementedError, RuntimeError, ValueError):
            return

    def text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else decode_text(data)


# -- the per-run cache shared by the sdist and description sources ----------------------------------


class _Downloader(Protocol):
    def download(self, file: DistributionFile, *, max_bytes: int) -> bytes: ...


class SdistCache:
    """Opened sdists for one run, so the sdist and description sources download and scan each file once.

    Keeps the few most recent archives in memory (the sources of one package ask back to back); the
    index client's disk cache makes the next run's downloads free. A failed download is remembered and
    raised again rather than retried.
    """

    def __init__(
        self, client: _Downloader, *, max_bytes: int = DEFAULT_MAX_BYTES,
        max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES, keep: int = 4,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.max_member_bytes = max_member_bytes
        self.keep = keep
        self._archives: OrderedDict[str, SafeArchive | PackageIndexError | None] = OrderedDict()

    def archive(self, file: DistributionFile) -> SafeArchive | None:
        """The sdist opened (candidates and PKG-INFO already read), None when it is not a readable archive;
        raises ``PackageIndexError`` when it cannot be downloaded."""
        if file.url in self._archives:
            self._archives.move_to_end(file.url)
            found = self._archives[file.url]
        else:
            try:
                data = self.client.download(file, max_bytes=self.max_bytes)
                found = SafeArchive.open(data, max_member_bytes=self.max_member_bytes, wanted=is_candidate_member)
            except PackageIndexError as exc:
                found = exc
            except ArchiveError:
                found = None
            self._archives[file.url] = found
            while len(self._archives) > self.keep:
                self._archives.popitem(last=False)
        if isinstance(found, PackageIndexError):
            raise found
        return found


# -- choosing the sdists ------------------------------------------------------------------------------


def _archive_rank(file: DistributionFile) -> tuple[bool, int]:
    lower = file.filename.lower()
    kind = 0 if lower.endswith((".tar.gz", ".tgz")) else 1 if lower.endswith(".zip") else 2
    return (file.yanked, kind)


def sdist_for(page: ProjectPage, version: Version) -> DistributionFile | None:
    """The sdist of ``version`` on the page: not yanked if possible, ``.tar.gz`` before ``.zip`` before others."""
    files = [f for f in page.files if f.version == version and not f.filename.lower().endswith(".whl")]
    return min(files, key=_archive_rank) if files else None


def newest_sdist_after(page: ProjectPage, version: Version) -> DistributionFile | None:
    """The sdist of the newest release after ``version`` that has one (finals before pre-releases, yanked
    releases left out), or None."""
    later = {f.version for f in page.files
             if f.version > version and not f.yanked and not f.filename.lower().endswith(".whl")}
    if not later:
        return None
    finals = [v for v in later if not v.is_prerelease]
    return sdist_for(page, max(finals or later))


# -- the source ---------------------------------------------------------------------------------------


def included_paths(text: str, path: str) -> list[str]:
    """Files a stub pulls in (``.. include::``, MyST ``{include}``, ``--8<--`` snippets), as member paths:
    relative to the stub's folder first, then to the top folder."""
    folder = path.rpartition("/")[0]
    found: list[str] = []
    for match in _INCLUDE.finditer(text):
        target = match.group("rst") or match.group("myst") or match.group("snippet") or ""
        target = target.strip().lstrip("/") if target.startswith("/") else target.strip()
        for base in (folder, ""):
            joined = safe_member_path(_collapse(f"{base}/{target}" if base else target))
            if joined and joined not in found:
                found.append(joined)
    return found


def _collapse(path: str) -> str:
    """``a/b/../c`` -> ``a/c``; "" (no path) when ``..`` would climb above the top folder."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return ""
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


class SdistSource:
    """A changelog shipped inside the sdist: the new version's first, then the newest release's (changelogs
    move between releases). Candidates are judged by whether they hold release headings."""

    kind = "sdist"

    def __init__(
        self, client: _Downloader, page: ProjectPage, *, max_bytes: int = DEFAULT_MAX_BYTES,
        max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES, cache: SdistCache | None = None,
    ) -> None:
        """``cache`` is shared with the ``DescriptionSource`` of the same run; when given, its caps apply."""
        self.client = client
        self.page = page
        self.cache = cache or SdistCache(client, max_bytes=max_bytes, max_member_bytes=max_member_bytes)

    def fetch(self, request: ChangelogRequest) -> list[SourceText]:
        files = [f for f in (sdist_for(self.page, request.new), newest_sdist_after(self.page, request.new))
                 if f is not None]
        failure: PackageIndexError | None = None
        for file in files:
            try:
                archive = self.cache.archive(file)
            except PackageIndexError as exc:
                # The next sdist may still have it; the failure is reported only if none does.
                failure = failure or exc
                continue
            if archive is None:
                continue
            found = self.candidates(archive, redact_url(file.url))
            if found:
                return found
        if failure is not None:
            raise failure
        return []

    def candidates(self, archive: SafeArchive, url: str) -> list[SourceText]:
        """Every changelog in one opened sdist, best first: single files, then per-release folders."""
        ranked: list[tuple[tuple[object, ...], SourceText]] = []
        taken: set[str] = set()  # a file found both by name and through a stub's include is offered once
        singles = sorted((rank, path) for path in archive.paths if (rank := file_rank(path)) is not None)
        for rank, path in singles:
            text = archive.text(path)
            if text is None or path in taken:
                continue
            if looks_like_changelog(text, path, named=True):  # found by its name: one release heading is enough
                ranked.append(((0, rank), SourceText(ChangelogOrigin("sdist", url=url, path=path), {path: text})))
                taken.add(path)
                continue
            # A stub: follow what it includes, if the sdist ships it (often it does not).
            targets = [t for t in included_paths(text, path) if t in archive.entries]
            archive.read_many(targets)
            for target in targets:
                included = archive.text(target)
                if target not in taken and included is not None and looks_like_changelog(
                        included, target, named=file_rank(target) is not None):
                    origin = ChangelogOrigin("sdist", url=url, path=target)
                    ranked.append(((0, rank), SourceText(origin, {target: included})))
                    taken.add(target)
                    break
        for order, (folder, texts) in enumerate(self._release_folders(archive)):
            ranked.append(((1, order), SourceText(ChangelogOrigin("sdist", url=url, path=folder), texts)))
        return [found for _key, found in sorted(ranked, key=lambda item: item[0])]

    def _release_folders(self, archive: SafeArchive) -> list[tuple[str, dict[str, str]]]:
        """Per-release folders with at least two version-named files, newest version first; the file names
        are the release headings, so a folder counts even when its files only carry prose titles."""
        folders: dict[str, list[tuple[Version, str]]] = {}
        for path in archive.paths:
            version = release_file_version(path)
            if version is not None:
                folders.setdefault(path.rpartition("/")[0], []).append((version, path))
        found: list[tuple[float, int, str, dict[str, str]]] = []
        for folder in folders:
            entries = sorted(folders[folder], reverse=True)
            if len(entries) < 2:
                continue
            archive.read_many(path for _v, path in entries)
            texts = {path: text for _v, path in entries if (text := archive.text(path)) is not None and text.strip()}
            if len(texts) >= 2:
                titled = sum(titled_by_version(texts[p], p, v) for v, p in entries if p in texts) / len(texts)
                found.append((-titled, folder.count("/"), folder, texts))
        # release notes (each file titled with its version) before listings whose files open with a generic title
        # ("Contributors"), then the shallower folder
        return [(folder, texts) for _t, _d, folder, texts in sorted(found, key=lambda f: f[:3])]
