"""Enrichment of a release range's pull requests through PyGithub against the GitHub stand-in: list pages, not
one request per pull request; closing keywords; the one-by-one fallback; git-only answers; one-line errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from github import Auth, Github

from jobs.forges.base import ForgeError
from jobs.forges.github import GitHubForge, GitHubReader
from jobs.models import PullRef
from jobs.releases import history
from jobs.releases.categories import config_from_dict
from jobs.releases.compose import check_complete, compose
from jobs.releases.enrich import closing_issues, enrich, git_only, web_url
from tests.releases.gitrepo import ALICE, BOB, CAROL, DAN, Repo
from tests.support.github_server import GitHubStandIn

REPO = "acme/widgets"
SINCE = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)  # the previous release


def reader(github: GitHubStandIn, **kw: object) -> GitHubReader:
    return GitHubReader(token="bot-token", api_url=github.api_url, throttle=False, **kw)  # type: ignore[arg-type]


def ref(number: int, title: str = "", sha: str | None = None) -> PullRef:
    return PullRef(number=number, sha=sha or f"{number:040x}", title=title or f"Change {number}", kind="squash")


def merged(github: GitHubStandIn, numbers: list[int]) -> list[PullRef]:
    """The range's commits for pull requests the stand-in has: each at its pull request's merge commit."""
    return [ref(n, sha=github.pull(n)["merge_commit_sha"]) for n in numbers]


def list_requests(github: GitHubStandIn) -> list[str]:
    return [f"{r.query.get('page', '1')}" for r in github.requests
            if r.method == "GET" and r.path == f"/repos/{REPO}/pulls"]  # fmt: skip


def single_requests(github: GitHubStandIn) -> list[str]:
    return [r.path for r in github.requests if r.method == "GET" and r.path.startswith(f"/repos/{REPO}/pulls/")]


def test_250_merged_pulls_take_three_list_requests_and_one_fallback(github: GitHubStandIn) -> None:
    # Older history: merged before the previous release; the listing must stop once it reaches it.
    for i in range(150):
        github.add_merged_pull(f"Old change {i}", merged_at=SINCE - timedelta(days=2, minutes=i), author="carol")
    # A pull request merged long ago whose commit only now reached the release branch (merged into a branch
    # that was merged later).
    straggler = github.add_merged_pull("Backported fix", "Fixes #3", merged_at=SINCE - timedelta(days=90),
                                       labels=["bug"], author="dave")  # fmt: skip
    wanted = [straggler]
    for i in range(250):
        body = [f"Closes #{1000 + i}", f"see #{2000 + i}", f"fixes other/repo#{3000 + i}"]
        if i % 5 == 0:
            body.append(f"Resolves {REPO}#{4000 + i}")
        if i % 7 == 0:
            body.append("```\nfixes #9\n```\n<!-- closes #8 -->")
        number = github.add_merged_pull(f"Change {i}", "\n".join(body), labels=["enhancement" if i % 2 else "bug"],
                                        author=f"user{i % 9}", merged_at=SINCE + timedelta(minutes=i + 1))
        wanted.append(number)
    # Merged after the release being drafted (the next one): listed first, not wanted.
    for i in range(20):
        github.add_merged_pull(f"Later {i}", merged_at=SINCE + timedelta(days=3, minutes=i))
    github.reset_log()

    source = reader(github)
    infos, count = enrich(merged(github, wanted), reader_or_forge=source, repository=REPO,
                          since=SINCE.isoformat().replace("+00:00", "Z"))  # fmt: skip

    assert set(infos) == set(wanted)
    pages = list_requests(github)
    assert pages == ["1", "2", "3"]  # 270 newer than the cutoff: three pages of 100, then the listing stops
    assert single_requests(github) == [f"/repos/{REPO}/pulls/{straggler}"]
    assert count == len(github.requests) == 4 and source.requests == 4
    assert all(r.query.get("per_page") == "100" and r.query["sort"] == "updated" and r.query["direction"] == "desc"
               and r.query["state"] == "closed" for r in github.requests if r.path == f"/repos/{REPO}/pulls")

    first = infos[wanted[1]]
    assert (first.title, first.labels, first.author) == ("Change 0", ("bug",), "user0")
    assert first.url == f"{github.web_url}/{REPO}/pull/{wanted[1]}"
    assert first.merged_at == "2024-03-01T12:01:00Z"
    assert first.closes == (1000, 4000)  # owner/repo#N of this repository counts; code, comments, "see" do not
    assert infos[wanted[2]].closes == (1001,) and infos[wanted[2]].labels == ("enhancement",)
    late = infos[straggler]
    assert (late.title, late.author, late.labels, late.closes) == ("Backported fix", "dave", ("bug",), (3,))
    assert late.merged_at == "2023-12-02T12:00:00Z"


def test_first_release_lists_until_every_number_is_found_with_a_forge(github: GitHubStandIn) -> None:
    numbers = [github.add_merged_pull(f"PR {i}", merged_at=SINCE + timedelta(hours=i)) for i in range(30)]
    forge = GitHubForge(token="bot-token", repository=REPO, api_url=github.api_url, throttle=False)
    github.reset_log()
    # The oldest five are on the last page of updated-desc order (per_page 100: one page); 999 is no pull.
    infos, count = enrich(merged(github, numbers[:5]) + [ref(999)], reader_or_forge=forge, repository=REPO,
                          since=None)  # fmt: skip
    assert sorted(infos) == numbers[:5]
    assert count == 2 and len(github.requests) == 2  # one list page, one fallback that found nothing
    assert [r.status for r in github.requests] == [200, 404]
    assert enrich([], reader_or_forge=forge, repository=REPO, since=None) == ({}, 0)


def test_many_stragglers_keep_the_listing_going(github: GitHubStandIn) -> None:
    # The previous release's date is wrong (say, a tag made much later on an old commit): 40 wanted pulls are
    # older than it. Listing on past "since" finds them for a request per 100 instead of 40 single requests.
    old = [github.add_merged_pull(f"Old {i}", merged_at=SINCE - timedelta(days=5, minutes=i)) for i in range(40)]
    for i in range(120):
        github.add_merged_pull(f"Noise {i}", merged_at=SINCE - timedelta(days=1, minutes=i))
    new = [github.add_merged_pull(f"New {i}", merged_at=SINCE + timedelta(minutes=i)) for i in range(10)]
    github.reset_log()
    infos, count = enrich(merged(github, old + new), reader_or_forge=reader(github), repository=REPO,
                          since=SINCE.isoformat())  # fmt: skip
    assert set(infos) == set(old + new)
    assert list_requests(github) == ["1", "2"] and single_requests(github) == [] and count == 2


def test_closing_keywords() -> None:
    body = """Fixes #1 and closes acme/widgets#2, Resolved: #3
resolves https://github.com/acme/widgets/issues/4
FIXES #11, fix #12abc, close #13. Close #1 again
see #5, refs #6, part of #7, fixes other/repo#8, prefixes #9, hotfix #10, pre-fix #14
`fixes #15` and
```python
# closes #16
```
<!-- Resolves #17 (template example) -->
~~~
fixed #18
~~~
Closed #19"""
    assert closing_issues(body, "acme/widgets") == (1, 2, 3, 4, 11, 13, 19)
    assert closing_issues(body, "ACME/Widgets") == (1, 2, 3, 4, 11, 13, 19)
    assert closing_issues("fixes other/repo#8", "other/repo") == (8,)
    assert closing_issues("", REPO) == () and closing_issues("Fixes\r\n#3", REPO) == (3,)


def test_git_only_titles_and_links() -> None:
    refs = [ref(12, "Add retries"), ref(14, "Fix the timeout"), ref(12, "duplicate")]
    infos = git_only(refs, "git@github.com:acme/widgets.git")
    assert sorted(infos) == [12, 14]
    assert infos[12].title == "Add retries" and infos[12].url == "https://github.com/acme/widgets/pull/12"
    assert infos[14].labels == () and infos[14].author is None and infos[14].closes == ()
    assert git_only(refs, None)[12].url is None
    assert web_url("https://github.com/acme/widgets.git/") == "https://github.com/acme/widgets"
    assert web_url("ssh://git@ghe.example.com:2222/acme/widgets.git") == "https://ghe.example.com/acme/widgets"
    assert web_url("https://ghe.example.com/acme/widgets") == "https://ghe.example.com/acme/widgets"
    assert web_url("/srv/git/widgets.git") is None and web_url("") is None


def test_persistent_server_errors_are_one_line_naming_the_request(github: GitHubStandIn) -> None:
    github.fail("GET", r"/repos/acme/widgets/pulls", status=502, times=None)
    with pytest.raises(ForgeError) as caught:
        enrich([ref(1)], reader_or_forge=reader(github, retries=1, backoff=0), repository=REPO, since=None)
    text = str(caught.value)
    assert "\n" not in text and "bot-token" not in text
    assert text.startswith("GET /repos/acme/widgets/pulls?state=closed&sort=updated&direction=desc&page=1: ")
    assert len([r for r in github.requests if r.status == 502]) == 2  # the retry, then the error

    github.clear_faults()
    github.fail("GET", r"/repos/acme/widgets/pulls/\d+", status=503, times=None)
    with pytest.raises(ForgeError) as caught:
        enrich([ref(7)], reader_or_forge=reader(github, retries=0, backoff=0), repository=REPO, since=None)
    assert str(caught.value).startswith("GET /repos/acme/widgets/pulls/7: ") and "bot-token" not in str(caught.value)


def test_stand_in_seeds_merged_pulls_and_lists_issues_since(github: GitHubStandIn) -> None:
    gh = Github(auth=Auth.Token("bot-token"), base_url=github.api_url, seconds_between_requests=None,
                seconds_between_writes=None)  # fmt: skip
    repo = gh.get_repo(REPO)
    first = github.add_merged_pull("One", merged_at=SINCE, labels=["bug"], author="bob")
    explicit = github.add_merged_pull("Two", number=50, merged_at=SINCE + timedelta(days=1),
                                      merge_commit_sha="a" * 40)  # fmt: skip
    issue = repo.create_issue("An issue")
    assert (first, explicit, issue.number) == (1, 50, 51)  # numbering goes on after an explicit number
    pull = repo.get_pull(50)
    assert (pull.merged, pull.state, pull.merge_commit_sha, pull.user.login) == (True, "closed", "a" * 40, "alice")
    assert pull.updated_at == pull.merged_at == SINCE + timedelta(days=1)
    assert github.pull(1)["labels"] == ["bug"] and github.pull(1)["merged"]
    with pytest.raises(ValueError):
        github.add_merged_pull("Again", number=50)
    # GET /issues?since= : updated at or after; pulls appear there too, as on GitHub.
    since = [i.number for i in repo.get_issues(state="all", since=SINCE + timedelta(hours=1))]
    assert sorted(since) == [50, 51]


def test_a_number_in_a_subject_takes_the_forges_info_only_for_the_pr_merged_as_that_commit(tmp_path: Path) -> None:
    r = Repo(tmp_path / "work")
    r.commit("Initial commit", ALICE)
    r.tag("v1.0.0")
    abandoned = r.branch(["abandoned work"], ALICE)
    r.git("update-ref", "refs/heads/abandoned", abandoned)
    squash = r.squash(1, "Add the cache", BOB)
    merge = r.merge_pr(2, "Fix the timeout", CAROL)
    r.commit("Fix crash (#40)", ALICE)  # pushed straight to main, naming an old, unrelated pull request
    r.commit("Tidy the logs (#41)", ALICE)  # names a pull request that was closed without merging
    r.commit("Backport the fix (#42)", DAN)  # a cherry-pick: its own sha, the pull request's title
    r.tag("v1.1.0")
    bare = tmp_path / "widgets.git"
    r.git("clone", "--bare", "--quiet", str(r.path), str(bare))
    with GitHubStandIn(bare, REPO) as github:
        long_ago = SINCE - timedelta(days=400)
        github.add_merged_pull("Add the cache", number=1, author="bob", labels=["enhancement"],
                               merge_commit_sha=squash)  # fmt: skip
        github.add_merged_pull("Fix the timeout", number=2, author="carol", labels=["bug"], merge_commit_sha=merge)
        github.add_merged_pull("Rewrite the storage layer", "BREAKING CHANGE: a new on-disk format", number=40,
                               author="mallory", labels=["breaking"], merged_at=long_ago)  # fmt: skip
        human = Github(auth=Auth.Token("human-token"), base_url=github.api_url, seconds_between_requests=None,
                       seconds_between_writes=None).get_repo(REPO)  # fmt: skip
        unmerged = human.create_pull(title="Tidy the logs", body="BREAKING CHANGE: drops the old log format",
                                     head="abandoned", base="main")  # fmt: skip
        unmerged.edit(state="closed")
        github.add_merged_pull("Backport the fix", number=42, author="dan", labels=["bug"], merged_at=long_ago)
        assert unmerged.number == 41 and github.pull(41)["state"] == "closed" and not github.pull(41)["merged"]

        range_ = history.find_range(r.path, "v1.1.0")
        assert [(p.number, p.kind) for p in range_.pulls] == [(1, "squash"), (2, "merge"), (40, "squash"),
                                                              (41, "squash"), (42, "squash")]  # fmt: skip
        web = f"{github.web_url}/{REPO}"
        pulls = git_only(range_.pulls, web)
        found, _ = enrich(range_.pulls, reader_or_forge=reader(github), repository=REPO, since=None)
        pulls.update(found)  # what the forge does not describe stays as git has it (as the job does)

    assert sorted(found) == [1, 2, 42]
    config = config_from_dict({"categories": [{"title": "Features", "labels": ["enhancement"]},
                                              {"title": "Bug fixes", "labels": ["bug"]}]})
    note = compose(range_, pulls, repo_url=web, config=config)
    assert check_complete(range_, note) == []
    items = {i.pr: i for _, group in note.categories for i in group if i.pr}
    assert (items[1].author, items[1].category) == ("bob", "Features")
    assert (items[2].author, items[2].category) == ("carol", "Bug fixes")
    assert (items[40].title, items[40].author, items[40].breaking) == ("Fix crash", None, False)
    assert (items[41].title, items[41].author, items[41].breaking) == ("Tidy the logs", None, False)
    assert (items[42].title, items[42].author) == ("Backport the fix", "dan")
    assert "Breaking changes" not in dict(note.categories)
    assert "mallory" not in note.text and "storage layer" not in note.text
