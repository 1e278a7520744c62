"""PEP 508 pieces both requirement parsers share: where a specifier is written, what a URL points at, its name."""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import unquote, urlsplit

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from jobs.tools.redact import redact

VCS = "VCS requirement"
LOCAL_PATH = "local path requirement"
DIRECT_URL = "direct URL requirement"
EDITABLE = "editable requirement"

# pip's archive extensions (pip._internal.utils.filetypes), longest first so ".tar.gz" is cut whole.
ARCHIVES = (".tar.lzma", ".tar.bz2", ".tar.gz", ".tar.xz", ".tar.lz", ".tbz", ".tgz", ".tlz", ".txz", ".tar",
            ".whl", ".zip")
_VCS_NAMES = ("git", "hg", "svn", "bzr")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_SUBDIRECTORY_RE = re.compile(r"[#&]subdirectory=([^&]*)")
_PROJECT_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# Only finds the name and extras, so the specifier after them can be located; packaging does the parsing.
_HEAD_RE = re.compile(r"\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?P<extras>\[[^\]]*\])?")


def first_line(exc: Exception) -> str:
    """An exception's message without the caret diagram packaging puts on the lines below it."""
    return (str(exc).splitlines() or [""])[0]


def specifier_span(text: str, req: Requirement) -> tuple[int, int] | None:
    """Where the version specifier of ``req`` is written in ``text``, the string it was parsed from.

    The specifier sits after the name and ``[extras]`` and before a ``;`` marker, maybe inside the old
    ``name (>=1.0)`` parentheses; the span leaves out spaces and parentheses. An unversioned requirement
    gets the empty span right after its name/extras, where a specifier would go. None for a URL
    requirement, or when the text found is not the specifier packaging read.
    """
    head = _HEAD_RE.match(text)
    if req.url or not head or head.group("name") != req.name:
        return None
    start = head.end()
    end = text.find(";", start)  # a specifier never holds ";", so the first one starts the marker
    end = len(text) if end < 0 else end
    if not text[start:end].strip():
        at = head.end("extras") if head.group("extras") else head.end("name")
        return None if req.specifier else (at, at)
    start, end = _strip(text, start, end)
    if text[start] == "(" and text[end - 1] == ")":
        start, end = _strip(text, start + 1, end - 1)
    try:
        return (start, end) if SpecifierSet(text[start:end]) == req.specifier else None
    except InvalidSpecifier:
        return None


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """``start``/``end`` moved inwards past spaces."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def link_scheme(link: str) -> str:
    """The URL scheme of ``link``, lower case; "" for a path (a Windows drive letter comes back as one letter)."""
    match = _SCHEME_RE.match(link)
    return match.group(1).lower() if match else ""


def is_vcs_scheme(scheme: str) -> bool:
    """pip's VCS schemes: ``git``, ``svn``, and ``git+``/``hg+``/``svn+``/``bzr+`` anything."""
    return scheme in ("git", "svn") or ("+" in scheme and scheme.partition("+")[0] in _VCS_NAMES)


def link_reason(link: str, editable: bool = False) -> str:
    """Why a requirement given as a URL or path is not checked: editable, VCS, local path or direct URL."""
    if editable:
        return EDITABLE
    scheme = link_scheme(link)
    if is_vcs_scheme(scheme):
        return VCS
    if scheme in ("", "file") or len(scheme) == 1:  # no scheme, or a Windows drive letter
        return LOCAL_PATH
    return DIRECT_URL


def link_names(link: str, name: str | None = None, secrets: Iterable[str] = ()) -> tuple[str, str]:
    """``(name, raw_name)`` of a requirement given as a URL or path, ``name`` being one written as ``name @``.

    A name written in the requirement (``name @``, ``#egg=``) or a wheel's filename names the project.
    Otherwise the name is a guess from an sdist filename or the last path segment (``.git``, archive
    extensions and ``@revision`` dropped), and ``raw_name`` is the link with credentials redacted. With
    nothing to guess from (``.``), both are the redacted link.
    """
    written = name or _egg(link) or _wheel_name(link)
    if written:
        return canonicalize_name(written), written
    shown = redact(link, secrets)
    guessed = _guess_name(link)
    return (canonicalize_name(guessed) if guessed else shown), shown


def _egg(link: str) -> str | None:
    egg = _EGG_RE.search(link)
    name = egg.group(1).split("[")[0] if egg else ""
    return name if _PROJECT_NAME_RE.fullmatch(name) else None


def _last_segment(link: str) -> str:
    """The last non-empty path segment of a URL or path, percent-encoding undone."""
    # A one-letter scheme is a Windows drive, so that link is a path; its "#" may still start pip's fragment.
    path = urlsplit(link).path if len(link_scheme(link)) > 1 else link.split("#", 1)[0]
    return unquote(next((part for part in reversed(path.replace("\\", "/").split("/")) if part), ""))


def _wheel_name(link: str) -> str | None:
    filename = _last_segment(link)
    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return filename.split("-", 1)[0]


def _guess_name(link: str) -> str | None:
    """A project name from a subdirectory, sdist filename or path segment; None when none is plausible."""
    subdirectory = _SUBDIRECTORY_RE.search(link)
    segment = _last_segment(subdirectory.group(1)) if subdirectory else _last_segment(link)
    segment = segment.split("@", 1)[0]  # a VCS revision: .../repo.git@v1
    segment = re.sub(r"\[[^\]]*\]$", "", segment)  # extras on a path: ./pkg[dev]
    lower = segment.lower()
    for suffix in (".git", *ARCHIVES):
        if lower.endswith(suffix):
            segment = segment[: -len(suffix)]
            break
    # An sdist stem is name-version; the version starts after the first "-" that leaves a valid version.
    for i, char in enumerate(segment):
        if char == "-" and _is_version(segment[i + 1:]):
            segment = segment[:i]
            break
    return segment if _PROJECT_NAME_RE.fullmatch(segment) else None


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True
