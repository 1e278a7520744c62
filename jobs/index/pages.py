"""Read one project page of the simple repository API: PEP 691 JSON, or PEP 503 HTML as fallback."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from jobs.models import DistributionFile

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
# pip's own Accept header: JSON preferred, HTML understood, legacy text/html last.
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.1, text/html;q=0.01"


class PageError(ValueError):
    """The page is not a valid simple-API response."""


def file_version(filename: str) -> Version | None:
    """The version a distribution file carries in its name, or None for files nightcrew does not read."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None  # eggs, installers and other legacy files


def _make_file(
    filename: str, url: str, base_url: str, requires_python: str | None, yanked: object, hashes: dict[str, str]
) -> DistributionFile | None:
    version = file_version(filename)
    if version is None:
        return None
    return DistributionFile(
        filename=filename,
        # PEP 503 / 691 allow relative URLs: they are relative to the page's own (final) URL.
        url=urljoin(base_url, url),
        version=version,
        requires_python=requires_python or None,
        yanked=yanked is not False and yanked is not None,
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        hashes=tuple(sorted(hashes.items())),
    )


def parse_json(body: bytes, base_url: str) -> tuple[DistributionFile, ...]:
    try:
        data = json.loads(body)
        entries = data["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PageError(f"not a PEP 691 JSON page ({type(exc).__name__})") from None
    if not isinstance(entries, list):
        raise PageError("not a PEP 691 JSON page ('files' is not a list)")
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


def parse_html(body: bytes, base_url: str) -> tuple[DistributionFile, ...]:
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    base = urljoin(base_url, parser.base) if parser.base else base_url
    files = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(href)
        filename = text or url.rsplit("/", 1)[-1]
        hashes = {}
        if "=" in fragment:
            algo, _, digest = fragment.partition("=")
            hashes[algo] = digest
        yanked: object = False
        if "data-yanked" in attrs:
            yanked = attrs["data-yanked"] or True
        made = _make_file(filename, url, base, attrs.get("data-requires-python"), yanked, hashes)
        if made:
            files.append(made)
    return tuple(files)


def parse_page(body: bytes, content_type: str, base_url: str) -> tuple[DistributionFile, ...]:
    """The files listed on a project page, by the response's content type."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE or kind == "application/json":
        return parse_json(body, base_url)
    if kind in (HTML_TYPE, "text/html", ""):
        return parse_html(body, base_url)
    raise PageError(f"unexpected content type {kind!r}")
