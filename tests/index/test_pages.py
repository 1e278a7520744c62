"""Unit tests for reading simple-API project pages: PEP 691 JSON, PEP 503 HTML, and file names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from packaging.version import Version

from jobs.index.pages import JSON_TYPE, PageError, file_version, parse_html, parse_json, parse_page
from jobs.models import DistributionFile

PAGE = "https://index.example/simple/demo-pkg/"


def json_page(files: Any, name: str = "demo-pkg") -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()


def one(files: tuple[DistributionFile, ...]) -> DistributionFile:
    (only,) = files
    return only


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("filename", "version"),
    [
        ("demo_pkg-1.0-py3-none-any.whl", "1.0"),
        ("demo-pkg-1.0.tar.gz", "1.0"),
        ("demo-pkg-1.0.zip", "1.0"),
        ("demo-pkg-0.9.tar.bz2", "0.9"),
        ("demo-pkg-0.8.tgz", "0.8"),
        ("demo-pkg-0.7.tar.xz", "0.7"),
        ("demo-pkg-0.6.tar", "0.6"),
        ("Demo_Pkg-0.5.ZIP", "0.5"),
        ("demo-pkg-0.4.tbz", "0.4"),
        ("Demo.Pkg-2.0-rc1.tar.gz", "2.0rc1"),  # pip: the name's dash, then a version that holds one
    ],
)
def test_file_version_reads_wheels_and_every_sdist_archive_pip_installs(filename: str, version: str) -> None:
    assert file_version(filename, "demo-pkg") == Version(version)


@pytest.mark.parametrize(
    ("filename", "version"),
    [("demo-1.0.tar.bz2", "1.0"), ("two-part-name-3.1.tgz", "3.1"), ("plain-1.0.TAR.GZ", "1.0")],
)
def test_file_version_without_a_project_name_splits_at_the_last_dash(filename: str, version: str) -> None:
    assert file_version(filename) == Version(version)


@pytest.mark.parametrize(
    "filename",
    ["demo_pkg-1.0-py2.7.egg", "demo-pkg-1.0.win32.exe", "demo-pkg-1.0.msi", "demo-pkg.tar.gz", "demo-pkg-.zip",
     "demo-pkg-not.a.version.tar.gz", "bad-wheel.whl", "-1.0.tar.gz", "README"],
)
def test_file_version_is_none_for_files_pip_does_not_install_or_cannot_read(filename: str) -> None:
    assert file_version(filename, "demo-pkg") is None


# --------------------------------------------------------------------------- PEP 691 JSON


def test_json_page_relative_urls_hashes_requires_python_and_yanked() -> None:
    files = [
        {"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "../../files/demo_pkg-1.0-py3-none-any.whl",
         "hashes": {"sha256": "aa11"}, "requires-python": ">=3.8", "yanked": False},
        {"filename": "demo-pkg-1.1.tar.gz", "url": "https://cdn.example/demo-pkg-1.1.tar.gz",
         "hashes": {"sha512": "cc", "sha256": "bb"}, "yanked": True},
        {"filename": "demo-pkg-1.2.tar.gz", "url": "/files/demo-pkg-1.2.tar.gz", "hashes": {},
         "yanked": "broken build", "requires-python": ""},
        {"filename": "demo-pkg-0.1.tar.bz2", "url": "demo-pkg-0.1.tar.bz2", "hashes": {}},
    ]
    wheel, sdist, reasoned, legacy = parse_json(json_page(files), PAGE)
    assert (wheel.url, wheel.version, wheel.requires_python, wheel.yanked, wheel.hashes) == (
        "https://index.example/files/demo_pkg-1.0-py3-none-any.whl", Version("1.0"), ">=3.8", False,
        (("sha256", "aa11"),))
    assert (sdist.url, sdist.yanked, sdist.yanked_reason, sdist.hashes) == (
        "https://cdn.example/demo-pkg-1.1.tar.gz", True, None, (("sha256", "bb"), ("sha512", "cc")))
    assert (reasoned.url, reasoned.yanked, reasoned.yanked_reason, reasoned.requires_python) == (
        "https://index.example/files/demo-pkg-1.2.tar.gz", True, "broken build", None)
    assert (legacy.url, legacy.version) == (PAGE + "demo-pkg-0.1.tar.bz2", Version("0.1"))


def test_json_page_name_guides_the_sdist_split() -> None:
    files = [{"filename": "demo-pkg-2.0-1.tar.bz2", "url": "x", "hashes": {}}]
    assert one(parse_json(json_page(files), PAGE)).version == Version("2.0-1")
    assert one(parse_json(json_page(files, name="demo-pkg-2.0"), PAGE)).version == Version("1")


@pytest.mark.parametrize(
    "entry",
    [
        {"filename": "demo-pkg-1.0.tar.gz", "url": "a", "hashes": ["sha256", "aa"]},
        {"filename": "demo-pkg-1.0.tar.gz", "url": "a", "hashes": {"sha256": 5, "md5": None}},
        {"filename": "demo-pkg-1.0.tar.gz", "url": "a", "hashes": {}, "requires-python": 3.8},
        {"filename": "demo-pkg-1.0.tar.gz", "url": "a", "hashes": {}, "yanked": 1},
    ],
)
def test_malformed_fields_are_ignored_and_the_file_kept(entry: dict[str, Any]) -> None:
    made = one(parse_json(json_page([entry]), PAGE))
    assert (made.version, made.hashes, made.requires_python, made.yanked) == (Version("1.0"), (), None, False)


@pytest.mark.parametrize(
    "entry",
    [
        {"filename": 10, "url": "a", "hashes": {}},
        {"filename": "demo-pkg-1.0.tar.gz", "url": None, "hashes": {}},
        {"filename": "demo-pkg-1.0.tar.gz", "hashes": {}},
        ["demo-pkg-1.0.tar.gz"],
        "demo-pkg-1.0.tar.gz",
        None,
    ],
)
def test_malformed_entries_are_skipped(entry: Any) -> None:
    good = {"filename": "demo-pkg-2.0.tar.gz", "url": "b", "hashes": {}}
    assert [f.version for f in parse_json(json_page([entry, good]), PAGE)] == [Version("2.0")]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b"{}", b'{"files": {"a": 1}}', b'{"files": "x"}', b'{"files": null}', b'"files"',
     b"\xff\xfe"],
)
def test_a_body_that_is_not_a_json_page_is_a_page_error(body: bytes) -> None:
    with pytest.raises(PageError):
        parse_json(body, PAGE)


# --------------------------------------------------------------------------- PEP 503 HTML


HTML = b"""<!DOCTYPE html>
<html><head><title>Links for demo-pkg</title></head><body>
<a href="../../files/demo_pkg-1.0-py3-none-any.whl#sha256=aa11" data-requires-python="&gt;=3.8">
  demo_pkg-1.0-py3-none-any.whl</a><br/>
<a href="/files/demo-pkg-1.1.tar.gz#md5=00ff" data-yanked="">demo-pkg-1.1.tar.gz</a>
<a href="https://cdn.example/demo-pkg-1.2.tar.gz#egg=demo-pkg" data-yanked="bad &amp; broken">demo-pkg-1.2.tar.gz</a>
<a href="demo-pkg-0.9.tar.bz2#sha256=bb22">demo-pkg-0.9.tar.bz2</a>
<a href="demo-pkg-1.0.win32.exe">demo-pkg-1.0.win32.exe</a>
<a>no href</a>
</body></html>
"""


def test_html_page_hashes_yanked_requires_python_and_relative_urls() -> None:
    wheel, sdist, reasoned, legacy = parse_html(HTML, PAGE)
    assert (wheel.filename, wheel.url, wheel.requires_python, wheel.hashes) == (
        "demo_pkg-1.0-py3-none-any.whl", "https://index.example/files/demo_pkg-1.0-py3-none-any.whl", ">=3.8",
        (("sha256", "aa11"),))
    assert (sdist.url, sdist.yanked, sdist.yanked_reason, sdist.hashes) == (
        "https://index.example/files/demo-pkg-1.1.tar.gz", True, None, (("md5", "00ff"),))
    assert (reasoned.yanked, reasoned.yanked_reason, reasoned.hashes) == (True, "bad & broken", ())  # egg= is no hash
    assert (legacy.url, legacy.version, legacy.yanked) == (PAGE + "demo-pkg-0.9.tar.bz2", Version("0.9"), False)


def test_html_base_href_is_where_relative_links_resolve() -> None:
    body = b'<html><head><base href="https://mirror.example/pkgs/"></head>' \
           b'<a href="demo-pkg-1.0.tar.gz">demo-pkg-1.0.tar.gz</a><a href="/x/demo-pkg-2.0.zip">demo-pkg-2.0.zip</a>'
    assert [f.url for f in parse_html(body, PAGE)] == [
        "https://mirror.example/pkgs/demo-pkg-1.0.tar.gz", "https://mirror.example/x/demo-pkg-2.0.zip"]


def test_html_page_url_names_the_project_for_the_sdist_split() -> None:
    body = b'<a href="demo-pkg-2.0-1.tgz">demo-pkg-2.0-1.tgz</a>'
    assert one(parse_html(body, PAGE)).version == Version("2.0-1")
    assert one(parse_html(body, "file:///srv/index/")).version == Version("1")  # no name: the last dash


def test_html_anchor_without_text_uses_the_url_filename() -> None:
    made = one(parse_html(b'<a href="sub/demo-pkg-3.0.tar.xz#sha256=cc"></a>', PAGE))
    assert (made.filename, made.version, made.hashes) == ("demo-pkg-3.0.tar.xz", Version("3.0"), (("sha256", "cc"),))


def test_broken_html_never_crashes() -> None:
    assert isinstance(parse_html(b"<a href='x-1.0.tar.gz'>x-1.0.tar.gz<a href=<<<\xff\xfe</", PAGE), tuple)


# --------------------------------------------------------------------------- content types


def test_parse_page_picks_the_parser_by_content_type() -> None:
    files = [{"filename": "demo-pkg-1.0.tar.gz", "url": "a", "hashes": {}}]
    assert one(parse_page(json_page(files), f"{JSON_TYPE}; charset=utf-8", PAGE)).version == Version("1.0")
    assert one(parse_page(json_page(files), "application/json", PAGE)).version == Version("1.0")
    assert one(parse_page(b'<a href="demo-pkg-1.0.tgz">demo-pkg-1.0.tgz</a>', "text/html", PAGE)).version == Version(
        "1.0")
    with pytest.raises(PageError, match="unexpected content type 'application/xml'"):
        parse_page(b"<x/>", "application/xml", PAGE)
