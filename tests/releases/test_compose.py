"""The release-notes draft: cleaned titles, links, the bot's bumps collapsed, contributors, completeness, rendering."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

import jobs.config
import jobs.release_notes
from jobs.forges.github import GitHubReader
from jobs.models import Commit, PullInfo, PullRef, ReleaseItem, ReleaseNote, ReleaseRange
from jobs.releases import history
from jobs.releases.categories import config_from_dict
from jobs.releases.compose import check_complete, clean_title, compose, parse_bumps, plain_markdown, repo_url_of
from jobs.releases.enrich import enrich, git_only
from tests.releases.gitrepo import ALICE, BOB, CAROL, DAN, Repo
from tests.support.github_server import GitHubStandIn

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
    assert titles == ["Breaking changes", "Features", "Fixes", "Documentation", "Dependencies"]
    items = {i.pr: i for _, group in note.categories for i in group if i.pr}
    assert items[12] == ReleaseItem(12, "Add dark mode", "Features", f"{REPO}/pull/12", (7, 9), "alice")
    assert items[13].breaking and items[13].category == "Breaking changes"
    assert items[17].url == f"{REPO}/pull/17"
    assert note.excluded == ((16, "changelog.exclude.labels: skip-changelog"),)
    assert note.compare_url == f"{REPO}/compare/v1.0.0...v1.1.0"
    text = note.text
    assert f"- Add dark mode by @alice in [#12]({REPO}/pull/12) (closes [#7]({REPO}/issues/7), " \
           f"[#9]({REPO}/issues/9))" in text  # fmt: skip
    assert f"**Full changelog**: [v1.0.0...v1.1.0]({REPO}/compare/v1.0.0...v1.1.0)" in text
    assert text.index("### Breaking changes") < text.index("### Features") < text.index("### Dependencies")
    assert repo_url_of(note) == REPO


def test_the_bots_dependency_prs_collapse_into_one_line(note: ReleaseNote) -> None:
    deps = dict(note.categories)["Dependencies"]
    assert [i.pr for i in deps] == [14, 15, 18]  # each PR is still an item of its own in the data
    assert deps[1].bumps == (("pytest", "8.0.0", "8.2.0"), ("ruff", "0.4.1", "0.5.0"))
    # nightcrew's own and Dependabot's (a known dependency bot) share the one line
    lines = [line for line in note.text.splitlines() if "requests" in line or "pytest" in line]
    assert lines == [f"- Bumped requests 2.31.0 → 2.32.0 ([#14]({REPO}/pull/14)); pytest 8.0.0 → 8.2.0, "
                     f"ruff 0.4.1 → 0.5.0 ([#15]({REPO}/pull/15)); lxml 4.9 → 5.0 ([#18]({REPO}/pull/18))"]


def test_bot_recognized_by_branch_or_configured_author() -> None:
    single = ReleaseRange("v2", "v1", "b" * 40, "a" * 40, pulls=(ref(1, "build(deps): bump x from 1 to 2", "h@x"),
                                                                 ref(2, "Bump lxml from 4.9 to 5.0", "d@x")))
    pulls = {1: PullInfo(1, "build(deps): bump x from 1 to 2", author="human-with-pat"),
             2: PullInfo(2, "Bump lxml from 4.9 to 5.0", author="dependabot[bot]")}
    plain = compose(single, pulls, repo_url=None)  # a person's bump is theirs; Dependabot's is a bot's
    assert [(i.pr, bool(i.bumps)) for _, items in plain.categories for i in items] == [(1, False), (2, True)]
    by_branch = compose(single, pulls, repo_url=None, branches={1: "acme/nightcrew/x-2"})
    assert dict(by_branch.categories)["Dependencies"][0].bumps == (("x", "1", "2"),)
    renovate = compose(single, pulls, repo_url=None, branches={1: "acme/renovate/x-2.x"})
    assert all(i.bumps for _, items in renovate.categories for i in items)
    by_author = compose(single, pulls, repo_url=None, bot_authors=("someone-else[bot]",))
    assert [(i.pr, bool(i.bumps)) for i in dict(by_author.categories)["Dependencies"]] == [(1, False)]
    assert "- Bump x from 1 to 2 by @human-with-pat in #1\n" in by_author.text


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
    assert f"- @dave made their first contribution in [#17]({REPO}/pull/17)" in text
    assert "- Frank made their first contribution\n" in text
    assert "@alice, @bob, @dave, @eve, Frank" in text
    assert "nightcrew" not in text.split("## Contributors")[1].split("**Full changelog**")[0]


def test_direct_commits_are_listed_with_short_sha_links(note: ReleaseNote) -> None:
    assert note.direct_commits == ("c" * 40,)
    docs = dict(note.categories)["Documentation"]
    assert docs[0].sha == "c" * 40 and docs[0].author == "eve"
    assert f"- Fix a typo in README by @eve in [`ccccccc`]({REPO}/commit/{'c' * 40})" in note.text
    without = compose(RANGE, PULLS, config=CONFIG, repo_url=REPO, include_direct_commits=False)
    assert without.direct_commits == () and "ccccccc" not in without.text
    assert check_complete(RANGE, without) == []


def test_credit_lines_use_plain_handles_and_mentions_in_titles_never_ping(note: ReleaseNote) -> None:
    # GitHub's own form for credits; a mention inside a title (third-party text) shows as code, pings nobody
    assert "by @alice in" in note.text and "@alice, @bob" in note.text
    assert "Handle `@here` in messages" in note.text and "<!-- -->" not in note.text
    quiet = compose(RANGE, PULLS, config=CONFIG, repo_url=REPO, neutralize_handles=True)
    assert not re.search(r"(?<!`)@[A-Za-z]", quiet.text)  # asked for: no credit pings either
    assert "Handle `@here` in messages" in quiet.text
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
    assert "Alice, Bob, Carol, Dave D, @eve, Frank" in note.text
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


def test_git_only_drafting_reads_the_range_from_a_repository(tmp_path: Path) -> None:
    # the real path: jobs.release_notes.run (range, git-only pull info, compose, render, completeness), dry run
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
    (tmp_path / "nightcrew.toml").write_text(f'[forge]\nweb_url = "{REPO}"\n', encoding="utf-8")
    result = jobs.release_notes.run(tmp_path, jobs.config.load(repo=tmp_path), tag="v1.1.0", forge_kind="local",
                                    dry_run=True)  # fmt: skip
    note = result.note
    assert result.problems == () and result.draft is None and result.api_requests == 0
    assert note.previous_tag == "v1.0.0" and note.compare_url == f"{REPO}/compare/v1.0.0...v1.1.0"
    assert [(t, [i.title for i in items]) for t, items in note.categories] == [
        ("Features", ["Add --json"]), ("Bug fixes", ["Exit code on error"])]
    assert f"- Add --json in [#4]({REPO}/pull/4)" in note.text and note.contributors == ("Alice",)


# -- a real repository, the whole path -------------------------------------------------------------


def draft(repo: Repo, tag: str, pulls: dict[int, PullInfo] | None = None, **options: object) -> tuple[ReleaseRange,
                                                                                                    ReleaseNote]:
    """The range of ``tag`` and its notes, git-only (or with ``pulls`` over git's), as the job composes them."""
    range_ = history.find_range(repo.path, tag)
    infos = git_only(range_.pulls, REPO)
    infos.update(pulls or {})
    return range_, compose(range_, infos, repo_url=REPO, **options)  # type: ignore[arg-type]


def rendered(text: str) -> list:
    """The markdown's tokens as GitHub-flavoured markdown reads it (CommonMark, tables, strikethrough)."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)


def test_third_party_text_renders_as_text_never_as_markup(tmp_path: Path) -> None:
    r = Repo(tmp_path / "repo")
    r.commit("Initial commit", ALICE)
    r.tag("v1.0.0")
    evil = ("Mallory](https://evil.example/m) # x", "mallory@example.org")
    hostile = [
        "# Big heading title",
        "[click](https://evil.example) to claim",
        "Track ![](https://tracker.example/p.png) and <img src=https://tracker.example/q.png> here",
        "Close </ul></details> & <script>alert(1)</script> early",
        "> quoted [ref]: https://evil.example/ref",
        "- [x] 1. nested list",
        "```",
        "Ping @here, see https://evil.example/bare and www.evil.example",
        "Use `Optional<int>` in hints",
    ]
    for number, title in enumerate(hostile, start=1):
        r.squash(number, title, BOB)
    r.squash(20, "build(deps): bump [pkg](https://evil.example/pkg) from <b>1</b> to 2.0", BOB)
    r.commit("1. Direct <em>change</em>", evil)
    r.tag("v1.1.0")
    range_, note = draft(r, "v1.1.0")
    assert check_complete(range_, note) == []
    tokens = rendered(note.text)
    flat = [t for token in tokens for t in [token, *(token.children or [])]]

    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["What's changed", "Dependencies", "Other changes", "New contributors", "Contributors"]
    links = [t.attrs["href"] for t in flat if t.type == "link_open"]
    assert links and all(str(href).startswith(REPO + "/") for href in links)  # only the notes' own links
    assert not [t for t in flat if t.type in ("image", "fence", "code_block", "blockquote_open", "ordered_list_open")]
    html = [t.content for t in flat if t.type in ("html_inline", "html_block")]
    assert set(html) <= {"<!-- -->"}  # the neutralized mentions, nothing else (no hidden comment: nothing left out)
    lists = [t.level for t in tokens if t.type == "bullet_list_open"]
    assert len(lists) == 3 and set(lists) == {0}  # one list per section, none nested inside an item
    items = [t for t in tokens if t.type == "list_item_open"]
    # the titles, the direct commit, one bump line, three newcomers (bob, mallory, and x of the co-author trailers)
    assert len(items) == len(hostile) + 1 + 1 + 3
    text = note.text
    assert "- \\# Big heading title in" in text and "- click to claim in" in text
    assert "Track and &lt;img src=`https://tracker.example/q.png`> here" in text
    assert "Close &lt;/ul>&lt;/details> & &lt;script>alert(1)&lt;/script> early" in text
    assert "Ping `@here`, see `https://evil.example/bare` and `www.evil.example`" in text
    assert "- Use `Optional<int>` in hints in" in text  # a code span shows as written
    assert "- Bumped pkg &lt;b>1&lt;/b> → 2.0 (" in text
    assert "- 1\\. Direct &lt;em>change&lt;/em> in [`" in text
    assert "- Mallory\\](`https://evil.example/m`) # x made their first contribution" in text
    # the LLM path's text passes through unchanged: made plain once is plain
    for sample in hostile + ["`Client.fetch` is gone &amp; @here", "x &lt; y"]:
        once = plain_markdown(sample)
        assert plain_markdown(once) == once


def test_a_direct_commit_by_someone_with_a_pr_names_them_once(tmp_path: Path) -> None:
    r = Repo(tmp_path / "repo")
    r.commit("Initial commit", ALICE)
    r.tag("v1.0.0")
    squash = r.squash(1, "Add the cache", ALICE)
    r.commit("Fix a typo in the README", ALICE)  # pushed straight to main by the same person
    r.commit("Tune the defaults", CAROL)
    r.tag("v1.1.0")
    bare = tmp_path / "widgets.git"
    r.git("clone", "--bare", "--quiet", str(r.path), str(bare))
    with GitHubStandIn(bare, "acme/widgets") as github:
        github.add_merged_pull("Add the cache", number=1, author="alice", merge_commit_sha=squash)
        range_ = history.find_range(r.path, "v1.1.0")
        reader = GitHubReader(token="bot-token", api_url=github.api_url, throttle=False)
        found, _ = enrich(range_.pulls, reader_or_forge=reader, repository="acme/widgets", since=None)
    _, note = draft(r, "v1.1.0", found)
    assert note.contributors == ("alice", "Carol Newcomer", "x")  # x: the squash's Co-authored-by trailer
    assert "@alice, Carol Newcomer, x\n" in note.text
    assert "Alice Maintainer" not in note.text


def test_plain_merges_are_left_out_by_rule_and_a_pr_named_again_stays_listed(tmp_path: Path) -> None:
    r = Repo(tmp_path / "repo")
    r.commit("Initial commit", ALICE)
    r.tag("v1.0.0")
    r.merge_pr(5, "Add it", BOB)
    r.squash(5, "Add it, again", BOB)  # a second commit naming #5: a change of its own
    r.commit("Merge branch 'side'", ALICE, (r.main, r.branch(["side work"], ALICE)))
    r.commit("Merge branches 'a' and 'b'", ALICE, (r.main, r.branch(["a"], CAROL), r.branch(["b"], DAN)))
    r.commit("Merge remote-tracking branch 'origin/main'", ALICE, (r.main, r.branch(["remote"], ALICE)))
    r.commit("Merge tag 'v0.9.1'", ALICE, (r.main, r.branch(["hotfix"], ALICE)))
    r.commit("docs: explain merging", ALICE)
    r.tag("v1.1.0")
    range_, note = draft(r, "v1.1.0")
    merges = [c.sha for c in range_.direct_commits if c.subject.startswith("Merge ")]
    assert len(merges) == 4 and len(range_.direct_commits) == 6
    listed = [(i.pr, i.title) for _, items in note.categories for i in items]
    assert listed == [(None, "Explain merging"), (5, "Add it"), (None, "Add it, again")]
    assert "Merge branch" not in note.text.split("<!--", 1)[0]
    assert check_complete(range_, note) == []
    comment = note.text.split("<!-- nightcrew: left out of these notes by a rule:\n", 1)[1]
    assert [line.split()[0] for line in comment.splitlines()[:4]] == [sha[:7] for sha in merges]
    # the completeness check sees a direct commit that went missing, and one that is not a plain merge
    again = next(c.sha for c in range_.direct_commits if c.subject == "Add it, again (#5)")
    dropped = replace(note, categories=tuple((t, tuple(i for i in items if i.sha != again))
                                             for t, items in note.categories))  # fmt: skip
    assert check_complete(range_, dropped) == [f"commit {again[:7]} is missing: neither listed nor a plain merge"]
