"""Read one project page of the simple repository API: PEP 691 JSON, or PEP 503 HTML as fallback."""

from __future__ import annotations

import json
from datetime import datetime, timezone
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from jobs.models import DistributionFile

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
# pip's own Accept header: JSON preferred, HTML understood, legacy text/html last.
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.1, text/html;q=0.01"


# Every archive pip installs an sdist from (pip._internal.utils.filetypes), longest first so ".tar.gz" is cut whole.
_SDIST_EXTENSIONS = (".tar.lzma", ".tar.bz2", ".tar.gz", ".tar.xz", ".tar.lz", ".tbz", ".tgz", ".tlz", ".txz",
                     ".tar", ".zip")
# pip's Link hash fragment: only these algorithms, lower-case hex (so "#egg=x" is not a hash).
_HASH_FRAGMENT = re.compile(r"(sha1|sha224|sha384|sha256|sha512|md5)=([a-f0-9]+)")


class PageError(ValueError):
    """The page is not a valid simple-API response."""


def file_version(filename: str, project: str | None = None) -> Version | None:
    """The version a distribution file carries in its name, or None for files nightcrew does not read.

    Wheels follow the wheel name rules. An sdist may be any archive pip installs, legacy ones included
    (``.tar.bz2``, ``.tgz``, ``.tar.xz``, ``.tar``, any letter case), and is split as pip splits it: the
    version starts after the ``-`` whose prefix is ``project``'s normalized name (sdist names are not
    normalized, and versions may hold ``-``). Without a project name, or when no prefix matches, the
    version is what follows the last ``-``, as packaging's ``parse_sdist_filename`` reads it.
    """
    lower = filename.lower()
    if lower.endswith(".whl"):
        try:
            return parse_wheel_filename(filename)[1]
        except InvalidWheelFilename:
            return None
    extension = next((ext for ext in _SDIST_EXTENSIONS if lower.endswith(ext)), None)
    if extension is None:
        return None  # eggs, installers and other files pip does not install from
    stem = filename[: -len(extension)]
    try:
        return Version(_sdist_version_text(stem, project))
    except InvalidVersion:
        return None


def _sdist_version_text(stem: str, project: str | None) -> str:
    if project:
        wanted = canonicalize_name(project)
        for at, char in enumerate(stem):
            if char == "-" and canonicalize_name(stem[:at]) == wanted:
                return stem[at + 1:]
    name, dash, version = stem.rpartition("-")
    return version if dash and name else ""


def _upload_time(value: object) -> datetime | None:
    """PEP 700's ``upload-time``: ISO 8601 in UTC (``2024-01-02T03:04:05.123456Z``); anything else is unknown."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _make_file(
    filename: str, url: str, base_url: str, requires_python: str | None, yanked: object, hashes: dict[str, str],
    project: str | None, upload_time: datetime | None = None, provenance: str | None = None,
) -> DistributionFile | None:
    version = file_version(filename, project)
    if version is None:
        return None
    return DistributionFile(
        filename=filename,
        # PEP 503 / 691 allow relative URLs: they are relative to the page's own (final) URL.
        url=urljoin(base_url, url),
        version=version,
        requires_python=requires_python or None,
        # PEP 691: true, or a reason string (pip counts "" as yanked too); anything else is not a yank
        yanked=yanked is True or isinstance(yanked, str),
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        hashes=tuple(sorted(hashes.items())),
        upload_time=upload_time,
        provenance=urljoin(base_url, provenance) if provenance else None,
    )


def parse_json(body: bytes, base_url: str, project: str | None = None) -> tuple[DistributionFile, ...]:
    """The files of a PEP 691 JSON page; ``project`` defaults to the page's own ``name``."""
    try:
        data = json.loads(body)
        entries = data["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PageError(f"not a PEP 691 JSON page ({type(exc).__name__})") from None
    if not isinstance(entries, list):
        raise PageError("not a PEP 691 JSON page ('files' is not a list)")
    if project is None and isinstance(data.get("name"), str):
        project = data["name"]
    files = []
    for entry in entries:
        # A hostile or broken index must not crash the run: entries of the wrong shape are passed over.
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str) or not isinstance(
                entry.get("url"), str):
            continue
        hashes = entry.get("hashes")
        requires = entry.get("requires-python")
        made = _make_file(
            entry["filename"], entry["url"], base_url, requires if isinstance(requires, str) else None,
            entry.get("yanked", False),
            {k: v for k, v in hashes.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(hashes, dict) else {},
            project,
            _upload_time(entry.get("upload-time")),
            entry["provenance"] if isinstance(entry.get("provenance"), str) else None,
        )
        if made:
            files.append(made)
    return tuple(files)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.base: str | None = None
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def parse_html(body: bytes, base_url: str, project: str | None = None) -> tuple[DistributionFile, ...]:
    """The files of a PEP 503 HTML page; ``project`` defaults to the last segment of the page's URL."""
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    base = urljoin(base_url, parser.base) if parser.base else base_url
    # An HTML page does not name its project; the page URL usually does (only a hint: see file_version).
    project = project or unquote(urlsplit(base_url).path.rstrip("/").rpartition("/")[2]) or None
    files = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(href)
        filename = text or url.rsplit("/", 1)[-1]
        found = _HASH_FRAGMENT.search(fragment)
        hashes = {found.group(1): found.group(2)} if found else {}
        yanked: object = False
        if "data-yanked" in attrs:
            yanked = attrs["data-yanked"] or True
        made = _make_file(filename, url, base, attrs.get("data-requires-python"), yanked, hashes, project)
        if made:
            files.append(made)
    return tuple(files)


def parse_page(
    body: bytes, content_type: str, base_url: str, project: str | None = None
) -> tuple[DistributionFile, ...]:
    """The files listed on a project page, by the response's content type."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE or kind == "application/json":
        return parse_json(body, base_url, project)
    if kind in (HTML_TYPE, "text/html", ""):
        return parse_html(body, base_url, project)
    raise PageError(f"unexpected content type {kind!r}")
