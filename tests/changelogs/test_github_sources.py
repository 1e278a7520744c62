"""The GitHub releases and changelog-file sources, through the read-only forge reader and PyGithub over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest
from jobs.changelogs.github import (
    GitHubFileSource,
    GitHubReleasesSource,
    drop_own_heading,
    nest_headings,
    releases_markdown,
    tag_aliases,
    tag_version,
    upstream_repository,
)
from jobs.changelogs.slicing import slice_releases
from jobs.forges.base import ForgeError
from jobs.forges.github import GitHubReader, GitHubRelease
from jobs.tools.gate import Gate
from tests.support.github_server import GitHubStandIn, seed_bare_repo

UPSTREAM = "encode/httpx"
URLS = {"Homepage": "https://www.python-httpx.org/", "Source": f"https://github.com/{UPSTREAM}"}


def reader(server: GitHubStandIn, token: str | None = "bot-token", **kw: object) -> GitHubReader:
    kw = {"retries": 0, **kw}
    return GitHubReader(token=token, api_url=server.api_url, throttle=False, **kw)  # type: ignore[arg-type]


def upstream(server: GitHubStandIn, tmp_path: Path, files: dict[str, str] | None = None) -> None:
    bare = tmp_path / "httpx.git"
    seed_bare_repo(bare, files=files or {"README.md": "# httpx\n"})
    server.add_repo(UPSTREAM, bare)


def request(old: str, new: str, package: str = "httpx", urls: dict[str, str] | None = None) -> ChangelogRequest:
    return ChangelogRequest(package, Version(old), Version(new), dict(URLS if urls is None else urls))


def seed_releases(server: GitHubStandIn, tags: list[str], body: str = "Notes for {tag}.") -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i, tag in enumerate(tags):  # oldest first: created one minute apart, so the listing is newest first
        server.add_release(tag, body.format(tag=tag), repo=UPSTREAM, created=start + timedelta(minutes=i))


def api_paths(server: GitHubStandIn) -> list[str]:
    return [r.path + (f"?page={r.query['page']}" if "page" in r.query else "") for r in server.requests]


# -- which repository, which tags --------------------------------------------------------------------------------


def test_upstream_from_project_urls() -> None:
    found = upstream_repository({
        "Funding": "https://github.com/sponsors/encode",
        "Documentation": "https://www.python-httpx.org",
        "Changelog": "https://github.com/encode/httpx/blob/master/CHANGELOG.md",
        "Source": "https://github.com/encode/httpx.git",
    })  # fmt: skip
    assert found is not None and found.repository == "encode/httpx" and found.url == "https://github.com/encode/httpx"
    assert found.files == ("CHANGELOG.md",) and found.folders == ()
    # Only a changelog link on GitHub: the repository root is trimmed out of it.
    deep = upstream_repository({"Release notes": "https://github.com/pallets/jinja/tree/main/docs/changes"})
    assert deep is not None and (deep.repository, deep.folders) == ("pallets/jinja", ("docs/changes",))
    www = upstream_repository({"Homepage": "http://www.github.com/o/r#readme"})
    assert www is not None and www.repository == "o/r"
    for urls in ({}, {"Homepage": "https://gitlab.com/o/r"}, {"Funding": "https://github.com/sponsors/o"},
                 {"Docs": "https://o.github.io/r/"}, {"Source": "ftp://github.com/o/r"}):  # fmt: skip
        assert upstream_repository(urls) is None
    # Several repositories: the source-like label wins over the home page and others.
    two = upstream_repository({"Homepage": "https://github.com/org/site", "Source Code": "https://github.com/org/lib"})
    assert two is not None and two.repository == "org/lib"


@pytest.mark.parametrize(("tag", "expected"), [
    ("v1.2.3", ("", "1.2.3")), ("1.2.3", ("", "1.2.3")), ("V2.0", ("", "2.0")),
    ("release-1.2.3", ("release", "1.2.3")), ("release-v1.2.3", ("release", "1.2.3")),
    ("httpx-1.2.3", ("httpx", "1.2.3")), ("httpx@1.2.3", ("httpx", "1.2.3")),
    ("httpx-v1.2.3rc1", ("httpx", "1.2.3rc1")),
    ("@scope/pkg@1.2.3", ("pkg", "1.2.3")), ("packages/my_pkg/v0.4.0", ("my-pkg", "0.4.0")),
    ("azure-storage-blob_12.19.0", ("azure-storage-blob", "12.19.0")), ("py3k-1.0", ("py3k", "1.0")),
    ("2024.05.01", ("", "2024.5.1")), ("nightly", None), ("latest-build", None),
])  # fmt: skip
def test_tag_version(tag: str, expected: tuple[str, str] | None) -> None:
    found = tag_version(tag)
    assert (found[0], str(found[1])) == expected if found else expected is None


def test_tag_aliases() -> None:
    assert {"google-cloud-storage", "storage", "cloud-storage"} <= tag_aliases("google_cloud.storage")
    assert "dateutil" in tag_aliases("python-dateutil") and "widgets" in tag_aliases("x", "acme/widgets")


def test_nest_headings_keeps_release_bodies_inside_their_section() -> None:
    body = "# Big\r\n\r\n## What's Changed\r\n* #123 fixed\r\n\r\nHighlights\r\n----------\r\n" \
        "```\r\n# not a heading\r\n```"
    assert nest_headings(body).split("\n") == [
        "### Big", "", "#### What's Changed", "* #123 fixed", "", "#### Highlights", "```", "# not a heading", "```"]


def test_a_body_repeating_its_own_version_heading_stays_one_section() -> None:
    body = "## [1.2.0] - 2024-05-01\r\n\r\n### Fixed\r\n- x\r\n"
    assert drop_own_heading(body, Version("1.2.0")) == "\n### Fixed\n- x"
    assert drop_own_heading("v1.1.0\n======\n\n- y\n", Version("1.1")) == "\n- y"
    assert drop_own_heading("## 1.3.0\n- other\n", Version("1.2.0")) == "## 1.3.0\n- other\n"
    assert drop_own_heading("Notes for v1.2.", Version("1.2")) == "Notes for v1.2."  # a sentence, not a heading
    text = releases_markdown([(Version("1.2.0"), GitHubRelease("v1.2.0", "", body, False, False, "", None))])
    cut = slice_releases({"releases.md": text}, Version("1.0"), Version("1.2"))
    assert [(s.heading, s.text) for s in cut.sections] == [("## 1.2.0", "## 1.2.0\n\n##### Fixed\n- x")]


# -- releases --------------------------------------------------------------------------------------------------------


def test_releases_make_a_changelog_the_slicer_cuts(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path)
    seed_releases(github, ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"],
                  body="## What's Changed\r\n* Feature of {tag} by @someone in #12\r\n")  # fmt: skip
    gate = Gate(run_id="r1", job="changelog")
    r = reader(github, gate=gate)
    [found] = GitHubReleasesSource(r).fetch(request("1.0.0", "1.2.0"))
    assert found.origin.kind == "github-release" and found.origin.path is None
    assert found.origin.url == f"{github.web_url}/{UPSTREAM}/releases"
    [(path, text)] = found.texts.items()
    assert text.startswith("## 1.2.0\n\n#### What's Changed\n* Feature of v1.2.0 by @someone in #12\n\n## 1.1.0\n")
    cut = slice_releases(found.texts, Version("1.0.0"), Version("1.2.0"))
    assert [(s.version, s.heading) for s in cut.sections] == [("1.2.0", "## 1.2.0"), ("1.1.0", "## 1.1.0")]
    assert "Feature of v1.1.0" in cut.sections[1].text and "v1.0.0" not in text and "v1.3.0" not in text
    # one page of releases, audited as a read
    assert api_paths(github) == [f"/repos/{UPSTREAM}/releases"] and r.requests == 1
    assert [(a.action, a.target, a.outcome) for a in gate.records] == [
        ("forge.read", f"GET /repos/{UPSTREAM}/releases?page=1", "ok")]


def test_monorepo_tags_name_the_package(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path)
    seed_releases(github, ["v8.0.0", "httpx-0.1.0", "httpcore-1.1.0", "httpx-0.2.0", "httpcore-1.2.0", "v9.0.0",
                           "httpx-v0.3.0"])  # fmt: skip
    [found] = GitHubReleasesSource(reader(github)).fetch(request("0.1.0", "0.3.0"))
    cut = slice_releases(found.texts, Version("0.1.0"), Version("0.3.0"))
    assert [s.version for s in cut.sections] == ["0.3.0", "0.2.0"]
    assert "httpcore" not in found.texts["releases.md"] and "v9" not in found.texts["releases.md"]
    # The other package of the repository gets its own tags only.
    [core] = GitHubReleasesSource(reader(github)).fetch(request("1.0", "1.2.0", package="httpcore"))
    assert "Notes for httpcore-1.2.0." in core.texts["releases.md"] and "httpx-" not in core.texts["releases.md"]


def test_drafts_empty_and_pointer_notes(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path)
    seed_releases(github, ["v1.0.0", "v1.1.0"])
    github.add_release("v1.2.0", "", repo=UPSTREAM)  # published without notes
    github.add_release("v1.3.0", "Secret draft notes", repo=UPSTREAM, draft=True)
    assert [x["tag_name"] for x in github.releases(UPSTREAM)][0] == "v1.3.0"  # the bot may see drafts: it is listed
    [found] = GitHubReleasesSource(reader(github)).fetch(request("1.0.0", "1.3.0"))
    assert found.texts["releases.md"] == "## 1.1.0\n\nNotes for v1.1.0.\n"
    # Releases that only point elsewhere leave the field to the changelog file.
    seed_releases(github, ["v2.0.0", "v2.1.0"], body="**Full Changelog**: https://github.com/o/r/compare/{tag}")
    assert GitHubReleasesSource(reader(github)).fetch(request("1.3.0", "2.1.0")) == []


def test_pagination_stops_once_past_old(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path)
    seed_releases(github, [f"v1.{i}.0" for i in range(40)])
    r = reader(github, per_page=10)
    [found] = GitHubReleasesSource(r).fetch(request("1.25.0", "1.38.0"))
    cut = slice_releases(found.texts, Version("1.25.0"), Version("1.38.0"))
    assert [s.version for s in cut.sections] == [f"1.{i}.0" for i in range(38, 25, -1)]
    # newest first, 10 a page: 1.39-1.30, then 1.29-1.20 reaches 1.25 and the listing stops there
    assert api_paths(github) == [f"/repos/{UPSTREAM}/releases", f"/repos/{UPSTREAM}/releases?page=2"]
    assert all(q.query["per_page"] == "10" for q in github.requests) and r.requests == 2
    github.reset_log()
    [everything] = GitHubReleasesSource(reader(github, per_page=10)).fetch(request("0.9", "2.0"))
    assert everything.texts["releases.md"].count("\n## ") == 39
    # four pages hold all 40; the last one's Link header has no "next", so there is no fifth request
    assert len(github.requests) == 4


def test_release_source_errors_and_preconditions(github: GitHubStandIn, tmp_path: Path) -> None:
    source = GitHubReleasesSource(reader(github))
    with pytest.raises(ForgeError) as exc:  # no such repository
        source.fetch(request("1.0", "2.0"))
    message = str(exc.value)
    assert message == f"GET /repos/{UPSTREAM}/releases?page=1: HTTP 404: Not Found"
    assert "\n" not in message and "bot-token" not in message
    upstream(github, tmp_path)
    assert source.fetch(request("1.0", "2.0")) == []  # a repository without releases
    github.reset_log()
    seed_releases(github, ["v1.0", "v2.0"])
    assert GitHubReleasesSource(reader(github, token=None)).fetch(request("1.0", "2.0")) == []
    assert source.fetch(request("1.0", "2.0", urls={"Homepage": "https://example.org/httpx"})) == []
    assert github.requests == []
    # A passing server error is retried; one that persists is a one-line error.
    github.fail("GET", rf"/repos/{UPSTREAM}/releases", status=502)
    assert GitHubReleasesSource(reader(github, retries=2, backoff=0)).fetch(request("1.0", "2.0"))
    github.fail("GET", rf"/repos/{UPSTREAM}/releases", status=502, times=None)
    with pytest.raises(ForgeError) as exc:
        source.fetch(request("1.0", "2.0"))
    assert "502" in str(exc.value) and "\n" not in str(exc.value) and "bot-token" not in str(exc.value)


# -- changelog files -------------------------------------------------------------------------------------------------

MD = "# Changelog\n\n## 1.2.0\n\n- Added things.\n\n## 1.1.0\n\n- Fixed things.\n\n## 1.0.0\n\n- First.\n"
RST = "Changelog\n=========\n\n1.2.0\n-----\n\n- Added.\n\n1.1.0\n-----\n\n- Fixed.\n"


def test_changelog_at_the_top(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path, {"README.md": "# httpx\n", "CHANGELOG.md": MD, "docs/changelog.md": MD})
    r = reader(github)
    [found] = GitHubFileSource(r).fetch(request("1.0.0", "1.2.0"))
    assert (found.origin.kind, found.origin.path) == ("github-file", "CHANGELOG.md")
    assert found.origin.url == f"{github.web_url}/{UPSTREAM}/blob/main/CHANGELOG.md"
    assert found.texts == {"CHANGELOG.md": MD}
    assert api_paths(github) == [f"/repos/{UPSTREAM}/contents", f"/repos/{UPSTREAM}/contents/CHANGELOG.md"]
    assert r.requests == 2


def test_changelog_only_under_docs_behind_a_stub(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path, {"README.md": "# httpx\n", "CHANGES.rst": "The changelog moved to the docs.\n",
                                "docs/index.rst": "Welcome\n=======\n", "docs/changelog.rst": RST,
                                "docs/conf.py": "project = 'httpx'\n"})  # fmt: skip
    [found] = GitHubFileSource(reader(github)).fetch(request("1.0.0", "1.2.0"))
    assert (found.origin.path, found.texts) == ("docs/changelog.rst", {"docs/changelog.rst": RST})
    assert found.origin.url == f"{github.web_url}/{UPSTREAM}/blob/main/docs/changelog.rst"
    assert api_paths(github) == [f"/repos/{UPSTREAM}/contents", f"/repos/{UPSTREAM}/contents/CHANGES.rst",
                                 f"/repos/{UPSTREAM}/contents/docs", f"/repos/{UPSTREAM}/contents/docs/changelog.rst"]


def test_stub_include_is_followed(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path, {"CHANGES.rst": ".. include:: doc/en/history.rst\n", "doc/en/history.rst": RST})
    [found] = GitHubFileSource(reader(github)).fetch(request("1.0.0", "1.2.0"))
    assert found.origin.path == "doc/en/history.rst" and len(github.requests) == 3


def test_doc_source_folder_and_metadata_link(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path, {"doc/en/changelog.rst": RST, "doc/en/index.rst": "x\n", "misc/versionhistory.rst": RST})
    [found] = GitHubFileSource(reader(github)).fetch(request("1.0.0", "1.2.0"))
    assert found.origin.path == "doc/en/changelog.rst" and len(github.requests) == 4  # top, doc, doc/en, read
    github.reset_log()
    # A name no pattern knows, which the metadata links to: read first, in one request.
    urls = {**URLS, "Changelog": f"https://github.com/{UPSTREAM}/blob/main/misc/versionhistory.rst"}
    [linked] = GitHubFileSource(reader(github)).fetch(request("1.0.0", "1.2.0", urls=urls))
    assert linked.origin.path == "misc/versionhistory.rst" and len(github.requests) == 1


def test_one_file_per_release(github: GitHubStandIn, tmp_path: Path) -> None:
    notes = {f"docs/releases/{v}.md": f"# {v}\n\nNotes of {v}.\n" for v in ("1.0", "1.1", "1.2", "1.3", "2.0")}
    upstream(github, tmp_path, {"README.md": "x\n", "docs/releases/index.md": "Releases\n", **notes})
    [found] = GitHubFileSource(reader(github)).fetch(request("1.0", "1.2"))
    assert (found.origin.path, list(found.texts)) == ("docs/releases", ["docs/releases/1.2.md", "docs/releases/1.1.md"])
    assert found.origin.url == f"{github.web_url}/{UPSTREAM}/tree/main/docs/releases"
    cut = slice_releases(found.texts, Version("1.0"), Version("1.2"))
    assert [s.version for s in cut.sections] == ["1.2", "1.1"]


def test_no_changelog_missing_repository_no_token(github: GitHubStandIn, tmp_path: Path) -> None:
    source = GitHubFileSource(reader(github))
    with pytest.raises(ForgeError) as exc:
        source.fetch(request("1.0", "2.0"))
    assert str(exc.value) == f"GET /repos/{UPSTREAM}/contents/: HTTP 404: Not Found"
    upstream(github, tmp_path, {"README.md": "# httpx\n", "HISTORY.md": "Nothing here yet.\n", "docs/index.md": "x\n"})
    github.reset_log()
    assert source.fetch(request("1.0", "2.0")) == []
    assert len(github.requests) == 3  # top, HISTORY.md, docs/
    github.reset_log()
    assert GitHubFileSource(reader(github, token=None)).fetch(request("1.0", "2.0")) == []
    assert source.fetch(request("1.0", "2.0", urls={"Source": "https://codeberg.org/x/y"})) == []
    assert github.requests == []


def test_reader_reads_public_repositories_without_a_token(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path, {"CHANGELOG.md": MD})
    github.add_release("v1.0.0", "First", repo=UPSTREAM)
    anonymous = reader(github, token=None)
    assert not anonymous.has_token
    assert [r.tag for page in anonymous.release_pages(UPSTREAM) for r in page] == ["v1.0.0"]
    assert anonymous.release(UPSTREAM, "v1.0.0").body == "First"  # type: ignore[union-attr]
    assert anonymous.release(UPSTREAM, "v9") is None
    assert anonymous.read_file(UPSTREAM, "CHANGELOG.md").data.decode() == MD  # type: ignore[union-attr]
    assert anonymous.read_file(UPSTREAM, "nope.md") is None and anonymous.list_dir(UPSTREAM, "nope") is None
    assert {r.login for r in github.requests} == {None} and anonymous.requests == 6


def test_an_open_fence_in_release_notes_does_not_swallow_older_releases(github: GitHubStandIn, tmp_path: Path) -> None:
    upstream(github, tmp_path)
    seed_releases(github, ["v1.0.0", "v1.1.0"], body="- Feature of {tag}")
    github.add_release("v1.2.0", "## Upgrading\r\n\r\n```python\r\nclient = Client()\r\n", repo=UPSTREAM)
    github.add_release("v1.3.0", "<pre>\nnever closed\n", repo=UPSTREAM)
    [found] = GitHubReleasesSource(reader(github)).fetch(request("1.0.0", "1.3.0"))
    cut = slice_releases(found.texts, Version("1.0.0"), Version("1.3.0"))
    assert [s.version for s in cut.sections] == ["1.3.0", "1.2.0", "1.1.0"]
    assert cut.sections[1].text == "## 1.2.0\n\n#### Upgrading\n\n```python\nclient = Client()\n```"
    assert cut.sections[0].text == "## 1.3.0\n\n<pre>\nnever closed\n</pre>"
    assert cut.sections[2].text == "## 1.1.0\n\n- Feature of v1.1.0"


def test_hostile_tags_are_no_versions() -> None:
    assert tag_version("v1." + "9" * 5000) is None  # int() refuses 5000 digits: not a crash, not a version
    assert tag_version("release-" + "1." * 40 + "0") is None  # longer than any real version
