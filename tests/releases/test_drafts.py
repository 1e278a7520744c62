"""Drafts for editorial review: GitHub draft releases (through PyGithub against the stand-in) and local markdown
files, created, updated while untouched, and never overwritten after a human edit."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from github import Auth, Github
from github.Repository import Repository

from jobs.forges.base import ForgeError
from jobs.forges.github import GitHubForge
from jobs.releases.drafts import (SIDE_SUFFIX, DraftStore, GitHubDrafts, LocalDrafts, file_stem, is_bots_text,
                                  text_hash, with_marker)  # fmt: skip
from tests.support.github_server import GitHubStandIn, git

REPO = "acme/widgets"
NOTES = "## Features\n- Add retries ([#12](https://x/pull/12)) by @alice\n"
NEWER = NOTES + "- Faster startup ([#13](https://x/pull/13))\n"
NEWEST = NEWER + "\n## Bug fixes\n- Fix the timeout ([#14](https://x/pull/14))\n"


def forge(github: GitHubStandIn, **kw: object) -> GitHubForge:
    return GitHubForge(token="bot-token", repository=REPO, api_url=github.api_url, throttle=False,
                       **kw)  # type: ignore[arg-type]


def human(github: GitHubStandIn) -> Repository:
    gh = Github(auth=Auth.Token("human-token"), base_url=github.api_url, seconds_between_requests=None,
                seconds_between_writes=None)  # fmt: skip
    return gh.get_repo(REPO)


def drafts_for(github: GitHubStandIn, tag: str) -> dict[str, dict]:
    return {r["name"]: r for r in github.releases() if r["tag_name"] == tag}


def release_writes(github: GitHubStandIn) -> list:
    return [r for r in github.requests if r.method in ("POST", "PATCH") and "/releases" in r.path]


def test_draft_created_for_an_untagged_release_updated_while_untouched(github: GitHubStandIn) -> None:
    store: DraftStore = GitHubDrafts(forge(github))
    first = store.publish_draft("v1.0.0", NOTES)
    assert first.action == "created" and first.text_hash == text_hash(NOTES)
    [draft] = github.releases()
    assert (draft["tag_name"], draft["name"], draft["draft"], draft["published_at"]) == ("v1.0.0", "v1.0.0", True, None)
    assert draft["body"] == with_marker(NOTES) and draft["body"].startswith("<!-- nightcrew:release sha256=")
    assert first.url_or_path.startswith(f"{github.web_url}/{REPO}/releases/tag/untagged-")
    # A draft needs no tag: GitHub creates it only when the release is published, and nobody published it.
    assert git(github.bare, "tag", "--list").stdout == ""

    second = GitHubDrafts(forge(github)).publish_draft("v1.0.0", NEWER, first.text_hash)
    assert second.action == "updated" and second.url_or_path == first.url_or_path
    [draft] = github.releases()
    assert draft["body"] == with_marker(NEWER) and draft["draft"] and draft["published_at"] is None

    github.reset_log()
    same = GitHubDrafts(forge(github)).publish_draft("v1.0.0", NEWER)
    assert (same.action, same.note) == ("updated", "unchanged") and release_writes(github) == []

    writes = [r for r in release_writes(github)]
    assert all(r.body.get("draft") is True for r in writes)
    assert git(github.bare, "tag", "--list").stdout == "" and len(github.releases()) == 1


def test_human_edit_is_kept_and_the_new_draft_goes_beside_it(github: GitHubStandIn) -> None:
    store = GitHubDrafts(forge(github))
    first = store.publish_draft("v2.0.0", NOTES)
    # The release manager edits the draft on GitHub (their own token, through PyGithub).
    [mine] = [r for r in human(github).get_releases() if r.tag_name == "v2.0.0"]
    edited = mine.body.replace("Add retries", "Add automatic retries") + "\nThanks everyone!\n"
    mine.update_release(name="Version 2.0.0", message=edited, draft=True)
    github.reset_log()

    kept = store.publish_draft("v2.0.0", NEWER, first.text_hash)
    assert kept.action == "kept-human-edits" and "edited by hand" in kept.note and SIDE_SUFFIX.strip() in kept.note
    releases = drafts_for(github, "v2.0.0")
    assert releases["Version 2.0.0"]["body"] == edited  # never overwritten
    side = releases["v2.0.0" + SIDE_SUFFIX]
    assert side["body"] == with_marker(NEWER) and side["draft"] and kept.url_or_path != first.url_or_path
    assert all(r.body["draft"] is True for r in release_writes(github))
    assert not any(r.method == "PATCH" and r.path.endswith(f"/{mine.id}") for r in github.requests)

    # Next run: the side draft is still nightcrew's, so it is updated; the human's draft stays as it is.
    again = store.publish_draft("v2.0.0", NEWEST, kept.text_hash)
    assert again.action == "kept-human-edits" and again.url_or_path == kept.url_or_path
    releases = drafts_for(github, "v2.0.0")
    assert len(releases) == 2 and releases["Version 2.0.0"]["body"] == edited
    assert releases["v2.0.0" + SIDE_SUFFIX]["body"] == with_marker(NEWEST)

    # A person edits the side draft too: nothing is written anywhere, and the note says so.
    [side_obj] = [r for r in human(github).get_releases() if r.name == "v2.0.0" + SIDE_SUFFIX]
    side_obj.update_release(name=side_obj.name, message="my own words", draft=True)
    last = store.publish_draft("v2.0.0", NEWEST + "- one more\n", again.text_hash)
    assert last.action == "kept-human-edits" and "not written" in last.note
    assert {r["body"] for r in drafts_for(github, "v2.0.0").values()} == {edited, "my own words"}
    assert all(r["draft"] and r["published_at"] is None for r in github.releases())


def test_saving_unchanged_in_the_editor_is_no_edit_and_published_releases_are_left_alone(github: GitHubStandIn) -> None:
    store = GitHubDrafts(forge(github))
    store.publish_draft("v3.0.0rc1", NOTES)
    [draft] = github.releases()
    assert draft["prerelease"] is True  # a pre-release tag makes a pre-release draft
    # GitHub's web editor saves CRLF line endings: the text is the same, so it is still nightcrew's.
    [mine] = list(human(github).get_releases())
    mine.update_release(name=mine.name, message=mine.body.replace("\n", "\r\n"), draft=True, prerelease=True)
    assert store.publish_draft("v3.0.0rc1", NEWER).action == "updated"
    assert github.releases()[0]["body"] == with_marker(NEWER) and github.releases()[0]["prerelease"] is True

    # The release manager publishes: nightcrew never touches a published release, nor adds drafts beside it.
    [mine] = list(human(github).get_releases())
    mine.update_release(name=mine.name, message=mine.body, draft=False, prerelease=True)
    github.reset_log()
    result = store.publish_draft("v3.0.0rc1", NEWEST)
    assert result.action == "kept-human-edits" and "already published" in result.note
    assert release_writes(github) == [] and len(github.releases()) == 1


def test_draft_marker_lost_but_text_recorded_counts_as_bots(github: GitHubStandIn) -> None:
    store = GitHubDrafts(forge(github))
    first = store.publish_draft("v4.0.0", NOTES)
    [mine] = list(human(github).get_releases())
    mine.update_release(name=mine.name, message=NOTES, draft=True)  # same text, marker gone
    assert store.publish_draft("v4.0.0", NEWER, first.text_hash).action == "updated"
    assert store.publish_draft("v4.0.0", NEWER, None).action == "updated"  # the marker is back


def test_persistent_server_errors_are_one_line_naming_the_request(github: GitHubStandIn) -> None:
    store = GitHubDrafts(forge(github, retries=1, backoff=0))
    github.fail("GET", r"/repos/acme/widgets/releases", status=502, times=None)
    with pytest.raises(ForgeError) as caught:
        store.publish_draft("v1.0.0", NOTES)
    text = str(caught.value)
    assert text.startswith("GET /repos/acme/widgets/releases?page=1: ") and "\n" not in text
    assert "bot-token" not in text
    github.clear_faults()
    github.fail("POST", r"/repos/acme/widgets/releases", status=500, times=None)
    with pytest.raises(ForgeError) as caught:
        store.publish_draft("v1.0.0", NOTES)
    assert str(caught.value).startswith("POST /repos/acme/widgets/releases: ")  # retried, then the error
    assert "\n" not in str(caught.value)
    assert "bot-token" not in str(caught.value) and github.releases() == []


# -- local -----------------------------------------------------------------------------------------


def test_local_drafts_created_updated_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / ".nightcrew" / "releases"
    store: DraftStore = LocalDrafts(folder)
    first = store.publish_draft("pkg-a/v1.2.0", NOTES)
    main = folder / "pkg-a%2Fv1.2.0.md"
    assert first.action == "created" and first.url_or_path == str(main)
    assert main.read_text() == with_marker(NOTES) and is_bots_text(main.read_text())

    os.chmod(main, 0o640)
    second = store.publish_draft("pkg-a/v1.2.0", NEWER, first.text_hash)
    assert second.action == "updated" and main.read_text() == with_marker(NEWER)
    assert stat.S_IMODE(main.stat().st_mode) == 0o640  # the atomic write keeps the file's mode
    assert store.publish_draft("pkg-a/v1.2.0", NEWER).note == "unchanged"

    edited = main.read_text().replace("Faster startup", "Much faster startup")
    main.write_text(edited)
    kept = store.publish_draft("pkg-a/v1.2.0", NEWEST, second.text_hash)
    side = folder / "pkg-a%2Fv1.2.0.nightcrew.md"
    assert kept.action == "kept-human-edits" and kept.url_or_path == str(side) and "edited by hand" in kept.note
    assert main.read_text() == edited and side.read_text() == with_marker(NEWEST)

    again = store.publish_draft("pkg-a/v1.2.0", NEWEST + "- more\n", kept.text_hash)
    assert again.action == "kept-human-edits" and side.read_text() == with_marker(NEWEST + "- more\n")

    side.write_text("mine too\n")
    last = store.publish_draft("pkg-a/v1.2.0", "other\n", again.text_hash)
    assert last.action == "kept-human-edits" and "not written" in last.note and last.url_or_path == str(main)
    assert main.read_text() == edited and side.read_text() == "mine too\n"
    assert sorted(p.name for p in folder.iterdir()) == ["pkg-a%2Fv1.2.0.md", "pkg-a%2Fv1.2.0.nightcrew.md"]


def test_local_rules_hash_recorded_crlf_and_file_names(tmp_path: Path) -> None:
    store = LocalDrafts(tmp_path)
    first = store.publish_draft("v1.0.0", NOTES)
    path = tmp_path / "v1.0.0.md"
    path.write_bytes(NOTES.replace("\n", "\r\n").encode())  # marker gone, same text, CRLF
    assert store.publish_draft("v1.0.0", NEWER, first.text_hash).action == "updated"
    path.write_bytes(with_marker(NEWER).replace("\n", "\r\n").encode())  # an editor's CRLF, marker kept
    assert store.publish_draft("v1.0.0", NEWEST).action == "updated"
    path.write_bytes(b"\xff\xfe not utf-8")
    assert store.publish_draft("v1.0.0", NEWEST).action == "kept-human-edits"
    assert (file_stem("v1.0.0"), file_stem("a b:c\\d")) == ("v1.0.0", "a%20b%3Ac%5Cd")
    assert file_stem(".hidden") == "%2Ehidden"
    assert file_stem("pkg-a/v1") != file_stem("pkg-a_v1")


def test_local_write_errors_name_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ForgeError) as caught:
        LocalDrafts(blocker / "releases").publish_draft("v1.0.0", NOTES)
    assert str(caught.value).startswith(str(blocker / "releases" / "v1.0.0.md"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("tag", "prerelease", "expected"), [
    ("v2.0.0-SNAPSHOT", None, True),  # semver shapes packaging rejects: the range's parser reads them
    ("v1.2.3-rc.1.2", None, True),
    ("1.0.0-0.3.7", None, True),
    ("pkg-a/v1.1.0-beta.2", None, True),  # a monorepo tag: its last part
    ("v3.0.0rc1", None, True),
    ("v1.0.0", None, False),
    ("v1.2.3+build.5", None, False),
    ("nightly", None, False),  # names no version
    ("release-7-candidate", True, True),  # the caller read it with the configured tag pattern
    ("v4.0.0-rc.1", False, False),
])  # fmt: skip
def test_the_prerelease_flag_follows_the_tag_parser_or_the_caller(github: GitHubStandIn, tag: str,
                                                                   prerelease: bool | None, expected: bool) -> None:
    store = GitHubDrafts(forge(github))
    result = store.publish_draft(tag, NOTES, prerelease=prerelease)
    assert result.action == "created"
    [draft] = drafts_for(github, tag).values()
    assert draft["prerelease"] is expected and draft["draft"] is True
    # a person edits it: the draft beside it gets the same flag
    [mine] = list(human(github).get_releases())
    mine.update_release(name=mine.name, message="my own words", draft=True, prerelease=expected)
    assert store.publish_draft(tag, NEWER, result.text_hash, prerelease=prerelease).action == "kept-human-edits"
    assert drafts_for(github, tag)[tag + SIDE_SUFFIX]["prerelease"] is expected


def test_local_drafts_take_the_prerelease_argument(tmp_path: Path) -> None:
    result = LocalDrafts(tmp_path / "releases").publish_draft("v2.0.0-SNAPSHOT", NOTES, prerelease=True)
    assert result.action == "created" and Path(result.url_or_path).read_text(encoding="utf-8") == with_marker(NOTES)
