"""The range of a release from git alone: tags, the previous release, PRs, direct commits, contributors.

Every test builds a real repository in ``tmp_path`` with ``git commit-tree`` (``tests/releases/gitrepo.py``: no
working tree needed, identities and dates through the environment of each call, never the user's configuration).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from jobs.errors import NightcrewError
from jobs.releases.history import (
    DEFAULT_TAG_PATTERN,
    ReleaseRangeError,
    UnknownTagError,
    commit_date,
    find_range,
    is_ancestor,
    is_plain_merge,
    parse_tag,
    previous_tag,
    pull_of,
    release_range,
    release_tags,
    tags,
)
from tests.releases.gitrepo import ALICE, BOB, CAROL, DAN, Repo

MONOREPO_A = r"^pkg-a/v(?P<version>.+)$"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """v0.1.0 (alice, bob) · v0.2.0-rc.1 · v0.2.0 (merges, squashes, a direct commit, carol new) · v0.3.0-rc.1."""
    r = Repo(tmp_path / "repo")
    r.commit("Initial commit", ALICE)
    r.merge_pr(1, "Add the parser", BOB)
    r.tag("v0.1.0", annotated=True)
    r.commit("Fix the README typo", ALICE)  # direct
    r.merge_pr(2, "Add retries to the client", CAROL, commits=3)  # carol: new, only on the PR branch
    r.squash(3, "Fix crash on empty input", BOB)
    r.tag("v0.2.0-rc.1")
    r.merge_pr(4, "", BOB, branch="docs/quickstart")  # empty body: title is the branch name
    r.squash(5, 'Revert "Fix crash on empty input (#3)"', DAN)  # dan: new, squash author
    r.commit("Merge branch 'release-0.1'", ALICE, (r.main, r.branch(["backport"], ALICE)))  # not a PR
    r.tag("v0.2.0", annotated=True)
    r.squash(6, "Faster startup", ALICE)
    r.tag("v0.3.0-rc.1")
    return r


# -- versions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "expected"), [
    ("v1.2.3", "1.2.3"), ("1.2.3", "1.2.3"), ("v2", "2"), ("v1.2.3rc1", "1.2.3rc1"),
    ("v1.2.3-rc.1", "1.2.3rc1"), ("1.2.3-alpha.2", "1.2.3a2"), ("1.2.3-beta", "1.2.3b0"),
    ("v1.2.3-rc.1.2", "1.2.3rc1.post2"), ("2.0.0-SNAPSHOT", "2.0.0.dev0"), ("1.0.0-0.3.7", "1.0.0.dev0"),
    ("v1.2.3+build.5", "1.2.3+build.5"), ("2024.05.01", "2024.5.1"),
    ("pkg-a/v1.0.0", None), ("release-1", None), ("latest", None), ("v1.2.3-x.7", None), ("vfoo", None),
])
def test_parse_tag_default_pattern(tag: str, expected: str | None) -> None:
    version = parse_tag(tag, DEFAULT_TAG_PATTERN)
    assert (str(version) if version else None) == expected


def test_parse_tag_monorepo_pattern_and_ordering() -> None:
    assert parse_tag("pkg-a/v1.2.0", MONOREPO_A) == Version("1.2.0")
    assert parse_tag("pkg-b/v1.2.0", MONOREPO_A) is None
    assert parse_tag("v1.2.0", MONOREPO_A) is None
    ordered = ["1.0.0-0.3", "v1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-rc.1", "1.0.0-rc.1.1", "1.0.0-rc.2", "v1.0.0",
               "1.0.1", "1.10.0"]
    versions = [parse_tag(t) for t in ordered]
    assert versions == sorted(versions)  # type: ignore[type-var]


def test_a_pattern_without_version_group_is_an_error() -> None:
    with pytest.raises(ReleaseRangeError, match="version"):
        parse_tag("v1", r"^v(\d+)$")
    with pytest.raises(ReleaseRangeError, match="not a regular expression"):
        parse_tag("v1", r"^v(?P<version>\d+")


@pytest.mark.parametrize(("subject", "body", "expected"), [
    ("Merge pull request #12 from alice/feature-x", "Add the parser\n\nlonger text", (12, "Add the parser", "merge")),
    ("Merge pull request #12 from alice/feat/deep", "", (12, "feat/deep", "merge")),
    ("Add retries (#7)", "", (7, "Add retries", "squash")),
    ("Add retries (#7) (#9)", "", (9, "Add retries (#7)", "squash")),
    ('Revert "Add retries (#7)" (#10)', "", (10, 'Revert "Add retries (#7)"', "squash")),
    ('Revert "Add retries (#7)"', "", None),
    ("Fixes #7 in the client", "", None),
    ("Merge branch 'main' into feature", "", None),
    ("See (#7) for details", "", None),
])
def test_pull_of(subject: str, body: str, expected: tuple[int, str, str] | None) -> None:
    assert pull_of(subject, body) == expected


# -- tags and the previous release -------------------------------------------------------------------------


def test_tags_and_release_tags(repo: Repo) -> None:
    repo.tag("pkg-a/v9.0.0")
    assert tags(repo.path) == ["pkg-a/v9.0.0", "v0.1.0", "v0.2.0", "v0.2.0-rc.1", "v0.3.0-rc.1"]
    assert tags(repo.path, merged="v0.2.0") == ["v0.1.0", "v0.2.0", "v0.2.0-rc.1"]
    assert [t for t, _ in release_tags(repo.path)] == ["v0.1.0", "v0.2.0-rc.1", "v0.2.0", "v0.3.0-rc.1"]
    assert [t for t, _ in release_tags(repo.path, merged="v0.2.0")] == ["v0.1.0", "v0.2.0-rc.1", "v0.2.0"]


def test_previous_tag_skips_prereleases_for_a_final_release(repo: Repo) -> None:
    assert previous_tag(repo.path, "v0.2.0") == "v0.1.0"
    assert previous_tag(repo.path, "v0.2.0", include_prereleases=True) == "v0.2.0-rc.1"


def test_previous_tag_of_a_prerelease_keeps_prereleases(repo: Repo) -> None:
    assert previous_tag(repo.path, "v0.3.0-rc.1") == "v0.2.0"
    repo.squash(7, "More", ALICE)
    repo.tag("v0.3.0-rc.2")
    assert previous_tag(repo.path, "v0.3.0-rc.2") == "v0.3.0-rc.1"
    assert previous_tag(repo.path, "v0.3.0-rc.2", include_prereleases=False) == "v0.2.0"
    assert previous_tag(repo.path, "v0.2.0-rc.1") == "v0.1.0"


def test_previous_tag_is_newest_by_version_not_by_date_or_name(tmp_path: Path) -> None:
    r = Repo(tmp_path / "r")
    r.commit("one")
    r.tag("v1.10.0")
    r.commit("two")
    r.tag("v1.9.5")  # a newer commit, a lower version (a backport merged forward)
    r.commit("three")
    r.tag("v1.2.0-old-style")  # not a version: ignored
    r.commit("four")
    r.tag("v1.11.0")
    assert previous_tag(r.path, "v1.11.0") == "v1.10.0"
    assert previous_tag(r.path, "v1.10.0") is None  # v1.9.5 is not reachable from v1.10.0


def test_previous_tag_ignores_tags_not_reachable_from_the_tag(repo: Repo) -> None:
    side = repo.branch(["hotfix on a maintenance branch"], ALICE, base=repo.git("rev-parse", "v0.2.0^{commit}"))
    repo.tag("v0.2.9", side)  # higher than v0.2.0, below v0.3.0, but not an ancestor of main
    repo.squash(8, "Final touches", ALICE)
    repo.tag("v0.3.0")
    assert previous_tag(repo.path, "v0.3.0") == "v0.2.0"
    assert previous_tag(repo.path, "v0.2.9") == "v0.2.0"


def test_previous_tag_ignores_higher_versions_and_same_commit_tags(repo: Repo) -> None:
    repo.tag("v0.9.0", repo.git("rev-parse", "v0.1.0^{commit}"))  # reachable, but sorts after v0.2.0
    assert previous_tag(repo.path, "v0.2.0") == "v0.1.0"
    repo.tag("v0.2.0.post1", repo.git("rev-parse", "v0.2.0^{commit}"))
    assert previous_tag(repo.path, "v0.2.0.post1") == "v0.2.0"  # same commit: an empty range, but the right one
    assert release_range(repo.path, "v0.2.0.post1", "v0.2.0").pulls == ()


def test_monorepo_pattern_ignores_other_packages(tmp_path: Path) -> None:
    r = Repo(tmp_path / "mono")
    r.commit("a: init")
    r.tag("pkg-a/v1.0.0")
    r.squash(1, "b: feature", BOB)
    r.tag("pkg-b/v1.5.0")
    r.tag("v3.0.0")
    r.squash(2, "a: feature", CAROL)
    r.tag("pkg-a/v1.1.0-rc.1")
    r.squash(3, "a: fix", CAROL)
    r.tag("pkg-a/v1.1.0")
    assert previous_tag(r.path, "pkg-a/v1.1.0", pattern=MONOREPO_A) == "pkg-a/v1.0.0"
    assert previous_tag(r.path, "pkg-a/v1.1.0", pattern=MONOREPO_A, include_prereleases=True) == "pkg-a/v1.1.0-rc.1"
    assert previous_tag(r.path, "pkg-a/v1.0.0", pattern=MONOREPO_A) is None
    assert previous_tag(r.path, "v3.0.0") is None  # the default pattern sees no pkg-*/ tag
    found = find_range(r.path, "pkg-a/v1.1.0", pattern=MONOREPO_A)
    assert found.previous_tag == "pkg-a/v1.0.0" and [p.number for p in found.pulls] == [1, 2, 3]


# -- the range ---------------------------------------------------------------------------------------------


def test_release_range_mixes_merges_squashes_and_direct_commits(repo: Repo) -> None:
    result = release_range(repo.path, "v0.2.0", "v0.1.0")
    assert result.tag == "v0.2.0" and result.previous_tag == "v0.1.0"
    assert result.tag_sha == repo.git("rev-parse", "v0.2.0^{commit}")  # the commit, not the annotated tag object
    assert result.previous_sha == repo.git("rev-parse", "v0.1.0^{commit}")
    assert [(p.number, p.kind, p.title) for p in result.pulls] == [
        (2, "merge", "Add retries to the client"),
        (3, "squash", "Fix crash on empty input"),
        (4, "merge", "docs/quickstart"),
        (5, "squash", 'Revert "Fix crash on empty input (#3)"'),
    ]
    emails = {p.number: p.author_email for p in result.pulls}
    assert emails == {2: CAROL[1], 3: BOB[1], 4: BOB[1], 5: DAN[1]}  # merges: the branch's author, not the merger
    assert [c.subject for c in result.direct_commits] == ["Fix the README typo", "Merge branch 'release-0.1'"]
    direct = result.direct_commits[0]
    assert (direct.author_name, direct.author_email) == ALICE and direct.date.startswith("2023-11-14T")
    # every first-parent commit is accounted for, and nothing else
    first_parent = repo.first_parent("v0.1.0..v0.2.0")
    assert sorted([p.sha for p in result.pulls] + [c.sha for c in result.direct_commits]) == sorted(first_parent)
    assert [p.sha for p in result.pulls] == [s for s in first_parent if s not in {c.sha for c in
                                                                                  result.direct_commits}]


def test_contributors_include_pr_branch_authors_and_new_ones_are_called_out(repo: Repo) -> None:
    result = release_range(repo.path, "v0.2.0", "v0.1.0")
    # PR authors (the branch tip's, not the merger's), the co-authors of their trailers, direct commits' authors
    assert result.contributors == (
        "Alice Maintainer <alice@example.org>", "Carol Newcomer <carol@example.org>",
        "Bob Builder <bob@example.org>", "x <x@example.org>", "Dan Drive-by <dan@example.org>",
    )
    assert result.new_contributors == ("Carol Newcomer <carol@example.org>", "x <x@example.org>",
                                       "Dan Drive-by <dan@example.org>")
    # the same person under another case of e-mail is not new
    repo.squash(9, "Polish", ("Carol Newcomer", "Carol@Example.org"))
    repo.tag("v0.3.0")
    later = release_range(repo.path, "v0.3.0", "v0.2.0")
    assert later.new_contributors == () and later.contributors[-1] == "Carol Newcomer <Carol@Example.org>"


def test_direct_commits_can_be_left_out(repo: Repo) -> None:
    result = release_range(repo.path, "v0.2.0", "v0.1.0", include_direct=False)
    assert result.direct_commits == () and [p.number for p in result.pulls] == [2, 3, 4, 5]


def test_first_release_covers_the_whole_history(repo: Repo) -> None:
    assert previous_tag(repo.path, "v0.1.0") is None
    result = find_range(repo.path, "v0.1.0")
    assert result.previous_tag is None and result.previous_sha is None
    assert [p.number for p in result.pulls] == [1]
    assert [c.subject for c in result.direct_commits] == ["Initial commit"]
    assert result.contributors == ("Alice Maintainer <alice@example.org>", "Bob Builder <bob@example.org>")
    assert result.new_contributors == result.contributors


def test_a_pr_number_met_twice_is_the_pr_once_and_the_later_commit_a_direct_one(tmp_path: Path) -> None:
    r = Repo(tmp_path / "r")
    r.commit("init")
    r.tag("v1.0.0")
    merge = r.merge_pr(5, "Add it", BOB)
    again = r.squash(5, "Add it, again", BOB)  # a re-landed squash of the same PR: a change of its own
    r.tag("v1.1.0")
    result = release_range(r.path, "v1.1.0", "v1.0.0")
    assert [(p.number, p.kind, p.sha) for p in result.pulls] == [(5, "merge", merge)]
    assert [(c.sha, c.subject) for c in result.direct_commits] == [(again, "Add it, again (#5)")]
    # every first-parent commit is accounted for
    assert sorted([merge, again]) == sorted(r.first_parent("v1.0.0..v1.1.0"))
    assert release_range(r.path, "v1.1.0", "v1.0.0", include_direct=False).direct_commits == ()


def test_commit_dates_and_ancestry_through_one_git_helper(repo: Repo) -> None:
    sha = repo.git("rev-parse", "v0.1.0^{commit}")
    assert commit_date(repo.path, "v0.1.0") == repo.git("log", "-1", "--format=%cI", sha)
    assert commit_date(repo.path, None) is None and commit_date(repo.path, "no-such-tag") is None
    assert is_ancestor(repo.path, sha, repo.git("rev-parse", "v0.2.0^{commit}"))
    assert not is_ancestor(repo.path, repo.git("rev-parse", "v0.2.0^{commit}"), sha)
    assert is_plain_merge("Merge branch 'release-0.1'") and is_plain_merge("Merge branches 'a' and 'b'")
    assert is_plain_merge("Merge remote-tracking branch 'origin/main'") and is_plain_merge("Merge tag 'v1.2'")
    assert not is_plain_merge("Merge pull request #1 from a/b") and not is_plain_merge("Merge the parsers (#3)")
    assert not is_plain_merge("Merge branch handling into the parser")  # prose, not git's own subject


def test_a_merge_commit_titled_like_a_squash_is_a_merge_by_the_branch_author(tmp_path: Path) -> None:
    r = Repo(tmp_path / "r")
    r.commit("init")
    r.tag("v1.0.0")
    tip = r.branch(["wip"], CAROL)
    r.commit("Add the thing (#7)\n\nLonger description\n", ALICE, (r.main, tip))  # GitHub's "PR title" option
    r.tag("v1.1.0")
    (pull,) = release_range(r.path, "v1.1.0", "v1.0.0").pulls
    assert (pull.number, pull.title, pull.kind, pull.author_email) == (7, "Add the thing", "merge", CAROL[1])


def test_previous_tag_override_may_be_any_ancestor_revision(repo: Repo) -> None:
    sha = repo.git("rev-parse", "v0.2.0-rc.1^{commit}")
    result = find_range(repo.path, "v0.2.0", previous=sha)
    assert result.previous_tag == sha and [p.number for p in result.pulls] == [4, 5]


# -- errors ------------------------------------------------------------------------------------------------


def test_unknown_tag_is_a_one_line_error_naming_it(repo: Repo) -> None:
    for call in (lambda: release_range(repo.path, "v9.9.9", "v0.1.0"),
                 lambda: release_range(repo.path, "v0.2.0", "v0.0.1"),
                 lambda: previous_tag(repo.path, "v9.9.9"),
                 lambda: release_range(repo.path, "--output=/tmp/x", None)):
        with pytest.raises(UnknownTagError) as info:
            call()
        assert isinstance(info.value, NightcrewError)
        assert "unknown tag" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UnknownTagError, match="v9.9.9"):
        release_range(repo.path, "v9.9.9", None)


def test_previous_not_an_ancestor_is_an_error(repo: Repo) -> None:
    side = repo.branch(["elsewhere"], ALICE, base=repo.git("rev-parse", "v0.1.0^{commit}"))
    repo.tag("v0.1.5", side)
    with pytest.raises(ReleaseRangeError, match="'v0.1.5' is not an ancestor of 'v0.2.0'"):
        release_range(repo.path, "v0.2.0", "v0.1.5")
    with pytest.raises(ReleaseRangeError, match="not an ancestor"):
        release_range(repo.path, "v0.1.0", "v0.2.0")  # the wrong way round


def test_a_tag_outside_the_pattern_and_a_folder_that_is_no_repository(repo: Repo, tmp_path: Path) -> None:
    repo.tag("nightly")
    with pytest.raises(ReleaseRangeError, match="names no version"):
        previous_tag(repo.path, "nightly")
    with pytest.raises(ReleaseRangeError, match="names no version"):
        previous_tag(repo.path, "v0.2.0", pattern=MONOREPO_A)
    (tmp_path / "plain").mkdir()
    with pytest.raises(ReleaseRangeError, match="not a git repository"):
        release_range(tmp_path / "plain", "v1.0.0", None)


def test_a_squashed_merge_subject_names_the_pr_that_landed_it_on_a_single_parent_commit() -> None:
    subject = "Merge pull request #2301 from alice/backport-fix (#2310)"
    assert pull_of(subject, "Fix the parser on empty input\n\nmore", parents=1) == \
        (2310, "Fix the parser on empty input", "squash")
    # a real merge commit keeps GitHub's merge subject as the PR
    assert pull_of(subject, "Fix the parser on empty input", parents=2)[0] == 2301


def test_git_only_pulls_carry_the_issues_their_closing_keywords_close(tmp_path: Path) -> None:
    from jobs.releases import enrich
    from jobs.releases.history import release_range

    repo = Repo(tmp_path / "r")
    repo.commit("initial")
    repo.tag("v1.0.0")
    repo.commit("Fix the parser (#12)\n\nFixes #9, closes acme/widgets#10 and closes other/repo#11.\n")
    repo.merge_pr(13, "Add retries", BOB)
    repo.commit("Merge pull request #14 from bob/backport (#15)\n\nBackport the parser fix\n\nResolves #7\n")
    repo.tag("v1.1.0")
    range_ = release_range(repo.path, "v1.1.0", "v1.0.0")
    assert [(p.number, p.title) for p in range_.pulls] == [(12, "Fix the parser"), (13, "Add retries"),
                                                           (15, "Backport the parser fix")]
    infos = enrich.git_only(range_.pulls, "https://github.com/acme/widgets")
    assert infos[12].closes == (9, 10)
    assert infos[15].closes == (7,)
    assert infos[13].closes == ()
