"""Changelogs inside sdists served by a real loopback index: candidates, stubs, per-release folders, safety, caps."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest
from jobs.changelogs.sdist import (
    SafeArchive,
    SdistCache,
    SdistSource,
    file_rank,
    included_paths,
    release_file_version,
    safe_member_path,
)
from jobs.errors import PackageIndexError
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation
from jobs.models import ChangelogOrigin
from tests.support.distbuild import build_sdist
from tests.support.indexserver import StaticIndex

CHANGELOG_MD = """\
# Changelog

## 1.1.0 (2024-05-01)

- Added `frob()`.

## 1.0.0 (2024-01-10)

- First release.
"""

CHANGELOG_RST = """\
Changelog
=========

Version 1.1.0
-------------

- Added ``frob()``.

Version 1.0.0
-------------

- First release.
"""

STUB_MD = "# Changelog\n\nSee https://github.com/acme/acme/releases for the release notes.\n"


def client_for(index: StaticIndex, cache: Path | None) -> IndexClient:
    return IndexClient(IndexLocation(index.url, (), "test"), cache_dir=cache, timeout=5.0, retries=1,
                       backoff=0.01, workers=2)


def publish(index: StaticIndex, dists: Path, files_by_version: dict[str, dict[str, str]]) -> None:
    for version, files in files_by_version.items():
        index.add(build_sdist(dists, "acme", version, extra_files=files))


def fetch(index: StaticIndex, cache: Path | None, new: str, old: str = "1.0.0", **caps: int) -> list:
    with client_for(index, cache) as client:
        source = SdistSource(client, client.project("acme"), **caps)
        return source.fetch(ChangelogRequest("acme", Version(old), Version(new)))


def file_requests(index: StaticIndex) -> list[str]:
    return [r.path for r in index.requests if r.path.startswith("/files/")]


def test_the_new_versions_changelog_md(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.0.0": {"CHANGELOG.md": "# Changelog\n\n## 1.0.0\n\nFirst.\n"},
                                           "1.1.0": {"CHANGELOG.md": CHANGELOG_MD}})
    [found] = fetch(static_index, tmp_path / "cache", "1.1.0")
    assert found.origin == ChangelogOrigin("sdist", url=static_index.file_url("acme-1.1.0.tar.gz"),
                                           path="CHANGELOG.md")
    assert found.texts == {"CHANGELOG.md": CHANGELOG_MD}
    assert file_requests(static_index) == ["/files/acme-1.1.0.tar.gz"]


def test_a_changelog_only_under_docs(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.1.0": {"docs/changelog.rst": CHANGELOG_RST,
                                                     "docs/index.rst": "Acme\n====\n"}})
    [found] = fetch(static_index, None, "1.1.0")
    assert (found.origin.path, found.texts) == ("docs/changelog.rst", {"docs/changelog.rst": CHANGELOG_RST})


def test_a_stub_including_a_missing_file_gives_way_to_doc_en(static_index, tmp_path) -> None:
    stub = "Changelog\n=========\n\n.. include:: docs/changes.rst\n"
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGES.rst": stub, "doc/en/changelog.rst": CHANGELOG_RST,
                                                     "README.md": STUB_MD}})
    found = fetch(static_index, None, "1.1.0")
    assert [f.origin.path for f in found] == ["doc/en/changelog.rst"]


def test_a_stub_is_followed_to_the_file_it_includes(static_index, tmp_path) -> None:
    # the included file has a name no pattern would pick; the top-level stub leads to it
    stub = "Changelog\n=========\n\n.. include:: doc/full-log.rst\n"
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGES.rst": stub, "doc/full-log.rst": CHANGELOG_RST,
                                                     "docs/history.md": CHANGELOG_MD}})
    found = fetch(static_index, None, "1.1.0")
    assert [f.origin.path for f in found] == ["doc/full-log.rst", "docs/history.md"]
    assert found[0].texts == {"doc/full-log.rst": CHANGELOG_RST}


def test_a_stub_pointing_elsewhere_is_skipped(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGELOG.md": STUB_MD}})
    assert fetch(static_index, None, "1.1.0") == []


@pytest.mark.parametrize("pattern", ["docs/changelog/{v}.rst", "docs/release-notes/v{v}.md",
                                     "docs/whatsnew/{v}.rst", "doc/source/whatsnew/v{v}.rst"])
def test_a_per_release_folder_is_one_candidate_newest_first(static_index, tmp_path, pattern) -> None:
    files = {pattern.format(v=v): f"Acme {v}\n{'=' * (5 + len(v))}\n\n- Changes of {v}.\n" for v in
             ("1.0", "1.1", "1.2.0")}
    folder = pattern.rpartition("/")[0]
    files[f"{folder}/index.rst"] = "Release notes\n=============\n\n.. toctree::\n   :glob:\n\n   *\n"
    # towncrier fragments waiting for the next release are not release notes
    files["changelog.d/123.feature.md"] = "Added a thing.\n"
    files["newsfragments/45.bugfix.rst"] = "Fixed a thing.\n"
    publish(static_index, tmp_path / "d", {"1.2.0": files})
    [found] = fetch(static_index, None, "1.2.0", old="1.0")
    assert found.origin.path == folder
    assert list(found.texts) == [pattern.format(v=v) for v in ("1.2.0", "1.1", "1.0")]


def test_the_newest_release_is_tried_when_the_new_one_has_no_changelog(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.0.0": {}, "1.1.0": {"CHANGELOG.md": STUB_MD},
                                           "1.2.0": {"HISTORY.rst": CHANGELOG_RST}, "1.3.0rc1": {}})
    [found] = fetch(static_index, None, "1.1.0")
    assert found.origin == ChangelogOrigin("sdist", url=static_index.file_url("acme-1.2.0.tar.gz"),
                                           path="HISTORY.rst")
    assert file_requests(static_index) == ["/files/acme-1.1.0.tar.gz", "/files/acme-1.2.0.tar.gz"]


def test_files_are_ranked_top_level_first(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.1.0": {"docs/changelog.rst": CHANGELOG_RST, "NEWS": CHANGELOG_MD,
                                                     "CHANGES.md": CHANGELOG_MD}})
    assert [f.origin.path for f in fetch(static_index, None, "1.1.0")] == ["CHANGES.md", "NEWS",
                                                                           "docs/changelog.rst"]


def _evil_tar(path: Path) -> Path:
    """An sdist whose members try to escape: ``..``, absolute paths, links; one honest NEWS.rst."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        def add(name: str, data: bytes = b"", **attrs: object) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for key, value in attrs.items():
                setattr(info, key, value)
            tf.addfile(info, io.BytesIO(data) if data else None)

        add("evil-1.1/PKG-INFO", b"Metadata-Version: 2.1\nName: evil\nVersion: 1.1\n")
        add("evil-1.1/../CHANGELOG.md", CHANGELOG_MD.encode())
        add("evil-1.1/docs/../../escape/HISTORY.md", CHANGELOG_MD.encode())
        add("/tmp/evil-abs/CHANGELOG.md", CHANGELOG_MD.encode())
        add("evil-1.1/CHANGES.md", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        add("evil-1.1/HISTORY.rst", type=tarfile.LNKTYPE, linkname="evil-1.1/PKG-INFO")
        add("evil-1.1/docs/changelog.md", type=tarfile.FIFOTYPE)
        add("evil-1.1/NEWS.rst", CHANGELOG_RST.encode())
    path.write_bytes(buf.getvalue())
    return path


def test_escaping_and_link_members_are_ignored_and_nothing_is_written(static_index, tmp_path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    sdist = _evil_tar(tmp_path / "evil-1.1.tar.gz")
    static_index.add(sdist)
    with client_for(static_index, None) as client:
        source = SdistSource(client, client.project("evil"))
        found = source.fetch(ChangelogRequest("evil", Version("1.0"), Version("1.1")))
    assert [(f.origin.path, list(f.texts)) for f in found] == [("NEWS.rst", ["NEWS.rst"])]
    archive = SafeArchive.open(sdist.read_bytes())
    assert archive.top == "evil-1.1" and archive.paths == {"PKG-INFO", "NEWS.rst"}
    assert list(work.iterdir()) == [] and not Path("/tmp/evil-abs").exists()
    assert not (tmp_path / "escape").exists() and not (tmp_path / "CHANGELOG.md").exists()


def test_a_zip_sdist_is_read_and_its_symlinks_ignored(static_index, tmp_path) -> None:
    path = tmp_path / "acme-1.1.0.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("acme-1.1.0/PKG-INFO", "Metadata-Version: 2.1\nName: acme\nVersion: 1.1.0\n")
        link = zipfile.ZipInfo("acme-1.1.0/CHANGES.md")
        link.external_attr = 0o120777 << 16  # a symlink, as zip stores them
        zf.writestr(link, "/etc/passwd")
        zf.writestr("acme-1.1.0/../HISTORY.md", CHANGELOG_MD)
        zf.writestr("acme-1.1.0/docs/changes.md", CHANGELOG_MD)
    static_index.add(path)
    assert SafeArchive.open(path.read_bytes()).paths == {"PKG-INFO", "docs/changes.md"}
    [found] = fetch(static_index, None, "1.1.0")
    assert found.origin.path == "docs/changes.md" and found.origin.url == static_index.file_url(path.name)


def test_an_oversized_sdist_is_an_error_in_one_line(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGELOG.md": CHANGELOG_MD}})
    with pytest.raises(PackageIndexError) as caught:
        fetch(static_index, None, "1.1.0", max_bytes=200)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"GET {static_index.file_url('acme-1.1.0.tar.gz')}: larger than 200 bytes")


def test_an_oversized_member_is_passed_over(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGELOG.md": CHANGELOG_MD + "x" * 5000,
                                                     "HISTORY.md": CHANGELOG_MD}})
    found = fetch(static_index, None, "1.1.0", max_member_bytes=1000)
    assert [f.origin.path for f in found] == ["HISTORY.md"]


def test_a_sha256_mismatch_is_an_error(static_index, tmp_path) -> None:
    sdist = build_sdist(tmp_path / "d", "acme", "1.1.0", extra_files={"CHANGELOG.md": CHANGELOG_MD})
    static_index.add_file_entry("acme", sdist.name, url=static_index.file_url("real.tar.gz"), sha256="ab" * 32)
    static_index.add(sdist.rename(tmp_path / "real.tar.gz"))
    with pytest.raises(PackageIndexError, match="sha256 mismatch"):
        fetch(static_index, None, "1.1.0")


def test_a_second_run_is_served_from_the_cache(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.0.0": {}, "1.1.0": {}, "1.2.0": {"CHANGES.rst": CHANGELOG_RST}})
    first = fetch(static_index, tmp_path / "cache", "1.1.0")
    assert len(file_requests(static_index)) == 2
    static_index.reset_log()
    assert fetch(static_index, tmp_path / "cache", "1.1.0") == first
    assert file_requests(static_index) == []


def test_the_cache_downloads_each_sdist_once_per_run(static_index, tmp_path) -> None:
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGES.rst": CHANGELOG_RST}})
    with client_for(static_index, None) as client:
        page = client.project("acme")
        cache = SdistCache(client)
        request = ChangelogRequest("acme", Version("1.0.0"), Version("1.1.0"))
        assert SdistSource(client, page, cache=cache).fetch(request) == SdistSource(client, page,
                                                                                    cache=cache).fetch(request)
    assert file_requests(static_index) == ["/files/acme-1.1.0.tar.gz"]


def test_an_unreadable_archive_is_no_changelog(static_index, tmp_path) -> None:
    path = tmp_path / "acme-1.1.0.tar.gz"
    path.write_bytes(b"this is not an archive")
    static_index.add(path)
    assert fetch(static_index, None, "1.1.0") == []


# -- the rules, without a server ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["CHANGELOG.md", "CHANGES.rst", "HISTORY.txt", "NEWS", "RELEASES.markdown",
                                  "RELEASE-NOTES.md", "release-notes.rst", "changelog", "WhatsNew.rst",
                                  "docs/versionhistory.rst", "docs/changelog-2.x.rst", "docs/changes_old.md",
                                  "docs/release-notes.rst", "doc/en/changelog.rst", "docs/source/en/CHANGES.rst"])
def test_candidate_files(path: str) -> None:
    assert file_rank(path) is not None


@pytest.mark.parametrize("path", ["README.md", "CHANGELOG.html", "src/acme/CHANGES.rst", "changelog.d/1.md",
                                  "docs/a/b/c/changelog.rst", "tests/NEWS.txt", "docs/changelog.d/x.md",
                                  "changelog-2.x.rst", "docs/newsfragments/CHANGES.md"])
def test_not_candidate_files(path: str) -> None:
    assert file_rank(path) is None


@pytest.mark.parametrize(("path", "version"), [("docs/changelog/1.2.rst", "1.2"), ("docs/releases/4.2.1.txt",
                         "4.2.1"), ("docs/whatsnew/v2.0.0rc1.rst", "2.0.0rc1"), ("changes/release-1.3.md", "1.3"),
                         ("doc/source/whatsnew/v2.2.0.rst", "2.2.0")])
def test_release_files(path: str, version: str) -> None:
    assert release_file_version(path) == Version(version)


@pytest.mark.parametrize("path", ["news/12345.bugfix.rst", "changelog/1234.feature.md", "changes/567-jane.md",
                                  "docs/changelog/index.rst", "docs/changelog/12.rst", "src/releases/1.2.rst",
                                  "changelog.d/1.2.md"])
def test_not_release_files(path: str) -> None:
    assert release_file_version(path) is None


@pytest.mark.parametrize(("name", "safe"), [("a/b.md", "a/b.md"), ("./a//b.md", "a/b.md"), ("../a", None),
                                            ("a/../../b", None), ("/etc/passwd", None), ("C:/x", None),
                                            ("a\\..\\b", None)])
def test_safe_member_paths(name: str, safe: str | None) -> None:
    assert safe_member_path(name) == safe


def test_included_paths_resolve_from_the_stub_then_the_top() -> None:
    text = ".. include:: ../CHANGES.rst\n\n```{include} ../../HISTORY.md\n```\n--8<-- \"NEWS.md\"\n"
    # "../../HISTORY.md" would climb out of the sdist: dropped
    assert included_paths(text, "docs/changelog.rst") == ["CHANGES.rst", "docs/NEWS.md", "NEWS.md"]


def test_terminal_escapes_and_control_characters_are_dropped_when_decoding(static_index, tmp_path) -> None:
    hostile = CHANGELOG_MD.replace("- Added `frob()`.", "- Added\x1b[2J\x1b]0;owned\x07 `frob()`.\x00\x08\x9b\r")
    publish(static_index, tmp_path / "d", {"1.1.0": {"CHANGELOG.md": hostile}})
    [found] = fetch(static_index, None, "1.1.0")
    assert found.texts == {"CHANGELOG.md": CHANGELOG_MD}
