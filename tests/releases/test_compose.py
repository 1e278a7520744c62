"""The release-notes draft: cleaned titles, links, the bot's bumps collapsed, contributors, completeness, rendering."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from jobs.models import Commit, PullInfo, PullRef, ReleaseItem, ReleaseNote, ReleaseRange
from jobs.releases.categories import config_from_dict
from jobs.releases.compose import (check_complete, clean_title, compose, compose_git_only, parse_bumps,
                                   repo_url_of)

REPO = "https://github.com/acme/widgets"
GROUP_BODY = """<!-- nightcrew:{"key": "group:dev"} -->
Bumps the **dev** group with 2 updates.

| package | from | to | kind | manifest |
| --- | --- | --- | --- | --- |
| pytest | 8.0.0 | 8.2.0 | minor | `requirements-dev.txt` |
| ruff | 0.4.1 | 0.5.0 | minor | `requirements-dev.txt` |
"""


def ref(number: int, title: str, email: str, kind: str = "squash") -> PullRef:
    return PullRef(number=number, sha=f"{number:040x}", title=title, kind=kind, author_email=email)


RANGE = ReleaseRange(
    tag="v1.1.0", previous_tag="v1.0.0", tag_sha="b" * 40, previous_sha="a" * 40,
    pulls=(
        ref(12, "feat(ui): add dark mode", "alice@example.com"),
        ref(13, "Drop Python 3.8", "bob@example.com", "merge"),
        ref(14, "build(deps): bump requests from 2.31.0 to 2.32.0", "bot@nightcrew.invalid", "merge"),
        ref(15, "build(deps): bump the dev group with 2 updates", "bot@nightcrew.invalid", "merge"),
        ref(16, "Internal cleanup", "carol@example.com"),
        ref(17, "fix: handle @here in messages", "dave@example.com"),
        ref(18, "Bump lxml from 4.9 to 5.0", "dependabot@example.com"),
    ),
    direct_commits=(Commit("c" * 40, "docs: fix a typo in README", author_name="Eve",
                           author_email="1234+eve@users.noreply.github.com"),),  # fmt: skip
    contributors=("Alice <alice@example.com>", "Bob <bob@example.com>", "nightcrew <bot@nightcrew.invalid>",
                  "Carol <carol@example.com>", "Dave D <dave@example.com>", "Eve <1234+eve@users.noreply.github.com>",
                  "Frank <frank@example.com>"),  # fmt: skip
    new_contributors=("Dave D <dave@example.com>", "Frank <frank@example.com>"),
)  # fmt: skip

PULLS = {
    12: PullInfo(12, "feat(ui): add dark mode", url=f"{REPO}/pull/12", labels=("enhancement",), author="alice",
                 closes=(7, 9)),
    13: PullInfo(13, "Drop Python 3.8", labels=("breaking",), author="bob"),
    14: PullInfo(14, "build(deps): bump requests from 2.31.0 to 2.32.0", author="nightcrew[bot]"),
    15: PullInfo(15, "build(deps): bump the dev group with 2 updates", author="nightcrew[bot]", body=GROUP_BODY),
    16: PullInfo(16, "Internal cleanup", labels=("skip-changelog",), author="carol"),
    17: PullInfo(17, "fix: handle @here in messages", labels=("bug",), author="dave"),
    18: PullInfo(18, "Bump lxml from 4.9 to 5.0", labels=("dependencies",), author="dependabot[bot]"),
}  # fmt: skip
CONFIG = config_from_dict({"changelog": {
    "exclude": {"labels": ["skip-changelog"]},
    "categories": [{"title": "Features", "labels": ["enhancement"]}, {"title": "Fixes", "labels": ["bug"]},
                   {"title": "Other", "labels": ["*"]}],
}})  # fmt: skip


@pytest.fixture(scope="module")
def note() -> ReleaseNote:
    return compose(RANGE, PULLS, config=CONFIG, repo_url=REPO + "/")


@pytest.mark.parametrize(("title", "number", "expected"), [
    ("feat(ui): add dark mode", 1, "Add dark mode"),
    ("fix!: drop the old API (#12)", 12, "Drop the old API"),
    ("Keep (#3) other references (#12)", 12, "Keep (#3) other references"),
    ("Refactor:   tidy   whitespace", None, "Tidy whitespace"),
    ("docs: iOS install notes", None, "iOS install notes"),
    ("chore: `tox` env", None, "`tox` env"),
    ("Note: prose keeps its prefix", None, "Note: prose keeps its prefix"),
    ("feat:", None, "feat:"),
])  # fmt: skip
def test_titles_are_cleaned(title: str, number: int | None, expected: str) -> None:
    assert clean_title(title, number) == expected


def test_items_categories_and_links(note: ReleaseNote) -> None:
    titles = [t for t, _ in note.categories]
    assert titles[0] == "Breaking changes"  # always first
    assert titles == ["Breaking changes", "Features", "Fixes", "Documentation", "Dependencies", "Other"]
    items = {i.pr: i for _, group in note.categories for i in group if i.pr}
    assert items[12] == ReleaseItem(12, "Add dark mode", "Features", f"{REPO}/pull/12", (7, 9), "alice")
    assert items[13].breaking and items[13].category == "Breaking changes"
    assert items[17].url == f"{REPO}/pull/17"
    assert note.excluded == ((16, "changelog.exclude.labels: skip-changelog"),)
    assert note.compare_url == f"{REPO}/compare/v1.0.0...v1.1.0"
    text = note.text
    assert f"- Add dark mode by @<!-- -->alice in [#12]({REPO}/pull/12) (closes [#7]({REPO}/issues/7), " \
           f"[#9]({REPO}/issues/9))" in text  # fmt: skip
    assert f"**Full changelog**: [v1.0.0...v1.1.0]({REPO}/compare/v1.0.0...v1.1.0)" in text
    assert text.index("### Breaking changes") < text.index("### Features") < text.index("### Other")
    assert repo_url_of(note) == REPO


def test_the_bots_dependency_prs_collapse_into_one_line(note: ReleaseNote) -> None:
    deps = dict(note.categories)["Dependencies"]
    assert [i.pr for i in deps] == [14, 15]  # each PR is still an item of its own in the data
    assert deps[1].bumps == (("pytest", "8.0.0", "8.2.0"), ("ruff", "0.4.1", "0.5.0"))
    lines = [line for line in note.text.splitlines() if "requests" in line or "pytest" in line]
    assert lines == [f"- Bumped requests 2.31.0 → 2.32.0 ([#14]({REPO}/pull/14)); pytest 8.0.0 → 8.2.0, "
                     f"ruff 0.4.1 → 0.5.0 ([#15]({REPO}/pull/15))"]  # fmt: skip
    # Dependabot is not the bot here: its PR is an ordinary item
    other = dict(note.categories)["Other"]
    assert [(i.pr, i.title, i.bumps) for i in other] == [(18, "Bump lxml from 4.9 to 5.0", ())]


def test_bot_recognized_by_branch_or_configured_author() -> None:
    single = ReleaseRange("v2", "v1", "b" * 40, "a" * 40, pulls=(ref(1, "build(deps): bump x from 1 to 2", "h@x"),
                                                                 ref(2, "Bump lxml from 4.9 to 5.0", "d@x")))
    pulls = {1: PullInfo(1, "build(deps): bump x from 1 to 2", author="human-with-pat"),
             2: PullInfo(2, "Bump lxml from 4.9 to 5.0", author="dependabot[bot]")}
    plain = compose(single, pulls, repo_url=None)
    assert all(not i.bumps for _, items in plain.categories for i in items)
    by_branch = compose(single, pulls, repo_url=None, branches={1: "acme/nightcrew/x-2"})
    assert dict(by_branch.categories)["Dependencies"][0].bumps == (("x", "1", "2"),)
    by_author = compose(single, pulls, repo_url=None, bot_authors=("dependabot",))
    assert [(i.pr, bool(i.bumps)) for i in dict(by_author.categories)["Dependencies"]] == [(1, False), (2, True)]
    assert "- Bump x from 1 to 2 by @<!-- -->human-with-pat in #1\n- Bumped lxml 4.9 → 5.0 (#2)\n" in by_author.text


def test_parse_bumps_shapes() -> None:
    assert parse_bumps("Bump lodash from 4.17.20 to 4.17.21 in /web") == (("lodash", "4.17.20", "4.17.21"),)
    assert parse_bumps("chore(deps): update dependency @types/node to v20.1.0") == (("@types/node", "", "v20.1.0"),)
    assert parse_bumps("Bump the pip group across 1 directory with 3 updates") == (
        ("the pip group (3 updates)", "", ""),)
    assert parse_bumps("Fix bump handling") == ()


def test_contributors_and_first_timers(note: ReleaseNote) -> None:
    # handles of the listed PRs' authors, then other git authors; bots and excluded-only authors left out
    assert note.contributors == ("alice", "bob", "dave", "eve", "Frank")
    assert note.new_contributors == ("dave", "Frank")
    text = note.text
    assert f"- @<!-- -->dave made their first contribution in [#17]({REPO}/pull/17)" in text
    assert "- Frank made their first contribution\n" in text
    assert "@<!-- -->alice, @<!-- -->bob, @<!-- -->dave, @<!-- -->eve, Frank" in text
    assert "nightcrew" not in text.split("## Contributors")[1].split("**Full changelog**")[0]


def test_direct_commits_are_listed_with_short_sha_links(note: ReleaseNote) -> None:
    assert note.direct_commits == ("c" * 40,)
    docs = dict(note.categories)["Documentation"]
    assert docs[0].sha == "c" * 40 and docs[0].author == "eve"
    assert f"- Fix a typo in README by @<!-- -->eve in [`ccccccc`]({REPO}/commit/{'c' * 40})" in note.text
    without = compose(RANGE, PULLS, config=CONFIG, repo_url=REPO, include_direct_commits=False)
    assert without.direct_commits == () and "ccccccc" not in without.text
    assert check_complete(RANGE, without) == []


def test_rendering_neutralizes_handles_and_mentions_unless_told(note: ReleaseNote) -> None:
    assert not re.search(r"@[A-Za-z]", note.text)  # no ping anywhere, third-party "@here" included
    assert "Handle @<!-- -->here in messages" in note.text
    loud = compose(RANGE, PULLS, config=CONFIG, repo_url=REPO, neutralize_handles=False)
    assert "by @alice in" in loud.text and "@alice, @bob" in loud.text
    assert "Handle @<!-- -->here in messages" in loud.text  # titles are third-party text: always neutralized
    assert "<!-- nightcrew: left out of these notes by a rule:\n#16 (changelog.exclude.labels: skip-changelog)\n-->" \
           in note.text  # fmt: skip
    assert note.text.endswith("\n") and not note.text.endswith("\n\n\n")


def test_completeness_catches_missing_duplicated_and_foreign_prs(note: ReleaseNote) -> None:
    assert check_complete(RANGE, note) == []
    cats = dict(note.categories)
    missing = replace(note, categories=tuple((t, tuple(i for i in items if i.pr != 17))
                                             for t, items in note.categories))  # fmt: skip
    assert check_complete(RANGE, missing) == ["#17 is missing: neither listed nor excluded"]
    doubled = replace(note, categories=note.categories + (("Again", cats["Features"]),))
    assert check_complete(RANGE, doubled) == ["#12 is listed 2 times"]
    both = replace(note, excluded=note.excluded + ((12, "manual"),))
    assert check_complete(RANGE, both) == ["#12 is listed and also excluded (manual)"]
    unnamed = replace(note, excluded=((16, " "),))
    assert check_complete(RANGE, unnamed) == ["#16 is excluded without a named rule"]
    foreign = replace(note, excluded=note.excluded + ((99, "x"),))
    assert check_complete(RANGE, foreign) == ["#99 is not in the range v1.0.0..v1.1.0"]


def test_git_only_input_uses_conventional_types() -> None:
    pulls = {p.number: PullInfo(p.number, p.title, url=f"{REPO}/pull/{p.number}") for p in RANGE.pulls}
    note = compose(RANGE, pulls, repo_url=REPO)
    assert check_complete(RANGE, note) == []
    placed = {i.pr: i.category for _, items in note.categories for i in items if i.pr}
    assert placed == {12: "Features", 13: "Other changes", 14: "Dependencies", 15: "Dependencies",
                      16: "Other changes", 17: "Bug fixes", 18: "Other changes"}  # fmt: skip
    # no forge handles: the nightcrew-shaped titles alone mark the bot's bumps; the group table is unknown
    assert dict(note.categories)["Dependencies"][1].bumps == (("the dev group (2 updates)", "", ""),)
    assert note.contributors == ("Alice", "Bob", "Carol", "Dave D", "eve", "Frank")
    assert "- Add dark mode in [#12]" in note.text and "by Alice" not in note.text
    assert "Alice, Bob, Carol, Dave D, @<!-- -->eve, Frank" in note.text
    # even the PullInfo dict may be empty: git's titles from the range are used
    bare = compose(RANGE, {}, repo_url=None)
    assert check_complete(RANGE, bare) == [] and "[#" not in bare.text and "- Add dark mode in #12" in bare.text
    assert "**Full changelog**: v1.0.0...v1.1.0" in bare.text


def test_first_release_links_the_tags_commits_and_empty_notes_say_so() -> None:
    first = ReleaseRange("pkg-a/v1.0.0", None, "b" * 40, None)
    note = compose(first, {}, repo_url=REPO)
    assert note.compare_url == f"{REPO}/commits/pkg-a/v1.0.0"
    assert "_No changes._" in note.text
    assert f"[every commit up to pkg-a/v1.0.0]({REPO}/commits/pkg-a/v1.0.0)" in note.text
    assert check_complete(first, note) == []


def test_compose_git_only_reads_the_range_from_a_repository(tmp_path: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com",
           "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com", "GIT_CONFIG_GLOBAL": "/dev/null"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "Initial")
    git("tag", "v1.0.0")
    git("commit", "-q", "--allow-empty", "-m", "feat(cli): add --json (#4)")
    git("commit", "-q", "--allow-empty", "-m", "fix: exit code on error")
    git("tag", "v1.1.0")
    note = compose_git_only(tmp_path, "v1.1.0", repo_url=REPO)
    assert note.previous_tag == "v1.0.0" and note.compare_url == f"{REPO}/compare/v1.0.0...v1.1.0"
    assert [(t, [i.title for i in items]) for t, items in note.categories] == [
        ("Features", ["Add --json"]), ("Bug fixes", ["Exit code on error"])]
    assert f"- Add --json in [#4]({REPO}/pull/4)" in note.text and note.contributors == ("Alice",)
