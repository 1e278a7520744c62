"""The chain of changelog sources against real parts: a loopback index with real sdists, the GitHub stand-in."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from click.testing import CliRunner
from packaging.version import Version

from jobs.changelogs.base import SourceText
from jobs.changelogs.finder import ChangelogFinder
from jobs.changelogs.github import GitHubFileSource, GitHubReleasesSource
from jobs.cli import cli
from jobs.forges.github import GitHubReader
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation
from jobs.models import ChangelogOrigin
from jobs.tools import Gate
from tests.support.distbuild import build_sdist
from tests.support.github_server import GitHubStandIn, seed_bare_repo

CHANGELOG = """\
# Changelog

## 1.3.0 (2025-03-01)

- BREAKING: `connect()` now takes seconds (#41), thanks @alice
- Fix CVE-2025-11111 in the parser

## 1.2.0 (2025-02-01)

- Deprecated `Client.fetch` (#40)

## 1.1.0 (2025-01-01)

- First feature
"""


def finder(index_url: str, tmp_path: Path, *github) -> tuple[ChangelogFinder, IndexClient, Gate]:
    client = IndexClient(IndexLocation(index_url, (), "config"), cache_dir=tmp_path / "cache", retries=1, backoff=0.01)
    gate = Gate(run_id=uuid.uuid4().hex[:8], job="test")
    return ChangelogFinder(client, gate, github_sources=github), client, gate


def publish(index, tmp_path: Path, versions, changelog: str | None, urls=None) -> None:
    dest = tmp_path / "dists"
    dest.mkdir(exist_ok=True)
    for v in versions:
        files = {"CHANGELOG.md": changelog} if changelog else {}
        index.add(build_sdist(dest, "widget", v, extra_files=files, project_urls=urls or {}))


def test_sdist_changelog_slice_with_flags_and_missing_versions(static_index, tmp_path: Path) -> None:
    publish(static_index, tmp_path, ["1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.3.0"], CHANGELOG,
            {"Source": "https://github.com/acme/widget"})
    chain, client, _ = finder(static_index.url, tmp_path)
    with client:
        found = chain.find("widget", Version("1.1.0"), Version("1.3.0"), client.project("widget"))
    assert found.origin.kind == "sdist" and found.origin.path == "CHANGELOG.md"
    assert [s.version for s in found.sections] == ["1.3.0", "1.2.0"]
    assert found.missing_versions == ("1.2.1",)
    assert [(f.kind, f.version) for f in found.flags] == [("security", "1.3.0"), ("breaking", "1.3.0"),
                                                            ("deprecation", "1.2.0")]
    assert found.repository == "https://github.com/acme/widget"


def test_github_releases_come_first_and_a_down_github_falls_back_to_the_sdist(static_index, tmp_path: Path) -> None:
    publish(static_index, tmp_path, ["1.0.0", "1.1.0"], CHANGELOG, {"Source": "https://github.com/acme/widget"})
    bare = tmp_path / "widget.git"
    seed_bare_repo(bare)
    with GitHubStandIn(bare, full_name="acme/widget") as hub:
        hub.add_release("v1.1.0", "- Released from GitHub notes")
        reader = GitHubReader(token="bot-token", api_url=hub.api_url, throttle=False)
        chain, client, _ = finder(static_index.url, tmp_path, GitHubReleasesSource(reader), GitHubFileSource(reader))
        with client:
            page = client.project("widget")
            found = chain.find("widget", Version("1.0.0"), Version("1.1.0"), page)
            assert found.origin.kind == "github-release"
            assert "Released from GitHub notes" in found.sections[0].text
            hub.fail("*", r".*", status=502, times=None)
            chain2 = ChangelogFinder(client, Gate(run_id="t2", job="test"), github_sources=[GitHubReleasesSource(reader)])
            again = chain2.find("widget", Version("1.0.0"), Version("1.1.0"), page)
    assert again.origin.kind == "sdist"
    assert any("github-release" in p.message and "502" in p.message for p in chain2.problems)
    assert all("bot-token" not in p.message for p in chain2.problems)


def test_link_only_and_nothing_at_all(static_index, tmp_path: Path) -> None:
    publish(static_index, tmp_path, ["1.0.0", "1.1.0"], None, {"Changelog": "https://docs.example.org/changes"})
    chain, client, _ = finder(static_index.url, tmp_path)
    with client:
        found = chain.find("widget", Version("1.0.0"), Version("1.1.0"), client.project("widget"))
    assert found.origin.kind == "link" and found.origin.url == "https://docs.example.org/changes"
    assert found.sections == () and "no changelog text found" in found.note
    static_index.add_file_entry("bare", "bare-1.0.tar.gz")
    static_index.add_file_entry("bare", "bare-1.1.tar.gz")
    chain, client, _ = finder(static_index.url, tmp_path)
    with client:
        nothing = chain.find("bare", Version("1.0"), Version("1.1"), client.project("bare"))
    assert nothing.origin is None and nothing.note == "no changelog found" and nothing.missing_versions == ("1.1",)


def test_a_changelog_without_the_new_versions_says_so(static_index, tmp_path: Path) -> None:
    publish(static_index, tmp_path, ["1.3.0", "1.4.0"], CHANGELOG)
    chain, client, _ = finder(static_index.url, tmp_path)
    with client:
        found = chain.find("widget", Version("1.3.0"), Version("1.4.0"), client.project("widget"))
    assert found.origin.kind == "sdist" and found.sections == ()
    assert found.note == "the changelog has no section for the versions after 1.3.0 up to 1.4.0"
    assert found.missing_versions == ("1.4.0",)


def test_changelog_command_json_contract(static_index, tmp_path: Path) -> None:
    publish(static_index, tmp_path, ["1.0.0", "1.1.0", "1.2.0", "1.3.0"], CHANGELOG)
    (tmp_path / "nightcrew.toml").write_text(
        f'[index]\nurl = "{static_index.url}"\ncache_dir = "{(tmp_path / "cache").as_posix()}"\n')
    result = CliRunner().invoke(cli, ["changelog", "Widget", "1.1.0", "1.3.0", "--repo", str(tmp_path),
                                      "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["package"], data["old"], data["new"]) == ("widget", "1.1.0", "1.3.0")
    assert data["source"]["kind"] == "sdist" and data["source"]["path"] == "CHANGELOG.md"
    assert [s["version"] for s in data["sections"]] == ["1.3.0", "1.2.0"]
    assert data["sections"][0]["heading"] == "## 1.3.0 (2025-03-01)"
    assert data["missing_versions"] == [] and data["flags"][0]["kind"] == "security"
    bad = CliRunner().invoke(cli, ["changelog", "widget", "2.0", "1.0", "--repo", str(tmp_path)])
    assert bad.exit_code == 2 and "is not newer than" in bad.stderr


def test_an_enterprise_token_is_never_sent_to_public_github(tmp_path: Path, monkeypatch) -> None:
    from jobs import config as config_module
    from jobs.changelog import github_sources

    monkeypatch.setenv("GITHUB_TOKEN", "ghe-token")
    (tmp_path / "nightcrew.toml").write_text('[forge]\napi_url = "https://ghe.example.org/api/v3"\n')
    gate = Gate(run_id="t", job="test")
    assert github_sources(config_module.load(repo=tmp_path), gate) == []
    (tmp_path / "nightcrew.toml").write_text('[forge]\napi_url = "https://ghe.example.org/api/v3"\n'
                                             '[changelogs]\ngithub_api_url = "https://ghe.example.org/api/v3"\n')
    assert len(github_sources(config_module.load(repo=tmp_path), gate)) == 2
    (tmp_path / "nightcrew.toml").write_text("")
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    assert len(github_sources(config_module.load(repo=tmp_path), gate)) == 2


def test_a_hostile_changelog_never_crashes_the_chain(static_index, tmp_path: Path) -> None:
    hostile = CHANGELOG.replace("## 1.2.0 (2025-02-01)", "## 1." + "9" * 5000 + "\n\n## 1.2.0 (2025-02-01)")
    publish(static_index, tmp_path, ["1.1.0", "1.2.0", "1.3.0"], hostile)

    class Broken:
        """A source whose candidate cannot be sliced (its text is bytes), and one that fails outright."""

        def __init__(self, kind: str, fail: bool) -> None:
            self.kind, self.fail = kind, fail

        def fetch(self, request):  # type: ignore[no-untyped-def]
            if self.fail:
                raise ValueError("Exceeds the limit (4300 digits)\nfor integer string conversion")
            return [SourceText(ChangelogOrigin(self.kind, url="https://example.org/c"), {"CHANGES.md": b"## 1.3.0"})]

    chain, client, _ = finder(static_index.url, tmp_path, Broken("github-release", True), Broken("github-file", False))
    with client:
        found = chain.find("widget", Version("1.1.0"), Version("1.3.0"), client.project("widget"))
    assert found.origin.kind == "sdist" and [s.version for s in found.sections] == ["1.3.0", "1.2.0"]
    assert [p.message.split(":")[0] for p in chain.problems] == [
        "widget changelog (github-release)", "widget changelog (github-file https"]
    assert all("\n" not in p.message for p in chain.problems)
    assert "ValueError: Exceeds the limit (4300 digits) for integer" in chain.problems[0].message
